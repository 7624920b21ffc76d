//! The state of one shard in one redb file (`<shard dir>/state.redb`): documents,
//! history, retention leases and the Raft pointers, updated by applying Raft entries.
//!
//! **Why redb (and not fjall).** Applying an entry must change the document rows, the
//! history, the leases and the applied Raft log id *atomically*: redb gives ACID
//! transactions across tables in one file, so "applied up to entry N" and N's effects
//! are always committed together. Its MVCC lets realtime GETs, history reads for CCR and
//! stats read a consistent snapshot while the state machine writes, without locks. Its
//! `Durability::None` commits are visible at once but written durably only by a later
//! durable commit, which is exactly what a state machine behind a durable Raft log
//! wants: apply cheaply, fsync at flush/snapshot/shutdown, and after a crash replay the
//! log from the last durable applied id. History is keyed by seq_no, so CCR range reads
//! and the append pattern (always at the right edge) suit a B-tree; table lengths are
//! O(1) for stats. It is one small crate with almost no dependencies and a stable
//! file format per major version. fjall (an LSM tree) would favour raw append
//! throughput, but brings its own journal (a second write-ahead log next to the Raft
//! log), background compaction threads, cross-partition atomicity only through its
//! transactional layer, and deletes as tombstones that pruning history would multiply.
//! The cost of redb is write amplification on random-id updates of the `docs` table;
//! revisit if ingest is ever bound by it.
//!
//! The store does not know about Raft beyond [`RaftPosition`] and opaque membership
//! and snapshot bytes (the `raft` module owns their encoding), and does not feed the
//! search index (applying returns the [`SearchChange`]s; the caller feeds them).

mod apply;
mod copy;
pub(crate) mod records;
mod replicated;
mod restore;
mod retention;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard, RwLock};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata};

pub(crate) use apply::{ApplyItem, ApplyPayload};
use records::{
    DOCS, HISTORY, HistoryRecord, Identity, LEASES, META, META_HISTORY_FLOOR, META_IDENTITY,
    META_SNAPSHOT, META_STATE, SUPERSEDED, db_err, decode, decode_doc, encode,
};
pub(crate) use records::{RaftPosition, ShardState};

use crate::command::SearchChange;
use crate::{HistoryOp, IndexError, Result, RetentionLease, StoredDoc};

/// Default redb page cache of one shard's state file: an upper bound, filled as pages are
/// used. redb keeps at most half of it for pages written by non-durable commits and
/// writes the rest out at once; at 64 MiB a shard taking 100k W1 documents between
/// durable commits wrote out pages it was still appending to (ARCHITECTURE.md, "Memory").
pub const DEFAULT_STATE_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// The page cache of state files opened from now on (`ferryd --shard-state-cache`).
static STATE_CACHE_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_STATE_CACHE_BYTES);

/// Sets the page cache of every shard state file opened after this call. A process-wide
/// budget, like the allocator's tunables: `ferryd` sets it once from its configuration
/// before opening any index; files already open keep theirs.
pub fn set_state_cache_bytes(bytes: usize) {
    STATE_CACHE_BYTES.store(bytes, Ordering::Relaxed);
}

/// The page cache a state file opened now gets.
fn state_cache_bytes() -> usize {
    STATE_CACHE_BYTES.load(Ordering::Relaxed)
}

/// The redb state of one shard.
pub(crate) struct StateStore {
    db: Database,
    identity: Identity,
    /// The state as of the last commit (cached for cheap checkpoint reads).
    state: RwLock<ShardState>,
    /// Held by durable commits, and by whoever must finish something (a search commit)
    /// before the state it just applied may become durable.
    durability: Mutex<()>,
}

