//! What one Raft entry of a shard asks the state machine to do, and what applying it
//! answered.
//!
//! These are the payload (`D`) and response (`R`) types of the shard's Raft group. They
//! are serialized with postcard into the Raft log, so a command must carry everything
//! applying it needs (the leader's clock, the retention period): applying is a pure
//! function of the state and the entry. Responses never leave the process today, but
//! openraft requires them to be serializable too. Nothing here touches storage.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{IndexError, ReplicatedOp, ReplicatedOutcome, RetentionLease, WriteOp, WriteResult};

/// One Raft entry's worth of work for a shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ShardCommand {
    /// A batch of writes, applied in order; each gets its own result.
    Write {
        /// The leader's clock when it proposed the entry (ms since the epoch).
        timestamp_millis: u64,
        /// The writes.
        ops: Vec<WriteOp>,
    },
    /// Add a retention lease.
    AddLease {
        /// Lease id.
        id: String,
        /// Keep history from this seq_no on.
        retaining_seq_no: u64,
        /// Holder (`ccr`, ...).
        source: String,
        /// The leader's clock, recorded as the lease timestamp.
        timestamp_millis: u64,
    },
    /// Renew a retention lease (never lowering its retaining seq_no).
    RenewLease {
        /// Lease id.
        id: String,
        /// New retaining seq_no.
        retaining_seq_no: u64,
        /// Holder.
        source: String,
        /// The leader's clock, recorded as the lease timestamp.
        timestamp_millis: u64,
    },
    /// Remove a retention lease.
    RemoveLease {
        /// Lease id.
        id: String,
    },
    /// Expire old leases, then delete history no lease (and no live row) needs.
    Prune {
        /// The leader's clock: leases older than `timestamp - period` expire.
        timestamp_millis: u64,
        /// `index.soft_deletes.retention_lease.period` when the entry was proposed.
        lease_period_millis: u64,
    },
    /// A CCR follower's batch of the leader's operations, applied keeping their
    /// `_seq_no`, `_primary_term` and `_version` (idempotent, in any order).
    Replicated {
        /// The leader's operations.
        ops: Vec<ReplicatedOp>,
    },
    /// Records of a shard copy applied under a restore session (CCR bootstrap): a
    /// document's row becomes the record unless it already holds a seq_no as high, and
    /// the id is marked as written by the session (idempotent).
    RestoreBatch {
        /// The restore session.
        session: String,
        /// Copy records, with the copied shard's `_seq_no`, `_primary_term`, `_version`.
        ops: Vec<ReplicatedOp>,
    },
    /// Ends a restore session: live documents at or below `checkpoint` the session did
    /// not mark are removed, the marks are cleared, the local checkpoint becomes at
    /// least `checkpoint`, and history at or below it is no longer served.
    FinishRestore {
        /// The restore session.
        session: String,
        /// The copy's checkpoint (-1: an empty copy).
        checkpoint: i64,
    },
}

/// A per-operation failure, serializable (mirrors the `IndexError` variants applying can
/// produce).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpError {
    /// `version_conflict_engine_exception`.
    VersionConflict(String),
    /// `document_missing_exception`.
    DocumentMissing(String),
    /// `document_parsing_exception`.
    DocumentParsing(String),
    /// `illegal_argument_exception`.
    IllegalArgument(String),
    /// `retention_lease_already_exists_exception`.
    LeaseAlreadyExists(String),
    /// `retention_lease_not_found_exception`.
    LeaseNotFound(String),
    /// `status_exception` 403: a client write into a following index.
    FollowerWrite,
}

impl From<IndexError> for OpError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::VersionConflict(m) => Self::VersionConflict(m),
            IndexError::DocumentMissing(m) => Self::DocumentMissing(m),
            IndexError::DocumentParsing(m) => Self::DocumentParsing(m),
            IndexError::RetentionLeaseAlreadyExists(m) => Self::LeaseAlreadyExists(m),
            IndexError::RetentionLeaseNotFound(m) => Self::LeaseNotFound(m),
            IndexError::FollowerWrite => Self::FollowerWrite,
            other => Self::IllegalArgument(other.to_string()),
        }
    }
}

impl From<OpError> for IndexError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::VersionConflict(m) => Self::VersionConflict(m),
            OpError::DocumentMissing(m) => Self::DocumentMissing(m),
            OpError::DocumentParsing(m) => Self::DocumentParsing(m),
            OpError::IllegalArgument(m) => Self::IllegalArgument(m),
            OpError::LeaseAlreadyExists(m) => Self::RetentionLeaseAlreadyExists(m),
            OpError::LeaseNotFound(m) => Self::RetentionLeaseNotFound(m),
            OpError::FollowerWrite => Self::FollowerWrite,
        }
    }
}

/// What one successful write did (the id and shard number are the caller's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedWrite {
    /// created / updated / deleted / not_found / noop.
    pub result: WriteResult,
    /// `_seq_no` assigned (for noop: the current one).
    pub seq_no: u64,
    /// `_primary_term` stamped.
    pub primary_term: u64,
    /// `_version` after the write.
    pub version: u64,
    /// For `_update`: the source after the update.
    pub source: Option<Bytes>,
}

/// What pruning did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    /// Ids of the leases that expired.
    pub expired_leases: Vec<String>,
    /// History entries deleted.
    pub pruned_ops: u64,
    /// Every history entry from this seq_no on is present.
    pub retained_from: u64,
}

/// The answer to one Raft entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ShardResponse {
    /// Entries without a command (blank, membership).
    None,
    /// One result per write, in order.
    Writes(Vec<Result<AppliedWrite, OpError>>),
    /// Lease add/renew (the lease now held) or remove (`None`).
    Lease(Result<Option<RetentionLease>, OpError>),
    /// Prune.
    Pruned(PruneReport),
    /// A replicated batch.
    Replicated(ReplicatedOutcome),
    /// A restore batch (`applied`: records that changed a row) or the end of a restore
    /// (`applied`: documents removed).
    Restored(ReplicatedOutcome),
}

/// The operation kind recorded in history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OpKind {
    /// A document was (re)indexed: history keeps its source.
    Index,
    /// A document was deleted (or a delete found nothing).
    Delete,
}

/// The search changes applying an entry produces, or nothing for a shard whose search
/// index does not follow its state (a copy of the leader's segments): then no change is
/// even built, which spares the follower's apply an id copy per operation.
#[derive(Debug)]
pub(crate) struct Changes(Option<Vec<SearchChange>>);

impl Changes {
    /// Collects changes when `collect`, discards them otherwise.
    pub(crate) fn new(collect: bool) -> Self {
        Self(collect.then(Vec::new))
    }

    /// Records the change `change` builds, when collecting.
    pub(crate) fn push(&mut self, change: impl FnOnce() -> SearchChange) {
        if let Some(list) = &mut self.0 {
            list.push(change());
        }
    }

    /// What was collected (empty when discarding).
    pub(crate) fn into_vec(self) -> Vec<SearchChange> {
        self.0.unwrap_or_default()
    }
}

/// A change the search index must follow, produced by applying an entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SearchChange {
    /// `_seq_no` of the operation.
    pub seq_no: u64,
    /// Document id.
    pub id: String,
    /// `Some(source)` to (re)index, `None` to delete.
    pub source: Option<Bytes>,
    /// The id had no live document before this operation (a `created` write).
    pub created: bool,
}
