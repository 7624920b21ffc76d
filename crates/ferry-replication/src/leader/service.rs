//! The tonic service `ferry.v1.Replication`: `ReadOps`, the retention-lease calls, the
//! bootstrap copy-session calls and the segment-copy calls, converting between protobuf
//! and the domain types of [`super::read`], [`super::bootstrap`],
//! [`super::search_commits`] and `ferry-index`.
//!
//! Errors become a gRPC status through the [`StatusFn`] the embedding server passes in,
//! so they look exactly like its other services' errors (ferry-node: the Elasticsearch
//! error body in the status details). No business rule lives here beyond resolving the
//! `RETAIN_ALL` (-1) retaining seq_no.

use std::sync::Arc;
use std::time::Duration;

use ferry_index::RetentionLease;
use ferry_proto::v1 as pb;
use ferry_proto::v1::replication_server::{Replication, ReplicationServer};
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use super::bootstrap::{CopyDescription, CopySessions};
use super::read::{ReadOutcome, ReadRequest, read_ops};
use super::search_commits::{CommitRequest, SearchCommits};
use super::{LeaderError, LeaderShards};

/// Turns a [`LeaderError`] into the gRPC status sent to the caller.
pub type StatusFn = fn(&LeaderError) -> Status;

/// Elasticsearch's `RETAIN_ALL`: retain whatever history the shard retains now.
const RETAIN_ALL: i64 = -1;

/// The service over `shards`, with the node's bootstrap copy `sessions`, ready to add to a
/// tonic server.
pub fn service(
    shards: Arc<dyn LeaderShards>,
    sessions: Arc<CopySessions>,
    to_status: StatusFn,
) -> ReplicationServer<LeaderService> {
    let commits = SearchCommits::new(sessions.settings().clone());
    ReplicationServer::new(LeaderService {
        shards,
        sessions,
        commits,
        to_status,
    })
}

/// Implements `ferry.v1.Replication` over [`LeaderShards`] and [`CopySessions`].
pub struct LeaderService {
    shards: Arc<dyn LeaderShards>,
    sessions: Arc<CopySessions>,
    commits: SearchCommits,
    to_status: StatusFn,
}

impl LeaderService {
    fn fail(&self, err: &LeaderError) -> Status {
        if err.status() >= 500 {
            tracing::warn!(kind = err.es_type(), reason = %err, "replication request failed");
        } else {
            tracing::debug!(kind = err.es_type(), reason = %err, "replication request rejected");
        }
        (self.to_status)(err)
    }

    fn leased(lease: RetentionLease) -> pb::RetentionLeaseResponse {
        pb::RetentionLeaseResponse {
            lease_id: lease.id,
            retaining_seq_no: i64::try_from(lease.retaining_seq_no).unwrap_or(i64::MAX),
            timestamp_millis: lease.timestamp_millis,
            source: lease.source,
        }
    }

    /// The shard and the retaining seq_no a lease request names (`-1` resolved).
    fn lease_target(
        &self,
        req: &pb::RetentionLeaseRequest,
    ) -> Result<(super::LeaderShard, u64), LeaderError> {
        let leader = self.shards.shard(&req.leader_index, req.shard)?;
        let retaining = match req.retaining_seq_no {
            RETAIN_ALL => leader.shard().min_retained_seq_no(),
            n => u64::try_from(n).map_err(|_| {
                LeaderError::Index(ferry_index::IndexError::IllegalArgument(format!(
                    "retention lease retaining sequence number [{n}] out of range"
                )))
            })?,
        };
        Ok((leader, retaining))
    }
}

fn to_operation(op: ferry_index::HistoryOp) -> pb::Operation {
    let (op_type, source) = match op.source {
        Some(source) => (pb::OpType::Index, source),
        None => (pb::OpType::Delete, bytes::Bytes::new()),
    };
    pb::Operation {
        seq_no: i64::try_from(op.seq_no).unwrap_or(i64::MAX),
        primary_term: op.primary_term,
        version: op.version,
        id: op.id,
        routing: op.routing,
        op_type: op_type.into(),
        source,
        timestamp_millis: op.timestamp_millis,
    }
}

