//! `_source` filtering: `_source: false`, a pattern, a list of patterns, or
//! `{"includes": [...], "excludes": [...]}` in a search body; `_source`,
//! `_source_includes`, `_source_excludes` as URL parameters.
//!
//! Patterns match full dotted paths with `*` wildcards (which may span dots, as in ES). An
//! included object comes whole (minus excludes); an object only reached on the way to an
//! include is kept when something under it survives; excludes win over includes. Key
//! order of the stored source is kept. This module does not read documents from storage.

use serde_json::{Map, Value};

use crate::{IndexError, Result};

/// What part of `_source` a response carries.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFilter {
    enabled: bool,
    includes: Vec<String>,
    excludes: Vec<String>,
}

impl Default for SourceFilter {
    fn default() -> Self {
        Self {
            enabled: true,
            includes: Vec::new(),
            excludes: Vec::new(),
        }
    }
}

fn parsing(msg: impl Into<String>) -> IndexError {
    IndexError::Parsing(msg.into())
}

fn patterns(key: &str, v: &Value) -> Result<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    parsing(format!("Unknown key for a {} in [{key}].", token_name(i)))
                })
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Err(parsing(format!(
            "Unknown key for a {} in [{key}].",
            token_name(other)
        ))),
    }
}

/// The ES (Jackson) token name of a JSON value, for error messages (`START_OBJECT`, ...).
pub fn token_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "VALUE_NULL",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Number(_) => "VALUE_NUMBER",
        Value::String(_) => "VALUE_STRING",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

impl SourceFilter {
    /// From the `_source` key of a search body (`true`, `false`, a pattern, a list, or
    /// `{"includes": [...], "excludes": [...]}`).
    pub fn from_es_json(v: &Value) -> crate::Result<Self> {
        let mut f = Self::default();
        match v {
            Value::Null => {}
            Value::Bool(b) => f.enabled = *b,
            Value::String(_) | Value::Array(_) => f.includes = patterns("_source", v)?,
            Value::Object(o) => {
                for (k, val) in o {
                    match k.as_str() {
                        "includes" | "include" => f.includes = patterns(k, val)?,
                        "excludes" | "exclude" => f.excludes = patterns(k, val)?,
                        _ => {
                            return Err(parsing(format!(
                                "Unknown key for a {} in [{k}].",
                                token_name(val)
                            )));
                        }
                    }
                }
            }
            Value::Number(_) => {
                return Err(parsing(
                    "Expected one of [VALUE_BOOLEAN, VALUE_STRING, START_ARRAY, START_OBJECT] but found [VALUE_NUMBER]",
                ));
            }
        }
        Ok(f)
    }

    /// From URL parameters `_source`, `_source_includes`, `_source_excludes` (comma lists).
    pub fn from_params(
        source: Option<&str>,
        includes: Option<&str>,
        excludes: Option<&str>,
    ) -> Self {
        let mut f = Self::default();
        match source {
            Some("true") => {}
            Some("false") => f.enabled = false,
            Some(list) => f.includes = split_list(list),
            None => {}
        }
        if let Some(i) = includes {
            f.includes = split_list(i);
        }
        if let Some(e) = excludes {
            f.excludes = split_list(e);
        }
        f
    }

    /// Whether `_source` is returned at all.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// `None` when `_source` is turned off; the filtered source otherwise.
    pub fn apply(&self, source: &[u8]) -> Option<Value> {
        if !self.enabled {
            return None;
        }
        let value: Value = serde_json::from_slice(source).ok()?;
        Some(self.filter(value))
    }

    /// Filters an already parsed source.
    pub fn filter(&self, value: Value) -> Value {
        if self.includes.is_empty() && self.excludes.is_empty() {
            return value;
        }
        match value {
            Value::Object(map) => Value::Object(self.filter_map(map, "", false)),
            other => other,
        }
    }

