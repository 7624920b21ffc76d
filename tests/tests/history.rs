//! Operation history as REST can observe it.
//!
//! Elasticsearch has no endpoint that lists a shard's raw history, but every operation that
//! enters history takes the next `_seq_no` of its shard, and documents carry the `_version`
//! their history gives them. So: after N history-writing operations (index, overwrite,
//! update, delete — including the delete of a missing document, which ES records as a
//! tombstone) the next write's `_seq_no` is exactly N; refused or no-op operations take
//! none; versions continue across a delete while the tombstone is kept; per shard, numbers
//! are dense from 0. Retention leases and pruning are unit- and property-tested inside
//! `ferry-index`, where their clock and thresholds can be controlled.

use anyhow::Result;
use ferry_tests::ops::create_index;
use ferry_tests::{Resp, TestNode};
use serde_json::json;

#[track_caller]
fn seq(resp: &Resp) -> u64 {
    resp.body["_seq_no"]
        .as_u64()
        .unwrap_or_else(|| panic!("no _seq_no in {resp}"))
}

#[track_caller]
fn version(resp: &Resp) -> u64 {
    resp.body["_version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no _version in {resp}"))
}

#[tokio::test]
async fn every_history_operation_takes_the_next_sequence_number() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "h",
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": {"properties": {"n": {"type": "long"}}}}),
    )
    .await?;

    let r = node.put("/h/_doc/1", &json!({"n": 1})).await?;
    assert_eq!((r.status, seq(&r), version(&r)), (201, 0, 1), "{r}");
    let r = node.put("/h/_doc/2", &json!({"n": 2})).await?;
    assert_eq!((r.status, seq(&r), version(&r)), (201, 1, 1), "{r}");
    let r = node.put("/h/_doc/1", &json!({"n": 11})).await?;
    assert_eq!(
        (r.status, seq(&r), version(&r)),
        (200, 2, 2),
        "an overwrite is a new history entry: {r}"
    );
    let r = node
        .post("/h/_update/2", &json!({"doc": {"n": 22}}))
        .await?;
    assert_eq!(
        (r.status, seq(&r), version(&r)),
        (200, 3, 2),
        "an update is a new history entry: {r}"
    );

    // A noop update writes no history.
    let r = node
        .post("/h/_update/2", &json!({"doc": {"n": 22}}))
        .await?;
    assert_eq!(r.body["result"], json!("noop"), "{r}");
    assert_eq!(seq(&r), 3, "{r}");

    let r = node.delete("/h/_doc/1").await?;
    assert_eq!(
        (r.status, seq(&r), version(&r)),
        (200, 4, 3),
        "a delete is a history entry (soft delete): {r}"
    );

    // ES records the delete of a missing document as a tombstone: it takes a seq_no.
    let r = node.delete("/h/_doc/never").await?;
    assert_eq!(r.status, 404, "{r}");
    assert_eq!(r.body["result"], json!("not_found"), "{r}");
    assert_eq!(seq(&r), 5, "{r}");

    // Re-creating a deleted document continues its version from the tombstone.
    let r = node.put("/h/_doc/1", &json!({"n": 111})).await?;
    assert_eq!((r.status, seq(&r), version(&r)), (201, 6, 4), "{r}");
    assert_eq!(r.body["result"], json!("created"), "{r}");

    // Refused operations take no sequence number.
    let r = node.put("/h/_create/1", &json!({"n": 0})).await?;
    assert_eq!(r.status, 409, "{r}");
    let r = node
        .put("/h/_doc/1?if_seq_no=0&if_primary_term=1", &json!({"n": 0}))
        .await?;
    assert_eq!(r.status, 409, "{r}");
    let r = node.put("/h/_doc/3", &json!({"n": "not a number"})).await?;
    assert_eq!(r.status, 400, "{r}");
    let r = node
        .post("/h/_update/missing", &json!({"doc": {"n": 1}}))
        .await?;
    assert_eq!(r.status, 404, "{r}");

    let r = node.put("/h/_doc/3", &json!({"n": 3})).await?;
    assert_eq!((r.status, seq(&r)), (201, 7), "{r}");

    // A bulk's items take consecutive numbers in item order; its failed item takes none.
    let r = node
        .bulk(
            "/_bulk",
            &[
                json!({"index": {"_index": "h", "_id": "4"}}),
                json!({"n": 4}),
                json!({"create": {"_index": "h", "_id": "3"}}),
                json!({"n": 33}),
                json!({"delete": {"_index": "h", "_id": "2"}}),
                json!({"update": {"_index": "h", "_id": "4"}}),
                json!({"doc": {"n": 44}}),
            ],
        )
        .await?;
    r.assert_status(200);
    let items = r.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {r}"));
    assert_eq!(items[0]["index"]["_seq_no"], json!(8), "{r}");
    assert_eq!(items[1]["create"]["status"], json!(409), "{r}");
    assert_eq!(items[2]["delete"]["_seq_no"], json!(9), "{r}");
    assert_eq!(items[3]["update"]["_seq_no"], json!(10), "{r}");

    // GET shows each document's last history entry.
    let r = node.get("/h/_doc/1").await?;
    assert_eq!((seq(&r), version(&r)), (6, 4), "{r}");
    let r = node.get("/h/_doc/4").await?;
    assert_eq!((seq(&r), version(&r)), (10, 2), "{r}");
    let r = node.put("/h/_doc/5", &json!({"n": 5})).await?;
    assert_eq!(seq(&r), 11, "{r}");
    Ok(())
}

