//! Request bodies from command-line input: where the bytes come from (`@file`, `-`, a
//! literal) and the two bodies ferryctl edits (create-index settings, search); the
//! remote-cluster and CCR bodies are in `ccr`.
//!
//! Bodies the user gives whole (documents, bulk NDJSON, a create-index body without flags)
//! pass through untouched: the server validates them and answers Elasticsearch errors.
//! Nothing here talks to the network.

pub mod ccr;

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

/// Where some input bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input (`-`).
    Stdin,
    /// A file.
    File(PathBuf),
    /// The argument itself.
    Literal(String),
}

impl Source {
    /// A JSON argument: `-` is standard input, `@path` a file, anything else the JSON itself.
    pub fn json_arg(arg: &str) -> Self {
        match arg {
            "-" => Self::Stdin,
            _ => match arg.strip_prefix('@') {
                Some(path) => Self::File(path.into()),
                None => Self::Literal(arg.to_owned()),
            },
        }
    }

    /// A file argument: `-` is standard input, anything else a path.
    pub fn file_arg(arg: &str) -> Self {
        match arg {
            "-" => Self::Stdin,
            _ => Self::File(arg.into()),
        }
    }

    /// Reads the bytes.
    pub fn read(&self) -> anyhow::Result<Vec<u8>> {
        match self {
            Self::Stdin => {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                    .context("cannot read standard input")?;
                Ok(buf)
            }
            Self::File(path) => {
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
            }
            Self::Literal(s) => Ok(s.as_bytes().to_vec()),
        }
    }
}

/// Top-level keys of a search body; an object with none of them is a bare query.
const SEARCH_BODY_KEYS: &[&str] = &[
    "query",
    "from",
    "size",
    "sort",
    "_source",
    "track_total_hits",
    "search_after",
    "aggs",
    "aggregations",
    "post_filter",
    "highlight",
    "min_score",
    "timeout",
    "terminate_after",
    "explain",
    "version",
    "seq_no_primary_term",
    "stored_fields",
    "docvalue_fields",
    "script_fields",
    "collapse",
    "rescore",
    "suggest",
    "indices_boost",
    "profile",
    "track_scores",
    "fields",
    "runtime_mappings",
    "pit",
    "stats",
    "ext",
];

/// The search body: `input` as given when it is a search body (`{"query": ...}`,
/// `{"size": 0}`, `{}`), wrapped as `{"query": input}` when it is a bare query
/// (`{"match": ...}`), match-all when absent; `size`/`from` override the body's.
pub fn search_body(
    input: Option<&[u8]>,
    size: Option<u64>,
    from: Option<u64>,
) -> anyhow::Result<Vec<u8>> {
    let mut body = match input {
        None => Map::new(),
        Some(bytes) => match parse_json(bytes, "search body")? {
            Value::Object(obj)
                if obj.is_empty() || obj.keys().any(|k| SEARCH_BODY_KEYS.contains(&k.as_str())) =>
            {
                obj
            }
            Value::Object(query) => {
                let mut wrapped = Map::new();
                wrapped.insert("query".into(), Value::Object(query));
                wrapped
            }
            _ => bail!("search body must be a JSON object"),
        },
    };
    if let Some(size) = size {
        body.insert("size".into(), json!(size));
    }
    if let Some(from) = from {
        body.insert("from".into(), json!(from));
    }
    serde_json::to_vec(&Value::Object(body)).context("cannot encode the search body")
}

