//! The fixed tantivy schema of a shard index, and the assignment of text fields to slots.
//!
//! A tantivy schema cannot change after creation while ES mappings grow, so values live in
//! a few generic fields keyed by the dotted field path:
//!
//! | tantivy field | holds | options |
//! |---|---|---|
//! | `_id` | document id | raw, indexed, fast (for hit ids and `ids`) |
//! | `_seq` | `_seq_no` of the indexed version | fast (tie-break, `_doc` sort) |
//! | `_names` | every field path present, and its parents | raw, indexed (`exists`) |
//! | `kw` | keyword values (JSON: path → value) | raw, indexed, fast (term, prefix, wildcard, range, sort) |
//! | `num` | numbers, dates (epoch millis) and booleans (0/1) as i64 or f64 | indexed, fast (term, range, sort) |
//! | `t0`..`t31` | `text` fields, one slot per field path | standard analyzer, positions, norms |
//! | `txt` | `text` fields beyond the slots (JSON: path → text) | standard analyzer, positions |
//!
//! Why slots for text: BM25 needs per-field length norms and average lengths, and tantivy
//! JSON fields record no norms; a dedicated field per text path gives ES-like scoring. A
//! shard assigns slots to text paths the first time it sees them and records the
//! assignment in every commit's payload, so a restart reads the same slots. Past 32 text
//! fields, text goes to `txt`, which matches and ranks correctly by term frequency and IDF
//! but without length normalisation.

use std::collections::HashMap;

use parking_lot::RwLock;
use tantivy::Index;
use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, NumericOptions, STRING, Schema, TextFieldIndexing,
    TextOptions,
};
use tantivy::tokenizer::TextAnalyzer;

use super::analysis::{STANDARD, StandardTokenizer};
use crate::{IndexError, Result};

/// Number of dedicated text fields per shard index.
pub(crate) const TEXT_SLOTS: usize = 32;

/// Handles of the schema's fields.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub(crate) id: Field,
    pub(crate) seq: Field,
    pub(crate) names: Field,
    pub(crate) kw: Field,
    pub(crate) num: Field,
    pub(crate) txt: Field,
    pub(crate) slots: Vec<Field>,
}

fn slot_name(i: usize) -> String {
    format!("t{i}")
}

/// Builds the schema every shard index uses.
pub(crate) fn build_schema() -> Schema {
    let mut b = Schema::builder();
    b.add_text_field("_id", STRING | tantivy::schema::FAST);
    b.add_u64_field("_seq", NumericOptions::default().set_fast());
    b.add_text_field("_names", STRING);
    let raw_basic = TextFieldIndexing::default()
        .set_tokenizer("raw")
        .set_index_option(IndexRecordOption::Basic)
        .set_fieldnorms(false);
    b.add_json_field(
        "kw",
        JsonObjectOptions::default()
            .set_indexing_options(raw_basic.clone())
            .set_fast("raw")
            .set_expand_dots_enabled(),
    );
    b.add_json_field(
        "num",
        JsonObjectOptions::default()
            .set_indexing_options(raw_basic)
            .set_fast("raw")
            .set_expand_dots_enabled(),
    );
    let analyzed = |norms: bool| {
        TextFieldIndexing::default()
            .set_tokenizer(STANDARD)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions)
            .set_fieldnorms(norms)
    };
    b.add_json_field(
        "txt",
        JsonObjectOptions::default()
            .set_indexing_options(analyzed(false))
            .set_expand_dots_enabled(),
    );
    for i in 0..TEXT_SLOTS {
        b.add_text_field(
            &slot_name(i),
            TextOptions::default().set_indexing_options(analyzed(true)),
        );
    }
    b.build()
}

impl Fields {
    /// The field handles of `schema` (which must be [`build_schema`]'s).
    pub(crate) fn of(schema: &Schema) -> Result<Self> {
        let get = |name: &str| {
            schema.get_field(name).map_err(|_| {
                IndexError::Storage(format!("search index schema lacks field [{name}]"))
            })
        };
        Ok(Self {
            id: get("_id")?,
            seq: get("_seq")?,
            names: get("_names")?,
            kw: get("kw")?,
            num: get("num")?,
            txt: get("txt")?,
            slots: (0..TEXT_SLOTS)
                .map(|i| get(&slot_name(i)))
                .collect::<Result<_>>()?,
        })
    }
}

/// Registers the analyzers the schema names.
pub(crate) fn register_tokenizers(index: &Index) {
    index
        .tokenizers()
        .register(STANDARD, TextAnalyzer::from(StandardTokenizer::default()));
}

/// Where the text of one field path is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextTarget {
    /// A dedicated `t<n>` field.
    Slot(usize),
    /// The shared `txt` JSON field.
    Overflow,
}

/// The text path → slot assignment of one shard index.
#[derive(Debug, Default)]
pub(crate) struct TextSlots {
    inner: RwLock<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    by_path: HashMap<String, usize>,
    order: Vec<String>,
}

impl TextSlots {
    /// From the list recorded in a commit payload (slot n = n-th path).
    pub(crate) fn from_list(list: Vec<String>) -> Self {
        let by_path = list
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i))
            .collect();
        Self {
            inner: RwLock::new(SlotState {
                by_path,
                order: list,
            }),
        }
    }

    /// Takes the assignment of an installed commit (a copy of a leader's segments).
    pub(crate) fn replace(&self, list: Vec<String>) {
        *self.inner.write() = Self::from_list(list).inner.into_inner();
    }

    /// The assignment as recorded in a commit payload.
    pub(crate) fn to_list(&self) -> Vec<String> {
        self.inner.read().order.clone()
    }

    /// Where text of `path` is searched: `None` when no document of this shard has
    /// indexed text there (and the slots are not full).
    pub(crate) fn lookup(&self, path: &str) -> Option<TextTarget> {
        let st = self.inner.read();
        match st.by_path.get(path) {
            Some(&i) => Some(TextTarget::Slot(i)),
            None if st.order.len() >= TEXT_SLOTS => Some(TextTarget::Overflow),
            None => None,
        }
    }

    /// Where text of `path` is indexed, assigning a free slot on first sight.
    pub(crate) fn assign(&self, path: &str) -> TextTarget {
        if let Some(t) = self.lookup(path) {
            return t;
        }
        let mut st = self.inner.write();
        if let Some(&i) = st.by_path.get(path) {
            return TextTarget::Slot(i);
        }
        if st.order.len() >= TEXT_SLOTS {
            return TextTarget::Overflow;
        }
        let i = st.order.len();
        st.order.push(path.to_string());
        st.by_path.insert(path.to_string(), i);
        TextTarget::Slot(i)
    }
}
