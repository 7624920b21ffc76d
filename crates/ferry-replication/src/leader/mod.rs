//! The leader side of cross-cluster replication: the `ferry.v1.Replication` gRPC service
//! a leader cluster serves on its transport port.
//!
//! - [`read`]: `ReadOps`, Elasticsearch's `ShardChangesAction`: operations by seq_no, never
//!   above the global checkpoint, capped by count and bytes, long-polling on the shard's
//!   global-checkpoint watch when the reader is caught up.
//! - [`bootstrap`]: [`CopySessions`], the bootstrap copy sessions ("remote recovery"): a
//!   pinned point-in-time copy of a shard served in checksummed chunks.
//! - [`search_commits`]: [`SearchCommits`], the search commits held open for followers
//!   that copy the leader's segments instead of indexing.
//! - [`throttle`]: [`Throttle`], the node's byte-rate limit of copies (both sides use it).
//! - [`service`]: the tonic service, including the retention-lease and copy-session calls.
//! - [`error`]: [`LeaderError`], one Elasticsearch error type per variant.
//!
//! The service finds shards through [`LeaderShards`], which the embedding node implements
//! over its index registry; this module never opens, creates or writes indices, and does
//! not authenticate callers (that is the node's edge).

pub mod bootstrap;
mod copy_file;
mod error;
pub mod read;
pub mod search_commits;
pub mod service;
pub mod throttle;

#[cfg(test)]
mod bootstrap_tests;
#[cfg(test)]
mod search_commits_tests;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use ferry_index::{IndexHandle, Shard};

pub use bootstrap::{CopyDescription, CopySessions};
pub use error::{LeaderError, SESSION_NOT_FOUND};
pub use read::{ReadOutcome, ReadRequest};
pub use search_commits::{CommitRequest, SearchCommits};
pub use service::{LeaderService, StatusFn, service};
pub use throttle::Throttle;

/// One leader shard, as [`LeaderShards`] hands it out: the open index, the shard number
/// (checked to exist) and the index's metadata versions at lookup time.
#[derive(Clone)]
pub struct LeaderShard {
    index: Arc<IndexHandle>,
    number: u32,
    /// The index's mapping version (bumped on every mapping change).
    pub mapping_version: u64,
    /// The index's settings version (bumped on every settings change).
    pub settings_version: u64,
}

impl std::fmt::Debug for LeaderShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderShard")
            .field("index", &self.index.name())
            .field("shard", &self.number)
            .field("mapping_version", &self.mapping_version)
            .field("settings_version", &self.settings_version)
            .finish()
    }
}

impl LeaderShard {
    /// Shard `number` of `index`; a number the index does not have is
    /// `shard_not_found_exception`.
    pub fn new(
        index: Arc<IndexHandle>,
        number: u32,
        mapping_version: u64,
        settings_version: u64,
    ) -> Result<Self, LeaderError> {
        if usize::try_from(number).map_or(true, |n| n >= index.shards().len()) {
            return Err(LeaderError::ShardNotFound {
                index: index.name().to_owned(),
                shard: number,
            });
        }
        Ok(Self {
            index,
            number,
            mapping_version,
            settings_version,
        })
    }

    /// The open index.
    pub fn index(&self) -> &Arc<IndexHandle> {
        &self.index
    }

    /// The shard.
    pub fn shard(&self) -> &Shard {
        // Checked in `new`, and an open index never loses shards.
        &self.index.shards()[self.number as usize]
    }
}

/// How the service finds leader shards: implemented by the node over its open indices.
pub trait LeaderShards: Send + Sync + 'static {
    /// Shard `shard` of index `index`: `index_not_found_exception` when there is no such
    /// index, `index_closed_exception` when it is closed, `shard_not_found_exception` for
    /// a shard number it does not have, `no_shard_available_action_exception` when it
    /// could not be opened.
    fn shard(&self, index: &str, shard: u32) -> Result<LeaderShard, LeaderError>;
}
