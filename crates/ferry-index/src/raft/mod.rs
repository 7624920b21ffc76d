//! The openraft adapter: the only module that names openraft types.
//!
//! Each shard is one Raft group. This module declares the group's type configuration
//! (`D` = [`ShardCommand`], `R` = [`ShardResponse`]), implements openraft's storage-v2
//! traits over our stores (`log_store`: a durable redb log; `state_machine`: the shard's
//! [`StateStore`] plus the search feed), a network that has no peers yet (`network`),
//! and [`ShardRaft`], the small handle the shard uses: start (initializing a new group
//! exactly once), propose, snapshot, shut down. Upgrading openraft should touch only
//! this directory.
//!
//! Not here: multi-member groups, membership changes, installing snapshots from other
//! nodes (refused with a clear error), the inter-node transport (`ferry-cluster`).

mod log_store;
mod network;
mod recent;
mod state_machine;

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, Fatal, RaftError};
use openraft::{BasicNode, Config, Raft, ServerState, SnapshotPolicy};

use crate::command::{ShardCommand, ShardResponse};
use crate::feed::SearchFeed;
use crate::store::StateStore;
use crate::{IndexError, Result};

openraft::declare_raft_types!(
    /// The type configuration of a shard's Raft group.
    pub(crate) TypeConfig:
        D = ShardCommand,
        R = ShardResponse,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// File name of the Raft log inside a shard directory.
pub(crate) const LOG_FILE: &str = "raft.redb";

/// How long `start` waits for the group to elect this node.
const LEADER_WAIT: Duration = Duration::from_secs(30);

/// Raft timing and log compaction for a shard group.
fn config() -> Result<Config> {
    let config = Config {
        cluster_name: "ferry-shard".into(),
        // One member: elections are uncontested, keep them quick so a restart is quick.
        // Heartbeats stay well under half the election timeout.
        election_timeout_min: 150,
        election_timeout_max: 300,
        heartbeat_interval: 50,
        install_snapshot_timeout: 1_000,
        // A "snapshot" is a durable commit of the state file; the log is purged up to it.
        snapshot_policy: SnapshotPolicy::LogsSinceLast(256),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..Default::default()
    };
    config
        .validate()
        .map_err(|e| IndexError::Storage(format!("raft config: {e}")))
}

/// Log indexes of a shard group (`None`: nothing yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogPointers {
    /// Last applied entry.
    pub applied: Option<u64>,
    /// Last entry covered by a snapshot (a durable commit of the state).
    pub snapshot: Option<u64>,
    /// Last entry removed from the log.
    pub purged: Option<u64>,
}

/// A running Raft group of one shard on this node.
pub(crate) struct ShardRaft {
    raft: Raft<TypeConfig>,
}

impl ShardRaft {
    /// Starts the group over the shard directory `dir`: opens (or creates) the log,
    /// initializes a new single-member group if the log holds no vote or entries yet
    /// (never again afterwards), and waits until this node leads. `checkpoint` receives
    /// the global checkpoint after every apply.
    pub async fn start(
        dir: &Path,
        node_id: u64,
        store: Arc<StateStore>,
        feed: Arc<SearchFeed>,
        checkpoint: Arc<tokio::sync::watch::Sender<i64>>,
    ) -> Result<Self> {
        let log = log_store::LogStore::open(&dir.join(LOG_FILE))?;
        let sm = state_machine::StateMachine::new(store, feed, checkpoint);
        let raft = Raft::new(node_id, Arc::new(config()?), network::NoPeers, log, sm)
            .await
            .map_err(|e| IndexError::Storage(format!("starting the shard's raft group: {e}")))?;
        let initialized = raft.is_initialized().await.map_err(fatal)?;
        if !initialized {
            tracing::info!(node_id, dir = %dir.display(), "initializing single-member shard group");
            raft.initialize(BTreeSet::from([node_id]))
                .await
                .map_err(|e| {
                    IndexError::Storage(format!("initializing the shard's raft group: {e}"))
                })?;
        }
        raft.wait(Some(LEADER_WAIT))
            .state(ServerState::Leader, "shard group elects this node")
            .await
            .map_err(|e| IndexError::Unavailable(format!("shard group elected no leader: {e}")))?;
        // Leading is not enough: entries recovered from the log are committed and applied
        // asynchronously. Reads must see every acknowledged write, so wait for them.
        raft.wait(Some(LEADER_WAIT))
            .metrics(
                |m| m.last_applied.map(|l| l.index) >= m.last_log_index,
                "shard group applies its whole log",
            )
            .await
            .map_err(|e| IndexError::Unavailable(format!("shard group did not catch up: {e}")))?;
        Ok(Self { raft })
    }

    /// Proposes one entry and waits until it is committed and applied.
    pub async fn propose(&self, cmd: ShardCommand) -> Result<ShardResponse> {
        match self.raft.client_write(cmd).await {
            Ok(resp) => Ok(resp.data),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => Err(
                IndexError::Unavailable("this node does not lead the shard's group".into()),
            ),
            Err(RaftError::APIError(e)) => Err(IndexError::Unavailable(e.to_string())),
            Err(RaftError::Fatal(e)) => Err(fatal(e)),
        }
    }

    /// The current Raft term: the shard's primary term.
    pub fn current_term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    /// Where the log stands: last applied entry, last snapshot, last purged entry.
    pub fn log_pointers(&self) -> LogPointers {
        let m = self.raft.metrics();
        let m = m.borrow();
        LogPointers {
            applied: m.last_applied.map(|l| l.index),
            snapshot: m.snapshot.map(|l| l.index),
            purged: m.purged.map(|l| l.index),
        }
    }

    /// Waits (up to `timeout`) until `cond` holds for the log pointers.
    #[cfg(test)]
    pub async fn wait_for(
        &self,
        timeout: Duration,
        cond: impl Fn(&LogPointers) -> bool + Send,
    ) -> bool {
        let mut rx = self.raft.metrics();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                let p = {
                    let m = rx.borrow_and_update();
                    LogPointers {
                        applied: m.last_applied.map(|l| l.index),
                        snapshot: m.snapshot.map(|l| l.index),
                        purged: m.purged.map(|l| l.index),
                    }
                };
                if cond(&p) || rx.changed().await.is_err() {
                    return;
                }
            }
        });
        waited.await.is_ok()
    }

    /// Asks the group to build a snapshot (a durable commit of the state) and purge the
    /// log up to it. Returns once the request is queued.
    pub async fn trigger_snapshot(&self) -> Result<()> {
        self.raft.trigger().snapshot().await.map_err(fatal)
    }

    /// Stops the group.
    pub async fn shutdown(&self) -> Result<()> {
        self.raft
            .shutdown()
            .await
            .map_err(|e| IndexError::Storage(format!("shutting down the shard's raft group: {e}")))
    }
}

fn fatal(e: Fatal<u64>) -> IndexError {
    match e {
        Fatal::StorageError(e) => IndexError::Storage(format!("shard raft storage: {e}")),
        Fatal::Panicked => IndexError::Unavailable("the shard's raft group panicked".into()),
        Fatal::Stopped => IndexError::Unavailable("the shard is closed".into()),
    }
}
