//! Parsing of the compound and multi-field queries: `match_all`, `bool`,
//! `constant_score`, `dis_max`, `multi_match`, `query_string`.

use serde_json::Value;

use super::leaf::{check_analyzer, check_fuzziness};
use super::{
    MinimumShouldMatch, MultiKind, Operator, QueryNode, expect_object, parse_bool, parse_boost,
    parse_f32, parse_operator, parse_query, parse_string, parse_u32, parse_zero_terms, parsing,
    scalar_value, unsupported_param,
};
use crate::mapping::date::parse_time_zone;
use crate::search::query_string::{self, QsQuery};
use crate::{IndexError, Result};

pub(super) fn match_all(body: &Value) -> Result<QueryNode> {
    let q = "match_all";
    let o = expect_object(q, body)?;
    let mut boost = 1.0;
    for (k, v) in o {
        match k.as_str() {
            "boost" => boost = parse_boost(q, v)?,
            "_name" => {}
            _ => return Err(unsupported_param(q, k)),
        }
    }
    Ok(QueryNode::MatchAll { boost })
}

/// A clause list: one query object or an array of them.
fn clauses(q: &str, k: &str, v: &Value) -> Result<Vec<QueryNode>> {
    match v {
        Value::Array(items) => items.iter().map(parse_query).collect(),
        Value::Object(_) => Ok(vec![parse_query(v)?]),
        _ => Err(parsing(format!(
            "[{q}] query does not support [{k}] with a non-object value"
        ))),
    }
}

pub(super) fn bool_query(body: &Value) -> Result<QueryNode> {
    let q = "bool";
    let o = expect_object(q, body)?;
    let (mut must, mut should, mut must_not, mut filter) = (vec![], vec![], vec![], vec![]);
    let (mut msm, mut boost) = (None, 1.0);
    for (k, v) in o {
        match k.as_str() {
            "must" => must.extend(clauses(q, k, v)?),
            "should" => should.extend(clauses(q, k, v)?),
            "must_not" | "mustNot" => must_not.extend(clauses(q, k, v)?),
            "filter" => filter.extend(clauses(q, k, v)?),
            "minimum_should_match" => msm = Some(MinimumShouldMatch::parse(v)?),
            "boost" => boost = parse_boost(q, v)?,
            "adjust_pure_negative" => {
                parse_bool(q, k, v)?;
            }
            "_name" => {}
            _ => return Err(unsupported_param(q, k)),
        }
    }
    Ok(QueryNode::Bool {
        must,
        should,
        must_not,
        filter,
        msm,
        boost,
    })
}

pub(super) fn constant_score(body: &Value) -> Result<QueryNode> {
    let q = "constant_score";
    let o = expect_object(q, body)?;
    let (mut filter, mut boost) = (None, 1.0);
    for (k, v) in o {
        match k.as_str() {
            "filter" => filter = Some(parse_query(v)?),
            "boost" => boost = parse_boost(q, v)?,
            "_name" => {}
            _ => return Err(unsupported_param(q, k)),
        }
    }
    let filter = filter.ok_or_else(|| parsing("[constant_score] requires a 'filter' element"))?;
    Ok(QueryNode::ConstantScore {
        filter: Box::new(filter),
        boost,
    })
}

pub(super) fn dis_max(body: &Value) -> Result<QueryNode> {
    let q = "dis_max";
    let o = expect_object(q, body)?;
    let (mut queries, mut tie_breaker, mut boost) = (Vec::new(), 0.0, 1.0);
    for (k, v) in o {
        match k.as_str() {
            "queries" => queries = clauses(q, k, v)?,
            "tie_breaker" => tie_breaker = parse_f32(q, k, v)?,
            "boost" => boost = parse_boost(q, v)?,
            "_name" => {}
            _ => return Err(unsupported_param(q, k)),
        }
    }
    if queries.is_empty() {
        return Err(parsing(
            "[dis_max] requires 'queries' field with at least one clause",
        ));
    }
    Ok(QueryNode::DisMax {
        queries,
        tie_breaker,
        boost,
    })
}

/// `"title^2"` → `("title", 2.0)`.
pub(crate) fn field_with_boost(q: &str, spec: &str) -> Result<(String, f32)> {
    match spec.rsplit_once('^') {
        Some((name, b)) => {
            let boost: f32 = b.trim().parse().map_err(|_| {
                IndexError::IllegalArgument(format!("[{q}] invalid boost in field [{spec}]"))
            })?;
            Ok((name.trim().to_string(), boost))
        }
        None => Ok((spec.trim().to_string(), 1.0)),
    }
}

fn field_list(q: &str, v: &Value) -> Result<Vec<(String, f32)>> {
    match v {
        Value::String(s) => Ok(vec![field_with_boost(q, s)?]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .ok_or_else(|| parsing(format!("[{q}] [fields] must be strings")))
                    .and_then(|s| field_with_boost(q, s))
            })
            .collect(),
        _ => Err(parsing(format!(
            "[{q}] [fields] must be an array of strings"
        ))),
    }
}

