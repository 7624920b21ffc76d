//! The per-shard follow stats the planner knows, with §3's field names, rendered as the
//! inside of one `shards[]` entry of `/<index>/_ccr/stats`.
//!
//! Deliberately not here: identity fields (`remote_cluster`, `leader_index`,
//! `follower_index`, `shard_id`) and clock-based ones (`total_read_time_millis`,
//! `time_since_last_read_millis`, `lag_millis`, …): the runtime adds those.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::events::TaskError;

/// A retried read's failure (`read_exceptions[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadException {
    /// Retries so far for the read at this `from_seq_no`.
    pub retries: u32,
    /// The latest failure.
    pub exception: TaskError,
}

/// A stats snapshot of one follower shard's task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardFollowStats {
    pub leader_global_checkpoint: i64,
    pub leader_max_seq_no: i64,
    pub follower_global_checkpoint: i64,
    pub follower_max_seq_no: i64,
    pub last_requested_seq_no: i64,
    pub outstanding_read_requests: u64,
    pub outstanding_write_requests: u64,
    pub write_buffer_operation_count: u64,
    pub write_buffer_size_in_bytes: u64,
    pub follower_mapping_version: u64,
    pub follower_settings_version: u64,
    pub successful_read_requests: u64,
    pub failed_read_requests: u64,
    pub operations_read: u64,
    pub bytes_read: u64,
    pub successful_write_requests: u64,
    pub failed_write_requests: u64,
    pub operations_written: u64,
    /// Keyed by `from_seq_no`; at most `max_outstanding_read_requests` entries.
    pub read_exceptions: BTreeMap<i64, ReadException>,
    pub fatal_exception: Option<TaskError>,
}

impl Default for ShardFollowStats {
    fn default() -> Self {
        Self {
            leader_global_checkpoint: -1,
            leader_max_seq_no: -1,
            follower_global_checkpoint: -1,
            follower_max_seq_no: -1,
            last_requested_seq_no: -1,
            outstanding_read_requests: 0,
            outstanding_write_requests: 0,
            write_buffer_operation_count: 0,
            write_buffer_size_in_bytes: 0,
            follower_mapping_version: 0,
            follower_settings_version: 0,
            successful_read_requests: 0,
            failed_read_requests: 0,
            operations_read: 0,
            bytes_read: 0,
            successful_write_requests: 0,
            failed_write_requests: 0,
            operations_written: 0,
            read_exceptions: BTreeMap::new(),
            fatal_exception: None,
        }
    }
}

fn exception_json(e: &TaskError) -> Value {
    json!({ "type": e.es_type, "reason": e.reason })
}

impl ShardFollowStats {
    /// The fields as ES names them; `fatal_exception` only when set.
    pub fn to_es_json(&self) -> Map<String, Value> {
        let read_exceptions: Vec<Value> = self
            .read_exceptions
            .iter()
            .map(|(from, r)| {
                json!({ "from_seq_no": from, "retries": r.retries, "exception": exception_json(&r.exception) })
            })
            .collect();
        let mut m = match json!({
            "leader_global_checkpoint": self.leader_global_checkpoint,
            "leader_max_seq_no": self.leader_max_seq_no,
            "follower_global_checkpoint": self.follower_global_checkpoint,
            "follower_max_seq_no": self.follower_max_seq_no,
            "last_requested_seq_no": self.last_requested_seq_no,
            "outstanding_read_requests": self.outstanding_read_requests,
            "outstanding_write_requests": self.outstanding_write_requests,
            "write_buffer_operation_count": self.write_buffer_operation_count,
            "write_buffer_size_in_bytes": self.write_buffer_size_in_bytes,
            "follower_mapping_version": self.follower_mapping_version,
            "follower_settings_version": self.follower_settings_version,
            "successful_read_requests": self.successful_read_requests,
            "failed_read_requests": self.failed_read_requests,
            "operations_read": self.operations_read,
            "bytes_read": self.bytes_read,
            "successful_write_requests": self.successful_write_requests,
            "failed_write_requests": self.failed_write_requests,
            "operations_written": self.operations_written,
            "read_exceptions": read_exceptions,
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Some(e) = &self.fatal_exception {
            m.insert("fatal_exception".into(), exception_json(e));
        }
        m
    }
}
