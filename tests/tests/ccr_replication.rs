//! Cross-cluster replication under load and failure, with real `ferryd` processes (one
//! per cluster): 10,000 writes with updates and deletes converge exactly, both for a
//! follower copying the leader's segments (the default) and for one indexing what it
//! applies (`index.ferry.ccr.copy_segments: false`); a follower
//! killed with -9 mid-stream and restarted converges with no operation lost or doubled; a
//! leader killed with -9 and restarted is resumed by the follower on its own; a closed
//! leader is retried and a deleted one is fatal (the follower keeps its data); promote
//! makes a follower writable.

use anyhow::Result;
use ferry_tests::ccr::{
    CCR_WAIT, add_remote, bulk_lines, bulk_ok, cluster_node, converge, ids, shard_stats,
};
use ferry_tests::{TestNode, wait_until};
use serde_json::{Value, json};

async fn leader_index(us: &TestNode, name: &str, shards: u32) -> Result<()> {
    us.put(
        &format!("/{name}"),
        &json!({"settings": {"index": {"number_of_shards": shards, "number_of_replicas": 0}},
            "mappings": {"properties": {"k": {"type": "keyword"}, "n": {"type": "long"},
                "text": {"type": "text"}}}}),
    )
    .await?
    .assert_status(200);
    Ok(())
}

async fn follow(japan: &TestNode, follower: &str, leader: &str) -> Result<()> {
    japan
        .put(
            &format!("/{follower}/_ccr/follow"),
            &json!({"remote_cluster": "leader", "leader_index": leader,
                "read_poll_timeout": "1s"}),
        )
        .await?
        .assert_status(200);
    Ok(())
}

async fn pair() -> Result<(TestNode, TestNode)> {
    let us = cluster_node("us-cluster").await?;
    let japan = cluster_node("japan-cluster").await?;
    add_remote(&japan, "leader", &us).await?;
    Ok((us, japan))
}

/// 10,000 bulk writes over two shards, then updates (index and `_update`) and deletes:
/// the follower ends with exactly the leader's ids, sources, `_seq_no` and `_version`,
/// and deleted documents are gone from its search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_writes_updates_and_deletes_converge_exactly() -> Result<()> {
    ten_thousand(true).await
}

/// The same with a follower that indexes what it applies instead of copying segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_indexing_for_itself_converges_exactly() -> Result<()> {
    ten_thousand(false).await
}

async fn ten_thousand(copy_segments: bool) -> Result<()> {
    let (us, japan) = pair().await?;
    leader_index(&us, "logs", 2).await?;
    let mut body = json!({"remote_cluster": "leader", "leader_index": "logs",
        "read_poll_timeout": "1s"});
    if !copy_segments {
        body["settings"] = json!({"index.ferry.ccr.copy_segments": false});
    }
    japan
        .put("/logs-copy/_ccr/follow", &body)
        .await?
        .assert_status(200);
    let settings = japan.get("/logs-copy/_settings?flat_settings=true").await?;
    let flag = &settings.body["logs-copy"]["settings"]["index.ferry.ccr.copy_segments"];
    assert_eq!(
        *flag,
        if copy_segments {
            json!("true")
        } else {
            Value::Null
        },
        "{settings}"
    );
    for batch in 0..10 {
        bulk_ok(&us, "/logs/_bulk", &bulk_lines("d", batch * 1000, 1000)).await?;
    }
    let mut changes = Vec::new();
    for i in (0..10_000).step_by(10) {
        let id = format!("d{i:06}");
        changes.push(json!({"index": {"_id": id}}));
        changes.push(json!({"k": id, "n": i + 1, "text": "rewritten"}));
    }
    for i in (3..10_000).step_by(20) {
        let id = format!("d{i:06}");
        changes.push(json!({"update": {"_id": id}}));
        changes.push(json!({"doc": {"text": "partially updated"}}));
    }
    for i in (5..10_000).step_by(20) {
        changes.push(json!({"delete": {"_id": format!("d{i:06}")}}));
    }
    bulk_ok(&us, "/logs/_bulk", &changes).await?;
    converge(&us, "logs", &japan, "logs-copy").await?;

    assert_eq!(ids(&japan, "logs-copy").await?.len(), 9_500);
    let gone = japan
        .post(
            "/logs-copy/_search",
            &json!({"query": {"term": {"k": "d000005"}}}),
        )
        .await?;
    assert_eq!(gone.body["hits"]["total"]["value"], json!(0), "{gone}");
    let rewritten = japan
        .post(
            "/logs-copy/_count",
            &json!({"query": {"match": {"text": "rewritten"}}}),
        )
        .await?;
    assert_eq!(rewritten.body["count"], json!(1000), "{rewritten}");
    let stats = japan.get("/logs-copy/_ccr/stats").await?;
    assert_eq!(
        stats.body["indices"][0]["shards"].as_array().map(Vec::len),
        Some(2),
        "{stats}"
    );
    for shard in stats.body["indices"][0]["shards"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert_eq!(shard["lag_millis"], json!(0), "{shard}");
        assert_eq!(shard["time_since_last_synced_millis"], json!(0), "{shard}");
        // Search came from the leader's segments, or from indexing here.
        let installed = shard["segment_copy"]["commits_installed"].as_u64();
        if copy_segments {
            assert!(installed.is_some_and(|n| n >= 1), "{shard}");
            assert!(
                shard["segment_copy"]["bytes_copied"].as_u64() > Some(0),
                "{shard}"
            );
        } else {
            assert_eq!(installed, None, "{shard}");
        }
    }
    // Prometheus metrics per follower shard, caught up after convergence.
    wait_until(CCR_WAIT, "metrics show no lag", || async {
        let Ok(m) = japan.get("/metrics").await else {
            return false;
        };
        (0..2).all(|shard| {
            m.text.contains(&format!(
                "ferry_ccr_follower_global_checkpoint_lag{{follower_index=\"logs-copy\",shard=\"{shard}\",remote_cluster=\"leader\",leader_index=\"logs\"}} 0"
            ))
        }) && m.text.contains("ferry_ccr_follower_operations_written_total{follower_index=\"logs-copy\"")
    })
    .await?;
    Ok(())
}

