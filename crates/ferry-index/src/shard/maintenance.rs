//! A shard's background tasks: the scheduled refresh, and housekeeping (pruning
//! history, durable commits that let the Raft log be purged).
//!
//! The refresh task follows `index.refresh_interval` as it changes (`-1` or `0` means no
//! scheduled refresh). Housekeeping wakes every [`HOUSEKEEPING_EVERY`] and proposes a
//! prune only when one could do something (a lease expired, or a superseded history
//! entry lies below what must be retained), so an idle shard adds nothing to its log;
//! then it asks Raft for a snapshot if anything was applied since the last one. Both
//! stop when the shard's stop signal flips. Nothing here decides *what* is pruned: that
//! is the state machine's deterministic rule.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{ShardCore, now_millis};
use crate::leases;

/// How often housekeeping runs.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(30);

/// Spawns the shard's background tasks.
pub(super) fn spawn(core: &Arc<ShardCore>, stop: &watch::Sender<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(refresh_loop(core.clone(), stop.subscribe())),
        tokio::spawn(housekeeping_loop(core.clone(), stop.subscribe())),
    ]
}

/// Resolves once the stop signal is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn refresh_loop(core: Arc<ShardCore>, mut stop: watch::Receiver<bool>) {
    let mut settings = core.settings.subscribe();
    loop {
        let interval = settings
            .borrow_and_update()
            .refresh_interval
            .filter(|d| !d.is_zero());
        let tick = async {
            match interval {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stopped(&mut stop) => return,
            changed = settings.changed() => if changed.is_err() { return },
            () = tick => {
                if let Err(e) = core.feed.scheduled_refresh().await {
                    tracing::error!(shard = core.number, error = %e, "scheduled refresh failed");
                }
            }
        }
    }
}

async fn housekeeping_loop(core: Arc<ShardCore>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            _ = every.tick() => housekeeping(&core).await,
        }
    }
}

async fn housekeeping(core: &ShardCore) {
    match prune_would_help(core) {
        Ok(true) => {
            if let Err(e) = core.prune().await {
                tracing::warn!(shard = core.number, error = %e, "pruning history failed");
            }
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(shard = core.number, error = %e, "checking history retention failed")
        }
    }
    let log = core.raft.log_pointers();
    if log.applied > log.snapshot
        && let Err(e) = core.raft.trigger_snapshot().await
    {
        tracing::warn!(shard = core.number, error = %e, "requesting a durable commit failed");
    }
}

/// Whether a prune now would expire a lease or delete history.
fn prune_would_help(core: &ShardCore) -> crate::Result<bool> {
    let period = core.settings.borrow().retention_lease_period;
    let period = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
    let now = now_millis();
    let all = core.store.leases()?;
    if all.iter().any(|l| leases::is_expired(l, now, period)) {
        return Ok(true);
    }
    let threshold = leases::retained_from(&all, core.store.state().local_checkpoint());
    Ok(core
        .store
        .first_superseded()?
        .is_some_and(|s| s < threshold))
}
