//! `_search` and `_count`: index expressions, URL parameters folded into the body as ES
//! does, and ES's response shape.
//!
//! The query DSL itself is the engine's (`SearchRequest::from_es_json`); this module only
//! decides which indices are searched, applies `from`/`size`/`sort`/`q`/`_source`/
//! `track_total_hits` from the URL, refuses what is not supported (aggregations, scroll,
//! ...) with a clear 400, and renders hits.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ferry_index::{IndexHandle, SearchHits, SearchRequest};
use serde_json::{Map, Value, json};

use super::docs::{has_source_params, source_filter};
use super::names::ResolveOptions;
use super::{ApiResponse, ApiResult, Node, args, body};
use crate::error::ApiError;
use crate::params::Params;

/// A float as ES prints it (Java's shortest `float` text), not its f64 widening.
pub fn float_json(f: f32) -> Value {
    format!("{f}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// How `hits.total` is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TotalShape {
    /// `{"value", "relation"}`.
    Object,
    /// `rest_total_hits_as_int=true`: a number.
    Int,
    /// `track_total_hits: false`: left out (`-1` as an int).
    Untracked { as_int: bool },
}

/// Parses a `track_total_hits` URL value into the body's JSON form.
fn track_total_hits_param(v: &str) -> Result<Value, ApiError> {
    match v {
        "" | "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        n => n.parse::<i64>().map(Value::from).map_err(|_| {
            ApiError::illegal_argument(format!(
                "Failed to parse int parameter [track_total_hits] with value [{n}]"
            ))
        }),
    }
}

impl Node {
    /// The open handles an expression searches.
    fn search_targets(
        &self,
        expr: Option<&str>,
        params: &Params,
    ) -> Result<Vec<Arc<IndexHandle>>, ApiError> {
        let opts = ResolveOptions::from_params(params, ResolveOptions::STRICT_OPEN)?;
        self.resolve_open(expr, opts)?
            .iter()
            .map(|e| e.handle())
            .collect()
    }

    /// `GET|POST [/<index>]/_search`.
    pub async fn search(&self, index: Option<&str>, body: Bytes, params: &Params) -> ApiResult {
        let started = Instant::now();
        args::refuse_unsupported(
            params,
            &[
                "scroll",
                "stored_fields",
                "docvalue_fields",
                "suggest_field",
                "analyzer",
            ],
        )?;
        for flag in ["explain", "version", "seq_no_primary_term"] {
            if params.bool(flag, false)? {
                return Err(ApiError::not_supported(&format!("[{flag}=true] in search")));
            }
        }
        if let Some(t) = params.get("search_type")
            && t != "query_then_fetch"
            && t != "dfs_query_then_fetch"
        {
            return Err(ApiError::illegal_argument(format!(
                "No search type for [{t}]"
            )));
        }
        // ES's wording for malformed paging parameters (the engine checks ranges).
        args::int(params, "from")?;
        args::int(params, "size")?;
        if args::int(params, "terminate_after")?.is_some_and(|n| n != 0) {
            return Err(ApiError::not_supported("[terminate_after]"));
        }
        let mut source = match body::parse_json(&body)? {
            None => Map::new(),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(ApiError::parsing(format!(
                    "Expected [START_OBJECT] but found [{}]",
                    body::token_of(&other)
                )));
            }
        };
        if source.contains_key("aggs") || source.contains_key("aggregations") {
            return Err(ApiError::illegal_argument(
                "aggregations are not supported yet",
            ));
        }
        if params.bool("track_scores", false)? {
            source.insert("track_scores".into(), Value::Bool(true));
        }
        // `rest_total_hits_as_int` needs exact totals: ES turns tracking on when not asked,
        // and refuses a bounded count.
        let as_int = params.bool("rest_total_hits_as_int", false)?;
        let tracked = match params.get("track_total_hits") {
            Some(t) => track_total_hits_param(t)?,
            None => source
                .get("track_total_hits")
                .cloned()
                .unwrap_or(Value::Bool(true)),
        };
        if as_int {
            if let Value::Number(n) = &tracked
                && n.as_i64() != Some(i64::from(i32::MAX))
            {
                return Err(ApiError::illegal_argument(format!(
                    "[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got {n}"
                )));
            }
            if !source.contains_key("track_total_hits") {
                source.insert("track_total_hits".into(), Value::Bool(true));
            }
        }
        let mut req = SearchRequest::from_es_json(&Value::Object(source))?
            .with_from_size(params.get("from"), params.get("size"))?;
        if let Some(sort) = params.get("sort") {
            req = req.with_sort_param(sort)?;
        }
        if let Some(t) = params.get("track_total_hits") {
            req = req.with_track_total_hits_param(t)?;
        }
        if has_source_params(params) {
            req = req.with_source_filter(source_filter(params));
        }
        if let Some(q) = params.get("q") {
            req = req.with_q_params(q, params.get("df"), params.get("default_operator"))?;
        }
        let shape = match (req.total_hits_tracked(), as_int) {
            (false, as_int) => TotalShape::Untracked { as_int },
            (true, true) => TotalShape::Int,
            (true, false) => TotalShape::Object,
        };
        let handles = self.search_targets(index, params)?;
        let hits = if handles.is_empty() {
            SearchHits::default()
        } else {
            ferry_index::search(&handles, &req).await?
        };
        Ok(ApiResponse::ok(render(
            &hits,
            shape,
            started.elapsed().as_millis() as u64,
        )))
    }

    /// `GET|POST [/<index>]/_count`.
    pub async fn count(&self, index: Option<&str>, body: Bytes, params: &Params) -> ApiResult {
        args::refuse_unsupported(params, &["terminate_after", "min_score", "analyzer"])?;
        let source = body::parse_object(&body)?;
        let mut query = Map::new();
        for (k, v) in source {
            if k != "query" {
                return Err(ApiError::parsing(format!("request does not support [{k}]")));
            }
            query.insert(k, v);
        }
        let mut req = SearchRequest::from_es_json(&Value::Object(query))?;
        if let Some(q) = params.get("q") {
            req = req.with_q_params(q, params.get("df"), params.get("default_operator"))?;
        }
        let handles = self.search_targets(index, params)?;
        let shards: u64 = handles
            .iter()
            .map(|h| u64::from(h.settings().number_of_shards))
            .sum();
        let count = if handles.is_empty() {
            0
        } else {
            ferry_index::count(&handles, &req).await?
        };
        Ok(ApiResponse::ok(json!({
            "count": count,
            "_shards": { "total": shards, "successful": shards, "skipped": 0, "failed": 0 },
        })))
    }
}

