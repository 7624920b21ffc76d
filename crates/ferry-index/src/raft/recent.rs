//! The Raft log's newest entries, held in memory from the moment they are durable until
//! the first reader takes them.
//!
//! Without it every entry makes a round trip through its own encoding: appended (encoded
//! into redb and fsynced), then read back and decoded by the state machine a moment later
//! to be applied. An entry is a whole write batch, so the read-back decodes megabytes
//! (every document source copied once more) on the leader of every write and on a CCR
//! follower for every batch it applies. Here the appending task hands its entries over
//! after the durable commit; a read of a range that is held takes those entries *out*
//! (the single-member state machine reads each entry exactly once), and anything not held
//! (a later read of the same range, entries from before a restart, a range evicted under
//! the byte cap) is read from the log file as before. The log file stays the only record:
//! nothing here is needed to recover.
//!
//! Invariant: the entries held are contiguous and end at the log's last entry, because
//! every successful append passes through [`Recent::appended`] and every truncation
//! through [`Recent::truncate`]; a failed append clears everything.

use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};

use openraft::Entry;
use parking_lot::Mutex;

use super::TypeConfig;

/// Most bytes (encoded size) held before the oldest entries are dropped; reached only
/// when nothing reads (applying is stalled), as the state machine takes what it applies.
const MAX_BYTES: usize = 128 * 1024 * 1024;

/// The held entries of one shard's log (shared by the log store and its readers).
#[derive(Default)]
pub(super) struct Recent {
    inner: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    /// Contiguous by log index, oldest first, with each entry's encoded size.
    entries: VecDeque<(Entry<TypeConfig>, usize)>,
    bytes: usize,
}

