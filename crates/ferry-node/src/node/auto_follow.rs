//! Auto-follow on this node: the pattern API (`PUT/GET/DELETE /_ccr/auto_follow/<name>`,
//! `pause`, `resume`), the patterns' stats, and the coordinator that follows new leader
//! indices.
//!
//! Patterns live in the catalog (`ccr_records`, kind `auto_follow`) together with the
//! uuids of the leader indices each has followed, so a restart neither forgets a pattern
//! nor follows an index twice. The coordinator runs one loop per remote alias that has an
//! active pattern: it long-polls the remote's index list (`RemoteClusterState`, waiting
//! for a newer metadata version up to `ccr.wait_for_metadata_timeout`), re-fetching at
//! once when the patterns change, and hands each new state to [`Node::auto_follow_round`].
//! Deliberately not here: the pattern rules themselves (`ferry_replication::autofollow`)
//! and following (`ccr`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_catalog::CCR_AUTO_FOLLOW;
use ferry_replication::autofollow::{self, AutoFollowPattern, Decision, PatternError};
use ferry_replication::remote::state::{self, IndexSummary};
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use super::{ApiResponse, ApiResult, Node, body};
use crate::error::ApiError;
use crate::params::Params;

/// ES keeps this many recent auto-follow errors.
const MAX_RECENT_ERRORS: usize = 256;
/// How long a remote loop waits before retrying a failed state request.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// What one remote loop last saw.
#[derive(Debug, Clone)]
struct ClusterSeen {
    last_check: Instant,
    metadata_version: u64,
}

/// The counters of `auto_follow_stats`.
#[derive(Debug, Default)]
struct Counters {
    failed_follow_indices: u64,
    failed_remote_cluster_state_requests: u64,
    successful_follow_indices: u64,
    /// `(key, timestamp millis, error)`, oldest first, one entry per key.
    recent_errors: VecDeque<(String, u64, Value)>,
    clusters: BTreeMap<String, ClusterSeen>,
}

impl Counters {
    fn error(&mut self, key: String, error: Value) {
        self.recent_errors.retain(|(k, _, _)| *k != key);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.recent_errors.push_back((key, now, error));
        while self.recent_errors.len() > MAX_RECENT_ERRORS {
            self.recent_errors.pop_front();
        }
    }
}

/// The node's auto-follow state.
pub(crate) struct AutoFollow {
    /// Patterns by name; held while a round follows indices, so API calls and rounds do
    /// not interleave.
    patterns: tokio::sync::Mutex<BTreeMap<String, AutoFollowPattern>>,
    counters: parking_lot::Mutex<Counters>,
    /// Bumped whenever the patterns change: remote loops re-fetch at once.
    changed: tokio::sync::watch::Sender<u64>,
    loops: parking_lot::Mutex<HashMap<String, JoinHandle<()>>>,
}

impl Default for AutoFollow {
    fn default() -> Self {
        Self {
            patterns: tokio::sync::Mutex::new(BTreeMap::new()),
            counters: parking_lot::Mutex::new(Counters::default()),
            changed: tokio::sync::watch::channel(0).0,
            loops: parking_lot::Mutex::new(HashMap::new()),
        }
    }
}

impl AutoFollow {
    /// Stops every remote loop.
    pub(crate) fn shutdown(&self) {
        for (_, h) in self.loops.lock().drain() {
            h.abort();
        }
    }
}

fn pattern_not_found(name: &str) -> ApiError {
    ApiError::new(
        404,
        "resource_not_found_exception",
        format!("auto-follow pattern [{name}] is missing"),
    )
}

fn catalog_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

fn exception(e: &ApiError) -> Value {
    json!({"type": e.kind, "reason": e.reason})
}

impl Node {
    async fn store_pattern(&self, name: &str, p: &AutoFollowPattern) -> Result<(), ApiError> {
        let value = serde_json::to_value(p).map_err(catalog_error)?;
        self.catalog
            .put_ccr_record(CCR_AUTO_FOLLOW, name, &value)
            .await
            .map_err(catalog_error)
    }

