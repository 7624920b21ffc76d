//! Index mappings: parsing the ES mapping body (typeless and the 6.x `{"_doc": ...}` form),
//! writing it back in ES's form, additive merges, dynamic mapping of new fields, and
//! checking and converting a document's values to what its field types index.
//!
//! Field types: `text` (standard analyzer, optional `fields` sub-fields), `keyword`,
//! `long`, `integer`, `short`, `byte`, `double`, `float`, `boolean`, `date` (java-time
//! formats, see [`date`]), `object`. Parameters that change nothing in Ferry
//! (`doc_values`, `store`, `norms`, ...) are accepted and kept for the round trip;
//! parameters whose meaning Ferry cannot honour (`copy_to`, `normalizer`, other
//! analyzers, `nested`, `runtime`, `dynamic_templates`, ...) are refused with a clear
//! "not supported yet", never silently ignored.
//!
//! This module does not index anything: the search index asks it how each value is typed.

pub(crate) mod date;
pub(crate) mod date_math;
mod date_pattern;
mod dynamic;
pub(crate) mod json;
mod merge;
mod parse;
mod render;
#[cfg(test)]
mod tests;
mod value;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

pub(crate) use date::DateFormat;
pub(crate) use value::{Indexed, Scalar};

/// The mapping of one index, shared by its shards.
pub type SharedMapping = Arc<parking_lot::RwLock<Mapping>>;

/// ES's default `index.mapping.total_fields.limit`.
pub(crate) const TOTAL_FIELDS_LIMIT: usize = 1000;

/// Field definitions of one index (`properties`, recursively) and the root settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    pub(crate) root: ObjectMapping,
    pub(crate) date_detection: Option<bool>,
    pub(crate) numeric_detection: Option<bool>,
    /// `_meta`, `_source`, `_routing` as given (only the accepted forms).
    pub(crate) meta_fields: BTreeMap<String, Value>,
}

/// `dynamic` of an object (inherited by its children when unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dynamic {
    True,
    False,
    Strict,
}

impl Dynamic {
    pub(crate) fn as_json(self) -> Value {
        match self {
            Self::True => Value::Bool(true),
            Self::False => Value::Bool(false),
            Self::Strict => Value::String("strict".into()),
        }
    }
}

/// An `object` field (or the root): its properties and settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ObjectMapping {
    pub(crate) properties: BTreeMap<String, FieldMapping>,
    pub(crate) dynamic: Option<Dynamic>,
    pub(crate) enabled: Option<bool>,
}

/// One mapped field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldMapping {
    Object(ObjectMapping),
    Leaf(LeafMapping),
}

/// The type of a leaf field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafKind {
    Text,
    Keyword,
    Long,
    Integer,
    Short,
    Byte,
    Double,
    Float,
    Boolean,
    Date,
}

impl LeafKind {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "text" => Self::Text,
            "keyword" => Self::Keyword,
            "long" => Self::Long,
            "integer" => Self::Integer,
            "short" => Self::Short,
            "byte" => Self::Byte,
            "double" => Self::Double,
            "float" => Self::Float,
            "boolean" => Self::Boolean,
            "date" => Self::Date,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Keyword => "keyword",
            Self::Long => "long",
            Self::Integer => "integer",
            Self::Short => "short",
            Self::Byte => "byte",
            Self::Double => "double",
            Self::Float => "float",
            Self::Boolean => "boolean",
            Self::Date => "date",
        }
    }

    /// Indexed as an i64 (integer types, booleans as 0/1, dates as epoch millis).
    pub(crate) fn is_i64(self) -> bool {
        matches!(
            self,
            Self::Long | Self::Integer | Self::Short | Self::Byte | Self::Boolean | Self::Date
        )
    }

    pub(crate) fn is_float(self) -> bool {
        matches!(self, Self::Double | Self::Float)
    }

    pub(crate) fn is_numeric_like(self) -> bool {
        self.is_i64() || self.is_float()
    }
}

/// A leaf field: its type, its parameters as given, and its multi-fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LeafMapping {
    pub(crate) kind: LeafKind,
    /// Every parameter but `type` and `fields`, as given (for the round trip and merges).
    pub(crate) params: BTreeMap<String, Value>,
    /// Multi-fields (`fields`).
    pub(crate) fields: BTreeMap<String, LeafMapping>,
    /// `ignore_above` (keyword).
    pub(crate) ignore_above: Option<usize>,
    /// `index` (default true); a field with `index: false` cannot be queried.
    pub(crate) indexed: bool,
    /// `coerce` (default true): numbers given as strings, fractions into integer fields.
    pub(crate) coerce: bool,
    /// `ignore_malformed` (default false): skip values that do not fit instead of failing.
    pub(crate) ignore_malformed: bool,
    /// Query-time `boost` of the field (default 1).
    pub(crate) boost: f32,
    /// `format` of a date field (the default one when not given).
    pub(crate) date_format: Option<DateFormat>,
    /// `null_value`.
    pub(crate) null_value: Option<Value>,
}