    fn filter_map(
        &self,
        map: Map<String, Value>,
        prefix: &str,
        all_in: bool,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        let mut path = String::with_capacity(prefix.len() + 16);
        for (k, v) in map {
            path.clear();
            if !prefix.is_empty() {
                path.push_str(prefix);
                path.push('.');
            }
            path.push_str(&k);
            if self.excludes.iter().any(|p| glob_match(p, &path)) {
                continue;
            }
            let included = all_in
                || self.includes.is_empty()
                || self.includes.iter().any(|p| glob_match(p, &path));
            if included {
                out.insert(k, self.filter_value(v, &path, true));
            } else if self.includes.iter().any(|p| glob_viable_below(p, &path)) {
                match v {
                    Value::Object(o) => {
                        let sub = self.filter_map(o, &path, false);
                        if !sub.is_empty() {
                            out.insert(k, Value::Object(sub));
                        }
                    }
                    Value::Array(items) => {
                        let sub = self.filter_array(items, &path);
                        if !sub.is_empty() {
                            out.insert(k, Value::Array(sub));
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// A value whose path is included: only excludes apply below it.
    fn filter_value(&self, v: Value, path: &str, all_in: bool) -> Value {
        if self.excludes.is_empty() {
            return v;
        }
        match v {
            Value::Object(o) => Value::Object(self.filter_map(o, path, all_in)),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|i| self.filter_value(i, path, all_in))
                    .collect(),
            ),
            other => other,
        }
    }

    /// An array reached on the way to an include: keeps objects with surviving content.
    fn filter_array(&self, items: Vec<Value>, path: &str) -> Vec<Value> {
        items
            .into_iter()
            .filter_map(|i| match i {
                Value::Object(o) => {
                    let sub = self.filter_map(o, path, false);
                    (!sub.is_empty()).then_some(Value::Object(sub))
                }
                Value::Array(inner) => {
                    let sub = self.filter_array(inner, path);
                    (!sub.is_empty()).then_some(Value::Array(sub))
                }
                _ => None,
            })
            .collect()
    }
}

/// `*`-glob match of a whole string.
pub(crate) fn glob_match(pattern: &str, s: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether `pattern` can match some path below `path` (a string starting with `path.`).
fn glob_viable_below(pattern: &str, path: &str) -> bool {
    let p = pattern.as_bytes();
    // states[i]: pattern position i is reachable after the consumed input.
    let mut states = vec![false; p.len() + 1];
    states[0] = true;
    close_stars(p, &mut states);
    for &c in path.as_bytes().iter().chain(std::iter::once(&b'.')) {
        let mut next = vec![false; p.len() + 1];
        for i in 0..p.len() {
            if !states[i] {
                continue;
            }
            if p[i] == b'*' {
                next[i] = true;
            } else if p[i] == c {
                next[i + 1] = true;
            }
        }
        close_stars(p, &mut next);
        if !next.iter().any(|&b| b) {
            return false;
        }
        states = next;
    }
    // Something must still be matchable after the prefix: any live state short of the end,
    // or a trailing star.
    (0..p.len()).any(|i| states[i])
}

fn close_stars(p: &[u8], states: &mut [bool]) {
    for i in 0..p.len() {
        if states[i] && p[i] == b'*' {
            states[i + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn apply(f: &SourceFilter, v: &Value) -> Option<Value> {
        f.apply(v.to_string().as_bytes())
    }

    fn doc() -> Value {
        json!({"title": "t", "user": {"name": "n", "age": 3, "tags": ["a"]}, "items": [{"x": 1, "y": 2}, {"y": 3}], "z": 1})
    }

    #[test]
    fn body_forms() {
        assert_eq!(
            apply(&SourceFilter::from_es_json(&json!(false)).unwrap(), &doc()),
            None
        );
        assert_eq!(
            apply(&SourceFilter::from_es_json(&json!(true)).unwrap(), &doc()),
            Some(doc())
        );
        let f = SourceFilter::from_es_json(&json!("user")).unwrap();
        assert_eq!(
            apply(&f, &doc()),
            Some(json!({"user": {"name": "n", "age": 3, "tags": ["a"]}}))
        );
        let f = SourceFilter::from_es_json(&json!(["title", "user.n*"])).unwrap();
        assert_eq!(
            apply(&f, &doc()),
            Some(json!({"title": "t", "user": {"name": "n"}}))
        );
        let f = SourceFilter::from_es_json(
            &json!({"includes": ["user.*", "items.y"], "excludes": ["user.age"]}),
        )
        .unwrap();
        assert_eq!(
            apply(&f, &doc()),
            Some(json!({"user": {"name": "n", "tags": ["a"]}, "items": [{"y": 2}, {"y": 3}]}))
        );
        let f = SourceFilter::from_es_json(&json!({"excludes": ["user"]})).unwrap();
        assert_eq!(
            apply(&f, &doc()),
            Some(json!({"title": "t", "items": [{"x": 1, "y": 2}, {"y": 3}], "z": 1}))
        );
        assert!(SourceFilter::from_es_json(&json!(3)).is_err());
        assert!(SourceFilter::from_es_json(&json!({"foo": []})).is_err());
        assert!(SourceFilter::from_es_json(&json!([1])).is_err());
    }

    #[test]
    fn url_params() {
        assert_eq!(
            apply(
                &SourceFilter::from_params(Some("false"), None, None),
                &doc()
            ),
            None
        );
        let f = SourceFilter::from_params(Some("title,z"), None, None);
        assert_eq!(apply(&f, &doc()), Some(json!({"title": "t", "z": 1})));
        let f = SourceFilter::from_params(None, Some("user"), Some("user.tags"));
        assert_eq!(
            apply(&f, &doc()),
            Some(json!({"user": {"name": "n", "age": 3}}))
        );
    }

    #[test]
    fn key_order_is_kept() {
        let src = br#"{"b":1,"a":2,"c":{"z":1,"y":2}}"#;
        let f = SourceFilter::from_params(None, None, Some("c.z"));
        assert_eq!(
            serde_json::to_string(&f.apply(src).unwrap()).unwrap(),
            r#"{"b":1,"a":2,"c":{"y":2}}"#
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("a*", "abc"));
        assert!(glob_match("*.name", "user.name"));
        assert!(glob_match("u*e", "user.name"));
        assert!(!glob_match("a*c", "abd"));
        assert!(glob_viable_below("user.name", "user"));
        assert!(glob_viable_below("*.name", "anything"));
        assert!(!glob_viable_below("user.name", "usr"));
        assert!(!glob_viable_below("user", "user"));
    }

    fn leaf_paths(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaf_paths(c, &p, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| leaf_paths(i, prefix, out)),
            other => out.push((prefix.to_string(), other.clone())),
        }
    }

    fn arb_doc() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i32>().prop_map(Value::from),
            "[a-c]{1,2}".prop_map(Value::from)
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop::collection::btree_map("[a-d]", inner, 1..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        })
        .prop_map(|v| if v.is_object() { v } else { json!({"k": v}) })
    }

    proptest! {
        #[test]
        fn excludes_never_survive(doc in arb_doc(), ex in prop::collection::vec("[a-d*](\\.[a-d*])?", 0..3),
                                  inc in prop::collection::vec("[a-d*](\\.[a-d*])?", 0..3)) {
            let f = SourceFilter { enabled: true, includes: inc.clone(), excludes: ex.clone() };
            let out = f.filter(doc.clone());
            let mut got = Vec::new();
            leaf_paths(&out, "", &mut got);
            let mut all = Vec::new();
            leaf_paths(&doc, "", &mut all);
            for (path, value) in &got {
                // Nothing excluded survives, at the path or above it.
                let mut prefix = String::new();
                for seg in path.split('.') {
                    if !prefix.is_empty() { prefix.push('.'); }
                    prefix.push_str(seg);
                    prop_assert!(!ex.iter().any(|p| glob_match(p, &prefix)), "{path} survived exclude");
                }
                // Output is a part of the input.
                prop_assert!(all.contains(&(path.clone(), value.clone())));
            }
            if inc.is_empty() && ex.is_empty() {
                prop_assert_eq!(out, doc);
            }
        }
    }
}
