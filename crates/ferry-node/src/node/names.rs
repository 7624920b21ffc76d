//! Index names and index expressions, as Elasticsearch validates and expands them.
//!
//! [`validate_index_name`] applies ES's rules in ES's order with ES's reasons;
//! [`Expression`] parses `a,b,logs-*,-logs-old,_all` and [`Expression::resolve`] expands it
//! against the node's index names with the `ignore_unavailable` / `allow_no_indices` /
//! `expand_wildcards` options. Nothing here knows about open handles or the catalog:
//! callers hand in `(name, is_open)` pairs.

use crate::error::ApiError;
use crate::params::Params;

/// Longest index name ES accepts, in UTF-8 bytes.
const MAX_INDEX_NAME_BYTES: usize = 255;

/// The characters ES forbids in index names, printed as ES 7/8 print them.
const INVALID_CHARS: &[char] = &['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ','];
const INVALID_CHARS_TEXT: &str = "[ , \", *, \\, <, |, ,, >, /, ?]";

/// Checks `name` against ES's index name rules; the error is ES's
/// `invalid_index_name_exception` with ES's reason.
pub fn validate_index_name(name: &str) -> Result<(), ApiError> {
    let reason = if name.contains(INVALID_CHARS) {
        Some(format!(
            "must not contain the following characters {INVALID_CHARS_TEXT}"
        ))
    } else if name.is_empty() {
        Some("must not be empty".to_owned())
    } else if name.contains('#') {
        Some("must not contain '#'".to_owned())
    } else if name.contains(':') {
        Some("must not contain ':'".to_owned())
    } else if name.starts_with(['_', '-', '+']) {
        Some("must not start with '_', '-', or '+'".to_owned())
    } else if name.len() > MAX_INDEX_NAME_BYTES {
        Some(format!(
            "index name is too long, ({} > {MAX_INDEX_NAME_BYTES})",
            name.len()
        ))
    } else if name == "." || name == ".." {
        Some("must not be '.' or '..'".to_owned())
    } else if name.to_lowercase() != name {
        Some("must be lowercase".to_owned())
    } else {
        None
    };
    match reason {
        Some(r) => Err(ApiError::invalid_index_name(name, &r)),
        None => Ok(()),
    }
}

/// Simple glob: `*` matches any run of characters (ES's `Regex.simpleMatch`).
pub fn simple_match(pattern: &str, value: &str) -> bool {
    let Some(star) = pattern.find('*') else {
        return pattern == value;
    };
    let (head, rest) = (&pattern[..star], &pattern[star + 1..]);
    if !value.starts_with(head) {
        return false;
    }
    let value = &value[head.len()..];
    if rest.is_empty() {
        return true;
    }
    // Try every split point for the rest of the pattern.
    (0..=value.len())
        .filter(|&i| value.is_char_boundary(i))
        .any(|i| simple_match(rest, &value[i..]))
}

/// Which index states a wildcard expands to (`expand_wildcards`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpandWildcards {
    /// Wildcards match open indices.
    pub open: bool,
    /// Wildcards match closed indices.
    pub closed: bool,
}

/// How an expression resolves: ES's `IndicesOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolveOptions {
    /// A missing concrete index is skipped instead of answering 404.
    pub ignore_unavailable: bool,
    /// An expression that resolves to nothing is fine (otherwise 404).
    pub allow_no_indices: bool,
    /// What wildcards expand to.
    pub expand: ExpandWildcards,
}

impl ResolveOptions {
    /// ES's `strictExpandOpen`: missing concrete → 404, wildcards open only.
    pub const STRICT_OPEN: Self = Self {
        ignore_unavailable: false,
        allow_no_indices: true,
        expand: ExpandWildcards {
            open: true,
            closed: false,
        },
    };

    /// Wildcards match open and closed indices (delete, open, get settings...).
    pub const STRICT_ALL: Self = Self {
        ignore_unavailable: false,
        allow_no_indices: true,
        expand: ExpandWildcards {
            open: true,
            closed: true,
        },
    };