impl LeafMapping {
    /// A leaf of `kind` with default parameters.
    pub(crate) fn new(kind: LeafKind) -> Self {
        Self {
            kind,
            params: BTreeMap::new(),
            fields: BTreeMap::new(),
            ignore_above: None,
            indexed: true,
            coerce: true,
            ignore_malformed: false,
            boost: 1.0,
            date_format: (kind == LeafKind::Date).then(|| DateFormat::default_format().clone()),
            null_value: None,
        }
    }

    /// What dynamic mapping gives a string: `text` with a `keyword` sub-field
    /// (`ignore_above: 256`).
    pub(crate) fn dynamic_text() -> Self {
        let mut keyword = Self::new(LeafKind::Keyword);
        keyword.ignore_above = Some(256);
        keyword
            .params
            .insert("ignore_above".into(), Value::from(256));
        let mut text = Self::new(LeafKind::Text);
        text.fields.insert("keyword".into(), keyword);
        text
    }

    /// The date format (dates only; the default format for anything else).
    pub(crate) fn format(&self) -> &DateFormat {
        self.date_format
            .as_ref()
            .unwrap_or_else(|| DateFormat::default_format())
    }
}

/// A path resolved against the mapping.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resolved<'a> {
    Leaf(&'a LeafMapping),
    Object,
}

impl Mapping {
    /// Resolves a dotted path: object properties, then multi-fields of a leaf
    /// (`title.keyword`).
    pub(crate) fn resolve(&self, path: &str) -> Option<Resolved<'_>> {
        if path.is_empty() {
            return None;
        }
        let mut obj = &self.root;
        let mut segs = path.split('.').peekable();
        while let Some(seg) = segs.next() {
            match obj.properties.get(seg)? {
                FieldMapping::Object(o) => {
                    if segs.peek().is_none() {
                        return Some(Resolved::Object);
                    }
                    obj = o;
                }
                FieldMapping::Leaf(leaf) => {
                    let mut leaf = leaf;
                    for sub in segs {
                        leaf = leaf.fields.get(sub)?;
                    }
                    return Some(Resolved::Leaf(leaf));
                }
            }
        }
        None
    }

    /// The leaf at `path`, if it is one.
    pub(crate) fn leaf(&self, path: &str) -> Option<&LeafMapping> {
        match self.resolve(path)? {
            Resolved::Leaf(l) => Some(l),
            Resolved::Object => None,
        }
    }

    /// Every leaf path (multi-fields included), sorted.
    pub(crate) fn leaf_paths(&self) -> Vec<(String, &LeafMapping)> {
        fn leaf_rec<'a>(
            prefix: &str,
            leaf: &'a LeafMapping,
            out: &mut Vec<(String, &'a LeafMapping)>,
        ) {
            out.push((prefix.to_string(), leaf));
            for (name, sub) in &leaf.fields {
                leaf_rec(&format!("{prefix}.{name}"), sub, out);
            }
        }
        fn obj_rec<'a>(
            prefix: &str,
            obj: &'a ObjectMapping,
            out: &mut Vec<(String, &'a LeafMapping)>,
        ) {
            for (name, field) in &obj.properties {
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                match field {
                    FieldMapping::Object(o) => obj_rec(&path, o, out),
                    FieldMapping::Leaf(l) => leaf_rec(&path, l, out),
                }
            }
        }
        let mut out = Vec::new();
        obj_rec("", &self.root, &mut out);
        out
    }

    /// Number of mappers (objects, leaves and multi-fields), as ES counts them against
    /// `index.mapping.total_fields.limit`.
    pub(crate) fn field_count(&self) -> usize {
        fn leaf_count(leaf: &LeafMapping) -> usize {
            1 + leaf.fields.values().map(leaf_count).sum::<usize>()
        }
        fn obj_count(obj: &ObjectMapping) -> usize {
            obj.properties
                .values()
                .map(|f| match f {
                    FieldMapping::Object(o) => 1 + obj_count(o),
                    FieldMapping::Leaf(l) => leaf_count(l),
                })
                .sum()
        }
        obj_count(&self.root)
    }

    /// Whether strings that look like dates become `date` fields (default true).
    pub(crate) fn date_detection(&self) -> bool {
        self.date_detection.unwrap_or(true)
    }

    /// Whether strings that look like numbers become numeric fields (default false).
    pub(crate) fn numeric_detection(&self) -> bool {
        self.numeric_detection.unwrap_or(false)
    }

    /// `dynamic` of the root (default true).
    pub(crate) fn root_dynamic(&self) -> Dynamic {
        self.root.dynamic.unwrap_or(Dynamic::True)
    }

    /// True when no field is mapped and no root setting is given.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