fn to_opened(d: CopyDescription) -> pb::OpenCopySessionResponse {
    pb::OpenCopySessionResponse {
        session_id: d.session_id,
        checkpoint: d.checkpoint,
        max_seq_no: d.max_seq_no,
        history_uuid: d.history_uuid,
        mapping_version: d.mapping_version,
        settings_version: d.settings_version,
        total_bytes: d.total_bytes,
        chunk_size: d.chunk_size,
        chunk_crc32: d.chunk_crc32,
        docs: d.docs,
        mapping: bytes::Bytes::from(d.mapping.to_string()),
    }
}

fn to_commit(
    commit: Option<ferry_index::SearchCommit>,
    history_uuid: String,
    have: u32,
) -> pb::GetSearchCommitResponse {
    match commit {
        Some(c) => pb::GetSearchCommitResponse {
            crc32: c.crc32,
            opstamp: c.opstamp,
            seq_no: c.seq_no,
            max_seq_no: c.max_seq_no,
            meta: c.meta,
            files: c
                .files
                .iter()
                .map(|f| pb::SearchFile {
                    name: f.name.clone(),
                    length: f.len,
                })
                .collect(),
            history_uuid,
        },
        None => pb::GetSearchCommitResponse {
            crc32: have,
            history_uuid,
            ..Default::default()
        },
    }
}

fn to_response(outcome: ReadOutcome) -> pb::ReadOpsResponse {
    pb::ReadOpsResponse {
        ops: outcome.ops.into_iter().map(to_operation).collect(),
        global_checkpoint: outcome.global_checkpoint,
        max_seq_no: outcome.max_seq_no,
        mapping_version: outcome.mapping_version,
        settings_version: outcome.settings_version,
        history_uuid: outcome.history_uuid,
    }
}

#[tonic::async_trait]
impl Replication for LeaderService {
    async fn read_ops(
        &self,
        request: Request<pb::ReadOpsRequest>,
    ) -> Result<Response<pb::ReadOpsResponse>, Status> {
        let r = request.into_inner();
        let span = tracing::debug_span!("read_ops", index = %r.leader_index, shard = r.shard, from = r.from_seq_no);
        let req = ReadRequest {
            index: r.leader_index,
            shard: r.shard,
            from_seq_no: r.from_seq_no,
            max_ops: r.max_ops,
            max_bytes: r.max_bytes,
            poll_timeout: Duration::from_millis(r.poll_timeout_millis),
            expected_history_uuid: r.expected_history_uuid,
        };
        match read_ops(self.shards.as_ref(), &req).instrument(span).await {
            Ok(outcome) => Ok(Response::new(to_response(outcome))),
            Err(e) => Err(self.fail(&e)),
        }
    }

    async fn add_retention_lease(
        &self,
        request: Request<pb::RetentionLeaseRequest>,
    ) -> Result<Response<pb::RetentionLeaseResponse>, Status> {
        let r = request.into_inner();
        let added = async {
            let (leader, retaining) = self.lease_target(&r)?;
            let lease = leader
                .shard()
                .add_retention_lease(&r.lease_id, retaining, &r.source)
                .await?;
            tracing::info!(index = %r.leader_index, shard = r.shard, lease = %lease.id, retaining = lease.retaining_seq_no, "retention lease added");
            Ok::<_, LeaderError>(lease)
        };
        added
            .await
            .map(|l| Response::new(Self::leased(l)))
            .map_err(|e| self.fail(&e))
    }

    async fn renew_retention_lease(
        &self,
        request: Request<pb::RetentionLeaseRequest>,
    ) -> Result<Response<pb::RetentionLeaseResponse>, Status> {
        let r = request.into_inner();
        let renewed = async {
            let (leader, retaining) = self.lease_target(&r)?;
            Ok::<_, LeaderError>(
                leader
                    .shard()
                    .renew_retention_lease(&r.lease_id, retaining, &r.source)
                    .await?,
            )
        };
        renewed
            .await
            .map(|l| Response::new(Self::leased(l)))
            .map_err(|e| self.fail(&e))
    }