    /// `defaults` overridden by `ignore_unavailable`, `allow_no_indices`, `expand_wildcards`.
    pub fn from_params(params: &Params, defaults: Self) -> Result<Self, ApiError> {
        let mut o = defaults;
        o.ignore_unavailable = params.bool("ignore_unavailable", o.ignore_unavailable)?;
        o.allow_no_indices = params.bool("allow_no_indices", o.allow_no_indices)?;
        if let Some(v) = params.get("expand_wildcards") {
            let mut e = ExpandWildcards {
                open: false,
                closed: false,
            };
            for part in v.split(',').map(str::trim) {
                match part {
                    "open" => e.open = true,
                    "closed" => e.closed = true,
                    "all" => {
                        e = ExpandWildcards {
                            open: true,
                            closed: true,
                        }
                    }
                    "none" | "hidden" | "" => {}
                    other => {
                        return Err(ApiError::illegal_argument(format!(
                            "No enum constant org.elasticsearch.action.support.IndicesOptions.WildcardStates.{}",
                            other.to_uppercase()
                        )));
                    }
                }
            }
            o.expand = e;
        }
        Ok(o)
    }
}

/// One part of a comma-separated index expression.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// A concrete name.
    Name(String),
    /// A pattern with `*`, or `_all`.
    Wildcard(String),
    /// `-pattern`: removes matches of earlier parts.
    Exclude(String),
}

/// A parsed index expression (`a,b*,-b2`, `_all`, or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    parts: Vec<Part>,
}

