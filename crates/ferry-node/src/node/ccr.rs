//! The follower side of cross-cluster replication on this node: `PUT /<f>/_ccr/follow`,
//! `pause_follow`, `resume_follow` and `GET /<f>/_ccr/stats`, and [`NodeFollowerShard`],
//! which lets a `ferry_replication` follow task write into a local index.
//!
//! A follow creates the follower index with the leader's shard count and mapping and
//! `index.xpack.ccr.following_index: true`, then starts one task per shard reading from
//! the follower's global checkpoint (seq_no 0 for a new follower).
//!
//! Deliberately not here (not done yet): bootstrap from the leader's files (the leader must
//! still retain its whole history, else the task stops with the fatal "Operations are no
//! longer available…" error), persisting follow configurations (a restart forgets them,
//! the index stays a read-only follower), replicating the leader's settings, unfollow,
//! `_ccr/info`, `/_ccr/stats` and auto-follow.

use std::sync::{Arc, Weak};

use bytes::Bytes;
use ferry_index::{IndexSettings, Mapping, ReplicatedOp};
use ferry_replication::follow::leader_client;
use ferry_replication::follow::{
    ErrorKind, FollowParameters, FollowerShard, ShardFollowConfig, ShardFollowTask, TaskError,
};
use serde_json::{Map, Value, json};

use super::settings_view::flatten_raw;
use super::{ApiResponse, ApiResult, Node, body, names::validate_index_name};
use crate::error::ApiError;
use crate::params::Params;

/// Settings a follower may set for itself (ES's non-replicated settings, the subset Ferry has).
const NON_REPLICATED: &[&str] = &[
    "index.number_of_replicas",
    "index.refresh_interval",
    "index.soft_deletes.retention_lease.period",
];

/// One follower index: what it follows and its shard tasks (empty while paused).
#[derive(Debug)]
pub(crate) struct Follow {
    remote_cluster: String,
    leader_index: String,
    lease_base: String,
    shards: u32,
    params: FollowParameters,
    tasks: Vec<ShardFollowTask>,
}

/// A follower shard of this node, as a follow task writes to it.
struct NodeFollowerShard {
    node: Weak<Node>,
    index: String,
    shard: u32,
}

fn task_error(e: &ApiError) -> TaskError {
    TaskError::new(e.kind.clone(), e.reason.clone())
}

impl NodeFollowerShard {
    fn node(&self) -> Result<Arc<Node>, ErrorKind> {
        self.node.upgrade().ok_or_else(|| {
            ErrorKind::Fatal(TaskError::new(
                "node_closed_exception",
                "node is shutting down",
            ))
        })
    }

    fn kind(e: &ApiError) -> ErrorKind {
        if e.kind == "index_not_found_exception" {
            ErrorKind::Fatal(task_error(e))
        } else {
            ErrorKind::Retryable(task_error(e))
        }
    }
}

impl FollowerShard for NodeFollowerShard {
    fn checkpoints(&self) -> Result<(i64, i64), TaskError> {
        let node = self
            .node
            .upgrade()
            .ok_or_else(|| TaskError::new("node_closed_exception", "node is shutting down"))?;
        let handle = node.require(&self.index).and_then(|e| e.handle());
        let handle = handle.map_err(|e| task_error(&e))?;
        let shard = handle.shards().get(self.shard as usize).ok_or_else(|| {
            TaskError::new(
                "shard_not_found_exception",
                format!("no shard [{}]", self.shard),
            )
        })?;
        Ok((shard.global_checkpoint(), shard.local_checkpoint()))
    }

    async fn apply(&self, ops: Vec<ReplicatedOp>) -> Result<(i64, i64), ErrorKind> {
        let node = self.node()?;
        let handle = node
            .require(&self.index)
            .and_then(|e| e.handle())
            .map_err(|e| Self::kind(&e))?;
        let outcome = handle
            .apply_replicated(self.shard, ops)
            .await
            .map_err(|e| Self::kind(&ApiError::from(e)))?;
        Ok((outcome.local_checkpoint, outcome.max_seq_no))
    }

    async fn merge_mapping(&self, mapping: Value) -> Result<(), ErrorKind> {
        let node = self.node()?;
        node.merge_leader_mapping(&self.index, &mapping)
            .await
            .map_err(|e| ErrorKind::Fatal(task_error(&e)))
    }
}

fn param_error(e: &ferry_replication::follow::FollowError) -> ApiError {
    ApiError::new(400, e.es_type(), e.to_string())
}

