//! Property tests of the following engine on real state files, without Raft: a leader's
//! history applied to a follower in any order, with duplicates, any batch split and
//! restarts (clean or losing the non-durable tail), converges to the leader's state.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::command::{Changes, ShardCommand, ShardResponse};
use crate::{
    Conditions, DeleteOp, IndexOp, ReplicatedOp, ReplicatedOutcome, UpdateOp, WriteOp, WriteResult,
};

/// A state store fed Raft entries by hand, with a chosen Raft term.
struct Node {
    store: StateStore,
    index: u64,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let store = StateStore::create(&path, 0).unwrap();
        Self {
            store,
            index: 0,
            path,
            _dir: dir,
        }
    }

    fn apply(&mut self, term: u64, cmd: ShardCommand) -> ShardResponse {
        self.index += 1;
        let item = ApplyItem {
            position: RaftPosition {
                term,
                node_id: 1,
                index: self.index,
            },
            payload: ApplyPayload::Command(cmd),
        };
        let (mut responses, _) = self.store.apply(vec![item], Changes::new(true)).unwrap();
        responses.remove(0)
    }

    fn write(&mut self, term: u64, op: WriteOp) -> WriteResult {
        match self.apply(
            term,
            ShardCommand::Write {
                timestamp_millis: 5_000 + self.index,
                ops: vec![op],
            },
        ) {
            ShardResponse::Writes(mut r) => r.remove(0).unwrap().result,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn replicate(&mut self, ops: Vec<ReplicatedOp>) -> ReplicatedOutcome {
        // The follower's own term differs from every leader term: nothing may take it.
        match self.apply(99, ShardCommand::Replicated { ops }) {
            ShardResponse::Replicated(o) => o,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Reopens the state file: after a durable commit (a clean restart) or without one
    /// (a crash: everything since the last durable commit is lost).
    fn restart(&mut self, clean: bool) {
        if clean {
            self.store.durable_commit(|_| Ok(None)).unwrap();
        }
        let placeholder = tempfile::tempdir().unwrap();
        let other = StateStore::create(&placeholder.path().join("s.redb"), 0).unwrap();
        drop(std::mem::replace(&mut self.store, other));
        self.store = StateStore::open(&self.path).unwrap();
    }

    fn history(&self) -> Vec<HistoryOp> {
        self.store.history(0, u64::MAX, usize::MAX).unwrap()
    }

    fn prune_all(&mut self) {
        self.apply(
            1,
            ShardCommand::Prune {
                timestamp_millis: 0,
                lease_period_millis: u64::MAX,
            },
        );
    }
}

#[derive(Debug, Clone)]
enum Step {
    Index(u8, Option<u8>),
    Update(u8),
    Delete(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u8..4, prop::option::of(0u8..3)).prop_map(|(id, r)| Step::Index(id, r)),
        2 => (0u8..4).prop_map(Step::Update),
        1 => (0u8..4).prop_map(Step::Delete),
    ]
}

/// Runs `steps` on a fresh leader (the Raft term rising as it goes).
fn leader(steps: &[Step]) -> Node {
    let mut l = Node::new();
    for (n, s) in steps.iter().enumerate() {
        let term = 1 + n as u64 / 4;
        let op = match s {
            Step::Index(id, routing) => WriteOp::Index(IndexOp {
                id: format!("d{id}"),
                source: Bytes::from(format!(r#"{{"n":{n}}}"#)),
                create: false,
                cond: Conditions::default(),
                routing: routing.map(|r| format!("r{r}")),
            }),
            Step::Update(id) => WriteOp::Update(UpdateOp {
                id: format!("d{id}"),
                doc: Some(Bytes::from(format!(r#"{{"u":{n}}}"#))),
                upsert: None,
                doc_as_upsert: true,
                detect_noop: true,
                cond: Conditions::default(),
                routing: None,
            }),
            Step::Delete(id) => WriteOp::Delete(DeleteOp {
                id: format!("d{id}"),
                cond: Conditions::default(),
            }),
        };
        assert_ne!(l.write(term, op), WriteResult::Noop);
    }
    l
}

fn assert_same_documents(leader: &Node, follower: &Node) -> Result<(), TestCaseError> {
    for id in 0..4 {
        let id = format!("d{id}");
        prop_assert_eq!(
            leader.store.get(&id).unwrap(),
            follower.store.get(&id).unwrap()
        );
        prop_assert_eq!(
            leader.store.doc_version(&id).unwrap(),
            follower.store.doc_version(&id).unwrap()
        );
    }
    let (ls, fs) = (leader.store.state(), follower.store.state());
    prop_assert_eq!(ls.live_docs, fs.live_docs);
    prop_assert_eq!(ls.local_checkpoint(), fs.local_checkpoint());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_order_with_duplicates_and_restarts_converges(
        steps in prop::collection::vec(step(), 1..30),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        order_seed in any::<u64>(),
        cuts in prop::collection::vec(1usize..6, 1..40),
        restart_after in prop::option::of((any::<prop::sample::Index>(), any::<bool>())),
    ) {
        let mut l = leader(&steps);
        let ops: Vec<ReplicatedOp> = l.history().into_iter().map(ReplicatedOp::from).collect();
        prop_assert_eq!(ops.len(), steps.len());
        // The leader's ops, some twice, in a seeded random order.
        let mut stream = ops.clone();
        stream.extend(dups.iter().map(|i| ops[i.index(ops.len())].clone()));
        let mut rng = order_seed;
        for i in (1..stream.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            stream.swap(i, (rng >> 33) as usize % (i + 1));
        }
        // Split into batches anywhere.
        let mut batches = Vec::new();
        let mut rest = stream.as_slice();
        for c in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (b, r) = rest.split_at((*c).min(rest.len()));
            batches.push(b.to_vec());
            rest = r;
        }
        let restart_at = restart_after.map(|(i, clean)| (i.index(batches.len()), clean));

        let mut f = Node::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut i = 0;
        let mut replayed = false;
        while i < batches.len() {
            let batch = batches[i].clone();
            let outcome = f.replicate(batch.clone());
            let fresh = batch.iter().filter(|o| seen.insert(o.seq_no)).count() as u64;
            prop_assert_eq!(outcome.applied, fresh);
            prop_assert_eq!(outcome.applied + outcome.skipped, batch.len() as u64);
            // The checkpoint covers exactly the contiguous prefix seen so far.
            let contiguous = (0..).take_while(|s| seen.contains(s)).count() as i64 - 1;
            prop_assert_eq!(outcome.local_checkpoint, contiguous);
            prop_assert_eq!(outcome.max_seq_no, seen.iter().next_back().map_or(-1, |m| *m as i64));
            if restart_at == Some((i, true)) || (restart_at == Some((i, false)) && !replayed) {
                let clean = restart_at == Some((i, true));
                f.restart(clean);
                if !clean {
                    // A crash may lose the non-durable tail: the follow task reads again
                    // from the start; every op lost comes back, the rest is skipped.
                    seen = f.history().iter().map(|o| o.seq_no).collect();
                    replayed = true;
                    i = 0;
                    continue;
                }
            }
            i += 1;
        }

        assert_same_documents(&l, &f)?;
        let leader_history = l.history();
        prop_assert_eq!(&f.history(), &leader_history);
        prop_assert_eq!(f.store.state().local_checkpoint(), ops.len() as i64 - 1);
        // Superseded bookkeeping matches: pruning both leaves the same current rows.
        l.prune_all();
        f.prune_all();
        prop_assert_eq!(f.history(), l.history());
        // Once the checkpoint passes everything, the follower can become a regular index
        // and continues the leader's seq_nos.
        let next = f.write(100, WriteOp::Delete(DeleteOp { id: "d0".into(), cond: Conditions::default() }));
        prop_assert!(matches!(next, WriteResult::Deleted | WriteResult::NotFound));
        prop_assert_eq!(f.store.state().local_checkpoint(), ops.len() as i64);
    }
}

#[test]
fn a_local_write_after_gaps_takes_a_seq_no_above_every_replicated_one() {
    let l = leader(&[
        Step::Index(0, None),
        Step::Index(1, None),
        Step::Index(2, None),
    ]);
    let mut f = Node::new();
    let mut ops: Vec<ReplicatedOp> = l.history().into_iter().map(ReplicatedOp::from).collect();
    let last = ops.pop().unwrap();
    let o = f.replicate(vec![last]);
    assert_eq!((o.local_checkpoint, o.max_seq_no), (-1, 2));
    let r = f.write(
        7,
        WriteOp::Delete(DeleteOp {
            id: "d2".into(),
            cond: Conditions::default(),
        }),
    );
    assert_eq!(r, WriteResult::Deleted);
    let d2 = f.store.doc_version("d2").unwrap().unwrap();
    assert_eq!((d2.seq_no, d2.version, d2.deleted), (3, 2, true));
    assert_eq!(f.store.state().local_checkpoint(), 3);
    // Late leader operations below the checkpoint are skipped now.
    let o = f.replicate(ops);
    assert_eq!((o.applied, o.skipped), (0, 2));
}
