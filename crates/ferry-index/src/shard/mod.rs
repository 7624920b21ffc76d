//! One shard of one index on this node: its Raft group, its state store and its search
//! index, in `<data>/shards/<index-uuid>/<n>/`.
//!
//! Writes, retention-lease changes and history pruning are proposed as Raft entries
//! (one entry per write batch) and answered once applied; reads (realtime GET, history,
//! leases, stats) go to the state store directly. Background tasks refresh the search
//! index every `refresh_interval` and keep history and the log trimmed
//! (`maintenance`). A following shard opened with `copy_segments` indexes nothing: its
//! search index is a copy of the leader's segments ([`Shard::segment_copy`]), and a
//! leader shard describes its last search commit for such followers
//! ([`Shard::search_commit`]). This module makes no routing decisions (the index does)
//! and has no network (groups have one member).

#[cfg(test)]
mod copy_tests;
#[cfg(test)]
mod copy_view_tests;
mod maintenance;
mod replicated;
#[cfg(test)]
mod replicated_tests;
mod restore;
mod segments;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::command::PruneReport;
use crate::command::{ShardCommand, ShardResponse};
use crate::feed::SearchFeed;
use crate::raft::ShardRaft;
use crate::search::ShardSearchIndex;
use crate::store::StateStore;
use crate::{
    IndexError, IndexSettings, RefreshPolicy, Result, RetentionLease, SharedMapping, StoredDoc,
    WriteOp, WriteOutcome, WriteResult,
};

/// File name of the state store inside a shard directory.
const STATE_FILE: &str = "state.redb";
/// Directory of the search index inside a shard directory.
const SEARCH_DIR: &str = "search";

/// An operation as kept in the shard's history (soft deletes included).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryOp {
    /// Dense sequence number.
    pub seq_no: u64,
    /// Raft term of the entry that applied it.
    pub primary_term: u64,
    /// Document version after the op.
    pub version: u64,
    /// Document id.
    pub id: String,
    /// `Some(source)` for index ops, `None` for deletes.
    pub source: Option<bytes::Bytes>,
    /// Leader's apply time, milliseconds since the epoch.
    pub timestamp_millis: u64,
    /// The `_routing` the document was written with (`None` for deletes and for
    /// documents written without one), so a follower can replay the op exactly.
    pub routing: Option<String>,
}

impl From<HistoryOp> for crate::ReplicatedOp {
    /// The operation as a follower applies it, keeping every leader field.
    fn from(op: HistoryOp) -> Self {
        Self {
            seq_no: op.seq_no,
            primary_term: op.primary_term,
            version: op.version,
            id: op.id,
            routing: op.routing,
            source: op.source,
            timestamp_millis: op.timestamp_millis,
        }
    }
}

/// Counters of one shard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardStats {
    /// Live documents.
    pub docs: u64,
    /// Highest seq_no applied (-1 when none).
    pub local_checkpoint: i64,
    /// Highest seq_no committed by the group (-1 when none).
    pub global_checkpoint: i64,
    /// Operations in history.
    pub history_ops: u64,
    /// Bytes on disk.
    pub store_bytes: u64,
}

/// Milliseconds since the epoch by this node's clock.
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What the shard and its background tasks share.
pub(crate) struct ShardCore {
    number: u32,
    dir: PathBuf,
    store: Arc<StateStore>,
    feed: Arc<SearchFeed>,
    raft: ShardRaft,
    settings: watch::Sender<IndexSettings>,
    /// The global checkpoint as the state machine last applied it.
    checkpoint: Arc<watch::Sender<i64>>,
    closed: AtomicBool,
}

