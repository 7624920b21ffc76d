//! Bootstrapping followers from a copy of the leader shard, with real `ferryd` processes:
//! a leader of 100,000 documents whose old history is already pruned is copied (chunked,
//! checksummed, throttled) and then streamed; a connection cut during the copy resumes the
//! same session; a follower that fell behind pruned history stops with ES's fatal error,
//! and with `auto_rebootstrap` re-bootstraps to the leader's exact state; put-follow's
//! `wait_for_active_shards` answers once the copy is restored.

use std::time::Duration;

use anyhow::Result;
use ferry_tests::ccr::{
    CCR_WAIT, add_remote, bulk_lines, bulk_ok, cluster_node, converge, shard_stats,
};
use ferry_tests::{TcpProxy, TestNode, wait_for, wait_until};
use serde_json::{Value, json};

async fn leader_index(us: &TestNode, name: &str, settings: Value) -> Result<()> {
    us.put(
        &format!("/{name}"),
        &json!({"settings": settings,
            "mappings": {"properties": {"k": {"type": "keyword"}, "n": {"type": "long"}}}}),
    )
    .await?
    .assert_status(200);
    Ok(())
}

async fn bootstrap_state(japan: &TestNode, index: &str) -> Value {
    shard_stats(japan, index)
        .await
        .map(|s| s["bootstrap"].clone())
        .unwrap_or(Value::Null)
}

/// 100,000 documents (history below them pruned, so replaying from seq_no 0 is
/// impossible) are copied through a proxy whose connections are cut mid-copy: the copy
/// resumes in the same session, completes, and new writes stream after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_leader_is_copied_resumes_after_a_cut_then_streams() -> Result<()> {
    let us = cluster_node("us-cluster").await?;
    let japan = cluster_node("japan-cluster").await?;
    let proxy = TcpProxy::start(format!("127.0.0.1:{}", us.transport_port()).parse()?).await?;
    let seed = proxy.addr().to_string();
    japan
        .put(
            "/_cluster/settings",
            &json!({"persistent": {"cluster": {"remote": {"leader": {"seeds": [seed]}}}},
                "transient": {"ccr.indices.recovery.chunk_size": "64kb"}}),
        )
        .await?
        .assert_status(200);
    wait_until(CCR_WAIT, "remote connected", || async {
        japan
            .get("/_remote/info")
            .await
            .is_ok_and(|r| r.body["leader"]["connected"] == json!(true))
    })
    .await?;

    // The leader serves chunks slowly, so chunk requests are in flight when the proxy
    // cuts the connections (a follower waiting on its own throttle has none).
    us.put(
        "/_cluster/settings",
        &json!({"transient": {"ccr.indices.recovery.max_bytes_per_sec": "2mb"}}),
    )
    .await?
    .assert_status(200);
    leader_index(&us, "big", json!({"index": {"number_of_shards": 1}})).await?;
    for batch in 0..100 {
        bulk_ok(&us, "/big/_bulk", &bulk_lines("b", batch * 1000, 1000)).await?;
    }
    // Overwrite some documents, then prune: ops 0.. are no longer all in history.
    bulk_ok(&us, "/big/_bulk", &bulk_lines("b", 0, 1000)).await?;
    us.post_empty("/big/_forcemerge").await?.assert_status(200);

    japan
        .put(
            "/big-copy/_ccr/follow",
            &json!({"remote_cluster": "leader", "leader_index": "big", "read_poll_timeout": "1s"}),
        )
        .await?
        .assert_status(200);
    wait_until(CCR_WAIT, "the copy is under way", || async {
        let b = bootstrap_state(&japan, "big-copy").await;
        b["state"] == json!("copying") && b["chunks_fetched"].as_u64().unwrap_or(0) > 2
    })
    .await?;
    // Cut until a chunk request was caught in flight (normally the first cut does).
    let mut cuts = 0;
    loop {
        cuts += proxy.cut();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let b = bootstrap_state(&japan, "big-copy").await;
        if b["chunks_retried"].as_u64().unwrap_or(0) > 0 || b["state"] != json!("copying") {
            break;
        }
    }
    assert!(cuts > 0, "no open connection to cut");
    let done: Value = wait_for(CCR_WAIT, "the copy completes", || async {
        let b = bootstrap_state(&japan, "big-copy").await;
        (b["state"] == json!("done")).then_some(b)
    })
    .await?;
    assert_eq!(
        done["sessions_opened"],
        json!(1),
        "restarted instead of resuming: {done}"
    );
    assert!(done["chunks_retried"].as_u64().unwrap_or(0) >= 1, "{done}");
    assert_eq!(done["chunks_fetched"], done["chunks_total"], "{done}");

    bulk_ok(&us, "/big/_bulk", &bulk_lines("n", 0, 500)).await?;
    us.delete("/big/_doc/b000007").await?.assert_status(200);
    converge(&us, "big", &japan, "big-copy").await?;
    Ok(())
}

