//! The follower side of cross-cluster replication on this node: `PUT /<f>/_ccr/follow`,
//! `pause_follow`, `resume_follow`, `GET /<f>/_ccr/stats`, and resuming stored follows
//! when the node starts.
//!
//! A follow creates the follower index with the leader's shard count, replicated
//! settings and mapping and `index.xpack.ccr.following_index: true`, stores the follow in
//! the catalog (`ccr_store`), then starts one task per shard. A task whose follower shard
//! has nothing yet bootstraps it from a copy of the leader shard, then reads operations
//! from the copy's checkpoint; a restarted task reads from the shard's global checkpoint.
//!
//! Deliberately not here: unfollow, promote, info and the other calls (`ccr_admin`), the
//! shard adapter the tasks write through (`ccr_shard`), auto-follow (`auto_follow`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferry_index::{IndexSettings, Mapping};
use ferry_replication::follow::leader_client;
use ferry_replication::follow::{FollowParameters, ShardFollowConfig, ShardFollowTask, StartState};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::args::{self, ActiveShards};
use super::ccr_shard::NodeFollowerShard;
use super::ccr_store::{ACTIVE, FollowRecord, PAUSED};
use super::settings_view::flatten_raw;
use super::{ApiResponse, ApiResult, Node, body, names::validate_index_name};
use crate::error::ApiError;
use crate::params::Params;

/// Settings a follower may set for itself (ES's non-replicated settings, the subset Ferry has).
const NON_REPLICATED: &[&str] = &[
    "index.number_of_replicas",
    "index.refresh_interval",
    "index.soft_deletes.retention_lease.period",
    COPY_SEGMENTS,
];

/// Ferry's: the follower copies the leader's search segments instead of indexing what it
/// applies (true unless put-follow's `settings` say false).
const COPY_SEGMENTS: &str = IndexSettings::COPY_SEGMENTS;

/// Leader settings that describe the leader index itself and are never copied.
const LEADER_IDENTITY: &[&str] = &[
    "index.uuid",
    "index.creation_date",
    "index.creation_date_string",
    "index.provided_name",
    "index.version.created",
    "index.version.created_string",
    "index.verified_before_close",
    "index.xpack.ccr.following_index",
];

/// How long a follow waits for `wait_for_active_shards` unless `master_timeout` says.
const DEFAULT_MASTER_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether every shard task starts following (its bootstrap restored) within `timeout`;
/// false as soon as one fails or is stopped.
async fn all_following(starts: Vec<watch::Receiver<StartState>>, timeout: Duration) -> bool {
    let all = async {
        for mut start in starts {
            match start.wait_for(|s| *s != StartState::Starting).await {
                Ok(s) if *s == StartState::Following => {}
                _ => return false,
            }
        }
        true
    };
    tokio::time::timeout(timeout, all).await.unwrap_or(false)
}

/// One follower index: its stored record and its shard tasks (empty while paused).
#[derive(Debug)]
pub(crate) struct Follow {
    pub(super) record: FollowRecord,
    pub(super) params: FollowParameters,
    pub(super) tasks: Vec<ShardFollowTask>,
}

