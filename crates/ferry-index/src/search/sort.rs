//! Sorting: the `sort` of a request (`"field"`, `{"field": "desc"}`,
//! `{"field": {"order", "missing", "mode", "unmapped_type"}}`, `_score`, `_doc`), its
//! resolution against a shard's mapping (text fields and unmapped fields are refused as in
//! ES), the comparison of hits' sort values, and how ES shows those values.

use std::cmp::Ordering;

use serde_json::Value;

use super::collect::ShardHit;
use super::dsl::parsing;
use crate::mapping::{LeafKind, Mapping, Resolved};
use crate::source::token_name;
use crate::{IndexError, Result};

/// What a sort criterion sorts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SortTarget {
    Score,
    Doc,
    Field(String),
}

/// One sort criterion.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SortField {
    pub(crate) target: SortTarget,
    pub(crate) desc: bool,
    /// `missing: _first` (default `_last`).
    pub(crate) missing_first: bool,
    /// `unmapped_type`: sort an unmapped field as if it had this type (all missing).
    pub(crate) unmapped_type: Option<String>,
    /// `mode: max` (min or max of a multi-valued field; default min for asc, max for desc).
    pub(crate) use_max: bool,
}

impl SortField {
    pub(crate) fn new(target: SortTarget) -> Self {
        let desc = target == SortTarget::Score;
        Self {
            target,
            desc,
            missing_first: false,
            unmapped_type: None,
            use_max: desc,
        }
    }
}

pub(crate) fn parse_order(v: &Value) -> Result<bool> {
    match v.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("asc") => Ok(false),
        Some("desc") => Ok(true),
        _ => Err(IndexError::IllegalArgument(format!(
            "[sort] unknown order [{v}], expected [asc] or [desc]"
        ))),
    }
}

pub(crate) fn sort_target(name: &str) -> Result<SortTarget> {
    match name {
        "_score" => Ok(SortTarget::Score),
        "_doc" => Ok(SortTarget::Doc),
        "_geo_distance" | "_script" | "_shard_doc" => {
            Err(parsing(format!("[sort] on [{name}] is not supported yet")))
        }
        "" => Err(parsing("[sort] field name cannot be empty")),
        _ => Ok(SortTarget::Field(name.to_string())),
    }
}

fn sort_field(name: &str, spec: &Value) -> Result<SortField> {
    let mut f = SortField::new(sort_target(name)?);
    match spec {
        Value::String(_) => {
            f.desc = parse_order(spec)?;
            f.use_max = f.desc;
        }
        Value::Object(o) => {
            for (k, v) in o {
                match k.as_str() {
                    "order" => {
                        f.desc = parse_order(v)?;
                        f.use_max = f.desc;
                    }
                    "missing" => match v.as_str() {
                        Some("_last") => f.missing_first = false,
                        Some("_first") => f.missing_first = true,
                        _ => {
                            return Err(IndexError::IllegalArgument(format!(
                                "[sort] missing value [{v}] is not supported yet: use [_first] or [_last]"
                            )));
                        }
                    },
                    "unmapped_type" => {
                        f.unmapped_type = Some(
                            v.as_str()
                                .ok_or_else(|| parsing("[sort] [unmapped_type] must be a string"))?
                                .to_string(),
                        );
                    }
                    "mode" => match v.as_str() {
                        Some("min") => f.use_max = false,
                        Some("max") => f.use_max = true,
                        _ => {
                            return Err(IndexError::IllegalArgument(format!(
                                "[sort] mode [{v}] is not supported yet: use [min] or [max]"
                            )));
                        }
                    },
                    _ => {
                        return Err(parsing(format!("[sort] option [{k}] is not supported yet")));
                    }
                }
            }
            if !o.contains_key("mode") {
                f.use_max = f.desc;
            }
        }
        other => {
            return Err(parsing(format!(
                "[sort] malformed value for [{name}]: {}",
                token_name(other)
            )));
        }
    }
    Ok(f)
}

fn push_sort_item(out: &mut Vec<SortField>, item: &Value) -> Result<()> {
    match item {
        Value::String(name) => out.push(SortField::new(sort_target(name)?)),
        Value::Object(o) => {
            for (name, spec) in o {
                out.push(sort_field(name, spec)?);
            }
        }
        other => {
            return Err(parsing(format!(
                "[sort] malformed, expected a field name or an object but found a {}",
                token_name(other)
            )));
        }
    }
    Ok(())
}

pub(crate) fn parse_sort(v: &Value) -> Result<Vec<SortField>> {
    let mut out = Vec::new();
    match v {
        Value::Array(items) => {
            for item in items {
                push_sort_item(&mut out, item)?;
            }
        }
        other => push_sort_item(&mut out, other)?,
    }
    Ok(out)
}

