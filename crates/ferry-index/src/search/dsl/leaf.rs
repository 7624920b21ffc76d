//! Parsing of the field-level queries: `match`, `match_phrase`, `match_phrase_prefix`,
//! `term`, `terms`, `range`, `exists`, `ids`, `prefix`, `wildcard`, `regexp`.

use serde_json::Value;

use super::{
    Bound, MinimumShouldMatch, Operator, QueryNode, expect_object, parse_bool, parse_boost,
    parse_operator, parse_string, parse_u32, parse_zero_terms, parsing, scalar_value, single_field,
    unsupported_param,
};
use crate::mapping::DateFormat;
use crate::mapping::date::parse_time_zone;
use crate::source::token_name;
use crate::{IndexError, Result};

/// Analyzers a query may name (the only one Ferry has).
pub(super) fn check_analyzer(q: &str, v: &Value) -> Result<()> {
    match v.as_str() {
        Some("standard" | "default") => Ok(()),
        _ => Err(IndexError::IllegalArgument(format!(
            "[{q}] analyzer [{}] is not supported yet: only [standard] is",
            v.as_str().unwrap_or_default()
        ))),
    }
}

/// `fuzziness` other than 0 is refused.
pub(super) fn check_fuzziness(q: &str, v: &Value) -> Result<()> {
    match v {
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(()),
        Value::String(s) if s == "0" => Ok(()),
        _ => Err(parsing(format!("[{q}] fuzziness is not supported yet"))),
    }
}

pub(super) fn match_query(body: &Value) -> Result<QueryNode> {
    let q = "match";
    let (field, v) = single_field(q, body)?;
    let mut query = None;
    let mut operator = Operator::Or;
    let mut msm = None;
    let mut lenient = false;
    let mut zero_terms_all = false;
    let mut boost = 1.0;
    match v {
        Value::Object(o) => {
            for (k, val) in o {
                match k.as_str() {
                    "query" => query = Some(scalar_value(q, k, val)?),
                    "operator" => operator = parse_operator(q, val)?,
                    "minimum_should_match" => msm = Some(MinimumShouldMatch::parse(val)?),
                    "lenient" => lenient = parse_bool(q, k, val)?,
                    "zero_terms_query" => zero_terms_all = parse_zero_terms(q, val)?,
                    "boost" => boost = parse_boost(q, val)?,
                    "analyzer" => check_analyzer(q, val)?,
                    "fuzziness" => check_fuzziness(q, val)?,
                    "auto_generate_synonyms_phrase_query"
                    | "fuzzy_transpositions"
                    | "prefix_length"
                    | "max_expansions"
                    | "fuzzy_rewrite"
                    | "_name" => {}
                    _ => return Err(unsupported_param(q, k)),
                }
            }
        }
        other => query = Some(scalar_value(q, field, other)?),
    }
    let query = query.ok_or_else(|| parsing("No text specified for text query"))?;
    Ok(QueryNode::Match {
        field: field.clone(),
        query,
        operator,
        msm,
        lenient,
        zero_terms_all,
        boost,
    })
}

pub(super) fn match_phrase(body: &Value) -> Result<QueryNode> {
    let q = "match_phrase";
    let (field, v) = single_field(q, body)?;
    let (mut query, mut slop, mut zero_terms_all, mut boost) = (None, 0, false, 1.0);
    match v {
        Value::Object(o) => {
            for (k, val) in o {
                match k.as_str() {
                    "query" => query = Some(scalar_value(q, k, val)?),
                    "slop" => slop = parse_u32(q, k, val)?,
                    "zero_terms_query" => zero_terms_all = parse_zero_terms(q, val)?,
                    "boost" => boost = parse_boost(q, val)?,
                    "analyzer" => check_analyzer(q, val)?,
                    "_name" => {}
                    _ => return Err(unsupported_param(q, k)),
                }
            }
        }
        other => query = Some(scalar_value(q, field, other)?),
    }
    let query = query.ok_or_else(|| parsing("No text specified for text query"))?;
    Ok(QueryNode::MatchPhrase {
        field: field.clone(),
        query,
        slop,
        zero_terms_all,
        boost,
    })
}

