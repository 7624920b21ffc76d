//! Request bodies of the remote-cluster and CCR commands: cluster settings for
//! `remote set|remove`, and the follow, auto-follow and forget-follower bodies.
//!
//! A body given whole (`--body`) is the starting point; flags and follow parameters
//! override its keys. Nothing here checks values (a seed's port, a size, a pattern): the
//! server validates them and answers Elasticsearch errors. Nothing here talks to the network.

use std::collections::HashMap;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use super::parse_json;
use crate::cli::{ForgetFollower, RemoteMode, RemoteSet};

/// ES's follow parameters (plus Ferry's `auto_rebootstrap`): body fields of follow, resume
/// and auto-follow requests, never query parameters.
pub const FOLLOW_PARAMETERS: &[&str] = &[
    "max_read_request_operation_count",
    "max_outstanding_read_requests",
    "max_read_request_size",
    "max_write_request_operation_count",
    "max_write_request_size",
    "max_outstanding_write_requests",
    "max_write_buffer_count",
    "max_write_buffer_size",
    "max_retry_delay",
    "read_poll_timeout",
    "auto_rebootstrap",
];

/// The follow parameters that are integers in ES's JSON.
const INTEGER_PARAMETERS: &[&str] = &[
    "max_read_request_operation_count",
    "max_outstanding_read_requests",
    "max_write_request_operation_count",
    "max_outstanding_write_requests",
    "max_write_buffer_count",
];

const SNIFF_KEYS: &[&str] = &["seeds", "node_connections"];
const PROXY_KEYS: &[&str] = &["proxy_address", "server_name", "proxy_socket_connections"];

/// Splits `-p` parameters into query parameters and follow parameters (as JSON values:
/// integers and booleans typed when they parse, anything else a string for the server to
/// judge).
pub fn split_follow_parameters(
    params: HashMap<String, String>,
) -> (HashMap<String, String>, Map<String, Value>) {
    let mut query = HashMap::new();
    let mut follow = Map::new();
    for (key, value) in params {
        if !FOLLOW_PARAMETERS.contains(&key.as_str()) {
            query.insert(key, value);
            continue;
        }
        let typed = if INTEGER_PARAMETERS.contains(&key.as_str()) {
            value
                .parse::<i64>()
                .map_or_else(|_| json!(value), |n| json!(n))
        } else if key == "auto_rebootstrap" {
            value
                .parse::<bool>()
                .map_or_else(|_| json!(value), |b| json!(b))
        } else {
            json!(value)
        };
        follow.insert(key, typed);
    }
    (query, follow)
}

/// `PUT /_cluster/settings` for `remote set`: the keys given, in the chosen scope. Giving
/// `--mode`, or a key of one mode, sets `mode` and clears the other mode's keys.
pub fn remote_set_body(set: &RemoteSet) -> anyhow::Result<Vec<u8>> {
    let mode = set.mode.or_else(|| {
        if set.proxy_address.is_some()
            || set.server_name.is_some()
            || set.proxy_socket_connections.is_some()
        {
            Some(RemoteMode::Proxy)
        } else if !set.seeds.is_empty() || set.node_connections.is_some() {
            Some(RemoteMode::Sniff)
        } else {
            None
        }
    });
    let key = |suffix: &str| format!("cluster.remote.{}.{suffix}", set.alias);
    let mut settings = Map::new();
    if let Some(mode) = mode {
        let other = match mode {
            RemoteMode::Sniff => PROXY_KEYS,
            RemoteMode::Proxy => SNIFF_KEYS,
        };
        for suffix in other {
            settings.insert(key(suffix), Value::Null);
        }
        settings.insert(key("mode"), json!(mode.as_str()));
    }
    if !set.seeds.is_empty() {
        settings.insert(key("seeds"), json!(set.seeds));
    }
    let optional = [
        ("node_connections", set.node_connections.map(|n| json!(n))),
        (
            "proxy_address",
            set.proxy_address.as_ref().map(|a| json!(a)),
        ),
        ("server_name", set.server_name.as_ref().map(|s| json!(s))),
        (
            "proxy_socket_connections",
            set.proxy_socket_connections.map(|n| json!(n)),
        ),
        ("skip_unavailable", set.skip_unavailable.map(|b| json!(b))),
        ("credentials", set.credentials.as_ref().map(|c| json!(c))),
    ];
    for (suffix, value) in optional {
        if let Some(value) = value {
            settings.insert(key(suffix), value);
        }
    }
    if settings.is_empty() {
        bail!("remote set [{}] names no setting to change", set.alias);
    }
    encode(
        &json!({ scope(set.transient): settings }),
        "cluster settings",
    )
}

