//! Fixtures of the document API tests: a node with an index `docs` (1 shard, 0 replicas),
//! the write-response check and the realtime GET they all use.
//!
//! They assert exactly what ES answers on such an index (`_shards` of 1, `_primary_term` 1,
//! `_type: "_doc"`); anything else belongs in the test files.

use anyhow::Result;
use serde_json::{Value, json};

use crate::ops::create_index;
use crate::{Http, Resp, TestNode};

/// A node with index `docs` (1 shard, 0 replicas).
pub async fn node_with_docs() -> Result<TestNode> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "docs",
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}}),
    )
    .await?;
    Ok(node)
}

/// Asserts the write-response fields ES returns on a 1-shard, 0-replica index.
#[track_caller]
pub fn assert_write(resp: &Resp, status: u16, result: &str, id: &str, version: u64, seq_no: u64) {
    resp.assert_status(status);
    let b = &resp.body;
    assert_eq!(b["_index"], json!("docs"), "{resp}");
    assert_eq!(b["_type"], json!("_doc"), "{resp}");
    assert_eq!(b["_id"], json!(id), "{resp}");
    assert_eq!(b["_version"], json!(version), "{resp}");
    assert_eq!(b["result"], json!(result), "{resp}");
    assert_eq!(b["_seq_no"], json!(seq_no), "{resp}");
    assert_eq!(b["_primary_term"], json!(1), "{resp}");
    assert_eq!(
        b["_shards"],
        json!({"total": 1, "successful": 1, "failed": 0}),
        "{resp}"
    );
}

/// GET /docs/_doc/<id> → (version, seq_no, source), asserting `found: true`.
pub async fn get_found(node: &Http, id: &str) -> Result<(u64, u64, Value)> {
    let r = node.get(&format!("/docs/_doc/{id}")).await?;
    r.assert_status(200);
    assert_eq!(r.body["found"], json!(true), "{r}");
    assert_eq!(r.body["_type"], json!("_doc"), "{r}");
    assert_eq!(r.body["_index"], json!("docs"), "{r}");
    assert_eq!(r.body["_id"], json!(id), "{r}");
    assert_eq!(r.body["_primary_term"], json!(1), "{r}");
    let version = r.body["_version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no _version: {r}"));
    let seq_no = r.body["_seq_no"]
        .as_u64()
        .unwrap_or_else(|| panic!("no _seq_no: {r}"));
    Ok((version, seq_no, r.body["_source"].clone()))
}
