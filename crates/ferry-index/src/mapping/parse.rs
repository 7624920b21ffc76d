//! Reading an ES mapping body into a [`Mapping`] (writing it back is in `render`).
//!
//! Refusals use ES's wording (`No handler for type [x] declared on field [f]`,
//! `unknown parameter [p] on mapper [f] of type [t]`, `Root mapping definition has
//! unsupported parameters: ...`); what ES accepts but Ferry cannot honour says
//! "is not supported yet". Nothing here merges or validates documents.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::value::Scalar;
use super::{DateFormat, Dynamic, FieldMapping, LeafKind, LeafMapping, Mapping, ObjectMapping};
use crate::{IndexError, Result};

/// Root keys of a typeless mapping (anything else at the root with an object value is
/// read as a 6.x type name wrapper).
const ROOT_PARAMS: &[&str] = &[
    "properties",
    "dynamic",
    "date_detection",
    "numeric_detection",
    "dynamic_date_formats",
    "dynamic_templates",
    "_meta",
    "_source",
    "_routing",
    "_all",
    "_field_names",
    "enabled",
    "runtime",
    "subobjects",
];

/// ES field types Ferry does not index yet (refused with "not supported yet" rather than
/// ES's "no handler" for unknown types).
const KNOWN_UNSUPPORTED: &[&str] = &[
    "nested",
    "flattened",
    "half_float",
    "scaled_float",
    "unsigned_long",
    "date_nanos",
    "ip",
    "geo_point",
    "geo_shape",
    "point",
    "shape",
    "binary",
    "alias",
    "wildcard",
    "constant_keyword",
    "match_only_text",
    "search_as_you_type",
    "completion",
    "token_count",
    "dense_vector",
    "sparse_vector",
    "rank_feature",
    "rank_features",
    "integer_range",
    "long_range",
    "float_range",
    "double_range",
    "date_range",
    "ip_range",
    "histogram",
    "aggregate_metric_double",
    "percolator",
    "join",
    "version",
    "murmur3",
    "annotated_text",
    "semantic_text",
];

/// Parameters accepted with no effect on Ferry's indexing (kept for the round trip).
const INERT_PARAMS: &[&str] = &[
    "doc_values",
    "store",
    "norms",
    "index_options",
    "eager_global_ordinals",
    "meta",
    "term_vector",
    "position_increment_gap",
    "index_phrases",
    "index_prefixes",
    "locale",
    "split_queries_on_whitespace",
    "time_series_dimension",
    "time_series_metric",
    "fielddata_frequency_filter",
];

fn mp(msg: impl Into<String>) -> IndexError {
    IndexError::MapperParsing(msg.into())
}

impl Mapping {
    /// Parses `{"properties": ...}` or the 6.x typed form `{"_doc": {"properties": ...}}`;
    /// an empty object is an empty mapping. Unknown types → `MapperParsing`.
    pub fn from_es_json(body: &Value) -> Result<Self> {
        let Some(obj) = body.as_object() else {
            return Err(mp(format!(
                "Failed to parse mapping: expected a JSON object but got [{body}]"
            )));
        };
        if obj.len() == 1 {
            let (key, value) = obj.iter().next().expect("one entry");
            if !ROOT_PARAMS.contains(&key.as_str()) {
                let Some(inner) = value.as_object() else {
                    return Err(root_unsupported(key, value));
                };
                return parse_root(inner);
            }
        }
        parse_root(obj)
    }
}

fn root_unsupported(key: &str, value: &Value) -> IndexError {
    mp(format!(
        "Root mapping definition has unsupported parameters:  [{key} : {value}]"
    ))
}

fn parse_root(obj: &Map<String, Value>) -> Result<Mapping> {
    let mut m = Mapping::default();
    for (key, value) in obj {
        match key.as_str() {
            "properties" => {
                m.root.properties = parse_properties("", value)?;
            }
            "dynamic" => m.root.dynamic = Some(parse_dynamic("_doc", value)?),
            "date_detection" => m.date_detection = Some(parse_bool("date_detection", value)?),
            "numeric_detection" => {
                m.numeric_detection = Some(parse_bool("numeric_detection", value)?)
            }
            "dynamic_templates" => {
                if value.as_array().is_none_or(|a| !a.is_empty()) {
                    return Err(mp("[dynamic_templates] are not supported yet"));
                }
            }
            "_meta" => {
                if !value.is_object() {
                    return Err(mp("[_meta] must be an object"));
                }
                m.meta_fields.insert(key.clone(), value.clone());
            }
            "_source" => {
                let ok = value.as_object().is_some_and(|o| {
                    o.iter()
                        .all(|(k, v)| k == "enabled" && parse_bool("enabled", v).ok() == Some(true))
                });
                if !ok {
                    return Err(mp(format!(
                        "[_source] {value} is not supported yet: the source is always kept whole"
                    )));
                }
                m.meta_fields.insert(key.clone(), value.clone());
            }
            "_routing" => {
                let ok = value.as_object().is_some_and(|o| {
                    o.iter().all(|(k, v)| {
                        k == "required" && parse_bool("required", v).ok() == Some(false)
                    })
                });
                if !ok {
                    return Err(mp(format!("[_routing] {value} is not supported yet")));
                }
                m.meta_fields.insert(key.clone(), value.clone());
            }
            "enabled" if parse_bool("enabled", value).ok() == Some(true) => {}
            "dynamic_date_formats" | "runtime" | "subobjects" | "enabled" | "_field_names" => {
                return Err(mp(format!("[{key}] is not supported yet")));
            }
            _ => return Err(root_unsupported(key, value)),
        }
    }
    Ok(m)
}

