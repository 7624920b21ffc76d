//! openraft's state-machine side over the shard's [`StateStore`] and search feed.
//!
//! `apply` converts openraft entries into store items, applies them on the blocking pool
//! (one non-durable redb transaction per run of entries), then feeds the resulting
//! changes to the search index (and, for a finished restore, commits it before the state
//! may become durable). A "snapshot" is a durable commit of the state file that
//! records the last applied log id and membership (the snapshot data itself is empty):
//! it is what lets openraft purge the log. Installing a snapshot sent by another node
//! is refused with a clear error; only multi-member groups, which do not exist yet,
//! could send one.

// openraft's `StorageError` is the error type its storage traits require; it is large.
#![allow(clippy::result_large_err)]

use std::io::Cursor;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, BasicNode, CommittedLeaderId, EntryPayload, LogId, RaftSnapshotBuilder, Snapshot,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use tokio::sync::watch;

use super::TypeConfig;
use crate::command::{Changes, ShardCommand, ShardResponse};
use crate::feed::SearchFeed;
use crate::store::{ApplyItem, ApplyPayload, RaftPosition, ShardState, StateStore};

type StorageResult<T> = std::result::Result<T, StorageError<u64>>;

const NO_SNAPSHOT_INSTALL: &str = "installing a snapshot from another node is not supported yet";

fn sm_read_err(e: impl ToString) -> StorageError<u64> {
    StorageIOError::read_state_machine(AnyError::error(e)).into()
}

fn sm_write_err(e: impl ToString) -> StorageError<u64> {
    StorageIOError::write_state_machine(AnyError::error(e)).into()
}

fn log_id(p: RaftPosition) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(p.term, p.node_id), p.index)
}

fn position(l: &LogId<u64>) -> RaftPosition {
    RaftPosition {
        term: l.leader_id.term,
        node_id: l.leader_id.node_id,
        index: l.index,
    }
}

fn membership(state: &ShardState) -> StorageResult<StoredMembership<u64, BasicNode>> {
    if state.membership.is_empty() {
        return Ok(StoredMembership::default());
    }
    postcard::from_bytes(&state.membership)
        .map_err(|e| sm_read_err(format!("corrupt membership: {e}")))
}

/// The state machine of one shard group.
pub(crate) struct StateMachine {
    store: Arc<StateStore>,
    feed: Arc<SearchFeed>,
    /// The global checkpoint, published after every applied run of entries.
    checkpoint: Arc<watch::Sender<i64>>,
}

impl StateMachine {
    pub fn new(
        store: Arc<StateStore>,
        feed: Arc<SearchFeed>,
        checkpoint: Arc<watch::Sender<i64>>,
    ) -> Self {
        Self {
            store,
            feed,
            checkpoint,
        }
    }
}

/// Builds snapshots (durable commits) of one shard's state.
pub(crate) struct SnapshotBuilder {
    store: Arc<StateStore>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let store = self.store.clone();
        let job = move || -> StorageResult<SnapshotMeta<u64, BasicNode>> {
            let mut built = None;
            store
                .durable_commit(|state| {
                    let stamp = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis());
                    let last = state.applied.map(log_id);
                    let meta = SnapshotMeta {
                        last_log_id: last,
                        last_membership: membership(state).map_err(crate::IndexError::storage)?,
                        snapshot_id: format!("{}-{stamp}", last.map_or(0, |l| l.index)),
                    };
                    let bytes = crate::store::records::encode(&meta)?;
                    built = Some(meta);
                    Ok(Some(bytes))
                })
                .map_err(sm_write_err)?;
            built.ok_or_else(|| sm_write_err("snapshot commit recorded no metadata"))
        };
        let meta = tokio::task::spawn_blocking(job)
            .await
            .map_err(sm_write_err)??;
        tracing::debug!(snapshot = %meta.snapshot_id, "shard state committed durably for a raft snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(Vec::new())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>)> {
        let state = self.store.state();
        Ok((state.applied.map(log_id), membership(&state)?))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<ShardResponse>>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut items = Vec::new();
        for entry in entries {
            let payload = match entry.payload {
                EntryPayload::Blank => ApplyPayload::Blank,
                EntryPayload::Normal(cmd) => ApplyPayload::Command(cmd),
                EntryPayload::Membership(m) => {
                    let stored = StoredMembership::new(Some(entry.log_id), m);
                    ApplyPayload::Membership(postcard::to_stdvec(&stored).map_err(sm_write_err)?)
                }
            };
            items.push(ApplyItem {
                position: position(&entry.log_id),
                payload,
            });
        }
        let finishing = items.iter().any(|i| {
            matches!(
                i.payload,
                ApplyPayload::Command(ShardCommand::FinishRestore { .. })
            )
        });
        let store = self.store.clone();
        let feed = self.feed.clone();
        let job = move || -> StorageResult<Vec<ShardResponse>> {
            // A finished restore removes documents at seq_nos the search index may have
            // committed already, which re-feeding history after a crash would not undo:
            // its changes are committed to search before the state can become durable.
            let _gate = finishing.then(|| store.hold_durability());
            let changes = Changes::new(feed.segment_copy().is_none());
            let (responses, changes) = store.apply(items, changes).map_err(sm_write_err)?;
            let checkpoint = store.state().local_checkpoint();
            feed.feed(changes, checkpoint);
            if finishing
                && let Ok(seq_no) = u64::try_from(checkpoint)
                && let Err(e) = feed.commit_blocking(seq_no)
            {
                tracing::error!(error = %e, "committing the search index after a restore failed");
            }
            Ok(responses)
        };
        let responses = tokio::task::spawn_blocking(job)
            .await
            .map_err(sm_write_err)??;
        // Single member: everything applied is committed, so the global checkpoint is the
        // local one. Waiters (CCR long polls) wake only when it moves.
        let checkpoint = self.store.state().local_checkpoint();
        self.checkpoint.send_if_modified(|c| {
            let moved = *c != checkpoint;
            *c = checkpoint;
            moved
        });
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            store: self.store.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Err(StorageIOError::write_snapshot(None, AnyError::error(NO_SNAPSHOT_INSTALL)).into())
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        _snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        Err(StorageIOError::write_snapshot(
            Some(meta.signature()),
            AnyError::error(NO_SNAPSHOT_INSTALL),
        )
        .into())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let Some(bytes) = self.store.snapshot_meta().map_err(sm_read_err)? else {
            return Ok(None);
        };
        let meta: SnapshotMeta<u64, BasicNode> = postcard::from_bytes(&bytes)
            .map_err(|e| sm_read_err(format!("corrupt snapshot meta: {e}")))?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(Vec::new())),
        }))
    }
}
