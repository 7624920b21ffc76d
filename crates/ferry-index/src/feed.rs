//! Feeding a shard's search index from its state, and tracking what refresh covers.
//!
//! The search index is derived data: the state machine hands every applied run of changes
//! to [`SearchFeed::feed`], and on open [`SearchFeed::catch_up`] re-feeds history above
//! the search index's last durable commit (possible because a document's current row is
//! never pruned, so every id changed since then still has its latest operation in
//! history). A per-shard indexer thread takes the runs from a short queue, so applying
//! the next Raft entries overlaps with parsing and indexing these, and never waits for a
//! commit that holds the index writer. The indexer records the highest seq_no handed
//! over, which is what a refresh may claim to cover; a refresh first waits for the runs
//! fed before it started. `refreshed` is what the last refresh covered, watched by
//! `refresh=wait_for` writers. A failure to index one document is logged and does not
//! stop the state machine (the state is the source of truth; applying must stay
//! deterministic). A follower shard whose search index copies its leader's segments has
//! no indexer: feeding only records the checkpoint, and a refresh asks its
//! [`SegmentCopy`] for a leader commit covering it. This module does not schedule
//! refreshes (the shard does).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use crate::command::SearchChange;
use crate::search::ShardSearchIndex;
use crate::segment_copy::SegmentCopy;
use crate::store::StateStore;
use crate::{IndexError, Result};

/// How many history entries catch-up reads at a time.
const CATCH_UP_CHUNK: usize = 1_000;
/// Applied runs of changes waiting for the indexer before the state machine waits too.
const QUEUE_RUNS: usize = 4;

/// One applied run of changes and the store's local checkpoint after it.
struct Run {
    changes: Vec<SearchChange>,
    checkpoint: i64,
}

/// What the feed and its indexer thread share.
struct Indexer {
    search: Arc<ShardSearchIndex>,
    /// Highest seq_no handed to the search index that a refresh may claim (-1: none).
    fed: AtomicI64,
    /// The highest seq_no the search index's durable commit held when it was opened (-1:
    /// none): an operation up to here may already be in it, even if it created its
    /// document (a replay after a crash), so it is never added without a delete.
    opened_at: i64,
    /// Runs the indexer has finished, with a condition variable to wait on.
    done: Mutex<Progress>,
    progress: Condvar,
}

/// How far the indexer thread got.
#[derive(Default)]
struct Progress {
    runs: u64,
    /// The thread ended (a panic): nothing more will be indexed, so nobody may wait.
    stopped: bool,
}

/// Marks the indexer stopped when its thread ends, even by a panic, and wakes waiters.
struct StopGuard<'a>(&'a Indexer);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        self.0.done.lock().stopped = true;
        self.0.progress.notify_all();
    }
}

/// Feeds one shard's search index.
pub(crate) struct SearchFeed {
    shared: Arc<Indexer>,
    /// `Some` when the search index copies the leader's segments (no indexer thread).
    copy: Option<Arc<SegmentCopy>>,
    /// `None` once the feed is dropped (closing it ends the indexer thread).
    queue: Option<SyncSender<Run>>,
    /// Runs handed to the indexer so far.
    queued: AtomicU64,
    indexer: Option<JoinHandle<()>>,
    /// Highest seq_no covered by the last refresh (-1: none).
    refreshed: watch::Sender<i64>,
    /// Serializes refreshes.
    refresh_lock: tokio::sync::Mutex<()>,
}

/// A seq_no as checkpoints count them: -1 for none.
pub(crate) fn as_i64(seq_no: Option<u64>) -> i64 {
    seq_no.map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX))
}

impl Indexer {
    /// Indexes or deletes each change, in order (see [`SearchFeed::feed`]).
    fn index(&self, changes: Vec<SearchChange>, checkpoint: i64) {
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

    fn run(&self, runs: &Receiver<Run>) {
        let _stop = StopGuard(self);
        while let Ok(run) = runs.recv() {
            self.index(run.changes, run.checkpoint);
            self.done.lock().runs += 1;
            self.progress.notify_all();
        }
    }

    /// Blocks until the indexer has finished `runs` runs (or stopped).
    fn wait_done(&self, runs: u64) {
        let mut done = self.done.lock();
        while done.runs < runs && !done.stopped {
            self.progress.wait(&mut done);
        }
    }
}

impl SearchFeed {
    /// A feed for `search`, whose last durable commit covers what it says it covers;
    /// starts the shard's indexer thread.
    pub fn new(search: Arc<ShardSearchIndex>) -> Result<Self> {
        let mut feed = Self::idle(search);
        let (queue, runs) = sync_channel(QUEUE_RUNS);
        let worker = feed.shared.clone();
        let indexer = std::thread::Builder::new()
            .name("ferry-indexer".into())
            .spawn(move || worker.run(&runs))
            .map_err(|e| IndexError::Storage(format!("cannot start a search indexer: {e}")))?;
        feed.queue = Some(queue);
        feed.indexer = Some(indexer);
        Ok(feed)
    }

