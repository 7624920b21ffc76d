//! CCR stats: `GET /<index>/_ccr/stats` (the following indices among an expression and
//! their shard tasks) and `GET /_ccr/stats` (auto-follow stats beside every follower's),
//! with ES's `?human` companions of the byte and time fields.
//!
//! Deliberately not here: the stats themselves, kept by each shard task
//! (`ferry_replication::follow::ShardFollowTask::stats`) and the auto-follow coordinator.

use ferry_replication::follow::ShardFollowTask;
use serde_json::{Map, Value, json};

use super::cat::human_time;
use super::names::ResolveOptions;
use super::table::human_bytes;
use super::{ApiResponse, ApiResult, Node};
use crate::error::ApiError;
use crate::params::Params;

/// Shard stats fields ES also renders readably with `?human`: (raw, readable, is bytes).
const HUMAN_FIELDS: [(&str, &str, bool); 8] = [
    ("write_buffer_size_in_bytes", "write_buffer_size", true),
    ("bytes_read", "total_read", true),
    ("total_read_time_millis", "total_read_time", false),
    (
        "total_read_remote_exec_time_millis",
        "total_read_remote_exec_time",
        false,
    ),
    ("total_write_time_millis", "total_write_time", false),
    ("time_since_last_read_millis", "time_since_last_read", false),
    // Ferry's own time fields, the same way.
    (
        "time_since_last_synced_millis",
        "time_since_last_synced",
        false,
    ),
    ("lag_millis", "lag", false),
];

/// Adds the readable companion of every [`HUMAN_FIELDS`] entry `shard` has.
fn add_human_fields(shard: &mut Map<String, Value>) {
    for (raw, readable, bytes) in HUMAN_FIELDS {
        let Some(n) = shard.get(raw).and_then(Value::as_i64) else {
            continue;
        };
        let text = match u64::try_from(n) {
            Ok(n) if bytes => human_bytes(n),
            Ok(n) => human_time(n),
            // ES renders a negative time (-1: never) as the bare number.
            Err(_) => n.to_string(),
        };
        shard.insert(readable.to_owned(), Value::String(text));
    }
}

impl Node {
    /// The `indices[]` entries of follow stats for the follower indices among `names`
    /// that have shard tasks (ES reports tasks: a paused follower is not listed); `human`
    /// adds the readable fields.
    fn follow_stats_of(&self, names: &[String], human: bool) -> Vec<Value> {
        let follows = self.follows.lock();
        names
            .iter()
            .filter_map(|name| {
                let f = follows.get(name).filter(|f| !f.is_paused())?;
                let lag: i64 = f
                    .tasks
                    .iter()
                    .map(ShardFollowTask::global_checkpoint_lag)
                    .sum();
                let shards: Vec<Value> = f
                    .tasks
                    .iter()
                    .map(|t| {
                        let mut shard = t.stats();
                        if human {
                            add_human_fields(&mut shard);
                        }
                        Value::Object(shard)
                    })
                    .collect();
                Some(json!({
                    "index": name,
                    "total_global_checkpoint_lag": lag,
                    "shards": shards,
                }))
            })
            .collect()
    }

    /// `GET /<index>/_ccr/stats`: the following indices among `expr` (a list, wildcards,
    /// `_all`) and their shard tasks. As ES, naming indices none of which is following
    /// (missing, regular or paused) is a 404; `_all` and `*` may find none.
    pub async fn follow_stats(&self, expr: &str, params: &Params) -> ApiResult {
        let human = params.bool("human", false)?;
        let opts = ResolveOptions {
            ignore_unavailable: true,
            allow_no_indices: true,
            ..ResolveOptions::from_params(params, ResolveOptions::STRICT_OPEN)?
        };
        let names: Vec<String> = self
            .resolve(Some(expr), opts)?
            .into_iter()
            .map(|e| e.name.clone())
            .collect();
        let indices = self.follow_stats_of(&names, human);
        if indices.is_empty() && !matches!(expr, "_all" | "*") {
            return Err(ApiError::new(
                404,
                "resource_not_found_exception",
                format!("No shard follow tasks for follower indices [{expr}]"),
            ));
        }
        Ok(ApiResponse::ok(json!({ "indices": indices })))
    }

    /// `GET /_ccr/stats`: auto-follow stats and every follower's stats.
    pub async fn ccr_stats(&self, params: &Params) -> ApiResult {
        let _ = (params.get("timeout"), params.get("master_timeout"));
        let human = params.bool("human", false)?;
        let names: Vec<String> = self.follows.lock().keys().cloned().collect();
        Ok(ApiResponse::ok(json!({
            "auto_follow_stats": self.auto_follow_stats(),
            "follow_stats": { "indices": self.follow_stats_of(&names, human) },
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_fields_sit_beside_the_raw_ones() {
        let mut shard = json!({"write_buffer_size_in_bytes": 1536, "bytes_read": 0,
            "total_read_time_millis": 1234, "total_write_time_millis": 0,
            "time_since_last_read_millis": -1, "lag_millis": 90_000, "shard_id": 0});
        add_human_fields(shard.as_object_mut().expect("an object"));
        assert_eq!(
            shard,
            json!({"write_buffer_size_in_bytes": 1536, "write_buffer_size": "1.5kb",
                "bytes_read": 0, "total_read": "0b",
                "total_read_time_millis": 1234, "total_read_time": "1.2s",
                "total_write_time_millis": 0, "total_write_time": "0s",
                "time_since_last_read_millis": -1, "time_since_last_read": "-1",
                "lag_millis": 90_000, "lag": "1.5m", "shard_id": 0})
        );
    }
}
