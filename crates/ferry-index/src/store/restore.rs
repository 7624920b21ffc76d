//! Applying a restore from a shard copy (CCR bootstrap, "remote recovery"): the
//! state-machine side of `ShardCommand::RestoreBatch` and `ShardCommand::FinishRestore`.
//!
//! A batch writes copy records as a follower's rows keep them (the copied `_seq_no`,
//! `_primary_term`, `_version`): a row changes only if it holds a lower seq_no (or there
//! is none), its history entry is written, the replaced row is superseded, and the
//! search index is fed; every id of the batch is marked in `restore_marks` with the
//! session. A retried batch finds its rows in place and changes nothing. Batches do not
//! move the local checkpoint: the copy is not contiguous until it is complete.
//!
//! Finishing a session at checkpoint `C` removes every live document at or below `C`
//! the session did not mark (the copied shard no longer has it), clears all marks,
//! counts every seq_no up to `C` as processed, and raises both the retention floor and
//! the history floor to `C + 1`: this shard's history below it is a patchwork (restored
//! rows only), so history reads must report it missing rather than serve it. A removed
//! document's history entry is rewritten as a delete of that id (and superseded), so
//! that re-feeding history into the search index after a crash still ends with the id
//! deleted. Same state and entry, same result. This module does not feed the search
//! index itself (it returns the changes) and knows nothing of sessions' lifetimes.

use redb::ReadableTable;

use super::apply::Tables;
use super::records::{
    HistoryRecord, META, META_HISTORY_FLOOR, RESTORE_MARKS, ReplicaTracker, ShardState, db_err,
    decode, decode_doc, encode, insert_history,
};
use crate::command::{Changes, OpKind, SearchChange};
use crate::versioning::DocVersion;
use crate::{ReplicatedOp, ReplicatedOutcome, Result};

