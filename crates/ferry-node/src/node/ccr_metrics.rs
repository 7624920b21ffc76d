//! Prometheus metrics per follower shard, rendered at scrape time from the follow tasks'
//! stats (so they always agree with `GET /_ccr/stats` and vanish with the follow).
//!
//! Labels: `follower_index`, `shard`, `remote_cluster`, `leader_index`. Deliberately not
//! here: the process-wide recorder and HTTP metrics (`crate::metrics`).

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::Node;

/// `(metric, type, help, stats field)`; a counter's field only ever grows.
const SHARD_METRICS: &[(&str, &str, &str, &str)] = &[
    (
        "ferry_ccr_follower_global_checkpoint_lag",
        "gauge",
        "Operations the follower shard is behind the leader shard's global checkpoint",
        "",
    ),
    (
        "ferry_ccr_follower_lag_millis",
        "gauge",
        "Age of the oldest leader operation the follower shard has not applied (0 when caught up)",
        "lag_millis",
    ),
    (
        "ferry_ccr_follower_leader_global_checkpoint",
        "gauge",
        "The leader shard's global checkpoint as last seen",
        "leader_global_checkpoint",
    ),
    (
        "ferry_ccr_follower_global_checkpoint",
        "gauge",
        "The follower shard's global checkpoint",
        "follower_global_checkpoint",
    ),
    (
        "ferry_ccr_follower_operations_written_total",
        "counter",
        "Leader operations written to the follower shard",
        "operations_written",
    ),
    (
        "ferry_ccr_follower_bytes_read_total",
        "counter",
        "Bytes of leader operations read",
        "bytes_read",
    ),
    (
        "ferry_ccr_follower_failed_read_requests_total",
        "counter",
        "Reads from the leader that failed",
        "failed_read_requests",
    ),
    (
        "ferry_ccr_follower_failed_write_requests_total",
        "counter",
        "Writes to the follower shard that failed",
        "failed_write_requests",
    ),
    (
        "ferry_ccr_follower_time_since_last_read_millis",
        "gauge",
        "Milliseconds since the last read from the leader returned (-1 before the first)",
        "time_since_last_read_millis",
    ),
    (
        "ferry_ccr_follower_fatal",
        "gauge",
        "1 when the follow task stopped on a fatal error",
        "",
    ),
    (
        "ferry_ccr_follower_segment_copy_bytes_total",
        "counter",
        "Bytes of leader search segments copied (followers with index.ferry.ccr.copy_segments)",
        "",
    ),
    (
        "ferry_ccr_follower_search_lag_operations",
        "gauge",
        "Operations the follower shard applied that its installed search commit does not cover yet (copy_segments followers; 0 otherwise)",
        "",
    ),
];

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn value_of(metric: &str, field: &str, shard: &Map<String, Value>) -> i64 {
    let get = |k: &str| shard.get(k).and_then(Value::as_i64).unwrap_or(0);
    match metric {
        "ferry_ccr_follower_global_checkpoint_lag" => {
            (get("leader_global_checkpoint") - get("follower_global_checkpoint")).max(0)
        }
        "ferry_ccr_follower_fatal" => i64::from(shard.contains_key("fatal_exception")),
        "ferry_ccr_follower_segment_copy_bytes_total" => shard
            .get("segment_copy")
            .and_then(|c| c["bytes_copied"].as_i64())
            .unwrap_or(0),
        "ferry_ccr_follower_search_lag_operations" => shard
            .get("segment_copy")
            .and_then(|c| c["installed_seq_no"].as_i64())
            .map_or(0, |installed| {
                (get("follower_global_checkpoint") - installed).max(0)
            }),
        _ => get(field),
    }
}

impl Node {
    /// The follower-shard metrics in the Prometheus text format (empty without follows).
    pub fn ccr_metrics_text(&self) -> String {
        let shards: Vec<Map<String, Value>> = {
            let follows = self.follows.lock();
            follows
                .values()
                .flat_map(|f| f.tasks.iter().map(|t| t.stats()))
                .collect()
        };
        let mut out = String::new();
        if shards.is_empty() {
            return out;
        }
        for (metric, kind, help, field) in SHARD_METRICS {
            let _ = writeln!(out, "# HELP {metric} {help}");
            let _ = writeln!(out, "# TYPE {metric} {kind}");
            for s in &shards {
                let label = |k: &str| {
                    escape(&match s.get(k) {
                        Some(Value::String(v)) => v.clone(),
                        Some(v) => v.to_string(),
                        None => String::new(),
                    })
                };
                let _ = writeln!(
                    out,
                    "{metric}{{follower_index=\"{}\",shard=\"{}\",remote_cluster=\"{}\",leader_index=\"{}\"}} {}",
                    label("follower_index"),
                    label("shard_id"),
                    label("remote_cluster"),
                    label("leader_index"),
                    value_of(metric, field, s)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lag_and_fatal_are_derived_and_labels_escaped() {
        let s = json!({"leader_global_checkpoint": 10, "follower_global_checkpoint": 4,
            "fatal_exception": {"type": "x"}, "operations_written": 5});
        let s = s.as_object().expect("object");
        assert_eq!(
            value_of("ferry_ccr_follower_global_checkpoint_lag", "", s),
            6
        );
        assert_eq!(value_of("ferry_ccr_follower_fatal", "", s), 1);
        assert_eq!(
            value_of(
                "ferry_ccr_follower_operations_written_total",
                "operations_written",
                s
            ),
            5
        );
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }

    #[test]
    fn segment_copy_metrics_come_from_its_stats_object() {
        let copying = json!({"follower_global_checkpoint": 90,
            "segment_copy": {"installed_seq_no": 70, "bytes_copied": 1234}});
        let copying = copying.as_object().expect("object");
        assert_eq!(
            value_of("ferry_ccr_follower_search_lag_operations", "", copying),
            20
        );
        assert_eq!(
            value_of("ferry_ccr_follower_segment_copy_bytes_total", "", copying),
            1234
        );
        let indexing = json!({"follower_global_checkpoint": 90});
        let indexing = indexing.as_object().expect("object");
        assert_eq!(
            value_of("ferry_ccr_follower_search_lag_operations", "", indexing),
            0
        );
    }
}
