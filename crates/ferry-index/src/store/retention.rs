//! Applying the retention commands: lease add / renew / remove, and pruning history.
//!
//! Part of the state machine (`apply`): the rules themselves are in `crate::leases`;
//! this module reads and writes the `leases`, `history` and `superseded` tables inside
//! the entry's transaction. Pruning expires leases by the entry's timestamp, then
//! deletes the superseded history entries below min(remaining leases' retaining
//! seq_no, global checkpoint + 1); a document's current row (live or tombstone) is
//! never in `superseded`, so it is never pruned. Same state and entry, same result.

use redb::ReadableTable;

use super::apply::Tables;
use super::records::{ShardState, db_err, decode, encode};
use crate::command::{OpError, PruneReport};
use crate::{Result, RetentionLease, leases};

/// A lease command's answer: the lease now held (`None` after a removal), or why not.
type LeaseResult = std::result::Result<Option<RetentionLease>, OpError>;

impl Tables<'_> {
    fn lease(&self, id: &str) -> Result<Option<RetentionLease>> {
        self.leases
            .get(id)
            .map_err(db_err)?
            .map(|v| decode(v.value(), "lease"))
            .transpose()
    }

    fn put_lease(&mut self, lease: RetentionLease) -> Result<LeaseResult> {
        self.leases
            .insert(lease.id.as_str(), encode(&lease)?.as_slice())
            .map_err(db_err)?;
        Ok(Ok(Some(lease)))
    }

    /// Adds `lease` unless its id is held.
    pub(super) fn add_lease(&mut self, lease: RetentionLease) -> Result<LeaseResult> {
        let existing = self.lease(&lease.id)?;
        match leases::check_add(existing.as_ref(), &lease.id) {
            Err(e) => Ok(Err(e.into())),
            Ok(()) => self.put_lease(lease),
        }
    }

    /// Replaces a held lease, never lowering its retaining seq_no.
    pub(super) fn renew_lease(&mut self, lease: RetentionLease) -> Result<LeaseResult> {
        let existing = self.lease(&lease.id)?;
        let check = leases::check_renew(
            existing.as_ref(),
            &lease.id,
            lease.retaining_seq_no,
            &lease.source,
        );
        match check {
            Err(e) => Ok(Err(e.into())),
            Ok(()) => self.put_lease(lease),
        }
    }

    /// Removes a held lease.
    pub(super) fn remove_lease(&mut self, id: &str) -> Result<LeaseResult> {
        let removed = self.leases.remove(id).map_err(db_err)?.is_some();
        Ok(if removed {
            Ok(None)
        } else {
            Err(leases::not_found(id).into())
        })
    }

    /// Expires leases not renewed within `period` of `now`, then prunes history.
    pub(super) fn prune(
        &mut self,
        state: &mut ShardState,
        now: u64,
        period: u64,
    ) -> Result<PruneReport> {
        let mut remaining = Vec::new();
        let mut expired_leases = Vec::new();
        for entry in self.leases.iter().map_err(db_err)? {
            let (_, v) = entry.map_err(db_err)?;
            let lease: RetentionLease = decode(v.value(), "lease")?;
            if leases::is_expired(&lease, now, period) {
                expired_leases.push(lease.id);
            } else {
                remaining.push(lease);
            }
        }
        for id in &expired_leases {
            self.leases.remove(id.as_str()).map_err(db_err)?;
        }
        // Single member: the global checkpoint is the local one.
        let threshold = leases::retained_from(&remaining, state.local_checkpoint());
        let mut doomed = Vec::new();
        for entry in self.superseded.range(..threshold).map_err(db_err)? {
            doomed.push(entry.map_err(db_err)?.0.value());
        }
        for seq_no in &doomed {
            self.history.remove(seq_no).map_err(db_err)?;
            self.superseded.remove(seq_no).map_err(db_err)?;
        }
        state.retained_from = state.retained_from.max(threshold);
        Ok(PruneReport {
            expired_leases,
            pruned_ops: doomed.len() as u64,
            retained_from: state.retained_from,
        })
    }
}