/// One shard of one index on this node.
pub struct Shard {
    core: Arc<ShardCore>,
    stop: watch::Sender<bool>,
    tasks: parking_lot::Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Shard {
    fn drop(&mut self) {
        // Without `shutdown` (a crash, a test): stop the background tasks; applied state
        // not yet durable is recovered from the Raft log on the next open.
        for task in self.tasks.get_mut().drain(..) {
            task.abort();
        }
    }
}

impl Shard {
    /// Creates shard `number` in the empty or missing directory `dir`: a new state
    /// (with a new history UUID), a new search index and a new single-member Raft group
    /// with `node_id` as its member.
    pub async fn create(
        dir: &Path,
        number: u32,
        node_id: u64,
        settings: &IndexSettings,
        mapping: SharedMapping,
    ) -> Result<Self> {
        if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(IndexError::Storage(format!(
                "shard directory [{}] is not empty",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(IndexError::storage)?;
        Self::start(dir, number, node_id, settings, mapping, true).await
    }

    /// Opens shard `number` from `dir`, recovering anything applied but not yet durable
    /// by replaying its Raft log.
    pub async fn open(
        dir: &Path,
        number: u32,
        node_id: u64,
        settings: &IndexSettings,
        mapping: SharedMapping,
    ) -> Result<Self> {
        Self::start(dir, number, node_id, settings, mapping, false).await
    }

    async fn start(
        dir: &Path,
        number: u32,
        node_id: u64,
        settings: &IndexSettings,
        mapping: SharedMapping,
        create: bool,
    ) -> Result<Self> {
        let owned = dir.to_owned();
        let copy = settings.following_index && settings.copy_segments;
        let (store, feed) = tokio::task::spawn_blocking(move || -> Result<_> {
            let path = owned.join(STATE_FILE);
            let store = if create { StateStore::create(&path, now_millis())? } else { StateStore::open(&path)? };
            let search_dir = owned.join(SEARCH_DIR);
            let feed = if copy {
                SearchFeed::new_copy(Arc::new(ShardSearchIndex::open_copy(&search_dir, mapping)?))
            } else {
                SearchFeed::new(Arc::new(ShardSearchIndex::open(&search_dir, mapping)?))?
            };
            let refed = feed.catch_up(&store)?;
            if refed > 0 {
                tracing::info!(dir = %owned.display(), ops = refed, "search index caught up from history");
            }
            Ok((Arc::new(store), Arc::new(feed)))
        })
        .await
        .map_err(|e| IndexError::Storage(format!("opening shard: {e}")))??;
        let checkpoint = Arc::new(watch::Sender::new(store.state().local_checkpoint()));
        let raft = ShardRaft::start(
            dir,
            node_id,
            store.clone(),
            feed.clone(),
            checkpoint.clone(),
        )
        .await?;
        let core = Arc::new(ShardCore {
            number,
            dir: dir.to_owned(),
            store,
            feed,
            raft,
            settings: watch::Sender::new(settings.clone()),
            checkpoint,
            closed: AtomicBool::new(false),
        });
        let (stop, _) = watch::channel(false);
        let tasks = maintenance::spawn(&core, &stop);
        tracing::info!(dir = %dir.display(), shard = number, "shard open");
        Ok(Self {
            core,
            stop,
            tasks: parking_lot::Mutex::new(tasks),
        })
    }

    /// The shard number within its index.
    pub fn number(&self) -> u32 {
        self.core.number
    }

    /// The shard's search index.
    pub fn search_index(&self) -> &ShardSearchIndex {
        self.core.feed.search()
    }

    /// Applies `ops` as one Raft entry; one result per op, in order. A failed op (a
    /// version conflict, a missing document) does not stop the others. A following
    /// index refuses every op with [`IndexError::FollowerWrite`].
    pub async fn write(
        &self,
        ops: Vec<WriteOp>,
        refresh: RefreshPolicy,
    ) -> Vec<Result<WriteOutcome>> {
        if ops.is_empty() {
            return Vec::new();
        }
        if self.core.settings.borrow().following_index {
            return ops.iter().map(|_| Err(IndexError::FollowerWrite)).collect();
        }
        let ids: Vec<String> = ops.iter().map(|op| op.id().to_owned()).collect();
        let cmd = ShardCommand::Write {
            timestamp_millis: now_millis(),
            ops,
        };
        let results = match self.core.propose(cmd).await {
            Ok(ShardResponse::Writes(results)) if results.len() == ids.len() => results,
            Ok(other) => {
                let e = IndexError::Storage(format!("unexpected answer to a write: {other:?}"));
                return ids.iter().map(|_| Err(e.clone())).collect();
            }
            Err(e) => return ids.iter().map(|_| Err(e.clone())).collect(),
        };
        let number = self.core.number;
        let outcomes: Vec<Result<WriteOutcome>> = ids
            .into_iter()
            .zip(results)
            .map(|(id, r)| {
                r.map(|a| WriteOutcome {
                    id,
                    shard: number,
                    result: a.result,
                    seq_no: a.seq_no,
                    primary_term: a.primary_term,
                    version: a.version,
                    source: a.source,
                })
                .map_err(IndexError::from)
            })
            .collect();
        let written = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .filter(|o| o.result != WriteResult::Noop)
            .map(|o| o.seq_no)
            .max();
        if let Some(seq_no) = written {
            self.core.after_write(seq_no, refresh).await;
        }
        outcomes
    }

    /// Realtime get from the document table.
    pub fn get(&self, id: &str) -> Result<Option<StoredDoc>> {
        self.core.store.get(id)
    }

    /// Counters of this shard.
    pub fn stats(&self) -> Result<ShardStats> {
        let state = self.core.store.state();
        Ok(ShardStats {
            docs: state.live_docs,
            local_checkpoint: state.local_checkpoint(),
            global_checkpoint: state.local_checkpoint(),
            history_ops: self.core.store.history_len()?,
            store_bytes: dir_bytes(&self.core.dir),
        })
    }

    /// History from `from_seq_no` on, at most `max_ops` operations, never above the
    /// global checkpoint. Complete (no gaps) from [`Self::min_retained_seq_no`] on; below
    /// it, superseded operations may have been pruned, and a shard restored from a copy
    /// serves nothing at or below the copy's checkpoint (see [`Self::finish_restore`]).
    pub fn history(&self, from_seq_no: u64, max_ops: usize) -> Result<Vec<HistoryOp>> {
        let Ok(upto) = u64::try_from(self.global_checkpoint()) else {
            return Ok(Vec::new());
        };
        self.core.store.history(from_seq_no, upto, max_ops)
    }

    /// Every history operation from this seq_no on is retained.
    pub fn min_retained_seq_no(&self) -> u64 {
        self.core.store.state().retained_from
    }

    /// The UUID of this shard's history (new for every created shard).
    pub fn history_uuid(&self) -> &str {
        self.core.store.history_uuid()
    }

    /// The current primary term (the Raft term of the group's leader).
    pub fn primary_term(&self) -> u64 {
        self.core.raft.current_term()
    }

    /// Highest applied seq_no (-1 when none).
    pub fn local_checkpoint(&self) -> i64 {
        self.core.store.state().local_checkpoint()
    }

    /// Highest seq_no applied by the committed prefix of the log (-1 when none). With a
    /// single member, everything applied is committed: the local checkpoint.
    pub fn global_checkpoint(&self) -> i64 {
        self.local_checkpoint()
    }

    /// Watches the global checkpoint: the receiver sees every advance as soon as the state
    /// machine applies it (CCR long polls wait on it instead of polling a timer).
    pub fn subscribe_global_checkpoint(&self) -> watch::Receiver<i64> {
        self.core.checkpoint.subscribe()
    }

    /// How many receivers of [`Self::subscribe_global_checkpoint`] are alive (parked long
    /// polls, for metrics and tests).
    pub fn global_checkpoint_watchers(&self) -> usize {
        self.core.checkpoint.receiver_count()
    }

    /// Adds a retention lease (through Raft). An id already held →
    /// `RetentionLeaseAlreadyExists`.
    pub async fn add_retention_lease(
        &self,
        id: &str,
        retaining_seq_no: u64,
        source: &str,
    ) -> Result<RetentionLease> {
        let cmd = ShardCommand::AddLease {
            id: id.to_owned(),
            retaining_seq_no,
            source: source.to_owned(),
            timestamp_millis: now_millis(),
        };
        self.core
            .lease_command(cmd)
            .await?
            .ok_or_else(|| IndexError::Storage("lease add answered nothing".into()))
    }

    /// Renews a retention lease (through Raft): a missing id → `RetentionLeaseNotFound`,
    /// a lower retaining seq_no → `IllegalArgument`.
    pub async fn renew_retention_lease(
        &self,
        id: &str,
        retaining_seq_no: u64,
        source: &str,
    ) -> Result<RetentionLease> {
        let cmd = ShardCommand::RenewLease {
            id: id.to_owned(),
            retaining_seq_no,
            source: source.to_owned(),
            timestamp_millis: now_millis(),
        };
        self.core
            .lease_command(cmd)
            .await?
            .ok_or_else(|| IndexError::Storage("lease renew answered nothing".into()))
    }

    /// Removes a retention lease (through Raft): a missing id → `RetentionLeaseNotFound`.
    pub async fn remove_retention_lease(&self, id: &str) -> Result<()> {
        self.core
            .lease_command(ShardCommand::RemoveLease { id: id.to_owned() })
            .await
            .map(|_| ())
    }

    /// The retention leases held now (expired ones stay until the next prune).
    pub fn retention_leases(&self) -> Result<Vec<RetentionLease>> {
        self.core.store.leases()
    }

    /// Expires leases older than the retention period and prunes history no lease needs
    /// (through Raft, stamped with this leader's clock). Also runs periodically.
    pub async fn prune_history(&self) -> Result<PruneReport> {
        self.core.prune().await
    }

    /// Makes everything applied so far searchable. On a shard copying its leader's
    /// segments, waits for a leader commit covering it while a copier is attached.
    pub async fn refresh(&self) -> Result<()> {
        self.core.feed.refresh().await
    }

    /// Refreshes, then commits the state durably (what a restart would otherwise replay
    /// from the Raft log).
    pub async fn flush(&self) -> Result<()> {
        self.refresh().await?;
        let store = self.core.store.clone();
        tokio::task::spawn_blocking(move || store.durable_commit(|_| Ok(None)))
            .await
            .map_err(|e| IndexError::Storage(format!("flush task failed: {e}")))??;
        Ok(())
    }

    /// Applies changed dynamic settings (refresh interval, retention period).
    pub fn update_settings(&self, settings: &IndexSettings) {
        self.core.settings.send_replace(settings.clone());
    }

    /// Stops the background tasks and the Raft group, refreshes the search index and
    /// commits the state durably. Later writes answer `Unavailable`. Idempotent.
    pub async fn shutdown(&self) -> Result<()> {
        if self.core.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.stop.send_replace(true);
        let tasks: Vec<_> = self.tasks.lock().drain(..).collect();
        for task in tasks {
            let _ = task.await;
        }
        let raft = self.core.raft.shutdown().await;
        let refresh = self.core.feed.refresh().await;
        let store = self.core.store.clone();
        let commit = tokio::task::spawn_blocking(move || store.durable_commit(|_| Ok(None)))
            .await
            .map_err(|e| IndexError::Storage(format!("final commit task failed: {e}")))
            .and_then(|r| r);
        tracing::info!(dir = %self.core.dir.display(), shard = self.core.number, "shard closed");
        raft.and(refresh).and(commit.map(|_| ()))
    }
}

impl ShardCore {
    async fn propose(&self, cmd: ShardCommand) -> Result<ShardResponse> {
        if self.closed.load(Ordering::Acquire) {
            return Err(IndexError::Unavailable("the shard is closed".into()));
        }
        self.raft.propose(cmd).await
    }

    async fn lease_command(&self, cmd: ShardCommand) -> Result<Option<RetentionLease>> {
        match self.propose(cmd).await? {
            ShardResponse::Lease(r) => r.map_err(IndexError::from),
            other => Err(IndexError::Storage(format!(
                "unexpected answer to a lease change: {other:?}"
            ))),
        }
    }

    async fn prune(&self) -> Result<PruneReport> {
        let period = self.settings.borrow().retention_lease_period;
        let cmd = ShardCommand::Prune {
            timestamp_millis: now_millis(),
            lease_period_millis: u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
        };
        match self.propose(cmd).await? {
            ShardResponse::Pruned(report) => {
                if !report.expired_leases.is_empty() || report.pruned_ops > 0 {
                    tracing::info!(
                        shard = self.number,
                        expired = ?report.expired_leases,
                        pruned = report.pruned_ops,
                        retained_from = report.retained_from,
                        "history pruned"
                    );
                }
                Ok(report)
            }
            other => Err(IndexError::Storage(format!(
                "unexpected answer to a prune: {other:?}"
            ))),
        }
    }

    /// Carries out the refresh policy of a write whose highest seq_no is `seq_no`.
    async fn after_write(&self, seq_no: u64, refresh: RefreshPolicy) {
        let scheduled = self
            .settings
            .borrow()
            .refresh_interval
            .is_some_and(|d| !d.is_zero());
        let result = match refresh {
            RefreshPolicy::None => Ok(()),
            RefreshPolicy::Immediate => self.feed.refresh().await,
            RefreshPolicy::WaitFor if scheduled => {
                self.feed.wait_refreshed(seq_no).await;
                Ok(())
            }
            RefreshPolicy::WaitFor => self.feed.refresh().await,
        };
        if let Err(e) = result {
            tracing::error!(shard = self.number, error = %e, "refresh after write failed");
        }
    }
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
