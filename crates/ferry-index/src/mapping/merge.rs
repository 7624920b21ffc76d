//! Additive mapping merges (`PUT /<index>/_mapping`, dynamic updates).
//!
//! New fields and multi-fields are added; an existing field keeps its type (a change is
//! refused with ES's "mapper [f] cannot be changed from type [a] to [b]"); parameters ES
//! lets you update (`ignore_above`, `ignore_malformed`, `meta`) are replaced, any other
//! differing parameter is a conflict. A failed merge leaves the mapping unchanged.

use super::{FieldMapping, LeafMapping, Mapping, ObjectMapping, TOTAL_FIELDS_LIMIT};
use crate::{IndexError, Result};

const UPDATABLE_PARAMS: &[&str] = &["ignore_above", "ignore_malformed", "meta"];

fn ia(msg: impl Into<String>) -> IndexError {
    IndexError::IllegalArgument(msg.into())
}

impl Mapping {
    /// Adds the fields of `other`; a field whose type differs → `IllegalArgument`
    /// (ES: "mapper [f] cannot be changed from type [long] to [text]"). Returns whether
    /// anything was added. On error `self` is unchanged.
    pub fn merge(&mut self, other: &Mapping) -> Result<bool> {
        let mut merged = self.clone();
        let mut changed = merge_object("", &mut merged.root, &other.root)?;
        if other.date_detection.is_some() && other.date_detection != merged.date_detection {
            merged.date_detection = other.date_detection;
            changed = true;
        }
        if other.numeric_detection.is_some() && other.numeric_detection != merged.numeric_detection
        {
            merged.numeric_detection = other.numeric_detection;
            changed = true;
        }
        for (k, v) in &other.meta_fields {
            if merged.meta_fields.get(k) != Some(v) {
                merged.meta_fields.insert(k.clone(), v.clone());
                changed = true;
            }
        }
        if !changed {
            return Ok(false);
        }
        let count = merged.field_count();
        if count > TOTAL_FIELDS_LIMIT {
            return Err(ia(format!(
                "Limit of total fields [{TOTAL_FIELDS_LIMIT}] has been exceeded while adding new fields [{}]",
                count.saturating_sub(self.field_count())
            )));
        }
        *self = merged;
        Ok(true)
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn merge_object(path: &str, a: &mut ObjectMapping, b: &ObjectMapping) -> Result<bool> {
    let mut changed = false;
    if b.dynamic.is_some() && b.dynamic != a.dynamic {
        a.dynamic = b.dynamic;
        changed = true;
    }
    if let Some(e) = b.enabled
        && a.enabled.unwrap_or(true) != e
    {
        return Err(ia(format!(
            "the [enabled] parameter can't be updated for the object mapping [{}]",
            if path.is_empty() { "_doc" } else { path }
        )));
    }
    for (name, bf) in &b.properties {
        let full = join(path, name);
        match a.properties.get_mut(name) {
            None => {
                a.properties.insert(name.clone(), bf.clone());
                changed = true;
            }
            Some(af) => changed |= merge_field(&full, af, bf)?,
        }
    }
    Ok(changed)
}

/// Merges `b` into `a` (both at `path`).
pub(super) fn merge_field(path: &str, a: &mut FieldMapping, b: &FieldMapping) -> Result<bool> {
    match (a, b) {
        (FieldMapping::Object(ao), FieldMapping::Object(bo)) => merge_object(path, ao, bo),
        (FieldMapping::Leaf(al), FieldMapping::Leaf(bl)) => merge_leaf(path, al, bl),
        (FieldMapping::Leaf(_), FieldMapping::Object(_)) => Err(ia(format!(
            "can't merge a non object mapping [{path}] with an object mapping"
        ))),
        (FieldMapping::Object(_), FieldMapping::Leaf(bl)) => Err(ia(format!(
            "mapper [{path}] cannot be changed from type [object] to [{}]",
            bl.kind.name()
        ))),
    }
}

fn merge_leaf(path: &str, a: &mut LeafMapping, b: &LeafMapping) -> Result<bool> {
    if a.kind != b.kind {
        return Err(ia(format!(
            "mapper [{path}] cannot be changed from type [{}] to [{}]",
            a.kind.name(),
            b.kind.name()
        )));
    }
    let mut changed = false;
    for (k, bv) in &b.params {
        let av = a.params.get(k);
        if av == Some(bv) {
            continue;
        }
        if !UPDATABLE_PARAMS.contains(&k.as_str()) {
            let from = av.map_or_else(|| "default".to_string(), |v| v.to_string());
            return Err(ia(format!(
                "Mapper for [{path}] conflicts with existing mapper:\n\tCannot update parameter [{k}] from [{from}] to [{bv}]"
            )));
        }
        a.params.insert(k.clone(), bv.clone());
        changed = true;
    }
    if changed {
        a.ignore_above = b.ignore_above.or(a.ignore_above);
        if b.params.contains_key("ignore_malformed") {
            a.ignore_malformed = b.ignore_malformed;
        }
    }
    for (name, bsub) in &b.fields {
        let full = format!("{path}.{name}");
        match a.fields.get_mut(name) {
            None => {
                a.fields.insert(name.clone(), bsub.clone());
                changed = true;
            }
            Some(asub) => changed |= merge_leaf(&full, asub, bsub)?,
        }
    }
    Ok(changed)
}