impl Tables<'_> {
    /// Applies copy records under `session` (see the module doc).
    pub(super) fn restore_batch(
        &mut self,
        state: &mut ShardState,
        tracker: &mut ReplicaTracker,
        session: &str,
        ops: Vec<ReplicatedOp>,
        changes: &mut Changes,
    ) -> Result<ReplicatedOutcome> {
        let mut marks = self.txn.open_table(RESTORE_MARKS).map_err(db_err)?;
        let (mut applied, mut skipped) = (0, 0);
        for op in ops {
            marks.insert(op.id.as_str(), session).map_err(db_err)?;
            let current = self.row(&op.id)?;
            match current {
                Some(row) if row.seq_no >= op.seq_no => {
                    // Already restored (a retry), or the row is newer than the copy.
                    if row.seq_no > op.seq_no
                        && self.history.get(op.seq_no).map_err(db_err)?.is_none()
                    {
                        self.history
                            .insert(op.seq_no, encode(&history_record(&op))?.as_slice())
                            .map_err(db_err)?;
                        self.superseded.insert(op.seq_no, ()).map_err(db_err)?;
                    }
                    skipped += 1;
                }
                _ => {
                    self.restore_one(state, current.as_ref(), &op, changes)?;
                    tracker.max_seq_no =
                        Some(tracker.max_seq_no.map_or(op.seq_no, |m| m.max(op.seq_no)));
                    applied += 1;
                }
            }
        }
        Ok(outcome(state, tracker, applied, skipped))
    }

    /// Makes `op` the row of its id (whose current row, older, is `current`).
    fn restore_one(
        &mut self,
        state: &mut ShardState,
        current: Option<&DocVersion>,
        op: &ReplicatedOp,
        changes: &mut Changes,
    ) -> Result<()> {
        insert_history(&mut self.history, op.seq_no, &history_record(op))?;
        // Only a removed document's rewritten entry can be superseded at this seq_no.
        self.superseded.remove(op.seq_no).map_err(db_err)?;
        self.put_op_row(op)?;
        self.after_row(state, current, op, changes)
    }

    /// Makes `op` the `docs` row of its id; answers the row it replaced, read back from
    /// the same B-tree walk.
    pub(super) fn put_op_row(&mut self, op: &ReplicatedOp) -> Result<Option<DocVersion>> {
        self.docs
            .insert(op.id.as_str(), encode(&op_row(op))?.as_slice())
            .map_err(db_err)?
            .map(|old| decode_doc(old.value()))
            .transpose()
    }

    /// What follows once `op` (newer than `current`) is the row of its id: the
    /// superseded previous entry, the live count and the search change, marked `created`
    /// when the id was not live (search then skips the delete-before-add, unless the feed
    /// knows a replay may find the id in its commit). Shared by the replicated path.
    pub(super) fn after_row(
        &mut self,
        state: &mut ShardState,
        current: Option<&DocVersion>,
        op: &ReplicatedOp,
        changes: &mut Changes,
    ) -> Result<()> {
        let deleted = op.source.is_none();
        if let Some(prev) = current {
            self.superseded.insert(prev.seq_no, ()).map_err(db_err)?;
        }
        let was_live = DocVersion::live(current).is_some();
        match (was_live, deleted) {
            (false, false) => state.live_docs += 1,
            (true, true) => state.live_docs = state.live_docs.saturating_sub(1),
            _ => {}
        }
        changes.push(|| SearchChange {
            seq_no: op.seq_no,
            id: op.id.clone(),
            source: op.source.clone(),
            created: !was_live,
        });
        Ok(())
    }

    /// Ends restore `session` at `checkpoint` (see the module doc).
    pub(super) fn finish_restore(
        &mut self,
        state: &mut ShardState,
        tracker: &mut ReplicaTracker,
        session: &str,
        checkpoint: i64,
        changes: &mut Changes,
    ) -> Result<ReplicatedOutcome> {
        let mut marks = self.txn.open_table(RESTORE_MARKS).map_err(db_err)?;
        let mut removed = 0;
        if let Ok(upto) = u64::try_from(checkpoint) {
            let mut doomed = Vec::new();
            for entry in self.docs.iter().map_err(db_err)? {
                let (id, row) = entry.map_err(db_err)?;
                let row: DocVersion = decode(row.value(), "document")?;
                if row.deleted || row.seq_no > upto {
                    continue;
                }
                let id = id.value();
                let marked = marks.get(id).map_err(db_err)?;
                if marked.is_some_and(|s| s.value() == session) {
                    continue;
                }
                doomed.push((id.to_owned(), row));
            }
            for (id, row) in doomed {
                self.remove_unrestored(state, &id, &row)?;
                changes.push(|| SearchChange {
                    seq_no: row.seq_no,
                    id,
                    source: None,
                    created: false,
                });
                removed += 1;
            }
            // Every seq_no up to the copy's checkpoint is now reflected.
            state.next_seq_no = state.next_seq_no.max(upto + 1);
            tracker.pending.retain(|s| *s > upto);
            while tracker.pending.remove(&state.next_seq_no) {
                state.next_seq_no += 1;
            }
            state.retained_from = state.retained_from.max(upto + 1);
            let mut meta = self.txn.open_table(META).map_err(db_err)?;
            let floor: u64 = match meta.get(META_HISTORY_FLOOR).map_err(db_err)? {
                Some(v) => decode(v.value(), "history floor")?,
                None => 0,
            };
            if floor <= upto {
                meta.insert(META_HISTORY_FLOOR, encode(&(upto + 1))?.as_slice())
                    .map_err(db_err)?;
            }
        }
        marks.retain(|_, _| false).map_err(db_err)?;
        Ok(outcome(state, tracker, removed, 0))
    }

    /// Removes the live row of `id` (at `row.seq_no`), rewriting its history entry as
    /// a superseded delete of the id.
    fn remove_unrestored(
        &mut self,
        state: &mut ShardState,
        id: &str,
        row: &DocVersion,
    ) -> Result<()> {
        let timestamp_millis = match self.history.get(row.seq_no).map_err(db_err)? {
            Some(v) => decode::<HistoryRecord<'_>>(v.value(), "history")?.timestamp_millis,
            None => 0,
        };
        let rec = HistoryRecord {
            id,
            primary_term: row.primary_term,
            version: row.version,
            kind: OpKind::Delete,
            source: None,
            timestamp_millis,
            routing: None,
        };
        self.history
            .insert(row.seq_no, encode(&rec)?.as_slice())
            .map_err(db_err)?;
        self.superseded.insert(row.seq_no, ()).map_err(db_err)?;
        self.docs.remove(id).map_err(db_err)?;
        state.live_docs = state.live_docs.saturating_sub(1);
        Ok(())
    }
}

/// The `docs` row `op` makes (the leader's seq_no, term and version).
fn op_row(op: &ReplicatedOp) -> DocVersion {
    DocVersion {
        seq_no: op.seq_no,
        primary_term: op.primary_term,
        version: op.version,
        deleted: op.source.is_none(),
    }
}

/// The history entry of a leader operation (a copy record or a replicated op).
pub(super) fn history_record(op: &ReplicatedOp) -> HistoryRecord<'_> {
    let deleted = op.source.is_none();
    HistoryRecord {
        id: &op.id,
        primary_term: op.primary_term,
        version: op.version,
        kind: if deleted {
            OpKind::Delete
        } else {
            OpKind::Index
        },
        source: op.source.as_deref(),
        timestamp_millis: op.timestamp_millis,
        routing: if deleted { None } else { op.routing.as_deref() },
    }
}

fn outcome(
    state: &ShardState,
    tracker: &ReplicaTracker,
    applied: u64,
    skipped: u64,
) -> ReplicatedOutcome {
    let local_checkpoint = state.local_checkpoint();
    let max_seq_no = tracker
        .max_seq_no
        .map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX))
        .max(local_checkpoint);
    ReplicatedOutcome {
        applied,
        skipped,
        local_checkpoint,
        max_seq_no,
    }
}
