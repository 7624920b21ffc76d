//! Following a leader index across two real `ferryd` processes: the remote is defined on
//! the follower node, `PUT /<f>/_ccr/follow` creates the follower and starts its shard
//! tasks, and the follower converges to the leader's documents with the leader's
//! `_seq_no` and `_version`, through writes, updates, deletes, pause and resume.

use std::time::Duration;

use anyhow::Result;
use ferry_tests::{Http, wait_until};
use serde_json::{Value, json};

/// A hang guard for replication to converge (never a speed check).
const WAIT: Duration = ferry_tests::ccr::CCR_WAIT;

/// `(seq_no, version, source)` of `index/_doc/id`, or `None` when not found.
async fn doc(http: &Http, index: &str, id: &str) -> Option<(Value, Value, Value)> {
    let r = http.get(&format!("/{index}/_doc/{id}")).await.ok()?;
    (r.status == 200 && r.body["found"] == json!(true)).then(|| {
        (
            r.body["_seq_no"].clone(),
            r.body["_version"].clone(),
            r.body["_source"].clone(),
        )
    })
}

/// Waits until the follower holds exactly the leader's state of every id in `ids`.
async fn converged(us: &Http, japan: &Http, ids: &[&str]) -> Result<()> {
    wait_until(WAIT, "follower matches leader", || async {
        for id in ids {
            if doc(us, "products", id).await != doc(japan, "products-copy", id).await {
                return false;
            }
        }
        true
    })
    .await
}

