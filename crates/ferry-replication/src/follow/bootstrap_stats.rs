//! The `bootstrap` object of a follower shard's `_ccr/stats` entry (a Ferry field): how
//! far the shard's bootstrap copy got, and whether a dropped connection was resumed
//! (`sessions_opened` stays 1 while `chunks_retried` grows) or forced a new copy.
//! `copy_millis` is the copy phase alone (lease, session, chunks), `took_millis` the
//! whole bootstrap including restoring the copy into the shard (which indexes every
//! document, so it runs at the shard's ingest rate).
//!
//! Deliberately not here: the copy itself ([`super::bootstrap`]) and the planner's stats.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Where a shard's bootstrap stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BootstrapState {
    /// The shard never bootstrapped in this task (it resumed from its own checkpoint).
    #[default]
    None,
    /// Taking the lease, opening a session or fetching chunks.
    Copying,
    /// Restoring the fetched copy into the follower shard.
    Applying,
    /// Restored; the task follows the leader's history from the copy's checkpoint.
    Done,
    /// Stopped on a fatal error (the task's `fatal_exception` says which).
    Failed,
}

impl BootstrapState {
    /// The name stats show.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Copying => "copying",
            Self::Applying => "applying",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// Counters of one shard's bootstrap (the latest one, after a re-bootstrap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapStats {
    /// Where it stands.
    pub state: BootstrapState,
    /// Copy sessions opened on the leader (1 unless a session was lost or damaged).
    pub sessions_opened: u64,
    /// Chunks of the current session's copy.
    pub chunks_total: u64,
    /// Chunks of the current session fetched and verified.
    pub chunks_fetched: u64,
    /// Chunk requests sent again after a failed one (connection lost, timeout, checksum).
    pub chunks_retried: u64,
    /// Chunks whose bytes did not match their checksum.
    pub crc_mismatches: u64,
    /// Bytes of the current session's copy.
    pub bytes_total: u64,
    /// Bytes of the current session fetched and verified.
    pub bytes_copied: u64,
    /// In-place re-bootstraps after the follower fell behind the leader's history.
    pub rebootstraps: u64,
    /// When the current bootstrap began.
    pub started: Option<Instant>,
    /// How long it took, once done.
    pub took: Option<Duration>,
    /// How long the copy phase took (lease, session, chunks), once the apply began.
    pub copy_took: Option<Duration>,
}

impl BootstrapStats {
    /// A new bootstrap begins (counters of the previous one go, `rebootstraps` stays).
    pub fn begin(&mut self) {
        *self = Self {
            state: BootstrapState::Copying,
            rebootstraps: self.rebootstraps,
            started: Some(Instant::now()),
            ..Self::default()
        };
    }

    /// A session was opened: its size replaces the previous session's.
    pub fn session_opened(&mut self, chunks: u64, bytes: u64) {
        self.sessions_opened += 1;
        self.chunks_total = chunks;
        self.bytes_total = bytes;
        self.chunks_fetched = 0;
        self.bytes_copied = 0;
    }

    /// The copy is in hand; restoring it into the shard begins.
    pub fn applying(&mut self) {
        self.state = BootstrapState::Applying;
        self.copy_took = self.started.map(|s| s.elapsed());
    }

    /// The bootstrap ended in `state` (done or failed).
    pub fn end(&mut self, state: BootstrapState) {
        self.state = state;
        self.took = self.started.map(|s| s.elapsed());
    }

    /// The stats object: `state`, the counters and `took_millis` (running time so far
    /// while it runs).
    pub fn to_es_json(&self) -> Value {
        let took = self
            .took
            .or_else(|| self.started.map(|s| s.elapsed()))
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        json!({
            "state": self.state.as_str(),
            "sessions_opened": self.sessions_opened,
            "chunks_total": self.chunks_total,
            "chunks_fetched": self.chunks_fetched,
            "chunks_retried": self.chunks_retried,
            "crc_mismatches": self.crc_mismatches,
            "bytes_total": self.bytes_total,
            "bytes_copied": self.bytes_copied,
            "took_millis": took,
            "copy_millis": self.copy_took.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            "rebootstraps": self.rebootstraps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_bootstrap_keeps_only_the_rebootstrap_count() {
        let mut s = BootstrapStats::default();
        assert_eq!(s.to_es_json()["state"], "none");
        s.begin();
        s.session_opened(4, 4000);
        s.chunks_fetched = 2;
        s.chunks_retried = 3;
        s.session_opened(5, 5000);
        assert_eq!(
            (s.sessions_opened, s.chunks_total, s.chunks_fetched),
            (2, 5, 0)
        );
        assert_eq!(s.chunks_retried, 3, "retries count across sessions");
        s.end(BootstrapState::Done);
        s.rebootstraps = 1;
        s.begin();
        let v = s.to_es_json();
        assert_eq!(v["state"], "copying");
        assert_eq!(v["sessions_opened"], 0);
        assert_eq!(v["rebootstraps"], 1);
        assert_eq!(
            v.as_object().unwrap().keys().collect::<Vec<_>>(),
            [
                "state",
                "sessions_opened",
                "chunks_total",
                "chunks_fetched",
                "chunks_retried",
                "crc_mismatches",
                "bytes_total",
                "bytes_copied",
                "took_millis",
                "copy_millis",
                "rebootstraps"
            ]
        );
    }
}
