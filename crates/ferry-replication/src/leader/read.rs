//! `ReadOps`: reading a leader shard's history by seq_no (Elasticsearch's
//! `ShardChangesAction`).
//!
//! Only operations at or below the global checkpoint are returned (they are durable on
//! the leader), from `from_seq_no` upward, at most `max_ops`, stopping once the summed
//! size estimate (source bytes plus id bytes) exceeds `max_bytes`, always at least one
//! operation when one is available. When `from_seq_no` is above the global checkpoint the
//! read waits on the shard's global-checkpoint watch, so it answers as soon as a write is
//! applied, and after `poll_timeout` answers with no operations and the current
//! checkpoints. A range that history no longer holds completely is the fatal
//! "Operations are no longer available…" error. This module does not convert to or from
//! protobuf (`service` does).

use std::time::Duration;

use ferry_index::{HistoryOp, RetentionLease};

use super::{LeaderError, LeaderShard, LeaderShards};

/// The longest long poll the server honours, whatever the caller asks.
pub const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(600);

/// How many history operations are read from storage per step while filling an answer.
const READ_CHUNK: usize = 256;

/// A read of one leader shard's history.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRequest {
    /// Leader index name.
    pub index: String,
    /// Shard number.
    pub shard: u32,
    /// First seq_no wanted.
    pub from_seq_no: i64,
    /// Most operations to return.
    pub max_ops: u32,
    /// Byte budget of the answer.
    pub max_bytes: u64,
    /// How long to wait for the global checkpoint to reach `from_seq_no`.
    pub poll_timeout: Duration,
    /// Expected history UUID; empty skips the check.
    pub expected_history_uuid: String,
}

/// What a read answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOutcome {
    /// The operations, in seq_no order, none above `global_checkpoint`.
    pub ops: Vec<HistoryOp>,
    /// The shard's global checkpoint the read was served at.
    pub global_checkpoint: i64,
    /// The shard's highest applied seq_no.
    pub max_seq_no: i64,
    /// The index's mapping version, captured after the operations were read.
    pub mapping_version: u64,
    /// The index's settings version, captured after the operations were read.
    pub settings_version: u64,
    /// The shard's history UUID.
    pub history_uuid: String,
}

impl ReadRequest {
    /// Elasticsearch's request validation (all problems at once).
    fn validate(&self) -> Result<(), LeaderError> {
        let mut errors = Vec::new();
        if self.from_seq_no < 0 {
            errors.push(format!(
                "fromSeqNo [{}] cannot be lower than 0",
                self.from_seq_no
            ));
        }
        if self.max_ops == 0 {
            errors.push("maxOperationCount [0] must be larger than 0".to_owned());
        }
        if self.max_bytes == 0 {
            errors.push("maxBatchSize [0b] must be larger than 0".to_owned());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(LeaderError::Validation(errors))
        }
    }
}

/// Serves one read (see the module doc).
pub async fn read_ops(
    shards: &dyn LeaderShards,
    req: &ReadRequest,
) -> Result<ReadOutcome, LeaderError> {
    req.validate()?;
    let leader = shards.shard(&req.index, req.shard)?;
    check_history_uuid(&leader, &req.expected_history_uuid)?;
    let mut checkpoint = leader.shard().subscribe_global_checkpoint();
    if *checkpoint.borrow_and_update() < req.from_seq_no {
        let wait = checkpoint.wait_for(|gcp| *gcp >= req.from_seq_no);
        match tokio::time::timeout(req.poll_timeout.min(MAX_POLL_TIMEOUT), wait).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => {
                return Err(LeaderError::Unavailable(format!(
                    "shard [{}][{}] closed while waiting for its global checkpoint",
                    req.index, req.shard
                )));
            }
            Err(_elapsed) => {
                // Timed out: no operations, the current checkpoints, fresh metadata.
                let leader = shards.shard(&req.index, req.shard)?;
                check_history_uuid(&leader, &req.expected_history_uuid)?;
                return Ok(outcome(
                    &leader,
                    Vec::new(),
                    leader.shard().global_checkpoint(),
                ));
            }
        }
    }
    let from = u64::try_from(req.from_seq_no).expect("validated as non-negative");
    let (max_ops, max_bytes) = (req.max_ops, req.max_bytes);
    let reader = leader.clone();
    let (ops, global_checkpoint) =
        tokio::task::spawn_blocking(move || collect(&reader, from, max_ops, max_bytes))
            .await
            .map_err(|e| LeaderError::Unavailable(format!("history read task failed: {e}")))??;
    // Metadata is captured after the operations, so it is at least as new as they need.
    let latest = shards.shard(&req.index, req.shard)?;
    check_history_uuid(&latest, &req.expected_history_uuid)?;
    Ok(outcome(&latest, ops, global_checkpoint))
}

