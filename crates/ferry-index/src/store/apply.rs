//! Applying Raft entries to the state file: the shard's state machine proper.
//!
//! One call applies a run of entries in one redb write transaction committed with
//! `Durability::None` (visible at once, made durable by the next durable commit; a crash
//! loses it and the Raft log replays it). Per write: read the document's row, check the
//! conditions (`versioning`), assign the next dense `_seq_no`, stamp `_primary_term` =
//! the entry's Raft term, write the row and the history entry (source and `_routing`; an
//! update of a live document keeps its stored routing), and mark the previous row
//! as superseded. A failed or noop write consumes no seq_no and does not stop the batch.
//! Everything depends only on the state and the entry (the leader's clock travels in
//! the entry), so replaying an entry gives the same result. This module does not feed
//! the search index: it returns the changes for the caller to feed.

use bytes::Bytes;
use redb::{Durability, ReadableTable, Table, WriteTransaction};
use serde_json::{Map, Value};

use super::StateStore;
use super::records::{
    DOCS, HISTORY, HistoryRecord, LEASES, META, META_REPLICATED, META_STATE, RaftPosition,
    ReplicaTracker, SUPERSEDED, ShardState, db_err, decode, decode_doc, encode, insert_history,
};
use super::replicated::close_replicated_gaps;
use crate::command::{
    AppliedWrite, Changes, OpError, OpKind, SearchChange, ShardCommand, ShardResponse,
};
use crate::versioning::{self, DocVersion};
use crate::{
    DeleteOp, IndexError, IndexOp, Result, RetentionLease, UpdateOp, WriteOp, WriteResult,
};

/// What a Raft entry carries, as the store sees it.
#[derive(Debug, Clone)]
pub(crate) enum ApplyPayload {
    /// A leader's blank entry.
    Blank,
    /// A membership change, encoded by the Raft adapter.
    Membership(Vec<u8>),
    /// A shard command.
    Command(ShardCommand),
}

/// One Raft entry to apply.
#[derive(Debug, Clone)]
pub(crate) struct ApplyItem {
    /// The entry's log id.
    pub position: RaftPosition,
    /// Its payload.
    pub payload: ApplyPayload,
}

/// What a history entry keeps of a written document (a delete keeps none).
#[derive(Clone, Copy)]
struct Written<'a> {
    source: &'a [u8],
    routing: Option<&'a str>,
}

/// The open tables of one apply transaction.
pub(super) struct Tables<'t> {
    pub(super) docs: Table<'t, &'static str, &'static [u8]>,
    pub(super) history: Table<'t, u64, &'static [u8]>,
    pub(super) superseded: Table<'t, u64, ()>,
    pub(super) leases: Table<'t, &'static str, &'static [u8]>,
    /// The transaction, for tables only some commands use (opened on demand).
    pub(super) txn: &'t WriteTransaction,
}

