//! Turning a document's JSON source into what tantivy indexes, in one streaming pass.
//!
//! The source bytes are read with a serde visitor (no `serde_json::Value` tree is built);
//! each scalar is typed by the mapping (or as dynamic mapping would type it when a field
//! is missing) and copied once into the document's arena. [`PlannedDoc`] implements
//! tantivy's `Document` trait over that arena, so tantivy indexes it without another copy.
//!
//! Values that do not fit their field were refused when the write was accepted; if one
//! shows up here anyway it is skipped, never indexed wrongly. Nothing is stored in tantivy:
//! sources live in the shard's state store.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use tantivy::schema::Field;
use tantivy::schema::document::{Document, ReferenceValue, ReferenceValueLeaf, Value};

use super::schema::{Fields, TextSlots, TextTarget};
use crate::mapping::{
    Dynamic, FieldMapping, Indexed, LeafKind, LeafMapping, Mapping, ObjectMapping, Scalar,
};
use crate::{IndexError, Result};

/// A byte range of the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy)]
enum Entry {
    Str(Field, Span),
    U64(Field, u64),
    JsonStr(Field, Span, Span),
    JsonI64(Field, Span, i64),
    JsonF64(Field, Span, f64),
}

/// A document ready for tantivy: an arena of strings and the (field, value) entries.
#[derive(Debug, Default)]
pub(crate) struct PlannedDoc {
    arena: String,
    entries: Vec<Entry>,
}

/// One value of a [`PlannedDoc`], borrowed from its arena.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DocValue<'a> {
    Str(&'a str),
    U64(u64),
    I64(i64),
    F64(f64),
    /// A one-key JSON object `{path: leaf}` for the `kw`, `num` and `txt` fields.
    Obj(&'a str, ObjLeaf<'a>),
}

/// The leaf of a [`DocValue::Obj`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum ObjLeaf<'a> {
    Str(&'a str),
    I64(i64),
    F64(f64),
}

impl<'a> Value<'a> for DocValue<'a> {
    type ArrayIter = std::iter::Empty<DocValue<'a>>;
    type ObjectIter = std::iter::Once<(&'a str, DocValue<'a>)>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        match *self {
            Self::Str(s) => ReferenceValue::Leaf(ReferenceValueLeaf::Str(s)),
            Self::U64(v) => ReferenceValue::Leaf(ReferenceValueLeaf::U64(v)),
            Self::I64(v) => ReferenceValue::Leaf(ReferenceValueLeaf::I64(v)),
            Self::F64(v) => ReferenceValue::Leaf(ReferenceValueLeaf::F64(v)),
            Self::Obj(path, leaf) => {
                let inner = match leaf {
                    ObjLeaf::Str(s) => Self::Str(s),
                    ObjLeaf::I64(v) => Self::I64(v),
                    ObjLeaf::F64(v) => Self::F64(v),
                };
                ReferenceValue::Object(std::iter::once((path, inner)))
            }
        }
    }
}

/// Iterator over the entries of a [`PlannedDoc`].
pub(crate) struct DocIter<'a> {
    doc: &'a PlannedDoc,
    i: usize,
}

impl<'a> Iterator for DocIter<'a> {
    type Item = (Field, DocValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let entry = *self.doc.entries.get(self.i)?;
        self.i += 1;
        let s = |span: Span| &self.doc.arena[span.start as usize..span.end as usize];
        Some(match entry {
            Entry::Str(f, v) => (f, DocValue::Str(s(v))),
            Entry::U64(f, v) => (f, DocValue::U64(v)),
            Entry::JsonStr(f, p, v) => (f, DocValue::Obj(s(p), ObjLeaf::Str(s(v)))),
            Entry::JsonI64(f, p, v) => (f, DocValue::Obj(s(p), ObjLeaf::I64(v))),
            Entry::JsonF64(f, p, v) => (f, DocValue::Obj(s(p), ObjLeaf::F64(v))),
        })
    }
}

impl Document for PlannedDoc {
    type Value<'a> = DocValue<'a>;
    type FieldsValuesIter<'a> = DocIter<'a>;

    fn iter_fields_and_values(&self) -> DocIter<'_> {
        DocIter { doc: self, i: 0 }
    }
}