pub(super) fn match_phrase_prefix(body: &Value) -> Result<QueryNode> {
    let q = "match_phrase_prefix";
    let (field, v) = single_field(q, body)?;
    let (mut query, mut slop, mut max_expansions, mut boost) = (None, 0, 50, 1.0);
    match v {
        Value::Object(o) => {
            for (k, val) in o {
                match k.as_str() {
                    "query" => query = Some(parse_string(q, k, val)?),
                    "slop" => slop = parse_u32(q, k, val)?,
                    "max_expansions" => max_expansions = parse_u32(q, k, val)?,
                    "boost" => boost = parse_boost(q, val)?,
                    "analyzer" => check_analyzer(q, val)?,
                    "zero_terms_query" => {
                        parse_zero_terms(q, val)?;
                    }
                    "_name" => {}
                    _ => return Err(unsupported_param(q, k)),
                }
            }
        }
        other => query = Some(parse_string(q, field, other)?),
    }
    let query = query.ok_or_else(|| parsing("No text specified for text query"))?;
    Ok(QueryNode::MatchPhrasePrefix {
        field: field.clone(),
        query,
        slop,
        max_expansions,
        boost,
    })
}

pub(super) fn term(body: &Value) -> Result<QueryNode> {
    let q = "term";
    let (field, v) = single_field(q, body)?;
    let (mut value, mut case_insensitive, mut boost) = (None, false, 1.0);
    match v {
        Value::Object(o) => {
            for (k, val) in o {
                match k.as_str() {
                    "value" => value = Some(scalar_value(q, k, val)?),
                    "boost" => boost = parse_boost(q, val)?,
                    "case_insensitive" => case_insensitive = parse_bool(q, k, val)?,
                    "_name" => {}
                    _ => return Err(unsupported_param(q, k)),
                }
            }
        }
        Value::Array(_) => {
            return Err(parsing("[term] query does not support array of values"));
        }
        other => value = Some(scalar_value(q, field, other)?),
    }
    let value = value.ok_or_else(|| parsing("[term] query requires a [value]"))?;
    Ok(QueryNode::Term {
        field: field.clone(),
        value,
        case_insensitive,
        boost,
    })
}

/// ES's `index.max_terms_count`.
const MAX_TERMS: usize = 65_536;

pub(super) fn terms(body: &Value) -> Result<QueryNode> {
    let q = "terms";
    let o = expect_object(q, body)?;
    let mut field: Option<(&String, &Value)> = None;
    let mut boost = 1.0;
    for (k, v) in o {
        match k.as_str() {
            "boost" => boost = parse_boost(q, v)?,
            "_name" => {}
            _ => {
                if let Some((first, _)) = field {
                    return Err(parsing(format!(
                        "[{q}] query does not support multiple fields, found [{first}] and [{k}]"
                    )));
                }
                field = Some((k, v));
            }
        }
    }
    let (field, v) = field.ok_or_else(|| parsing("[terms] query requires a field"))?;
    let values = match v {
        Value::Array(items) => items
            .iter()
            .map(|i| scalar_value(q, field, i))
            .collect::<Result<Vec<_>>>()?,
        Value::Object(_) => return Err(parsing("[terms] lookup of terms is not supported yet")),
        other => {
            return Err(parsing(format!(
                "[{q}] query does not support [{field}] with a {}",
                token_name(other)
            )));
        }
    };
    if values.len() > MAX_TERMS {
        return Err(IndexError::IllegalArgument(format!(
            "The number of terms [{}] used in the Terms Query request has exceeded the allowed maximum of [{MAX_TERMS}]. This maximum can be set by changing the [index.max_terms_count] index level setting.",
            values.len()
        )));
    }
    Ok(QueryNode::Terms {
        field: field.clone(),
        values,
        boost,
    })
}

