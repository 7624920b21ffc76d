//! The follow task's calls to the leader cluster over its transport port: `ReadOps`, the
//! retention-lease RPCs, the bootstrap copy-session calls and the admin `GetIndex` (for the
//! leader's mapping while following), each with its own deadline, and the split of their failures into
//! retryable and fatal (§4.4).
//!
//! Deliberately not here: which call to make when (the planner and [`super::task`]
//! decide), and connection management (the remote registry owns the channel).

use std::time::Duration;

use ferry_index::ReplicatedOp;
use ferry_proto::v1 as pb;
use ferry_proto::v1::admin_client::AdminClient;
use ferry_proto::v1::replication_client::ReplicationClient;
use serde_json::Value;
use tonic::transport::Channel;

use super::events::{ErrorKind, TaskError};

/// How long an ordinary (not long-polling) leader call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest message accepted from the leader (a read answer is capped by `max_read_request_size`
/// on the leader, but always carries one op however large).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Leader-side error types after which retrying cannot help (§4.4).
const FATAL_TYPES: &[&str] = &[
    "resource_not_found_exception",
    "illegal_state_exception",
    "index_not_found_exception",
    "illegal_argument_exception",
    "action_request_validation_exception",
];

/// The answer of one `ReadOps`.
#[derive(Debug)]
pub struct ReadAnswer {
    /// The operations, in seq_no order.
    pub ops: Vec<ReplicatedOp>,
    /// The leader shard's global checkpoint.
    pub global_checkpoint: i64,
    /// The leader shard's max seq_no.
    pub max_seq_no: i64,
    /// The leader index's mapping version.
    pub mapping_version: u64,
    /// The leader index's settings version.
    pub settings_version: u64,
    /// The leader shard's history UUID.
    pub history_uuid: String,
}

/// A bootstrap copy session the leader pinned, as `OpenCopySession` described it: the
/// same description the leader keeps.
pub use crate::leader::CopyDescription as CopySession;

/// Whether a failed copy-session call says the leader does not hold the session (it
/// expired, was closed, or the leader restarted).
pub fn is_session_not_found(status: &tonic::Status) -> bool {
    es_type_of(status).as_deref() == Some(crate::leader::SESSION_NOT_FOUND)
}

/// The ES error type of a failed call (from the status details), if the leader sent one.
pub fn es_type_of(status: &tonic::Status) -> Option<String> {
    let body: Value = serde_json::from_slice(status.details()).ok()?;
    body["error"]["type"].as_str().map(str::to_owned)
}

/// A failed leader call, classified.
pub fn classify(status: &tonic::Status) -> ErrorKind {
    match es_type_of(status) {
        Some(t) if FATAL_TYPES.contains(&t.as_str()) => {
            ErrorKind::Fatal(TaskError::new(t, status.message()))
        }
        Some(t) => ErrorKind::Retryable(TaskError::new(t, status.message())),
        None => ErrorKind::Retryable(TaskError::new(
            "connect_transport_exception",
            format!("leader call failed: {}", status.message()),
        )),
    }
}

/// `ReadOps` on `channel`; the deadline is the poll timeout plus [`CALL_TIMEOUT`].
#[allow(clippy::too_many_arguments)]
pub async fn read_ops(
    channel: Channel,
    leader_index: &str,
    shard: u32,
    from: i64,
    max_ops: u32,
    max_bytes: u64,
    poll_timeout: Duration,
    expected_history_uuid: &str,
) -> Result<ReadAnswer, tonic::Status> {
    let mut client = ReplicationClient::new(channel).max_decoding_message_size(MAX_MESSAGE);
    let mut req = tonic::Request::new(pb::ReadOpsRequest {
        leader_index: leader_index.to_owned(),
        shard,
        from_seq_no: from,
        max_ops,
        max_bytes,
        poll_timeout_millis: u64::try_from(poll_timeout.as_millis()).unwrap_or(u64::MAX),
        expected_history_uuid: expected_history_uuid.to_owned(),
    });
    req.set_timeout(poll_timeout + CALL_TIMEOUT);
    let answer = client.read_ops(req).await?.into_inner();
    let ops = answer
        .ops
        .into_iter()
        .map(|op| {
            let delete = op.op_type == pb::OpType::Delete as i32;
            ReplicatedOp {
                seq_no: u64::try_from(op.seq_no).unwrap_or_default(),
                primary_term: op.primary_term,
                version: op.version,
                id: op.id,
                routing: op.routing,
                source: (!delete).then_some(op.source),
                timestamp_millis: op.timestamp_millis,
            }
        })
        .collect();
    Ok(ReadAnswer {
        ops,
        global_checkpoint: answer.global_checkpoint,
        max_seq_no: answer.max_seq_no,
        mapping_version: answer.mapping_version,
        settings_version: answer.settings_version,
        history_uuid: answer.history_uuid,
    })
}

/// Adds (`renew == false`) or renews the lease `lease_id` on the leader shard; answers the
/// retaining seq_no the lease now holds (`-1` resolved).
pub async fn lease(
    channel: Channel,
    leader_index: &str,
    shard: u32,
    lease_id: &str,
    retaining_seq_no: i64,
    renew: bool,
) -> Result<i64, tonic::Status> {
    let mut client = ReplicationClient::new(channel);
    let mut req = tonic::Request::new(pb::RetentionLeaseRequest {
        leader_index: leader_index.to_owned(),
        shard,
        lease_id: lease_id.to_owned(),
        retaining_seq_no,
        source: "ccr".to_owned(),
    });
    req.set_timeout(CALL_TIMEOUT);
    let held = if renew {
        client.renew_retention_lease(req).await?
    } else {
        client.add_retention_lease(req).await?
    };
    Ok(held.into_inner().retaining_seq_no)
}

