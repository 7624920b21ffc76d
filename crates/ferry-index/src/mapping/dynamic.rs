//! Checking a document against the mapping and dynamic mapping of its new fields.
//!
//! ES rules: strings become `text` with a `keyword` sub-field (`ignore_above: 256`) unless
//! they look like a date (`date_detection`) or, with `numeric_detection`, a number;
//! integers become `long`, fractions `float`, booleans `boolean`, objects `object`, arrays
//! their elements' type; `null` and empty arrays add nothing. Numeric fields coerce
//! strings ("12") and truncate fractions for integer types unless `coerce: false`.
//!
//! This module only reads documents; it neither stores nor indexes them.

use super::json::Json;
use super::{
    Dynamic, FieldMapping, LeafKind, LeafMapping, Mapping, ObjectMapping, TOTAL_FIELDS_LIMIT,
};
use crate::{IndexError, Result};

/// Metadata fields a document may not carry.
const METADATA_FIELDS: &[&str] = &[
    "_id",
    "_index",
    "_routing",
    "_source",
    "_seq_no",
    "_primary_term",
    "_version",
    "_field_names",
    "_ignored",
    "_doc_count",
    "_tier",
];

impl Mapping {
    /// Checks `source` (already parsed JSON object) against this mapping and returns the
    /// fields dynamic mapping must add (`None` when nothing is new). A value that does not
    /// fit its field's type → `DocumentParsing` naming the field, type and document id.
    pub(crate) fn dynamic_update_of(&self, id: &str, source: &Json) -> Result<Option<Mapping>> {
        let Json::Obj(map) = source else {
            return Err(IndexError::DocumentParsing(
                "failed to parse: Malformed content, must start with an object".into(),
            ));
        };
        let mut walk = Walk {
            id,
            mapping: self,
            path: String::new(),
        };
        let mut added = ObjectMapping::default();
        walk.object(Some(&self.root), &mut added, map, self.root_dynamic())?;
        if added.properties.is_empty() {
            return Ok(None);
        }
        let update = Mapping {
            root: added,
            ..Mapping::default()
        };
        let total = self.field_count() + update.field_count();
        if total > TOTAL_FIELDS_LIMIT {
            return Err(IndexError::IllegalArgument(format!(
                "Limit of total fields [{TOTAL_FIELDS_LIMIT}] has been exceeded while adding new fields [{}]",
                update.field_count()
            )));
        }
        Ok(Some(update))
    }
}

#[cfg(test)]
impl Mapping {
    /// [`Self::dynamic_update_of`] for a `serde_json::Value` (tests write documents with
    /// `json!`).
    pub(crate) fn dynamic_update(
        &self,
        id: &str,
        source: &serde_json::Value,
    ) -> Result<Option<Mapping>> {
        let bytes = serde_json::to_vec(source).expect("a Value serializes");
        self.dynamic_update_of(id, &Json::parse(&bytes).expect("serialized JSON parses"))
    }
}

struct Walk<'a> {
    id: &'a str,
    mapping: &'a Mapping,
    path: String,
}

fn dp(msg: String) -> IndexError {
    IndexError::DocumentParsing(msg)
}

