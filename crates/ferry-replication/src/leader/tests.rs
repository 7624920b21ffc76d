//! The leader service end to end: real shards on a temporary directory, a real tonic
//! server on 127.0.0.1 and a real client.

use bytes::Bytes;
use ferry_proto::v1 as pb;
use serde_json::json;
use tonic::Code;

use ferry_index::{IndexOp, WriteOp};

use super::testkit::{Leader, del, es_type, one_shard, put, write};

fn put_routed(id: &str, source: &str, routing: &str) -> WriteOp {
    WriteOp::Index(IndexOp {
        routing: Some(routing.into()),
        ..match put(id, source) {
            WriteOp::Index(op) => op,
            _ => unreachable!("put builds an index op"),
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_return_exactly_the_applied_operations() {
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    let mut acked = write(
        &h,
        vec![put("a", r#"{"n":1}"#), put_routed("b", r#"{"n":2}"#, "r1")],
    )
    .await;
    acked.extend(write(&h, vec![put("a", r#"{"n":3}"#), del("b")]).await);

    let resp = leader.read_ops(leader.read("logs", 0)).await.unwrap();
    assert_eq!(resp.global_checkpoint, 3);
    assert_eq!(resp.max_seq_no, 3);
    assert_eq!((resp.mapping_version, resp.settings_version), (3, 5));
    assert_eq!(resp.history_uuid, h.shards()[0].history_uuid());
    let got: Vec<_> = resp
        .ops
        .iter()
        .map(|o| {
            (
                o.seq_no,
                o.primary_term,
                o.version,
                o.id.clone(),
                o.op_type(),
                o.source.clone(),
                o.routing.clone(),
            )
        })
        .collect();
    let want: Vec<_> = acked
        .iter()
        .zip([
            (pb::OpType::Index, &br#"{"n":1}"#[..], None),
            (pb::OpType::Index, &br#"{"n":2}"#[..], Some("r1".to_owned())),
            (pb::OpType::Index, &br#"{"n":3}"#[..], None),
            (pb::OpType::Delete, &b""[..], None),
        ])
        .map(|(a, (t, src, routing))| {
            (
                i64::try_from(a.seq_no).unwrap(),
                a.primary_term,
                a.version,
                a.id.clone(),
                t,
                Bytes::from_static(src),
                routing,
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        got.iter().map(|g| (g.0, g.2)).collect::<Vec<_>>(),
        vec![(0, 1), (1, 1), (2, 2), (3, 2)]
    );
    assert!(resp.ops.iter().all(|o| o.timestamp_millis > 0));

    // From the middle; and with the right history uuid.
    let mut req = leader.read("logs", 2);
    req.expected_history_uuid = resp.history_uuid.clone();
    let tail = leader.read_ops(req).await.unwrap();
    assert_eq!(
        tail.ops.iter().map(|o| o.seq_no).collect::<Vec<_>>(),
        vec![2, 3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_ops_and_max_bytes_cap_an_answer() {
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    // Each op: id 2 bytes + source 18 bytes = 20 bytes.
    let ops = (0..10)
        .map(|i| put(&format!("d{i}"), &format!(r#"{{"v":"{:0>10}"}}"#, i)))
        .collect();
    write(&h, ops).await;

    let mut req = leader.read("logs", 0);
    req.max_ops = 4;
    let r = leader.read_ops(req).await.unwrap();
    assert_eq!(
        r.ops.iter().map(|o| o.seq_no).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert_eq!(r.global_checkpoint, 9);

    // 50 bytes: stops once the sum passes the cap (20, 40, 60 → three ops).
    let mut req = leader.read("logs", 5);
    req.max_bytes = 50;
    let r = leader.read_ops(req).await.unwrap();
    assert_eq!(
        r.ops.iter().map(|o| o.seq_no).collect::<Vec<_>>(),
        vec![5, 6, 7]
    );

    // A cap smaller than one op still answers one.
    let mut req = leader.read("logs", 8);
    req.max_bytes = 1;
    let r = leader.read_ops(req).await.unwrap();
    assert_eq!(r.ops.iter().map(|o| o.seq_no).collect::<Vec<_>>(), vec![8]);

    // Invalid requests are rejected, all problems at once.
    let mut req = leader.read("logs", -1);
    req.max_ops = 0;
    req.max_bytes = 0;
    let e = leader.read_ops(req).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(es_type(&e), "action_request_validation_exception");
    assert!(
        e.message()
            .contains("1: fromSeqNo [-1] cannot be lower than 0;"),
        "{}",
        e.message()
    );
    assert!(e.message().contains("3: maxBatchSize"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caught_up_read_long_polls_until_a_write_lands() {
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    write(&h, vec![put("a", "{}")]).await;

    let mut req = leader.read("logs", 1);
    req.poll_timeout_millis = 60_000;
    let pending = tokio::spawn({
        let leader_client = leader.client.clone();
        async move {
            leader_client
                .clone()
                .read_ops(req)
                .await
                .map(tonic::Response::into_inner)
        }
    });
    // Wait until the read is parked on the checkpoint watch (it holds a receiver).
    let shard = &h.shards()[0];
    while shard.global_checkpoint_watchers() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert!(!pending.is_finished(), "nothing above the checkpoint yet");
    let acked = write(&h, vec![put("b", r#"{"late":true}"#)]).await;
    let resp = pending.await.unwrap().unwrap();
    assert_eq!(resp.ops.len(), 1, "the long poll answers the new op");
    assert_eq!(resp.ops[0].seq_no, i64::try_from(acked[0].seq_no).unwrap());
    assert_eq!(resp.ops[0].id, "b");
    assert_eq!(resp.ops[0].source, Bytes::from_static(br#"{"late":true}"#));
    assert_eq!(resp.global_checkpoint, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_timeout_without_writes_answers_no_ops_and_the_checkpoints() {
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    write(&h, vec![put("a", "{}"), put("b", "{}")]).await;
    let mut req = leader.read("logs", 2);
    req.poll_timeout_millis = 50;
    let resp = leader.read_ops(req).await.unwrap();
    assert!(resp.ops.is_empty());
    assert_eq!((resp.global_checkpoint, resp.max_seq_no), (1, 1));
    assert_eq!(resp.history_uuid, h.shards()[0].history_uuid());

    // An empty shard: the checkpoint is -1.
    leader.create("empty", one_shard()).await;
    let resp = leader.read_ops(leader.read("empty", 0)).await.unwrap();
    assert!(resp.ops.is_empty());
    assert_eq!(resp.global_checkpoint, -1);
}

/// Settings with a retention period short enough to expire within a test.
fn short_retention() -> serde_json::Value {
    json!({ "index": {
        "number_of_shards": 1,
        "refresh_interval": "-1",
        "soft_deletes": { "retention_lease": { "period": "1ms" } },
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_history_is_the_operations_no_longer_available_error() {
    let leader = Leader::start().await;
    let h = leader.create("logs", short_retention()).await;
    write(&h, vec![put("a", r#"{"v":1}"#), put("b", r#"{"v":1}"#)]).await;
    // A lease that is never renewed: the 1ms period runs out before the prune.
    let mut client = leader.client.clone();
    client
        .add_retention_lease(leader.lease("logs", "stale", 0))
        .await
        .unwrap();
    write(&h, vec![put("a", r#"{"v":2}"#), put("b", r#"{"v":2}"#)]).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let report = h.shards()[0].prune_history().await.unwrap();
    assert_eq!(report.expired_leases, vec!["stale".to_owned()]);
    assert_eq!(report.pruned_ops, 2);

    let e = leader.read_ops(leader.read("logs", 0)).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(es_type(&e), "resource_not_found_exception");
    assert_eq!(
        e.message(),
        "Operations are no longer available for replicating. Existing retention leases []; \
         maybe increase the retention lease period setting \
         [index.soft_deletes.retention_lease.period]?"
    );
    let body: serde_json::Value = serde_json::from_slice(e.details()).unwrap();
    assert_eq!(
        body["error"]["requested_operations_missing"],
        json!(["0", "3"])
    );
    // What is retained can still be read.
    let r = leader.read_ops(leader.read("logs", 2)).await.unwrap();
    assert_eq!(
        r.ops.iter().map(|o| o.seq_no).collect::<Vec<_>>(),
        vec![2, 3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_keeps_history_readable_through_a_prune() {
    let leader = Leader::start().await;
    // The default 12h period: the lease cannot expire during the test.
    let h = leader.create("logs", one_shard()).await;
    let shard = &h.shards()[0];
    let mut client = leader.client.clone();
    write(&h, vec![put("a", r#"{"v":1}"#)]).await;
    let lease = client
        .add_retention_lease(leader.lease("logs", "follower-1", 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            lease.lease_id.as_str(),
            lease.retaining_seq_no,
            lease.source.as_str()
        ),
        ("follower-1", 0, "ccr")
    );
    write(&h, vec![put("a", r#"{"v":2}"#), del("a")]).await;
    let report = shard.prune_history().await.unwrap();
    assert_eq!(report.pruned_ops, 0);
    let r = leader.read_ops(leader.read("logs", 0)).await.unwrap();
    assert_eq!(
        r.ops.iter().map(|o| o.seq_no).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(r.ops[2].op_type(), pb::OpType::Delete);

    // Renewing forward releases what is below; the read from there on still works.
    let renewed = client
        .renew_retention_lease(leader.lease("logs", "follower-1", 2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renewed.retaining_seq_no, 2);
    let report = shard.prune_history().await.unwrap();
    assert_eq!(report.pruned_ops, 2);
    let e = leader.read_ops(leader.read("logs", 0)).await.unwrap_err();
    assert_eq!(es_type(&e), "resource_not_found_exception");
    assert!(
        e.message()
            .contains("RetentionLease{id='follower-1', retainingSequenceNumber=2"),
        "{}",
        e.message()
    );
    let r = leader.read_ops(leader.read("logs", 2)).await.unwrap();
    assert_eq!(r.ops.iter().map(|o| o.seq_no).collect::<Vec<_>>(), vec![2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_calls_and_their_errors() {
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    write(&h, vec![put("a", "{}"), put("b", "{}")]).await;
    let mut client = leader.client.clone();

    // RETAIN_ALL resolves to what the shard retains now.
    let all = client
        .add_retention_lease(leader.lease("logs", "boot", -1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.retaining_seq_no, 0);
    let again = client
        .add_retention_lease(leader.lease("logs", "boot", 0))
        .await
        .unwrap_err();
    assert_eq!(es_type(&again), "retention_lease_already_exists_exception");
    assert_eq!(again.code(), Code::InvalidArgument);

    let back = client
        .renew_retention_lease(leader.lease("logs", "boot", 1))
        .await
        .unwrap();
    assert_eq!(back.into_inner().retaining_seq_no, 1);
    let lower = client
        .renew_retention_lease(leader.lease("logs", "boot", 0))
        .await
        .unwrap_err();
    assert_eq!(es_type(&lower), "illegal_argument_exception");
    let negative = client
        .renew_retention_lease(leader.lease("logs", "boot", -2))
        .await
        .unwrap_err();
    assert_eq!(es_type(&negative), "illegal_argument_exception");
    let missing = client
        .renew_retention_lease(leader.lease("logs", "nobody", 1))
        .await
        .unwrap_err();
    assert_eq!(es_type(&missing), "retention_lease_not_found_exception");
    assert_eq!(missing.code(), Code::NotFound);
    let empty = client
        .add_retention_lease(leader.lease("logs", "", 0))
        .await
        .unwrap_err();
    assert_eq!(es_type(&empty), "illegal_argument_exception");

    let remove = |id: &str| pb::RemoveRetentionLeaseRequest {
        leader_index: "logs".into(),
        shard: 0,
        lease_id: id.into(),
    };
    client.remove_retention_lease(remove("boot")).await.unwrap();
    assert!(h.shards()[0].retention_leases().unwrap().is_empty());
    let gone = client
        .remove_retention_lease(remove("boot"))
        .await
        .unwrap_err();
    assert_eq!(es_type(&gone), "retention_lease_not_found_exception");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_indices_shards_closed_indices_and_history_mismatches_fail() {
    let leader = Leader::start().await;
    leader.create("logs", one_shard()).await;

    let e = leader.read_ops(leader.read("nope", 0)).await.unwrap_err();
    assert_eq!(
        (e.code(), es_type(&e)),
        (Code::NotFound, "index_not_found_exception".into())
    );
    assert_eq!(e.message(), "no such index [nope]");

    let mut req = leader.read("logs", 0);
    req.shard = 1;
    let e = leader.read_ops(req).await.unwrap_err();
    assert_eq!(
        (e.code(), es_type(&e)),
        (Code::NotFound, "shard_not_found_exception".into())
    );

    let mut req = leader.read("logs", 0);
    req.expected_history_uuid = "not-this-one".into();
    let e = leader.read_ops(req).await.unwrap_err();
    assert_eq!(es_type(&e), "illegal_state_exception");
    assert!(
        e.message()
            .starts_with("unexpected history uuid, expected [not-this-one], actual ["),
        "{}",
        e.message()
    );

    leader.registry.closed.lock().push("logs".into());
    let e = leader.read_ops(leader.read("logs", 0)).await.unwrap_err();
    assert_eq!(es_type(&e), "index_closed_exception");
    let e = leader
        .client
        .clone()
        .add_retention_lease(leader.lease("logs", "x", 0))
        .await
        .unwrap_err();
    assert_eq!(es_type(&e), "index_closed_exception");
}
