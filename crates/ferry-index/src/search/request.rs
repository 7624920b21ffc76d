//! The search body: `query`, `post_filter`, `from`, `size`, `sort`, `search_after`,
//! `track_total_hits`, `track_scores`, `min_score`, `_source`, `timeout`; and the URL
//! parameters that override them (`q`, `from`, `size`, `sort`, `track_total_hits`).
//!
//! Everything is validated up front, with ES's messages: unknown keys are a
//! `parsing_exception` ("Unknown key for a START_OBJECT in [foo]."), features Ferry does
//! not have yet (aggregations, highlight, ...) are refused by name, and the result window
//! is limited to 10,000 as ES's `index.max_result_window`.

use serde_json::{Map, Value};

use super::dsl::{Operator, QueryNode, parse_query, parsing};
use super::query_string::{self, QsQuery};
use super::sort::{SortField, SortTarget, parse_order, parse_sort, sort_target};
use crate::source::token_name;
use crate::{IndexError, Result, SourceFilter};

/// ES's default `index.max_result_window`.
pub(crate) const MAX_RESULT_WINDOW: usize = 10_000;

/// `track_total_hits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackTotalHits {
    /// Count every match (`true`).
    Exact,
    /// Count exactly up to n, then report `gte` n (default 10,000).
    UpTo(u64),
    /// Do not report a total (`false`).
    Off,
}

/// A parsed, validated search body (index-independent; compiled per shard).
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// `_source` filtering of the hits.
    pub source: SourceFilter,
    pub(crate) query: QueryNode,
    pub(crate) post_filter: Option<QueryNode>,
    pub(crate) from: usize,
    pub(crate) size: usize,
    /// Explicit sort (empty: by score).
    pub(crate) sort: Vec<SortField>,
    pub(crate) search_after: Option<Vec<Value>>,
    pub(crate) track_total_hits: TrackTotalHits,
    pub(crate) track_scores: bool,
    pub(crate) min_score: Option<f32>,
}

impl Default for SearchRequest {
    fn default() -> Self {
        Self {
            source: SourceFilter::default(),
            query: QueryNode::MatchAll { boost: 1.0 },
            post_filter: None,
            from: 0,
            size: 10,
            sort: Vec::new(),
            search_after: None,
            track_total_hits: TrackTotalHits::UpTo(MAX_RESULT_WINDOW as u64),
            track_scores: false,
            min_score: None,
        }
    }
}

/// Top-level keys ES has that Ferry refuses by name.
const UNSUPPORTED_KEYS: &[&str] = &[
    "aggs",
    "aggregations",
    "highlight",
    "suggest",
    "collapse",
    "rescore",
    "indices_boost",
    "pit",
    "runtime_mappings",
    "knn",
    "slice",
    "stored_fields",
    "docvalue_fields",
    "fields",
    "script_fields",
    "stats",
    "ext",
    "retriever",
    "rank",
];

fn non_negative(key: &str, v: &Value) -> Result<usize> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        parsing(format!(
            "[{key}] must be an integer but got a {}",
            token_name(v)
        ))
    })?;
    if n < 0 {
        return Err(IndexError::IllegalArgument(match key {
            "size" => format!("[size] parameter cannot be negative, found [{n}]"),
            _ => format!("[{key}] parameter cannot be negative"),
        }));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

fn flag(key: &str, v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err(parsing(format!(
            "[{key}] must be a boolean but got a {}",
            token_name(v)
        ))),
    }
}

fn parse_track_total_hits(v: &Value) -> Result<TrackTotalHits> {
    match v {
        Value::Bool(true) => Ok(TrackTotalHits::Exact),
        Value::Bool(false) => Ok(TrackTotalHits::Off),
        Value::String(s) if s == "true" => Ok(TrackTotalHits::Exact),
        Value::String(s) if s == "false" => Ok(TrackTotalHits::Off),
        _ => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }
            .ok_or_else(|| {
                parsing(format!(
                    "[track_total_hits] must be a boolean or an integer but got [{v}]"
                ))
            })?;
            match n {
                -1 => Ok(TrackTotalHits::Exact),
                n if n < 0 => Err(IndexError::IllegalArgument(format!(
                    "[track_total_hits] parameter must be positive or equals to -1, got {n}"
                ))),
                n => Ok(TrackTotalHits::UpTo(n as u64)),
            }
        }
    }
}