/// The follower's own settings from put-follow's `settings` (flattened, `index.`-prefixed);
/// any replicated setting is refused with ES's message.
fn follower_overrides(settings: Option<&Value>) -> Result<Map<String, Value>, ApiError> {
    let flat = settings.map(flatten_raw).unwrap_or_default();
    let overrides: Map<String, Value> = flat
        .into_iter()
        .map(|(k, v)| {
            let k = if k.starts_with("index.") {
                k
            } else {
                format!("index.{k}")
            };
            (k, v)
        })
        .collect();
    let refused: Vec<String> = overrides
        .iter()
        .filter(|(k, _)| !NON_REPLICATED.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_owned)))
        .collect();
    if refused.is_empty() {
        Ok(overrides)
    } else {
        Err(ApiError::illegal_argument(format!(
            "can not put follower index that could override leader settings {{{}}}",
            refused.join(", ")
        )))
    }
}

fn not_a_follower(index: &str) -> ApiError {
    ApiError::illegal_argument(format!("index [{index}] is not a follower index"))
}

impl Node {
    fn self_arc(&self) -> Result<Arc<Node>, ApiError> {
        self.me
            .upgrade()
            .ok_or_else(|| ApiError::unavailable("node is shutting down"))
    }

    /// Starts one task per shard of `follower` with `params`.
    fn start_tasks(&self, follower: &str, follow: &mut Follow) -> Result<(), ApiError> {
        let me = Arc::downgrade(&self.self_arc()?);
        let remotes = self.cluster_settings.remotes();
        follow.tasks = (0..follow.shards)
            .map(|shard| {
                let config = ShardFollowConfig {
                    remote_cluster: follow.remote_cluster.clone(),
                    leader_index: follow.leader_index.clone(),
                    follower_index: follower.to_owned(),
                    shard,
                    lease_id: follow.lease_base.clone(),
                    params: follow.params.clone(),
                };
                let target = Arc::new(NodeFollowerShard {
                    node: me.clone(),
                    index: follower.to_owned(),
                    shard,
                });
                ShardFollowTask::start(config, remotes.clone(), target)
            })
            .collect();
        Ok(())
    }

    /// `PUT /<follower>/_ccr/follow`.
    pub async fn put_follow(&self, follower: &str, body: Bytes, params: &Params) -> ApiResult {
        let body = body::parse_object(&body)?;
        validate_index_name(follower)?;
        if let Some(w) = params.get("wait_for_active_shards")
            && !matches!(w, "0" | "1" | "default" | "all")
        {
            return Err(ApiError::illegal_argument(format!(
                "wait_for_active_shards [{w}] is not supported yet"
            )));
        }
        let remote = body.get("remote_cluster").and_then(Value::as_str);
        let leader = body.get("leader_index").and_then(Value::as_str);
        let mut missing = Vec::new();
        if remote.is_none() {
            missing.push("remote_cluster is missing");
        }
        if leader.is_none() {
            missing.push("leader_index is missing");
        }
        let (Some(remote), Some(leader)) = (remote, leader) else {
            return Err(ApiError::validation(&missing));
        };
        let follow_params = FollowParameters::from_es_json(&body).map_err(|e| param_error(&e))?;
        for k in body.keys() {
            if k == "data_stream_name" {
                return Err(ApiError::illegal_argument(
                    "data_stream_name is not supported yet",
                ));
            }
        }
        let overrides = follower_overrides(body.get("settings"))?;
        let remotes = self.cluster_settings.remotes();
        if !remotes.contains(remote) {
            return Err(ApiError::new(
                404,
                "no_such_remote_cluster_exception",
                format!("no such remote cluster: [{remote}]"),
            ));
        }
        if let Some(e) = self.entry(follower) {
            return Err(ApiError::index_already_exists(&e.name, &e.uuid));
        }
        let channel = remotes.channel(remote).ok_or_else(|| {
            ApiError::new(
                500,
                "connect_transport_exception",
                format!("unable to connect to remote cluster [{remote}]"),
            )
        })?;
        let leader_meta = leader_client::get_index(channel, leader)
            .await
            .map_err(|s| match leader_client::es_type_of(&s) {
                Some(t) if t == "index_not_found_exception" => ApiError::index_not_found(leader),
                Some(t) => ApiError::new(400, &t, s.message()),
                None => ApiError::new(500, "connect_transport_exception", s.message().to_owned()),
            })?;
        let leader_settings = flatten_raw(&leader_meta["settings"]);
        let setting = |k: &str| leader_settings.get(k).and_then(Value::as_str);
        if setting("index.soft_deletes.enabled") == Some("false") {
            return Err(ApiError::illegal_argument(format!(
                "leader index [{leader}] does not have soft deletes enabled"
            )));
        }
        let shards = setting("index.number_of_shards")
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(|| {
                ApiError::illegal_argument(format!(
                    "leader index [{leader}] has no number_of_shards"
                ))
            })?;
        let leader_uuid = setting("index.uuid").unwrap_or("_na_").to_owned();
        let mut follower_settings = overrides.clone();
        follower_settings.insert("index.number_of_shards".into(), json!(shards));
        follower_settings.insert("index.xpack.ccr.following_index".into(), json!(true));
        let settings = IndexSettings::from_es_json(&Value::Object(follower_settings))?;
        let mapping = Mapping::from_es_json(&leader_meta["mappings"])?;

        let entry = {
            let _admin = self.admin_lock().await?;
            if let Some(e) = self.entry(follower) {
                return Err(ApiError::index_already_exists(&e.name, &e.uuid));
            }
            self.create_locked(follower, settings, mapping).await?
        };
        let lease_base = format!(
            "{}/{}/{}-following-{}/{}/{}",
            self.cluster.name, follower, entry.uuid, remote, leader, leader_uuid
        );
        let mut follow = Follow {
            remote_cluster: remote.to_owned(),
            leader_index: leader.to_owned(),
            lease_base,
            shards,
            params: follow_params,
            tasks: Vec::new(),
        };
        self.start_tasks(follower, &mut follow)?;
        self.follows.lock().insert(follower.to_owned(), follow);
        tracing::info!(follower, remote, leader, shards, "following started");
        Ok(ApiResponse::ok(json!({
            "follow_index_created": true,
            "follow_index_shards_acked": true,
            "index_following_started": true
        })))
    }