fn parse_bool(name: &str, v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(mp(format!(
            "Failed to parse value [{v}] as only [true] or [false] are allowed for [{name}]"
        ))),
    }
}

fn parse_dynamic(owner: &str, v: &Value) -> Result<Dynamic> {
    match v {
        Value::Bool(true) => Ok(Dynamic::True),
        Value::Bool(false) => Ok(Dynamic::False),
        Value::String(s) => match s.as_str() {
            "true" => Ok(Dynamic::True),
            "false" => Ok(Dynamic::False),
            "strict" => Ok(Dynamic::Strict),
            "runtime" => Err(mp("[dynamic: runtime] is not supported yet")),
            _ => Err(mp(format!(
                "Could not convert [{owner}.dynamic] to boolean: unknown value [{s}]"
            ))),
        },
        _ => Err(mp(format!(
            "Could not convert [{owner}.dynamic] to boolean"
        ))),
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Parses a `properties` object; dotted names become nested objects as in ES.
fn parse_properties(prefix: &str, value: &Value) -> Result<BTreeMap<String, FieldMapping>> {
    let Some(props) = value.as_object() else {
        return Err(mp(format!(
            "Expected map for property [properties] on field [{}] but got [{value}]",
            if prefix.is_empty() { "_doc" } else { prefix }
        )));
    };
    let mut out: BTreeMap<String, FieldMapping> = BTreeMap::new();
    for (name, def) in props {
        if name.trim().is_empty() {
            return Err(mp("field name cannot be an empty string"));
        }
        if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
            return Err(mp(format!(
                "field name [{name}] cannot contain only dots or empty segments"
            )));
        }
        let segs: Vec<&str> = name.split('.').collect();
        let (last, parents) = segs
            .split_last()
            .expect("split yields one segment at least");
        let mut path = prefix.to_string();
        let mut target = &mut out;
        for seg in parents {
            path = join(&path, seg);
            let entry = target
                .entry((*seg).to_string())
                .or_insert_with(|| FieldMapping::Object(ObjectMapping::default()));
            match entry {
                FieldMapping::Object(o) => target = &mut o.properties,
                FieldMapping::Leaf(_) => {
                    return Err(mp(format!(
                        "can't merge a non object mapping [{path}] with an object mapping"
                    )));
                }
            }
        }
        let full = join(&path, last);
        let parsed = parse_field(&full, def, false)?;
        match target.get_mut(*last) {
            None => {
                target.insert((*last).to_string(), parsed);
            }
            Some(existing) => {
                super::merge::merge_field(&full, existing, &parsed)?;
            }
        }
    }
    Ok(out)
}

fn parse_field(path: &str, def: &Value, multi: bool) -> Result<FieldMapping> {
    let Some(obj) = def.as_object() else {
        return Err(mp(format!(
            "Expected map for property [{path}] but got [{def}]"
        )));
    };
    let type_name = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(other) => {
            return Err(mp(format!(
                "No handler for type [{other}] declared on field [{path}]"
            )));
        }
        None if obj.contains_key("properties")
            || (obj.len() == 1 && obj.contains_key("enabled"))
            || obj.contains_key("dynamic") =>
        {
            "object"
        }
        None => return Err(mp(format!("No type specified for field [{path}]"))),
    };
    if type_name == "object" {
        if multi {
            return Err(mp(format!(
                "Type [object] cannot be used in multi field [{path}]"
            )));
        }
        return parse_object(path, obj).map(FieldMapping::Object);
    }
    let Some(kind) = LeafKind::from_name(type_name) else {
        if KNOWN_UNSUPPORTED.contains(&type_name) {
            return Err(mp(format!(
                "field type [{type_name}] is not supported yet (field [{path}])"
            )));
        }
        return Err(mp(format!(
            "No handler for type [{type_name}] declared on field [{path}]"
        )));
    };
    parse_leaf(path, kind, obj, multi).map(FieldMapping::Leaf)
}

fn parse_object(path: &str, obj: &Map<String, Value>) -> Result<ObjectMapping> {
    let mut o = ObjectMapping::default();
    for (k, v) in obj {
        match k.as_str() {
            "type" => {}
            "properties" => o.properties = parse_properties(path, v)?,
            "dynamic" => o.dynamic = Some(parse_dynamic(path, v)?),
            "enabled" => o.enabled = Some(parse_bool("enabled", v)?),
            "subobjects" => return Err(mp("[subobjects] is not supported yet")),
            _ => {
                return Err(mp(format!(
                    "Mapping definition for [{path}] has unsupported parameters:  [{k} : {v}]"
                )));
            }
        }
    }
    Ok(o)
}

