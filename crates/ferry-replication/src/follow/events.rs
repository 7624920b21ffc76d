//! The vocabulary of the shard-follow planner: the events the runtime feeds it and the
//! commands it answers with.
//!
//! Deliberately not here: operation bodies. The planner sees only each op's seq_no and
//! size estimate; the runtime keeps the bodies keyed by seq_no until they are written.

use std::time::Duration;

/// One leader operation as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpMeta {
    /// The leader's seq_no, kept on the follower.
    pub seq_no: i64,
    /// Uncompressed size estimate (counts toward `bytes_read` and the buffer/write caps).
    pub size_bytes: u64,
}

/// A failure reported to the planner, with the ES exception type and reason that stats show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    /// ES exception `type`, e.g. `resource_not_found_exception`.
    pub es_type: String,
    /// Human-readable reason.
    pub reason: String,
}

impl TaskError {
    /// An error with this ES type and reason.
    pub fn new(es_type: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            es_type: es_type.into(),
            reason: reason.into(),
        }
    }
}

/// The retryable/fatal split of §4.4 (the runtime classifies; the planner acts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Retried with back-off, forever while the task runs.
    Retryable(TaskError),
    /// Stops the task; stats show it as `fatal_exception`.
    Fatal(TaskError),
}

/// What a scheduled retry re-issues; the runtime echoes it back in
/// [`Event::RetryTimerFired`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryToken {
    /// The outstanding read starting at `from`.
    Read { from: i64 },
    /// The outstanding write `id`.
    Write { id: u64 },
    /// The pending mapping/settings update.
    Metadata,
}

/// Something that happened to the follow task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Start-up done (follower stats read, metadata synced unconditionally, §4.1).
    Start {
        follower_global_checkpoint: i64,
        follower_max_seq_no: i64,
        leader_global_checkpoint: i64,
        follower_mapping_version: u64,
        follower_settings_version: u64,
    },
    /// A read answered; `from` is the `from` of the [`Command::Read`].
    ReadDone {
        from: i64,
        ops: Vec<OpMeta>,
        leader_global_checkpoint: i64,
        leader_max_seq_no: i64,
        mapping_version: u64,
        settings_version: u64,
    },
    /// A read failed; `from` is the `from` of the [`Command::Read`].
    ReadFailed { from: i64, error: ErrorKind },
    /// A bulk write was applied on the follower (values after replication).
    WriteDone {
        id: u64,
        follower_global_checkpoint: i64,
        follower_max_seq_no: i64,
    },
    /// A bulk write failed.
    WriteFailed { id: u64, error: ErrorKind },
    /// A [`Command::ScheduleRetry`] delay elapsed.
    RetryTimerFired { token: RetryToken },
    /// The follower's metadata versions after an update command completed.
    MetadataUpdated {
        mapping_version: u64,
        settings_version: u64,
    },
    /// An update command failed.
    MetadataUpdateFailed { error: ErrorKind },
    /// The 30s retention-lease renewal tick ([`super::LEASE_RENEW_INTERVAL`]).
    LeaseTick,
    /// Pause-follow: drop all in-flight state; a resume builds a new planner.
    Pause,
}

/// What the runtime must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Read leader ops from `from` (long-polls up to `poll_timeout` when caught up).
    Read {
        from: i64,
        max_ops: u32,
        max_bytes: u64,
        poll_timeout: Duration,
    },
    /// Apply these ops (seq_no order) on the follower primary as one bulk request.
    Write { id: u64, ops: Vec<OpMeta> },
    /// Put the leader's mapping on the follower, reaching at least `version`.
    UpdateMapping { version: u64 },
    /// Replicate the leader's settings to the follower, reaching at least `version`.
    UpdateSettings { version: u64 },
    /// Fire [`Event::RetryTimerFired`] with `token` after `after`.
    ScheduleRetry { after: Duration, token: RetryToken },
    /// The task stopped on a non-retryable error.
    Fatal { error: TaskError },
    /// Renew the follower's retention lease on the leader shard (re-add it if not found).
    RenewLease { retaining_seq_no: i64 },
}