impl Walk<'_> {
    fn object(
        &mut self,
        existing: Option<&ObjectMapping>,
        added: &mut ObjectMapping,
        map: &[(std::borrow::Cow<'_, str>, Json)],
        dynamic: Dynamic,
    ) -> Result<()> {
        for (key, value) in map {
            let key: &str = key;
            self.check_name(key)?;
            if key.contains('.') {
                let segs: Vec<&str> = key.split('.').collect();
                self.path_in(existing, added, &segs, value, dynamic)?;
            } else {
                self.path_in(existing, added, &[key], value, dynamic)?;
            }
        }
        Ok(())
    }

    fn check_name(&self, key: &str) -> Result<()> {
        if key.is_empty() {
            return Err(dp("field name cannot be an empty string".into()));
        }
        if key.trim().is_empty() {
            return Err(dp(format!(
                "field name cannot contain only whitespace: ['{key}']"
            )));
        }
        if key.contains('.') && key.split('.').any(str::is_empty) {
            return Err(dp(format!(
                "object field starting or ending with a [.] makes object resolution ambiguous: [{key}]"
            )));
        }
        if self.path.is_empty() && METADATA_FIELDS.contains(&key) {
            return Err(dp(format!(
                "Field [{key}] is a metadata field and cannot be added inside a document. Use the index API request parameters."
            )));
        }
        Ok(())
    }

    fn path_in(
        &mut self,
        existing: Option<&ObjectMapping>,
        added: &mut ObjectMapping,
        segs: &[&str],
        value: &Json,
        dynamic: Dynamic,
    ) -> Result<()> {
        let saved = self.path.len();
        let name = segs[0];
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(name);
        let r = if segs.len() == 1 {
            self.value(existing, added, name, value, dynamic)
        } else {
            self.dotted(existing, added, segs, value, dynamic)
        };
        self.path.truncate(saved);
        r
    }

    /// `{"a.b": v}`: descends into (or creates) object `a`.
    fn dotted(
        &mut self,
        existing: Option<&ObjectMapping>,
        added: &mut ObjectMapping,
        segs: &[&str],
        value: &Json,
        dynamic: Dynamic,
    ) -> Result<()> {
        let name = segs[0];
        match existing.and_then(|p| p.properties.get(name)) {
            Some(FieldMapping::Leaf(l)) => Err(dp(format!(
                "Could not dynamically add mapping for field [{}.{}]. Existing mapping for [{}] must be of type object but found [{}].",
                self.path,
                segs[1..].join("."),
                self.path,
                l.kind.name()
            ))),
            Some(FieldMapping::Object(o)) => {
                if o.enabled == Some(false) {
                    return Ok(());
                }
                let mut sub = take_object(added, name);
                let r = self.path_in(
                    Some(o),
                    &mut sub,
                    &segs[1..],
                    value,
                    o.dynamic.unwrap_or(dynamic),
                );
                if !sub.properties.is_empty() {
                    added
                        .properties
                        .insert(name.to_string(), FieldMapping::Object(sub));
                }
                r
            }
            None => {
                if let Some(FieldMapping::Leaf(l)) = added.properties.get(name) {
                    return Err(dp(format!(
                        "Could not dynamically add mapping for field [{}]. Existing mapping for [{}] must be of type object but found [{}].",
                        self.path,
                        self.path,
                        l.kind.name()
                    )));
                }
                if !added.properties.contains_key(name) {
                    if matches!(value, Json::Null) || !self.may_add(name, dynamic)? {
                        return Ok(());
                    }
                    added.properties.insert(
                        name.to_string(),
                        FieldMapping::Object(ObjectMapping::default()),
                    );
                }
                match added.properties.get_mut(name) {
                    Some(FieldMapping::Object(o)) => {
                        let child_dynamic = o.dynamic.unwrap_or(dynamic);
                        self.path_in(None, o, &segs[1..], value, child_dynamic)
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// Whether a new field may be added here (`dynamic: strict` fails).
    fn may_add(&self, name: &str, dynamic: Dynamic) -> Result<bool> {
        match dynamic {
            Dynamic::True => Ok(true),
            Dynamic::False => Ok(false),
            Dynamic::Strict => {
                let parent = self
                    .path
                    .rsplit_once('.')
                    .map_or("_doc", |(parent, _)| parent);
                Err(dp(format!(
                    "mapping set to strict, dynamic introduction of [{name}] within [{parent}] is not allowed"
                )))
            }
        }
    }

    fn value(
        &mut self,
        existing: Option<&ObjectMapping>,
        added: &mut ObjectMapping,
        name: &str,
        value: &Json,
        dynamic: Dynamic,
    ) -> Result<()> {
        if let Json::Arr(items) = value {
            for item in items {
                self.value(existing, added, name, item, dynamic)?;
            }
            return Ok(());
        }
        match existing.and_then(|p| p.properties.get(name)) {
            Some(FieldMapping::Leaf(l)) => self.check_leaf(l, value),
            Some(FieldMapping::Object(o)) => match value {
                Json::Null => Ok(()),
                Json::Obj(m) => {
                    if o.enabled == Some(false) {
                        return Ok(());
                    }
                    let mut sub = take_object(added, name);
                    let r = self.object(Some(o), &mut sub, m, o.dynamic.unwrap_or(dynamic));
                    if !sub.properties.is_empty() {
                        added
                            .properties
                            .insert(name.to_string(), FieldMapping::Object(sub));
                    }
                    r
                }
                _ => Err(self.concrete_for_object(name)),
            },
            None => {
                if let Some(af) = added.properties.get_mut(name) {
                    return match af {
                        FieldMapping::Leaf(l) => {
                            let l = &*l;
                            self.check_leaf(l, value)
                        }
                        FieldMapping::Object(o) => match value {
                            Json::Null => Ok(()),
                            Json::Obj(m) => {
                                let d = o.dynamic.unwrap_or(dynamic);
                                self.object(None, o, m, d)
                            }
                            _ => Err(self.concrete_for_object(name)),
                        },
                    };
                }
                if matches!(value, Json::Null) || !self.may_add(name, dynamic)? {
                    return Ok(());
                }
                let field = match value {
                    Json::Obj(m) => {
                        let mut o = ObjectMapping::default();
                        self.object(None, &mut o, m, dynamic)?;
                        FieldMapping::Object(o)
                    }
                    _ => {
                        let scalar = value
                            .scalar()
                            .expect("arrays, objects and null handled above");
                        let leaf = self.mapping.infer_leaf(scalar);
                        self.check_leaf(&leaf, value)?;
                        FieldMapping::Leaf(leaf)
                    }
                };
                added.properties.insert(name.to_string(), field);
                Ok(())
            }
        }
    }

    fn concrete_for_object(&self, name: &str) -> IndexError {
        dp(format!(
            "object mapping for [{}] tried to parse field [{name}] as object, but found a concrete value",
            self.path
        ))
    }

    fn check_leaf(&self, leaf: &LeafMapping, value: &Json) -> Result<()> {
        let Some(scalar) = value.scalar() else {
            return match value {
                Json::Null => Ok(()),
                _ => Err(self.failure(&self.path, leaf.kind, &value.to_string())),
            };
        };
        if let Err(_cause) = leaf.convert(scalar) {
            return Err(self.failure(&self.path, leaf.kind, &scalar.to_text()));
        }
        for (sub_name, sub) in &leaf.fields {
            if sub.convert(scalar).is_err() {
                let path = format!("{}.{sub_name}", self.path);
                return Err(self.failure(&path, sub.kind, &scalar.to_text()));
            }
        }
        Ok(())
    }

    fn failure(&self, path: &str, kind: LeafKind, preview: &str) -> IndexError {
        dp(format!(
            "failed to parse field [{path}] of type [{}] in document with id '{}'. Preview of field's value: '{preview}'",
            kind.name(),
            self.id
        ))
    }
}

/// Takes the additions already recorded under an existing object `name` (or a fresh one).
fn take_object(added: &mut ObjectMapping, name: &str) -> ObjectMapping {
    match added.properties.remove(name) {
        Some(FieldMapping::Object(o)) => o,
        Some(other) => {
            added.properties.insert(name.to_string(), other);
            ObjectMapping::default()
        }
        None => ObjectMapping::default(),
    }
}