fn outcome(leader: &LeaderShard, ops: Vec<HistoryOp>, global_checkpoint: i64) -> ReadOutcome {
    let shard = leader.shard();
    ReadOutcome {
        ops,
        global_checkpoint,
        max_seq_no: shard.local_checkpoint().max(global_checkpoint),
        mapping_version: leader.mapping_version,
        settings_version: leader.settings_version,
        history_uuid: shard.history_uuid().to_owned(),
    }
}

fn check_history_uuid(leader: &LeaderShard, expected: &str) -> Result<(), LeaderError> {
    let actual = leader.shard().history_uuid();
    if !expected.is_empty() && expected != actual {
        return Err(LeaderError::HistoryUuidMismatch {
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        });
    }
    Ok(())
}

/// Size estimate of one operation for the byte cap.
fn op_bytes(op: &HistoryOp) -> u64 {
    let source = op.source.as_ref().map_or(0, bytes::Bytes::len);
    (source + op.id.len()) as u64
}

/// Reads `[from, min(gcp, from + max_ops - 1)]` from history on the blocking pool,
/// requiring the range to be complete (no pruned seq_no) up to where the byte cap stops
/// it. Answers the
/// operations and the global checkpoint they were read at.
fn collect(
    leader: &LeaderShard,
    from: u64,
    max_ops: u32,
    max_bytes: u64,
) -> Result<(Vec<HistoryOp>, i64), LeaderError> {
    let shard = leader.shard();
    let global_checkpoint = shard.global_checkpoint();
    let Ok(gcp) = u64::try_from(global_checkpoint) else {
        return Err(not_exposing(from, global_checkpoint));
    };
    if from > gcp {
        return Err(not_exposing(from, global_checkpoint));
    }
    let to = gcp.min(from.saturating_add(u64::from(max_ops)) - 1);
    // From `min_retained_seq_no` on history is complete; below it superseded operations
    // may have been pruned, so the range is checked for holes as it is read (an intact
    // range is still served, as Elasticsearch does).
    let missing = || missing_ops(leader, from, to);
    let mut ops: Vec<HistoryOp> = Vec::new();
    let mut bytes = 0u64;
    let mut next = from;
    'read: while next <= to {
        let want = usize::try_from(to - next + 1).map_or(READ_CHUNK, |n| n.min(READ_CHUNK));
        let chunk = shard.history(next, want)?;
        if chunk.is_empty() {
            break;
        }
        for op in chunk {
            if op.seq_no != next {
                // A gap: pruned between the retention check and the read.
                return Err(missing());
            }
            if op.seq_no > to {
                break 'read;
            }
            bytes = bytes.saturating_add(op_bytes(&op));
            next += 1;
            ops.push(op);
            if bytes > max_bytes {
                break 'read;
            }
        }
    }
    if next <= to && bytes <= max_bytes {
        // Stopped short of the range without hitting the byte cap: history has a hole.
        return Err(missing());
    }
    Ok((ops, global_checkpoint))
}

fn not_exposing(from: u64, global_checkpoint: i64) -> LeaderError {
    LeaderError::IllegalState(format!(
        "not exposing operations from [{from}] greater than the global checkpoint [{global_checkpoint}]"
    ))
}

fn missing_ops(leader: &LeaderShard, from: u64, to: u64) -> LeaderError {
    let leases = leader
        .shard()
        .retention_leases()
        .map(|all| all.iter().map(render_lease).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    LeaderError::OperationsMissing { from, to, leases }
}

/// A lease as Elasticsearch's `RetentionLease.toString()` renders it.
fn render_lease(l: &RetentionLease) -> String {
    format!(
        "RetentionLease{{id='{}', retainingSequenceNumber={}, timestamp={}, source='{}'}}",
        l.id, l.retaining_seq_no, l.timestamp_millis, l.source
    )
}