pub(super) fn range(body: &Value) -> Result<QueryNode> {
    let q = "range";
    let (field, v) = single_field(q, body)?;
    let o = v.as_object().ok_or_else(|| {
        parsing(format!(
            "[range] query malformed, after field [{field}] missing start_object"
        ))
    })?;
    let (mut lower, mut upper) = (None::<Bound>, None::<Bound>);
    let (mut from, mut to) = (None::<Value>, None::<Value>);
    let (mut include_lower, mut include_upper) = (true, true);
    let (mut format, mut time_zone, mut boost) = (None, None, 1.0);
    let bound = |val: &Value, inclusive| -> Result<Option<Bound>> {
        match val {
            Value::Null => Ok(None),
            Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(Some(Bound {
                value: val.clone(),
                inclusive,
            })),
            other => Err(parsing(format!(
                "[range] query does not support a {} as a bound",
                token_name(other)
            ))),
        }
    };
    for (k, val) in o {
        match k.as_str() {
            "gt" => lower = bound(val, false)?,
            "gte" => lower = bound(val, true)?,
            "lt" => upper = bound(val, false)?,
            "lte" => upper = bound(val, true)?,
            "from" => from = Some(val.clone()),
            "to" => to = Some(val.clone()),
            "include_lower" => include_lower = parse_bool(q, k, val)?,
            "include_upper" => include_upper = parse_bool(q, k, val)?,
            "format" => {
                let f = parse_string(q, k, val)?;
                DateFormat::parse(&f).map_err(|e| parsing(format!("[range] {e}")))?;
                format = Some(f);
            }
            "time_zone" => {
                let tz = parse_string(q, k, val)?;
                time_zone = Some(parse_time_zone(&tz).map_err(IndexError::IllegalArgument)?);
            }
            "relation" => match val.as_str().map(str::to_ascii_uppercase).as_deref() {
                Some("INTERSECTS" | "CONTAINS" | "WITHIN") => {}
                _ => {
                    return Err(parsing(format!(
                        "[range] query does not support relation [{val}]"
                    )));
                }
            },
            "boost" => boost = parse_boost(q, val)?,
            "_name" => {}
            _ => return Err(unsupported_param(q, k)),
        }
    }
    if let Some(f) = from {
        lower = bound(&f, include_lower)?;
    }
    if let Some(t) = to {
        upper = bound(&t, include_upper)?;
    }
    Ok(QueryNode::Range {
        field: field.clone(),
        lower,
        upper,
        format,
        time_zone,
        boost,
    })
}

pub(super) fn exists(body: &Value) -> Result<QueryNode> {
    let q = "exists";
    let o = expect_object(q, body)?;
    let (mut field, mut boost) = (None, 1.0);
    for (k, v) in o {
        match k.as_str() {
            "field" => field = Some(parse_string(q, k, v)?),
            "boost" => boost = parse_boost(q, v)?,
            "_name" => {}
            _ => return Err(unsupported_param(q, k)),
        }
    }
    let field = field.ok_or_else(|| parsing("[exists] must be provided with a [field]"))?;
    Ok(QueryNode::Exists { field, boost })
}

pub(super) fn ids(body: &Value) -> Result<QueryNode> {
    let q = "ids";
    let o = expect_object(q, body)?;
    let (mut values, mut boost) = (Vec::new(), 1.0);
    for (k, v) in o {
        match k.as_str() {
            "values" => {
                let items = v
                    .as_array()
                    .ok_or_else(|| parsing("[ids] query [values] must be an array"))?;
                values = items
                    .iter()
                    .map(|i| parse_string(q, k, i))
                    .collect::<Result<_>>()?;
            }
            "type" | "types" | "_name" => {}
            "boost" => boost = parse_boost(q, v)?,
            _ => return Err(unsupported_param(q, k)),
        }
    }
    Ok(QueryNode::Ids { values, boost })
}

/// `prefix`, `wildcard` and `regexp`.
pub(super) fn prefix_like(q: &str, body: &Value) -> Result<QueryNode> {
    let (field, v) = single_field(q, body)?;
    let (mut value, mut case_insensitive, mut boost) = (None, false, 1.0);
    match v {
        Value::Object(o) => {
            for (k, val) in o {
                match (q, k.as_str()) {
                    (_, "value") | ("wildcard", "wildcard") => {
                        value = Some(parse_string(q, k, val)?)
                    }
                    (_, "boost") => boost = parse_boost(q, val)?,
                    (_, "case_insensitive") => case_insensitive = parse_bool(q, k, val)?,
                    (_, "rewrite" | "_name") => {}
                    ("regexp", "flags" | "flags_value" | "max_determinized_states") => {}
                    _ => return Err(unsupported_param(q, k)),
                }
            }
        }
        other => value = Some(parse_string(q, field, other)?),
    }
    let value = value.ok_or_else(|| parsing(format!("[{q}] query requires a [value]")))?;
    let field = field.clone();
    Ok(match q {
        "prefix" => QueryNode::Prefix {
            field,
            value,
            case_insensitive,
            boost,
        },
        "wildcard" => QueryNode::Wildcard {
            field,
            value,
            case_insensitive,
            boost,
        },
        _ => QueryNode::Regexp {
            field,
            value,
            case_insensitive,
            boost,
        },
    })
}
