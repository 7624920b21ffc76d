//! Writing a point-in-time copy of the state: every live document of one redb read
//! transaction, as framed [`ReplicatedOp`] records.
//!
//! One read transaction gives the view (redb's MVCC: the state machine keeps applying
//! meanwhile), so the documents, the local checkpoint and the max seq_no all come from
//! the same applied Raft entry. The documents are the history entries no later operation
//! superseded, minus tombstones: one ascending scan of `history` merged with one of
//! `superseded`, so every page is read once and in order (looking each live id's entry up
//! by its `docs` row instead reads history pages at random, and a shard larger than the
//! page cache then reads them many times over). Each record is encoded from borrowed data straight into
//! the output ([`CopyRecord`] has `ReplicatedOp`'s postcard layout), so a source is read
//! from redb's page and written once, never copied into an owned buffer. The record
//! framing and reading it back are in `crate::copy`; this module knows nothing of
//! sessions or transport.

use std::io::Write;

use redb::{ReadableDatabase, ReadableTable};
use serde::Serialize;
use tracing::warn;

use super::StateStore;
use super::records::{
    HISTORY, HistoryRecord, META, META_REPLICATED, META_STATE, ReplicaTracker, SUPERSEDED,
    ShardState, db_err, decode,
};
use crate::{CopyInfo, IndexError, Result};

/// A part reaches its writer in whole blocks of this size ([`BlockWriter`]).
const OUT_BLOCK: usize = 1 << 20;

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
    postcard::to_io(rec, NoFlush(out))
        .map_err(|e| IndexError::Storage(format!("writing copy record [{}]: {e}", rec.id)))?;
    Ok(4 + len as u64)
}

/// `postcard::to_io` flushes its writer after every value. Records go to a
/// [`BlockWriter`] that must reach the file in whole blocks: flushing it per record made
/// one `write` call per document, each into a new page the kernel zeroed first (most of
/// the leader's CPU while it wrote a copy; docs/benchmarks.md, ninth session).
struct NoFlush<'w, W>(&'w mut W);

impl<W: Write> Write for NoFlush<'_, W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.write(data)
    }

    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.0.write_all(data)
    }

    /// Nothing: the caller flushes once its part is written.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Batches a part's records and hands its writer whole [`OUT_BLOCK`]-byte blocks only, the
/// rest when flushed at the end. Written to a file being created, every write then starts
/// and ends on a page boundary, so the kernel never zeroes the part of a new page-cache
/// page a write leaves uncovered only for the next write to fill it (a `BufWriter` writes
/// whatever it holds as soon as the next piece does not fit, at any offset).
struct BlockWriter<W> {
    out: W,
    block: Vec<u8>,
}

impl<W: Write> BlockWriter<W> {
    fn new(out: W) -> Self {
        Self {
            out,
            block: Vec::with_capacity(OUT_BLOCK),
        }
    }
}

impl<W: Write> Write for BlockWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(OUT_BLOCK - self.block.len());
        self.block.extend_from_slice(&data[..n]);
        if self.block.len() == OUT_BLOCK {
            self.out.write_all(&self.block)?;
            self.block.clear();
        }
        Ok(n)
    }

    /// Writes the partial block held (only the end of a part is flushed).
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.block.is_empty() {
            self.out.write_all(&self.block)?;
            self.block.clear();
        }
        self.out.flush()
    }
}

impl StateStore {
    /// Writes every live document of one consistent view to `out` (blocking IO).
    #[cfg(test)]
    pub fn write_copy(&self, out: &mut (dyn Write + Send)) -> Result<CopyInfo> {
        self.write_copy_parts(&mut [out])
    }

    /// Writes every live document of one consistent view as `outs.len()` parts, one
    /// thread each: part `i` holds the documents of the `i`-th of as many contiguous
    /// seq_no ranges, so the parts concatenated in order are byte for byte what
    /// [`Self::write_copy`] writes. The sums in the answer are over all parts.
    pub fn write_copy_parts(&self, outs: &mut [&mut (dyn Write + Send)]) -> Result<CopyInfo> {
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
        let history = txn.open_table(HISTORY).map_err(db_err)?;
        let superseded = txn.open_table(SUPERSEDED).map_err(db_err)?;
        let first = history.first().map_err(db_err)?.map(|(k, _)| k.value());
        let last = history.last().map_err(db_err)?.map(|(k, _)| k.value());
        let bounds = part_bounds(first.zip(last), outs.len());
        let (tables, bounds) = ((&history, &superseded), &bounds);
        let written: Vec<Result<(u64, u64)>> = std::thread::scope(|scope| {
            let mut parts = outs.iter_mut().enumerate();
            let head = parts.next();
            let others: Vec<_> = parts
                .map(|(i, out)| scope.spawn(move || write_part(tables, bounds[i], &mut **out)))
                .collect();
            let mut written: Vec<_> = head
                .map(|(i, out)| write_part(tables, bounds[i], &mut **out))
                .into_iter()
                .collect();
            written.extend(others.into_iter().map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(IndexError::Storage("a copy thread panicked".into())))
            }));
            written
        });
        let (mut written_docs, mut bytes) = (0u64, 0u64);
        for part in written {
            let (docs, part_bytes) = part?;
            written_docs += docs;
            bytes += part_bytes;
        }
        if written_docs != state.live_docs {
            warn!(
                written_docs,
                live_docs = state.live_docs,
                "a shard copy holds a different number of documents than the shard counts"
            );
        }
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

