//! The CCR leader service of a real `ferryd`: documents written through REST come back,
//! in order and with the same `_seq_no`, `_primary_term` and `_version`, from the
//! `ferry.v1.Replication` service on the transport port; deletes arrive as DELETE ops.

use anyhow::{Context, Result};
use ferry_proto::v1 as pb;
use ferry_proto::v1::replication_client::ReplicationClient;
use ferry_tests::TestNode;
use ferry_tests::ops::create_index;
use serde_json::{Value, json};

fn read(index: &str, from: i64) -> pb::ReadOpsRequest {
    pb::ReadOpsRequest {
        leader_index: index.into(),
        shard: 0,
        from_seq_no: from,
        max_ops: 100,
        max_bytes: 1 << 20,
        poll_timeout_millis: 0,
        expected_history_uuid: String::new(),
    }
}

#[tokio::test]
async fn rest_writes_come_back_as_replication_ops() -> Result<()> {
    let node = TestNode::start().await?;
    let http = node.http();
    create_index(
        http,
        "leader",
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}}),
    )
    .await?;
    // (seq_no, primary_term, version, id, source or None for a delete)
    let mut written: Vec<(i64, u64, u64, String, Option<Value>)> = Vec::new();
    for (id, doc) in [
        ("1", json!({"n": 1})),
        ("2", json!({"n": 2})),
        ("1", json!({"n": 3})),
    ] {
        let r = http.put(&format!("/leader/_doc/{id}"), &doc).await?;
        assert!(r.status == 200 || r.status == 201, "{r}");
        written.push((
            r.body["_seq_no"].as_i64().context("_seq_no")?,
            r.body["_primary_term"].as_u64().context("_primary_term")?,
            r.body["_version"].as_u64().context("_version")?,
            id.to_owned(),
            Some(doc),
        ));
    }
    let r = http.delete("/leader/_doc/2").await?;
    r.assert_status(200);
    written.push((
        r.body["_seq_no"].as_i64().context("_seq_no")?,
        r.body["_primary_term"].as_u64().context("_primary_term")?,
        r.body["_version"].as_u64().context("_version")?,
        "2".to_owned(),
        None,
    ));

    let mut client = ReplicationClient::connect(node.transport_url()).await?;
    let resp = client.read_ops(read("leader", 0)).await?.into_inner();
    assert_eq!(resp.global_checkpoint, written.last().map_or(-1, |w| w.0));
    assert!(!resp.history_uuid.is_empty());
    assert!(resp.mapping_version >= 1 && resp.settings_version >= 1);
    let got: Vec<(i64, u64, u64, String, Option<Value>)> = resp
        .ops
        .iter()
        .map(|op| {
            let source = match op.op_type() {
                pb::OpType::Index => {
                    Some(serde_json::from_slice(&op.source).expect("source is JSON"))
                }
                _ => None,
            };
            (
                op.seq_no,
                op.primary_term,
                op.version,
                op.id.clone(),
                source,
            )
        })
        .collect();
    assert_eq!(got, written);
    assert_eq!(resp.ops[3].op_type(), pb::OpType::Delete);

    // Caught up: a short poll answers nothing; the history uuid is pinned.
    let mut caught_up = read("leader", resp.global_checkpoint + 1);
    caught_up.poll_timeout_millis = 10;
    caught_up.expected_history_uuid = resp.history_uuid.clone();
    let empty = client.read_ops(caught_up).await?.into_inner();
    assert!(empty.ops.is_empty());

    // Errors carry the Elasticsearch error body.
    let missing = client.read_ops(read("nope", 0)).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let body: Value = serde_json::from_slice(missing.details())?;
    assert_eq!(body["error"]["type"], "index_not_found_exception");
    assert_eq!(body["status"], 404);
    Ok(())
}