    /// Loads the stored patterns and starts the coordinator (at start-up).
    pub async fn start_auto_follow(&self) -> Result<(), ApiError> {
        let stored = self
            .catalog
            .get_ccr_records(CCR_AUTO_FOLLOW)
            .await
            .map_err(catalog_error)?;
        let mut patterns = self.auto_follow.patterns.lock().await;
        for (name, v) in stored {
            match serde_json::from_value::<AutoFollowPattern>(v) {
                Ok(p) => {
                    patterns.insert(name, p);
                }
                Err(e) => {
                    tracing::error!(pattern = %name, error = %e, "stored auto-follow pattern is unreadable")
                }
            }
        }
        self.sync_loops(&patterns);
        Ok(())
    }

    /// Starts a loop for every remote with an active pattern, stops the others, and
    /// wakes the running ones.
    fn sync_loops(&self, patterns: &BTreeMap<String, AutoFollowPattern>) {
        let wanted: std::collections::BTreeSet<&str> = patterns
            .values()
            .filter(|p| p.active)
            .map(|p| p.remote_cluster.as_str())
            .collect();
        let mut loops = self.auto_follow.loops.lock();
        loops.retain(|alias, h| {
            let keep = wanted.contains(alias.as_str()) && !h.is_finished();
            if !keep {
                h.abort();
            }
            keep
        });
        for alias in wanted {
            if !loops.contains_key(alias) {
                let me = self.me.clone();
                let alias_owned = alias.to_owned();
                loops.insert(
                    alias.to_owned(),
                    tokio::spawn(async move { remote_loop(me, alias_owned).await }),
                );
            }
        }
        self.auto_follow.changed.send_modify(|v| *v += 1);
    }

    /// `PUT /_ccr/auto_follow/<name>`: validates, checks the remote, marks the leader
    /// indices that match now as already followed, stores the pattern.
    pub async fn put_auto_follow(&self, name: &str, body: Bytes) -> ApiResult {
        let body = body::required_object(&body)?;
        let mut pattern = autofollow::parse(name, &body).map_err(|e| match e {
            PatternError::Validation(lines) => ApiError::validation(&lines),
            PatternError::Parse(m) => ApiError::x_content_parse(m),
        })?;
        if let Some(s) = &pattern.settings {
            super::ccr::check_follower_overrides(s)?;
        }
        let remotes = self.cluster_settings.remotes();
        if !remotes.contains(&pattern.remote_cluster) {
            return Err(ApiError::new(
                404,
                "no_such_remote_cluster_exception",
                format!("no such remote cluster: [{}]", pattern.remote_cluster),
            ));
        }
        let channel = remotes.channel(&pattern.remote_cluster).ok_or_else(|| {
            ApiError::new(
                500,
                "connect_transport_exception",
                format!(
                    "unable to connect to remote cluster [{}]",
                    pattern.remote_cluster
                ),
            )
        })?;
        let remote = state::fetch(channel, None, Duration::ZERO)
            .await
            .map_err(|s| ApiError::new(500, "connect_transport_exception", s.message()))?;
        let mut patterns = self.auto_follow.patterns.lock().await;
        match patterns.get(name) {
            Some(previous) => {
                // Keep what was followed; only indices matching the new patterns now count
                // as existing.
                let mut only_new = pattern.clone();
                only_new
                    .leader_index_patterns
                    .retain(|p| !previous.leader_index_patterns.contains(p));
                only_new.mark_existing(&remote.indices);
                pattern.followed_leader_index_uuids = previous
                    .followed_leader_index_uuids
                    .union(&only_new.followed_leader_index_uuids)
                    .cloned()
                    .collect();
                pattern.active = previous.active;
            }
            None => pattern.mark_existing(&remote.indices),
        }
        self.store_pattern(name, &pattern).await?;
        patterns.insert(name.to_owned(), pattern);
        self.sync_loops(&patterns);
        tracing::info!(pattern = name, "auto-follow pattern stored");
        Ok(ApiResponse::ok(json!({"acknowledged": true})))
    }

    /// `GET /_ccr/auto_follow[/<name>]`.
    pub async fn get_auto_follow(&self, name: Option<&str>) -> ApiResult {
        let patterns = self.auto_follow.patterns.lock().await;
        let list: Vec<Value> = match name {
            Some(n) => {
                let p = patterns.get(n).ok_or_else(|| pattern_not_found(n))?;
                vec![json!({"name": n, "pattern": p.to_es_json()})]
            }
            None => patterns
                .iter()
                .map(|(n, p)| json!({"name": n, "pattern": p.to_es_json()}))
                .collect(),
        };
        Ok(ApiResponse::ok(json!({ "patterns": list })))
    }

