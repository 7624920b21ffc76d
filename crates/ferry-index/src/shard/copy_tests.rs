//! Shard copies and restores through Raft, the state store and search: a new follower
//! restored from a leader's copy, an in-place re-bootstrap of a stale follower, crashes
//! during and after a restore, and an empty leader. (Copies taken during writes:
//! `copy_view_tests`.)

use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::{
    Conditions, CopyInfo, CopyReader, DeleteOp, IndexOp, Mapping, ReplicatedOp, ReplicatedOutcome,
    SearchRequest,
};

fn settings(following: bool) -> IndexSettings {
    IndexSettings {
        refresh_interval: None,
        following_index: following,
        ..Default::default()
    }
}

fn mapping() -> SharedMapping {
    Arc::new(parking_lot::RwLock::new(Mapping::default()))
}

/// A two-worker runtime, as a node has on this machine.
pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(super) async fn create(dir: &Path, following: bool) -> Shard {
    Shard::create(dir, 0, 1, &settings(following), mapping())
        .await
        .unwrap()
}

async fn open(dir: &Path, following: bool) -> Shard {
    Shard::open(dir, 0, 1, &settings(following), mapping())
        .await
        .unwrap()
}

pub(super) fn index(id: &str, n: u64) -> WriteOp {
    WriteOp::Index(IndexOp {
        id: id.into(),
        source: Bytes::from(format!(r#"{{"n":{n},"id":"{id}"}}"#)),
        create: false,
        cond: Conditions::default(),
        routing: n.is_multiple_of(2).then(|| format!("r{n}")),
    })
}

pub(super) fn delete(id: &str) -> WriteOp {
    WriteOp::Delete(DeleteOp {
        id: id.into(),
        cond: Conditions::default(),
    })
}

pub(super) async fn write(shard: &Shard, ops: Vec<WriteOp>) {
    for r in shard.write(ops, RefreshPolicy::None).await {
        r.unwrap();
    }
}

/// What a document is, field by field.
pub(super) type Doc = (String, u64, u64, u64, Bytes, Option<String>);

/// Every live document of `shard` among `d0..d<ids>`, by id.
fn documents(shard: &Shard, ids: u64) -> Vec<Doc> {
    let mut out: Vec<Doc> = (0..ids)
        .filter_map(|i| shard.get(&format!("d{i}")).unwrap())
        .map(|d| {
            (
                d.id,
                d.seq_no,
                d.primary_term,
                d.version,
                d.source,
                d.routing,
            )
        })
        .collect();
    out.sort();
    out
}

pub(super) fn record_doc(op: ReplicatedOp) -> Doc {
    let source = op.source.expect("copy records are live documents");
    (
        op.id,
        op.seq_no,
        op.primary_term,
        op.version,
        source,
        op.routing,
    )
}

/// A copy of `shard`, written on the blocking pool, and its records.
async fn copy(shard: &Arc<Shard>) -> (CopyInfo, Vec<ReplicatedOp>) {
    let s = shard.clone();
    let (info, bytes) = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let info = s.write_copy(&mut out).unwrap();
        (info, out)
    })
    .await
    .unwrap();
    assert_eq!(info.bytes, bytes.len() as u64);
    assert_eq!(info.history_uuid, shard.history_uuid());
    let records: Vec<_> = CopyReader::new(bytes.as_slice())
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(records.len() as u64, info.docs);
    (info, records)
}

/// Restores `records` in batches of 7, sending the second batch twice.
async fn restore(follower: &Shard, session: &str, records: &[ReplicatedOp]) {
    for (i, batch) in records.chunks(7).enumerate() {
        follower
            .restore_batch(session, batch.to_vec())
            .await
            .unwrap();
        if i == 1 {
            follower
                .restore_batch(session, batch.to_vec())
                .await
                .unwrap();
        }
    }
}