/// Plans the tantivy document of `source` (a JSON object) under `id` and `seq_no`.
pub(crate) fn plan_document(
    mapping: &Mapping,
    fields: &Fields,
    slots: &TextSlots,
    id: &str,
    seq_no: u64,
    source: &[u8],
) -> Result<PlannedDoc> {
    let mut b = Builder {
        mapping,
        fields,
        slots,
        doc: PlannedDoc {
            arena: String::with_capacity(source.len() + id.len() + 64),
            entries: Vec::with_capacity(16),
        },
        path: String::with_capacity(64),
        names: Vec::with_capacity(16),
        last_path: None,
        last_value: None,
    };
    let id_span = b.copy(id);
    b.doc.entries.push(Entry::Str(fields.id, id_span));
    b.doc.entries.push(Entry::U64(fields.seq, seq_no));
    let mut de = serde_json::Deserializer::from_slice(source);
    let root = ObjectVisitor {
        b: &mut b,
        obj: Some(&mapping.root),
        dynamic: mapping.root_dynamic(),
    };
    de.deserialize_map(root)
        .and_then(|()| de.end())
        .map_err(|e| {
            IndexError::DocumentParsing(format!("failed to parse document [{id}]: {e}"))
        })?;
    Ok(b.doc)
}

struct Builder<'m> {
    mapping: &'m Mapping,
    fields: &'m Fields,
    slots: &'m TextSlots,
    doc: PlannedDoc,
    path: String,
    names: Vec<Span>,
    last_path: Option<Span>,
    last_value: Option<(usize, usize, Span)>,
}

