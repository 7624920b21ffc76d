//! The tables of a shard's state file and the postcard records stored in them.
//!
//! | table | key | value |
//! |---|---|---|
//! | `docs` | id | [`DocVersion`]: seq_no, primary term, version, tombstone flag |
//! | `history` | seq_no | [`HistoryRecord`]: id, term, version, kind, source, timestamp, routing |
//! | `superseded` | seq_no | `()`: history entries that are no longer a document's current row |
//! | `leases` | lease id | [`RetentionLease`] |
//! | `restore_marks` | id | restore session that wrote the id (only while a restore runs) |
//! | `meta` | name | [`Identity`], [`ShardState`], [`ReplicaTracker`] (followers), the history floor (restored shards), the last snapshot's metadata |
//!
//! `history` holds the one copy of each document's bytes: a realtime GET reads the
//! `docs` row, then the `history` entry at its seq_no. `superseded` makes pruning a range
//! scan instead of a walk of all history. Decoding borrows from redb's page where it can,
//! so reading a source copies its bytes once. This module knows nothing about Raft.

use redb::TableDefinition;
use serde::{Deserialize, Serialize};

use crate::command::OpKind;
use crate::versioning::DocVersion;
use crate::{IndexError, Result};

pub(crate) const DOCS: TableDefinition<&str, &[u8]> = TableDefinition::new("docs");
pub(crate) const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history");
pub(crate) const SUPERSEDED: TableDefinition<u64, ()> = TableDefinition::new("superseded");
pub(crate) const LEASES: TableDefinition<&str, &[u8]> = TableDefinition::new("leases");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Ids written by a restore session (created on first use, emptied when it finishes).
pub(crate) const RESTORE_MARKS: TableDefinition<&str, &str> = TableDefinition::new("restore_marks");

/// `meta` keys.
pub(crate) const META_IDENTITY: &str = "identity";
pub(crate) const META_STATE: &str = "state";
pub(crate) const META_SNAPSHOT: &str = "snapshot";
/// Written by the first replicated (CCR follower) operation; absent on leaders.
pub(crate) const META_REPLICATED: &str = "replicated";
/// Written by the first finished restore: history below it is not served (a `u64`).
pub(crate) const META_HISTORY_FLOOR: &str = "history_floor";

/// The on-disk format version written in [`Identity`]; bumped on incompatible changes.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// One history entry. `source` is present for index operations only; `routing` is the
/// `_routing` the document was written with (never set on a delete). postcard encodes
/// fields in order without names: a new field goes last, and changing the layout of a
/// record already on disk needs a [`FORMAT_VERSION`] bump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HistoryRecord<'a> {
    #[serde(borrow)]
    pub id: &'a str,
    pub primary_term: u64,
    pub version: u64,
    pub kind: OpKind,
    #[serde(borrow, with = "serde_bytes")]
    pub source: Option<&'a [u8]>,
    pub timestamp_millis: u64,
    #[serde(borrow)]
    pub routing: Option<&'a str>,
}

/// Who this shard state is; written once at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Identity {
    /// On-disk format of this file.
    pub format: u32,
    /// UUID (v4) of this shard's history; a CCR follower checks it on every read.
    pub history_uuid: String,
    /// Creation time, ms since the epoch.
    pub created_millis: u64,
}

/// Where the Raft log stands in this state: the id of the last applied entry.
/// (A copy of openraft's log id, kept here so the store does not depend on openraft.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct RaftPosition {
    pub term: u64,
    pub node_id: u64,
    pub index: u64,
}

/// Counters and pointers updated by every applied entry, in the same transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ShardState {
    /// The last applied Raft entry.
    pub applied: Option<RaftPosition>,
    /// The last applied membership, encoded by the Raft adapter (opaque here).
    pub membership: Vec<u8>,
    /// The seq_no the next operation gets (dense from 0).
    pub next_seq_no: u64,
    /// Live (non-deleted) documents.
    pub live_docs: u64,
    /// Every history entry from this seq_no on is present (pruning went up to here).
    pub retained_from: u64,
}

impl ShardState {
    /// Highest applied seq_no, -1 when none.
    pub fn local_checkpoint(&self) -> i64 {
        i64::try_from(self.next_seq_no).unwrap_or(i64::MAX) - 1
    }
}

/// A follower's progress beyond its local checkpoint: replicated operations may arrive
/// out of order, so the seq_nos processed above the checkpoint are kept until the gap
/// below them closes. Kept in its own `meta` record so leaders' state is unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReplicaTracker {
    /// Processed seq_nos above the local checkpoint (never including `next_seq_no`).
    pub pending: std::collections::BTreeSet<u64>,
    /// Highest seq_no processed by a replicated operation.
    pub max_seq_no: Option<u64>,
}

fn encode_err(e: postcard::Error) -> IndexError {
    IndexError::Storage(format!("encoding a record: {e}"))
}

/// The exact length of `value` encoded, so a record is written with one allocation (or
/// straight into a reserved page) instead of growing a buffer.
fn encoded_len<T: Serialize>(value: &T) -> Result<usize> {
    postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default())
        .map_err(encode_err)
}

/// Encodes a record with postcard, in one allocation of its exact length (growing a
/// vector from empty took seven reallocations for a 300-byte document on every apply).
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_extend(value, Vec::with_capacity(encoded_len(value)?)).map_err(encode_err)
}

/// Writes history row `seq_no`, encoding `rec` straight into the row's page (the
/// document's bytes are copied once, not staged in a vector first).
pub(crate) fn insert_history(
    history: &mut redb::Table<'_, u64, &'static [u8]>,
    seq_no: u64,
    rec: &HistoryRecord<'_>,
) -> Result<()> {
    let mut slot = history
        .insert_reserve(seq_no, encoded_len(rec)?)
        .map_err(db_err)?;
    postcard::to_slice(rec, slot.as_mut()).map_err(encode_err)?;
    Ok(())
}

/// Decodes a record read from disk; a malformed record is a storage error, never a panic.
pub(crate) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| IndexError::Storage(format!("corrupt {what} record: {e}")))
}

/// Decodes a `docs` row.
pub(crate) fn decode_doc(bytes: &[u8]) -> Result<DocVersion> {
    decode(bytes, "document")
}

/// Any redb error as a storage error.
pub(crate) fn db_err(e: impl Into<redb::Error>) -> IndexError {
    IndexError::Storage(e.into().to_string())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn history_records_round_trip(
            id in ".{0,20}",
            term in any::<u64>(),
            version in any::<u64>(),
            source in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
            ts in any::<u64>(),
            routing in prop::option::of(".{0,12}"),
        ) {
            let kind = if source.is_some() { OpKind::Index } else { OpKind::Delete };
            let rec = HistoryRecord {
                id: &id, primary_term: term, version, kind, source: source.as_deref(), timestamp_millis: ts,
                routing: routing.as_deref(),
            };
            let bytes = encode(&rec).unwrap();
            let back: HistoryRecord<'_> = decode(&bytes, "history").unwrap();
            prop_assert_eq!(back, rec);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode::<HistoryRecord<'_>>(&bytes, "history");
            let _ = decode::<ShardState>(&bytes, "state");
            let _ = decode::<ReplicaTracker>(&bytes, "replicated");
            let _ = decode_doc(&bytes);
        }
    }
}
