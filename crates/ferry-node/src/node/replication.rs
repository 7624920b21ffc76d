//! The node's side of the CCR leader service: [`LeaderShards`] over the open indices,
//! and the mapping of [`LeaderError`] onto the node's Elasticsearch error bodies.
//!
//! It only looks indices up (by concrete name; no aliases or wildcards, as ES's shard
//! changes action); reading history and leases is `ferry_replication::leader`'s job.

use ferry_catalog::IndexState;
use ferry_replication::leader::{LeaderError, LeaderShard, LeaderShards};

use super::Node;
use crate::error::ApiError;

impl LeaderShards for Node {
    fn shard(&self, index: &str, shard: u32) -> Result<LeaderShard, LeaderError> {
        let entry = self.indices.read().get(index).cloned();
        let Some(entry) = entry else {
            return Err(LeaderError::IndexNotFound {
                index: index.to_owned(),
            });
        };
        let state = entry.snapshot();
        if state.record.state == IndexState::Closed {
            return Err(LeaderError::IndexClosed {
                index: entry.name.clone(),
                uuid: entry.uuid.clone(),
            });
        }
        let Some(handle) = state.handle else {
            return Err(LeaderError::Unavailable(format!(
                "[{index}] index could not be opened: {}",
                state.open_error.as_deref().unwrap_or("not open")
            )));
        };
        LeaderShard::new(
            handle,
            shard,
            state.record.mapping_version,
            state.record.settings_version,
        )
    }
}

/// The node's error for a leader-service error: the same constructors REST uses where one
/// exists, otherwise the error's own type, status, reason and metadata.
pub fn leader_api_error(err: &LeaderError) -> ApiError {
    match err {
        LeaderError::IndexNotFound { index } => ApiError::index_not_found(index),
        LeaderError::IndexClosed { index, uuid } => ApiError::index_closed(index, uuid),
        other => other.metadata().into_iter().fold(
            ApiError::new(other.status(), other.es_type(), other.to_string()),
            |e, (k, v)| e.with(&k, v),
        ),
    }
}