impl Follow {
    /// Whether the follow is paused (no tasks).
    pub(super) fn is_paused(&self) -> bool {
        self.tasks.is_empty()
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

/// Refuses follower `settings` that would override replicated leader settings.
pub(super) fn check_follower_overrides(settings: &Value) -> Result<(), ApiError> {
    follower_overrides(Some(settings)).map(|_| ())
}

pub(super) fn not_a_follower(index: &str) -> ApiError {
    ApiError::illegal_argument(format!("index [{index}] is not a follower index"))
}

/// The follower's settings: the leader's replicated settings, the follower's own
/// overrides, the leader's shard count, and the following flag.
fn follower_settings(
    leader: &Map<String, Value>,
    overrides: &Map<String, Value>,
) -> Result<IndexSettings, ApiError> {
    let mut settings: Map<String, Value> = leader
        .iter()
        .filter(|(k, _)| {
            !LEADER_IDENTITY.contains(&k.as_str()) && !NON_REPLICATED.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    settings.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    settings.entry(COPY_SEGMENTS).or_insert(json!(true));
    settings.insert("index.xpack.ccr.following_index".into(), json!(true));
    Ok(IndexSettings::from_es_json(&Value::Object(settings))?)
}

impl Node {
    pub(super) fn self_arc(&self) -> Result<Arc<Node>, ApiError> {
        self.me
            .upgrade()
            .ok_or_else(|| ApiError::unavailable("node is shutting down"))
    }

    /// Starts one task per shard of the follow.
    pub(super) fn start_tasks(&self, follow: &mut Follow) -> Result<(), ApiError> {
        let me = Arc::downgrade(&self.self_arc()?);
        let remotes = self.cluster_settings.remotes();
        let r = &follow.record;
        let staging = self
            .opts
            .data_dir
            .join("ccr-staging")
            .join(&r.follower_uuid);
        follow.tasks = (0..r.shards)
            .map(|shard| {
                let config = ShardFollowConfig {
                    remote_cluster: r.remote_cluster.clone(),
                    leader_index: r.leader_index.clone(),
                    follower_index: r.follower_index.clone(),
                    shard,
                    lease_id: r.lease_base.clone(),
                    params: follow.params.clone(),
                    recovery: self.recovery.clone(),
                    copy_throttle: self.copy_throttle.clone(),
                };
                let target = Arc::new(NodeFollowerShard {
                    node: me.clone(),
                    index: r.follower_index.clone(),
                    shard,
                    staging: staging.join(shard.to_string()),
                });
                ShardFollowTask::start(config, remotes.clone(), target)
            })
            .collect();
        Ok(())
    }

    /// Resumes every follow the catalog holds (at start-up): active ones get their tasks,
    /// paused ones are registered without. A follow whose index is gone is forgotten.
    pub async fn resume_stored_follows(&self) -> Result<(), ApiError> {
        for record in self.stored_follows().await? {
            let name = record.follower_index.clone();
            match self.entry(&name) {
                Some(e) if e.uuid == record.follower_uuid => {}
                _ => {
                    tracing::warn!(follower = %name, "stored follow names a missing index; forgetting it");
                    self.forget_follow(&name).await?;
                    continue;
                }
            }
            let params = record.params()?;
            let mut follow = Follow {
                record,
                params,
                tasks: Vec::new(),
            };
            if follow.record.status == ACTIVE {
                self.start_tasks(&mut follow)?;
            }
            tracing::info!(follower = %name, status = %follow.record.status, "stored follow resumed");
            self.follows.lock().insert(name, follow);
        }
        Ok(())
    }

    /// `PUT /<follower>/_ccr/follow`.
    pub async fn put_follow(&self, follower: &str, body: Bytes, params: &Params) -> ApiResult {
        let body = body::parse_object(&body)?;
        validate_index_name(follower)?;
        let wait = ActiveShards::from_params(params)?;
        let timeout = args::time(params, "master_timeout", DEFAULT_MASTER_TIMEOUT)?;
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
        if body.contains_key("data_stream_name") {
            return Err(ApiError::illegal_argument(
                "data_stream_name is not supported yet",
            ));
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
        let settings = follower_settings(&leader_settings, &overrides)?;
        let mapping = Mapping::from_es_json(&leader_meta["mappings"])?;
        // Copies per shard to wait for; a follow waits for none unless asked (ES).
        let copies = wait.copies(settings.number_of_replicas, 0);

        let entry = {
            let _admin = self.admin_lock().await?;
            if let Some(e) = self.entry(follower) {
                return Err(ApiError::index_already_exists(&e.name, &e.uuid));
            }
            self.create_locked(follower, settings, mapping).await?
        };
        let record = FollowRecord {
            follower_index: follower.to_owned(),
            follower_uuid: entry.uuid.clone(),
            remote_cluster: remote.to_owned(),
            leader_index: leader.to_owned(),
            lease_base: format!(
                "{}/{}/{}-following-{}/{}/{}",
                self.cluster.name, follower, entry.uuid, remote, leader, leader_uuid
            ),
            leader_uuid,
            shards,
            status: ACTIVE.to_owned(),
            parameters: follow_params.to_es_json(),
        };
        self.store_follow(&record).await?;
        let mut follow = Follow {
            record,
            params: follow_params,
            tasks: Vec::new(),
        };
        self.start_tasks(&mut follow)?;
        let starts: Vec<_> = follow
            .tasks
            .iter()
            .map(ShardFollowTask::start_state)
            .collect();
        self.follows.lock().insert(follower.to_owned(), follow);
        tracing::info!(follower, remote, leader, shards, "following started");
        // As ES: without a wait the answer comes before the bootstrap copy is restored, so
        // neither the shards nor the following have started yet. This node holds one copy
        // of each shard, so more than one copy is never acknowledged.
        let following = copies > 0 && all_following(starts, timeout).await;
        Ok(ApiResponse::ok(json!({
            "follow_index_created": true,
            "follow_index_shards_acked": following && copies <= 1,
            "index_following_started": following
        })))
    }

    /// Stops the tasks of `follower` and records it as paused; `Ok(false)` when it was
    /// already paused.
    pub(super) async fn pause_tasks(&self, follower: &str) -> Result<bool, ApiError> {
        let record = {
            let mut follows = self.follows.lock();
            let follow = follows
                .get_mut(follower)
                .ok_or_else(|| not_a_follower(follower))?;
            if follow.is_paused() {
                return Ok(false);
            }
            for t in &follow.tasks {
                t.stop();
            }
            follow.tasks.clear();
            follow.record.status = PAUSED.to_owned();
            follow.record.clone()
        };
        self.store_follow(&record).await?;
        tracing::info!(follower, "following paused");
        Ok(true)
    }

    /// `POST /<follower>/_ccr/pause_follow`.
    pub async fn pause_follow(&self, follower: &str) -> ApiResult {
        self.require(follower)?;
        if !self.pause_tasks(follower).await? {
            return Err(ApiError::illegal_argument(format!(
                "no shard follow tasks for [{follower}]"
            )));
        }
        Ok(ApiResponse::ok(json!({"acknowledged": true})))
    }

    /// `POST /<follower>/_ccr/resume_follow` (optional body: new follow parameters).
    pub async fn resume_follow(&self, follower: &str, body: Bytes) -> ApiResult {
        let entry = self.require(follower)?;
        let params = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let body = body::parse_object(&body)?;
            Some(FollowParameters::from_es_json(&body).map_err(|e| param_error(&e))?)
        };
        if !entry.is_open() {
            return Err(ApiError::index_closed(&entry.name, &entry.uuid));
        }
        let record = {
            let mut follows = self.follows.lock();
            let follow = follows
                .get_mut(follower)
                .ok_or_else(|| not_a_follower(follower))?;
            if !follow.is_paused() {
                return Err(ApiError::illegal_argument(format!(
                    "cannot resume following index [{follower}] because it is not paused"
                )));
            }
            if let Some(p) = params {
                follow.record.parameters = p.to_es_json();
                follow.params = p;
            }
            follow.record.status = ACTIVE.to_owned();
            self.start_tasks(follow)?;
            follow.record.clone()
        };
        self.store_follow(&record).await?;
        tracing::info!(follower, "following resumed");
        Ok(ApiResponse::ok(json!({"acknowledged": true})))
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
