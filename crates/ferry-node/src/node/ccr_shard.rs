//! [`NodeFollowerShard`]: a follower shard of this node as a `ferry_replication` follow
//! task sees it — checkpoints, applying the leader's operations, merging the leader's
//! mapping, and restoring a bootstrap copy. Errors that retrying cannot cure (the index
//! is gone) are fatal for the task; the rest are retried.
//!
//! Deliberately not here: which follows exist and their tasks (`ccr`).

use std::sync::{Arc, Weak};

use ferry_index::ReplicatedOp;
use ferry_replication::follow::{CopyTarget, ErrorKind, FollowerShard, TaskError};
use serde_json::Value;

use super::Node;
use crate::error::ApiError;

/// A follower shard of this node, as a follow task writes to it.
pub(super) struct NodeFollowerShard {
    pub(super) node: Weak<Node>,
    pub(super) index: String,
    pub(super) shard: u32,
    /// `<data>/ccr-staging/<follower uuid>/<shard>`.
    pub(super) staging: std::path::PathBuf,
}

fn task_error(e: &ApiError) -> TaskError {
    TaskError::new(e.kind.clone(), e.reason.clone())
}

impl NodeFollowerShard {
    fn node(&self) -> Result<Arc<Node>, ErrorKind> {
        self.node.upgrade().ok_or_else(|| {
            ErrorKind::Fatal(TaskError::new(
                "node_closed_exception",
                "node is shutting down",
            ))
        })
    }

    fn handle(&self) -> Result<Arc<ferry_index::IndexHandle>, ErrorKind> {
        let node = self.node()?;
        node.require(&self.index)
            .and_then(|e| e.handle())
            .map_err(|e| Self::kind(&e))
    }

    fn kind(e: &ApiError) -> ErrorKind {
        if e.kind == "index_not_found_exception" {
            ErrorKind::Fatal(task_error(e))
        } else {
            ErrorKind::Retryable(task_error(e))
        }
    }
}

impl FollowerShard for NodeFollowerShard {
    fn checkpoints(&self) -> Result<(i64, i64), TaskError> {
        let node = self
            .node
            .upgrade()
            .ok_or_else(|| TaskError::new("node_closed_exception", "node is shutting down"))?;
        let handle = node.require(&self.index).and_then(|e| e.handle());
        let handle = handle.map_err(|e| task_error(&e))?;
        let shard = handle.shards().get(self.shard as usize).ok_or_else(|| {
            TaskError::new(
                "shard_not_found_exception",
                format!("no shard [{}]", self.shard),
            )
        })?;
        Ok((shard.global_checkpoint(), shard.local_checkpoint()))
    }

    async fn apply(&self, ops: Vec<ReplicatedOp>) -> Result<(i64, i64), ErrorKind> {
        let node = self.node()?;
        let handle = node
            .require(&self.index)
            .and_then(|e| e.handle())
            .map_err(|e| Self::kind(&e))?;
        let outcome = handle
            .apply_replicated(self.shard, ops)
            .await
            .map_err(|e| Self::kind(&ApiError::from(e)))?;
        Ok((outcome.local_checkpoint, outcome.max_seq_no))
    }

    async fn merge_mapping(&self, mapping: Value) -> Result<(), ErrorKind> {
        let node = self.node()?;
        node.merge_leader_mapping(&self.index, &mapping)
            .await
            .map_err(|e| ErrorKind::Fatal(task_error(&e)))
    }

    async fn restore_batch(&self, session: &str, ops: Vec<ReplicatedOp>) -> Result<(), ErrorKind> {
        let handle = self.handle()?;
        let shard = handle
            .shard(self.shard)
            .map_err(|e| Self::kind(&ApiError::from(e)))?;
        shard
            .restore_batch(session, ops)
            .await
            .map_err(|e| Self::kind(&ApiError::from(e)))
    }

    async fn finish_restore(
        &self,
        session: &str,
        checkpoint: i64,
    ) -> Result<(i64, i64), ErrorKind> {
        let handle = self.handle()?;
        let shard = handle
            .shard(self.shard)
            .map_err(|e| Self::kind(&ApiError::from(e)))?;
        let outcome = shard
            .finish_restore(session, checkpoint)
            .await
            .map_err(|e| Self::kind(&ApiError::from(e)))?;
        Ok((outcome.local_checkpoint, outcome.max_seq_no))
    }

    fn staging_dir(&self) -> std::path::PathBuf {
        self.staging.clone()
    }

    fn copy_target(&self) -> Result<Option<CopyTarget>, ErrorKind> {
        let handle = self.handle()?;
        let shard = handle
            .shard(self.shard)
            .map_err(|e| Self::kind(&ApiError::from(e)))?;
        Ok(shard.segment_copy().map(|copy| CopyTarget {
            copy,
            checkpoint: shard.subscribe_global_checkpoint(),
        }))
    }
}
