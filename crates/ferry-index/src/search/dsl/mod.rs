//! The query DSL: ES query JSON parsed into a validated, index-independent tree.
//!
//! Everything that can be checked without a mapping is checked here, up front, with ES's
//! wording: unknown clauses (`unknown query [foo]`), malformed bodies (`[match] query
//! malformed, no start_object after query name`), unknown parameters (`[match] query does
//! not support [foo]`), wrong value types. Field-type questions (is `price` numeric?) are
//! answered per shard when the tree is compiled against the index mapping.
//!
//! `_name` is accepted everywhere and ignored (Ferry returns no `matched_queries`).

mod compound;
mod leaf;

use serde_json::{Map, Value};

use super::query_string::QsQuery;
use crate::source::token_name;
use crate::{IndexError, Result};

/// `operator` of match-like queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Or,
    And,
}

/// `type` of `multi_match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MultiKind {
    BestFields,
    MostFields,
    Phrase,
    PhrasePrefix,
}

/// A validated `minimum_should_match` spec (`2`, `-1`, `75%`, `-25%`, `3<90%`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MinimumShouldMatch(String);

impl MinimumShouldMatch {
    pub(crate) fn parse(v: &Value) -> Result<Self> {
        let spec = match v {
            Value::Number(n) if n.is_i64() => n.to_string(),
            Value::String(s) => s.trim().to_string(),
            other => {
                return Err(IndexError::Parsing(format!(
                    "[minimum_should_match] must be an integer or a string, got [{other}]"
                )));
            }
        };
        let m = Self(spec);
        if m.try_calc(1).is_none() {
            return Err(IndexError::IllegalArgument(format!(
                "failed to parse [minimum_should_match]: [{}]",
                m.0
            )));
        }
        Ok(m)
    }

    /// Required optional clauses out of `n` (Lucene's `calculateMinShouldMatch`).
    pub(crate) fn calc(&self, n: usize) -> usize {
        self.try_calc(n).unwrap_or(0)
    }

    fn try_calc(&self, n: usize) -> Option<usize> {
        fn simple(spec: &str, n: i64) -> Option<i64> {
            let spec = spec.trim();
            let calc = if let Some(p) = spec.strip_suffix('%') {
                let percent: i64 = p.trim().parse().ok()?;
                let calc = (n as f64 * percent as f64 / 100.0) as i64;
                if calc < 0 { n + calc } else { calc }
            } else {
                let c: i64 = spec.parse().ok()?;
                if c < 0 { n.saturating_add(c) } else { c }
            };
            Some(calc.max(0))
        }
        let n = n as i64;
        let spec = self.0.trim();
        if !spec.contains('<') {
            return simple(spec, n).map(|v| v as usize);
        }
        let normalized = spec.replace(" <", "<").replace("< ", "<");
        let mut result = n;
        for part in normalized.split_whitespace() {
            let (upper, value) = part.split_once('<')?;
            let upper: i64 = upper.parse().ok()?;
            if n <= upper {
                return Some(result as usize);
            }
            result = simple(value, n)?;
        }
        Some(result as usize)
    }
}

/// A range bound: the value as given and whether it is inclusive.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bound {
    pub(crate) value: Value,
    pub(crate) inclusive: bool,
}

/// One query of the DSL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QueryNode {
    MatchAll {
        boost: f32,
    },
    MatchNone,
    Match {
        field: String,
        query: Value,
        operator: Operator,
        msm: Option<MinimumShouldMatch>,
        lenient: bool,
        zero_terms_all: bool,
        boost: f32,
    },
    MatchPhrase {
        field: String,
        query: Value,
        slop: u32,
        zero_terms_all: bool,
        boost: f32,
    },
    MatchPhrasePrefix {
        field: String,
        query: String,
        slop: u32,
        max_expansions: u32,
        boost: f32,
    },
    MultiMatch {
        /// `(pattern, boost)`; empty means every field.
        fields: Vec<(String, f32)>,
        query: Value,
        kind: MultiKind,
        operator: Operator,
        msm: Option<MinimumShouldMatch>,
        tie_breaker: Option<f32>,
        lenient: bool,
        slop: u32,
        zero_terms_all: bool,
        boost: f32,
    },
    Term {
        field: String,
        value: Value,
        case_insensitive: bool,
        boost: f32,
    },
    Terms {
        field: String,
        values: Vec<Value>,
        boost: f32,
    },
    Range {
        field: String,
        lower: Option<Bound>,
        upper: Option<Bound>,
        format: Option<String>,
        time_zone: Option<i32>,
        boost: f32,
    },
    Exists {
        field: String,
        boost: f32,
    },
    Ids {
        values: Vec<String>,
        boost: f32,
    },
    Prefix {
        field: String,
        value: String,
        case_insensitive: bool,
        boost: f32,
    },
    Wildcard {
        field: String,
        value: String,
        case_insensitive: bool,
        boost: f32,
    },
    Regexp {
        field: String,
        value: String,
        case_insensitive: bool,
        boost: f32,
    },
    Bool {
        must: Vec<QueryNode>,
        should: Vec<QueryNode>,
        must_not: Vec<QueryNode>,
        filter: Vec<QueryNode>,
        msm: Option<MinimumShouldMatch>,
        boost: f32,
    },
    ConstantScore {
        filter: Box<QueryNode>,
        boost: f32,
    },
    DisMax {
        queries: Vec<QueryNode>,
        tie_breaker: f32,
        boost: f32,
    },
    QueryString(Box<QsQuery>),
}

