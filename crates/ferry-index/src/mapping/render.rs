//! Writing a [`Mapping`] back in ES's typeless form, as `GET /<index>/_mapping` shows it:
//! fields sorted by name, `type` first, parameters as given, objects without
//! `"type": "object"` unless they have no properties.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{FieldMapping, LeafMapping, Mapping};

impl Mapping {
    /// The typeless ES form: `{"properties": {...}}` (`{}` when empty).
    pub fn to_es_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(d) = self.root.dynamic {
            out.insert("dynamic".into(), d.as_json());
        }
        if let Some(b) = self.date_detection {
            out.insert("date_detection".into(), Value::Bool(b));
        }
        if let Some(b) = self.numeric_detection {
            out.insert("numeric_detection".into(), Value::Bool(b));
        }
        for (k, v) in &self.meta_fields {
            out.insert(k.clone(), v.clone());
        }
        if !self.root.properties.is_empty() {
            out.insert("properties".into(), properties_json(&self.root.properties));
        }
        Value::Object(out)
    }
}

fn properties_json(props: &BTreeMap<String, FieldMapping>) -> Value {
    let mut out = Map::new();
    for (name, field) in props {
        out.insert(name.clone(), field_json(field));
    }
    Value::Object(out)
}

fn field_json(field: &FieldMapping) -> Value {
    match field {
        FieldMapping::Object(o) => {
            let mut out = Map::new();
            if o.properties.is_empty() {
                out.insert("type".into(), Value::String("object".into()));
            }
            if let Some(d) = o.dynamic {
                out.insert("dynamic".into(), d.as_json());
            }
            if let Some(e) = o.enabled {
                out.insert("enabled".into(), Value::Bool(e));
            }
            if !o.properties.is_empty() {
                out.insert("properties".into(), properties_json(&o.properties));
            }
            Value::Object(out)
        }
        FieldMapping::Leaf(l) => leaf_json(l),
    }
}

fn leaf_json(l: &LeafMapping) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), Value::String(l.kind.name().into()));
    for (k, v) in &l.params {
        out.insert(k.clone(), v.clone());
    }
    if !l.fields.is_empty() {
        let mut subs = Map::new();
        for (name, sub) in &l.fields {
            subs.insert(name.clone(), leaf_json(sub));
        }
        out.insert("fields".into(), Value::Object(subs));
    }
    Value::Object(out)
}