    /// `DELETE /_ccr/auto_follow/<name>`: existing followers are left as they are.
    pub async fn delete_auto_follow(&self, name: &str) -> ApiResult {
        let mut patterns = self.auto_follow.patterns.lock().await;
        if !patterns.contains_key(name) {
            return Err(pattern_not_found(name));
        }
        self.catalog
            .delete_ccr_record(CCR_AUTO_FOLLOW, name)
            .await
            .map_err(catalog_error)?;
        patterns.remove(name);
        self.sync_loops(&patterns);
        tracing::info!(pattern = name, "auto-follow pattern deleted");
        Ok(ApiResponse::ok(json!({"acknowledged": true})))
    }

    /// `POST /_ccr/auto_follow/<name>/pause` (`active == false`) and `…/resume`.
    pub async fn set_auto_follow_active(&self, name: &str, active: bool) -> ApiResult {
        let mut patterns = self.auto_follow.patterns.lock().await;
        let mut p = patterns
            .get(name)
            .cloned()
            .ok_or_else(|| pattern_not_found(name))?;
        if p.active != active {
            p.active = active;
            self.store_pattern(name, &p).await?;
            patterns.insert(name.to_owned(), p);
            self.sync_loops(&patterns);
        }
        Ok(ApiResponse::ok(json!({"acknowledged": true})))
    }