/// The seq_no range of each of `parts` parts of history spanning `span` (`None` past the
/// last part or for an empty history): contiguous, ascending, together covering `span`.
fn part_bounds(span: Option<(u64, u64)>, parts: usize) -> Vec<Option<(u64, u64)>> {
    let parts = parts.max(1) as u64;
    let Some((first, last)) = span else {
        return vec![None; parts as usize];
    };
    let width = (last - first) / parts + 1;
    (0..parts)
        .map(|i| {
            let start = first.saturating_add(i.saturating_mul(width));
            (start <= last).then(|| (start, start.saturating_add(width - 1).min(last)))
        })
        .collect()
}

type CopyTables<'t> = (
    &'t redb::ReadOnlyTable<u64, &'static [u8]>,
    &'t redb::ReadOnlyTable<u64, ()>,
);

/// Writes the live documents with a seq_no in `range` (inclusive) to `out`, in seq_no
/// order; answers the documents and bytes written.
fn write_part(
    (history, superseded): CopyTables<'_>,
    range: Option<(u64, u64)>,
    out: &mut dyn Write,
) -> Result<(u64, u64)> {
    let Some((from, to)) = range else {
        return Ok((0, 0));
    };
    let mut superseded = superseded.range(from..=to).map_err(db_err)?;
    let mut next_superseded = next_key(&mut superseded)?;
    let mut out = BlockWriter::new(out);
    let (mut written_docs, mut bytes) = (0u64, 0u64);
    for entry in history.range(from..=to).map_err(db_err)? {
        let (seq_no, entry) = entry.map_err(db_err)?;
        let seq_no = seq_no.value();
        while next_superseded.is_some_and(|s| s < seq_no) {
            next_superseded = next_key(&mut superseded)?;
        }
        if next_superseded == Some(seq_no) {
            continue; // overwritten or deleted since
        }
        let rec: HistoryRecord<'_> = decode(entry.value(), "history")?;
        // The current entry of a deleted id: its tombstone, not a document.
        let Some(source) = rec.source else { continue };
        bytes += write_record(
            &mut out,
            &CopyRecord {
                seq_no,
                primary_term: rec.primary_term,
                version: rec.version,
                id: rec.id,
                routing: rec.routing,
                source: Some(source),
                timestamp_millis: rec.timestamp_millis,
            },
        )?;
        written_docs += 1;
    }
    out.flush().map_err(IndexError::storage)?;
    Ok((written_docs, bytes))
}

/// The next key of the superseded set.
fn next_key(superseded: &mut redb::Range<'_, u64, ()>) -> Result<Option<u64>> {
    let next = superseded.next().transpose().map_err(db_err)?;
    Ok(next.map(|(key, _)| key.value()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::{BlockWriter, OUT_BLOCK, part_bounds};

    /// Records the size of every write it is handed.
    #[derive(Default)]
    struct Writes {
        bytes: Vec<u8>,
        sizes: Vec<usize>,
    }

    impl Write for Writes {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.bytes.extend_from_slice(data);
            self.sizes.push(data.len());
            Ok(data.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn block_writer_writes_whole_blocks_then_the_rest() {
        let data: Vec<u8> = (0..OUT_BLOCK * 2 + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut w = BlockWriter::new(Writes::default());
        // Pieces of odd sizes, as records arrive.
        for piece in data.chunks(65_521) {
            w.write_all(piece).unwrap();
        }
        w.flush().unwrap();
        w.flush().unwrap();
        assert_eq!(w.out.bytes, data);
        assert_eq!(w.out.sizes, [OUT_BLOCK, OUT_BLOCK, 12_345]);
    }

    #[test]
    fn part_bounds_cut_the_span_into_contiguous_ranges() {
        assert_eq!(part_bounds(None, 2), vec![None, None]);
        assert_eq!(part_bounds(Some((0, 9)), 1), vec![Some((0, 9))]);
        assert_eq!(
            part_bounds(Some((0, 9)), 2),
            vec![Some((0, 4)), Some((5, 9))]
        );
        assert_eq!(
            part_bounds(Some((3, 12)), 3),
            vec![Some((3, 6)), Some((7, 10)), Some((11, 12))]
        );
        assert_eq!(
            part_bounds(Some((5, 6)), 4),
            vec![Some((5, 5)), Some((6, 6)), None, None]
        );
        assert_eq!(part_bounds(Some((7, 7)), 0), vec![Some((7, 7))]);
        let wide = part_bounds(Some((0, u64::MAX)), 3);
        assert_eq!(wide.first().copied().flatten().map(|r| r.0), Some(0));
        assert_eq!(wide.last().copied().flatten().map(|r| r.1), Some(u64::MAX));
    }
}
