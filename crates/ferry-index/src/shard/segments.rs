//! The shard's side of segment copies: a leader shard describes its last search commit
//! and refreshes for a follower that copies its segments; a following shard opened with
//! `copy_segments` hands out its [`SegmentCopy`] to the copier that fills it.

use std::sync::Arc;

use tokio::sync::watch;

use super::Shard;
use crate::feed::as_i64;
use crate::{IndexError, Result, SearchCommit, SegmentCopy};

impl Shard {
    /// Refreshes unless the last search commit covers `seq_no` already (a follower copying
    /// this shard's segments asks for what it has applied).
    pub async fn refresh_to(&self, seq_no: i64) -> Result<()> {
        if as_i64(self.search_index().committed_seq_no()) >= seq_no {
            return Ok(());
        }
        self.refresh().await
    }

    /// The last durable search commit, its files held open (for a follower copying this
    /// shard's segments).
    pub async fn search_commit(&self) -> Result<SearchCommit> {
        let feed = self.core.feed.clone();
        tokio::task::spawn_blocking(move || feed.search().last_commit())
            .await
            .map_err(|e| IndexError::Storage(format!("reading the search commit failed: {e}")))?
    }

    /// Watches the search commits made or installed on this shard (a counter).
    pub fn subscribe_search_commits(&self) -> watch::Receiver<u64> {
        self.search_index().subscribe_commits()
    }

    /// The segment copy, when this shard's search index copies its leader's segments.
    pub fn segment_copy(&self) -> Option<Arc<SegmentCopy>> {
        self.core.feed.segment_copy().cloned()
    }
}
