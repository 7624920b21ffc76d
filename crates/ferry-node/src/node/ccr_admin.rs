//! The CCR calls around following itself: `unfollow`, `promote`, `forget_follower`,
//! `_ccr/info`, `/_ccr/stats`, and what this node tells remote auto-followers about its
//! indices ([`LocalIndices`]).
//!
//! Deliberately not here: starting and driving follow tasks (`ccr`), auto-follow
//! (`auto_follow`).

use std::sync::Arc;

use bytes::Bytes;
use ferry_catalog::IndexState;
use ferry_proto::v1 as pb;
use ferry_proto::v1::replication_client::ReplicationClient;
use ferry_replication::remote::state::{IndexSummary, LocalIndices};
use serde_json::{Value, json};

use super::ccr::not_a_follower;
use super::names::ResolveOptions;
use super::{ApiResponse, ApiResult, Node, body};
use crate::error::ApiError;
use crate::params::Params;

/// How long removing one leader lease may take.
const LEASE_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn cannot_convert(follower: &str, why: &str) -> ApiError {
    ApiError::illegal_argument(format!(
        "cannot convert the follower index [{follower}] to a non-follower, because it has not been {why}"
    ))
}

impl Node {
    /// `POST /<follower>/_ccr/unfollow`: requires the follower paused and closed; turns it
    /// into a regular index, forgets the follow, then removes its leases on the leader.
    pub async fn unfollow(&self, follower: &str) -> ApiResult {
        let entry = self.require(follower)?;
        let record = {
            let follows = self.follows.lock();
            let f = follows
                .get(follower)
                .ok_or_else(|| not_a_follower(follower))?;
            if !f.is_paused() {
                return Err(cannot_convert(follower, "paused"));
            }
            f.record.clone()
        };
        if entry.is_open() {
            return Err(cannot_convert(follower, "closed"));
        }
        {
            let _admin = self.admin_lock().await?;
            let mut settings = entry.settings();
            settings.following_index = false;
            settings.copy_segments = false;
            let json = settings.to_es_json();
            let version = entry.snapshot().record.settings_version + 1;
            self.catalog
                .update_settings(&entry.uuid, &json, version)
                .await?;
            entry.update(|s| {
                s.record.settings = json;
                s.record.settings_version = version;
                s.settings = settings;
            });
            self.forget_follow(follower).await?;
            self.follows.lock().remove(follower);
        }
        self.changed();
        tracing::info!(follower, "follower index converted to a regular index");
        let failed = self.remove_leader_leases(&record).await;
        if failed.is_empty() {
            Ok(ApiResponse::ok(json!({"acknowledged": true})))
        } else {
            Err(ApiError::new(
                500,
                "exception",
                format!(
                    "failed to remove retention leases for follower index [{follower}] on leader index [{}] of remote cluster [{}]; call forget_follower on the leader",
                    record.leader_index, record.remote_cluster
                ),
            )
            .with("failed_to_remove_retention_leases", json!(failed)))
        }
    }

    /// Removes the follow's lease from every leader shard; answers the shards where that
    /// failed (a lease that is already gone counts as removed).
    async fn remove_leader_leases(&self, r: &super::ccr_store::FollowRecord) -> Vec<String> {
        let channel = self.cluster_settings.remotes().channel(&r.remote_cluster);
        let mut failed = Vec::new();
        for shard in 0..r.shards {
            let Some(channel) = channel.clone() else {
                failed.push(format!("[{}][{shard}]", r.leader_index));
                continue;
            };
            let mut req = tonic::Request::new(pb::RemoveRetentionLeaseRequest {
                leader_index: r.leader_index.clone(),
                shard,
                lease_id: r.lease_base.clone(),
            });
            req.set_timeout(LEASE_CALL_TIMEOUT);
            match ReplicationClient::new(channel)
                .remove_retention_lease(req)
                .await
            {
                Ok(_) => {}
                Err(s)
                    if ferry_replication::follow::leader_client::es_type_of(&s).as_deref()
                        == Some("retention_lease_not_found_exception") => {}
                Err(s) => {
                    tracing::warn!(leader = %r.leader_index, shard, error = %s.message(), "removing a retention lease failed");
                    failed.push(format!("[{}][{shard}]", r.leader_index));
                }
            }
        }
        failed
    }