    async fn remove_retention_lease(
        &self,
        request: Request<pb::RemoveRetentionLeaseRequest>,
    ) -> Result<Response<pb::RemoveRetentionLeaseResponse>, Status> {
        let r = request.into_inner();
        let removed = async {
            let leader = self.shards.shard(&r.leader_index, r.shard)?;
            leader.shard().remove_retention_lease(&r.lease_id).await?;
            tracing::info!(index = %r.leader_index, shard = r.shard, lease = %r.lease_id, "retention lease removed");
            Ok::<_, LeaderError>(())
        };
        removed
            .await
            .map(|()| Response::new(pb::RemoveRetentionLeaseResponse {}))
            .map_err(|e| self.fail(&e))
    }

    async fn open_copy_session(
        &self,
        request: Request<pb::OpenCopySessionRequest>,
    ) -> Result<Response<pb::OpenCopySessionResponse>, Status> {
        let r = request.into_inner();
        let span = tracing::info_span!("open_copy_session", index = %r.leader_index, shard = r.shard, session = %r.session_id);
        self.sessions
            .open(
                self.shards.clone(),
                &r.session_id,
                &r.leader_index,
                r.shard,
                r.chunk_size,
            )
            .instrument(span)
            .await
            .map(|d| Response::new(to_opened(d)))
            .map_err(|e| self.fail(&e))
    }

    async fn get_copy_chunk(
        &self,
        request: Request<pb::GetCopyChunkRequest>,
    ) -> Result<Response<pb::GetCopyChunkResponse>, Status> {
        let r = request.into_inner();
        let span =
            tracing::debug_span!("get_copy_chunk", session = %r.session_id, chunk = r.chunk_index);
        self.sessions
            .chunk(&r.session_id, r.chunk_index)
            .instrument(span)
            .await
            .map(|(data, crc32)| Response::new(pb::GetCopyChunkResponse { data, crc32 }))
            .map_err(|e| self.fail(&e))
    }

    async fn get_search_commit(
        &self,
        request: Request<pb::GetSearchCommitRequest>,
    ) -> Result<Response<pb::GetSearchCommitResponse>, Status> {
        let r = request.into_inner();
        let span =
            tracing::debug_span!("get_search_commit", index = %r.leader_index, shard = r.shard);
        let req = CommitRequest {
            index: r.leader_index,
            shard: r.shard,
            expected_history_uuid: r.expected_history_uuid,
            have_crc32: r.have_crc32,
            refresh_to_seq_no: r.refresh_to_seq_no,
            poll_timeout: Duration::from_millis(r.poll_timeout_millis),
        };
        match self
            .commits
            .get(self.shards.as_ref(), &req)
            .instrument(span)
            .await
        {
            Ok((commit, uuid)) => Ok(Response::new(to_commit(commit, uuid, req.have_crc32))),
            Err(e) => Err(self.fail(&e)),
        }
    }

    async fn read_search_file(
        &self,
        request: Request<pb::ReadSearchFileRequest>,
    ) -> Result<Response<pb::ReadSearchFileResponse>, Status> {
        let r = request.into_inner();
        let len = usize::try_from(r.length).unwrap_or(usize::MAX);
        self.commits
            .read(&r.leader_index, r.shard, r.crc32, &r.name, r.offset, len)
            .await
            .map(|data| Response::new(pb::ReadSearchFileResponse { data }))
            .map_err(|e| self.fail(&e))
    }

    async fn close_copy_session(
        &self,
        request: Request<pb::CloseCopySessionRequest>,
    ) -> Result<Response<pb::CloseCopySessionResponse>, Status> {
        let r = request.into_inner();
        self.sessions
            .close(&r.session_id)
            .map(|()| Response::new(pb::CloseCopySessionResponse {}))
            .map_err(|e| self.fail(&e))
    }
}