/// ES's search response.
fn render(hits: &SearchHits, shape: TotalShape, took: u64) -> Value {
    let mut h = Map::new();
    match shape {
        TotalShape::Object => {
            h.insert(
                "total".into(),
                json!({ "value": hits.total, "relation": if hits.total_exact { "eq" } else { "gte" } }),
            );
        }
        TotalShape::Int => {
            h.insert("total".into(), json!(hits.total));
        }
        TotalShape::Untracked { as_int: true } => {
            h.insert("total".into(), json!(-1));
        }
        TotalShape::Untracked { as_int: false } => {}
    }
    h.insert(
        "max_score".into(),
        hits.max_score.map_or(Value::Null, float_json),
    );
    let list: Vec<Value> = hits
        .hits
        .iter()
        .map(|hit| {
            let mut m = Map::new();
            m.insert("_index".into(), json!(hit.index));
            m.insert("_type".into(), json!("_doc"));
            m.insert("_id".into(), json!(hit.id));
            m.insert("_score".into(), hit.score.map_or(Value::Null, float_json));
            if let Some(r) = &hit.routing {
                m.insert("_routing".into(), json!(r));
            }
            if let Some(src) = &hit.source {
                m.insert("_source".into(), src.clone());
            }
            if let Some(sort) = &hit.sort {
                m.insert("sort".into(), Value::Array(sort.clone()));
            }
            Value::Object(m)
        })
        .collect();
    h.insert("hits".into(), Value::Array(list));
    json!({
        "took": took,
        "timed_out": false,
        "_shards": { "total": hits.shards, "successful": hits.shards, "skipped": 0, "failed": 0 },
        "hits": Value::Object(h),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_index::SearchHit;

    #[test]
    fn floats_print_like_java_floats() {
        assert_eq!(float_json(0.287_682_1).to_string(), "0.2876821");
        assert_eq!(float_json(1.0).to_string(), "1.0");
    }

    #[test]
    fn response_has_elasticsearch_shape() {
        let plain = SearchHit {
            index: "logs".into(),
            id: "1".into(),
            routing: None,
            score: Some(1.5),
            sort: None,
            source: Some(json!({"a": 1})),
        };
        let routed = SearchHit {
            id: "2".into(),
            routing: Some("user1".into()),
            ..plain.clone()
        };
        let hits = SearchHits {
            total: 2,
            total_exact: true,
            max_score: Some(1.5),
            hits: vec![plain, routed],
            shards: 2,
        };
        let v = render(&hits, TotalShape::Object, 4);
        assert_eq!(v["hits"]["total"], json!({"value": 2, "relation": "eq"}));
        assert_eq!(
            v["_shards"],
            json!({"total": 2, "successful": 2, "skipped": 0, "failed": 0})
        );
        let hit = v["hits"]["hits"][0].as_object().unwrap();
        let keys: Vec<&str> = hit.keys().map(String::as_str).collect();
        assert_eq!(keys, ["_index", "_type", "_id", "_score", "_source"]);
        let hit = v["hits"]["hits"][1].as_object().unwrap();
        let keys: Vec<&str> = hit.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["_index", "_type", "_id", "_score", "_routing", "_source"]
        );
        assert_eq!(hit["_routing"], json!("user1"));
        assert_eq!(render(&hits, TotalShape::Int, 0)["hits"]["total"], 2);
        assert!(
            render(&hits, TotalShape::Untracked { as_int: false }, 0)["hits"]
                .get("total")
                .is_none()
        );
        assert_eq!(
            render(&hits, TotalShape::Untracked { as_int: true }, 0)["hits"]["total"],
            -1
        );
    }

    #[test]
    fn track_total_hits_values() {
        assert_eq!(track_total_hits_param("false").unwrap(), Value::Bool(false));
        assert_eq!(track_total_hits_param("100").unwrap(), json!(100));
        assert!(track_total_hits_param("x").is_err());
    }
}