/// Applies the leader's history after `checkpoint` to the follower, as a follow task.
async fn follow(leader: &Shard, follower: &Shard, checkpoint: i64) -> ReplicatedOutcome {
    let from = u64::try_from(checkpoint + 1).unwrap();
    let ops: Vec<_> = leader
        .history(from, 10_000)
        .unwrap()
        .into_iter()
        .map(ReplicatedOp::from)
        .collect();
    assert!(!ops.is_empty());
    follower.apply_replicated(ops).await.unwrap()
}

/// Search hits among `ids` on `shard` (after a refresh).
async fn found(shard: &Shard, ids: &[String]) -> u64 {
    shard.refresh().await.unwrap();
    let req = SearchRequest::from_es_json(&json!({"query": {"ids": {"values": ids}}})).unwrap();
    shard
        .search_index()
        .count_shard(&req, &Mapping::default())
        .unwrap()
}

fn ids(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|i| format!("d{i}")).collect()
}

/// Checks that history at or below `checkpoint` is not served, as a CCR reader sees it.
fn history_hidden_below(shard: &Shard, checkpoint: i64) {
    let floor = u64::try_from(checkpoint + 1).unwrap();
    assert_eq!(shard.min_retained_seq_no(), floor);
    let served = shard.history(0, 10_000).unwrap();
    assert!(served.iter().all(|h| h.seq_no >= floor), "{served:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_follower_restored_from_a_copy_holds_the_leader_and_follows_on() {
    let dir = tempfile::tempdir().unwrap();
    let leader = Arc::new(create(&dir.path().join("leader"), false).await);
    write(
        &leader,
        (0..40).map(|i| index(&format!("d{i}"), i)).collect(),
    )
    .await;
    write(
        &leader,
        (0..10).map(|i| index(&format!("d{i}"), 100 + i)).collect(),
    )
    .await;
    write(
        &leader,
        (0..5).map(|i| delete(&format!("d{}", 30 + i))).collect(),
    )
    .await;
    let (info, records) = copy(&leader).await;
    assert_eq!((info.checkpoint, info.max_seq_no, info.docs), (54, 54, 35));
    assert!(
        records
            .iter()
            .all(|r| r.seq_no <= 54 && r.timestamp_millis > 0)
    );
    let leader_docs = documents(&leader, 60);
    let mut copied: Vec<Doc> = records.iter().cloned().map(record_doc).collect();
    assert!(
        records.windows(2).all(|w| w[0].seq_no < w[1].seq_no),
        "a copy is written in seq_no order"
    );
    copied.sort();
    assert_eq!(copied, leader_docs);

    let follower = create(&dir.path().join("follower"), true).await;
    restore(&follower, "s1", &records).await;
    assert_eq!(follower.local_checkpoint(), -1, "batches do not move it");
    let mut watch = follower.subscribe_global_checkpoint();
    let done = follower
        .finish_restore("s1", info.checkpoint)
        .await
        .unwrap();
    assert_eq!(
        (done.applied, done.local_checkpoint, done.max_seq_no),
        (0, 54, 54)
    );
    assert_eq!(*watch.borrow_and_update(), 54);
    assert_eq!(follower.local_checkpoint(), info.checkpoint);
    assert_eq!(documents(&follower, 60), leader_docs);
    assert_eq!(follower.stats().unwrap().docs, 35);
    assert_eq!(found(&follower, &ids(0..60)).await, 35);
    history_hidden_below(&follower, 54);

    // The leader goes on; the follower continues from checkpoint + 1.
    write(
        &leader,
        vec![delete("d1"), index("d2", 7), index("d50", 50)],
    )
    .await;
    let next = follow(&leader, &follower, info.checkpoint).await;
    assert_eq!((next.applied, next.local_checkpoint), (3, 57));
    assert_eq!(documents(&follower, 60), documents(&leader, 60));
    assert_eq!(found(&follower, &ids(0..60)).await, 35);
    let served: Vec<_> = follower.history(0, 100).unwrap();
    assert_eq!(served, leader.history(55, 100).unwrap());
    follower.shutdown().await.unwrap();
    leader.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_place_rebootstrap_drops_documents_deleted_on_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let leader = Arc::new(create(&dir.path().join("leader"), false).await);
    let follower = create(&dir.path().join("follower"), true).await;
    write(
        &leader,
        (0..30).map(|i| index(&format!("d{i}"), i)).collect(),
    )
    .await;
    follow(&leader, &follower, -1).await;
    assert_eq!(found(&follower, &ids(0..30)).await, 30);
    follower.flush().await.unwrap();

    // While the follower is away the leader deletes d0..d9, rewrites d10..d14, adds
    // d30..d34, and prunes the history the follower would have needed.
    write(&leader, (0..10).map(|i| delete(&format!("d{i}"))).collect()).await;
    write(
        &leader,
        (10..15).map(|i| index(&format!("d{i}"), 200 + i)).collect(),
    )
    .await;
    write(
        &leader,
        (30..35).map(|i| index(&format!("d{i}"), i)).collect(),
    )
    .await;
    assert!(leader.prune_history().await.unwrap().pruned_ops > 0);

    let (info, records) = copy(&leader).await;
    assert_eq!((info.checkpoint, info.docs), (49, 25));
    restore(&follower, "again", &records).await;
    let done = follower
        .finish_restore("again", info.checkpoint)
        .await
        .unwrap();
    assert_eq!((done.applied, done.local_checkpoint), (10, 49));
    assert_eq!(documents(&follower, 40), documents(&leader, 40));
    assert_eq!(follower.stats().unwrap().docs, 25);
    assert_eq!(found(&follower, &ids(0..10)).await, 0);
    assert_eq!(found(&follower, &ids(0..40)).await, 25);
    history_hidden_below(&follower, 49);

    write(&leader, vec![index("d3", 3), delete("d30")]).await;
    let next = follow(&leader, &follower, info.checkpoint).await;
    assert_eq!(next.local_checkpoint, 51);
    assert_eq!(documents(&follower, 40), documents(&leader, 40));

    // A clean restart keeps all of it, search included.
    follower.shutdown().await.unwrap();
    drop(follower);
    let follower = open(&dir.path().join("follower"), true).await;
    assert_eq!(documents(&follower, 40), documents(&leader, 40));
    assert_eq!(follower.local_checkpoint(), 51);
    assert_eq!(found(&follower, &ids(0..10)).await, 1);
    assert_eq!(found(&follower, &ids(0..40)).await, 25);
    follower.shutdown().await.unwrap();
    leader.shutdown().await.unwrap();
}

/// A restore interrupted by a crash leaves its batches applied (the Raft log replays
/// them) and the checkpoint untouched; a fresh session over a newer copy then ends with
/// exactly the leader's documents, which a second crash does not lose.
#[test]
fn a_restore_interrupted_by_a_crash_completes_with_a_fresh_session() {
    let dir = tempfile::tempdir().unwrap();
    let (leader_dir, follower_dir) = (dir.path().join("leader"), dir.path().join("follower"));
    let rt = runtime();
    let first = rt.block_on(async {
        let leader = Arc::new(create(&leader_dir, false).await);
        write(
            &leader,
            (0..50).map(|i| index(&format!("d{i}"), i)).collect(),
        )
        .await;
        let (_, records) = copy(&leader).await;
        leader.shutdown().await.unwrap();
        let follower = create(&follower_dir, true).await;
        restore(&follower, "a", &records[..30]).await;
        drop(follower);
        records
    });
    drop(rt);

    let rt = runtime();
    let info = rt.block_on(async {
        let follower = open(&follower_dir, true).await;
        assert_eq!(follower.local_checkpoint(), -1);
        for r in &first[..30] {
            assert_eq!(follower.get(&r.id).unwrap().unwrap().seq_no, r.seq_no);
        }
        assert!(follower.get(&first[30].id).unwrap().is_none());
        // Meanwhile the leader deleted documents the first session had restored.
        let leader = Arc::new(open(&leader_dir, false).await);
        write(&leader, (0..8).map(|i| delete(&format!("d{i}"))).collect()).await;
        write(&leader, vec![index("d60", 60)]).await;
        let (info, records) = copy(&leader).await;
        restore(&follower, "b", &records).await;
        let done = follower.finish_restore("b", info.checkpoint).await.unwrap();
        assert_eq!(done.local_checkpoint, info.checkpoint);
        assert_eq!(documents(&follower, 70), documents(&leader, 70));
        leader.shutdown().await.unwrap();
        drop(follower);
        info
    });
    drop(rt);

    runtime().block_on(async {
        let follower = open(&follower_dir, true).await;
        let leader = open(&leader_dir, false).await;
        assert_eq!(follower.local_checkpoint(), info.checkpoint);
        assert_eq!(documents(&follower, 70), documents(&leader, 70));
        assert_eq!(follower.stats().unwrap().docs, 43);
        assert_eq!(found(&follower, &ids(0..8)).await, 0);
        assert_eq!(found(&follower, &ids(0..70)).await, 43);
        history_hidden_below(&follower, info.checkpoint);
        write(&leader, vec![index("d0", 0)]).await;
        let next = follow(&leader, &follower, info.checkpoint).await;
        assert_eq!(next.local_checkpoint, info.checkpoint + 1);
        assert_eq!(documents(&follower, 70), documents(&leader, 70));
        follower.shutdown().await.unwrap();
        leader.shutdown().await.unwrap();
    });
}

/// Removing documents at seq_nos the search index has already committed is committed to
/// search before the state can be made durable: a durable commit right after the restore
/// and then a crash (nothing to replay, search re-fed only above its commit) does not
/// bring the removed documents back into search.
#[test]
fn removals_of_a_durable_rebootstrap_stay_out_of_search_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let follower_dir = dir.path().join("follower");
    let rt = runtime();
    rt.block_on(async {
        let leader = Arc::new(create(&dir.path().join("leader"), false).await);
        let follower = create(&follower_dir, true).await;
        write(
            &leader,
            (0..30).map(|i| index(&format!("d{i}"), i)).collect(),
        )
        .await;
        follow(&leader, &follower, -1).await;
        follower.flush().await.unwrap();
        write(&leader, (0..10).map(|i| delete(&format!("d{i}"))).collect()).await;
        let (info, records) = copy(&leader).await;
        restore(&follower, "s", &records).await;
        follower.finish_restore("s", info.checkpoint).await.unwrap();
        follower.core.store.durable_commit(|_| Ok(None)).unwrap();
        leader.shutdown().await.unwrap();
        drop(follower);
    });
    drop(rt);
    runtime().block_on(async {
        let follower = open(&follower_dir, true).await;
        assert_eq!(follower.stats().unwrap().docs, 20);
        assert_eq!(found(&follower, &ids(0..10)).await, 0);
        assert_eq!(found(&follower, &ids(0..30)).await, 20);
        follower.shutdown().await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_leader_restores_to_an_empty_follower() {
    let dir = tempfile::tempdir().unwrap();
    let leader = Arc::new(create(&dir.path().join("leader"), false).await);
    let (info, records) = copy(&leader).await;
    assert_eq!(
        (info.checkpoint, info.max_seq_no, info.docs, info.bytes),
        (-1, -1, 0, 0)
    );
    assert!(records.is_empty());
    let follower = create(&dir.path().join("follower"), true).await;
    follower.restore_batch("s", records).await.unwrap();
    let done = follower.finish_restore("s", -1).await.unwrap();
    assert_eq!((done.local_checkpoint, done.max_seq_no), (-1, -1));
    assert!(follower.finish_restore("s", -2).await.is_err());
    assert!(follower.finish_restore("", 0).await.is_err());
    write(&leader, vec![index("d0", 0)]).await;
    assert_eq!(follow(&leader, &follower, -1).await.local_checkpoint, 0);
    assert_eq!(documents(&follower, 1), documents(&leader, 1));
    follower.shutdown().await.unwrap();
    leader.shutdown().await.unwrap();
}
