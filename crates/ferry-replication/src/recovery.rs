//! The node-wide settings of CCR bootstrap copies (`ccr.indices.recovery.*`), shared
//! between the node's cluster-settings API (which changes them at run time) and the
//! copy sessions of both sides (which read them per chunk).
//!
//! Deliberately not here: parsing the ES setting values (the node does, with
//! [`crate::follow::ByteSize`] and [`crate::follow::TimeValue`]) and the copy itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// `ccr.indices.recovery.max_bytes_per_sec` default: 40mb.
pub const DEFAULT_MAX_BYTES_PER_SEC: u64 = 40 * 1024 * 1024;
/// `ccr.indices.recovery.chunk_size` default: 1mb.
pub const DEFAULT_CHUNK_SIZE: u64 = 1024 * 1024;
/// `ccr.indices.recovery.max_concurrent_file_chunks` default: 5.
pub const DEFAULT_MAX_CONCURRENT_CHUNKS: u64 = 5;
/// `ccr.indices.recovery.recovery_activity_timeout` default: 60s.
pub const DEFAULT_ACTIVITY_TIMEOUT: Duration = Duration::from_secs(60);
/// `ccr.indices.recovery.internal_action_timeout` default: 60s.
pub const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// `ccr.wait_for_metadata_timeout` default: 60s.
pub const DEFAULT_WAIT_FOR_METADATA_TIMEOUT: Duration = Duration::from_secs(60);

/// The live values; every field is read at the moment it is needed.
#[derive(Debug)]
pub struct RecoverySettings {
    max_bytes_per_sec: AtomicU64,
    chunk_size: AtomicU64,
    max_concurrent_chunks: AtomicU64,
    activity_timeout_millis: AtomicU64,
    action_timeout_millis: AtomicU64,
    wait_for_metadata_timeout_millis: AtomicU64,
}