/// ES queries Ferry knows of but does not run yet.
const UNSUPPORTED_QUERIES: &[&str] = &[
    "simple_query_string",
    "fuzzy",
    "nested",
    "has_child",
    "has_parent",
    "parent_id",
    "function_score",
    "script_score",
    "script",
    "boosting",
    "geo_bounding_box",
    "geo_distance",
    "geo_polygon",
    "geo_shape",
    "shape",
    "more_like_this",
    "terms_set",
    "match_bool_prefix",
    "combined_fields",
    "intervals",
    "span_term",
    "span_near",
    "span_or",
    "span_not",
    "span_first",
    "span_multi",
    "span_containing",
    "span_within",
    "field_masking_span",
    "distance_feature",
    "rank_feature",
    "pinned",
    "percolate",
    "wrapper",
    "knn",
    "sparse_vector",
    "text_expansion",
    "semantic",
    "rule",
];

pub(crate) fn parsing(msg: impl Into<String>) -> IndexError {
    IndexError::Parsing(msg.into())
}

/// Parses one query object (`{"match": {...}}`).
pub(crate) fn parse_query(v: &Value) -> Result<QueryNode> {
    let Value::Object(obj) = v else {
        return Err(parsing(format!(
            "[_na] query malformed, must start with start_object, found [{}]",
            token_name(v)
        )));
    };
    let mut it = obj.iter();
    let Some((name, body)) = it.next() else {
        return Err(parsing("query malformed, empty clause found"));
    };
    if let Some((next, _)) = it.next() {
        return Err(parsing(format!(
            "[{name}] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ([{next}])"
        )));
    }
    let q = name.as_str();
    match q {
        "match_all" => compound::match_all(body),
        "match_none" => {
            let o = expect_object(q, body)?;
            for (k, v) in o {
                match k.as_str() {
                    "boost" => {
                        parse_boost(q, v)?;
                    }
                    "_name" => {}
                    _ => return Err(unsupported_param(q, k)),
                }
            }
            Ok(QueryNode::MatchNone)
        }
        "match" => leaf::match_query(body),
        "match_phrase" => leaf::match_phrase(body),
        "match_phrase_prefix" => leaf::match_phrase_prefix(body),
        "multi_match" => compound::multi_match(body),
        "term" => leaf::term(body),
        "terms" => leaf::terms(body),
        "range" => leaf::range(body),
        "exists" => leaf::exists(body),
        "ids" => leaf::ids(body),
        "prefix" => leaf::prefix_like(q, body),
        "wildcard" => leaf::prefix_like(q, body),
        "regexp" => leaf::prefix_like(q, body),
        "bool" => compound::bool_query(body),
        "constant_score" => compound::constant_score(body),
        "dis_max" => compound::dis_max(body),
        "query_string" => compound::query_string(body),
        _ if UNSUPPORTED_QUERIES.contains(&q) => {
            Err(parsing(format!("[{q}] query is not supported yet")))
        }
        _ => Err(parsing(format!("unknown query [{q}]"))),
    }
}

pub(crate) fn expect_object<'a>(q: &str, v: &'a Value) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| {
        parsing(format!(
            "[{q}] query malformed, no start_object after query name"
        ))
    })
}