    /// A feed for a search index that copies its leader's segments: nothing is indexed.
    pub fn new_copy(search: Arc<ShardSearchIndex>) -> Self {
        let mut feed = Self::idle(search.clone());
        feed.copy = Some(Arc::new(SegmentCopy::new(search)));
        feed
    }

    /// A feed without an indexer thread.
    fn idle(search: Arc<ShardSearchIndex>) -> Self {
        let committed = as_i64(search.committed_seq_no());
        let shared = Arc::new(Indexer {
            opened_at: as_i64(search.committed_max_seq_no()),
            search,
            fed: AtomicI64::new(committed),
            done: Mutex::new(Progress::default()),
            progress: Condvar::new(),
        });
        Self {
            shared,
            copy: None,
            queue: None,
            queued: AtomicU64::new(0),
            indexer: None,
            refreshed: watch::Sender::new(committed),
            refresh_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The segment copy, when the search index copies its leader's segments.
    pub fn segment_copy(&self) -> Option<&Arc<SegmentCopy>> {
        self.copy.as_ref()
    }

    /// The search index.
    pub fn search(&self) -> &Arc<ShardSearchIndex> {
        &self.shared.search
    }

    /// Hands the changes of one applied run to the indexer thread, which indexes or
    /// deletes each, in order; blocks while [`QUEUE_RUNS`] runs wait already.
    /// `checkpoint` is the store's local checkpoint after them: what a refresh claims
    /// never passes it, because a follower applies operations out of order and one below
    /// the checkpoint may still come (a restart must re-feed it).
    pub fn feed(&self, changes: Vec<SearchChange>, checkpoint: i64) {
        if self.copy.is_some() {
            // What a refresh asks the copier for.
            self.shared.fed.fetch_max(checkpoint, Ordering::AcqRel);
            return;
        }
        if changes.is_empty() {
            return;
        }
        let Some(queue) = &self.queue else {
            return;
        };
        // Counted before sending: a refresh that sees the count waits for this run. Runs
        // come from one thread at a time (the state machine applies serially; catch-up runs
        // before it starts), so counts and queue order agree.
        self.queued.fetch_add(1, Ordering::AcqRel);
        if queue
            .send(Run {
                changes,
                checkpoint,
            })
            .is_err()
        {
            // Only if the indexer panicked (waiters see it stopped): say so once per run.
            tracing::error!("the search indexer thread is gone; changes are not searchable");
        }
    }

    /// Blocks until everything fed so far is in the search index's writer.
    fn drain(&self) {
        self.shared.wait_done(self.queued.load(Ordering::Acquire));
    }

    /// Re-feeds every change the search index's durable commit does not cover.
    pub fn catch_up(&self, store: &StateStore) -> Result<u64> {
        if self.copy.is_some() {
            self.feed(Vec::new(), store.state().local_checkpoint());
            return Ok(0);
        }
        let mut after = self.search().committed_seq_no();
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
        self.drain();
        Ok(fed)
    }

    /// Commits the search index durably at `seq_no` once everything fed so far is in it
    /// (blocking; for the state machine, which publishes nothing to `refresh=wait_for`).
    pub fn commit_blocking(&self, seq_no: u64) -> Result<()> {
        if self.copy.is_some() {
            return Ok(());
        }
        self.drain();
        self.search().refresh(seq_no)
    }

    /// Commits the search index if anything was fed since the last refresh, once the
    /// indexer has everything fed before this call, and publishes what it now covers.
    pub async fn refresh(&self) -> Result<()> {
        if let Some(copy) = &self.copy {
            copy.refresh(self.shared.fed.load(Ordering::Acquire)).await;
            return Ok(());
        }
        let _serial = self.refresh_lock.lock().await;
        let runs = self.queued.load(Ordering::Acquire);
        let refreshed = *self.refreshed.borrow();
        let shared = self.shared.clone();
        let job = move || -> Result<Option<i64>> {
            shared.wait_done(runs);
            // Read before committing: everything fed up to here is in the commit.
            let fed = shared.fed.load(Ordering::Acquire);
            if fed < 0 || fed <= refreshed {
                return Ok(None);
            }
            shared.search.refresh(u64::try_from(fed).unwrap_or(0))?;
            Ok(Some(fed))
        };
        let covered = tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| IndexError::Storage(format!("refresh task failed: {e}")))??;
        if let Some(fed) = covered {
            self.refreshed.send_replace(fed);
        }
        Ok(())
    }

    /// The refresh `index.refresh_interval` schedules. A copy of the leader's segments
    /// has nothing to do: its copier installs each commit the leader makes on its own
    /// schedule, and asking the leader for more would add leader commits (and merges)
    /// at the follower's cadence. An explicit refresh still asks (see [`Self::refresh`]).
    pub async fn scheduled_refresh(&self) -> Result<()> {
        if self.copy.is_some() {
            return Ok(());
        }
        self.refresh().await
    }

    /// Waits until a refresh covers `seq_no` (or the feed is dropped).
    pub async fn wait_refreshed(&self, seq_no: u64) {
        let target = as_i64(Some(seq_no));
        let mut rx = self.refreshed.subscribe();
        // An error means the sender is gone (shard closed): nothing more to wait for.
        let _ = rx.wait_for(|r| *r >= target).await;
    }
}

impl Drop for SearchFeed {
    /// Closes the queue and joins the indexer after it finished what was queued, so the
    /// search index (and its writer's lock) is released when the feed is.
    fn drop(&mut self) {
        self.queue = None;
        if let Some(indexer) = self.indexer.take()
            && indexer.join().is_err()
        {
            tracing::error!("the search indexer thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mapping, SharedMapping};

    fn feed(dir: &std::path::Path) -> SearchFeed {
        let mapping: SharedMapping = Arc::new(parking_lot::RwLock::new(Mapping::default()));
        SearchFeed::new(Arc::new(ShardSearchIndex::open(dir, mapping).unwrap())).unwrap()
    }

    fn change(seq_no: u64) -> SearchChange {
        SearchChange {
            seq_no,
            id: format!("d{seq_no}"),
            source: Some(bytes::Bytes::from_static(br#"{"n": 1}"#)),
            created: true,
        }
    }

    #[tokio::test]
    async fn a_refresh_covers_every_run_fed_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let feed = feed(dir.path());
        for seq_no in 0..50 {
            feed.feed(vec![change(seq_no)], i64::try_from(seq_no).unwrap());
        }
        feed.refresh().await.unwrap();
        assert_eq!(feed.search().num_docs(), 50);
        assert_eq!(*feed.refreshed.borrow(), 49);
    }

    #[tokio::test]
    async fn a_copy_asks_its_copier_on_an_explicit_refresh_only() {
        let dir = tempfile::tempdir().unwrap();
        let mapping: SharedMapping = Arc::new(parking_lot::RwLock::new(Mapping::default()));
        let search = ShardSearchIndex::open_copy(dir.path(), mapping).unwrap();
        let feed = Arc::new(SearchFeed::new_copy(Arc::new(search)));
        let copy = feed.segment_copy().unwrap().clone();
        let _copier = copy.attach();
        // Applied operations are not indexed; they are what a refresh asks for.
        feed.feed(vec![change(0), change(5)], 5);
        assert_eq!(feed.search().num_docs(), 0);
        // The scheduled refresh leaves the leader's commits to the copier's long poll.
        feed.scheduled_refresh().await.unwrap();
        assert_eq!(copy.subscribe().borrow().wanted, -1);
        let refreshing = tokio::spawn({
            let feed = feed.clone();
            async move { feed.refresh().await }
        });
        let mut progress = copy.subscribe();
        progress.wait_for(|p| p.wanted == 5).await.unwrap();
        copy.failed();
        refreshing.await.unwrap().unwrap();
    }

    #[test]
    fn waiting_for_an_indexer_that_panicked_ends() {
        let dir = tempfile::tempdir().unwrap();
        let feed = feed(dir.path());
        let indexer = feed.shared.clone();
        let panicked = std::thread::spawn(move || {
            let _stop = StopGuard(&indexer);
            panic!("an indexer thread panics");
        })
        .join();
        assert!(panicked.is_err());
        // Runs that will never be indexed: the wait ends instead of hanging (the timeout
        // is a hang guard, not a speed check).
        let (tx, rx) = std::sync::mpsc::channel();
        let indexer = feed.shared.clone();
        std::thread::spawn(move || {
            indexer.wait_done(u64::MAX);
            let _ = tx.send(());
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("waiting for a stopped indexer ended");
    }
}
