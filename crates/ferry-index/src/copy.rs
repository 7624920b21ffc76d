//! Point-in-time copies of a shard for CCR bootstrap ("remote recovery"), and restoring a
//! follower shard from one.
//!
//! A copy is every live document of one consistent view of the shard state, written as a
//! stream of framed records (`u32` little-endian length, then the postcard encoding of a
//! [`ReplicatedOp`] carrying the document's `_seq_no`, `_primary_term`, `_version`,
//! routing, source and apply timestamp). Restoring applies such records to a follower
//! shard under a session id and, at the end, makes the shard hold exactly the copy's
//! documents up to the copy's checkpoint. The stream has no header and no checksum: a
//! reader recognises a truncated or malformed record, not flipped bits inside one.
//!
//! Deliberately not here: sessions, chunking, checksums and transport (ferry-replication);
//! how the state is read and changed (`store::copy`, `store::restore`, `shard::restore`).

use std::io::Read;

use crate::{IndexError, ReplicatedOp, ReplicatedOutcome, Result, Shard};

/// What a written copy holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyInfo {
    /// Every seq_no up to here is reflected in the copy (-1: empty shard).
    pub checkpoint: i64,
    /// The shard's highest seq_no at the copy (-1: none).
    pub max_seq_no: i64,
    /// Documents written.
    pub docs: u64,
    /// Bytes written.
    pub bytes: u64,
    /// The shard's history UUID.
    pub history_uuid: String,
}

/// Reads the records of a copy stream, in order. Ends at a clean end of the stream; a
/// truncated or malformed record is one `Err` item, after which the reader ends.
pub struct CopyReader<R> {
    input: R,
    /// Records read so far (for error messages).
    records: u64,
    /// Bytes consumed so far (for error messages).
    offset: u64,
    /// An error or the end was reached.
    done: bool,
}

impl<R: std::io::Read> CopyReader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> Self {
        Self {
            input,
            records: 0,
            offset: 0,
            done: false,
        }
    }

    fn corrupt(&self, what: impl std::fmt::Display) -> IndexError {
        IndexError::IllegalArgument(format!(
            "corrupt shard copy: record {} at byte {}: {what}",
            self.records, self.offset
        ))
    }

    /// The next record, `None` at a clean end.
    fn read_record(&mut self) -> Result<Option<ReplicatedOp>> {
        let mut header = [0u8; 4];
        let mut filled = 0;
        while filled < header.len() {
            match self.input.read(&mut header[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => {
                    return Err(self.corrupt(format!("truncated length ({filled} of 4 bytes)")));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(IndexError::Storage(format!("reading a shard copy: {e}"))),
            }
        }
        let len = u64::from(u32::from_le_bytes(header));
        // Grows with the bytes actually there: a corrupt length allocates nothing extra.
        let mut buf = Vec::new();
        (&mut self.input)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| IndexError::Storage(format!("reading a shard copy: {e}")))?;
        if (buf.len() as u64) < len {
            return Err(self.corrupt(format!("truncated record ({} of {len} bytes)", buf.len())));
        }
        let op = match postcard::take_from_bytes::<ReplicatedOp>(&buf) {
            Ok((op, [])) => op,
            Ok((_, rest)) => {
                return Err(self.corrupt(format!("{} bytes after the record", rest.len())));
            }
            Err(e) => return Err(self.corrupt(e)),
        };
        self.records += 1;
        self.offset += 4 + len;
        Ok(Some(op))
    }
}