pub(crate) fn unsupported_param(q: &str, k: &str) -> IndexError {
    parsing(format!("[{q}] query does not support [{k}]"))
}

/// `{"field": ...}` bodies: exactly one field.
pub(crate) fn single_field<'a>(q: &str, v: &'a Value) -> Result<(&'a String, &'a Value)> {
    let o = expect_object(q, v)?;
    let mut it = o.iter();
    let Some(first) = it.next() else {
        return Err(parsing(format!(
            "[{q}] query malformed, no field specified"
        )));
    };
    if let Some((second, _)) = it.next() {
        return Err(parsing(format!(
            "[{q}] query doesn't support multiple fields, found [{}] and [{second}]",
            first.0
        )));
    }
    Ok(first)
}

fn number(q: &str, k: &str, v: &Value) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        parsing(format!(
            "[{q}] failed to parse field [{k}]: expected a number but found [{v}]"
        ))
    })
}

pub(crate) fn parse_boost(q: &str, v: &Value) -> Result<f32> {
    let b = number(q, "boost", v)?;
    if b < 0.0 {
        return Err(IndexError::IllegalArgument(
            "negative [boost] are not allowed.".into(),
        ));
    }
    Ok(b as f32)
}

pub(crate) fn parse_f32(q: &str, k: &str, v: &Value) -> Result<f32> {
    number(q, k, v).map(|f| f as f32)
}

pub(crate) fn parse_u32(q: &str, k: &str, v: &Value) -> Result<u32> {
    let f = number(q, k, v)?;
    if f < 0.0 || f.fract() != 0.0 || f > f64::from(u32::MAX) {
        return Err(parsing(format!(
            "[{q}] failed to parse field [{k}]: expected a non-negative integer but found [{v}]"
        )));
    }
    Ok(f as u32)
}

pub(crate) fn parse_bool(q: &str, k: &str, v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(parsing(format!(
            "[{q}] failed to parse field [{k}]: expected a boolean but found [{v}]"
        ))),
    }
}

pub(crate) fn parse_string(q: &str, k: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(parsing(format!(
            "[{q}] failed to parse field [{k}]: expected a string but found [{}]",
            token_name(v)
        ))),
    }
}

pub(crate) fn parse_operator(q: &str, v: &Value) -> Result<Operator> {
    match v.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("or") => Ok(Operator::Or),
        Some("and") => Ok(Operator::And),
        _ => Err(IndexError::IllegalArgument(format!(
            "No enum constant for [operator] of [{q}]: [{v}]"
        ))),
    }
}

/// `zero_terms_query`: true for `all`.
pub(crate) fn parse_zero_terms(q: &str, v: &Value) -> Result<bool> {
    match v.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("none") => Ok(false),
        Some("all") => Ok(true),
        _ => Err(parsing(format!(
            "[{q}] unsupported zero_terms_query value [{v}]"
        ))),
    }
}

/// A query value: a scalar (string, number, boolean).
pub(crate) fn scalar_value(q: &str, k: &str, v: &Value) -> Result<Value> {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(v.clone()),
        Value::Null => Err(parsing(format!("[{q}] query value [{k}] cannot be null"))),
        other => Err(parsing(format!(
            "[{q}] unknown token [{}] after [{k}]",
            token_name(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn msm(v: Value, n: usize) -> usize {
        MinimumShouldMatch::parse(&v).unwrap().calc(n)
    }

    #[test]
    fn minimum_should_match_follows_lucene() {
        assert_eq!(msm(json!(2), 5), 2);
        assert_eq!(msm(json!("-1"), 5), 4);
        assert_eq!(msm(json!("75%"), 4), 3);
        assert_eq!(msm(json!("75%"), 3), 2);
        assert_eq!(msm(json!("-25%"), 4), 3);
        assert_eq!(msm(json!("3<90%"), 3), 3);
        assert_eq!(msm(json!("3<90%"), 10), 9);
        assert_eq!(msm(json!("2<-25% 9<-3"), 2), 2);
        assert_eq!(msm(json!("2<-25% 9<-3"), 8), 6);
        assert_eq!(msm(json!("2<-25% 9<-3"), 12), 9);
        assert_eq!(msm(json!("-9"), 3), 0);
        assert!(msm(json!("99999999999999999%"), 3) > 3, "no overflow");
        assert!(MinimumShouldMatch::parse(&json!("x%")).is_err());
        assert!(MinimumShouldMatch::parse(&json!(1.5)).is_err());
    }
}