    /// The `auto_follow_stats` object of `GET /_ccr/stats`.
    pub(super) fn auto_follow_stats(&self) -> Value {
        let c = self.auto_follow.counters.lock();
        let errors: Vec<Value> = c
            .recent_errors
            .iter()
            .map(|(k, ts, e)| json!({"leader_index": k, "timestamp": ts, "auto_follow_exception": e}))
            .collect();
        let clusters: Vec<Value> = c
            .clusters
            .iter()
            .map(|(alias, seen)| {
                json!({
                    "cluster_name": alias,
                    "time_since_last_check_millis":
                        u64::try_from(seen.last_check.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "last_seen_metadata_version": seen.metadata_version,
                })
            })
            .collect();
        json!({
            "number_of_failed_follow_indices": c.failed_follow_indices,
            "number_of_failed_remote_cluster_state_requests": c.failed_remote_cluster_state_requests,
            "number_of_successful_follow_indices": c.successful_follow_indices,
            "recent_auto_follow_errors": errors,
            "auto_followed_clusters": clusters,
        })
    }

    /// One coordinator round for remote `alias` in state `indices`: follows what the
    /// active patterns pick, records it, reports errors, prunes vanished leaders.
    async fn auto_follow_round(&self, alias: &str, indices: &[IndexSummary]) {
        let mut patterns = self.auto_follow.patterns.lock().await;
        let of_remote: Vec<(String, AutoFollowPattern)> = patterns
            .iter()
            .filter(|(_, p)| p.remote_cluster == alias)
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect();
        let mut dirty: BTreeMap<String, AutoFollowPattern> = BTreeMap::new();
        for (name, p) in &of_remote {
            let mut p = p.clone();
            if autofollow::prune_followed(&mut p, indices) {
                dirty.insert(name.clone(), p);
            }
        }
        for decision in autofollow::decide(&of_remote, indices) {
            let (pattern_name, leader_uuid) = match decision {
                Decision::Reject { leader, reason } => {
                    let e = ApiError::illegal_argument(reason);
                    let mut c = self.auto_follow.counters.lock();
                    c.failed_follow_indices += 1;
                    c.error(leader, exception(&e));
                    continue;
                }
                Decision::RejectAndRecord {
                    pattern,
                    leader,
                    leader_uuid,
                    reason,
                } => {
                    let e = ApiError::illegal_argument(reason);
                    let mut c = self.auto_follow.counters.lock();
                    c.failed_follow_indices += 1;
                    c.error(format!("{pattern}:{leader}"), exception(&e));
                    (pattern, leader_uuid)
                }
                Decision::Follow {
                    pattern,
                    leader,
                    leader_uuid,
                    follower,
                } => {
                    let p = &patterns[&pattern];
                    match self
                        .auto_follow_one(alias, p, &leader, &leader_uuid, &follower)
                        .await
                    {
                        Ok(()) => {
                            self.auto_follow.counters.lock().successful_follow_indices += 1;
                            tracing::info!(pattern = %pattern, %leader, %follower, "auto-followed a new leader index");
                            (pattern, leader_uuid)
                        }
                        Err(e) => {
                            tracing::warn!(pattern = %pattern, %leader, error = %e.reason, "auto-follow failed");
                            let mut c = self.auto_follow.counters.lock();
                            c.failed_follow_indices += 1;
                            c.error(format!("{pattern}:{leader}"), exception(&e));
                            continue;
                        }
                    }
                }
            };
            let entry = dirty
                .entry(pattern_name.clone())
                .or_insert_with(|| patterns[&pattern_name].clone());
            entry.followed_leader_index_uuids.insert(leader_uuid);
        }
        for (name, p) in dirty {
            if let Err(e) = self.store_pattern(&name, &p).await {
                tracing::warn!(pattern = %name, error = %e.reason, "could not store the auto-follow pattern");
            }
            patterns.insert(name, p);
        }
    }

    /// Follows one leader index for a pattern; an existing local follower of the same
    /// leader counts as done.
    async fn auto_follow_one(
        &self,
        alias: &str,
        p: &AutoFollowPattern,
        leader: &str,
        leader_uuid: &str,
        follower: &str,
    ) -> Result<(), ApiError> {
        let already = self.follows.lock().get(follower).is_some_and(|f| {
            f.record.remote_cluster == alias && f.record.leader_uuid == leader_uuid
        });
        if already {
            return Ok(());
        }
        let mut body = Map::new();
        body.insert("remote_cluster".into(), json!(alias));
        body.insert("leader_index".into(), json!(leader));
        if let Some(s) = &p.settings {
            body.insert("settings".into(), s.clone());
        }
        body.extend(p.parameters.clone());
        let bytes = Bytes::from(serde_json::to_vec(&Value::Object(body)).map_err(catalog_error)?);
        self.put_follow(follower, bytes, &Params::default())
            .await
            .map(|_| ())
    }

    fn auto_follow_seen(&self, alias: &str, metadata_version: u64) {
        self.auto_follow.counters.lock().clusters.insert(
            alias.to_owned(),
            ClusterSeen {
                last_check: Instant::now(),
                metadata_version,
            },
        );
    }

    fn auto_follow_state_failed(&self, alias: &str, reason: &str) {
        let mut c = self.auto_follow.counters.lock();
        c.failed_remote_cluster_state_requests += 1;
        c.error(
            alias.to_owned(),
            json!({"type": "connect_transport_exception", "reason": reason}),
        );
    }
}

/// The loop of one remote alias (see the module doc); ends with the node.
async fn remote_loop(node: std::sync::Weak<Node>, alias: String) {
    let mut since: Option<(String, u64)> = None;
    let Some(mut changed) = node.upgrade().map(|n| n.auto_follow.changed.subscribe()) else {
        return;
    };
    loop {
        let Some(n) = node.upgrade() else { return };
        let channel = n.cluster_settings.remotes().channel(&alias);
        let wait = n.recovery.wait_for_metadata_timeout();
        drop(n);
        let Some(channel) = channel else {
            tokio::time::sleep(RETRY_DELAY).await;
            continue;
        };
        changed.borrow_and_update();
        let fetch = state::fetch(channel, since.as_ref().map(|(e, v)| (e.as_str(), *v)), wait);
        let result = tokio::select! {
            r = fetch => r,
            _ = changed.changed() => {
                since = None;
                continue;
            }
        };
        let Some(n) = node.upgrade() else { return };
        match result {
            Ok(remote) => {
                n.auto_follow_seen(&alias, remote.metadata_version);
                n.auto_follow_round(&alias, &remote.indices).await;
                since = Some((remote.epoch, remote.metadata_version));
            }
            Err(s) => {
                tracing::debug!(remote = %alias, error = %s.message(), "remote cluster state request failed");
                n.auto_follow_state_failed(&alias, s.message());
                drop(n);
                since = None;
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }
}
