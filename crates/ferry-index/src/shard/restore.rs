//! A shard's side of CCR bootstrap: copying its state, and restoring from a copy
//! through Raft.
//!
//! The public methods are declared with the copy format in `crate::copy`; these are
//! their bodies, here because they reach into the shard's store and Raft group. A copy is
//! read from the state store directly (one redb read transaction); a restore batch and
//! the end of a restore are Raft entries ([`ShardCommand::RestoreBatch`],
//! [`ShardCommand::FinishRestore`]), so they are durable and replayed like every other
//! change (`store::restore` applies them). Sessions, chunking and transport are
//! `ferry-replication`'s.

use super::Shard;
use crate::command::{ShardCommand, ShardResponse};
use crate::{CopyInfo, IndexError, ReplicatedOp, ReplicatedOutcome, Result};

impl Shard {
    /// Writes every live document of one consistent view of the state (blocking).
    pub(crate) fn copy_state(
        &self,
        outs: &mut [&mut (dyn std::io::Write + Send)],
    ) -> Result<CopyInfo> {
        self.core.store.write_copy_parts(outs)
    }

    /// Proposes one restore entry and answers its outcome.
    async fn propose_restore(&self, cmd: ShardCommand) -> Result<ReplicatedOutcome> {
        match self.core.propose(cmd).await? {
            ShardResponse::Restored(outcome) => Ok(outcome),
            other => Err(IndexError::Storage(format!(
                "unexpected answer to a restore command: {other:?}"
            ))),
        }
    }

    /// Applies copy records under `session` as one Raft entry.
    pub(crate) async fn restore_records(
        &self,
        session: &str,
        ops: Vec<ReplicatedOp>,
    ) -> Result<ReplicatedOutcome> {
        self.propose_restore(ShardCommand::RestoreBatch {
            session: session.to_owned(),
            ops,
        })
        .await
    }

    /// Ends restore `session` at `checkpoint` as one Raft entry.
    pub(crate) async fn finish_restore_session(
        &self,
        session: &str,
        checkpoint: i64,
    ) -> Result<ReplicatedOutcome> {
        self.propose_restore(ShardCommand::FinishRestore {
            session: session.to_owned(),
            checkpoint,
        })
        .await
    }
}
