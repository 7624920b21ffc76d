//! Compiling the multi-term queries on one leaf field: `range` (numbers, dates with
//! date math and ES rounding, keywords) and `prefix`, `wildcard`, `regexp` (regexes over
//! the field's terms; on `kw`/`txt` JSON fields the regex carries the path prefix).

use std::ops::Bound as RangeBound;

use tantivy::Term;
use tantivy::query::{RangeQuery, RegexQuery};

use super::analysis::normalize;
use super::compile::{Compiler, Q, TextField, constant, empty, value_text};
use super::dsl::Bound;
use crate::mapping::{Indexed, LeafKind, LeafMapping, Scalar};
use crate::{IndexError, Result};

fn ia(msg: impl Into<String>) -> IndexError {
    IndexError::IllegalArgument(msg.into())
}

/// Escapes regex meta characters (and control characters) of `s`.
pub(crate) fn regex_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        if c < ' ' {
            out.push_str(&format!("\\x{{{:x}}}", c as u32));
        } else {
            if "\\.+*?()|[]{}^$#&-~\"<>@".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
}

/// Wildcard syntax (`*`, `?`, `\` escapes) to regex syntax.
pub(crate) fn wildcard_to_regex(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => {
                if let Some(n) = chars.next() {
                    regex_escape(&n.to_string(), &mut out);
                }
            }
            _ => regex_escape(&c.to_string(), &mut out),
        }
    }
    out
}

