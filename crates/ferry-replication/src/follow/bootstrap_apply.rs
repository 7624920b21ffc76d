//! The restore half of [`CopyFetch`] (spec `ccr.md` §6 step 6): the staged copy read back
//! in batches of the follow parameters' write-request limits, restored into the follower
//! shard under a restore session named after the copy session, then ended at the copy's
//! checkpoint (which removes what the shard held that the copy does not).
//!
//! Deliberately not here: fetching (the staged file is complete and verified chunk by
//! chunk before this runs) and the lease and planner ([`super::bootstrap_run`]).

use std::sync::Arc;

use bytes::Bytes;
use ferry_index::{CopyReader, ReplicatedOp};
use tracing::info;

use super::bootstrap::{CopyFetch, StagedFile, io_error};
use super::events::{ErrorKind, TaskError};
use super::params::FollowParameters;
use super::task::FollowerShard;

/// The byte cap of one restore batch when `max_write_request_size` is larger (its default
/// is unbounded; a batch is held in memory whole).
const RESTORE_BATCH_BYTES_CAP: u64 = 64 << 20;

impl CopyFetch {
    /// Restores the fetched copy into `shard` under the session's id, in batches of the
    /// write-request limits of `params`, then ends the restore at the copy's checkpoint;
    /// answers the follower shard's `(global_checkpoint, max_seq_no)`. The staged file is
    /// deleted afterwards.
    pub async fn apply<S: FollowerShard>(
        &mut self,
        shard: &S,
        params: &FollowParameters,
    ) -> Result<(i64, i64), ErrorKind> {
        let Some(staged) = self.staged.as_ref().filter(|s| s.complete()) else {
            return Err(ErrorKind::Fatal(TaskError::new(
                "illegal_state_exception",
                "no complete bootstrap copy to apply",
            )));
        };
        let session = staged.session.clone();
        let file = staged.file.clone();
        self.stats.lock().applying();
        let max_ops = params.max_write_request_operation_count.max(1) as usize;
        let max_bytes = FollowParameters::bytes_of(&params.max_write_request_size)
            .clamp(1, RESTORE_BATCH_BYTES_CAP);
        let mut reader = Some(CopyReader::new(std::io::BufReader::with_capacity(
            1 << 20,
            ReadAt::new(file),
        )));
        let mut applied = 0u64;
        loop {
            let Some(r) = reader.take() else { break };
            let (r, batch) = tokio::task::spawn_blocking(move || next_batch(r, max_ops, max_bytes))
                .await
                .map_err(|e| io_error("restore reader task failed", e))?;
            let batch = batch?;
            if batch.is_empty() {
                break;
            }
            reader = Some(r);
            applied += batch.len() as u64;
            self.retrying(|| shard.restore_batch(&session.session_id, batch.clone()))
                .await?;
        }
        let checkpoints = self
            .retrying(|| shard.finish_restore(&session.session_id, session.checkpoint))
            .await?;
        info!(
            docs = applied,
            checkpoint = session.checkpoint,
            "bootstrap copy restored"
        );
        if let Some(staged) = self.staged.take() {
            let _ = std::fs::remove_file(&staged.path);
        }
        Ok(checkpoints)
    }
}

type Reader = CopyReader<std::io::BufReader<ReadAt>>;

/// The next batch of at most `max_ops` records and about `max_bytes` (blocking).
fn next_batch(
    mut reader: Reader,
    max_ops: usize,
    max_bytes: u64,
) -> (Reader, Result<Vec<ReplicatedOp>, ErrorKind>) {
    let mut batch = Vec::new();
    let mut bytes = 0u64;
    while batch.len() < max_ops && bytes < max_bytes {
        match reader.next() {
            None => break,
            Some(Ok(op)) => {
                bytes += (op.source.as_ref().map_or(0, Bytes::len) + op.id.len()) as u64;
                batch.push(op);
            }
            Some(Err(e)) => {
                let error = TaskError::new(
                    "illegal_state_exception",
                    format!("the bootstrap copy cannot be read: {e}"),
                );
                return (reader, Err(ErrorKind::Fatal(error)));
            }
        }
    }
    (reader, Ok(batch))
}

/// Sequential reads over a shared file through positional reads.
struct ReadAt {
    file: Arc<StagedFile>,
    offset: u64,
}

impl ReadAt {
    fn new(file: Arc<StagedFile>) -> Self {
        Self { file, offset: 0 }
    }
}

impl std::io::Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}