/// Where a value goes, resolved against the mapping.
#[derive(Clone, Copy)]
enum Target<'m> {
    Leaf(&'m LeafMapping),
    Object(&'m ObjectMapping, Dynamic),
    Unmapped,
    Skip,
}

impl<'m> Builder<'m> {
    fn copy(&mut self, s: &str) -> Span {
        let start = self.doc.arena.len() as u32;
        self.doc.arena.push_str(s);
        Span {
            start,
            end: self.doc.arena.len() as u32,
        }
    }

    fn arena(&self, span: Span) -> &str {
        &self.doc.arena[span.start as usize..span.end as usize]
    }

    fn copy_value(&mut self, s: &str) -> Span {
        let key = (s.as_ptr() as usize, s.len());
        if let Some((p, l, span)) = self.last_value
            && (p, l) == key
        {
            return span;
        }
        let span = self.copy(s);
        self.last_value = Some((key.0, key.1, span));
        span
    }

    fn path_span(&mut self) -> Span {
        if let Some(span) = self.last_path
            && self.arena(span) == self.path
        {
            return span;
        }
        let path = std::mem::take(&mut self.path);
        let span = self.copy(&path);
        self.path = path;
        self.last_path = Some(span);
        span
    }

    /// Records `path` and its parents in `_names`.
    fn add_names(&mut self, path: Span) {
        let bytes_end = path.end;
        let mut cut = path.start;
        loop {
            let rest = &self.doc.arena[cut as usize..bytes_end as usize];
            let end = match rest.find('.') {
                Some(i) => cut + i as u32,
                None => bytes_end,
            };
            let prefix = Span {
                start: path.start,
                end,
            };
            let seen = self
                .names
                .iter()
                .any(|&n| self.arena(n) == self.arena(prefix));
            if !seen {
                self.names.push(prefix);
                self.doc.entries.push(Entry::Str(self.fields.names, prefix));
            }
            if end == bytes_end {
                break;
            }
            cut = end + 1;
        }
    }

    fn emit(&mut self, kind: LeafKind, value: Indexed<'_>) {
        let path = self.path_span();
        match (kind, value) {
            (LeafKind::Text, Indexed::Str(s)) => {
                let v = self.copy_value(&s);
                let entry = match self.slots.assign(&self.path) {
                    TextTarget::Slot(i) => Entry::Str(self.fields.slots[i], v),
                    TextTarget::Overflow => Entry::JsonStr(self.fields.txt, path, v),
                };
                self.doc.entries.push(entry);
            }
            (_, Indexed::Str(s)) => {
                let v = self.copy_value(&s);
                self.doc
                    .entries
                    .push(Entry::JsonStr(self.fields.kw, path, v));
            }
            (_, Indexed::I64(n)) => self
                .doc
                .entries
                .push(Entry::JsonI64(self.fields.num, path, n)),
            (_, Indexed::F64(f)) => self
                .doc
                .entries
                .push(Entry::JsonF64(self.fields.num, path, f)),
        }
        self.add_names(path);
    }

    fn leaf(&mut self, leaf: &LeafMapping, s: Scalar<'_>) {
        // A value copy is shared only between a field and its multi-fields (same scalar).
        self.last_value = None;
        if let Ok(Some(ix)) = leaf.convert(s) {
            self.emit(leaf.kind, ix);
        }
        for (name, sub) in &leaf.fields {
            let saved = self.path.len();
            self.path.push('.');
            self.path.push_str(name);
            if let Ok(Some(ix)) = sub.convert(s) {
                self.emit(sub.kind, ix);
            }
            self.path.truncate(saved);
        }
    }

    fn scalar(&mut self, target: Target<'m>, s: Scalar<'_>) {
        match target {
            Target::Leaf(l) => self.leaf(l, s),
            Target::Unmapped => {
                let inferred = self.mapping.infer_leaf(s);
                self.leaf(&inferred, s);
            }
            Target::Object(..) | Target::Skip => {}
        }
    }

    /// Resolves key `key` under object `obj` (dotted keys descend).
    fn child(obj: Option<&'m ObjectMapping>, mut dynamic: Dynamic, key: &str) -> Target<'m> {
        let mut obj = obj;
        let mut target = Target::Skip;
        let mut segs = key.split('.');
        while let Some(seg) = segs.next() {
            match obj.and_then(|o| o.properties.get(seg)) {
                Some(FieldMapping::Object(child)) => {
                    if child.enabled == Some(false) {
                        return Target::Skip;
                    }
                    dynamic = child.dynamic.unwrap_or(dynamic);
                    obj = Some(child);
                    target = Target::Object(child, dynamic);
                }
                Some(FieldMapping::Leaf(leaf)) => {
                    return if segs.next().is_none() {
                        Target::Leaf(leaf)
                    } else {
                        Target::Skip
                    };
                }
                None => {
                    return if dynamic == Dynamic::True {
                        Target::Unmapped
                    } else {
                        Target::Skip
                    };
                }
            }
        }
        target
    }
}

struct ObjectVisitor<'b, 'm> {
    b: &'b mut Builder<'m>,
    obj: Option<&'m ObjectMapping>,
    dynamic: Dynamic,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        loop {
            let saved = self.b.path.len();
            if saved > 0 {
                self.b.path.push('.');
            }
            let key_start = self.b.path.len();
            if map
                .next_key_seed(KeySeed {
                    path: &mut self.b.path,
                })?
                .is_none()
            {
                self.b.path.truncate(saved);
                return Ok(());
            }
            let target = Builder::child(self.obj, self.dynamic, &self.b.path[key_start..]);
            map.next_value_seed(ValueSeed {
                b: &mut *self.b,
                target,
            })?;
            self.b.path.truncate(saved);
        }
    }
}

/// Appends a key to the path buffer without allocating.
struct KeySeed<'p> {
    path: &'p mut String,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<(), E> {
        self.path.push_str(v);
        Ok(())
    }
}

struct ValueSeed<'b, 'm> {
    b: &'b mut Builder<'m>,
    target: Target<'m>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<(), E> {
        self.b.scalar(self.target, Scalar::Bool(v));
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<(), E> {
        self.b.scalar(self.target, Scalar::I64(v));
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<(), E> {
        let s = i64::try_from(v).map_or(Scalar::U64(v), Scalar::I64);
        self.b.scalar(self.target, s);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<(), E> {
        self.b.scalar(self.target, Scalar::F64(v));
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<(), E> {
        self.b.scalar(self.target, Scalar::Str(v));
        Ok(())
    }

    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        if let Target::Leaf(l) = self.target
            && let Some(nv) = &l.null_value
            && let Some(s) = Scalar::from_json(nv)
        {
            self.b.leaf(l, s);
        }
        Ok(())
    }

    fn visit_none<E: serde::de::Error>(self) -> std::result::Result<(), E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq
            .next_element_seed(ValueSeed {
                b: &mut *self.b,
                target: self.target,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let (obj, dynamic) = match self.target {
            Target::Object(o, d) => (Some(o), d),
            Target::Unmapped => (None, Dynamic::True),
            Target::Leaf(_) | Target::Skip => {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(());
            }
        };
        ObjectVisitor {
            b: self.b,
            obj,
            dynamic,
        }
        .visit_map(map)
    }
}
