//! Tables for the remote-cluster and CCR answers: `_remote/info`, `_ccr/info`,
//! `_ccr/stats` (of indices or of the cluster) and auto-follow patterns.
//!
//! Every cell comes from an Elasticsearch JSON field; a field the answer lacks shows as `-`.
//! A body of an unexpected shape gives `None`, and the caller prints the JSON instead.
//! Pure functions: nothing here prints.

use serde_json::{Map, Value};

use super::{cell, table};

/// `_remote/info`: alias, connected, mode, seeds (or the proxy address), remote cluster name.
pub(super) fn remote_table(json: &Value) -> Option<String> {
    let remotes = json.as_object()?;
    if remotes.is_empty() {
        return Some("no remote clusters".to_owned());
    }
    let mut rows = Vec::new();
    for (alias, info) in remotes {
        let info = info.as_object()?;
        let addresses = match info.get("seeds") {
            Some(Value::Array(seeds)) => join(seeds),
            _ => field(info, "proxy_address"),
        };
        rows.push(vec![
            alias.clone(),
            field(info, "connected"),
            field(info, "mode"),
            addresses,
            field(info, "cluster_name"),
        ]);
    }
    Some(table(
        &["alias", "connected", "mode", "seeds", "cluster"],
        &rows,
    ))
}

/// `_ccr/info`: follower, remote, leader, status.
pub(super) fn follow_info_table(json: &Value) -> Option<String> {
    let followers = json.get("follower_indices")?.as_array()?;
    if followers.is_empty() {
        return Some("no follower indices".to_owned());
    }
    let mut rows = Vec::new();
    for f in followers {
        let f = f.as_object()?;
        rows.push(vec![
            field(f, "follower_index"),
            field(f, "remote_cluster"),
            field(f, "leader_index"),
            field(f, "status"),
        ]);
    }
    Some(table(&["follower", "remote", "leader", "status"], &rows))
}

/// `<index>/_ccr/stats` or `/_ccr/stats`: an auto-follow summary line when the answer has
/// one, then one row per follower shard task (paused followers have none and are not
/// listed; `ccr info` shows them).
pub(super) fn follow_stats_table(json: &Value) -> Option<String> {
    let indices = json
        .get("indices")
        .or_else(|| json.get("follow_stats")?.get("indices"))?
        .as_array()?;
    let mut out = String::new();
    if let Some(auto) = json.get("auto_follow_stats").and_then(Value::as_object) {
        out.push_str(&format!(
            "auto-follow: {} followed, {} failed, {} failed remote requests\n",
            field(auto, "number_of_successful_follow_indices"),
            field(auto, "number_of_failed_follow_indices"),
            field(auto, "number_of_failed_remote_cluster_state_requests"),
        ));
    }
    let mut rows = Vec::new();
    for index in indices {
        let index = index.as_object()?;
        let shards = match index.get("shards") {
            Some(Value::Array(shards)) => shards,
            _ => return None,
        };
        for shard in shards {
            rows.push(shard_row(index, shard.as_object()?));
        }
    }
    if rows.is_empty() {
        out.push_str("no follower indices\n");
    } else {
        out.push_str(&table(
            &[
                "follower",
                "shard",
                "leader_gcp",
                "follower_gcp",
                "lag_ops",
                "lag_millis",
                "status",
            ],
            &rows,
        ));
    }
    Some(out)
}

fn shard_row(index: &Map<String, Value>, shard: &Map<String, Value>) -> Vec<String> {
    let follower = shard
        .get("follower_index")
        .map(cell)
        .unwrap_or_else(|| field(index, "index"));
    let checkpoint = |k: &str| shard.get(k).and_then(Value::as_i64);
    let lag = match (
        checkpoint("leader_global_checkpoint"),
        checkpoint("follower_global_checkpoint"),
    ) {
        (Some(leader), Some(follower)) => (leader - follower).max(0).to_string(),
        _ => "-".to_owned(),
    };
    vec![
        follower,
        field(shard, "shard_id"),
        field(shard, "leader_global_checkpoint"),
        field(shard, "follower_global_checkpoint"),
        lag,
        field(shard, "lag_millis"),
        shard_status(shard),
    ]
}

/// `fatal: <type>: <reason>`, `retrying (<n>): <type>: <reason>` for the latest read
/// failure, or `active`.
fn shard_status(shard: &Map<String, Value>) -> String {
    let describe = |e: &Value| {
        let part = |k: &str| e.get(k).map(cell).unwrap_or_else(|| "-".to_owned());
        format!("{}: {}", part("type"), part("reason"))
    };
    if let Some(fatal) = shard.get("fatal_exception").filter(|v| !v.is_null()) {
        return format!("fatal: {}", describe(fatal));
    }
    let latest = shard
        .get("read_exceptions")
        .and_then(Value::as_array)
        .and_then(|list| list.last());
    match latest {
        Some(read) => format!(
            "retrying ({}): {}",
            read.get("retries")
                .map(cell)
                .unwrap_or_else(|| "-".to_owned()),
            describe(read.get("exception").unwrap_or(&Value::Null))
        ),
        None => "active".to_owned(),
    }
}

/// Auto-follow patterns: name, active, remote, patterns, exclusions, follow pattern.
pub(super) fn auto_follow_table(json: &Value) -> Option<String> {
    let patterns = json.get("patterns")?.as_array()?;
    if patterns.is_empty() {
        return Some("no auto-follow patterns".to_owned());
    }
    let mut rows = Vec::new();
    for p in patterns {
        let name = p.get("name").map(cell).unwrap_or_else(|| "-".to_owned());
        let pattern = p.get("pattern")?.as_object()?;
        let list = |k: &str| match pattern.get(k) {
            Some(Value::Array(items)) if !items.is_empty() => join(items),
            _ => "-".to_owned(),
        };
        rows.push(vec![
            name,
            field(pattern, "active"),
            field(pattern, "remote_cluster"),
            list("leader_index_patterns"),
            list("leader_index_exclusion_patterns"),
            field(pattern, "follow_index_pattern"),
        ]);
    }
    Some(table(
        &[
            "name",
            "active",
            "remote",
            "patterns",
            "exclusions",
            "follow_pattern",
        ],
        &rows,
    ))
}

/// A field as a cell; absent or `null` is `-`.
fn field(obj: &Map<String, Value>, key: &str) -> String {
    obj.get(key)
        .filter(|v| !v.is_null())
        .map(cell)
        .unwrap_or_else(|| "-".to_owned())
}

/// A list as one cell, comma-separated.
fn join(items: &[Value]) -> String {
    items.iter().map(cell).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests;
