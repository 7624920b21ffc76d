//! The URL parameters each endpoint accepts (from ES's REST API spec), and the check
//! that refuses any other one as ES does: `request [/x/_doc/1] contains unrecognized
//! parameter: [foo] -> did you mean [...]?`.
//!
//! Accepting a parameter here does not mean it is acted on: the node refuses the ones it
//! does not support yet with a clear 400 of its own.

use std::collections::BTreeSet;

use super::routes::Handler;
use crate::error::ApiError;
use crate::params::Params;

/// Parameters every endpoint accepts.
pub const COMMON: &[&str] = &[
    "pretty",
    "human",
    "error_trace",
    "filter_path",
    "format",
    "source",
    "source_content_type",
];

pub(super) const NONE: &[&str] = &[];
pub(super) const PUT_FOLLOW: &[&str] = &["wait_for_active_shards", "master_timeout"];
pub(super) const MASTER_TIMEOUT: &[&str] = &["master_timeout"];
pub(super) const TIMEOUT: &[&str] = &["timeout"];
pub(super) const FORCE_MERGE: &[&str] = &[
    "max_num_segments",
    "only_expunge_deletes",
    "flush",
    "wait_for_completion",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
];
pub(super) const CCR_STATS: &[&str] = &["timeout", "master_timeout"];
pub(super) const HEALTH: &[&str] = &[
    "expand_wildcards",
    "level",
    "local",
    "master_timeout",
    "timeout",
    "wait_for_active_shards",
    "wait_for_nodes",
    "wait_for_events",
    "wait_for_no_relocating_shards",
    "wait_for_no_initializing_shards",
    "wait_for_status",
    "return_200_for_cluster_health_timeout",
];
pub(super) const GET_CLUSTER_SETTINGS: &[&str] = &[
    "flat_settings",
    "include_defaults",
    "master_timeout",
    "timeout",
    "local",
];
pub(super) const PUT_CLUSTER_SETTINGS: &[&str] = &["flat_settings", "master_timeout", "timeout"];
pub(super) const IDX_OPTS: &[&str] =
    &["ignore_unavailable", "allow_no_indices", "expand_wildcards"];
pub(super) const GET_MAPPING: &[&str] = &[
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "master_timeout",
    "local",
    "include_type_name",
];
pub(super) const PUT_MAPPING: &[&str] = &[
    "timeout",
    "master_timeout",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "write_index_only",
    "include_type_name",
];
pub(super) const GET_SETTINGS: &[&str] = &[
    "master_timeout",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "flat_settings",
    "local",
    "include_defaults",
];
pub(super) const PUT_SETTINGS: &[&str] = &[
    "master_timeout",
    "timeout",
    "preserve_existing",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "flat_settings",
    "reopen",
];
pub(super) const OPEN_CLOSE: &[&str] = &[
    "timeout",
    "master_timeout",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "wait_for_active_shards",
];
pub(super) const CREATE_INDEX: &[&str] = &[
    "wait_for_active_shards",
    "timeout",
    "master_timeout",
    "include_type_name",
];
pub(super) const DELETE_INDEX: &[&str] = &[
    "timeout",
    "master_timeout",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
];
pub(super) const GET_INDEX: &[&str] = &[
    "local",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "features",
    "flat_settings",
    "include_defaults",
    "master_timeout",
    "include_type_name",
];
pub(super) const EXISTS_INDEX: &[&str] = &[
    "local",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "flat_settings",
    "include_defaults",
];
pub(super) const INDEX_DOC: &[&str] = &[
    "wait_for_active_shards",
    "op_type",
    "refresh",
    "routing",
    "timeout",
    "version",
    "version_type",
    "if_seq_no",
    "if_primary_term",
    "pipeline",
    "require_alias",
    "require_data_stream",
];
pub(super) const CREATE_DOC: &[&str] = &[
    "wait_for_active_shards",
    "refresh",
    "routing",
    "timeout",
    "version",
    "version_type",
    "pipeline",
    "require_alias",
];
pub(super) const GET_DOC: &[&str] = &[
    "stored_fields",
    "preference",
    "realtime",
    "refresh",
    "routing",
    "_source",
    "_source_excludes",
    "_source_includes",
    "_source_exclude",
    "_source_include",
    "version",
    "version_type",
];
pub(super) const DELETE_DOC: &[&str] = &[
    "wait_for_active_shards",
    "refresh",
    "routing",
    "timeout",
    "if_seq_no",
    "if_primary_term",
    "version",
    "version_type",
];
pub(super) const UPDATE_DOC: &[&str] = &[
    "wait_for_active_shards",
    "_source",
    "_source_excludes",
    "_source_includes",
    "lang",
    "refresh",
    "retry_on_conflict",
    "routing",
    "timeout",
    "if_seq_no",
    "if_primary_term",
    "require_alias",
];
pub(super) const MGET: &[&str] = &[
    "stored_fields",
    "preference",
    "realtime",
    "refresh",
    "routing",
    "_source",
    "_source_excludes",
    "_source_includes",
];
pub(super) const BULK: &[&str] = &[
    "wait_for_active_shards",
    "refresh",
    "routing",
    "timeout",
    "type",
    "_source",
    "_source_excludes",
    "_source_includes",
    "pipeline",
    "require_alias",
    "require_data_stream",
    "list_executed_pipelines",
];
pub(super) const SEARCH: &[&str] = &[
    "analyzer",
    "analyze_wildcard",
    "ccs_minimize_roundtrips",
    "default_operator",
    "df",
    "explain",
    "stored_fields",
    "docvalue_fields",
    "from",
    "ignore_unavailable",
    "ignore_throttled",
    "allow_no_indices",
    "expand_wildcards",
    "lenient",
    "preference",
    "q",
    "routing",
    "scroll",
    "search_type",
    "size",
    "sort",
    "_source",
    "_source_excludes",
    "_source_includes",
    "terminate_after",
    "stats",
    "suggest_field",
    "suggest_mode",
    "suggest_size",
    "suggest_text",
    "timeout",
    "track_scores",
    "track_total_hits",
    "allow_partial_search_results",
    "typed_keys",
    "version",
    "seq_no_primary_term",
    "request_cache",
    "batched_reduce_size",
    "max_concurrent_shard_requests",
    "pre_filter_shard_size",
    "rest_total_hits_as_int",
    "min_compatible_shard_node",
];
pub(super) const COUNT: &[&str] = &[
    "ignore_unavailable",
    "ignore_throttled",
    "allow_no_indices",
    "expand_wildcards",
    "min_score",
    "preference",
    "routing",
    "q",
    "analyzer",
    "analyze_wildcard",
    "default_operator",
    "df",
    "lenient",
    "terminate_after",
];
pub(super) const CAT_COMMON: &[&str] = &["h", "help", "s", "v", "local", "master_timeout"];
pub(super) const CAT_INDICES: &[&str] = &[
    "h",
    "help",
    "s",
    "v",
    "local",
    "master_timeout",
    "bytes",
    "health",
    "include_unloaded_segments",
    "pri",
    "time",
    "expand_wildcards",
];
pub(super) const CAT_NODES: &[&str] = &[
    "h",
    "help",
    "s",
    "v",
    "local",
    "master_timeout",
    "bytes",
    "full_id",
    "include_unloaded_segments",
    "time",
];
pub(super) const CAT_SHARDS: &[&str] = &[
    "h",
    "help",
    "s",
    "v",
    "local",
    "master_timeout",
    "bytes",
    "time",
];
pub(super) const CAT_HEALTH: &[&str] = &[
    "h",
    "help",
    "s",
    "v",
    "local",
    "master_timeout",
    "time",
    "ts",
];

