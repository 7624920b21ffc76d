//! Retention leases: the rules of add / renew / remove / expiry, and the lowest seq_no
//! history must keep.
//!
//! A lease says "keep every operation from `retaining_seq_no` on" on behalf of a reader
//! (a CCR follower, later peer recovery). Leases live in the shard's Raft-replicated
//! state, so a failover never loses one; every change is a Raft entry carrying the
//! leader's timestamp, and expiry is computed from that timestamp, never from a local
//! clock, so it is deterministic. This module is pure: the state machine
//! (`store::apply`) calls it; it does not read or write storage.

use serde::{Deserialize, Serialize};

use crate::IndexError;

/// A shard history retention lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionLease {
    /// Lease id (ES: `<cluster>/<follower index uuid>-following-<leader index uuid>`).
    pub id: String,
    /// History from this seq_no on is retained.
    pub retaining_seq_no: u64,
    /// Last add/renew time, milliseconds since the epoch (the Raft entry's timestamp).
    pub timestamp_millis: u64,
    /// Who holds it (`ccr`, `peer recovery`, ...).
    pub source: String,
}

/// `add`: an id can be added only once.
pub(crate) fn check_add(existing: Option<&RetentionLease>, id: &str) -> Result<(), IndexError> {
    if existing.is_some() {
        return Err(IndexError::RetentionLeaseAlreadyExists(format!(
            "retention lease with ID [{id}] already exists"
        )));
    }
    if id.is_empty() {
        return Err(IndexError::IllegalArgument(
            "retention lease ID can not be empty".into(),
        ));
    }
    Ok(())
}

/// The error of renewing or removing a lease that is not held.
pub(crate) fn not_found(id: &str) -> IndexError {
    IndexError::RetentionLeaseNotFound(format!("retention lease with ID [{id}] not found"))
}

/// `renew`: the lease must exist and must not move its retaining seq_no backwards.
pub(crate) fn check_renew(
    existing: Option<&RetentionLease>,
    id: &str,
    retaining_seq_no: u64,
    source: &str,
) -> Result<(), IndexError> {
    let Some(existing) = existing else {
        return Err(not_found(id));
    };
    if retaining_seq_no < existing.retaining_seq_no {
        return Err(IndexError::IllegalArgument(format!(
            "the current retention lease with [{id}] is retaining a higher sequence number [{}] \
             than the new retaining sequence number [{retaining_seq_no}] from [{source}]",
            existing.retaining_seq_no
        )));
    }
    Ok(())
}

/// A lease expires when it was not renewed for longer than the retention period:
/// `timestamp + period < now`, with `now` the timestamp of the Raft entry that prunes.
pub(crate) fn is_expired(lease: &RetentionLease, now_millis: u64, period_millis: u64) -> bool {
    lease.timestamp_millis.saturating_add(period_millis) < now_millis
}

/// The lowest seq_no history must keep: the minimum over every lease's retaining seq_no
/// and `global_checkpoint + 1` (operations above the global checkpoint are never pruned).
pub(crate) fn retained_from<'a>(
    leases: impl IntoIterator<Item = &'a RetentionLease>,
    global_checkpoint: i64,
) -> u64 {
    let above_checkpoint = u64::try_from(global_checkpoint + 1).unwrap_or(0);
    leases
        .into_iter()
        .map(|l| l.retaining_seq_no)
        .fold(above_checkpoint, u64::min)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn lease(id: &str, retaining: u64, ts: u64) -> RetentionLease {
        RetentionLease {
            id: id.into(),
            retaining_seq_no: retaining,
            timestamp_millis: ts,
            source: "ccr".into(),
        }
    }

    #[test]
    fn add_twice_is_refused_with_the_es_type() {
        let l = lease("a", 0, 0);
        let e = check_add(Some(&l), "a").unwrap_err();
        assert_eq!(e.es_type(), "retention_lease_already_exists_exception");
        assert_eq!(e.to_string(), "retention lease with ID [a] already exists");
        assert!(check_add(None, "a").is_ok());
    }

    #[test]
    fn renew_rules() {
        let e = check_renew(None, "a", 1, "ccr").unwrap_err();
        assert_eq!(e.status(), 404);
        assert_eq!(e.es_type(), "retention_lease_not_found_exception");
        let l = lease("a", 5, 0);
        let e = check_renew(Some(&l), "a", 4, "ccr").unwrap_err();
        assert_eq!(e.es_type(), "illegal_argument_exception");
        assert!(check_renew(Some(&l), "a", 5, "ccr").is_ok());
        assert!(check_renew(Some(&l), "a", 9, "ccr").is_ok());
    }

    #[test]
    fn expiry_is_strictly_after_the_period() {
        let l = lease("a", 0, 1_000);
        assert!(!is_expired(&l, 1_500, 500));
        assert!(is_expired(&l, 1_501, 500));
        assert!(!is_expired(&lease("b", 0, u64::MAX), u64::MAX, 10));
    }

    #[test]
    fn retained_from_is_bounded_by_the_global_checkpoint() {
        assert_eq!(retained_from([], -1), 0);
        assert_eq!(retained_from([], 9), 10);
        let ls = [lease("a", 4, 0), lease("b", 7, 0)];
        assert_eq!(retained_from(&ls, 9), 4);
        assert_eq!(retained_from(&ls, 2), 3);
    }

    proptest! {
        #[test]
        fn retained_from_never_exceeds_any_lease(rs in prop::collection::vec(0u64..100, 0..5), gcp in -1i64..100) {
            let ls: Vec<_> = rs.iter().map(|r| lease("x", *r, 0)).collect();
            let from = retained_from(&ls, gcp);
            prop_assert!(ls.iter().all(|l| from <= l.retaining_seq_no));
            prop_assert!(from as i64 <= gcp + 1);
        }
    }
}
