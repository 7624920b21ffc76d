//! Writing a point-in-time copy of the state: every live document of one redb read
//! transaction, as framed [`ReplicatedOp`] records.
//!
//! One read transaction gives the view (redb's MVCC: the state machine keeps applying
//! meanwhile), so the documents, the local checkpoint and the max seq_no all come from
//! the same applied Raft entry. Each record is encoded from borrowed data straight into
//! the output ([`CopyRecord`] has `ReplicatedOp`'s postcard layout), so a source is read
//! from redb's page and written once, never copied into an owned buffer. The record
//! framing and reading it back are in `crate::copy`; this module knows nothing of
//! sessions or transport.

use std::io::Write;

use redb::{ReadableDatabase, ReadableTable};
use serde::Serialize;

use super::StateStore;
use super::records::{
    DOCS, HISTORY, HistoryRecord, META, META_REPLICATED, META_STATE, ReplicaTracker, ShardState,
    db_err, decode, decode_doc,
};
use crate::{CopyInfo, IndexError, Result};

/// Output buffer: small records are batched, a source larger than this bypasses it.
const OUT_BUFFER: usize = 64 * 1024;

/// A document as a copy record: the same fields, in the same order and with the same
/// serde shapes, as [`crate::ReplicatedOp`] (so it decodes as one), but borrowed.
#[derive(Debug, Serialize)]
pub(crate) struct CopyRecord<'a> {
    pub seq_no: u64,
    pub primary_term: u64,
    pub version: u64,
    pub id: &'a str,
    pub routing: Option<&'a str>,
    #[serde(with = "serde_bytes")]
    pub source: Option<&'a [u8]>,
    pub timestamp_millis: u64,
}

/// Writes one framed record (`u32` LE length, then postcard); answers the bytes written.
pub(crate) fn write_record(out: &mut impl Write, rec: &CopyRecord<'_>) -> Result<u64> {
    let len: usize =
        postcard::serialize_with_flavor(rec, postcard::ser_flavors::Size::default())
            .map_err(|e| IndexError::Storage(format!("sizing copy record [{}]: {e}", rec.id)))?;
    let frame = u32::try_from(len).map_err(|_| {
        IndexError::Storage(format!(
            "document [{}] is too large for a copy record ({len} bytes)",
            rec.id
        ))
    })?;
    out.write_all(&frame.to_le_bytes())
        .map_err(IndexError::storage)?;
    postcard::to_io(rec, &mut *out)
        .map_err(|e| IndexError::Storage(format!("writing copy record [{}]: {e}", rec.id)))?;
    Ok(4 + len as u64)
}

impl StateStore {
    /// Writes every live document of one consistent view to `out` (blocking IO).
    pub fn write_copy(&self, out: &mut dyn Write) -> Result<CopyInfo> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let (state, tracker) = {
            let meta = txn.open_table(META).map_err(db_err)?;
            let state: ShardState = match meta.get(META_STATE).map_err(db_err)? {
                Some(v) => decode(v.value(), "state")?,
                None => {
                    return Err(IndexError::Storage(
                        "shard state has no [state] record".into(),
                    ));
                }
            };
            let tracker: ReplicaTracker = match meta.get(META_REPLICATED).map_err(db_err)? {
                Some(v) => decode(v.value(), "replicated")?,
                None => ReplicaTracker::default(),
            };
            (state, tracker)
        };
        let docs = txn.open_table(DOCS).map_err(db_err)?;
        let history = txn.open_table(HISTORY).map_err(db_err)?;
        let mut out = std::io::BufWriter::with_capacity(OUT_BUFFER, out);
        let (mut written_docs, mut bytes) = (0u64, 0u64);
        for entry in docs.iter().map_err(db_err)? {
            let (id, row) = entry.map_err(db_err)?;
            let row = decode_doc(row.value())?;
            if row.deleted {
                continue;
            }
            let id = id.value();
            let entry = history.get(row.seq_no).map_err(db_err)?.ok_or_else(|| {
                IndexError::Storage(format!(
                    "document [{id}] points at missing history entry {}",
                    row.seq_no
                ))
            })?;
            let rec: HistoryRecord<'_> = decode(entry.value(), "history")?;
            let Some(source) = rec.source else {
                return Err(IndexError::Storage(format!(
                    "live document [{id}] points at a delete ({})",
                    row.seq_no
                )));
            };
            bytes += write_record(
                &mut out,
                &CopyRecord {
                    seq_no: row.seq_no,
                    primary_term: row.primary_term,
                    version: row.version,
                    id,
                    routing: rec.routing,
                    source: Some(source),
                    timestamp_millis: rec.timestamp_millis,
                },
            )?;
            written_docs += 1;
        }
        out.flush().map_err(IndexError::storage)?;
        let checkpoint = state.local_checkpoint();
        let max_seq_no = tracker
            .max_seq_no
            .map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX))
            .max(checkpoint);
        Ok(CopyInfo {
            checkpoint,
            max_seq_no,
            docs: written_docs,
            bytes,
            history_uuid: self.identity.history_uuid.clone(),
        })
    }
}