impl<R: std::io::Read> Iterator for CopyReader<R> {
    type Item = Result<ReplicatedOp>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_record() {
            Ok(Some(op)) => Some(Ok(op)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Refuses an empty restore session id.
fn check_session(session: &str) -> Result<()> {
    if session.is_empty() {
        return Err(IndexError::IllegalArgument(
            "a restore session id must not be empty".into(),
        ));
    }
    Ok(())
}

impl Shard {
    /// Writes a point-in-time copy of the shard's live documents to `out` (blocking IO;
    /// call from a blocking context). One redb read transaction is the view: writes
    /// applied meanwhile are not in it, and [`CopyInfo::checkpoint`] is that view's local
    /// checkpoint. `out` is handed whole 1 MiB blocks and the rest at the end (it needs
    /// no buffer of its own).
    pub fn write_copy(&self, out: &mut (dyn std::io::Write + Send)) -> Result<CopyInfo> {
        self.copy_state(&mut [out])
    }

    /// [`Self::write_copy`] cut into `outs.len()` parts written by as many threads: the
    /// parts concatenated in order are the copy, byte for byte (the documents are in
    /// `_seq_no` order, part `i` holding the `i`-th of as many contiguous ranges).
    pub fn write_copy_parts(
        &self,
        outs: &mut [&mut (dyn std::io::Write + Send)],
    ) -> Result<CopyInfo> {
        self.copy_state(outs)
    }

    /// Applies records of a copy under restore `session` (idempotent). One Raft entry:
    /// for each record, the document's row becomes the record unless the row's seq_no is
    /// as high already; the id is marked as written by `session` either way. The local
    /// checkpoint does not move until [`Self::finish_restore`].
    pub async fn restore_batch(&self, session: &str, ops: Vec<ReplicatedOp>) -> Result<()> {
        check_session(session)?;
        if ops.is_empty() {
            return Ok(());
        }
        self.restore_records(session, ops).await.map(|_| ())
    }

    /// Ends restore `session`: documents at or below `checkpoint` that the session did
    /// not write are removed, and the local checkpoint becomes at least `checkpoint`.
    /// Also clears every session's marks, and makes this shard's history at or below
    /// `checkpoint` unavailable to readers ([`Self::min_retained_seq_no`] is above it).
    /// The outcome's `applied` counts the documents removed; `checkpoint` -1 (an empty
    /// copy) removes nothing.
    pub async fn finish_restore(
        &self,
        session: &str,
        checkpoint: i64,
    ) -> Result<ReplicatedOutcome> {
        check_session(session)?;
        if checkpoint < -1 {
            return Err(IndexError::IllegalArgument(format!(
                "a restore checkpoint must be -1 or more, got [{checkpoint}]"
            )));
        }
        self.finish_restore_session(session, checkpoint).await
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;

    /// A framed stream of `n` records, and where each record ends.
    fn stream(n: u64) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::new();
        let mut ends = Vec::new();
        for i in 0..n {
            let op = ReplicatedOp {
                seq_no: i,
                primary_term: 1,
                version: 1,
                id: format!("d{i}"),
                routing: None,
                source: Some(Bytes::from(format!(r#"{{"n":{i}}}"#))),
                timestamp_millis: 9,
            };
            let body = postcard::to_stdvec(&op).unwrap();
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&body);
            ends.push(out.len());
        }
        (out, ends)
    }

    #[test]
    fn truncated_or_corrupt_copy_streams_are_errors() {
        let (bytes, ends) = stream(3);
        for cut in 0..=bytes.len() {
            let items: Vec<_> = CopyReader::new(&bytes[..cut]).collect();
            let whole = ends.iter().filter(|e| **e <= cut).count();
            assert!(items[..whole].iter().all(|r| r.is_ok()), "cut at {cut}");
            if cut == 0 || ends.contains(&cut) {
                assert_eq!(items.len(), whole, "cut at {cut}");
            } else {
                assert_eq!(items.len(), whole + 1, "cut at {cut}");
                let e = items[whole].as_ref().unwrap_err();
                assert!(e.to_string().contains("truncated"), "{e}");
            }
        }
        // A frame longer than its record, and a record that does not decode.
        let mut padded = bytes[..ends[0]].to_vec();
        let len = u32::from_le_bytes(padded[..4].try_into().unwrap()) + 1;
        padded[..4].copy_from_slice(&len.to_le_bytes());
        padded.push(0);
        let mut garbage = 3u32.to_le_bytes().to_vec();
        garbage.extend_from_slice(&[0xff, 0xff, 0xff]);
        for bad in [padded, garbage] {
            let items: Vec<_> = CopyReader::new(bad.as_slice()).collect();
            assert_eq!(items.len(), 1);
            let e = items[0].as_ref().unwrap_err();
            assert_eq!(e.es_type(), "illegal_argument_exception");
            assert!(e.to_string().starts_with("corrupt shard copy"), "{e}");
        }
    }

    proptest! {
        #[test]
        fn any_bytes_read_as_records_or_one_error(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let items: Vec<_> = CopyReader::new(bytes.as_slice()).take(1_000).collect();
            let errors = items.iter().filter(|r| r.is_err()).count();
            prop_assert!(errors <= 1);
            if errors == 1 {
                prop_assert!(items.last().unwrap().is_err());
            }
        }
    }
}