/// A paused follower whose lease expired while the leader pruned the history it needs:
/// resuming stops with the fatal "Operations are no longer available…" error; resuming
/// with `auto_rebootstrap: true` copies the shard again and converges exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_history_is_fatal_and_auto_rebootstrap_recovers() -> Result<()> {
    let us = cluster_node("us-cluster").await?;
    let japan = cluster_node("japan-cluster").await?;
    add_remote(&japan, "leader", &us).await?;
    leader_index(
        &us,
        "hist",
        json!({"index": {"soft_deletes": {"retention_lease": {"period": "1s"}}}}),
    )
    .await?;
    bulk_ok(&us, "/hist/_bulk", &bulk_lines("h", 0, 200)).await?;
    japan
        .put(
            "/hist-copy/_ccr/follow",
            &json!({"remote_cluster": "leader", "leader_index": "hist", "read_poll_timeout": "1s"}),
        )
        .await?
        .assert_status(200);
    converge(&us, "hist", &japan, "hist-copy").await?;

    japan
        .post_empty("/hist-copy/_ccr/pause_follow")
        .await?
        .assert_status(200);
    // Written twice: the first round's operations (which the follower needs next) are
    // superseded by the second, so pruning takes them.
    bulk_ok(&us, "/hist/_bulk", &bulk_lines("h", 0, 100)).await?;
    bulk_ok(&us, "/hist/_bulk", &bulk_lines("h", 0, 100)).await?;
    for i in 150..160 {
        us.delete(&format!("/hist/_doc/h{i:06}"))
            .await?
            .assert_status(200);
    }
    // Let the paused follower's lease outlive its 1s period, then prune.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    us.post_empty("/hist/_forcemerge").await?.assert_status(200);

    japan
        .post_empty("/hist-copy/_ccr/resume_follow")
        .await?
        .assert_status(200);
    let fatal: Value = wait_for(CCR_WAIT, "the fatal error", || async {
        shard_stats(&japan, "hist-copy")
            .await
            .ok()
            .and_then(|s| s.get("fatal_exception").cloned())
    })
    .await?;
    assert_eq!(
        fatal["type"],
        json!("resource_not_found_exception"),
        "{fatal}"
    );
    assert!(
        fatal["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Operations are no longer available")),
        "{fatal}"
    );

    japan
        .post_empty("/hist-copy/_ccr/pause_follow")
        .await?
        .assert_status(200);
    japan
        .post(
            "/hist-copy/_ccr/resume_follow",
            &json!({"auto_rebootstrap": true, "read_poll_timeout": "1s"}),
        )
        .await?
        .assert_status(200);
    converge(&us, "hist", &japan, "hist-copy").await?;
    let stats = shard_stats(&japan, "hist-copy").await?;
    assert!(stats.get("fatal_exception").is_none(), "{stats}");
    assert!(
        stats["bootstrap"]["rebootstraps"].as_u64().unwrap_or(0) >= 1,
        "{stats}"
    );
    let count = japan.get("/hist-copy/_count").await?;
    assert_eq!(count.body["count"], json!(190), "{count}");
    Ok(())
}

/// `PUT /<f>/_ccr/follow?wait_for_active_shards=1` answers once every shard's copy is
/// restored, so the leader's documents are on the follower when it returns; `0` (the
/// default) answers at once with ES's "not started yet" booleans; a wait longer than
/// `master_timeout` answers the same while the follow goes on; a bad value is refused
/// before anything is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_active_shards_waits_for_the_restored_copy() -> Result<()> {
    let us = cluster_node("us-cluster").await?;
    let japan = cluster_node("japan-cluster").await?;
    add_remote(&japan, "leader", &us).await?;
    leader_index(&us, "wl", json!({"index": {"number_of_shards": 2}})).await?;
    for batch in 0..10 {
        bulk_ok(&us, "/wl/_bulk", &bulk_lines("w", batch * 1000, 1000)).await?;
    }
    let follow =
        json!({"remote_cluster": "leader", "leader_index": "wl", "read_poll_timeout": "1s"});
    let answer = |acked: bool| {
        json!({"follow_index_created": true, "follow_index_shards_acked": acked,
            "index_following_started": acked})
    };

    for (value, reason) in [
        ("abc", "cannot parse ActiveShardCount[abc]"),
        ("-1", "cannot set active shard count to negative value"),
    ] {
        let r = japan
            .put(
                &format!("/wl-bad/_ccr/follow?wait_for_active_shards={value}"),
                &follow,
            )
            .await?;
        r.assert_status(400);
        assert_eq!(r.error_type(), Some("illegal_argument_exception"), "{r}");
        assert_eq!(r.body["error"]["reason"], json!(reason), "{r}");
    }
    japan.get("/wl-bad").await?.assert_status(404);

    let r = japan
        .put("/wl-copy/_ccr/follow?wait_for_active_shards=1", &follow)
        .await?;
    r.assert_status(200);
    assert_eq!(r.body, answer(true));
    // Already there: no waiting for replication.
    japan.get("/wl-copy/_doc/w009999").await?.assert_status(200);
    japan
        .post_empty("/wl-copy/_refresh")
        .await?
        .assert_status(200);
    let count = japan.get("/wl-copy/_count").await?;
    assert_eq!(count.body["count"], json!(10_000), "{count}");

    let r = japan.put("/wl-now/_ccr/follow", &follow).await?;
    r.assert_status(200);
    assert_eq!(r.body, answer(false));
    let r = japan
        .put(
            "/wl-late/_ccr/follow?wait_for_active_shards=1&master_timeout=1ms",
            &follow,
        )
        .await?;
    r.assert_status(200);
    assert_eq!(r.body, answer(false));
    converge(&us, "wl", &japan, "wl-late").await?;
    Ok(())
}
