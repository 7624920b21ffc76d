//! The bootstrap step of a follow task's start-up (spec `ccr.md` §6): for a new follower
//! shard, or one re-bootstrapping in place after it fell behind the leader's history.
//!
//! 1. Take the CCR retention lease with `RETAIN_ALL` *before* the copy is pinned: add; if
//!    it exists, renew; if the renewal finds nothing, add again. Every operation after the
//!    copy's checkpoint is then still on the leader when the task reads from there.
//! 2. Fetch the copy ([`CopyFetch`]), renewing the lease every 30s until the copy is
//!    restored, then release the leader's session.
//! 3. Merge the leader's mapping (the session's, read after the copy was pinned, so at
//!    least the mapping its documents were written with) before restoring them.
//! 4. Restore the copy, then hand the planner its start: the follower's checkpoints
//!    after the restore and the copy's metadata versions and history UUID.
//!
//! Deliberately not here: the fetch mechanics ([`super::bootstrap`]) and what happens
//! after the start event ([`super::runner`]).

use std::sync::Arc;

use tracing::{debug, info, warn};

use super::bootstrap::{ChannelSource, CopyFetch};
use super::bootstrap_stats::BootstrapState;
use super::events::{ErrorKind, Event};
use super::leader_client::{self, CopySession, classify, es_type_of};
use super::planner::LEASE_RENEW_INTERVAL;
use super::runner::{Runner, not_connected};
use super::task::{FollowerShard, ShardFollowConfig};
use crate::remote::RemoteClusters;

/// Elasticsearch's `RETAIN_ALL`: whatever history the leader shard retains now.
const RETAIN_ALL: i64 = -1;

impl<S: FollowerShard> Runner<S> {
    /// Bootstraps the follower shard (whose global checkpoint is `gcp`) from a copy of the
    /// leader shard; answers the planner's start event.
    pub(super) async fn bootstrap(&mut self, gcp: i64) -> Result<Event, ErrorKind> {
        let stats = self.shared.lock().bootstrap.clone();
        if stats.lock().state != BootstrapState::Copying {
            stats.lock().begin();
        }
        let mut retained = bootstrap_lease(&self.remotes, &self.config, gcp).await?;
        let remotes = self.remotes.clone();
        let alias = self.config.remote_cluster.clone();
        let channels: ChannelSource = Arc::new(move || remotes.channel(&alias));
        let mut fetch = CopyFetch::new(
            &self.config,
            channels,
            self.shard.staging_dir(),
            stats.clone(),
        );
        let work = restore(&mut fetch, &self.config, self.shard.as_ref());
        tokio::pin!(work);
        let mut renew = tokio::time::interval(LEASE_RENEW_INTERVAL);
        renew.tick().await; // immediate: the lease was just taken
        let done = loop {
            tokio::select! {
                done = &mut work => break done,
                _ = renew.tick() => {
                    renew_during_copy(&self.remotes, &self.config, &mut retained).await;
                }
            }
        };
        let (session, (follower_gcp, follower_max_seq_no)) = match done {
            Ok(done) => done,
            Err(e) => {
                stats.lock().end(BootstrapState::Failed);
                return Err(e);
            }
        };
        stats.lock().end(BootstrapState::Done);
        info!(
            checkpoint = session.checkpoint,
            follower_checkpoint = follower_gcp,
            "bootstrap done, following the leader's history"
        );
        self.history_uuid = session.history_uuid.clone();
        Ok(Event::Start {
            follower_global_checkpoint: follower_gcp,
            follower_max_seq_no,
            leader_global_checkpoint: session.checkpoint.max(follower_gcp),
            follower_mapping_version: session.mapping_version,
            follower_settings_version: 0,
        })
    }
}

/// Step 1: the lease, retaining everything the leader shard retains now; answers the
/// retaining seq_no to renew it with while the copy runs. (A free function: the runner is
/// not `Sync`, so no `&Runner` may live across an await.)
async fn bootstrap_lease(
    remotes: &RemoteClusters,
    c: &ShardFollowConfig,
    gcp: i64,
) -> Result<i64, ErrorKind> {
    let channel = remotes
        .channel(&c.remote_cluster)
        .ok_or_else(|| not_connected(&c.remote_cluster))?;
    let call = |retain: i64, renew: bool| task_lease(&channel, c, retain, renew);
    let exists = match call(RETAIN_ALL, false).await {
        Ok(held) => return Ok(held),
        Err(s) => match es_type_of(&s).as_deref() {
            Some("retention_lease_already_exists_exception") => s,
            _ => return Err(classify(&s)),
        },
    };
    debug!(reason = %exists.message(), "the retention lease exists, renewing it");
    match call(RETAIN_ALL, true).await {
        Ok(held) => Ok(held),
        Err(s) => match es_type_of(&s).as_deref() {
            Some("retention_lease_not_found_exception") => {
                call(RETAIN_ALL, false).await.map_err(|s| classify(&s))
            }
            // It retains from further on than the leader's oldest operation: taken by
            // an earlier run of this follower at its checkpoint, which the copy's
            // checkpoint cannot be below. Keep it as it is.
            Some("illegal_argument_exception") => Ok(gcp.saturating_add(1).max(0)),
            _ => Err(classify(&s)),
        },
    }
}

/// Steps 2–4 without the lease: fetch, release, mapping, restore.
async fn restore<S: FollowerShard>(
    fetch: &mut CopyFetch,
    config: &ShardFollowConfig,
    shard: &S,
) -> Result<(CopySession, (i64, i64)), ErrorKind> {
    let session = fetch.fetch().await?.clone();
    fetch.close_session().await;
    let mapping = session.mapping.clone();
    fetch
        .retrying(|| shard.merge_mapping(mapping.clone()))
        .await?;
    let checkpoints = fetch.apply(shard, &config.params).await?;
    Ok((session, checkpoints))
}

/// Adds (or, with `renew`, renews) the task's lease on its leader shard, retaining from
/// `retain` on; answers the retaining seq_no the leader holds.
async fn task_lease(
    channel: &tonic::transport::Channel,
    c: &ShardFollowConfig,
    retain: i64,
    renew: bool,
) -> Result<i64, tonic::Status> {
    let (index, id) = (&c.leader_index, &c.lease_id);
    leader_client::lease(channel.clone(), index, c.shard, id, retain, renew).await
}

/// The 30s renewal while the copy runs: renew at the retaining seq_no the lease holds
/// (re-adding it with `RETAIN_ALL` if it is gone).
async fn renew_during_copy(remotes: &RemoteClusters, c: &ShardFollowConfig, retained: &mut i64) {
    let Some(channel) = remotes.channel(&c.remote_cluster) else {
        debug!("remote cluster not connected, lease renewal skipped");
        return;
    };
    let call = |retain: i64, renew: bool| task_lease(&channel, c, retain, renew);
    match call(*retained, true).await {
        Ok(held) => *retained = held,
        Err(s) if es_type_of(&s).as_deref() == Some("retention_lease_not_found_exception") => {
            match call(RETAIN_ALL, false).await {
                Ok(held) => *retained = held,
                Err(s) => {
                    warn!(error = %s.message(), "re-adding the retention lease during the copy failed")
                }
            }
        }
        Err(s) => debug!(error = %s.message(), "retention lease renewal during the copy failed"),
    }
}