    /// `POST /<follower>/_ccr/pause_follow`.
    pub async fn pause_follow(&self, follower: &str) -> ApiResult {
        self.require(follower)?;
        let mut follows = self.follows.lock();
        let follow = follows
            .get_mut(follower)
            .ok_or_else(|| not_a_follower(follower))?;
        if follow.tasks.is_empty() {
            return Err(ApiError::illegal_argument(format!(
                "no shard follow tasks for [{follower}]"
            )));
        }
        for t in &follow.tasks {
            t.stop();
        }
        follow.tasks.clear();
        tracing::info!(follower, "following paused");
        Ok(ApiResponse::ok(json!({"acknowledged": true})))
    }

    /// `POST /<follower>/_ccr/resume_follow` (optional body: new follow parameters).
    pub async fn resume_follow(&self, follower: &str, body: Bytes) -> ApiResult {
        self.require(follower)?;
        let params = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let body = body::parse_object(&body)?;
            Some(FollowParameters::from_es_json(&body).map_err(|e| param_error(&e))?)
        };
        let mut follows = self.follows.lock();
        let follow = follows
            .get_mut(follower)
            .ok_or_else(|| not_a_follower(follower))?;
        if !follow.tasks.is_empty() {
            return Err(ApiError::illegal_argument(format!(
                "cannot resume following index [{follower}] because it is not paused"
            )));
        }
        if let Some(p) = params {
            follow.params = p;
        }
        self.start_tasks(follower, follow)?;
        tracing::info!(follower, "following resumed");
        Ok(ApiResponse::ok(json!({"acknowledged": true})))
    }

    /// `GET /<index>/_ccr/stats`: the follower indices among `expr` and their shard tasks.
    pub async fn follow_stats(&self, expr: &str, params: &Params) -> ApiResult {
        let opts = super::names::ResolveOptions::from_params(
            params,
            super::names::ResolveOptions::STRICT_OPEN,
        )?;
        let entries = self.resolve(Some(expr), opts)?;
        let follows = self.follows.lock();
        let mut indices = Vec::new();
        for e in entries {
            let Some(f) = follows.get(&e.name) else {
                continue;
            };
            let lag: i64 = f
                .tasks
                .iter()
                .map(ShardFollowTask::global_checkpoint_lag)
                .sum();
            let shards: Vec<Value> = f.tasks.iter().map(|t| Value::Object(t.stats())).collect();
            indices.push(json!({
                "index": e.name,
                "total_global_checkpoint_lag": lag,
                "shards": shards,
            }));
        }
        Ok(ApiResponse::ok(json!({ "indices": indices })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_accept_non_replicated_settings_and_refuse_the_rest() {
        let ok = follower_overrides(Some(&json!({"index": {"number_of_replicas": 1},
            "refresh_interval": "5s"})))
        .expect("non-replicated settings are allowed");
        assert_eq!(ok["index.number_of_replicas"], json!(1));
        assert_eq!(ok["index.refresh_interval"], json!("5s"));
        let err = follower_overrides(Some(&json!({"index.number_of_shards": 3})))
            .expect_err("shard count is replicated");
        assert_eq!(err.kind, "illegal_argument_exception");
        assert_eq!(
            err.reason,
            "can not put follower index that could override leader settings {index.number_of_shards=3}"
        );
        assert!(follower_overrides(None).expect("no settings").is_empty());
    }

    #[test]
    fn missing_fields_are_one_numbered_validation_error() {
        let e = ApiError::validation(&["remote_cluster is missing", "leader_index is missing"]);
        assert_eq!(e.kind, "action_request_validation_exception");
        assert_eq!(
            e.reason,
            "Validation Failed: 1: remote_cluster is missing;2: leader_index is missing;"
        );
    }
}