pub(super) fn multi_match(body: &Value) -> Result<QueryNode> {
    let q = "multi_match";
    let o = expect_object(q, body)?;
    let mut query = None;
    let mut fields = Vec::new();
    let mut kind = MultiKind::BestFields;
    let (mut operator, mut msm, mut tie_breaker) = (Operator::Or, None, None);
    let (mut lenient, mut slop, mut zero_terms_all, mut boost) = (false, 0, false, 1.0);
    for (k, v) in o {
        match k.as_str() {
            "query" => query = Some(scalar_value(q, k, v)?),
            "fields" => fields = field_list(q, v)?,
            "type" => {
                kind = match v.as_str().map(str::to_ascii_lowercase).as_deref() {
                    Some("best_fields") => MultiKind::BestFields,
                    Some("most_fields") => MultiKind::MostFields,
                    Some("phrase") => MultiKind::Phrase,
                    Some("phrase_prefix") => MultiKind::PhrasePrefix,
                    Some(t @ ("cross_fields" | "bool_prefix")) => {
                        return Err(parsing(format!(
                            "[multi_match] type [{t}] is not supported yet"
                        )));
                    }
                    _ => {
                        return Err(parsing(format!(
                            "[multi_match] query does not support type [{v}]"
                        )));
                    }
                }
            }
            "operator" => operator = parse_operator(q, v)?,
            "minimum_should_match" => msm = Some(MinimumShouldMatch::parse(v)?),
            "tie_breaker" => tie_breaker = Some(parse_f32(q, k, v)?),
            "lenient" => lenient = parse_bool(q, k, v)?,
            "slop" => slop = parse_u32(q, k, v)?,
            "zero_terms_query" => zero_terms_all = parse_zero_terms(q, v)?,
            "boost" => boost = parse_boost(q, v)?,
            "analyzer" => check_analyzer(q, v)?,
            "fuzziness" => check_fuzziness(q, v)?,
            "prefix_length"
            | "max_expansions"
            | "auto_generate_synonyms_phrase_query"
            | "fuzzy_transpositions"
            | "fuzzy_rewrite"
            | "_name" => {}
            _ => return Err(unsupported_param(q, k)),
        }
    }
    let query = query.ok_or_else(|| parsing("[multi_match] requires query value"))?;
    Ok(QueryNode::MultiMatch {
        fields,
        query,
        kind,
        operator,
        msm,
        tie_breaker,
        lenient,
        slop,
        zero_terms_all,
        boost,
    })
}

pub(super) fn query_string(body: &Value) -> Result<QueryNode> {
    let q = "query_string";
    let o = expect_object(q, body)?;
    let mut text = None;
    let mut opts = QsQuery::default();
    for (k, v) in o {
        match k.as_str() {
            "query" => text = Some(parse_string(q, k, v)?),
            "default_field" => opts.fields = vec![field_with_boost(q, &parse_string(q, k, v)?)?],
            "fields" => opts.fields = field_list(q, v)?,
            "default_operator" => opts.default_operator = parse_operator(q, v)?,
            "lenient" => opts.lenient = Some(parse_bool(q, k, v)?),
            "phrase_slop" => opts.phrase_slop = parse_u32(q, k, v)?,
            "tie_breaker" => opts.tie_breaker = parse_f32(q, k, v)?,
            "minimum_should_match" => opts.msm = Some(MinimumShouldMatch::parse(v)?),
            "allow_leading_wildcard" => opts.allow_leading_wildcard = parse_bool(q, k, v)?,
            "time_zone" => {
                let tz = parse_string(q, k, v)?;
                opts.time_zone = Some(parse_time_zone(&tz).map_err(IndexError::IllegalArgument)?);
            }
            "boost" => opts.boost = parse_boost(q, v)?,
            "analyzer" | "quote_analyzer" => check_analyzer(q, v)?,
            "fuzziness" => check_fuzziness(q, v)?,
            "type" => match v.as_str() {
                Some("best_fields" | "most_fields") => {}
                _ => {
                    return Err(parsing(format!(
                        "[query_string] type [{v}] is not supported yet"
                    )));
                }
            },
            "quote_field_suffix" => {
                return Err(parsing(
                    "[query_string] [quote_field_suffix] is not supported yet",
                ));
            }
            "analyze_wildcard"
            | "auto_generate_synonyms_phrase_query"
            | "escape"
            | "enable_position_increments"
            | "fuzzy_max_expansions"
            | "fuzzy_prefix_length"
            | "fuzzy_transpositions"
            | "fuzzy_rewrite"
            | "max_determinized_states"
            | "rewrite"
            | "_name" => {}
            _ => return Err(unsupported_param(q, k)),
        }
    }
    let text = text.ok_or_else(|| parsing("[query_string] must be provided with a [query]"))?;
    opts.tree = query_string::parse(&text, opts.default_operator, opts.allow_leading_wildcard)?;
    Ok(QueryNode::QueryString(Box::new(opts)))
}
