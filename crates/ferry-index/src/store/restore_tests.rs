//! Restoring from shard copies on real state files, without Raft: the copy record
//! layout, restore batches (idempotent, newer rows kept), finishing (removal, marks,
//! checkpoints, the history floor) and what the following engine does afterwards.

use bytes::Bytes;
use proptest::prelude::*;

use super::copy::{CopyRecord, write_record};
use super::records::RESTORE_MARKS;
use super::tests::Harness;
use super::*;
use crate::command::{ShardCommand, ShardResponse};
use crate::{CopyReader, ReplicatedOp, ReplicatedOutcome};

impl Harness {
    fn outcome(&mut self, cmd: ShardCommand) -> (ReplicatedOutcome, Vec<SearchChange>) {
        match self.apply_entry(cmd) {
            (ShardResponse::Restored(o) | ShardResponse::Replicated(o), changes) => (o, changes),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn restore(&mut self, session: &str, ops: &[ReplicatedOp]) -> ReplicatedOutcome {
        self.outcome(ShardCommand::RestoreBatch {
            session: session.into(),
            ops: ops.to_vec(),
        })
        .0
    }

    fn finish(&mut self, session: &str, checkpoint: i64) -> (ReplicatedOutcome, Vec<SearchChange>) {
        self.outcome(ShardCommand::FinishRestore {
            session: session.into(),
            checkpoint,
        })
    }

    fn replicate(&mut self, ops: &[ReplicatedOp]) -> ReplicatedOutcome {
        self.outcome(ShardCommand::Replicated { ops: ops.to_vec() })
            .0
    }

    /// (id, seq_no, version, source) of every live document, by id.
    fn docs(&self, ids: &[&str]) -> Vec<(String, u64, u64, Bytes)> {
        ids.iter()
            .filter_map(|id| self.store.get(id).unwrap())
            .map(|d| (d.id, d.seq_no, d.version, d.source))
            .collect()
    }

    fn marks(&self) -> u64 {
        let txn = self.store.db.begin_read().unwrap();
        match txn.open_table(RESTORE_MARKS) {
            Ok(t) => t.len().unwrap(),
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => panic!("{e}"),
        }
    }

    fn superseded(&self) -> Vec<u64> {
        let txn = self.store.db.begin_read().unwrap();
        let t = txn.open_table(SUPERSEDED).unwrap();
        t.iter().unwrap().map(|e| e.unwrap().0.value()).collect()
    }
}

fn op(seq_no: u64, id: &str, source: Option<&str>) -> ReplicatedOp {
    ReplicatedOp {
        seq_no,
        primary_term: 3,
        version: seq_no + 1,
        id: id.into(),
        routing: source.map(|_| "r".to_owned()),
        source: source.map(|s| Bytes::copy_from_slice(s.as_bytes())),
        timestamp_millis: 100 + seq_no,
    }
}

#[test]
fn a_retried_batch_changes_nothing_and_newer_rows_are_kept() {
    let mut n = Harness::new();
    // The follower already has "x" as copied and a newer "b" than the copy.
    n.replicate(&[
        op(0, "b", Some(r#"{"old":1}"#)),
        op(1, "x", Some("{}")),
        op(2, "b", Some(r#"{"new":1}"#)),
    ]);
    let batch = [
        op(1, "x", Some("{}")),
        op(5, "a", Some(r#"{"a":1}"#)),
        op(0, "b", Some(r#"{"old":1}"#)),
    ];
    let first = n.restore("s1", &batch);
    assert_eq!((first.applied, first.skipped), (1, 2));
    let (docs, history, state) = (
        n.docs(&["a", "b", "x"]),
        n.store.history(0, 100, 100).unwrap(),
        n.store.state(),
    );
    let again = n.restore("s1", &batch);
    assert_eq!((again.applied, again.skipped), (0, 3));
    assert_eq!(n.docs(&["a", "b", "x"]), docs);
    assert_eq!(n.store.history(0, 100, 100).unwrap(), history);
    let after = n.store.state();
    assert_eq!(
        (after.live_docs, after.next_seq_no, after.retained_from),
        (state.live_docs, state.next_seq_no, state.retained_from)
    );
    // Batches never move the checkpoint; the restored seq_no counts as seen.
    assert_eq!(
        (again.local_checkpoint, again.max_seq_no),
        (2, 5),
        "{again:?}"
    );
    assert_eq!(n.store.get("b").unwrap().unwrap().seq_no, 2);
    assert_eq!(n.marks(), 3);
}

#[test]
fn finishing_removes_what_the_session_did_not_write_and_hides_older_history() {
    let mut n = Harness::new();
    // A stale follower: d0..d3 at seq_nos 0..3, then d1 deleted at 4; checkpoint 4.
    let stale: Vec<_> = (0..4)
        .map(|i| op(i, &format!("d{i}"), Some(r#"{"old":1}"#)))
        .chain([op(4, "d1", None)])
        .collect();
    n.replicate(&stale);
    // The leader's copy at checkpoint 9: d0 unchanged, d2 rewritten at 7, d3 deleted
    // (not in the copy), d5 new at 9, and d6 at 12 (above the copy's checkpoint).
    let copy = [
        op(0, "d0", Some(r#"{"old":1}"#)),
        op(7, "d2", Some(r#"{"new":2}"#)),
        op(9, "d5", Some(r#"{"new":5}"#)),
        op(12, "d6", Some(r#"{"new":6}"#)),
    ];
    // An abandoned session wrote d3 too.
    n.restore("old", &[op(3, "d3", Some(r#"{"old":1}"#))]);
    n.restore("s", &copy[..2]);
    n.restore("s", &copy[2..]);
    let (finished, changes) = n.finish("s", 9);
    assert_eq!(finished.applied, 1, "d3 removed");
    assert_eq!((finished.local_checkpoint, finished.max_seq_no), (9, 12));
    let ids = ["d0", "d1", "d2", "d3", "d5", "d6"];
    let got: Vec<_> = n.docs(&ids).into_iter().map(|d| (d.0, d.1)).collect();
    let want: Vec<_> = [("d0", 0), ("d2", 7), ("d5", 9), ("d6", 12)]
        .into_iter()
        .map(|(i, s)| (i.to_owned(), s))
        .collect();
    assert_eq!(got, want);
    assert_eq!(n.store.state().live_docs, 4);
    assert_eq!(n.marks(), 0);
    // The search index is told to delete d3.
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.id.as_str(), c.source.is_none()))
            .collect::<Vec<_>>(),
        [("d3", true)]
    );
    // History at or below 9 is not served; the raw history ends d3 with a delete, so
    // re-feeding it into search removes d3 again.
    assert_eq!(n.store.state().retained_from, 10);
    assert!(
        n.store
            .history(0, u64::MAX, 100)
            .unwrap()
            .iter()
            .all(|h| h.seq_no > 9)
    );
    let raw = n.store.changes_after(None, 100).unwrap();
    let last_d3 = raw.iter().rfind(|c| c.id == "d3").unwrap();
    assert_eq!((last_d3.seq_no, last_d3.source.is_none()), (3, true));
    // Everything not a current row is superseded (prunable), the current rows are not.
    let superseded = n.superseded();
    for live in [0, 7, 9, 12] {
        assert!(!superseded.contains(&live), "{live} in {superseded:?}");
    }
    for gone in [1, 2, 3] {
        assert!(superseded.contains(&gone), "{gone} not in {superseded:?}");
    }

    // The leader's later operations continue from 10; d6 at 12 is already in place.
    let later = [
        op(10, "d0", None),
        op(11, "d7", Some("{}")),
        op(12, "d6", Some(r#"{"new":6}"#)),
    ];
    let o = n.replicate(&later);
    assert_eq!((o.applied, o.local_checkpoint, o.max_seq_no), (3, 12, 12));
    assert!(n.store.get("d0").unwrap().is_none());
    assert_eq!(n.store.get("d6").unwrap().unwrap().seq_no, 12);
    assert!(!n.superseded().contains(&12));
    assert_eq!(n.store.state().live_docs, 4);
    let served: Vec<_> = n
        .store
        .history(0, 12, 100)
        .unwrap()
        .iter()
        .map(|h| h.seq_no)
        .collect();
    assert_eq!(served, [10, 11, 12]);
}

#[test]
fn finishing_keeps_pending_seq_nos_above_the_checkpoint_only() {
    let mut n = Harness::new();
    // Processed out of order: 0, then 3, 6 and 11 above the checkpoint.
    n.replicate(&[
        op(0, "a", Some("{}")),
        op(3, "b", Some("{}")),
        op(6, "c", Some("{}")),
        op(11, "e", Some("{}")),
    ]);
    assert_eq!(n.store.state().local_checkpoint(), 0);
    n.restore(
        "s",
        &[
            op(0, "a", Some("{}")),
            op(3, "b", Some("{}")),
            op(6, "c", Some("{}")),
        ],
    );
    // The copy reflects up to 5: pending 3 is dropped, 6 is kept and becomes contiguous.
    let (o, _) = n.finish("s", 5);
    assert_eq!((o.local_checkpoint, o.max_seq_no), (6, 11));
    // e at 11 is above the checkpoint: kept although the session did not write it.
    assert!(n.store.get("e").unwrap().is_some());
    let o = n.replicate(&[op(7, "f", Some("{}")), op(8, "g", Some("{}"))]);
    assert_eq!(o.local_checkpoint, 8);
    let o = n.replicate(&[op(9, "h", Some("{}")), op(10, "i", Some("{}"))]);
    assert_eq!(o.local_checkpoint, 11);
}

#[test]
fn an_empty_finish_only_clears_marks() {
    let mut n = Harness::new();
    n.restore("gone", &[op(4, "a", Some("{}"))]);
    assert_eq!(n.marks(), 1);
    let (o, changes) = n.finish("s", -1);
    assert_eq!((o.applied, o.local_checkpoint, o.max_seq_no), (0, -1, 4));
    assert!(changes.is_empty());
    assert_eq!(n.marks(), 0);
    assert_eq!(n.store.state().retained_from, 0);
    assert!(
        n.store.get("a").unwrap().is_some(),
        "above the checkpoint: kept"
    );
}

#[test]
fn a_copy_is_every_live_document_with_its_history_fields() {
    let mut n = Harness::new();
    n.replicate(&[
        op(0, "a", Some(r#"{"a":1}"#)),
        op(1, "b", Some(r#"{"b":1}"#)),
        op(2, "a", None),
        op(3, "c", Some(r#"{"c":1}"#)),
        op(5, "d", Some(r#"{"d":1}"#)),
    ]);
    let mut out = Vec::new();
    let info = n.store.write_copy(&mut out).unwrap();
    assert_eq!((info.checkpoint, info.max_seq_no, info.docs), (3, 5, 3));
    assert_eq!(info.bytes, out.len() as u64);
    assert_eq!(info.history_uuid, n.store.history_uuid());
    let records: Vec<_> = CopyReader::new(out.as_slice())
        .collect::<crate::Result<_>>()
        .unwrap();
    assert_eq!(
        records,
        [
            op(1, "b", Some(r#"{"b":1}"#)),
            op(3, "c", Some(r#"{"c":1}"#)),
            op(5, "d", Some(r#"{"d":1}"#))
        ]
    );
}

proptest! {
    #[test]
    fn copy_records_decode_as_replicated_ops(
        seq_no in any::<u64>(),
        term in any::<u64>(),
        version in any::<u64>(),
        id in ".{0,16}",
        routing in prop::option::of(".{0,8}"),
        source in prop::option::of(prop::collection::vec(any::<u8>(), 0..300)),
        ts in any::<u64>(),
    ) {
        let rec = CopyRecord {
            seq_no,
            primary_term: term,
            version,
            id: &id,
            routing: routing.as_deref(),
            source: source.as_deref(),
            timestamp_millis: ts,
        };
        let owned = ReplicatedOp {
            seq_no,
            primary_term: term,
            version,
            id: id.clone(),
            routing: routing.clone(),
            source: source.clone().map(Bytes::from),
            timestamp_millis: ts,
        };
        let mut framed = Vec::new();
        let written = write_record(&mut framed, &rec).unwrap();
        prop_assert_eq!(written, framed.len() as u64);
        let encoded = postcard::to_stdvec(&owned).unwrap();
        prop_assert_eq!(&framed[4..], encoded.as_slice());
        let back: Vec<_> = CopyReader::new(framed.as_slice()).collect::<crate::Result<_>>().unwrap();
        prop_assert_eq!(back, vec![owned]);
    }
}

/// Counts the flushes it is asked for.
#[derive(Default)]
struct Flushes {
    bytes: Vec<u8>,
    flushes: usize,
}

impl std::io::Write for Flushes {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

#[test]
fn copy_records_never_flush_their_writer() {
    let mut out = Flushes::default();
    for seq_no in 0..3 {
        let rec = CopyRecord {
            seq_no,
            primary_term: 1,
            version: 1,
            id: "doc",
            routing: None,
            source: Some(b"{}"),
            timestamp_millis: 7,
        };
        write_record(&mut out, &rec).unwrap();
    }
    assert_eq!(
        out.flushes, 0,
        "a flush per record is a write call per document"
    );
    let back: Vec<_> = CopyReader::new(out.bytes.as_slice())
        .collect::<crate::Result<_>>()
        .unwrap();
    assert_eq!(back.len(), 3);
}