/// `timeout` values like `1s`, `500ms`, `-1`.
fn check_time_value(v: &Value) -> Result<()> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        _ => return Err(parsing("[timeout] must be a time value like [1s]")),
    };
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    let ok = s == "-1"
        || (digits.parse::<f64>().is_ok()
            && matches!(unit, "nanos" | "micros" | "ms" | "s" | "m" | "h" | "d"));
    if ok {
        Ok(())
    } else {
        Err(parsing(format!(
            "failed to parse setting [timeout] with value [{s}] as a time value: unit is missing or unrecognized"
        )))
    }
}

impl SearchRequest {
    /// Parses a search body (`query`, `from`, `size`, `sort`, `search_after`,
    /// `track_total_hits`, `_source`, ...). Unknown keys or clauses → `Parsing`.
    pub fn from_es_json(body: &Value) -> Result<Self> {
        let mut req = Self::default();
        let obj: &Map<String, Value> = match body {
            Value::Object(o) => o,
            Value::Null => return Ok(req),
            other => {
                return Err(parsing(format!(
                    "Expected [START_OBJECT] but found [{}]",
                    token_name(other)
                )));
            }
        };
        for (k, v) in obj {
            match k.as_str() {
                "query" => req.query = parse_query(v)?,
                "post_filter" => req.post_filter = Some(parse_query(v)?),
                "from" => req.from = non_negative("from", v)?,
                "size" => req.size = non_negative("size", v)?,
                "sort" => req.sort = parse_sort(v)?,
                "search_after" => {
                    let items = v
                        .as_array()
                        .ok_or_else(|| parsing("[search_after] must be an array"))?;
                    if let Some(bad) = items.iter().find(|i| i.is_object() || i.is_array()) {
                        return Err(parsing(format!(
                            "[search_after] values must be scalars, found a {}",
                            token_name(bad)
                        )));
                    }
                    req.search_after = Some(items.clone());
                }
                "track_total_hits" => req.track_total_hits = parse_track_total_hits(v)?,
                "track_scores" => req.track_scores = flag(k, v)?,
                "min_score" => {
                    req.min_score = Some(
                        v.as_f64()
                            .ok_or_else(|| parsing("[min_score] must be a number"))?
                            as f32,
                    );
                }
                "_source" => req.source = SourceFilter::from_es_json(v)?,
                "timeout" => check_time_value(v)?,
                "terminate_after" => {
                    if non_negative(k, v)? != 0 {
                        return Err(IndexError::IllegalArgument(
                            "[terminate_after] is not supported yet".into(),
                        ));
                    }
                }
                "version" | "seq_no_primary_term" | "explain" | "profile" => {
                    if flag(k, v)? {
                        return Err(IndexError::IllegalArgument(format!(
                            "[{k}: true] is not supported yet"
                        )));
                    }
                }
                _ if UNSUPPORTED_KEYS.contains(&k.as_str()) => {
                    return Err(IndexError::IllegalArgument(format!(
                        "[{k}] is not supported yet"
                    )));
                }
                _ => {
                    return Err(parsing(format!(
                        "Unknown key for a {} in [{k}].",
                        token_name(v)
                    )));
                }
            }
        }
        req.validate()?;
        Ok(req)
    }

    /// Checks the combination of paging parameters.
    fn validate(&self) -> Result<()> {
        let window = self.from.saturating_add(self.size);
        if window > MAX_RESULT_WINDOW {
            return Err(IndexError::IllegalArgument(format!(
                "Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{window}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting."
            )));
        }
        if let Some(after) = &self.search_after {
            if self.from > 0 {
                return Err(IndexError::IllegalArgument(
                    "`from` parameter must be set to 0 when `search_after` is used.".into(),
                ));
            }
            let sort_len = self.sort.len().max(1);
            if after.len() != sort_len {
                return Err(IndexError::IllegalArgument(format!(
                    "search_after has {} value(s) but sort has {sort_len}.",
                    after.len()
                )));
            }
        }
        Ok(())
    }

