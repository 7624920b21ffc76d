//! Helpers for Elasticsearch-shaped bodies: the error shape, search hits, NDJSON, `_cat` text.
//!
//! The assertions panic with the whole response so a failing test shows what the server
//! said. They check the *shape* ES guarantees (`error.root_cause[]`, `error.type`,
//! `error.reason`, top-level `status`), never a particular wording of `reason`; tests that
//! care about wording check it themselves.

use serde_json::Value;

use crate::http::Resp;

/// Asserts an Elasticsearch error answer: HTTP `status`, `error.type` one of `types`, a
/// non-empty `error.root_cause[]` whose entries have a `type` and a `reason`, a string
/// `error.reason`, and `"status": status` in the body.
#[track_caller]
pub fn assert_es_error(resp: &Resp, status: u16, types: &[&str]) {
    assert_eq!(resp.status, status, "unexpected status for {resp}");
    let error = &resp.body["error"];
    let kind = error["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.type in {resp}"));
    assert!(
        types.contains(&kind),
        "error.type {kind:?} is not one of {types:?} in {resp}"
    );
    assert!(
        error["reason"].is_string(),
        "no error.reason string in {resp}"
    );
    let causes = error["root_cause"]
        .as_array()
        .unwrap_or_else(|| panic!("no error.root_cause array in {resp}"));
    assert!(!causes.is_empty(), "empty error.root_cause in {resp}");
    for cause in causes {
        assert!(
            cause["type"].is_string() && cause["reason"].is_string(),
            "root_cause entry without type/reason in {resp}"
        );
    }
    assert_eq!(
        resp.body["status"],
        Value::from(status),
        "body status differs from HTTP status in {resp}"
    );
}

/// Like [`assert_es_error`], and `error.reason` contains `needle`.
#[track_caller]
pub fn assert_es_error_mentions(resp: &Resp, status: u16, types: &[&str], needle: &str) {
    assert_es_error(resp, status, types);
    let reason = resp.body["error"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(needle),
        "error.reason {reason:?} does not mention {needle:?} in {resp}"
    );
}

/// `_id` of every hit, in order.
#[track_caller]
pub fn hit_ids(resp: &Resp) -> Vec<String> {
    let hits = resp.body["hits"]["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits.hits array in {resp}"));
    hits.iter()
        .map(|h| {
            h["_id"]
                .as_str()
                .unwrap_or_else(|| panic!("hit without _id in {resp}"))
                .to_owned()
        })
        .collect()
}

/// `hits.total.value`.
#[track_caller]
pub fn total_hits(resp: &Resp) -> u64 {
    resp.body["hits"]["total"]["value"]
        .as_u64()
        .unwrap_or_else(|| panic!("no hits.total.value in {resp}"))
}

/// The hits array.
#[track_caller]
pub fn hits(resp: &Resp) -> &Vec<Value> {
    resp.body["hits"]["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits.hits array in {resp}"))
}

/// NDJSON of `lines`, each followed by `\n` (as `_bulk` requires).
pub fn ndjson(lines: &[Value]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// The rows of a `_cat` text answer, split on whitespace (empty lines dropped).
pub fn cat_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// Strings `["1", "2", ...]` from `&[&str]`, for comparing id lists.
pub fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Whether `needle` appears anywhere inside `haystack` (as a value, an object key's value,
/// an array element, or a string equal to it). Used where a CLI's JSON layout is free but
/// its content is not.
pub fn contains_value(haystack: &Value, needle: &Value) -> bool {
    if haystack == needle {
        return true;
    }
    match haystack {
        Value::Array(items) => items.iter().any(|v| contains_value(v, needle)),
        Value::Object(map) => map.values().any(|v| contains_value(v, needle)),
        Value::String(s) => {
            // A CLI may print an ES body it got as an embedded JSON string.
            serde_json::from_str::<Value>(s)
                .is_ok_and(|v| v != *haystack && contains_value(&v, needle))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ndjson_terminates_every_line() {
        assert_eq!(
            ndjson(&[json!({"a": 1}), json!({"b": 2})]),
            "{\"a\":1}\n{\"b\":2}\n"
        );
    }

    #[test]
    fn contains_value_searches_nested_and_embedded_json() {
        let v = json!({"a": [{"b": {"title": "x"}}], "s": "{\"k\":\"v\"}"});
        assert!(contains_value(&v, &json!({"title": "x"})));
        assert!(contains_value(&v, &json!("v")));
        assert!(!contains_value(&v, &json!({"title": "y"})));
    }

    #[test]
    fn cat_rows_split_on_whitespace() {
        let rows = cat_rows("health status index\ngreen  open   books\n\n");
        assert_eq!(
            rows,
            vec![
                vec!["health", "status", "index"],
                vec!["green", "open", "books"]
            ]
        );
    }
}