/// Opens (or re-attaches to) copy session `session_id` on the leader shard; the deadline
/// is `timeout` (the leader keeps writing the copy past it, a retry with the same id
/// picks it up).
pub async fn open_copy_session(
    channel: Channel,
    leader_index: &str,
    shard: u32,
    session_id: &str,
    chunk_size: u64,
    timeout: Duration,
) -> Result<CopySession, tonic::Status> {
    let mut client = ReplicationClient::new(channel).max_decoding_message_size(MAX_MESSAGE);
    let mut req = tonic::Request::new(pb::OpenCopySessionRequest {
        leader_index: leader_index.to_owned(),
        shard,
        chunk_size,
        session_id: session_id.to_owned(),
    });
    req.set_timeout(timeout);
    let r = client.open_copy_session(req).await?.into_inner();
    let mapping: Value = serde_json::from_slice(&r.mapping)
        .map_err(|e| tonic::Status::internal(format!("leader sent an unreadable mapping: {e}")))?;
    if r.session_id != session_id || r.chunk_size == 0 {
        return Err(tonic::Status::internal(format!(
            "leader answered session [{}] with chunk size [{}] for session [{session_id}]",
            r.session_id, r.chunk_size
        )));
    }
    let session = CopySession {
        session_id: r.session_id,
        checkpoint: r.checkpoint,
        max_seq_no: r.max_seq_no,
        history_uuid: r.history_uuid,
        mapping_version: r.mapping_version,
        settings_version: r.settings_version,
        total_bytes: r.total_bytes,
        chunk_size: r.chunk_size,
        chunk_crc32: r.chunk_crc32,
        docs: r.docs,
        mapping,
    };
    if session.total_bytes.div_ceil(session.chunk_size) != session.chunk_crc32.len() as u64 {
        return Err(tonic::Status::internal(format!(
            "leader described [{}] bytes in [{}] chunks of [{}]",
            session.total_bytes,
            session.chunk_crc32.len(),
            session.chunk_size
        )));
    }
    Ok(session)
}

/// Chunk `index` of copy session `session_id` and the checksum the leader recorded for it.
pub async fn get_copy_chunk(
    channel: Channel,
    session_id: &str,
    index: u64,
    max_message: usize,
    timeout: Duration,
) -> Result<(bytes::Bytes, u32), tonic::Status> {
    let mut client = ReplicationClient::new(channel).max_decoding_message_size(max_message);
    let mut req = tonic::Request::new(pb::GetCopyChunkRequest {
        session_id: session_id.to_owned(),
        chunk_index: index,
    });
    req.set_timeout(timeout);
    let r = client.get_copy_chunk(req).await?.into_inner();
    Ok((r.data, r.crc32))
}

/// Releases copy session `session_id` on the leader.
pub async fn close_copy_session(
    channel: Channel,
    session_id: &str,
    timeout: Duration,
) -> Result<(), tonic::Status> {
    let mut client = ReplicationClient::new(channel);
    let mut req = tonic::Request::new(pb::CloseCopySessionRequest {
        session_id: session_id.to_owned(),
    });
    req.set_timeout(timeout);
    client.close_copy_session(req).await?;
    Ok(())
}

/// The leader index's entry of admin `GetIndex` (`{"aliases","mappings","settings"}`).
pub async fn get_index(channel: Channel, leader_index: &str) -> Result<Value, tonic::Status> {
    let mut client = AdminClient::new(channel).max_decoding_message_size(MAX_MESSAGE);
    let mut req = tonic::Request::new(pb::GetIndexRequest {
        index: leader_index.to_owned(),
        params: Default::default(),
    });
    req.set_timeout(CALL_TIMEOUT);
    let answer = client.get_index(req).await?.into_inner();
    let body: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| tonic::Status::internal(format!("leader sent an unreadable index: {e}")))?;
    match body.get(leader_index) {
        Some(v) => Ok(v.clone()),
        None => Err(tonic::Status::internal(format!(
            "leader answered without index [{leader_index}]"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(ty: &str) -> tonic::Status {
        let body = serde_json::json!({"error": {"type": ty, "reason": "r"}, "status": 404});
        tonic::Status::with_details(
            tonic::Code::NotFound,
            "r",
            bytes::Bytes::from(body.to_string()),
        )
    }

    #[test]
    fn an_unknown_copy_session_is_recognized() {
        assert!(is_session_not_found(&status(
            "copy_session_not_found_exception"
        )));
        assert!(!is_session_not_found(&status(
            "resource_not_found_exception"
        )));
        assert!(!is_session_not_found(&tonic::Status::unavailable("gone")));
    }

    #[test]
    fn pruned_history_is_fatal_and_a_closed_leader_is_retried() {
        assert!(matches!(
            classify(&status("resource_not_found_exception")),
            ErrorKind::Fatal(e) if e.es_type == "resource_not_found_exception"
        ));
        assert!(matches!(
            classify(&status("index_closed_exception")),
            ErrorKind::Retryable(_)
        ));
        assert!(matches!(
            classify(&tonic::Status::unavailable("connection refused")),
            ErrorKind::Retryable(e) if e.es_type == "connect_transport_exception"
        ));
    }
}