    /// `?q=field:value` (query_string syntax) as the query.
    pub fn with_q(self, q: &str) -> Result<Self> {
        self.with_q_params(q, None, None)
    }

    /// `?q=` with `?df=` (default field) and `?default_operator=` (`AND`/`OR`).
    pub fn with_q_params(
        mut self,
        q: &str,
        df: Option<&str>,
        default_operator: Option<&str>,
    ) -> Result<Self> {
        let mut opts = QsQuery::default();
        if let Some(op) = default_operator {
            opts.default_operator = match op.to_ascii_uppercase().as_str() {
                "AND" => Operator::And,
                "OR" => Operator::Or,
                _ => {
                    return Err(IndexError::IllegalArgument(format!(
                        "[default_operator] must be AND or OR, got [{op}]"
                    )));
                }
            };
        }
        if let Some(df) = df {
            opts.fields = vec![(df.to_string(), 1.0)];
        }
        opts.tree = query_string::parse(q, opts.default_operator, true)?;
        self.query = QueryNode::QueryString(Box::new(opts));
        Ok(self)
    }

    /// `?from=` and `?size=` (they override the body).
    pub fn with_from_size(mut self, from: Option<&str>, size: Option<&str>) -> Result<Self> {
        if let Some(f) = from {
            self.from = non_negative("from", &Value::String(f.to_string()))?;
        }
        if let Some(s) = size {
            self.size = non_negative("size", &Value::String(s.to_string()))?;
        }
        self.validate()?;
        Ok(self)
    }

    /// `?sort=field:desc,other` (overrides the body's sort).
    pub fn with_sort_param(mut self, sort: &str) -> Result<Self> {
        let mut out = Vec::new();
        for item in sort.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, order) = match item.rsplit_once(':') {
                Some((n, o)) => (n, Some(o)),
                None => (item, None),
            };
            let mut f = SortField::new(sort_target(name)?);
            if let Some(o) = order {
                f.desc = parse_order(&Value::String(o.to_string()))?;
                f.use_max = f.desc;
            }
            out.push(f);
        }
        self.sort = out;
        self.validate()?;
        Ok(self)
    }

    /// `?track_total_hits=true|false|<n>`.
    pub fn with_track_total_hits_param(mut self, v: &str) -> Result<Self> {
        self.track_total_hits = parse_track_total_hits(&Value::String(v.to_string()))?;
        Ok(self)
    }

    /// Replaces the `_source` filtering (URL parameters win over the body).
    pub fn with_source_filter(mut self, source: SourceFilter) -> Self {
        self.source = source;
        self
    }

    /// `from`.
    pub fn from(&self) -> usize {
        self.from
    }

    /// `size`.
    pub fn size(&self) -> usize {
        self.size
    }

    /// False for `track_total_hits: false` (the response then carries no `hits.total`).
    pub fn total_hits_tracked(&self) -> bool {
        self.track_total_hits != TrackTotalHits::Off
    }

    /// Whether the request sorts explicitly (hits then carry `sort` values).
    pub fn has_sort(&self) -> bool {
        !self.sort.is_empty()
    }

    /// Whether scores are computed: sorted by score or `track_scores` (and there are
    /// hits to show), or `min_score` filters on them.
    pub(crate) fn needs_scores(&self) -> bool {
        let shown = self.size > 0
            && (self.sort.is_empty()
                || self.track_scores
                || self.sort.iter().any(|s| s.target == SortTarget::Score));
        shown || self.min_score.is_some()
    }

    /// The effective sort: the explicit one, or `_score` desc.
    pub(crate) fn effective_sort(&self) -> Vec<SortField> {
        if self.sort.is_empty() {
            vec![SortField::new(SortTarget::Score)]
        } else {
            self.sort.clone()
        }
    }
}
