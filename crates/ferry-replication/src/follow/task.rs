//! The shard-follow task runtime: one tokio task per follower shard that drives a
//! [`ShardFollowPlanner`] — `Read` becomes a `ReadOps` call on the leader through the
//! remote alias's channel, `Write` a bulk apply on the [`FollowerShard`], `ScheduleRetry`
//! a sleep, `RenewLease` a lease RPC, `UpdateMapping` a fetch of the leader's mapping via
//! admin `GetIndex` merged into the follower, `Fatal` the end of the task (stats keep it).
//!
//! At start it takes the CCR retention lease on the leader shard (retaining from the
//! follower's global checkpoint + 1; an existing lease is renewed instead), then starts
//! the planner from the follower's global checkpoint. A new follower shard (global
//! checkpoint -1) first restores a copy of the leader shard (`bootstrap_run`), and with
//! `auto_rebootstrap` a shard that fell behind the leader's history does so again in
//! place. This module holds the handle, the follower trait and the stats (a Ferry
//! `bootstrap` object beside ES's fields); the event loop itself is `runner`.
//!
//! Deliberately not here: replicating the leader's *settings* (`UpdateSettings` is
//! acknowledged at the leader's version without copying anything yet) and aliases.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use ferry_index::ReplicatedOp;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{Instrument, info_span};

use super::backoff::RandJitter;
use super::bootstrap_stats::BootstrapStats;
use super::events::{ErrorKind, TaskError};
use super::params::FollowParameters;
use super::planner::ShardFollowPlanner;
use super::segment_copier::{CopyTarget, SegmentCopier, SegmentCopyStats};
use crate::remote::RemoteClusters;

/// The follower shard as the task sees it (ferry-node implements it over `IndexHandle`).
pub trait FollowerShard: Send + Sync + 'static {
    /// `(global_checkpoint, max_seq_no)` of the follower shard now.
    fn checkpoints(&self) -> Result<(i64, i64), TaskError>;
    /// Applies leader ops keeping their seq_no/version; answers the follower shard's
    /// `(global_checkpoint, max_seq_no)` afterwards.
    fn apply(
        &self,
        ops: Vec<ReplicatedOp>,
    ) -> impl Future<Output = Result<(i64, i64), ErrorKind>> + Send;
    /// Merges the leader's mapping (ES JSON, untyped) into the follower index.
    fn merge_mapping(&self, mapping: Value) -> impl Future<Output = Result<(), ErrorKind>> + Send;
    /// Applies records of a bootstrap copy under restore `session` (idempotent).
    fn restore_batch(
        &self,
        session: &str,
        ops: Vec<ReplicatedOp>,
    ) -> impl Future<Output = Result<(), ErrorKind>> + Send;
    /// Ends restore `session` at the copy's `checkpoint`; answers the follower shard's
    /// `(global_checkpoint, max_seq_no)` afterwards.
    fn finish_restore(
        &self,
        session: &str,
        checkpoint: i64,
    ) -> impl Future<Output = Result<(i64, i64), ErrorKind>> + Send;
    /// A directory where this shard's bootstrap copy may be staged (created by the caller
    /// if missing, emptied by the task when the copy is applied).
    fn staging_dir(&self) -> std::path::PathBuf;
    /// The shard's segment copy when its search index copies the leader's segments
    /// (`index.ferry.ccr.copy_segments`); `None` when it indexes what it applies.
    fn copy_target(&self) -> Result<Option<CopyTarget>, ErrorKind> {
        Ok(None)
    }
}

/// What one shard task follows.
#[derive(Debug, Clone)]
pub struct ShardFollowConfig {
    /// The remote alias.
    pub remote_cluster: String,
    /// The leader index name.
    pub leader_index: String,
    /// The follower index name.
    pub follower_index: String,
    /// The shard number (same on both sides).
    pub shard: u32,
    /// The CCR retention-lease id (spec §5).
    pub lease_id: String,
    /// The follow parameters.
    pub params: FollowParameters,
    /// The node's live bootstrap-copy settings.
    pub recovery: Arc<crate::recovery::RecoverySettings>,
    /// The node's follower-side copy throttle (over `recovery`'s `max_bytes_per_sec`),
    /// one per node and shared by all its shard tasks, as ES's rate limiter.
    pub copy_throttle: Arc<crate::leader::Throttle>,
}

/// Clock-based counters the planner does not keep.
#[derive(Debug, Default)]
pub(super) struct Clocks {
    pub(super) read_millis: u64,
    pub(super) write_millis: u64,
    pub(super) last_read: Option<Instant>,
    /// While the follower is behind: the leader's apply time (ms since the epoch) of the
    /// oldest operation it has not applied, or when it was first seen behind.
    pub(super) behind_since_millis: Option<u64>,
    /// When the follower was last seen caught up with the leader's global checkpoint.
    pub(super) last_synced: Option<Instant>,
}

#[derive(Debug, Default)]
pub(super) struct Shared {
    pub(super) stats: Map<String, Value>,
    pub(super) clocks: Clocks,
    /// The bootstrap's progress, updated by the fetch as chunks arrive.
    pub(super) bootstrap: Arc<Mutex<BootstrapStats>>,
    /// The segment copier's progress (followers with `copy_segments` only).
    pub(super) segments: Arc<Mutex<SegmentCopyStats>>,
}