/// kill -9 of the follower while the leader keeps writing; after a restart the follow
/// resumes from the catalog and the shards' checkpoints: same documents, same `_seq_no`
/// and `_version` (a replayed or skipped operation would show as a difference).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_killed_mid_stream_converges_without_loss_or_duplicates() -> Result<()> {
    let (us, mut japan) = pair().await?;
    leader_index(&us, "events", 1).await?;
    follow(&japan, "events-copy", "events").await?;
    for batch in 0..4 {
        bulk_ok(&us, "/events/_bulk", &bulk_lines("e", batch * 500, 500)).await?;
    }
    wait_until(CCR_WAIT, "follower has some documents", || async {
        match japan.get("/events-copy/_count").await {
            Ok(r) => r.body["count"].as_u64().unwrap_or(0) > 0,
            Err(_) => false,
        }
    })
    .await?;
    japan.kill9().await?;
    for batch in 4..8 {
        bulk_ok(&us, "/events/_bulk", &bulk_lines("e", batch * 500, 500)).await?;
    }
    let mut updates = Vec::new();
    for i in (0..4000).step_by(7) {
        let id = format!("e{i:06}");
        updates.push(json!({"index": {"_id": id}}));
        updates.push(json!({"k": id, "n": -1}));
    }
    bulk_ok(&us, "/events/_bulk", &updates).await?;
    japan.restart().await?;
    converge(&us, "events", &japan, "events-copy").await?;
    let info = japan.get("/events-copy/_ccr/info").await?;
    assert_eq!(
        info.body["follower_indices"][0]["status"],
        json!("active"),
        "{info}"
    );
    // Still a follower after the restart: client writes are refused.
    let r = japan.put("/events-copy/_doc/x", &json!({"k": "x"})).await?;
    assert_eq!(r.status, 403, "{r}");
    Ok(())
}

/// kill -9 of the leader: the follower retries, and once the leader is back it resumes by
/// itself and picks up what is written after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_and_restarted_is_resumed_by_the_follower() -> Result<()> {
    let (mut us, japan) = pair().await?;
    leader_index(&us, "orders", 1).await?;
    follow(&japan, "orders-copy", "orders").await?;
    bulk_ok(&us, "/orders/_bulk", &bulk_lines("o", 0, 300)).await?;
    converge(&us, "orders", &japan, "orders-copy").await?;
    us.kill9().await?;
    us.restart().await?;
    bulk_ok(&us, "/orders/_bulk", &bulk_lines("o", 300, 300)).await?;
    us.delete("/orders/_doc/o000001").await?.assert_status(200);
    converge(&us, "orders", &japan, "orders-copy").await?;
    let stats = shard_stats(&japan, "orders-copy").await?;
    assert!(stats.get("fatal_exception").is_none(), "{stats}");
    Ok(())
}