    /// `POST /<follower>/_ccr/promote`: pause, close, unfollow and open as one call.
    /// A follower that is already paused or closed skips those steps.
    pub async fn promote(&self, follower: &str) -> ApiResult {
        let entry = self.require(follower)?;
        if !self.follows.lock().contains_key(follower) {
            return Err(not_a_follower(follower));
        }
        self.pause_tasks(follower).await?;
        let params = Params::default();
        if entry.is_open() {
            self.close_index(follower, &params).await?;
        }
        let unfollowed = self.unfollow(follower).await;
        self.open_index(follower, &params).await?;
        match unfollowed {
            Ok(_) => Ok(ApiResponse::ok(json!({"acknowledged": true}))),
            // Promoted; only the leader leases remain (forget_follower removes them).
            Err(e) if e.kind == "exception" => {
                tracing::warn!(follower, reason = %e.reason, "promoted; leader leases remain");
                Ok(ApiResponse::ok(
                    json!({"acknowledged": true, "retention_leases_removed": false}),
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /<leader>/_ccr/forget_follower`: removes a follower's lease from every shard
    /// of a leader index of this cluster.
    pub async fn forget_follower(&self, leader: &str, body: Bytes, params: &Params) -> ApiResult {
        let body = body::required_object(&body)?;
        let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let fields = [
            "follower_cluster",
            "follower_index",
            "follower_index_uuid",
            "leader_remote_cluster",
        ];
        let missing: Vec<String> = fields
            .iter()
            .filter(|k| field(k).is_none())
            .map(|k| format!("[{k}] is missing"))
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::validation(&missing));
        }
        let _ = params.get("timeout");
        let entry = self.require(leader)?;
        let handle = entry.handle()?;
        let lease = format!(
            "{}/{}/{}-following-{}/{}/{}",
            field("follower_cluster").unwrap_or_default(),
            field("follower_index").unwrap_or_default(),
            field("follower_index_uuid").unwrap_or_default(),
            field("leader_remote_cluster").unwrap_or_default(),
            entry.name,
            entry.uuid
        );
        let (mut ok, mut failures) = (0u64, Vec::new());
        for (n, shard) in handle.shards().iter().enumerate() {
            match shard.remove_retention_lease(&lease).await {
                Ok(()) | Err(ferry_index::IndexError::RetentionLeaseNotFound(_)) => ok += 1,
                Err(e) => {
                    let e = ApiError::from(e);
                    failures.push(
                        json!({"index": entry.name, "shard": n, "status": "INTERNAL_SERVER_ERROR",
                        "reason": {"type": e.kind, "reason": e.reason}}),
                    );
                }
            }
        }
        let total = handle.shards().len();
        let mut shards = json!({"total": total, "successful": ok, "failed": failures.len()});
        if !failures.is_empty() {
            shards["failures"] = json!(failures);
        }
        Ok(ApiResponse::ok(json!({ "_shards": shards })))
    }

    /// `GET /<index>/_ccr/info`: the follower indices among `expr`.
    pub async fn follow_info(&self, expr: &str, params: &Params) -> ApiResult {
        let defaults = ResolveOptions {
            expand: super::names::ExpandWildcards {
                open: true,
                closed: true,
            },
            ..ResolveOptions::STRICT_OPEN
        };
        let opts = ResolveOptions::from_params(params, defaults)?;
        let entries = self.resolve(Some(expr), opts)?;
        let follows = self.follows.lock();
        let list: Vec<Value> = entries
            .iter()
            .filter_map(|e| {
                let f = follows.get(&e.name)?;
                let mut v = json!({
                    "follower_index": e.name,
                    "remote_cluster": f.record.remote_cluster,
                    "leader_index": f.record.leader_index,
                    "status": if f.is_paused() { "paused" } else { "active" },
                });
                if !f.is_paused() {
                    v["parameters"] = Value::Object(f.params.to_es_json());
                }
                Some(v)
            })
            .collect();
        Ok(ApiResponse::ok(json!({ "follower_indices": list })))
    }
}

/// What this node tells remote auto-followers (`RemoteClusterState`).
pub struct NodeIndices(pub Arc<Node>);

impl LocalIndices for NodeIndices {
    fn indices(&self) -> Vec<IndexSummary> {
        self.0
            .entries()
            .iter()
            .map(|e| {
                let st = e.snapshot();
                IndexSummary {
                    name: e.name.clone(),
                    uuid: e.uuid.clone(),
                    open: st.record.state == IndexState::Open,
                    soft_deletes_enabled: true,
                    following: st.settings.following_index,
                }
            })
            .collect()
    }

    fn metadata_version(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.changes.subscribe()
    }
}