/// Lucene's Levenshtein similarity as ES's "did you mean" uses it.
fn similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    let max = a.len().max(b.len());
    if max == 0 {
        1.0
    } else {
        1.0 - prev[b.len()] as f64 / max as f64
    }
}

/// Refuses parameters the endpoint does not know, as ES does:
/// `request [/x/_doc/1] contains unrecognized parameter: [foo] -> did you mean [...]?`.
pub fn check_params(path: &str, handler: &Handler, params: &Params) -> Result<(), ApiError> {
    let unknown: BTreeSet<&str> = params
        .0
        .keys()
        .map(String::as_str)
        .filter(|k| !COMMON.contains(k) && !handler.params.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::new();
    for k in &unknown {
        let mut cands: Vec<(f64, &str)> = handler
            .params
            .iter()
            .chain(COMMON)
            .map(|c| (similarity(k, c), *c))
            .filter(|(s, _)| *s > 0.5)
            .collect();
        cands.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let part = match cands.as_slice() {
            [] => format!("[{k}]"),
            [(_, one)] => format!("[{k}] -> did you mean [{one}]?"),
            many => {
                let names: Vec<&str> = many.iter().map(|(_, n)| *n).collect();
                format!("[{k}] -> did you mean any of [{}]?", names.join(", "))
            }
        };
        parts.push(part);
    }
    let noun = if unknown.len() == 1 {
        "parameter"
    } else {
        "parameters"
    };
    Err(ApiError::illegal_argument(format!(
        "request [{path}] contains unrecognized {noun}: {}",
        parts.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::routes::{Method, Routed, route};

    fn segs(p: &str) -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn unknown_parameters_are_refused_like_elasticsearch() {
        let Routed::Found(h, _) = route(Some(Method::Put), &segs("/x/_doc/1")) else {
            panic!("route")
        };
        let p = |kv: &[&str]| {
            Params(
                kv.iter()
                    .map(|k| ((*k).to_owned(), String::new()))
                    .collect(),
            )
        };
        assert!(check_params("/x/_doc/1", h, &p(&["refresh", "pretty"])).is_ok());
        let e = check_params("/x/_doc/1", h, &p(&["foo"])).unwrap_err();
        assert_eq!(
            e.reason,
            "request [/x/_doc/1] contains unrecognized parameter: [foo]"
        );
        let e = check_params("/x/_doc/1", h, &p(&["refrsh"])).unwrap_err();
        assert_eq!(
            e.reason,
            "request [/x/_doc/1] contains unrecognized parameter: [refrsh] -> did you mean [refresh]?"
        );
        let e = check_params("/x/_doc/1", h, &p(&["b", "a"])).unwrap_err();
        assert_eq!(
            e.reason,
            "request [/x/_doc/1] contains unrecognized parameters: [a], [b]"
        );
    }
}
