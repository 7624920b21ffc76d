//! Follower shards and indices through Raft and search: out-of-order replicated
//! batches across a clean restart and a crash, and client writes refused while following.

use std::sync::Arc;

use bytes::Bytes;

use super::copy_tests::runtime;
use super::*;
use crate::{
    Conditions, DeleteOp, IndexHandle, IndexMeta, IndexOp, Mapping, ReplicatedOp, SearchRequest,
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

/// A leader's history over ids `d0..d9`: 40 index ops, then deletes of d0..d4, then
/// 10 more index ops (terms rising every 10 ops, versions counted per id).
fn leader_ops() -> Vec<ReplicatedOp> {
    let mut versions = std::collections::HashMap::new();
    (0..55u64)
        .map(|seq_no| {
            let (id, source) = match seq_no {
                40..45 => (format!("d{}", seq_no - 40), None),
                _ => (
                    format!("d{}", seq_no % 10),
                    Some(Bytes::from(format!(r#"{{"n":{seq_no}}}"#))),
                ),
            };
            let version = versions.entry(id.clone()).or_insert(0u64);
            *version += 1;
            ReplicatedOp {
                seq_no,
                primary_term: 1 + seq_no / 10,
                version: *version,
                routing: source.as_ref().map(|_| "r".to_owned()),
                id,
                source,
                timestamp_millis: 1_000 + seq_no,
            }
        })
        .collect()
}

/// The leader's final documents: (id, seq_no, primary_term, version, source).
fn expected(ops: &[ReplicatedOp]) -> Vec<(String, u64, u64, u64, Bytes)> {
    let mut last = std::collections::BTreeMap::new();
    for op in ops {
        last.insert(op.id.clone(), op.clone());
    }
    last.into_values()
        .filter_map(|op| {
            op.source
                .map(|s| (op.id, op.seq_no, op.primary_term, op.version, s))
        })
        .collect()
}

fn documents(shard: &Shard) -> Vec<(String, u64, u64, u64, Bytes)> {
    (0..10)
        .filter_map(|i| shard.get(&format!("d{i}")).unwrap())
        .map(|d| (d.id, d.seq_no, d.primary_term, d.version, d.source))
        .collect()
}

/// The ops in a scrambled order: odd seq_nos descending, then even ascending, each
/// batch of 7 also repeating the first op of the previous one.
fn scrambled(ops: &[ReplicatedOp]) -> Vec<Vec<ReplicatedOp>> {
    let mut order: Vec<_> = ops.iter().filter(|o| o.seq_no % 2 == 1).rev().collect();
    order.extend(ops.iter().filter(|o| o.seq_no % 2 == 0));
    let mut batches: Vec<Vec<ReplicatedOp>> = Vec::new();
    for chunk in order.chunks(7) {
        let mut batch: Vec<_> = chunk.iter().map(|o| (*o).clone()).collect();
        if let Some(prev) = batches.last() {
            batch.push(prev[0].clone());
        }
        batches.push(batch);
    }
    batches
}

#[test]
fn a_follower_shard_converges_across_a_clean_restart_and_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let ops = leader_ops();
    let batches = scrambled(&ops);
    let rt = runtime;
    // First third, then a clean shutdown.
    rt().block_on(async {
        let shard = Shard::create(dir.path(), 0, 1, &settings(true), mapping())
            .await
            .unwrap();
        for b in &batches[..3] {
            shard.apply_replicated(b.clone()).await.unwrap();
        }
        shard.shutdown().await.unwrap();
    });
    // Second third, then a crash (no shutdown: the Raft log replays it).
    let r = rt();
    r.block_on(async {
        let shard = Shard::open(dir.path(), 0, 1, &settings(true), mapping())
            .await
            .unwrap();
        for b in &batches[3..6] {
            shard.apply_replicated(b.clone()).await.unwrap();
        }
        shard.refresh().await.unwrap();
        drop(shard);
    });
    drop(r);
    rt().block_on(async {
        let shard = Shard::open(dir.path(), 0, 1, &settings(true), mapping())
            .await
            .unwrap();
        // The follow task re-sends from its last acknowledged batch: all skipped.
        let again = shard.apply_replicated(batches[5].clone()).await.unwrap();
        assert_eq!(again.applied, 0);
        let mut last = again;
        for b in &batches[6..] {
            last = shard.apply_replicated(b.clone()).await.unwrap();
        }
        assert_eq!((last.local_checkpoint, last.max_seq_no), (54, 54));
        assert_eq!(shard.local_checkpoint(), 54);
        assert_eq!(documents(&shard), expected(&ops));
        let history = shard.history(0, 1_000).unwrap();
        assert_eq!(history.len(), ops.len());
        for (h, op) in history.iter().zip(&ops) {
            assert_eq!(
                (
                    h.seq_no,
                    h.primary_term,
                    h.version,
                    &h.id,
                    &h.source,
                    &h.routing
                ),
                (
                    op.seq_no,
                    op.primary_term,
                    op.version,
                    &op.id,
                    &op.source,
                    &op.routing
                )
            );
        }
        // Search holds exactly the live documents.
        shard.refresh().await.unwrap();
        assert_eq!(shard.search_index().num_docs(), expected(&ops).len() as u64);
        assert_eq!(shard.stats().unwrap().docs, expected(&ops).len() as u64);
        shard.shutdown().await.unwrap();
    });
}

/// `count` fresh documents `n<seq_no>` from `first` on, one op each.
fn fresh_ops(first: u64, count: u64) -> Vec<ReplicatedOp> {
    (first..first + count)
        .map(|seq_no| ReplicatedOp {
            seq_no,
            primary_term: 1,
            version: 1,
            routing: None,
            id: format!("n{seq_no}"),
            source: Some(Bytes::from(format!(r#"{{"n":{seq_no}}}"#))),
            timestamp_millis: 1_000 + seq_no,
        })
        .collect()
}

/// Set in the child process of a crash test: the shard directory it works in.
const CRASH_CHILD_DIR: &str = "FERRY_TEST_CRASH_CHILD_DIR";

/// Runs test `name` of this binary again in a child process with [`CRASH_CHILD_DIR`] set
/// to `dir`; the child ends with `process::exit`, which closes nothing: a crash.
fn crash_child(name: &str, dir: &std::path::Path) {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &format!("{module}::{name}"), "--test-threads=1"])
        .env(CRASH_CHILD_DIR, dir)
        .status()
        .unwrap();
    assert!(status.success(), "the crashing child failed: {status}");
}

#[test]
fn operations_above_the_checkpoint_committed_to_search_before_a_crash_are_not_indexed_twice() {
    if let Some(dir) = std::env::var_os(CRASH_CHILD_DIR) {
        // In order up to 4, then 10..15 above a gap: search commits them all while the
        // checkpoint (what the commit claims) is 4. Then a crash before any durable
        // commit of the state: the next open replays both batches from the Raft log.
        runtime().block_on(async {
            let shard = Shard::create(dir.as_ref(), 0, 1, &settings(true), mapping())
                .await
                .unwrap();
            shard.apply_replicated(fresh_ops(0, 5)).await.unwrap();
            let above = shard.apply_replicated(fresh_ops(10, 5)).await.unwrap();
            assert_eq!((above.local_checkpoint, above.max_seq_no), (4, 14));
            shard.refresh().await.unwrap();
            assert_eq!(shard.search_index().num_docs(), 10);
            std::process::exit(0);
        });
        unreachable!("the child exits inside the runtime");
    }
    let dir = tempfile::tempdir().unwrap();
    crash_child(
        "operations_above_the_checkpoint_committed_to_search_before_a_crash_are_not_indexed_twice",
        dir.path(),
    );
    runtime().block_on(async {
        let shard = Shard::open(dir.path(), 0, 1, &settings(true), mapping())
            .await
            .unwrap();
        assert_eq!(shard.local_checkpoint(), 4);
        shard.refresh().await.unwrap();
        assert_eq!(shard.search_index().num_docs(), 10);
        let gap = shard.apply_replicated(fresh_ops(5, 5)).await.unwrap();
        assert_eq!((gap.local_checkpoint, gap.max_seq_no), (14, 14));
        shard.apply_replicated(fresh_ops(15, 5)).await.unwrap();
        shard.refresh().await.unwrap();
        assert_eq!(shard.search_index().num_docs(), 20);
        assert_eq!(shard.stats().unwrap().docs, 20);
        shard.shutdown().await.unwrap();
    });
}

fn meta(following: bool) -> IndexMeta {
    IndexMeta {
        uuid: "uuid-f".into(),
        name: "follower".into(),
        settings: IndexSettings {
            number_of_shards: 2,
            ..settings(following)
        },
        mapping: Mapping::default(),
    }
}

fn client_writes() -> Vec<(WriteOp, Option<String>)> {
    vec![
        (
            WriteOp::Index(IndexOp {
                id: "c1".into(),
                source: Bytes::from_static(br#"{"n":1}"#),
                create: false,
                cond: Conditions::default(),
                routing: None,
            }),
            None,
        ),
        (
            WriteOp::Delete(DeleteOp {
                id: "d1".into(),
                cond: Conditions::default(),
            }),
            None,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_following_index_refuses_client_writes_until_unfollowed() {
    let data = tempfile::tempdir().unwrap();
    let idx = IndexHandle::create(data.path(), meta(true), 1)
        .await
        .unwrap();
    let ops: Vec<_> = leader_ops().into_iter().filter(|o| o.seq_no < 10).collect();
    for (n, shard) in idx.shards().iter().enumerate() {
        let mine: Vec<_> = ops
            .iter()
            .filter(|o| idx.shard_for(&o.id, o.routing.as_deref()) as usize == n)
            .cloned()
            .collect();
        idx.apply_replicated(n as u32, mine).await.unwrap();
        assert_eq!(shard.number() as usize, n);
    }
    assert!(idx.apply_replicated(7, Vec::new()).await.is_err());
    // On-disk bytes are left out: a scheduled refresh may commit the search index
    // (rewriting its meta file) at any moment, refused writes or not.
    let data = |mut stats: crate::IndexStats| {
        stats.store_bytes = 0;
        stats.shards.iter_mut().for_each(|s| s.store_bytes = 0);
        stats
    };
    let before = data(idx.stats().unwrap());

    let batch = idx.prepare(client_writes());
    if let Some(update) = batch.mapping_update() {
        idx.install_mapping(&update.clone()).unwrap();
    }
    let results = idx.execute(batch, RefreshPolicy::Immediate).await;
    assert_eq!(results.len(), 2);
    for r in results {
        let e = r.unwrap_err();
        assert!(matches!(e, IndexError::FollowerWrite));
        assert_eq!((e.status(), e.es_type()), (403, "status_exception"));
        assert_eq!(
            e.to_string(),
            "a following engine does not accept operations without an assigned sequence number"
        );
    }
    // Nothing changed; reads and searches still work.
    assert_eq!(data(idx.stats().unwrap()), before);
    assert!(idx.get("c1", None).unwrap().is_none());
    assert!(idx.get("d1", Some("r")).unwrap().is_some());
    idx.refresh().await.unwrap();
    let all = crate::search::search(std::slice::from_ref(&idx), &SearchRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total, 10);

    idx.set_following(false);
    assert!(!idx.settings().following_index);
    let results = idx
        .execute(idx.prepare(client_writes()), RefreshPolicy::None)
        .await;
    let created = results[0].as_ref().unwrap();
    assert_eq!(created.result, WriteResult::Created);
    // The delete targets d1 without its routing: maybe another shard, where it is absent.
    assert!(results[1].is_ok());
    idx.set_following(true);
    assert!(idx.settings().following_index);
    idx.shutdown().await.unwrap();
}