/// A closed leader makes the task retry (no fatal error) and it resumes when the leader
/// reopens; a deleted leader stops it with a fatal `index_not_found_exception`, and the
/// follower keeps its documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_leader_is_retried_and_deleted_leader_is_fatal() -> Result<()> {
    let (us, japan) = pair().await?;
    leader_index(&us, "gauges", 1).await?;
    follow(&japan, "gauges-copy", "gauges").await?;
    bulk_ok(&us, "/gauges/_bulk", &bulk_lines("m", 0, 100)).await?;
    converge(&us, "gauges", &japan, "gauges-copy").await?;

    us.post_empty("/gauges/_close").await?.assert_status(200);
    wait_until(
        CCR_WAIT,
        "reads fail while the leader is closed",
        || async {
            match shard_stats(&japan, "gauges-copy").await {
                Ok(s) => s["failed_read_requests"].as_u64().unwrap_or(0) > 0,
                Err(_) => false,
            }
        },
    )
    .await?;
    let stats = shard_stats(&japan, "gauges-copy").await?;
    assert!(stats.get("fatal_exception").is_none(), "{stats}");
    us.post_empty("/gauges/_open").await?.assert_status(200);
    bulk_ok(&us, "/gauges/_bulk", &bulk_lines("m", 100, 50)).await?;
    converge(&us, "gauges", &japan, "gauges-copy").await?;

    us.delete("/gauges").await?.assert_status(200);
    let fatal: Value = ferry_tests::wait_for(CCR_WAIT, "a fatal error", || async {
        shard_stats(&japan, "gauges-copy")
            .await
            .ok()
            .and_then(|s| s.get("fatal_exception").cloned())
    })
    .await?;
    assert_eq!(fatal["type"], json!("index_not_found_exception"), "{fatal}");
    let count = japan.get("/gauges-copy/_count").await?;
    assert_eq!(count.body["count"], json!(150), "{count}");
    Ok(())
}

/// A write into a follower is 403 with ES's error; `promote` makes it a regular index
/// that accepts writes, `_ccr/info` no longer lists it, and promoting again is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_turns_a_follower_into_a_writable_index() -> Result<()> {
    let (us, japan) = pair().await?;
    leader_index(&us, "users", 1).await?;
    follow(&japan, "users-copy", "users").await?;
    bulk_ok(&us, "/users/_bulk", &bulk_lines("u", 0, 20)).await?;
    converge(&us, "users", &japan, "users-copy").await?;

    let r = japan
        .put("/users-copy/_doc/new", &json!({"k": "new"}))
        .await?;
    assert_eq!(r.status, 403, "{r}");
    assert_eq!(r.error_type(), Some("status_exception"));
    assert_eq!(
        r.body["error"]["reason"],
        json!("a following engine does not accept operations without an assigned sequence number")
    );

    let r = japan.post_empty("/users-copy/_ccr/promote").await?;
    r.assert_status(200);
    let r = japan
        .put("/users-copy/_doc/new?refresh=true", &json!({"k": "new"}))
        .await?;
    assert_eq!(r.status, 201, "{r}");
    let count = japan.get("/users-copy/_count").await?;
    assert_eq!(count.body["count"], json!(21), "{count}");
    let info = japan.get("/users-copy/_ccr/info").await?;
    assert_eq!(info.body, json!({"follower_indices": []}), "{info}");
    // A paused, closed follower is promoted too (the steps already done are skipped).
    follow(&japan, "users-closed", "users").await?;
    converge(&us, "users", &japan, "users-closed").await?;
    japan
        .post_empty("/users-closed/_ccr/pause_follow")
        .await?
        .assert_status(200);
    japan
        .post_empty("/users-closed/_close")
        .await?
        .assert_status(200);
    japan
        .post_empty("/users-closed/_ccr/promote")
        .await?
        .assert_status(200);
    let r = japan
        .put("/users-closed/_doc/new", &json!({"k": "new"}))
        .await?;
    assert_eq!(r.status, 201, "{r}");
    let again = japan.post_empty("/users-copy/_ccr/promote").await?;
    assert_eq!(
        again.error_type(),
        Some("illegal_argument_exception"),
        "{again}"
    );
    Ok(())
}
