//! Shard tests on a temporary directory: the whole path through openraft, the state
//! store and the search index, restarts after a clean shutdown and after a crash.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::{Conditions, DeleteOp, IndexOp, Mapping, UpdateOp};

fn mapping() -> SharedMapping {
    Arc::new(parking_lot::RwLock::new(Mapping::default()))
}

fn manual_refresh() -> IndexSettings {
    IndexSettings {
        refresh_interval: None,
        ..Default::default()
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

fn delete(id: &str) -> WriteOp {
    WriteOp::Delete(DeleteOp {
        id: id.into(),
        cond: Conditions::default(),
    })
}

fn update(id: &str, doc: &str) -> WriteOp {
    WriteOp::Update(UpdateOp {
        id: id.into(),
        doc: Some(Bytes::copy_from_slice(doc.as_bytes())),
        upsert: None,
        doc_as_upsert: false,
        detect_noop: true,
        cond: Conditions::default(),
        routing: None,
    })
}

async fn create(dir: &Path) -> Shard {
    Shard::create(dir, 0, 1, &manual_refresh(), mapping())
        .await
        .unwrap()
}

async fn open(dir: &Path) -> Shard {
    Shard::open(dir, 0, 1, &manual_refresh(), mapping())
        .await
        .unwrap()
}

fn ok(results: Vec<Result<WriteOutcome>>) -> Vec<WriteOutcome> {
    results.into_iter().map(|r| r.unwrap()).collect()
}

/// (id, seq_no, primary_term, version) of every acknowledged live document.
fn acked(outcomes: &[WriteOutcome]) -> Vec<(String, u64, u64, u64)> {
    let mut last = std::collections::BTreeMap::new();
    for o in outcomes {
        last.insert(o.id.clone(), o.clone());
    }
    last.into_values()
        .filter(|o| o.result != WriteResult::Deleted)
        .map(|o| (o.id, o.seq_no, o.primary_term, o.version))
        .collect()
}

fn read_back(shard: &Shard, ids: &[(String, u64, u64, u64)]) -> Vec<(String, u64, u64, u64)> {
    ids.iter()
        .map(|(id, ..)| {
            let d = shard
                .get(id)
                .unwrap()
                .unwrap_or_else(|| panic!("{id} lost"));
            (d.id, d.seq_no, d.primary_term, d.version)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_get_dense_seq_nos_and_survive_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let shard = create(dir.path()).await;
    assert!(shard.primary_term() >= 1);
    let first = ok(shard
        .write(
            vec![index("a", r#"{"n":1}"#), index("b", r#"{"n":2}"#)],
            RefreshPolicy::None,
        )
        .await);
    let second = ok(shard
        .write(
            vec![update("a", r#"{"m":1}"#), delete("b"), index("c", "{}")],
            RefreshPolicy::None,
        )
        .await);
    let all: Vec<_> = first.iter().chain(&second).cloned().collect();
    assert_eq!(
        all.iter().map(|o| o.seq_no).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert!(all.iter().all(|o| o.primary_term >= 1 && o.shard == 0));
    assert_eq!(second[0].source.as_deref(), Some(&br#"{"n":1,"m":1}"#[..]));
    assert_eq!(
        (second[1].result, second[1].version),
        (WriteResult::Deleted, 2)
    );
    assert_eq!(
        (shard.local_checkpoint(), shard.global_checkpoint()),
        (4, 4)
    );
    let uuid = shard.history_uuid().to_owned();
    let stats = shard.stats().unwrap();
    assert_eq!(
        (stats.docs, stats.history_ops, stats.local_checkpoint),
        (2, 5, 4)
    );
    assert!(stats.store_bytes > 0);
    let before = acked(&all);
    shard.shutdown().await.unwrap();
    let e = shard
        .write(vec![index("x", "{}")], RefreshPolicy::None)
        .await
        .remove(0)
        .unwrap_err();
    assert_eq!(e.status(), 503);
    drop(shard);

    let shard = open(dir.path()).await;
    assert_eq!(shard.history_uuid(), uuid);
    assert_eq!(read_back(&shard, &before), before);
    assert!(shard.get("b").unwrap().is_none());
    let next = ok(shard
        .write(vec![index("b", "{}")], RefreshPolicy::None)
        .await);
    assert_eq!(
        (next[0].seq_no, next[0].version, next[0].result),
        (5, 3, WriteResult::Created)
    );
    shard.shutdown().await.unwrap();
}

/// No acknowledged write is lost when the process dies without shutting the shard
/// down: the state (committed without fsync) is rebuilt from the durable Raft log, with
/// the same seq_no, primary term and version. The crash is simulated twice: by copying
/// the files while the shard is open (what a `kill -9` leaves on disk), and by dropping
/// the shard and its runtime without `shutdown`.
#[test]
fn acknowledged_writes_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let image = dir.path().join("image");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let before = rt.block_on(async {
        let shard = create(&live).await;
        let mut outcomes = Vec::new();
        for batch in 0..20 {
            let ops = (0..25)
                .map(|i| {
                    index(
                        &format!("d{}", (batch * 25 + i) % 300),
                        &format!(r#"{{"b":{batch},"i":{i}}}"#),
                    )
                })
                .chain([delete(&format!("d{batch}"))])
                .collect();
            outcomes.extend(ok(shard.write(ops, RefreshPolicy::None).await));
            if batch == 9 {
                // Half the state durable, the search index never committed: reopening
                // must re-feed the search index from history, then replay the log.
                shard.core.store.durable_commit(|_| Ok(None)).unwrap();
            }
        }
        copy_dir(&live, &image);
        drop(shard);
        acked(&outcomes)
    });
    drop(rt);
    assert!(before.len() > 200);
    // The copied state file lags (its writes were never made durable): the Raft log
    // replay is what brings the writes back.
    let on_disk = crate::store::StateStore::open(&image.join(STATE_FILE))
        .unwrap()
        .state();
    assert!(
        (260..520).contains(&on_disk.next_seq_no),
        "state on disk: {on_disk:?}"
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for dir in [&image, &live] {
            let shard = open(dir).await;
            assert_eq!(read_back(&shard, &before), before, "{}", dir.display());
            assert_eq!(shard.local_checkpoint(), 519);
            assert_eq!(shard.stats().unwrap().docs, before.len() as u64);
            shard.refresh().await.unwrap();
            assert_eq!(shard.search_index().num_docs(), before.len() as u64);
            let next = ok(shard
                .write(vec![index("new", "{}")], RefreshPolicy::None)
                .await);
            assert_eq!(next[0].seq_no, 520);
            shard.shutdown().await.unwrap();
        }
    });
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name().to_string_lossy().ends_with(".lock") {
            // Lock files of the search index are not data.
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_fail_alone_and_consume_no_seq_no() {
    let dir = tempfile::tempdir().unwrap();
    let shard = create(dir.path()).await;
    let WriteOp::Index(mut stale) = index("a", "{}") else {
        unreachable!()
    };
    stale.cond = Conditions {
        if_seq_no: Some(5),
        if_primary_term: Some(1),
        ..Default::default()
    };
    let r = shard
        .write(
            vec![index("a", "{}"), WriteOp::Index(stale), index("b", "{}")],
            RefreshPolicy::None,
        )
        .await;
    assert_eq!(r[0].as_ref().unwrap().seq_no, 0);
    let e = r[1].as_ref().unwrap_err();
    assert_eq!(e.status(), 409);
    assert!(
        e.to_string()
            .starts_with("[a]: version conflict, required seqNo [5]"),
        "{e}"
    );
    assert_eq!(r[2].as_ref().unwrap().seq_no, 1);
    shard.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_leases_and_pruning_through_raft() {
    let dir = tempfile::tempdir().unwrap();
    let shard = create(dir.path()).await;
    ok(shard
        .write(
            vec![
                index("a", r#"{"v":1}"#),
                index("a", r#"{"v":2}"#),
                delete("a"),
                index("b", "{}"),
            ],
            RefreshPolicy::None,
        )
        .await);
    let h = shard.history(0, 10).unwrap();
    assert_eq!(
        h.iter()
            .map(|o| (o.seq_no, o.source.is_some()))
            .collect::<Vec<_>>(),
        [(0, true), (1, true), (2, false), (3, true)]
    );
    assert_eq!(shard.history(1, 2).unwrap().len(), 2);

    let lease = shard
        .add_retention_lease("follower", 1, "ccr")
        .await
        .unwrap();
    assert_eq!((lease.retaining_seq_no, lease.source.as_str()), (1, "ccr"));
    let e = shard
        .add_retention_lease("follower", 1, "ccr")
        .await
        .unwrap_err();
    assert_eq!(e.es_type(), "retention_lease_already_exists_exception");
    let e = shard
        .renew_retention_lease("nobody", 1, "ccr")
        .await
        .unwrap_err();
    assert_eq!(e.status(), 404);
    let e = shard
        .renew_retention_lease("follower", 0, "ccr")
        .await
        .unwrap_err();
    assert_eq!(e.es_type(), "illegal_argument_exception");
    assert_eq!(
        shard
            .renew_retention_lease("follower", 2, "ccr")
            .await
            .unwrap()
            .retaining_seq_no,
        2
    );
    assert_eq!(shard.retention_leases().unwrap().len(), 1);

    // The lease retains 2..: seq 0 and 1 (superseded) go, 2 and 3 (current rows) stay.
    let report = shard.prune_history().await.unwrap();
    assert_eq!((report.pruned_ops, report.retained_from), (2, 2));
    assert_eq!(shard.min_retained_seq_no(), 2);
    assert_eq!(
        shard
            .history(0, 10)
            .unwrap()
            .iter()
            .map(|o| o.seq_no)
            .collect::<Vec<_>>(),
        [2, 3]
    );
    ok(shard
        .write(vec![index("b", "{}")], RefreshPolicy::None)
        .await);
    assert_eq!(
        shard.prune_history().await.unwrap().pruned_ops,
        0,
        "seq 3 is retained"
    );
    shard.remove_retention_lease("follower").await.unwrap();
    assert_eq!(
        shard
            .remove_retention_lease("follower")
            .await
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(shard.prune_history().await.unwrap().pruned_ops, 1);
    assert_eq!(shard.stats().unwrap().history_ops, 2);
    shard.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrenewed_lease_expires_after_the_period() {
    let dir = tempfile::tempdir().unwrap();
    let settings = IndexSettings {
        retention_lease_period: Duration::ZERO,
        ..manual_refresh()
    };
    let shard = Shard::create(dir.path(), 0, 1, &settings, mapping())
        .await
        .unwrap();
    ok(shard
        .write(
            vec![index("a", "{}"), index("a", "{}")],
            RefreshPolicy::None,
        )
        .await);
    shard.add_retention_lease("f", 0, "ccr").await.unwrap();
    // Period zero: the lease expires as soon as the leader's clock moves past it.
    let mut report = shard.prune_history().await.unwrap();
    while report.expired_leases.is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        report = shard.prune_history().await.unwrap();
    }
    assert_eq!(report.expired_leases, ["f"]);
    assert!(shard.retention_leases().unwrap().is_empty());
    assert_eq!(shard.history(0, 10).unwrap().len(), 1);
    shard.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_policies_make_writes_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let settings = IndexSettings {
        refresh_interval: Some(Duration::from_millis(50)),
        ..Default::default()
    };
    let shard = Shard::create(dir.path(), 0, 1, &settings, mapping())
        .await
        .unwrap();
    ok(shard
        .write(vec![index("a", r#"{"t":"x"}"#)], RefreshPolicy::Immediate)
        .await);
    assert_eq!(shard.search_index().num_docs(), 1);
    // wait_for returns once the scheduled refresh covered the write.
    ok(shard
        .write(vec![index("b", r#"{"t":"y"}"#)], RefreshPolicy::WaitFor)
        .await);
    assert_eq!(shard.search_index().num_docs(), 2);
    // With no schedule, wait_for refreshes itself.
    shard.update_settings(&manual_refresh());
    ok(shard.write(vec![delete("a")], RefreshPolicy::WaitFor).await);
    assert_eq!(shard.search_index().num_docs(), 1);
    shard.shutdown().await.unwrap();
}

/// The Raft log does not grow forever: once enough entries are applied, a snapshot (a
/// durable commit of the state) lets openraft purge the log, and a restart from the
/// purged log and the snapshot keeps everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_purged_behind_snapshots_and_restart_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let shard = create(dir.path()).await;
    for i in 0..300 {
        ok(shard
            .write(
                vec![index(&format!("d{}", i % 50), &format!(r#"{{"i":{i}}}"#))],
                RefreshPolicy::None,
            )
            .await);
    }
    let purged = shard
        .core
        .raft
        .wait_for(Duration::from_secs(30), |p| p.purged.is_some())
        .await;
    assert!(
        purged,
        "log not purged: {:?}",
        shard.core.raft.log_pointers()
    );
    let pointers = shard.core.raft.log_pointers();
    assert!(pointers.snapshot >= pointers.purged);
    let before: Vec<_> = (0..50)
        .map(|i| shard.get(&format!("d{i}")).unwrap().unwrap())
        .collect();
    shard.shutdown().await.unwrap();
    drop(shard);

    let shard = open(dir.path()).await;
    let after: Vec<_> = (0..50)
        .map(|i| shard.get(&format!("d{i}")).unwrap().unwrap())
        .collect();
    assert_eq!(after, before);
    let next = ok(shard
        .write(vec![index("new", "{}")], RefreshPolicy::None)
        .await);
    assert_eq!(next[0].seq_no, 300);
    shard.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_over_an_existing_shard_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let shard = create(dir.path()).await;
    shard.shutdown().await.unwrap();
    drop(shard);
    assert!(
        Shard::create(dir.path(), 0, 1, &manual_refresh(), mapping())
            .await
            .is_err()
    );
    let missing = dir.path().join("nope");
    assert!(
        Shard::open(&missing, 0, 1, &manual_refresh(), mapping())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_checkpoint_watch_follows_applied_writes() {
    let dir = tempfile::tempdir().unwrap();
    let shard = create(dir.path()).await;
    let mut rx = shard.subscribe_global_checkpoint();
    assert_eq!(*rx.borrow_and_update(), -1);
    ok(shard
        .write(
            vec![index("a", "{}"), index("b", "{}")],
            RefreshPolicy::None,
        )
        .await);
    // The apply has already published the new checkpoint: no wait is needed.
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 1);
    // A waiter parked before a write is woken by it.
    let waiter = tokio::spawn(async move { *rx.wait_for(|c| *c >= 2).await.unwrap() });
    ok(shard.write(vec![delete("a")], RefreshPolicy::None).await);
    assert_eq!(waiter.await.unwrap(), 2);
    shard.shutdown().await.unwrap();
    // A reopened shard starts its watch at the recovered checkpoint.
    drop(shard);
    let shard = open(dir.path()).await;
    assert_eq!(*shard.subscribe_global_checkpoint().borrow(), 2);
    shard.shutdown().await.unwrap();
}
