//! State-machine tests on a real state file, without Raft: write rules, history,
//! leases, and property tests of pruning against a model.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::command::{AppliedWrite, Changes, OpError, ShardCommand, ShardResponse};
use crate::{Conditions, DeleteOp, IndexOp, UpdateOp, WriteOp, WriteResult};

/// A state store fed Raft entries by hand (shared with the other store tests).
pub(super) struct Harness {
    pub(super) store: StateStore,
    index: u64,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub(super) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::create(&dir.path().join("state.redb"), 0).unwrap();
        Self {
            store,
            index: 0,
            _dir: dir,
        }
    }

    /// Applies `cmd` as the next Raft entry; answers its response and search changes.
    pub(super) fn apply_entry(&mut self, cmd: ShardCommand) -> (ShardResponse, Vec<SearchChange>) {
        self.index += 1;
        let item = ApplyItem {
            position: RaftPosition {
                term: 1,
                node_id: 1,
                index: self.index,
            },
            payload: ApplyPayload::Command(cmd),
        };
        let (mut responses, changes) = self.store.apply(vec![item], Changes::new(true)).unwrap();
        (responses.remove(0), changes)
    }

    fn apply(&mut self, cmd: ShardCommand) -> ShardResponse {
        self.apply_entry(cmd).0
    }

    fn write(&mut self, ops: Vec<WriteOp>) -> Vec<Result<AppliedWrite, OpError>> {
        match self.apply(ShardCommand::Write {
            timestamp_millis: 1_000,
            ops,
        }) {
            ShardResponse::Writes(r) => r,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn one(&mut self, op: WriteOp) -> Result<AppliedWrite, OpError> {
        self.write(vec![op]).remove(0)
    }

    fn prune(&mut self, now: u64, period: u64) -> crate::command::PruneReport {
        match self.apply(ShardCommand::Prune {
            timestamp_millis: now,
            lease_period_millis: period,
        }) {
            ShardResponse::Pruned(r) => r,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn lease(&mut self, cmd: ShardCommand) -> Result<Option<RetentionLease>, OpError> {
        match self.apply(cmd) {
            ShardResponse::Lease(r) => r,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn history_seq_nos(&self) -> Vec<u64> {
        self.store
            .history(0, u64::MAX, usize::MAX)
            .unwrap()
            .iter()
            .map(|o| o.seq_no)
            .collect()
    }
}

fn index(id: &str, source: &str) -> WriteOp {
    WriteOp::Index(IndexOp {
        id: id.into(),
        source: Bytes::copy_from_slice(source.as_bytes()),
        create: false,
        cond: Conditions::default(),
        routing: None,
    })
}

fn create(id: &str, source: &str) -> WriteOp {
    let WriteOp::Index(mut op) = index(id, source) else {
        unreachable!()
    };
    op.create = true;
    WriteOp::Index(op)
}

fn delete(id: &str) -> WriteOp {
    WriteOp::Delete(DeleteOp {
        id: id.into(),
        cond: Conditions::default(),
    })
}

fn update(id: &str, doc: Option<&str>, upsert: Option<&str>, doc_as_upsert: bool) -> WriteOp {
    WriteOp::Update(UpdateOp {
        id: id.into(),
        doc: doc.map(|d| Bytes::copy_from_slice(d.as_bytes())),
        upsert: upsert.map(|d| Bytes::copy_from_slice(d.as_bytes())),
        doc_as_upsert,
        detect_noop: true,
        cond: Conditions::default(),
        routing: None,
    })
}

fn summary(r: &Result<AppliedWrite, OpError>) -> (WriteResult, u64, u64) {
    let w = r.as_ref().unwrap();
    (w.result, w.seq_no, w.version)
}

#[test]
fn seq_nos_are_dense_and_versions_continue_past_deletes() {
    let mut h = Harness::new();
    let r = h.write(vec![
        index("1", r#"{"a":1}"#),
        index("1", r#"{"a":2}"#),
        delete("1"),
        delete("1"),
        create("1", r#"{"a":3}"#),
        create("1", r#"{"a":4}"#),
        index("2", r#"{"b":1}"#),
    ]);
    use WriteResult::*;
    assert_eq!(summary(&r[0]), (Created, 0, 1));
    assert_eq!(summary(&r[1]), (Updated, 1, 2));
    assert_eq!(summary(&r[2]), (Deleted, 2, 3));
    assert_eq!(summary(&r[3]), (NotFound, 3, 4));
    assert_eq!(summary(&r[4]), (Created, 4, 5));
    assert!(
        matches!(&r[5], Err(OpError::VersionConflict(m)) if m.contains("document already exists (current version [5])"))
    );
    // The failed create consumed no seq_no.
    assert_eq!(summary(&r[6]), (Created, 5, 1));
    assert!(r.iter().flatten().all(|w| w.primary_term == 1));
    let doc = h.store.get("1").unwrap().unwrap();
    assert_eq!(
        (doc.seq_no, doc.version, &doc.source[..]),
        (4, 5, &br#"{"a":3}"#[..])
    );
    let state = h.store.state();
    assert_eq!(
        (state.next_seq_no, state.live_docs, state.local_checkpoint()),
        (6, 2, 5)
    );
    assert_eq!(state.applied.map(|a| a.index), Some(1));
}

#[test]
fn history_keeps_overwrites_and_deletes() {
    let mut h = Harness::new();
    h.write(vec![
        index("1", r#"{"a":1}"#),
        update("1", Some(r#"{"b":2}"#), None, false),
        delete("1"),
    ]);
    let ops = h.store.history(0, u64::MAX, 10).unwrap();
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[0].source.as_deref(), Some(&br#"{"a":1}"#[..]));
    assert_eq!(ops[1].source.as_deref(), Some(&br#"{"a":1,"b":2}"#[..]));
    assert_eq!((ops[2].source.as_deref(), ops[2].version), (None, 3));
    assert!(
        ops.iter()
            .all(|o| o.id == "1" && o.timestamp_millis == 1_000)
    );
    assert_eq!(h.store.history(1, 1, 10).unwrap().len(), 1);
    assert!(h.store.get("1").unwrap().is_none());
}

#[test]
fn update_merge_noop_upsert_and_missing() {
    let mut h = Harness::new();
    let missing = h.one(update("1", Some(r#"{"a":1}"#), None, false));
    assert_eq!(
        missing,
        Err(OpError::DocumentMissing("[1]: document missing".into()))
    );
    let up = h
        .one(update(
            "1",
            Some(r#"{"a":1}"#),
            Some(r#"{"u":true}"#),
            false,
        ))
        .unwrap();
    assert_eq!(
        (up.result, up.seq_no, up.version),
        (WriteResult::Created, 0, 1)
    );
    assert_eq!(up.source.as_deref(), Some(&br#"{"u":true}"#[..]));
    let merged = h
        .one(update("1", Some(r#"{"o":{"x":1}}"#), None, false))
        .unwrap();
    assert_eq!(merged.result, WriteResult::Updated);
    assert_eq!(
        h.store.get("1").unwrap().unwrap().source,
        Bytes::from_static(br#"{"u":true,"o":{"x":1}}"#)
    );
    let noop = h
        .one(update("1", Some(r#"{"o":{"x":1}}"#), None, false))
        .unwrap();
    assert_eq!(
        (noop.result, noop.seq_no, noop.version),
        (WriteResult::Noop, 1, 2)
    );
    // No seq_no consumed by the noop.
    let as_upsert = h.one(update("2", Some(r#"{"d":1}"#), None, true)).unwrap();
    assert_eq!(
        (as_upsert.result, as_upsert.seq_no),
        (WriteResult::Created, 2)
    );
    let WriteOp::Update(mut forced) = update("1", Some(r#"{"o":{"x":1}}"#), None, false) else {
        unreachable!()
    };
    forced.detect_noop = false;
    let forced = h.one(WriteOp::Update(forced)).unwrap();
    assert_eq!(
        (forced.result, forced.seq_no, forced.version),
        (WriteResult::Updated, 3, 3)
    );
    let WriteOp::Update(mut stale) = update("1", Some(r#"{"z":1}"#), None, false) else {
        unreachable!()
    };
    stale.cond = Conditions {
        if_seq_no: Some(0),
        if_primary_term: Some(1),
        ..Default::default()
    };
    assert!(matches!(
        h.one(WriteOp::Update(stale)),
        Err(OpError::VersionConflict(_))
    ));
}

#[test]
fn lease_add_renew_remove() {
    let mut h = Harness::new();
    let add = |id: &str, r: u64| ShardCommand::AddLease {
        id: id.into(),
        retaining_seq_no: r,
        source: "ccr".into(),
        timestamp_millis: 5,
    };
    let renew = |id: &str, r: u64| ShardCommand::RenewLease {
        id: id.into(),
        retaining_seq_no: r,
        source: "ccr".into(),
        timestamp_millis: 9,
    };
    assert_eq!(h.lease(add("a", 3)).unwrap().unwrap().retaining_seq_no, 3);
    assert!(matches!(
        h.lease(add("a", 3)),
        Err(OpError::LeaseAlreadyExists(_))
    ));
    assert!(matches!(
        h.lease(renew("b", 3)),
        Err(OpError::LeaseNotFound(_))
    ));
    assert!(matches!(
        h.lease(renew("a", 2)),
        Err(OpError::IllegalArgument(_))
    ));
    let renewed = h.lease(renew("a", 7)).unwrap().unwrap();
    assert_eq!((renewed.retaining_seq_no, renewed.timestamp_millis), (7, 9));
    assert_eq!(h.store.leases().unwrap(), vec![renewed]);
    assert_eq!(
        h.lease(ShardCommand::RemoveLease { id: "a".into() }),
        Ok(None)
    );
    assert!(matches!(
        h.lease(ShardCommand::RemoveLease { id: "a".into() }),
        Err(OpError::LeaseNotFound(_))
    ));
    assert!(h.store.leases().unwrap().is_empty());
}

#[test]
fn pruning_respects_leases_live_rows_and_expiry() {
    let mut h = Harness::new();
    // seq 0..=5: id 1 overwritten three times, id 2 deleted, id 3 live.
    h.write(vec![
        index("1", "{}"),
        index("1", "{}"),
        index("2", "{}"),
        index("1", "{}"),
        delete("2"),
        index("3", "{}"),
    ]);
    let add = ShardCommand::AddLease {
        id: "f".into(),
        retaining_seq_no: 1,
        source: "ccr".into(),
        timestamp_millis: 100,
    };
    h.lease(add).unwrap();
    // The lease retains 1..: only seq 0 (superseded) goes.
    let r = h.prune(150, 100);
    assert_eq!(
        (r.pruned_ops, r.expired_leases.len(), r.retained_from),
        (1, 0, 1)
    );
    assert_eq!(h.history_seq_nos(), [1, 2, 3, 4, 5]);
    // Renewed further on: seq 1 and 2 (superseded, below 3) go; seq 5 is superseded by
    // seq 6 but retained.
    let renew = ShardCommand::RenewLease {
        id: "f".into(),
        retaining_seq_no: 3,
        source: "ccr".into(),
        timestamp_millis: 150,
    };
    h.lease(renew).unwrap();
    h.write(vec![index("3", "{}")]);
    let r = h.prune(200, 100);
    assert_eq!((r.pruned_ops, r.retained_from), (2, 3));
    assert_eq!(h.history_seq_nos(), [3, 4, 5, 6]);
    assert_eq!(h.prune(200, 100).pruned_ops, 0, "idempotent");
    // The lease expires (150 + 100 < 251): everything superseded goes; current rows
    // (live 1 and 3, tombstone 2) stay.
    let r = h.prune(251, 100);
    assert_eq!(r.expired_leases, vec!["f".to_owned()]);
    assert_eq!((r.pruned_ops, r.retained_from), (1, 7));
    assert_eq!(h.history_seq_nos(), [3, 4, 6]);
    assert!(h.store.leases().unwrap().is_empty());
    assert_eq!(h.store.get("1").unwrap().unwrap().seq_no, 3);
    assert_eq!(
        h.store
            .doc_version("2")
            .unwrap()
            .map(|r| (r.seq_no, r.deleted)),
        Some((4, true))
    );
}

#[derive(Debug, Clone)]
enum Step {
    Index(u8),
    Delete(u8),
    Update(u8),
    Lease(u64),
    Prune(u64),
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..4).prop_map(Step::Index),
        2 => (0u8..4).prop_map(Step::Delete),
        2 => (0u8..4).prop_map(Step::Update),
        1 => (0u64..30).prop_map(Step::Lease),
        2 => (0u64..400).prop_map(Step::Prune),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the history of writes, leases and prunes: seq_nos are dense, every
    /// operation a held lease retains is present, current rows are never pruned,
    /// pruning twice prunes nothing more, and once no lease is held (after expiry)
    /// only current rows remain below the checkpoint.
    #[test]
    fn pruning_invariants(steps in prop::collection::vec(arb_step(), 1..40)) {
        let mut h = Harness::new();
        let mut model: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut successes = 0u64;
        let mut clock = 0u64;
        let period = 100;
        for (n, step) in steps.into_iter().enumerate() {
            clock += 10;
            match step {
                Step::Index(i) | Step::Update(i) | Step::Delete(i) => {
                    let id = format!("d{i}");
                    let body = format!(r#"{{"n":{n}}}"#);
                    let op = match step {
                        Step::Index(_) => index(&id, &body),
                        Step::Update(_) => update(&id, Some(&body), Some(&body), false),
                        _ => delete(&id),
                    };
                    let r = h.write(vec![op]).remove(0).unwrap();
                    prop_assert_eq!(r.seq_no, successes);
                    successes += 1;
                    // Index, update-or-upsert (every body differs, so never a noop): the
                    // body; delete: nothing.
                    let expected = (!matches!(step, Step::Delete(_))).then(|| body.clone());
                    model.insert(id, expected);
                }
                Step::Lease(r) => {
                    let cmd = ShardCommand::AddLease { id: "l".into(), retaining_seq_no: r, source: "ccr".into(), timestamp_millis: clock };
                    if h.lease(cmd).is_err() {
                        let renew = ShardCommand::RenewLease { id: "l".into(), retaining_seq_no: r, source: "ccr".into(), timestamp_millis: clock };
                        let _ = h.lease(renew);
                    }
                }
                Step::Prune(advance) => {
                    clock += advance;
                    let held = h.store.leases().unwrap();
                    let before = h.history_seq_nos();
                    let report = h.prune(clock, period);
                    let again = h.prune(clock, period);
                    prop_assert_eq!(again.pruned_ops, 0);
                    let present = h.history_seq_nos();
                    // A held lease keeps everything still there from its seq_no on
                    // (a lease cannot bring back what an earlier prune removed).
                    let kept: Vec<_> = held.iter().filter(|l| !report.expired_leases.contains(&l.id)).collect();
                    for l in &kept {
                        for s in before.iter().filter(|s| **s >= l.retaining_seq_no) {
                            prop_assert!(present.contains(s), "seq {} retained by {:?} was pruned", s, l);
                        }
                    }
                    // History is complete from `retained_from` on.
                    for s in report.retained_from..successes {
                        prop_assert!(present.contains(&s), "seq {} above {} is missing", s, report.retained_from);
                    }
                    if kept.is_empty() {
                        let docs = h.store.history(0, u64::MAX, usize::MAX).unwrap();
                        // Only current rows are left: one entry per id ever written.
                        prop_assert_eq!(docs.len(), model.len());
                    }
                }
            }
            prop_assert_eq!(h.store.state().next_seq_no, successes);
            for (id, want) in &model {
                let got = h.store.get(id).unwrap().map(|d| String::from_utf8(d.source.to_vec()).unwrap());
                prop_assert_eq!(&got, want);
                prop_assert!(h.store.doc_version(id).unwrap().is_some());
            }
        }
    }
}

#[test]
fn applying_an_entry_twice_is_refused() {
    let mut h = Harness::new();
    h.write(vec![index("1", "{}")]);
    let item = ApplyItem {
        position: RaftPosition {
            term: 1,
            node_id: 1,
            index: 1,
        },
        payload: ApplyPayload::Blank,
    };
    assert!(h.store.apply(vec![item], Changes::new(true)).is_err());
    assert_eq!(h.store.state().next_seq_no, 1);
}

#[test]
fn reopening_returns_to_the_last_durable_commit_or_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let uuid;
    {
        let mut h = Harness {
            store: StateStore::create(&path, 7).unwrap(),
            index: 0,
            _dir: tempfile::tempdir().unwrap(),
        };
        uuid = h.store.history_uuid().to_owned();
        h.write(vec![index("1", "{}")]);
        h.store
            .durable_commit(|_| Ok(Some(b"snap".to_vec())))
            .unwrap();
        h.write(vec![index("2", "{}")]);
    }
    let store = StateStore::open(&path).unwrap();
    assert_eq!(store.history_uuid(), uuid);
    assert_eq!(
        store.snapshot_meta().unwrap().as_deref(),
        Some(&b"snap"[..])
    );
    assert!(store.get("1").unwrap().is_some());
    assert!(store.state().applied.map(|a| a.index) >= Some(1));
    assert!(StateStore::create(&path, 0).is_err());
}
