//! `?filter_path=`: ES's response filtering.
//!
//! A comma list of dotted paths; `*` matches within a field name, `**` matches any number
//! of levels, arrays are transparent (the path applies to each element), and a leading
//! `-` excludes. Inclusions apply first, then exclusions; objects and arrays left empty
//! disappear, and an answer with nothing left is `{}`, as in ES.

use serde_json::{Map, Value};

use crate::node::simple_match;

/// A parsed `filter_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPath {
    include: Vec<Vec<String>>,
    exclude: Vec<Vec<String>>,
}

impl FilterPath {
    /// Parses the parameter; `None` when it holds no path.
    pub fn parse(v: &str) -> Option<Self> {
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (target, p) = match p.strip_prefix('-') {
                Some(rest) => (&mut exclude, rest),
                None => (&mut include, p),
            };
            target.push(p.split('.').map(str::to_owned).collect());
        }
        if include.is_empty() && exclude.is_empty() {
            None
        } else {
            Some(Self { include, exclude })
        }
    }

    /// Filters `v`.
    pub fn apply(&self, v: Value) -> Value {
        let pats: Vec<&[String]> = self.include.iter().map(Vec::as_slice).collect();
        let kept = if pats.is_empty() {
            Some(v)
        } else {
            include(v, &pats)
        };
        let ex: Vec<&[String]> = self.exclude.iter().map(Vec::as_slice).collect();
        let kept = match kept {
            Some(v) if !ex.is_empty() => exclude(v, &ex),
            other => other,
        };
        kept.unwrap_or_else(|| Value::Object(Map::new()))
    }
}

/// The patterns left for a child named `key`, and whether one pattern matched it fully
/// (keep the child whole / drop it whole).
fn advance<'a>(key: &str, pats: &[&'a [String]]) -> (bool, Vec<&'a [String]>) {
    let mut whole = false;
    let mut next = Vec::new();
    for p in pats {
        let Some(first) = p.first() else { continue };
        let mut rests: Vec<&'a [String]> = Vec::with_capacity(2);
        if first == "**" {
            // `**` consumes this key, or matches nothing and the rest matches this key.
            match p.get(1) {
                None => whole = true,
                Some(second) => {
                    rests.push(p);
                    if simple_match(second, key) {
                        rests.push(&p[2..]);
                    }
                }
            }
        } else if simple_match(first, key) {
            rests.push(&p[1..]);
        }
        for rest in rests {
            if rest.is_empty() {
                whole = true;
            } else {
                next.push(rest);
            }
        }
    }
    (whole, next)
}

fn include(v: Value, pats: &[&[String]]) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in m {
                let (whole, next) = advance(&k, pats);
                if whole {
                    out.insert(k, child);
                } else if !next.is_empty()
                    && let Some(c) = include(child, &next)
                {
                    out.insert(k, c);
                }
            }
            if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        Value::Array(a) => {
            let out: Vec<Value> = a.into_iter().filter_map(|e| include(e, pats)).collect();
            if out.is_empty() {
                None
            } else {
                Some(Value::Array(out))
            }
        }
        _ => None,
    }
}

fn exclude(v: Value, pats: &[&[String]]) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in m {
                let (whole, next) = advance(&k, pats);
                if whole {
                    continue;
                }
                if next.is_empty() {
                    out.insert(k, child);
                } else if let Some(c) = exclude(child, &next) {
                    out.insert(k, c);
                }
            }
            if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        Value::Array(a) => {
            let out: Vec<Value> = a.into_iter().filter_map(|e| exclude(e, pats)).collect();
            if out.is_empty() {
                None
            } else {
                Some(Value::Array(out))
            }
        }
        scalar => Some(scalar),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(p: &str, v: Value) -> Value {
        FilterPath::parse(p).unwrap().apply(v)
    }

    #[test]
    fn includes_follow_paths_through_arrays() {
        let v = json!({"took": 1, "hits": {"total": 2, "hits": [{"_id": "1", "_source": {"a": 1}}, {"_id": "2"}]}});
        assert_eq!(
            f("hits.hits._id", v.clone()),
            json!({"hits": {"hits": [{"_id": "1"}, {"_id": "2"}]}})
        );
        assert_eq!(
            f("took,hits.total", v.clone()),
            json!({"took": 1, "hits": {"total": 2}})
        );
        assert_eq!(f("hits.*.a", v.clone()), json!({}));
        assert_eq!(
            f("**._id", v.clone()),
            json!({"hits": {"hits": [{"_id": "1"}, {"_id": "2"}]}})
        );
        assert_eq!(f("nothing", v), json!({}));
    }

    #[test]
    fn bulk_errors_filter() {
        let v = json!({"took": 1, "errors": true, "items": [
            {"index": {"_id": "1", "status": 201}},
            {"index": {"_id": "2", "status": 400, "error": {"type": "x"}}}
        ]});
        assert_eq!(
            f("items.*.error", v),
            json!({"items": [{"index": {"error": {"type": "x"}}}]})
        );
    }

    #[test]
    fn exclusions_remove_matches() {
        let v = json!({"a": {"b": 1, "c": 2}, "d": 3});
        assert_eq!(f("-a.b", v.clone()), json!({"a": {"c": 2}, "d": 3}));
        assert_eq!(f("a,-a.c", v.clone()), json!({"a": {"b": 1}}));
        assert_eq!(f("-**.b", v), json!({"a": {"c": 2}, "d": 3}));
        assert!(FilterPath::parse(" , ").is_none());
    }
}