impl StateStore {
    /// Creates a new state file with a fresh history UUID; refuses an existing file.
    pub fn create(path: &Path, now_millis: u64) -> Result<Self> {
        if path.exists() {
            return Err(IndexError::Storage(format!(
                "shard state [{}] already exists",
                path.display()
            )));
        }
        let db = builder().create(path).map_err(db_err)?;
        let identity = Identity {
            format: records::FORMAT_VERSION,
            history_uuid: uuid::Uuid::new_v4().to_string(),
            created_millis: now_millis,
        };
        let state = ShardState::default();
        let txn = db.begin_write().map_err(db_err)?;
        {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert(META_IDENTITY, encode(&identity)?.as_slice())
                .map_err(db_err)?;
            meta.insert(META_STATE, encode(&state)?.as_slice())
                .map_err(db_err)?;
            for table in [DOCS, LEASES] {
                txn.open_table(table).map_err(db_err)?;
            }
            txn.open_table(HISTORY).map_err(db_err)?;
            txn.open_table(SUPERSEDED).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(Self {
            db,
            identity,
            state: RwLock::new(state),
            durability: Mutex::new(()),
        })
    }

    /// Opens an existing state file, at its last durable commit.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(IndexError::Storage(format!(
                "shard state [{}] is missing",
                path.display()
            )));
        }
        let db = builder().open(path).map_err(db_err)?;
        let (identity, state) = {
            let txn = db.begin_read().map_err(db_err)?;
            let meta = txn.open_table(META).map_err(db_err)?;
            let read = |key: &str| -> Result<Vec<u8>> {
                let v = meta.get(key).map_err(db_err)?;
                v.map(|v| v.value().to_vec()).ok_or_else(|| {
                    IndexError::Storage(format!("shard state is missing its [{key}] record"))
                })
            };
            let identity: Identity = decode(&read(META_IDENTITY)?, "identity")?;
            let state: ShardState = decode(&read(META_STATE)?, "state")?;
            (identity, state)
        };
        if identity.format != records::FORMAT_VERSION {
            return Err(IndexError::Storage(format!(
                "shard state [{}] has format {} but this build reads format {}",
                path.display(),
                identity.format,
                records::FORMAT_VERSION
            )));
        }
        Ok(Self {
            db,
            identity,
            state: RwLock::new(state),
            durability: Mutex::new(()),
        })
    }

    /// The shard's history UUID.
    pub fn history_uuid(&self) -> &str {
        &self.identity.history_uuid
    }

    /// The state as of the last applied entry.
    pub fn state(&self) -> ShardState {
        self.state.read().clone()
    }

    /// Realtime get: the live row, then its history entry's source and routing.
    pub fn get(&self, id: &str) -> Result<Option<StoredDoc>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let docs = txn.open_table(DOCS).map_err(db_err)?;
        let Some(row) = docs.get(id).map_err(db_err)? else {
            return Ok(None);
        };
        let row = decode_doc(row.value())?;
        if row.deleted {
            return Ok(None);
        }
        let history = txn.open_table(HISTORY).map_err(db_err)?;
        let entry = history.get(row.seq_no).map_err(db_err)?.ok_or_else(|| {
            IndexError::Storage(format!(
                "document [{id}] points at missing history entry {}",
                row.seq_no
            ))
        })?;
        let rec: HistoryRecord<'_> = decode(entry.value(), "history")?;
        let source = rec.source.ok_or_else(|| {
            IndexError::Storage(format!(
                "live document [{id}] points at a delete ({})",
                row.seq_no
            ))
        })?;
        Ok(Some(StoredDoc {
            id: id.to_owned(),
            seq_no: row.seq_no,
            primary_term: row.primary_term,
            version: row.version,
            source: Bytes::copy_from_slice(source),
            routing: rec.routing.map(str::to_owned),
        }))
    }

    /// The current row (live or tombstone) of `id`.
    #[cfg(test)]
    pub fn doc_version(&self, id: &str) -> Result<Option<crate::versioning::DocVersion>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let docs = txn.open_table(DOCS).map_err(db_err)?;
        docs.get(id)
            .map_err(db_err)?
            .map(|v| decode_doc(v.value()))
            .transpose()
    }

    /// History entries with `from <= seq_no <= upto`, at most `max_ops`, in seq_no order,
    /// none below the history floor (a restored shard does not serve the patchwork
    /// history below its restore checkpoint: a reader sees those seq_nos missing).
    pub fn history(&self, from: u64, upto: u64, max_ops: usize) -> Result<Vec<HistoryOp>> {
        self.read_history(from, upto, max_ops, true)
    }

    fn read_history(
        &self,
        from: u64,
        upto: u64,
        max_ops: usize,
        above_floor: bool,
    ) -> Result<Vec<HistoryOp>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let from = if above_floor {
            let meta = txn.open_table(META).map_err(db_err)?;
            let floor: u64 = match meta.get(META_HISTORY_FLOOR).map_err(db_err)? {
                Some(v) => decode(v.value(), "history floor")?,
                None => 0,
            };
            from.max(floor)
        } else {
            from
        };
        if from > upto || max_ops == 0 {
            return Ok(Vec::new());
        }
        let history = txn.open_table(HISTORY).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in history.range(from..=upto).map_err(db_err)?.take(max_ops) {
            let (k, v) = entry.map_err(db_err)?;
            let rec: HistoryRecord<'_> = decode(v.value(), "history")?;
            out.push(HistoryOp {
                seq_no: k.value(),
                primary_term: rec.primary_term,
                version: rec.version,
                id: rec.id.to_owned(),
                source: rec.source.map(Bytes::copy_from_slice),
                timestamp_millis: rec.timestamp_millis,
                routing: rec.routing.map(str::to_owned),
            });
        }
        Ok(out)
    }

    /// The changes recorded after `after` (all when `None`), at most `max`, in order:
    /// what the search index needs to catch up (history does not say which writes
    /// created their document, so none is marked `created`). Reads below the history
    /// floor too: the search index needs every entry, patchwork or not.
    pub fn changes_after(&self, after: Option<u64>, max: usize) -> Result<Vec<SearchChange>> {
        let from = after.map_or(0, |s| s.saturating_add(1));
        Ok(self
            .read_history(from, u64::MAX, max, false)?
            .into_iter()
            .map(|op| SearchChange {
                seq_no: op.seq_no,
                id: op.id,
                source: op.source,
                created: false,
            })
            .collect())
    }

    /// Every retention lease, by id.
    pub fn leases(&self) -> Result<Vec<RetentionLease>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let leases = txn.open_table(LEASES).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in leases.iter().map_err(db_err)? {
            let (_, v) = entry.map_err(db_err)?;
            out.push(decode(v.value(), "lease")?);
        }
        Ok(out)
    }

    /// Entries in history (live rows, tombstones and superseded operations).
    pub fn history_len(&self) -> Result<u64> {
        let txn = self.db.begin_read().map_err(db_err)?;
        txn.open_table(HISTORY)
            .map_err(db_err)?
            .len()
            .map_err(db_err)
    }

    /// The lowest seq_no of a superseded history entry (the first prunable candidate).
    pub fn first_superseded(&self) -> Result<Option<u64>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(SUPERSEDED).map_err(db_err)?;
        Ok(table.first().map_err(db_err)?.map(|(k, _)| k.value()))
    }

    /// A durable commit of everything applied so far. `snapshot` may return snapshot
    /// metadata (built from the state being committed) to record in the same commit.
    pub fn durable_commit(
        &self,
        snapshot: impl FnOnce(&ShardState) -> Result<Option<Vec<u8>>>,
    ) -> Result<ShardState> {
        let _gate = self.durability.lock();
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(Durability::Immediate).map_err(db_err)?;
        // Quick repair keeps reopening after a crash fast; durable commits are rare here.
        txn.set_quick_repair(true);
        let state = {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let state: ShardState = match meta.get(META_STATE).map_err(db_err)? {
                Some(v) => decode(v.value(), "state")?,
                None => {
                    return Err(IndexError::Storage(
                        "shard state has no [state] record".into(),
                    ));
                }
            };
            if let Some(snap) = snapshot(&state)? {
                meta.insert(META_SNAPSHOT, snap.as_slice())
                    .map_err(db_err)?;
            }
            state
        };
        txn.commit().map_err(db_err)?;
        Ok(state)
    }

    /// Keeps durable commits out until the guard is dropped.
    pub fn hold_durability(&self) -> MutexGuard<'_, ()> {
        self.durability.lock()
    }

    /// The snapshot metadata recorded by the last snapshot commit.
    pub fn snapshot_meta(&self) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let meta = txn.open_table(META).map_err(db_err)?;
        Ok(meta
            .get(META_SNAPSHOT)
            .map_err(db_err)?
            .map(|v| v.value().to_vec()))
    }
}

fn builder() -> redb::Builder {
    let mut b = Database::builder();
    b.set_cache_size(state_cache_bytes());
    b
}

#[cfg(test)]
mod replicated_tests;
#[cfg(test)]
mod restore_tests;
#[cfg(test)]
mod tests;
