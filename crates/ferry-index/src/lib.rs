//! Ferry's shard engine.
//!
//! An index is split into shards; each shard is an openraft group (a single member until
//! clustering lands) whose state machine keeps the live documents, the history of every
//! operation (overwrites and deletes kept as soft deletes), the checkpoints and the
//! retention leases, and feeds a tantivy index for search.
//!
//! This crate does no networking and makes no cluster decisions: `ferry-node` opens
//! indices, routes requests to them, and persists definitions in the catalog.

mod command;
mod copy;
mod error;
mod feed;
mod index;
mod leases;
mod mapping;
mod ops;
mod prepare;
mod raft;
mod routing;
mod search;
mod segment_copy;
mod settings;
mod shard;
mod source;
mod store;
mod versioning;

pub use copy::{CopyInfo, CopyReader};
pub use error::{FOLLOWER_WRITE_REASON, IndexError, Result};
pub use index::{IndexHandle, IndexMeta, IndexStats};
pub use leases::RetentionLease;
pub use mapping::{Mapping, SharedMapping};
pub use ops::{
    Conditions, DeleteOp, IndexOp, RefreshPolicy, ReplicatedOp, ReplicatedOutcome, StoredDoc,
    UpdateOp, VersionType, WriteOp, WriteOutcome, WriteResult,
};
pub use prepare::PreparedBatch;
pub use search::{
    CommitFile, SearchCommit, SearchHit, SearchHits, SearchRequest, ShardSearchIndex, count, search,
};
pub use segment_copy::{Copier, CopyProgress, SegmentCopy};
pub use settings::IndexSettings;
pub use shard::{HistoryOp, PruneReport, Shard, ShardStats};
pub use source::{SourceFilter, token_name};
pub use store::{DEFAULT_STATE_CACHE_BYTES, set_state_cache_bytes};