#[tokio::test]
async fn history_numbering_survives_a_restart() -> Result<()> {
    let mut node = TestNode::start().await?;
    create_index(
        &node,
        "hr",
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}}),
    )
    .await?;
    for i in 0..5 {
        node.put(&format!("/hr/_doc/{i}"), &json!({"i": i}))
            .await?
            .assert_status(201);
    }
    node.delete("/hr/_doc/0").await?.assert_status(200);
    node.put("/hr/_doc/1", &json!({"i": 10}))
        .await?
        .assert_status(200);
    node.kill9().await?;
    node.restart().await?;
    // 7 history entries (seq 0..=6) before the crash: the next one is 7.
    let r = node.put("/hr/_doc/9", &json!({"i": 9})).await?;
    assert_eq!(seq(&r), 7, "{r}");
    let r = node.put("/hr/_doc/1", &json!({"i": 11})).await?;
    assert_eq!((r.status, seq(&r), version(&r)), (200, 8, 3), "{r}");
    Ok(())
}

#[tokio::test]
async fn each_shard_numbers_its_history_densely_from_zero() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "hs",
        json!({"settings": {"number_of_shards": 2, "number_of_replicas": 0}}),
    )
    .await?;
    let mut seqs = Vec::new();
    for i in 0..40 {
        let r = node
            .put(&format!("/hs/_doc/doc-{i}"), &json!({"i": i}))
            .await?;
        r.assert_status(201);
        seqs.push(seq(&r));
    }
    node.post_empty("/hs/_refresh").await?.assert_status(200);
    let r = node.get("/_cat/shards?format=json").await?;
    r.assert_status(200);
    let per_shard: Vec<u64> = r
        .body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {r}"))
        .iter()
        .filter(|s| s["index"] == json!("hs") && s["prirep"] == json!("p"))
        .map(|s| {
            s["docs"]
                .as_str()
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("no docs in {r}"))
        })
        .collect();
    assert_eq!(per_shard.len(), 2, "{r}");
    assert_eq!(per_shard.iter().sum::<u64>(), 40, "{r}");
    // Shard k with d_k documents used exactly 0..d_k.
    let mut expected: Vec<u64> = per_shard.iter().flat_map(|&d| 0..d).collect();
    expected.sort_unstable();
    seqs.sort_unstable();
    assert_eq!(
        seqs, expected,
        "per-shard sequence numbers must be dense from 0 (shards hold {per_shard:?})"
    );
    Ok(())
}