/// How far a task's start-up got: what `PUT /<follower>/_ccr/follow` with
/// `wait_for_active_shards` waits on (a new shard starts following once its bootstrap copy
/// is restored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartState {
    /// Taking the lease, or bootstrapping.
    Starting,
    /// Following the leader's history (its first start-up succeeded).
    Following,
    /// Start-up failed fatally; the stats' `fatal_exception` says why.
    Failed,
}

/// A running (or stopped) shard task: its handle and its stats.
#[derive(Debug)]
pub struct ShardFollowTask {
    config: ShardFollowConfig,
    shared: Arc<Mutex<Shared>>,
    started: watch::Receiver<StartState>,
    handle: JoinHandle<()>,
}

impl Drop for ShardFollowTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl ShardFollowTask {
    /// Starts the task for `config` on a tokio runtime.
    pub fn start<S: FollowerShard>(
        config: ShardFollowConfig,
        remotes: Arc<RemoteClusters>,
        shard: Arc<S>,
    ) -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (started_tx, started) = watch::channel(StartState::Starting);
        let span = info_span!("follow_task", follower = %config.follower_index, shard = config.shard,
            remote = %config.remote_cluster, leader = %config.leader_index);
        let runner = super::runner::Runner {
            planner: ShardFollowPlanner::new(&config.params, Box::new(RandJitter::from_os())),
            config: config.clone(),
            remotes,
            shard,
            shared: shared.clone(),
            bodies: BTreeMap::new(),
            writes: HashMap::new(),
            history_uuid: String::new(),
            rebootstrap: false,
            started: started_tx,
        };
        let copier = SegmentCopier {
            config: config.clone(),
            remotes: runner.remotes.clone(),
            shard: runner.shard.clone(),
            stats: shared.lock().segments.clone(),
        };
        // The copier never ends by itself: the task ends with the event loop.
        let both = async move {
            tokio::select! {
                () = runner.run() => {}
                () = copier.run() => {}
            }
        };
        let handle = tokio::spawn(both.instrument(span));
        Self {
            config,
            shared,
            started,
            handle,
        }
    }

    /// Watches the task's start-up; the sender goes away when the task is stopped.
    pub fn start_state(&self) -> watch::Receiver<StartState> {
        self.started.clone()
    }

    /// Stops the task (pause); in-flight calls are dropped.
    pub fn stop(&self) {
        self.handle.abort();
    }

    /// The follow configuration.
    pub fn config(&self) -> &ShardFollowConfig {
        &self.config
    }

    /// One `shards[]` entry of `_ccr/stats`: identity, the planner's fields, clocks.
    pub fn stats(&self) -> Map<String, Value> {
        let shared = self.shared.lock();
        let mut m = Map::new();
        m.insert("remote_cluster".into(), json!(self.config.remote_cluster));
        m.insert("leader_index".into(), json!(self.config.leader_index));
        m.insert("follower_index".into(), json!(self.config.follower_index));
        m.insert("shard_id".into(), json!(self.config.shard));
        m.extend(shared.stats.clone());
        m.insert("follower_aliases_version".into(), json!(0));
        m.insert(
            "total_read_time_millis".into(),
            json!(shared.clocks.read_millis),
        );
        m.insert(
            "total_write_time_millis".into(),
            json!(shared.clocks.write_millis),
        );
        let since = shared.clocks.last_read.map_or(-1, |t| {
            i64::try_from(t.elapsed().as_millis()).unwrap_or(i64::MAX)
        });
        m.insert("time_since_last_read_millis".into(), json!(since));
        let lag = shared
            .clocks
            .behind_since_millis
            .map_or(0, |t| now_millis().saturating_sub(t));
        m.insert("lag_millis".into(), json!(lag));
        let synced = match (shared.clocks.behind_since_millis, shared.clocks.last_synced) {
            (None, Some(_)) => 0,
            (_, Some(t)) => i64::try_from(t.elapsed().as_millis()).unwrap_or(i64::MAX),
            (_, None) => -1,
        };
        m.insert("time_since_last_synced_millis".into(), json!(synced));
        m.insert("bootstrap".into(), shared.bootstrap.lock().to_es_json());
        let segments = shared.segments.lock();
        if segments.commits_installed > 0 || segments.failures > 0 {
            m.insert("segment_copy".into(), segments.to_es_json());
        }
        m
    }

    /// The bootstrap's progress (the `bootstrap` object of [`Self::stats`]).
    pub fn bootstrap_stats(&self) -> BootstrapStats {
        let bootstrap = self.shared.lock().bootstrap.clone();
        bootstrap.lock().clone()
    }

    /// `leader_global_checkpoint - follower_global_checkpoint`, never below 0.
    pub fn global_checkpoint_lag(&self) -> i64 {
        let shared = self.shared.lock();
        let get = |k: &str| shared.stats.get(k).and_then(Value::as_i64).unwrap_or(-1);
        (get("leader_global_checkpoint") - get("follower_global_checkpoint")).max(0)
    }
}

/// The wall clock in ms since the epoch (comparable with the leader's op timestamps).
pub(super) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
