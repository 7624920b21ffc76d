//! Feeding a shard's search index from its state, and tracking what refresh covers.
//!
//! The search index is derived data: the state machine hands every applied change to
//! [`SearchFeed::feed`], and on open [`SearchFeed::catch_up`] re-feeds history above the
//! search index's last durable commit (possible because a document's current row is
//! never pruned, so every id changed since then still has its latest operation in
//! history). The feed records the highest seq_no handed over, which is what a refresh
//! may claim to cover; `refreshed` is what the last refresh covered, watched by
//! `refresh=wait_for` writers. A failure to index one document is logged and does not
//! stop the state machine (the state is the source of truth; applying must stay
//! deterministic). This module does not schedule refreshes (the shard does).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::watch;

use crate::command::SearchChange;
use crate::search::ShardSearchIndex;
use crate::store::StateStore;
use crate::{IndexError, Result};

/// How many history entries catch-up reads at a time.
const CATCH_UP_CHUNK: usize = 1_000;

/// Feeds one shard's search index.
pub(crate) struct SearchFeed {
    search: Arc<ShardSearchIndex>,
    /// Highest seq_no handed to the search index (-1: none).
    fed: AtomicI64,
    /// The highest seq_no the search index's durable commit held when it was opened (-1:
    /// none): an operation up to here may already be in it, even if it created its
    /// document (a replay after a crash), so it is never added without a delete.
    opened_at: i64,
    /// Highest seq_no covered by the last refresh (-1: none).
    refreshed: watch::Sender<i64>,
    /// Serializes refreshes.
    refresh_lock: tokio::sync::Mutex<()>,
}

fn as_i64(seq_no: Option<u64>) -> i64 {
    seq_no.map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX))
}

impl SearchFeed {
    /// A feed for `search`, whose last durable commit covers what it says it covers.
    pub fn new(search: Arc<ShardSearchIndex>) -> Self {
        let committed = as_i64(search.committed_seq_no());
        let opened_at = as_i64(search.committed_max_seq_no());
        Self {
            search,
            fed: AtomicI64::new(committed),
            opened_at,
            refreshed: watch::Sender::new(committed),
            refresh_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The search index.
    pub fn search(&self) -> &Arc<ShardSearchIndex> {
        &self.search
    }

    /// Indexes or deletes each change, in order. `checkpoint` is the store's local
    /// checkpoint after them: what a refresh claims never passes it, because a follower
    /// applies operations out of order and one below the checkpoint may still come (a
    /// restart must re-feed it).
    pub fn feed(&self, changes: Vec<SearchChange>, checkpoint: i64) {
        let mut last = None;
        for c in changes {
            let r = match &c.source {
                // A created document cannot be in the index yet, unless a replay feeds
                // an operation the index committed before a crash: skip the delete only
                // above everything the opened commit may hold.
                Some(source) if c.created && as_i64(Some(c.seq_no)) > self.opened_at => {
                    self.search.index_new(&c.id, c.seq_no, source)
                }
                Some(source) => self.search.index(&c.id, c.seq_no, source),
                None => self.search.delete(&c.id),
            };
            if let Err(e) = r {
                tracing::error!(id = %c.id, seq_no = c.seq_no, error = %e, "failed to update the search index");
            }
            last = Some(c.seq_no);
        }
        if last.is_some() {
            self.fed
                .fetch_max(as_i64(last).min(checkpoint), Ordering::AcqRel);
        }
    }

    /// Re-feeds every change the search index's durable commit does not cover.
    pub fn catch_up(&self, store: &StateStore) -> Result<u64> {
        let mut after = self.search.committed_seq_no();
        let mut fed = 0;
        loop {
            let changes = store.changes_after(after, CATCH_UP_CHUNK)?;
            let Some(last) = changes.last().map(|c| c.seq_no) else {
                break;
            };
            fed += changes.len() as u64;
            self.feed(changes, store.state().local_checkpoint());
            after = Some(last);
        }
        Ok(fed)
    }

    /// Commits the search index if anything was fed since the last refresh, and
    /// publishes what it now covers.
    pub async fn refresh(&self) -> Result<()> {
        let _serial = self.refresh_lock.lock().await;
        // Read before committing: everything fed up to here is in the commit.
        let fed = self.fed.load(Ordering::Acquire);
        if fed < 0 || fed <= *self.refreshed.borrow() {
            return Ok(());
        }
        let search = self.search.clone();
        let seq_no = u64::try_from(fed).unwrap_or(0);
        tokio::task::spawn_blocking(move || search.refresh(seq_no))
            .await
            .map_err(|e| IndexError::Storage(format!("refresh task failed: {e}")))??;
        self.refreshed.send_replace(fed);
        Ok(())
    }

    /// Waits until a refresh covers `seq_no` (or the feed is dropped).
    pub async fn wait_refreshed(&self, seq_no: u64) {
        let target = as_i64(Some(seq_no));
        let mut rx = self.refreshed.subscribe();
        // An error means the sender is gone (shard closed): nothing more to wait for.
        let _ = rx.wait_for(|r| *r >= target).await;
    }
}
