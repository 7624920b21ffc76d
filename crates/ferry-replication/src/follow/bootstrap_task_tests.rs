//! Follow tasks that bootstrap: a real leader (shards, tonic server, handshake), the real
//! remote-cluster registry, a real follower
//! index, and [`ShardFollowTask`] driving it all; every wait is a condition wait.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_index::IndexHandle;

use super::bootstrap_tests::{TestFollower, config, docs_of, ids};
use super::task::{ShardFollowConfig, ShardFollowTask};
use crate::leader::testkit::{Leader, del, fill, one_shard, put, write};
use crate::recovery::RecoverySettings;
use crate::remote::settings::Mode;
use crate::remote::{LocalIdentity, RemoteClusters, RemoteConfig};

/// A follower node's registry with alias `leader` pointing at `leader`.
fn remotes_to(leader: &Leader) -> Arc<RemoteClusters> {
    let remotes = RemoteClusters::new(LocalIdentity {
        cluster_name: "follower".into(),
        cluster_uuid: "follower-uuid".into(),
        node_id: "f1".into(),
        node_name: "follower-1".into(),
        version: "test".into(),
    });
    let config = RemoteConfig {
        alias: "leader".into(),
        mode: Mode::Sniff,
        seeds: vec![leader.addr.to_string()],
        proxy_address: None,
        proxy_socket_connections: 18,
        node_connections: 3,
        server_name: None,
        skip_unavailable: false,
        credentials: None,
    };
    remotes.configure(&BTreeMap::from([("leader".to_owned(), config)]));
    remotes
}

/// Waits (without a time assertion) until `cond` holds; gives up after two minutes so a
/// broken build fails instead of hanging.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..24_000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("gave up waiting until {what}");
}

fn gcp(h: &IndexHandle) -> i64 {
    h.shards()[0].global_checkpoint()
}

/// Writes every one of `d0..d{n-1}` again (a new version each), then prunes the history
/// the leader no longer needs: a follower can no longer read these ids' older operations.
async fn overwrite_and_prune(h: &IndexHandle, n: usize, filler: &str) {
    fill(h, n, filler).await;
    h.shards()[0].prune_history().await.unwrap();
}

fn start(
    cfg: ShardFollowConfig,
    remotes: &Arc<RemoteClusters>,
    follower: &Arc<TestFollower>,
) -> ShardFollowTask {
    ShardFollowTask::start(cfg, remotes.clone(), follower.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_follower_bootstraps_then_streams_new_writes() {
    const N: usize = 100_000;
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    fill(&h, N, "first version").await;
    // The leader's history of the first versions is gone: only a copy can start a follower.
    overwrite_and_prune(&h, N, "second version").await;
    let e = leader
        .read_ops(leader.read("logs", 0))
        .await
        .expect_err("history from seq_no 0 is pruned");
    assert!(
        e.message()
            .starts_with("Operations are no longer available")
    );

    let follower = TestFollower::create().await;
    let remotes = remotes_to(&leader);
    let recovery = Arc::new(RecoverySettings::default());
    recovery.set_max_bytes_per_sec(0);
    let cfg = config("logs", recovery);
    let lease_id = cfg.lease_id.clone();
    let task = start(cfg, &remotes, &follower);

    let target = gcp(&h);
    wait_until("the copy is restored", || gcp(&follower.handle) >= target).await;
    write(&h, vec![put("late", r#"{"n":"late"}"#), del("d5")]).await;
    let target = gcp(&h);
    wait_until("new writes are followed", || {
        gcp(&follower.handle) == target
    })
    .await;

    let ids = ids(N);
    assert_eq!(docs_of(&follower.handle, &ids), docs_of(&h, &ids));
    let stats = task.stats();
    let b = &stats["bootstrap"];
    assert_eq!(b["state"], "done");
    assert_eq!(b["sessions_opened"], 1);
    assert_eq!(b["chunks_fetched"], b["chunks_total"]);
    assert_eq!(b["bytes_copied"], b["bytes_total"]);
    assert_eq!(b["rebootstraps"], 0);
    assert!(stats.get("fatal_exception").is_none(), "{stats:?}");
    let leader_mapping = h.mapping().read().to_es_json();
    assert_eq!(*follower.mappings.lock(), vec![leader_mapping]);
    assert_eq!(follower.staged_files(), 0);
    assert!(leader.sessions.is_empty(), "the copy session was released");
    let leases = h.shards()[0].retention_leases().unwrap();
    assert_eq!(
        leases.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        vec![lease_id.as_str()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_fell_behind_stops_or_rebootstraps_in_place() {
    const N: usize = 400;
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    fill(&h, N, "v1").await;
    let follower = TestFollower::create().await;
    let remotes = remotes_to(&leader);
    let recovery = Arc::new(RecoverySettings::default());
    let cfg = config("logs", recovery);
    let task = start(cfg.clone(), &remotes, &follower);
    let target = gcp(&h);
    wait_until("bootstrapped", || gcp(&follower.handle) == target).await;
    task.stop();
    drop(task);

    // Paused past its lease: the lease goes, the leader moves on and prunes.
    h.shards()[0]
        .remove_retention_lease(&cfg.lease_id)
        .await
        .unwrap();
    overwrite_and_prune(&h, N, "v2").await;
    overwrite_and_prune(&h, N, "v3").await;
    write(&h, vec![del("d0"), del("d1"), put("extra", "{}")]).await;
    h.shards()[0].prune_history().await.unwrap();
    let behind = gcp(&follower.handle);

    // ES's behaviour by default: the task stops with the fatal error.
    let task = start(cfg.clone(), &remotes, &follower);
    let fatal = || {
        task.stats()
            .get("fatal_exception")
            .and_then(|e| e["type"].as_str().map(str::to_owned))
    };
    wait_until("the task stops", || fatal().is_some()).await;
    assert_eq!(fatal().as_deref(), Some("resource_not_found_exception"));
    assert_eq!(gcp(&follower.handle), behind);
    task.stop();
    drop(task);

    // With auto_rebootstrap the shard is copied again in place and follows on.
    let mut cfg = cfg;
    cfg.params.auto_rebootstrap = true;
    let task = start(cfg, &remotes, &follower);
    let target = gcp(&h);
    wait_until("re-bootstrapped", || gcp(&follower.handle) == target).await;
    write(&h, vec![put("late", "{}")]).await;
    let target = gcp(&h);
    wait_until("following again", || gcp(&follower.handle) == target).await;
    let ids = ids(N);
    assert_eq!(docs_of(&follower.handle, &ids), docs_of(&h, &ids));
    let stats = task.stats();
    assert_eq!(stats["bootstrap"]["rebootstraps"], 1, "{stats:?}");
    assert_eq!(stats["bootstrap"]["state"], "done");
    assert!(stats.get("fatal_exception").is_none(), "{stats:?}");
}
