//! The follower side of CCR on a shard: applying the leader's operations through Raft.
//!
//! The batch is one Raft entry ([`ShardCommand::Replicated`]); the state machine keeps the
//! leader's `_seq_no`, `_primary_term` and `_version` and skips what it already has
//! (`store::replicated`). This module neither fetches operations from the leader (the
//! follow task in `ferry-replication` does) nor refreshes search on its own schedule.

use super::Shard;
use crate::command::{ShardCommand, ShardResponse};
use crate::{IndexError, ReplicatedOp, ReplicatedOutcome, Result};

impl Shard {
    /// Applies the leader's operations as one Raft entry, idempotently and in any
    /// order; answers what was applied and the follower's checkpoints after it.
    pub async fn apply_replicated(&self, ops: Vec<ReplicatedOp>) -> Result<ReplicatedOutcome> {
        match self.core.propose(ShardCommand::Replicated { ops }).await? {
            ShardResponse::Replicated(outcome) => Ok(outcome),
            other => Err(IndexError::Storage(format!(
                "unexpected answer to a replicated batch: {other:?}"
            ))),
        }
    }
}
