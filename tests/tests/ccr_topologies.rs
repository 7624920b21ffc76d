//! Replication topologies with real `ferryd` processes, one per cluster: a chain A→B→C
//! keeps A's `_seq_no` and `_version` all the way down; one leader feeds two followers;
//! bidirectional A⇄B with auto-follow patterns on distinct index names never re-follows a
//! follower.

use anyhow::Result;
use ferry_tests::ccr::{CCR_WAIT, add_remote, bulk_lines, bulk_ok, cluster_node, converge};
use ferry_tests::{TestNode, wait_until};
use serde_json::json;

async fn follow(node: &TestNode, follower: &str, remote: &str, leader: &str) -> Result<()> {
    node.put(
        &format!("/{follower}/_ccr/follow"),
        &json!({"remote_cluster": remote, "leader_index": leader, "read_poll_timeout": "1s"}),
    )
    .await?
    .assert_status(200);
    Ok(())
}

async fn leader_index(node: &TestNode, name: &str) -> Result<()> {
    node.put(
        &format!("/{name}"),
        &json!({"mappings": {"properties": {"k": {"type": "keyword"}}}}),
    )
    .await?
    .assert_status(200);
    Ok(())
}

/// A→B→C: B follows A, C follows B (a follower serving as a leader); writes, updates and
/// deletes on A reach C with A's `_seq_no` and `_version`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_keeps_the_original_seq_no_down_the_chain() -> Result<()> {
    let a = cluster_node("cluster-a").await?;
    let b = cluster_node("cluster-b").await?;
    let c = cluster_node("cluster-c").await?;
    add_remote(&b, "a", &a).await?;
    add_remote(&c, "b", &b).await?;
    leader_index(&a, "events").await?;
    follow(&b, "events-b", "a", "events").await?;
    follow(&c, "events-c", "b", "events-b").await?;
    bulk_ok(&a, "/events/_bulk", &bulk_lines("c", 0, 500)).await?;
    a.put("/events/_doc/c000001", &json!({"k": "c000001", "n": 99}))
        .await?;
    a.delete("/events/_doc/c000002").await?.assert_status(200);
    converge(&a, "events", &b, "events-b").await?;
    converge(&a, "events", &c, "events-c").await?;
    let r = c.get("/events-c/_doc/c000001").await?;
    assert_eq!(r.body["_version"], json!(2), "{r}");
    Ok(())
}

/// One leader, two followers in two clusters, each with its own lease: both converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_feeds_two_followers() -> Result<()> {
    let a = cluster_node("cluster-a").await?;
    let b = cluster_node("cluster-b").await?;
    let c = cluster_node("cluster-c").await?;
    add_remote(&b, "a", &a).await?;
    add_remote(&c, "a", &a).await?;
    leader_index(&a, "shared").await?;
    follow(&b, "shared-b", "a", "shared").await?;
    follow(&c, "shared-c", "a", "shared").await?;
    bulk_ok(&a, "/shared/_bulk", &bulk_lines("s", 0, 300)).await?;
    a.delete("/shared/_doc/s000010").await?.assert_status(200);
    converge(&a, "shared", &b, "shared-b").await?;
    converge(&a, "shared", &c, "shared-c").await?;
    Ok(())
}

/// A⇄B: each cluster writes its own `logs-<cluster>` index and auto-follows the other's
/// `logs-*` as `<name>-replica`, excluding `*-replica`; both end with both data sets and
/// no index is ever followed twice (`…-replica-replica` never appears); an index that
/// existed before the patterns is not followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidirectional_auto_follow_never_refollows_a_follower() -> Result<()> {
    let a = cluster_node("cluster-a").await?;
    let b = cluster_node("cluster-b").await?;
    add_remote(&a, "b", &b).await?;
    add_remote(&b, "a", &a).await?;
    // Indices that exist when a pattern is created are not followed (as in ES).
    leader_index(&a, "logs-before").await?;
    for (node, remote) in [(&a, "b"), (&b, "a")] {
        node.put(
            "/_ccr/auto_follow/logs",
            &json!({"remote_cluster": remote, "leader_index_patterns": ["logs-*"],
                "leader_index_exclusion_patterns": ["*-replica"],
                "follow_index_pattern": "{{leader_index}}-replica",
                "read_poll_timeout": "1s"}),
        )
        .await?
        .assert_status(200);
    }
    leader_index(&a, "logs-a").await?;
    leader_index(&b, "logs-b").await?;
    bulk_ok(&a, "/logs-a/_bulk", &bulk_lines("a", 0, 200)).await?;
    bulk_ok(&b, "/logs-b/_bulk", &bulk_lines("b", 0, 200)).await?;
    for (node, index) in [(&b, "logs-a-replica"), (&a, "logs-b-replica")] {
        wait_until(CCR_WAIT, "the other side's logs are followed", || async {
            node.get(&format!("/{index}"))
                .await
                .is_ok_and(|r| r.status == 200)
        })
        .await?;
    }
    converge(&a, "logs-a", &b, "logs-a-replica").await?;
    converge(&b, "logs-b", &a, "logs-b-replica").await?;
    // B's auto-follower has seen logs-before and logs-a since; only logs-a was followed.
    wait_until(CCR_WAIT, "B checked A again", || async {
        b.get("/_ccr/stats").await.is_ok_and(|r| {
            r.body["auto_follow_stats"]["auto_followed_clusters"][0]["last_seen_metadata_version"]
                .as_u64()
                .is_some()
        })
    })
    .await?;
    // Each side has seen the other's replica index; neither followed it.
    for node in [&a, &b] {
        let r = node.get("/_cat/indices?h=index&format=json").await?;
        let names: Vec<String> = r.body.as_array().map_or_else(Vec::new, |a| {
            a.iter()
                .filter_map(|i| i["index"].as_str().map(str::to_owned))
                .collect()
        });
        assert!(
            names.iter().all(|n| !n.ends_with("-replica-replica")),
            "{names:?}"
        );
        assert!(
            names.iter().all(|n| n != "logs-before-replica"),
            "{names:?}"
        );
        let stats = node.get("/_ccr/stats").await?;
        assert_eq!(
            stats.body["auto_follow_stats"]["number_of_successful_follow_indices"],
            json!(1),
            "{stats}"
        );
    }
    Ok(())
}