/// The create-index body: `input` untouched when no flag overrides it; otherwise `shards`
/// and `replicas` set `number_of_shards`/`number_of_replicas` in `settings` (in
/// `settings.index` when the body already uses that form).
pub fn create_index_body(
    input: Option<Vec<u8>>,
    shards: Option<u32>,
    replicas: Option<u32>,
) -> anyhow::Result<Vec<u8>> {
    if shards.is_none() && replicas.is_none() {
        return Ok(input.unwrap_or_default());
    }
    let mut body = match input.as_deref() {
        None => Map::new(),
        Some(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
        Some(bytes) => match parse_json(bytes, "create-index body")? {
            Value::Object(obj) => obj,
            _ => bail!("create-index body must be a JSON object"),
        },
    };
    let settings = match body.entry("settings").or_insert_with(|| json!({})) {
        Value::Object(settings) => settings,
        _ => bail!("`settings` in the create-index body must be a JSON object"),
    };
    let target = match settings.get_mut("index") {
        Some(Value::Object(index)) => index,
        _ => settings,
    };
    for (key, value) in [
        ("number_of_shards", shards),
        ("number_of_replicas", replicas),
    ] {
        if let Some(n) = value {
            target.insert(key.into(), json!(n));
        }
    }
    serde_json::to_vec(&Value::Object(body)).context("cannot encode the create-index body")
}

fn parse_json(bytes: &[u8], what: &str) -> anyhow::Result<Value> {
    serde_json::from_slice(bytes).with_context(|| format!("{what} is not valid JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("output is JSON")
    }

    #[test]
    fn sources_from_arguments() {
        assert_eq!(Source::json_arg("-"), Source::Stdin);
        assert_eq!(
            Source::json_arg("@doc.json"),
            Source::File("doc.json".into())
        );
        assert_eq!(
            Source::json_arg(r#"{"a":1}"#),
            Source::Literal(r#"{"a":1}"#.into())
        );
        assert_eq!(Source::file_arg("-"), Source::Stdin);
        assert_eq!(Source::file_arg("@x"), Source::File("@x".into()));
        assert_eq!(Source::json_arg("{}").read().expect("literal reads"), b"{}");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = Source::File("/nonexistent/ferry.json".into())
            .read()
            .expect_err("missing file");
        assert!(format!("{err:#}").contains("/nonexistent/ferry.json"));
    }

    #[test]
    fn a_bare_query_is_wrapped() {
        let body = search_body(Some(br#"{"match":{"title":"ferry"}}"#), None, None).expect("valid");
        assert_eq!(
            json_of(&body),
            json!({"query": {"match": {"title": "ferry"}}})
        );
    }

    #[test]
    fn a_search_body_is_kept() {
        let input = br#"{"query":{"term":{"a":1}},"sort":["_doc"]}"#;
        let body = search_body(Some(input), None, None).expect("valid");
        assert_eq!(
            json_of(&body),
            json!({"query": {"term": {"a": 1}}, "sort": ["_doc"]})
        );
        let size_only = search_body(Some(br#"{"size":0}"#), None, None).expect("valid");
        assert_eq!(json_of(&size_only), json!({"size": 0}));
    }

    #[test]
    fn no_query_matches_all_and_flags_override() {
        assert_eq!(
            json_of(&search_body(None, None, None).expect("valid")),
            json!({})
        );
        let body = search_body(
            Some(br#"{"query":{"match_all":{}},"size":1}"#),
            Some(5),
            Some(10),
        )
        .expect("valid");
        assert_eq!(
            json_of(&body),
            json!({"query": {"match_all": {}}, "size": 5, "from": 10})
        );
    }

    #[test]
    fn bad_search_input_is_refused() {
        assert!(search_body(Some(b"{not json"), None, None).is_err());
        assert!(search_body(Some(b"[1,2]"), None, None).is_err());
    }

    #[test]
    fn create_body_passes_through_without_flags() {
        let input = b"{ \"settings\" : 1 }".to_vec();
        assert_eq!(
            create_index_body(Some(input.clone()), None, None).expect("untouched"),
            input
        );
        assert!(
            create_index_body(None, None, None)
                .expect("empty")
                .is_empty()
        );
    }

    #[test]
    fn create_flags_set_settings() {
        let body = create_index_body(None, Some(3), Some(0)).expect("valid");
        assert_eq!(
            json_of(&body),
            json!({"settings": {"number_of_shards": 3, "number_of_replicas": 0}})
        );
        let input = br#"{"mappings":{"properties":{}},"settings":{"number_of_shards":1}}"#.to_vec();
        let body = create_index_body(Some(input), Some(2), None).expect("valid");
        assert_eq!(
            json_of(&body),
            json!({"mappings": {"properties": {}}, "settings": {"number_of_shards": 2}})
        );
    }

    #[test]
    fn create_flags_respect_the_nested_index_form() {
        let input = br#"{"settings":{"index":{"number_of_replicas":1}}}"#.to_vec();
        let body = create_index_body(Some(input), None, Some(2)).expect("valid");
        assert_eq!(
            json_of(&body),
            json!({"settings": {"index": {"number_of_replicas": 2}}})
        );
    }

    #[test]
    fn create_flags_refuse_a_body_they_cannot_edit() {
        assert!(create_index_body(Some(b"nope".to_vec()), Some(1), None).is_err());
        assert!(create_index_body(Some(br#"{"settings":[]}"#.to_vec()), Some(1), None).is_err());
    }
}