/// `PUT /_cluster/settings` for `remote remove`: every setting of the alias, in the scope.
pub fn remote_remove_body(alias: &str, transient: bool) -> anyhow::Result<Vec<u8>> {
    let body = json!({ scope(transient): { format!("cluster.remote.{alias}.*"): null } });
    encode(&body, "cluster settings")
}

fn scope(transient: bool) -> &'static str {
    if transient { "transient" } else { "persistent" }
}

/// The put-follow body: `input` (or `{}`), then `remote_cluster`, `leader_index`, the
/// `settings` overrides and the follow parameters.
pub fn follow_body(
    input: Option<Vec<u8>>,
    remote: Option<&str>,
    leader: Option<&str>,
    settings: &[(String, String)],
    follow: Map<String, Value>,
) -> anyhow::Result<Vec<u8>> {
    let mut body = object(input, "follow body")?;
    if let Some(remote) = remote {
        body.insert("remote_cluster".into(), json!(remote));
    }
    if let Some(leader) = leader {
        body.insert("leader_index".into(), json!(leader));
    }
    add_settings(&mut body, settings)?;
    body.extend(follow);
    encode(&Value::Object(body), "follow body")
}

/// The resume-follow body: empty (keep the follower's parameters) when neither a body nor
/// a follow parameter is given, else `input` with the parameters set.
pub fn resume_body(input: Option<Vec<u8>>, follow: Map<String, Value>) -> anyhow::Result<Vec<u8>> {
    let blank = input
        .as_deref()
        .is_none_or(|b| b.iter().all(u8::is_ascii_whitespace));
    if blank && follow.is_empty() {
        return Ok(Vec::new());
    }
    let mut body = object(input, "resume body")?;
    body.extend(follow);
    encode(&Value::Object(body), "resume body")
}

/// What `ccr auto-follow put` sets besides the body it may start from.
#[derive(Debug, Default)]
pub struct AutoFollowFields<'a> {
    /// `remote_cluster`.
    pub remote: Option<&'a str>,
    /// `leader_index_patterns` (replaces the body's when not empty).
    pub patterns: &'a [String],
    /// `leader_index_exclusion_patterns` (replaces the body's when not empty).
    pub exclusions: &'a [String],
    /// `follow_index_pattern`.
    pub follow_pattern: Option<&'a str>,
    /// `settings` overrides.
    pub settings: &'a [(String, String)],
}

/// The put-auto-follow-pattern body: `input` (or `{}`) with the fields and follow parameters.
pub fn auto_follow_body(
    input: Option<Vec<u8>>,
    fields: &AutoFollowFields<'_>,
    follow: Map<String, Value>,
) -> anyhow::Result<Vec<u8>> {
    let mut body = object(input, "auto-follow body")?;
    if let Some(remote) = fields.remote {
        body.insert("remote_cluster".into(), json!(remote));
    }
    if !fields.patterns.is_empty() {
        body.insert("leader_index_patterns".into(), json!(fields.patterns));
    }
    if !fields.exclusions.is_empty() {
        body.insert(
            "leader_index_exclusion_patterns".into(),
            json!(fields.exclusions),
        );
    }
    if let Some(pattern) = fields.follow_pattern {
        body.insert("follow_index_pattern".into(), json!(pattern));
    }
    add_settings(&mut body, fields.settings)?;
    body.extend(follow);
    encode(&Value::Object(body), "auto-follow body")
}

/// The forget-follower body: the four fields that make up the follower's lease id.
pub fn forget_follower_body(f: &ForgetFollower) -> anyhow::Result<Vec<u8>> {
    let body = json!({
        "follower_cluster": f.follower_cluster,
        "follower_index": f.follower_index,
        "follower_index_uuid": f.follower_index_uuid,
        "leader_remote_cluster": f.leader_remote_cluster,
    });
    encode(&body, "forget-follower body")
}

/// `input` as a JSON object; absent or blank input is `{}`.
fn object(input: Option<Vec<u8>>, what: &str) -> anyhow::Result<Map<String, Value>> {
    match input.as_deref() {
        None => Ok(Map::new()),
        Some(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Some(bytes) => match parse_json(bytes, what)? {
            Value::Object(obj) => Ok(obj),
            _ => bail!("{what} must be a JSON object"),
        },
    }
}

/// Adds `key: value` pairs to the body's `settings` object (created when absent).
fn add_settings(
    body: &mut Map<String, Value>,
    settings: &[(String, String)],
) -> anyhow::Result<()> {
    if settings.is_empty() {
        return Ok(());
    }
    let Value::Object(target) = body.entry("settings").or_insert_with(|| json!({})) else {
        bail!("`settings` in the body must be a JSON object");
    };
    for (key, value) in settings {
        target.insert(key.clone(), json!(value));
    }
    Ok(())
}

fn encode(body: &Value, what: &str) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(body).with_context(|| format!("cannot encode the {what}"))
}

#[cfg(test)]
mod tests;