/// What one sort criterion reads.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    Score,
    Seq,
    Int(String),
    /// A float column; `true` for `float` fields (f32 precision).
    Float(String, bool),
    Str(String),
    /// An unmapped field with `unmapped_type`: every document is missing it.
    Missing(MissingKind),
}

/// How a missing value renders.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MissingKind {
    Int,
    Float,
    Str,
}

/// One resolved sort criterion.
#[derive(Debug, Clone)]
pub(crate) struct KeySpec {
    pub(crate) source: KeySource,
    pub(crate) desc: bool,
    pub(crate) missing_first: bool,
    pub(crate) use_max: bool,
}

/// A sort value of a hit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SortValue {
    Score(f32),
    Seq(u64),
    I64(i64),
    F64(f64),
    Str(String),
    Missing,
}

fn ia(msg: impl Into<String>) -> IndexError {
    IndexError::IllegalArgument(msg.into())
}

/// Resolves the sort of a request against a shard's mapping.
pub(crate) fn resolve_sort(mapping: &Mapping, sort: &[SortField]) -> Result<Vec<KeySpec>> {
    sort.iter()
        .map(|f| {
            let source = match &f.target {
                SortTarget::Score => KeySource::Score,
                SortTarget::Doc => KeySource::Seq,
                SortTarget::Field(p) if p == "_id" => KeySource::Str("_id".into()),
                SortTarget::Field(path) => match mapping.resolve(path) {
                    Some(Resolved::Leaf(leaf)) => match leaf.kind {
                        LeafKind::Text => return Err(ia(format!(
                            "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{path}] in order to load field data by uninverting the inverted index. Note that this can use significant memory."
                        ))),
                        LeafKind::Keyword => KeySource::Str(format!("kw.{path}")),
                        k if k.is_float() => KeySource::Float(format!("num.{path}"), k == LeafKind::Float),
                        _ => KeySource::Int(format!("num.{path}")),
                    },
                    _ => match f.unmapped_type.as_deref() {
                        Some("keyword" | "text") => KeySource::Missing(MissingKind::Str),
                        Some("float" | "double" | "half_float" | "scaled_float") => {
                            KeySource::Missing(MissingKind::Float)
                        }
                        Some(_) => KeySource::Missing(MissingKind::Int),
                        None => {
                            return Err(ia(format!(
                                "No mapping found for [{path}] in order to sort on"
                            )));
                        }
                    },
                },
            };
            Ok(KeySpec {
                source,
                desc: f.desc,
                missing_first: f.missing_first,
                use_max: f.use_max,
            })
        })
        .collect()
}

/// Orders two hits by the sort criteria only.
pub(crate) fn compare_hits(specs: &[KeySpec], a: &ShardHit, b: &ShardHit) -> Ordering {
    for (i, spec) in specs.iter().enumerate() {
        let o = compare_values(spec, &a.sort[i], &b.sort[i]);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn compare_values(spec: &KeySpec, a: &SortValue, b: &SortValue) -> Ordering {
    let natural = match (a, b) {
        (SortValue::Missing, SortValue::Missing) => return Ordering::Equal,
        (SortValue::Missing, _) => {
            return if spec.missing_first {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        (_, SortValue::Missing) => {
            return if spec.missing_first {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        (SortValue::Score(x), SortValue::Score(y)) => x.total_cmp(y),
        (SortValue::Seq(x), SortValue::Seq(y)) => x.cmp(y),
        (SortValue::I64(x), SortValue::I64(y)) => x.cmp(y),
        (SortValue::F64(x), SortValue::F64(y)) => x.total_cmp(y),
        (SortValue::Str(x), SortValue::Str(y)) => x.cmp(y),
        _ => Ordering::Equal,
    };
    if spec.desc {
        natural.reverse()
    } else {
        natural
    }
}

/// An f32 as the shortest decimal that reads back to it (as ES prints floats).
fn f32_json(f: f32) -> Value {
    format!("{f}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// A sort value as ES shows it: numbers for numeric and date fields (epoch millis),
/// strings for keywords; a missing long shows as `Long.MAX_VALUE`/`MIN_VALUE`.
pub(crate) fn render_sort_value(v: &SortValue, spec: &KeySpec) -> Value {
    match v {
        SortValue::Score(s) => f32_json(*s),
        SortValue::Seq(n) => Value::from(*n),
        SortValue::I64(n) => Value::from(*n),
        SortValue::F64(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        SortValue::Str(s) => Value::String(s.clone()),
        SortValue::Missing => match spec.source {
            KeySource::Int(_) | KeySource::Missing(MissingKind::Int) => {
                if spec.desc != spec.missing_first {
                    Value::from(i64::MIN)
                } else {
                    Value::from(i64::MAX)
                }
            }
            _ => Value::Null,
        },
    }
}