impl Expression {
    /// Parses `expr`; `None`, empty, `_all` and `*` all mean every index.
    pub fn parse(expr: Option<&str>) -> Self {
        let expr = expr.map(str::trim).unwrap_or("");
        if expr.is_empty() {
            return Self {
                parts: vec![Part::Wildcard("*".into())],
            };
        }
        let mut parts = Vec::new();
        for (i, raw) in expr
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            if raw == "_all" {
                parts.push(Part::Wildcard("*".into()));
            } else if i > 0 && raw.len() > 1 && raw.starts_with('-') {
                parts.push(Part::Exclude(raw[1..].to_owned()));
            } else if raw.contains('*') {
                parts.push(Part::Wildcard(raw.to_owned()));
            } else {
                parts.push(Part::Name(raw.to_owned()));
            }
        }
        if parts.is_empty() {
            parts.push(Part::Wildcard("*".into()));
        }
        Self { parts }
    }

    /// Whether the expression uses `_all`, an empty list or a wildcard (what
    /// `action.destructive_requires_name` forbids).
    pub fn is_wildcard_or_all(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Wildcard(_)))
    }

    /// Expands against `indices` (`(name, is_open)`, any order) into names, keeping the
    /// expression's order, without duplicates. A missing concrete name is 404
    /// `index_not_found_exception` unless `ignore_unavailable`; an empty result is 404
    /// (for the whole expression) unless `allow_no_indices`.
    pub fn resolve<'a>(
        &self,
        indices: impl Iterator<Item = (&'a str, bool)> + Clone,
        opts: ResolveOptions,
        original: &str,
    ) -> Result<Vec<String>, ApiError> {
        let mut out: Vec<String> = Vec::new();
        for part in &self.parts {
            match part {
                Part::Name(name) => {
                    if indices.clone().any(|(n, _)| n == name) {
                        if !out.contains(name) {
                            out.push(name.clone());
                        }
                    } else if !opts.ignore_unavailable {
                        return Err(ApiError::index_not_found(name));
                    }
                }
                Part::Wildcard(pattern) => {
                    let mut matched: Vec<&str> = indices
                        .clone()
                        .filter(|&(n, open)| {
                            (if open {
                                opts.expand.open
                            } else {
                                opts.expand.closed
                            }) && simple_match(pattern, n)
                        })
                        .map(|(n, _)| n)
                        .collect();
                    matched.sort_unstable();
                    for n in matched {
                        if !out.iter().any(|o| o == n) {
                            out.push(n.to_owned());
                        }
                    }
                }
                Part::Exclude(pattern) => out.retain(|n| !simple_match(pattern, n)),
            }
        }
        if out.is_empty() && !opts.allow_no_indices {
            let shown = if original.is_empty() {
                "_all"
            } else {
                original
            };
            return Err(ApiError::index_not_found(shown));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> String {
        validate_index_name(name)
            .expect_err("name must be refused")
            .reason
    }

    #[test]
    fn valid_names_pass() {
        for n in ["logs", "logs-2024.01", "a_b", "ünïcode", ".hidden"] {
            assert!(validate_index_name(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn invalid_names_get_the_elasticsearch_reasons() {
        assert_eq!(reason("Foo"), "Invalid index name [Foo], must be lowercase");
        assert_eq!(
            reason("a*b"),
            "Invalid index name [a*b], must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]"
        );
        assert_eq!(
            reason("a#b"),
            "Invalid index name [a#b], must not contain '#'"
        );
        assert_eq!(
            reason("a:b"),
            "Invalid index name [a:b], must not contain ':'"
        );
        assert_eq!(
            reason("_a"),
            "Invalid index name [_a], must not start with '_', '-', or '+'"
        );
        assert_eq!(
            reason("-a"),
            "Invalid index name [-a], must not start with '_', '-', or '+'"
        );
        assert_eq!(
            reason(".."),
            "Invalid index name [..], must not be '.' or '..'"
        );
        let long = "a".repeat(256);
        assert_eq!(
            reason(&long),
            format!("Invalid index name [{long}], index name is too long, (256 > 255)")
        );
        let err = validate_index_name("Foo").unwrap_err();
        assert_eq!(err.kind, "invalid_index_name_exception");
        assert_eq!(err.status, 400);
        assert_eq!(err.extra["index"], "Foo");
    }

    #[test]
    fn glob_matches_like_simple_match() {
        assert!(simple_match("logs-*", "logs-1"));
        assert!(simple_match("*", ""));
        assert!(simple_match("*-1", "logs-1"));
        assert!(simple_match("l*s*1", "logs-1"));
        assert!(!simple_match("logs-*", "log"));
        assert!(!simple_match("a*c", "abd"));
        assert!(simple_match("abc", "abc"));
    }

    #[test]
    fn expressions_expand_in_order_with_exclusions() {
        let all = [
            ("logs-1", true),
            ("logs-2", true),
            ("logs-old", false),
            ("other", true),
        ];
        let names = || all.iter().map(|&(n, o)| (n, o));
        let r = |e: &str, o| Expression::parse(Some(e)).resolve(names(), o, e);
        assert_eq!(
            r("logs-*", ResolveOptions::STRICT_OPEN).unwrap(),
            ["logs-1", "logs-2"]
        );
        assert_eq!(
            r("logs-*", ResolveOptions::STRICT_ALL).unwrap(),
            ["logs-1", "logs-2", "logs-old"]
        );
        assert_eq!(
            r("other,logs-*,-logs-2", ResolveOptions::STRICT_OPEN).unwrap(),
            ["other", "logs-1"]
        );
        assert_eq!(
            r("_all", ResolveOptions::STRICT_OPEN).unwrap(),
            ["logs-1", "logs-2", "other"]
        );
        assert_eq!(
            r("nope-*", ResolveOptions::STRICT_OPEN).unwrap(),
            Vec::<String>::new()
        );
        let err = r("missing", ResolveOptions::STRICT_OPEN).unwrap_err();
        assert_eq!(err.status, 404);
        assert_eq!(err.reason, "no such index [missing]");
        let lenient = ResolveOptions {
            ignore_unavailable: true,
            ..ResolveOptions::STRICT_OPEN
        };
        assert_eq!(r("missing,other", lenient).unwrap(), ["other"]);
        let strict = ResolveOptions {
            allow_no_indices: false,
            ..ResolveOptions::STRICT_OPEN
        };
        assert_eq!(r("nope-*", strict).unwrap_err().status, 404);
        assert!(Expression::parse(None).is_wildcard_or_all());
        assert!(!Expression::parse(Some("a,b")).is_wildcard_or_all());
    }

    #[test]
    fn expand_wildcards_param_is_parsed() {
        let p = Params(
            [("expand_wildcards".to_owned(), "open,closed".to_owned())]
                .into_iter()
                .collect(),
        );
        let o = ResolveOptions::from_params(&p, ResolveOptions::STRICT_OPEN).unwrap();
        assert!(o.expand.open && o.expand.closed);
        let p = Params(
            [("expand_wildcards".to_owned(), "bogus".to_owned())]
                .into_iter()
                .collect(),
        );
        assert!(ResolveOptions::from_params(&p, ResolveOptions::STRICT_OPEN).is_err());
    }
}