fn allowed_params(kind: LeafKind) -> &'static [&'static str] {
    match kind {
        LeafKind::Text => &[
            "analyzer",
            "search_analyzer",
            "search_quote_analyzer",
            "fielddata",
            "similarity",
            "index",
            "boost",
        ],
        LeafKind::Keyword => &["ignore_above", "null_value", "similarity", "index", "boost"],
        LeafKind::Date => &["format", "null_value", "ignore_malformed", "index", "boost"],
        LeafKind::Boolean => &["null_value", "ignore_malformed", "index", "boost"],
        _ => &["coerce", "null_value", "ignore_malformed", "index", "boost"],
    }
}

fn parse_leaf(
    path: &str,
    kind: LeafKind,
    obj: &Map<String, Value>,
    multi: bool,
) -> Result<LeafMapping> {
    let mut leaf = LeafMapping::new(kind);
    let unknown = || {
        |k: &str| {
            mp(format!(
                "unknown parameter [{k}] on mapper [{path}] of type [{}]",
                kind.name()
            ))
        }
    };
    for (k, v) in obj {
        let key = k.as_str();
        match key {
            "type" => continue,
            "fields" => {
                if multi {
                    return Err(mp(format!(
                        "Multi-fields of multi-fields are not supported (field [{path}])"
                    )));
                }
                let Some(subs) = v.as_object() else {
                    return Err(mp(format!(
                        "Expected map for property [fields] on field [{path}] but got [{v}]"
                    )));
                };
                for (sub, def) in subs {
                    let sub_path = format!("{path}.{sub}");
                    match parse_field(&sub_path, def, true)? {
                        FieldMapping::Leaf(l) => {
                            leaf.fields.insert(sub.clone(), l);
                        }
                        FieldMapping::Object(_) => {
                            return Err(mp(format!(
                                "Type [object] cannot be used in multi field [{sub_path}]"
                            )));
                        }
                    }
                }
                continue;
            }
            "copy_to" | "normalizer" | "script" | "on_script_error" => {
                return Err(mp(format!("[{key}] is not supported yet (field [{path}])")));
            }
            _ if INERT_PARAMS.contains(&key) => {}
            _ if allowed_params(kind).contains(&key) => apply_param(path, &mut leaf, key, v)?,
            _ => return Err(unknown()(key)),
        }
        leaf.params.insert(k.clone(), v.clone());
    }
    Ok(leaf)
}

fn apply_param(path: &str, leaf: &mut LeafMapping, key: &str, v: &Value) -> Result<()> {
    match key {
        "ignore_above" => {
            let n = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    mp(format!(
                        "[ignore_above] on field [{path}] must be a positive integer, got [{v}]"
                    ))
                })?;
            leaf.ignore_above = Some(usize::try_from(n).unwrap_or(usize::MAX));
        }
        "index" => leaf.indexed = parse_bool("index", v)?,
        "coerce" => leaf.coerce = parse_bool("coerce", v)?,
        "ignore_malformed" => leaf.ignore_malformed = parse_bool("ignore_malformed", v)?,
        "boost" => {
            let b = v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .filter(|b| b.is_finite() && *b >= 0.0)
                .ok_or_else(|| {
                    mp(format!(
                        "[boost] on field [{path}] must be a number, got [{v}]"
                    ))
                })?;
            leaf.boost = b as f32;
        }
        "format" => {
            let s = v
                .as_str()
                .ok_or_else(|| mp(format!("[format] on field [{path}] must be a string")))?;
            leaf.date_format = Some(DateFormat::parse(s).map_err(mp)?);
        }
        "analyzer" | "search_analyzer" | "search_quote_analyzer" => match v.as_str() {
            Some("standard" | "default") => {}
            Some(other) => {
                return Err(mp(format!(
                    "analyzer [{other}] is not supported yet (field [{path}]): only [standard] is"
                )));
            }
            None => return Err(mp(format!("[{key}] on field [{path}] must be a string"))),
        },
        "similarity" if v.as_str() != Some("BM25") => {
            return Err(mp(format!(
                "similarity [{v}] is not supported yet (field [{path}])"
            )));
        }
        "fielddata" if parse_bool("fielddata", v)? => {
            return Err(mp(format!(
                "[fielddata: true] is not supported yet (field [{path}])"
            )));
        }
        "null_value" if !v.is_null() => {
            let scalar = Scalar::from_json(v).ok_or_else(|| {
                mp(format!(
                    "Failed to parse mapping: [null_value] on field [{path}] must be a scalar"
                ))
            })?;
            let mut probe = leaf.clone();
            probe.ignore_malformed = false;
            if let Err(cause) = probe.convert(scalar) {
                return Err(mp(format!(
                    "Failed to parse mapping: Error parsing [null_value] on field [{path}]: {cause}"
                )));
            }
            leaf.null_value = Some(v.clone());
        }
        _ => {}
    }
    Ok(())
}
