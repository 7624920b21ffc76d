//! Applying a CCR follower's batch of the leader's operations: the following engine.
//!
//! Part of the state machine (`apply`). Each operation keeps the leader's `_seq_no`,
//! `_primary_term` and `_version`; nothing is checked against conditions and no seq_no is
//! assigned. Applying is idempotent and tolerates any order, as ES's `FollowingEngine`:
//! an operation whose seq_no is at or below the local checkpoint, or already processed
//! above it, is skipped; otherwise history gets it, and the document row changes only if
//! the operation is newer than the row (an older one is recorded as already superseded).
//! The local checkpoint advances over contiguous seq_nos only; the processed seq_nos
//! above it wait in the [`ReplicaTracker`]; a client write on a former follower first
//! gives up the gaps ([`close_replicated_gaps`]). An operation that already is its
//! document's row (restored from a shard copy above the copy's checkpoint) only counts
//! as processed. This module does not check that the index is following (the shard's
//! callers do) and does not feed the search index (it returns the changes).

use super::apply::Tables;
use super::records::{ReplicaTracker, ShardState, db_err, encode, insert_history};
use super::restore::history_record;
use crate::command::Changes;
use crate::{ReplicatedOp, ReplicatedOutcome, Result};

/// Before a client write assigns seq_nos on a former follower: seq_nos already taken
/// by replicated operations above the checkpoint are skipped, and the gaps below them
/// are given up (the leader that owned them is gone), as ES fills them with no-ops when a
/// follower becomes a regular index.
pub(super) fn close_replicated_gaps(state: &mut ShardState, tracker: &mut ReplicaTracker) {
    let Some(max) = tracker.max_seq_no else {
        return;
    };
    if max >= state.next_seq_no {
        tracing::warn!(
            local_checkpoint = state.local_checkpoint(),
            max_seq_no = max,
            "giving up replicated history gaps before a local write"
        );
        state.next_seq_no = max + 1;
    }
    tracker.pending.clear();
}

impl Tables<'_> {
    /// Applies `ops` in the given order (any order gives the same end state).
    pub(super) fn replicated(
        &mut self,
        state: &mut ShardState,
        tracker: &mut ReplicaTracker,
        ops: Vec<ReplicatedOp>,
        changes: &mut Changes,
    ) -> Result<ReplicatedOutcome> {
        let mut applied = 0;
        let mut skipped = 0;
        for op in ops {
            if op.seq_no < state.next_seq_no || tracker.pending.contains(&op.seq_no) {
                skipped += 1;
                continue;
            }
            self.replicate_one(state, &op, changes)?;
            // Mark the seq_no processed and move the checkpoint over what is now contiguous.
            if op.seq_no == state.next_seq_no {
                state.next_seq_no += 1;
                while tracker.pending.remove(&state.next_seq_no) {
                    state.next_seq_no += 1;
                }
            } else {
                tracker.pending.insert(op.seq_no);
            }
            tracker.max_seq_no = Some(tracker.max_seq_no.map_or(op.seq_no, |m| m.max(op.seq_no)));
            applied += 1;
        }
        let local_checkpoint = state.local_checkpoint();
        let max_seq_no = tracker
            .max_seq_no
            .map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX))
            .max(local_checkpoint);
        Ok(ReplicatedOutcome {
            applied,
            skipped,
            local_checkpoint,
            max_seq_no,
        })
    }

    /// Records one not-yet-processed operation: its history entry, and the document row
    /// if the operation is newer than the row. Operations mostly arrive in order, so the
    /// row is written first and the one it replaced read back from the same B-tree walk;
    /// an older operation arriving late puts the newer row back.
    fn replicate_one(
        &mut self,
        state: &mut ShardState,
        op: &ReplicatedOp,
        changes: &mut Changes,
    ) -> Result<()> {
        insert_history(&mut self.history, op.seq_no, &history_record(op))?;
        let current = self.put_op_row(op)?;
        match current {
            // The row already was this operation: a restore from a copy taken above the
            // copied shard's checkpoint wrote it. Only the seq_no is newly processed.
            Some(row) if row.seq_no == op.seq_no => Ok(()),
            // A later operation on this document is already applied: it stays the row.
            Some(row) if row.seq_no > op.seq_no => {
                self.docs
                    .insert(op.id.as_str(), encode(&row)?.as_slice())
                    .map_err(db_err)?;
                self.superseded.insert(op.seq_no, ()).map_err(db_err)?;
                Ok(())
            }
            // In or out of order: the feed knows what a commit replayed after a crash may
            // hold.
            current => self.after_row(state, current.as_ref(), op, changes),
        }
    }
}