impl StateStore {
    /// Applies `items` in order, in one non-durable transaction. Returns one response
    /// per item and the changes the search index must follow, collected into `changes`
    /// (or not built at all, see [`Changes`]). An `Err` is a storage failure (nothing of
    /// the run is committed); per-operation failures are responses.
    pub fn apply(
        &self,
        items: Vec<ApplyItem>,
        mut changes: Changes,
    ) -> Result<(Vec<ShardResponse>, Vec<SearchChange>)> {
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(Durability::None).map_err(db_err)?;
        let mut state = read_state(&txn)?;
        let mut tracker = read_tracker(&txn)?;
        let tracker_before = tracker.clone();
        let mut responses = Vec::with_capacity(items.len());
        {
            let mut t = Tables {
                docs: txn.open_table(DOCS).map_err(db_err)?,
                history: txn.open_table(HISTORY).map_err(db_err)?,
                superseded: txn.open_table(SUPERSEDED).map_err(db_err)?,
                leases: txn.open_table(LEASES).map_err(db_err)?,
                txn: &txn,
            };
            for item in items {
                if state
                    .applied
                    .is_some_and(|a| a.index >= item.position.index)
                {
                    return Err(IndexError::Storage(format!(
                        "raft entry {} applied twice (applied up to {:?})",
                        item.position.index, state.applied
                    )));
                }
                let term = item.position.term;
                let response = match item.payload {
                    ApplyPayload::Blank => ShardResponse::None,
                    ApplyPayload::Membership(m) => {
                        state.membership = m;
                        ShardResponse::None
                    }
                    ApplyPayload::Command(cmd) => {
                        t.command(&mut state, &mut tracker, term, cmd, &mut changes)?
                    }
                };
                state.applied = Some(item.position);
                responses.push(response);
            }
        }
        {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert(META_STATE, encode(&state)?.as_slice())
                .map_err(db_err)?;
            if tracker != tracker_before {
                meta.insert(META_REPLICATED, encode(&tracker)?.as_slice())
                    .map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)?;
        *self.state.write() = state;
        Ok((responses, changes.into_vec()))
    }
}

fn read_state(txn: &WriteTransaction) -> Result<ShardState> {
    let meta = txn.open_table(META).map_err(db_err)?;
    let v = meta.get(META_STATE).map_err(db_err)?;
    match v {
        Some(v) => decode(v.value(), "state"),
        None => Err(IndexError::Storage(
            "shard state has no [state] record".into(),
        )),
    }
}

/// A follower's progress above its checkpoint (empty on a leader).
fn read_tracker(txn: &WriteTransaction) -> Result<ReplicaTracker> {
    let meta = txn.open_table(META).map_err(db_err)?;
    let v = meta.get(META_REPLICATED).map_err(db_err)?;
    match v {
        Some(v) => decode(v.value(), "replicated"),
        None => Ok(ReplicaTracker::default()),
    }
}

/// Parses a stored or given source as a JSON object.
fn parse_object(id: &str, bytes: &[u8]) -> std::result::Result<Map<String, Value>, OpError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(OpError::DocumentParsing(format!(
            "[{id}]: the document is not a JSON object"
        ))),
        Err(e) => Err(OpError::DocumentParsing(format!(
            "[{id}]: failed to parse document: {e}"
        ))),
    }
}