impl Default for RecoverySettings {
    fn default() -> Self {
        Self {
            max_bytes_per_sec: AtomicU64::new(DEFAULT_MAX_BYTES_PER_SEC),
            chunk_size: AtomicU64::new(DEFAULT_CHUNK_SIZE),
            max_concurrent_chunks: AtomicU64::new(DEFAULT_MAX_CONCURRENT_CHUNKS),
            activity_timeout_millis: AtomicU64::new(millis(DEFAULT_ACTIVITY_TIMEOUT)),
            action_timeout_millis: AtomicU64::new(millis(DEFAULT_ACTION_TIMEOUT)),
            wait_for_metadata_timeout_millis: AtomicU64::new(millis(
                DEFAULT_WAIT_FOR_METADATA_TIMEOUT,
            )),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RecoverySettings {
    /// Bytes per second both sides may move (0: unthrottled, as ES's `0b`).
    pub fn max_bytes_per_sec(&self) -> u64 {
        self.max_bytes_per_sec.load(Ordering::Relaxed)
    }

    /// Sets `max_bytes_per_sec`.
    pub fn set_max_bytes_per_sec(&self, v: u64) {
        self.max_bytes_per_sec.store(v, Ordering::Relaxed);
    }

    /// Bytes per chunk request.
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size.load(Ordering::Relaxed)
    }

    /// Sets `chunk_size`.
    pub fn set_chunk_size(&self, v: u64) {
        self.chunk_size.store(v, Ordering::Relaxed);
    }

    /// Chunk requests in flight at once.
    pub fn max_concurrent_chunks(&self) -> u64 {
        self.max_concurrent_chunks.load(Ordering::Relaxed)
    }

    /// Sets `max_concurrent_chunks`.
    pub fn set_max_concurrent_chunks(&self, v: u64) {
        self.max_concurrent_chunks.store(v, Ordering::Relaxed);
    }

    /// How long a leader keeps an idle copy session.
    pub fn activity_timeout(&self) -> Duration {
        Duration::from_millis(self.activity_timeout_millis.load(Ordering::Relaxed))
    }

    /// Sets `activity_timeout`.
    pub fn set_activity_timeout(&self, v: Duration) {
        self.activity_timeout_millis
            .store(millis(v), Ordering::Relaxed);
    }

    /// Deadline of one internal call (lease, open session, chunk).
    pub fn action_timeout(&self) -> Duration {
        Duration::from_millis(self.action_timeout_millis.load(Ordering::Relaxed))
    }

    /// Sets `action_timeout`.
    pub fn set_action_timeout(&self, v: Duration) {
        self.action_timeout_millis
            .store(millis(v), Ordering::Relaxed);
    }

    /// How long auto-follow waits for a newer remote metadata version.
    pub fn wait_for_metadata_timeout(&self) -> Duration {
        Duration::from_millis(
            self.wait_for_metadata_timeout_millis
                .load(Ordering::Relaxed),
        )
    }
}

/// The CCR node settings `PUT /_cluster/settings` accepts besides `cluster.remote.*`.
pub const KEYS: &[&str] = &[
    "ccr.indices.recovery.max_bytes_per_sec",
    "ccr.indices.recovery.chunk_size",
    "ccr.indices.recovery.max_concurrent_file_chunks",
    "ccr.indices.recovery.recovery_activity_timeout",
    "ccr.indices.recovery.internal_action_timeout",
    "ccr.wait_for_metadata_timeout",
    "ccr.auto_follow.wait_for_metadata_timeout",
];

/// Parses one value of a [`KEYS`] setting into what it means: bytes, a count or
/// milliseconds. The error is ES's message.
pub fn parse_value(key: &str, value: &str) -> Result<u64, String> {
    use crate::follow::{ByteSize, TimeValue};
    let bytes = |min: i64, max: i64| -> Result<u64, String> {
        let b = ByteSize::parse(key, value)
            .map_err(|e| e.to_string())?
            .bytes();
        if b < min || b > max {
            return Err(format!(
                "failed to parse value [{value}] for setting [{key}], must be >= [{}] and <= [{}]",
                ByteSize::from_bytes(min).as_str(),
                ByteSize::from_bytes(max).as_str()
            ));
        }
        Ok(u64::try_from(b).unwrap_or(0))
    };
    match key {
        "ccr.indices.recovery.max_bytes_per_sec" => bytes(0, i64::MAX),
        "ccr.indices.recovery.chunk_size" => bytes(1 << 10, 1 << 30),
        "ccr.indices.recovery.max_concurrent_file_chunks" => match value.trim().parse::<u64>() {
            Ok(n) if (1..=10).contains(&n) => Ok(n),
            _ => Err(format!(
                "Failed to parse value [{value}] for setting [{key}] must be between 1 and 10"
            )),
        },
        _ => {
            let t = TimeValue::parse(key, value).map_err(|e| e.to_string())?;
            u64::try_from(t.millis()).map_err(|_| {
                format!("failed to parse value [{value}] for setting [{key}], must be >= [0ms]")
            })
        }
    }
}

impl RecoverySettings {
    /// Sets every value from the merged settings (transient over persistent already
    /// applied by the caller); a key that is absent goes back to its default. Values are
    /// validated when stored, so one that no longer parses keeps the default.
    pub fn apply(&self, merged: &std::collections::BTreeMap<String, serde_json::Value>) {
        let get = |key: &str| {
            merged
                .get(key)
                .and_then(serde_json::Value::as_str)
                .and_then(|v| parse_value(key, v).ok())
        };
        self.set_max_bytes_per_sec(
            get("ccr.indices.recovery.max_bytes_per_sec").unwrap_or(DEFAULT_MAX_BYTES_PER_SEC),
        );
        self.set_chunk_size(get("ccr.indices.recovery.chunk_size").unwrap_or(DEFAULT_CHUNK_SIZE));
        self.set_max_concurrent_chunks(
            get("ccr.indices.recovery.max_concurrent_file_chunks")
                .unwrap_or(DEFAULT_MAX_CONCURRENT_CHUNKS),
        );
        self.set_activity_timeout(
            get("ccr.indices.recovery.recovery_activity_timeout")
                .map_or(DEFAULT_ACTIVITY_TIMEOUT, Duration::from_millis),
        );
        self.set_action_timeout(
            get("ccr.indices.recovery.internal_action_timeout")
                .map_or(DEFAULT_ACTION_TIMEOUT, Duration::from_millis),
        );
        let wait = get("ccr.wait_for_metadata_timeout")
            .or_else(|| get("ccr.auto_follow.wait_for_metadata_timeout"))
            .map_or(DEFAULT_WAIT_FOR_METADATA_TIMEOUT, Duration::from_millis);
        self.wait_for_metadata_timeout_millis
            .store(millis(wait), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_with_es_units_and_bounds() {
        assert_eq!(
            parse_value("ccr.indices.recovery.max_bytes_per_sec", "40mb"),
            Ok(40 << 20)
        );
        assert_eq!(
            parse_value("ccr.indices.recovery.max_bytes_per_sec", "0b"),
            Ok(0)
        );
        assert!(parse_value("ccr.indices.recovery.chunk_size", "10b").is_err());
        assert!(parse_value("ccr.indices.recovery.max_concurrent_file_chunks", "11").is_err());
        assert_eq!(
            parse_value("ccr.indices.recovery.max_concurrent_file_chunks", "3"),
            Ok(3)
        );
        assert_eq!(parse_value("ccr.wait_for_metadata_timeout", "2s"), Ok(2000));
        assert!(parse_value("ccr.wait_for_metadata_timeout", "soon").is_err());
    }

    #[test]
    fn apply_sets_values_and_restores_defaults() {
        let s = RecoverySettings::default();
        let mut m = std::collections::BTreeMap::new();
        m.insert(
            "ccr.indices.recovery.max_bytes_per_sec".to_owned(),
            serde_json::json!("2mb"),
        );
        s.apply(&m);
        assert_eq!(s.max_bytes_per_sec(), 2 << 20);
        s.apply(&std::collections::BTreeMap::new());
        assert_eq!(s.max_bytes_per_sec(), DEFAULT_MAX_BYTES_PER_SEC);
    }
}