/// The tutorial's flow: a typed-mapping leader with soft deletes, a remote on the
/// follower, put-follow, convergence (same `_seq_no`, `_version`, source; deletes gone),
/// a 403 for client writes on the follower, pause (no new data arrives) and resume
/// (it does), and the stats fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_converges_refuses_writes_pauses_and_resumes() -> Result<()> {
    let us = ferry_tests::ccr::cluster_node("us-cluster").await?;
    let japan = ferry_tests::ccr::cluster_node("japan-cluster").await?;

    us.put(
        "/products",
        &json!({
            "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0,
                "soft_deletes": {"enabled": true}}},
            "mappings": {"_doc": {"properties": {
                "name": {"type": "keyword"}, "price": {"type": "double"}}}}
        }),
    )
    .await?
    .assert_status(200);
    for (id, name) in [("1", "apple"), ("2", "banana"), ("3", "cherry")] {
        let r = us
            .put(
                &format!("/products/_doc/{id}"),
                &json!({"name": name, "price": 1.5}),
            )
            .await?;
        assert_eq!(r.status, 201, "{r}");
    }

    let seed = format!("127.0.0.1:{}", us.transport_port());
    japan
        .put(
            "/_cluster/settings",
            &json!({"persistent": {"cluster": {"remote": {"leader": {"seeds": [seed]}}}}}),
        )
        .await?
        .assert_status(200);
    wait_until(WAIT, "remote connected", || async {
        match japan.get("/_remote/info").await {
            Ok(r) => r.body["leader"]["connected"] == json!(true),
            Err(_) => false,
        }
    })
    .await?;

    // Validation: missing fields, an unknown alias, a replicated-setting override.
    let r = japan.put("/bad/_ccr/follow", &json!({})).await?;
    assert_eq!(r.status, 400, "{r}");
    assert_eq!(r.error_type(), Some("action_request_validation_exception"));
    let r = japan
        .put(
            "/bad/_ccr/follow",
            &json!({"remote_cluster": "nope", "leader_index": "products"}),
        )
        .await?;
    assert_eq!(
        r.error_type(),
        Some("no_such_remote_cluster_exception"),
        "{r}"
    );
    let r = japan
        .put(
            "/bad/_ccr/follow",
            &json!({"remote_cluster": "leader", "leader_index": "products",
                "settings": {"index.number_of_shards": 3}}),
        )
        .await?;
    assert_eq!(r.error_type(), Some("illegal_argument_exception"), "{r}");
    assert!(r.text.contains("could override leader settings"), "{r}");

    let r = japan
        .put(
            "/products-copy/_ccr/follow",
            &json!({"remote_cluster": "leader", "leader_index": "products",
                "read_poll_timeout": "1s"}),
        )
        .await?;
    r.assert_status(200);
    // No `wait_for_active_shards`: ES answers before the copy is restored.
    assert_eq!(
        r.body,
        json!({"follow_index_created": true, "follow_index_shards_acked": false,
            "index_following_started": false})
    );
    let again = japan
        .put(
            "/products-copy/_ccr/follow",
            &json!({"remote_cluster": "leader", "leader_index": "products"}),
        )
        .await?;
    assert_eq!(
        again.error_type(),
        Some("resource_already_exists_exception"),
        "{again}"
    );
    converged(&us, &japan, &["1", "2", "3"]).await?;
    let mapping = japan.get("/products-copy/_mapping").await?;
    assert_eq!(
        mapping.body["products-copy"]["mappings"]["properties"]["name"]["type"],
        json!("keyword"),
        "{mapping}"
    );
    let settings = japan.get("/products-copy/_settings").await?;
    let index = &settings.body["products-copy"]["settings"]["index"];
    assert_eq!(
        index["xpack"]["ccr"]["following_index"],
        json!("true"),
        "{settings}"
    );
    assert_eq!(index["number_of_shards"], json!("1"));

    // Writes, an update and a delete on the leader converge.
    us.put("/products/_doc/4", &json!({"name": "date", "price": 2.0}))
        .await?;
    us.put("/products/_doc/1", &json!({"name": "apple", "price": 9.9}))
        .await?;
    us.delete("/products/_doc/2").await?.assert_status(200);
    converged(&us, &japan, &["1", "2", "3", "4"]).await?;
    assert!(doc(&japan, "products-copy", "2").await.is_none());
    assert_eq!(
        doc(&japan, "products-copy", "1").await.map(|d| d.1),
        Some(json!(2))
    );

    // A client write into the follower is refused.
    let r = japan
        .put("/products-copy/_doc/9", &json!({"name": "x"}))
        .await?;
    assert_eq!(r.status, 403, "{r}");
    assert_eq!(r.error_type(), Some("status_exception"));

    // Stats show the planner's fields and the identity.
    let stats = japan.get("/products-copy/_ccr/stats").await?;
    stats.assert_status(200);
    let index = &stats.body["indices"][0];
    assert_eq!(index["index"], json!("products-copy"));
    assert_eq!(index["total_global_checkpoint_lag"], json!(0));
    let shard = &index["shards"][0];
    for field in [
        "leader_global_checkpoint",
        "follower_global_checkpoint",
        "last_requested_seq_no",
        "operations_written",
        "successful_read_requests",
        "time_since_last_read_millis",
        "read_exceptions",
    ] {
        assert!(shard.get(field).is_some(), "{field} missing in {shard}");
    }
    assert_eq!(shard["remote_cluster"], json!("leader"));
    assert_eq!(shard["leader_index"], json!("products"));
    assert_eq!(shard["follower_index"], json!("products-copy"));
    assert_eq!(shard["shard_id"], json!(0));
    assert_eq!(shard["follower_global_checkpoint"], json!(5));
    assert!(shard.get("total_read").is_none(), "{shard}");
    // `?human` adds ES's readable companions beside the raw fields.
    let human = japan.get("/products-copy/_ccr/stats?human=true").await?;
    let shard = &human.body["indices"][0]["shards"][0];
    for (raw, readable) in [
        ("bytes_read", "total_read"),
        ("write_buffer_size_in_bytes", "write_buffer_size"),
        ("total_read_time_millis", "total_read_time"),
        ("total_write_time_millis", "total_write_time"),
        ("time_since_last_read_millis", "time_since_last_read"),
    ] {
        assert!(shard[raw].is_i64(), "{raw} in {shard}");
        assert!(shard[readable].is_string(), "{readable} in {shard}");
    }
    let bytes = shard["bytes_read"].as_u64().unwrap_or(0);
    assert!(bytes > 0, "{shard}");
    assert!(
        shard["total_read"]
            .as_str()
            .is_some_and(|t| t.ends_with('b') && t != "0b"),
        "{shard}"
    );

    // Pause: a leader write does not arrive (checked once the write is acknowledged and a
    // leader refresh happened; a negative check that can only pass wrongly, never flake).
    japan
        .post_empty("/products-copy/_ccr/pause_follow")
        .await?
        .assert_status(200);
    // As ES: stats report running shard tasks, so a paused follower by name is a 404
    // and `_all` leaves it out.
    let paused = japan.get("/products-copy/_ccr/stats").await?;
    paused.assert_status(404);
    assert_eq!(paused.error_type(), Some("resource_not_found_exception"));
    assert_eq!(
        paused.body["error"]["reason"],
        json!("No shard follow tasks for follower indices [products-copy]")
    );
    let all = japan.get("/_all/_ccr/stats").await?;
    assert_eq!(all.body, json!({"indices": []}), "{all}");
    us.put("/products/_doc/5", &json!({"name": "elder", "price": 3.0}))
        .await?;
    us.post_empty("/products/_refresh").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(doc(&japan, "products-copy", "5").await.is_none());

    // Resume (with a new parameter): it arrives.
    japan
        .post(
            "/products-copy/_ccr/resume_follow",
            &json!({"max_read_request_operation_count": 2}),
        )
        .await?
        .assert_status(200);
    converged(&us, &japan, &["1", "2", "3", "4", "5"]).await?;
    Ok(())
}