impl Compiler<'_> {
    pub(crate) fn range_leaf(
        &self,
        path: &str,
        leaf: &LeafMapping,
        lower: Option<&Bound>,
        upper: Option<&Bound>,
        format: Option<&str>,
        tz: i32,
    ) -> Result<Q> {
        if lower.is_none() && upper.is_none() {
            return Ok(self.exists(path));
        }
        let num_err = |b: &Bound, cause: String| {
            ia(format!(
                "failed to create query: [{path}] bound [{}]: {cause}",
                b.value
            ))
        };
        match leaf.kind {
            LeafKind::Keyword | LeafKind::Text => {
                let term = |s: &str| -> Option<Term> {
                    match leaf.kind {
                        LeafKind::Keyword => Some(self.kw_term(path, s)),
                        _ => match self.text_field(path)? {
                            TextField::Slot(f) => Some(Term::from_field_text(f, s)),
                            TextField::Json(_) => None,
                        },
                    }
                };
                let mk = |b: Option<&Bound>| -> Result<Option<RangeBound<Term>>> {
                    Ok(match b {
                        None => Some(RangeBound::Unbounded),
                        Some(b) => {
                            let s = value_text(&b.value);
                            term(&s).map(|t| {
                                if b.inclusive {
                                    RangeBound::Included(t)
                                } else {
                                    RangeBound::Excluded(t)
                                }
                            })
                        }
                    })
                };
                match (mk(lower)?, mk(upper)?) {
                    (Some(lo), Some(hi)) => Ok(Box::new(RangeQuery::new(lo, hi))),
                    _ if leaf.kind == LeafKind::Text && self.text_field(path).is_none() => {
                        Ok(empty())
                    }
                    _ => Err(ia(format!(
                        "[range] on text field [{path}] beyond the first 32 text fields is not supported yet"
                    ))),
                }
            }
            LeafKind::Double | LeafKind::Float => {
                let conv = |b: &Bound| -> Result<f64> {
                    let s = Scalar::from_json(&b.value)
                        .ok_or_else(|| num_err(b, "not a scalar".into()))?;
                    match leaf.convert_query(s) {
                        Ok(Some(Indexed::F64(f))) => Ok(f),
                        Ok(_) => Err(num_err(b, "not a number".into())),
                        Err(c) => Err(num_err(b, c)),
                    }
                };
                let mk = |b: Option<&Bound>| -> Result<RangeBound<Term>> {
                    Ok(match b {
                        None => RangeBound::Unbounded,
                        Some(b) => {
                            let mut t = Term::from_field_json_path(self.fields.num, path, true);
                            t.append_type_and_fast_value(conv(b)?);
                            if b.inclusive {
                                RangeBound::Included(t)
                            } else {
                                RangeBound::Excluded(t)
                            }
                        }
                    })
                };
                Ok(Box::new(RangeQuery::new(mk(lower)?, mk(upper)?)))
            }
            _ => {
                // i64 kinds: integers, booleans, dates → inclusive i64 bounds.
                let lo = match lower {
                    None => None,
                    Some(b) => Some(
                        self.int_bound(leaf, b, true, format, tz)
                            .map_err(|c| num_err(b, c))?,
                    ),
                };
                let hi = match upper {
                    None => None,
                    Some(b) => Some(
                        self.int_bound(leaf, b, false, format, tz)
                            .map_err(|c| num_err(b, c))?,
                    ),
                };
                if let (Some(l), Some(h)) = (lo, hi)
                    && l > h
                {
                    return Ok(empty());
                }
                let mk = |v: Option<i64>| match v {
                    None => RangeBound::Unbounded,
                    Some(v) => RangeBound::Included(self.num_term_i64(path, v)),
                };
                Ok(Box::new(RangeQuery::new(mk(lo), mk(hi))))
            }
        }
    }

    /// An inclusive i64 bound of an integer, boolean or date range.
    pub(crate) fn int_bound(
        &self,
        leaf: &LeafMapping,
        b: &Bound,
        is_lower: bool,
        format: Option<&str>,
        tz: i32,
    ) -> std::result::Result<i64, String> {
        if leaf.kind == LeafKind::Date {
            // gt and lte round up; gte and lt round down (ES date math rounding).
            let round_up = is_lower != b.inclusive;
            let custom;
            let fmt = match format {
                Some(f) => {
                    custom = crate::mapping::DateFormat::parse(f)?;
                    &custom
                }
                None => leaf.format(),
            };
            let ms = fmt.parse_math(&value_text(&b.value), round_up, tz, self.now_millis)?;
            return Ok(match (is_lower, b.inclusive) {
                (true, false) => ms.saturating_add(1),
                (false, false) => ms.saturating_sub(1),
                _ => ms,
            });
        }
        let s = Scalar::from_json(&b.value).ok_or("not a scalar")?;
        if leaf.kind == LeafKind::Boolean {
            return match leaf.convert_query(s)? {
                Some(Indexed::I64(n)) => Ok(match (is_lower, b.inclusive) {
                    (true, false) => n + 1,
                    (false, false) => n - 1,
                    _ => n,
                }),
                _ => Err("not a boolean".into()),
            };
        }
        // Integers: a fractional bound rounds inwards.
        let f = match s {
            Scalar::I64(n) => n as f64,
            Scalar::U64(n) => n as f64,
            Scalar::F64(f) => f,
            Scalar::Str(t) => t
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("For input string: \"{t}\""))?,
            Scalar::Bool(_) => return Err("not a number".into()),
        };
        if let Scalar::I64(n) = s {
            return Ok(match (is_lower, b.inclusive) {
                (true, false) => n.saturating_add(1),
                (false, false) => n.saturating_sub(1),
                _ => n,
            });
        }
        if !f.is_finite() {
            return Err(format!("[{f}] is not a finite number"));
        }
        let v = match (is_lower, b.inclusive) {
            (true, true) => f.ceil(),
            (true, false) => f.floor() + 1.0,
            (false, true) => f.floor(),
            (false, false) => f.ceil() - 1.0,
        };
        Ok(v.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
    }

    pub(crate) fn pattern_query(
        &self,
        kind: &str,
        field: &str,
        value: &str,
        ci: bool,
        boost: f32,
    ) -> Result<Q> {
        match self.leaf(field)? {
            Some(leaf) => Ok(constant(
                self.pattern_leaf(kind, field, leaf, value, ci)?,
                boost * leaf.boost,
            )),
            None => Ok(empty()),
        }
    }

    /// `prefix`, `wildcard` or `regexp` on one leaf.
    pub(crate) fn pattern_leaf(
        &self,
        kind: &str,
        path: &str,
        leaf: &LeafMapping,
        value: &str,
        ci: bool,
    ) -> Result<Q> {
        if !matches!(leaf.kind, LeafKind::Text | LeafKind::Keyword) {
            return Err(ia(format!(
                "Can only use {kind} queries on keyword and text fields - not on [{path}] which is of type [{}]",
                leaf.kind.name()
            )));
        }
        let pattern = match kind {
            "prefix" => {
                let mut p = String::new();
                regex_escape(value, &mut p);
                p.push_str(".*");
                p
            }
            "wildcard" => wildcard_to_regex(value),
            _ => value.to_string(),
        };
        self.regex_on(path, leaf, &pattern, ci)
    }

    /// A regex over the terms of one leaf (the JSON path prefix is added for `kw`/`txt`).
    pub(crate) fn regex_on(
        &self,
        path: &str,
        leaf: &LeafMapping,
        pattern: &str,
        ci: bool,
    ) -> Result<Q> {
        let flags = if ci { "(?si:" } else { "(?s:" };
        let (field, full) = match leaf.kind {
            LeafKind::Keyword => (self.fields.kw, json_prefix(path, flags, pattern)),
            _ => match self.text_field(path) {
                None => return Ok(empty()),
                Some(TextField::Slot(f)) => (f, format!("{flags}{pattern})")),
                Some(TextField::Json(p)) => (self.fields.txt, json_prefix(p, flags, pattern)),
            },
        };
        RegexQuery::from_pattern(&full, field)
            .map(|q| Box::new(q) as Q)
            .map_err(|e| {
                ia(format!(
                    "failed to create query: invalid pattern [{pattern}]: {e}"
                ))
            })
    }
}

/// `<path with \x01 separators>\x00s(?flags:pattern)`: a regex over JSON string terms.
fn json_prefix(path: &str, flags: &str, pattern: &str) -> String {
    let mut out = String::new();
    let json_path = path.replace('.', "\u{1}");
    regex_escape(&json_path, &mut out);
    out.push_str("\\x{0}s");
    out.push_str(flags);
    out.push_str(pattern);
    out.push(')');
    out
}

/// Text multi-term queries on text fields see lowercased input (the analyzer's normalizer).
pub(crate) fn normalize_for(leaf: &LeafMapping, value: &str) -> String {
    if leaf.kind == LeafKind::Text {
        normalize(value)
    } else {
        value.to_string()
    }
}