impl Held {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.log_id.index)
    }

    fn last_index(&self) -> Option<u64> {
        self.entries.back().map(|(e, _)| e.log_id.index)
    }

    fn pop_front(&mut self) {
        if let Some((_, size)) = self.entries.pop_front() {
            self.bytes -= size;
        }
    }

    fn pop_back(&mut self) {
        if let Some((_, size)) = self.entries.pop_back() {
            self.bytes -= size;
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

impl Recent {
    /// `entries` (with their encoded sizes) were appended durably, in index order.
    pub fn appended(&self, entries: Vec<(Entry<TypeConfig>, usize)>) {
        let Some(first) = entries.first().map(|(e, _)| e.log_id.index) else {
            return;
        };
        let mut held = self.inner.lock();
        // An append at an index already held replaces it and everything after it.
        while held.last_index().is_some_and(|last| last >= first) {
            held.pop_back();
        }
        if held.last_index().is_some_and(|last| last + 1 != first) {
            held.clear();
        }
        for (entry, size) in entries {
            held.bytes += size;
            held.entries.push_back((entry, size));
        }
        while held.bytes > MAX_BYTES && held.entries.len() > 1 {
            held.pop_front();
        }
    }

    /// An append failed: what the log holds is unknown, so nothing is held.
    pub fn failed(&self) {
        self.inner.lock().clear();
    }

    /// The log was truncated from `from` on.
    pub fn truncate(&self, from: u64) {
        let mut held = self.inner.lock();
        while held.last_index().is_some_and(|last| last >= from) {
            held.pop_back();
        }
    }

    /// The log was purged up to `upto` (inclusive).
    pub fn purge(&self, upto: u64) {
        let mut held = self.inner.lock();
        while held.first_index().is_some_and(|first| first <= upto) {
            held.pop_front();
        }
    }

    /// Takes the entries of `range` when every one of them is held (and drops the older
    /// ones too: readers move forward); `None` sends the reader to the log file.
    pub fn take(&self, range: &impl RangeBounds<u64>) -> Option<Vec<Entry<TypeConfig>>> {
        let mut held = self.inner.lock();
        let (first, last) = (held.first_index()?, held.last_index()?);
        let start = match range.start_bound() {
            Bound::Included(s) => *s,
            Bound::Excluded(s) => s.checked_add(1)?,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(e) => e.checked_add(1)?,
            Bound::Excluded(e) => *e,
            Bound::Unbounded => last + 1,
        };
        if start < first || end > last + 1 || start >= end {
            return None;
        }
        while held.first_index().is_some_and(|f| f < start) {
            held.pop_front();
        }
        let n = usize::try_from(end - start).ok()?;
        let taken: Vec<(Entry<TypeConfig>, usize)> = held.entries.drain(..n).collect();
        held.bytes -= taken.iter().map(|(_, size)| size).sum::<usize>();
        Some(taken.into_iter().map(|(e, _)| e).collect())
    }

    #[cfg(test)]
    fn held(&self) -> (Vec<u64>, usize) {
        let held = self.inner.lock();
        let ids = held.entries.iter().map(|(e, _)| e.log_id.index).collect();
        (ids, held.bytes)
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload, LogId};

    use super::*;
    use crate::command::ShardCommand;

    fn entry(index: u64) -> (Entry<TypeConfig>, usize) {
        let e = Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(ShardCommand::RemoveLease {
                id: format!("l{index}"),
            }),
        };
        (e, 10)
    }

    fn entries(r: std::ops::Range<u64>) -> Vec<(Entry<TypeConfig>, usize)> {
        r.map(entry).collect()
    }

    fn indexes(got: Option<Vec<Entry<TypeConfig>>>) -> Option<Vec<u64>> {
        got.map(|v| v.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn a_held_range_is_taken_once_and_older_entries_go_with_it() {
        let r = Recent::default();
        r.appended(entries(1..6));
        assert_eq!(indexes(r.take(&(2..4))), Some(vec![2, 3]));
        assert_eq!(r.held(), (vec![4, 5], 20));
        // Taken (or dropped) entries are no longer held: the reader goes to the file.
        assert_eq!(indexes(r.take(&(2..5))), None);
        assert_eq!(indexes(r.take(&(1..=1))), None);
        assert_eq!(indexes(r.take(&(4..))), Some(vec![4, 5]));
        assert_eq!(r.held(), (vec![], 0));
    }

    #[test]
    fn ranges_not_wholly_held_are_left_alone() {
        let r = Recent::default();
        assert_eq!(indexes(r.take(&(..))), None);
        r.appended(entries(3..6));
        assert_eq!(indexes(r.take(&(2..5))), None);
        assert_eq!(indexes(r.take(&(4..7))), None);
        assert_eq!(indexes(r.take(&(4..4))), None);
        assert_eq!(r.held(), (vec![3, 4, 5], 30));
        assert_eq!(indexes(r.take(&(3..=5))), Some(vec![3, 4, 5]));
    }

    #[test]
    fn appends_truncations_purges_and_failures_keep_the_held_run_contiguous() {
        let r = Recent::default();
        r.appended(entries(1..5));
        // Re-appending from 3 replaces 3 and 4.
        r.appended(entries(3..4));
        assert_eq!(r.held().0, vec![1, 2, 3]);
        // A gap (entries appended while not held) drops what was held.
        r.appended(entries(7..9));
        assert_eq!(r.held().0, vec![7, 8]);
        r.appended(entries(9..12));
        r.truncate(10);
        assert_eq!(r.held().0, vec![7, 8, 9]);
        r.purge(7);
        assert_eq!(r.held(), (vec![8, 9], 20));
        r.failed();
        assert_eq!(r.held(), (vec![], 0));
    }

    #[test]
    fn the_byte_cap_drops_the_oldest() {
        let r = Recent::default();
        let big = |i: u64| (entry(i).0, MAX_BYTES / 2);
        r.appended(vec![big(1), big(2)]);
        assert_eq!(r.held().0, vec![1, 2]);
        r.appended(vec![big(3)]);
        assert_eq!(r.held().0, vec![2, 3]);
        assert_eq!(indexes(r.take(&(1..4))), None);
        assert_eq!(indexes(r.take(&(2..4))), Some(vec![2, 3]));
    }
}