impl Tables<'_> {
    fn command(
        &mut self,
        state: &mut ShardState,
        tracker: &mut ReplicaTracker,
        term: u64,
        cmd: ShardCommand,
        changes: &mut Changes,
    ) -> Result<ShardResponse> {
        Ok(match cmd {
            ShardCommand::Write {
                timestamp_millis,
                ops,
            } => {
                close_replicated_gaps(state, tracker);
                let mut results = Vec::with_capacity(ops.len());
                for op in ops {
                    let r = match op {
                        WriteOp::Index(op) => {
                            self.index(state, term, timestamp_millis, op, changes)?
                        }
                        WriteOp::Delete(op) => {
                            self.delete(state, term, timestamp_millis, op, changes)?
                        }
                        WriteOp::Update(op) => {
                            self.update(state, term, timestamp_millis, op, changes)?
                        }
                    };
                    results.push(r);
                }
                ShardResponse::Writes(results)
            }
            ShardCommand::AddLease {
                id,
                retaining_seq_no,
                source,
                timestamp_millis,
            } => ShardResponse::Lease(self.add_lease(RetentionLease {
                id,
                retaining_seq_no,
                timestamp_millis,
                source,
            })?),
            ShardCommand::RenewLease {
                id,
                retaining_seq_no,
                source,
                timestamp_millis,
            } => ShardResponse::Lease(self.renew_lease(RetentionLease {
                id,
                retaining_seq_no,
                timestamp_millis,
                source,
            })?),
            ShardCommand::RemoveLease { id } => ShardResponse::Lease(self.remove_lease(&id)?),
            ShardCommand::Prune {
                timestamp_millis,
                lease_period_millis,
            } => ShardResponse::Pruned(self.prune(state, timestamp_millis, lease_period_millis)?),
            ShardCommand::Replicated { ops } => {
                ShardResponse::Replicated(self.replicated(state, tracker, ops, changes)?)
            }
            ShardCommand::RestoreBatch { session, ops } => {
                ShardResponse::Restored(self.restore_batch(state, tracker, &session, ops, changes)?)
            }
            ShardCommand::FinishRestore {
                session,
                checkpoint,
            } => ShardResponse::Restored(
                self.finish_restore(state, tracker, &session, checkpoint, changes)?,
            ),
        })
    }

    pub(super) fn row(&self, id: &str) -> Result<Option<DocVersion>> {
        self.docs
            .get(id)
            .map_err(db_err)?
            .map(|v| decode_doc(v.value()))
            .transpose()
    }

    /// Records one operation (its seq_no is `row.seq_no`): the new current row, its
    /// history entry, and the previous row (if any) as superseded.
    fn record(
        &mut self,
        state: &mut ShardState,
        id: &str,
        previous: Option<&DocVersion>,
        row: DocVersion,
        written: Option<Written<'_>>,
        timestamp_millis: u64,
    ) -> Result<()> {
        let kind = if row.deleted {
            OpKind::Delete
        } else {
            OpKind::Index
        };
        let rec = HistoryRecord {
            id,
            primary_term: row.primary_term,
            version: row.version,
            kind,
            source: written.map(|w| w.source),
            timestamp_millis,
            routing: written.and_then(|w| w.routing),
        };
        insert_history(&mut self.history, row.seq_no, &rec)?;
        self.docs
            .insert(id, encode(&row)?.as_slice())
            .map_err(db_err)?;
        if let Some(prev) = previous {
            self.superseded.insert(prev.seq_no, ()).map_err(db_err)?;
        }
        let was_live = DocVersion::live(previous).is_some();
        match (was_live, row.deleted) {
            (false, false) => state.live_docs += 1,
            (true, true) => state.live_docs = state.live_docs.saturating_sub(1),
            _ => {}
        }
        state.next_seq_no = row.seq_no + 1;
        Ok(())
    }

    /// Writes `source` (with its `_routing`) under `id` with the given version; returns
    /// the write's outcome.
    #[allow(clippy::too_many_arguments)]
    fn put_source(
        &mut self,
        state: &mut ShardState,
        term: u64,
        ts: u64,
        id: String,
        current: Option<&DocVersion>,
        version: u64,
        source: Bytes,
        routing: Option<&str>,
        changes: &mut Changes,
    ) -> Result<AppliedWrite> {
        let seq_no = state.next_seq_no;
        let row = DocVersion {
            seq_no,
            primary_term: term,
            version,
            deleted: false,
        };
        let written = Written {
            source: &source,
            routing,
        };
        self.record(state, &id, current, row, Some(written), ts)?;
        let result = if DocVersion::live(current).is_some() {
            WriteResult::Updated
        } else {
            WriteResult::Created
        };
        changes.push(|| SearchChange {
            seq_no,
            id,
            source: Some(source),
            created: result == WriteResult::Created,
        });
        Ok(AppliedWrite {
            result,
            seq_no,
            primary_term: term,
            version,
            source: None,
        })
    }

    fn index(
        &mut self,
        state: &mut ShardState,
        term: u64,
        ts: u64,
        op: IndexOp,
        changes: &mut Changes,
    ) -> Result<std::result::Result<AppliedWrite, OpError>> {
        let current = self.row(&op.id)?;
        let version = match versioning::index_version(&op.id, current.as_ref(), op.create, &op.cond)
        {
            Ok(v) => v,
            Err(e) => return Ok(Err(e.into())),
        };
        Ok(Ok(self.put_source(
            state,
            term,
            ts,
            op.id,
            current.as_ref(),
            version,
            op.source,
            op.routing.as_deref(),
            changes,
        )?))
    }

    fn delete(
        &mut self,
        state: &mut ShardState,
        term: u64,
        ts: u64,
        op: DeleteOp,
        changes: &mut Changes,
    ) -> Result<std::result::Result<AppliedWrite, OpError>> {
        let current = self.row(&op.id)?;
        let version = match versioning::delete_version(&op.id, current.as_ref(), &op.cond) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e.into())),
        };
        let seq_no = state.next_seq_no;
        let row = DocVersion {
            seq_no,
            primary_term: term,
            version,
            deleted: true,
        };
        self.record(state, &op.id, current.as_ref(), row, None, ts)?;
        let result = if DocVersion::live(current.as_ref()).is_some() {
            WriteResult::Deleted
        } else {
            WriteResult::NotFound
        };
        changes.push(|| SearchChange {
            seq_no,
            id: op.id,
            source: None,
            created: false,
        });
        Ok(Ok(AppliedWrite {
            result,
            seq_no,
            primary_term: term,
            version,
            source: None,
        }))
    }

    fn update(
        &mut self,
        state: &mut ShardState,
        term: u64,
        ts: u64,
        op: UpdateOp,
        changes: &mut Changes,
    ) -> Result<std::result::Result<AppliedWrite, OpError>> {
        let current = self.row(&op.id)?;
        let Some(live) = DocVersion::live(current.as_ref()).copied() else {
            // Missing (or deleted): insert the upsert document, as a create, with the
            // request's routing.
            let upsert = if op.doc_as_upsert { op.doc } else { op.upsert };
            let Some(source) = upsert else {
                return Ok(Err(OpError::DocumentMissing(format!(
                    "[{}]: document missing",
                    op.id
                ))));
            };
            let version = versioning::next_version(current.as_ref(), &Default::default());
            let mut w = self.put_source(
                state,
                term,
                ts,
                op.id,
                current.as_ref(),
                version,
                source.clone(),
                op.routing.as_deref(),
                changes,
            )?;
            w.source = Some(source);
            return Ok(Ok(w));
        };
        let Some(doc) = op.doc else {
            return Ok(Err(OpError::IllegalArgument(
                "Validation Failed: 1: script or doc is missing;".into(),
            )));
        };
        // An update of an existing document keeps its stored routing (as ES does).
        let (stored, routing) = self.stored_source(&op.id, live.seq_no)?;
        let mut merged = match parse_object(&op.id, &stored) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        let partial = match parse_object(&op.id, &doc) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        let modified = versioning::merge_source(&mut merged, partial, op.detect_noop);
        if op.detect_noop && !modified {
            return Ok(Ok(AppliedWrite {
                result: WriteResult::Noop,
                seq_no: live.seq_no,
                primary_term: live.primary_term,
                version: live.version,
                source: Some(stored),
            }));
        }
        if let Err(e) = versioning::check_conditions(&op.id, Some(&live), &op.cond) {
            return Ok(Err(e.into()));
        }
        let source = Bytes::from(
            serde_json::to_vec(&Value::Object(merged))
                .map_err(|e| IndexError::Storage(e.to_string()))?,
        );
        let mut w = self.put_source(
            state,
            term,
            ts,
            op.id,
            Some(&live),
            live.version + 1,
            source.clone(),
            routing.as_deref(),
            changes,
        )?;
        w.source = Some(source);
        Ok(Ok(w))
    }

    /// The source and `_routing` of the live document `id`, whose row is at `seq_no`.
    fn stored_source(&self, id: &str, seq_no: u64) -> Result<(Bytes, Option<String>)> {
        let entry = self.history.get(seq_no).map_err(db_err)?.ok_or_else(|| {
            IndexError::Storage(format!(
                "document [{id}] points at missing history entry {seq_no}"
            ))
        })?;
        let rec: HistoryRecord<'_> = decode(entry.value(), "history")?;
        let source = rec.source.map(Bytes::copy_from_slice).ok_or_else(|| {
            IndexError::Storage(format!(
                "live document [{id}] points at a delete ({seq_no})"
            ))
        })?;
        Ok((source, rec.routing.map(str::to_owned)))
    }
}
