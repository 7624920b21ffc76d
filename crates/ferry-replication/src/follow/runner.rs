//! The body of one shard-follow task (see [`super::task`]): the event loop that feeds the
//! planner, spawns the leader calls, bulk applies, timers and lease renewals its commands
//! ask for, and keeps the op bodies the planner does not see.
//!
//! Deliberately not here: the task handle, its stats rendering and the follower trait
//! ([`super::task`]), the bootstrap step of start-up ([`super::bootstrap_run`]), and the
//! calls' wire format ([`super::leader_client`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use ferry_index::ReplicatedOp;
use parking_lot::Mutex;
use serde_json::json;
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, warn};

use super::backoff::RandJitter;
use super::events::{Command, ErrorKind, Event, OpMeta, TaskError};
use super::leader_client::{self, classify, es_type_of};
use super::planner::{LEASE_RENEW_INTERVAL, ShardFollowPlanner};
use super::task::{FollowerShard, ShardFollowConfig, Shared, StartState};
use crate::remote::RemoteClusters;

/// What a spawned call answered: the planner's event, plus the op bodies and history
/// UUID of a read.
struct Done {
    event: Event,
    bodies: Vec<ReplicatedOp>,
    history_uuid: Option<String>,
}

impl From<Event> for Done {
    fn from(event: Event) -> Self {
        Self {
            event,
            bodies: Vec::new(),
            history_uuid: None,
        }
    }
}

/// The fatal error type of a read whose operations the leader no longer retains.
const FELL_BEHIND: &str = "resource_not_found_exception";

/// How [`Runner::follow`] ended.
enum Ended {
    /// The task stopped (fatal error); stats keep the reason.
    Stopped,
    /// The follower fell behind the leader's history and re-bootstraps.
    FellBehind,
}

/// The state of the running task.
pub(super) struct Runner<S> {
    pub(super) planner: ShardFollowPlanner,
    pub(super) config: ShardFollowConfig,
    pub(super) remotes: Arc<RemoteClusters>,
    pub(super) shard: Arc<S>,
    pub(super) shared: Arc<Mutex<Shared>>,
    /// Op bodies read but not yet handed to a write, by seq_no.
    pub(super) bodies: BTreeMap<i64, ReplicatedOp>,
    /// Bodies of outstanding writes (kept for retries).
    pub(super) writes: HashMap<u64, Vec<ReplicatedOp>>,
    pub(super) history_uuid: String,
    /// Bootstrap at the next start-up even though the shard has operations (an in-place
    /// re-bootstrap).
    pub(super) rebootstrap: bool,
    /// Where start-up stands, for callers waiting until the shard follows.
    pub(super) started: tokio::sync::watch::Sender<StartState>,
}

pub(super) fn not_connected(alias: &str) -> ErrorKind {
    ErrorKind::Retryable(TaskError::new(
        "no_such_remote_cluster_exception",
        format!("remote cluster [{alias}] is not connected"),
    ))
}

impl<S: FollowerShard> Runner<S> {
    fn publish(&self) {
        let stats = self.planner.stats();
        let behind = stats.follower_global_checkpoint < stats.leader_global_checkpoint;
        let next = stats.follower_global_checkpoint + 1;
        // The leader's apply time of the next operation the follower needs, when it is
        // in hand (read, or in a write not yet acknowledged).
        let next_ts = self
            .bodies
            .get(&next)
            .or_else(|| {
                self.writes
                    .values()
                    .filter_map(|batch| batch.first())
                    .find(|op| i64::try_from(op.seq_no).is_ok_and(|s| s == next))
            })
            .map(|op| op.timestamp_millis)
            .filter(|ts| *ts > 0);
        let mut shared = self.shared.lock();
        shared.stats = stats.to_es_json();
        let clocks = &mut shared.clocks;
        if !behind {
            clocks.last_synced = Some(Instant::now());
        }
        clocks.behind_since_millis = match (behind, next_ts, clocks.behind_since_millis) {
            (false, _, _) => None,
            (true, Some(ts), _) => Some(ts),
            (true, None, Some(since)) => Some(since),
            (true, None, None) => Some(super::task::now_millis()),
        };
    }

    /// Starts (bootstrapping first when the follower shard is new), follows, and — with
    /// `auto_rebootstrap` — bootstraps the shard again in place whenever it falls behind
    /// the leader's retained history.
    pub(super) async fn run(mut self) {
        loop {
            let Some(start) = self.start().await else {
                self.started.send_replace(StartState::Failed);
                return;
            };
            self.started.send_replace(StartState::Following);
            match self.follow(start).await {
                Ended::Stopped => return,
                Ended::FellBehind => self.prepare_rebootstrap(),
            }
        }
    }

    /// Runs [`Self::start_up`] until it succeeds (retryable failures wait
    /// `max_retry_delay`); `None` when it failed fatally (the stats show why).
    async fn start(&mut self) -> Option<Event> {
        loop {
            match self.start_up().await {
                Ok(event) => return Some(event),
                Err(ErrorKind::Fatal(e)) => {
                    warn!(reason = %e.reason, "follow task cannot start");
                    self.planner.handle(Event::Start {
                        follower_global_checkpoint: -1,
                        follower_max_seq_no: -1,
                        leader_global_checkpoint: -1,
                        follower_mapping_version: 0,
                        follower_settings_version: 0,
                    });
                    let _ = self.planner.handle(Event::Pause);
                    let mut m = self.planner.stats().to_es_json();
                    m.insert(
                        "fatal_exception".into(),
                        json!({"type": e.es_type, "reason": e.reason}),
                    );
                    self.shared.lock().stats = m;
                    return None;
                }
                Err(ErrorKind::Retryable(e)) => {
                    debug!(reason = %e.reason, "follow task start-up failed, retrying");
                    tokio::time::sleep(self.config.params.max_retry_delay.duration()).await;
                }
            }
        }
    }

    /// Whether the planner stopped because the leader no longer has the operations the
    /// follower needs, and the follow parameters ask for a re-bootstrap then.
    fn should_rebootstrap(&self) -> bool {
        self.config.params.auto_rebootstrap
            && self
                .planner
                .stats()
                .fatal_exception
                .is_some_and(|e| e.es_type == FELL_BEHIND)
    }

    /// Forgets the failed follow state; the next start-up bootstraps the shard again.
    fn prepare_rebootstrap(&mut self) {
        info!(
            "follower fell behind the leader's retained history, bootstrapping the shard again in place"
        );
        self.planner =
            ShardFollowPlanner::new(&self.config.params, Box::new(RandJitter::from_os()));
        self.bodies.clear();
        self.writes.clear();
        self.history_uuid.clear();
        self.rebootstrap = true;
        self.shared.lock().bootstrap.lock().rebootstraps += 1;
        self.publish();
    }

    /// The event loop from `start` on, until the planner stops.
    async fn follow(&mut self, start: Event) -> Ended {
        info!("follow task started");
        let mut pending: JoinSet<Done> = JoinSet::new();
        let mut commands = self.planner.handle(start);
        let mut lease_tick = tokio::time::interval(LEASE_RENEW_INTERVAL);
        lease_tick.tick().await; // the first tick is immediate; the lease was just taken
        loop {
            self.publish();
            for command in std::mem::take(&mut commands) {
                if let Some(event) = self.execute(command, &mut pending) {
                    commands.extend(self.planner.handle(event));
                }
            }
            if self.planner.is_failed() {
                if self.should_rebootstrap() {
                    // Dropping `pending` aborts the reads and writes in flight.
                    return Ended::FellBehind;
                }
                self.publish();
                return Ended::Stopped;
            }
            if !commands.is_empty() {
                continue;
            }
            let event = tokio::select! {
                Some(done) = pending.join_next() => match done {
                    Ok(done) => self.absorb(done),
                    Err(e) => {
                        warn!(error = %e, "follow sub-task ended abnormally");
                        continue;
                    }
                },
                _ = lease_tick.tick() => Event::LeaseTick,
            };
            commands = self.planner.handle(event);
            self.prune_bodies();
        }
    }

    /// §4.1: follower checkpoints, the retention lease, then the start event; a new (or
    /// re-bootstrapping) follower shard first restores a copy of the leader shard (§6).
    async fn start_up(&mut self) -> Result<Event, ErrorKind> {
        let (gcp, max_seq_no) = self.shard.checkpoints().map_err(ErrorKind::Retryable)?;
        if gcp < 0 || self.rebootstrap {
            let start = self.bootstrap(gcp).await?;
            self.rebootstrap = false;
            return Ok(start);
        }
        let channel = self
            .remotes
            .channel(&self.config.remote_cluster)
            .ok_or_else(|| not_connected(&self.config.remote_cluster))?;
        let c = &self.config;
        let retain = gcp + 1;
        match leader_client::lease(
            channel.clone(),
            &c.leader_index,
            c.shard,
            &c.lease_id,
            retain,
            false,
        )
        .await
        {
            Ok(_) => {}
            Err(s)
                if es_type_of(&s).as_deref()
                    == Some("retention_lease_already_exists_exception") =>
            {
                if let Err(s) = leader_client::lease(
                    channel,
                    &c.leader_index,
                    c.shard,
                    &c.lease_id,
                    retain,
                    true,
                )
                .await
                {
                    debug!(error = %s.message(), "renewing the existing lease at start failed");
                }
            }
            Err(s) => return Err(classify(&s)),
        }
        Ok(Event::Start {
            follower_global_checkpoint: gcp,
            follower_max_seq_no: max_seq_no,
            leader_global_checkpoint: gcp,
            follower_mapping_version: 0,
            follower_settings_version: 0,
        })
    }

    /// Carries out one command: spawns the IO ones, answers the immediate ones.
    fn execute(&mut self, command: Command, pending: &mut JoinSet<Done>) -> Option<Event> {
        let c = self.config.clone();
        match command {
            Command::Read {
                from,
                max_ops,
                max_bytes,
                poll_timeout,
            } => {
                let channel = self.remotes.channel(&c.remote_cluster);
                let uuid = self.history_uuid.clone();
                let shared = self.shared.clone();
                pending.spawn(async move {
                    let Some(channel) = channel else {
                        return Event::ReadFailed {
                            from,
                            error: not_connected(&c.remote_cluster),
                        }
                        .into();
                    };
                    let began = Instant::now();
                    let r = leader_client::read_ops(
                        channel,
                        &c.leader_index,
                        c.shard,
                        from,
                        max_ops,
                        max_bytes,
                        poll_timeout,
                        &uuid,
                    )
                    .await;
                    {
                        let mut s = shared.lock();
                        s.clocks.read_millis += elapsed_millis(began);
                        s.clocks.last_read = Some(Instant::now());
                    }
                    match r {
                        Ok(answer) => Done {
                            event: Event::ReadDone {
                                from,
                                ops: answer
                                    .ops
                                    .iter()
                                    .map(|op| OpMeta {
                                        seq_no: i64::try_from(op.seq_no).unwrap_or(i64::MAX),
                                        size_bytes: size_of(op),
                                    })
                                    .collect(),
                                leader_global_checkpoint: answer.global_checkpoint,
                                leader_max_seq_no: answer.max_seq_no,
                                mapping_version: answer.mapping_version,
                                settings_version: answer.settings_version,
                            },
                            bodies: answer.ops,
                            history_uuid: Some(answer.history_uuid),
                        },
                        Err(s) => Event::ReadFailed {
                            from,
                            error: classify(&s),
                        }
                        .into(),
                    }
                });
                None
            }
            Command::Write { id, ops } => {
                let batch = match self.writes.get(&id) {
                    Some(batch) => batch.clone(),
                    None => {
                        let batch: Vec<ReplicatedOp> = ops
                            .iter()
                            .filter_map(|m| self.bodies.remove(&m.seq_no))
                            .collect();
                        self.writes.insert(id, batch.clone());
                        batch
                    }
                };
                let shard = self.shard.clone();
                let shared = self.shared.clone();
                pending.spawn(async move {
                    let began = Instant::now();
                    let r = shard.apply(batch).await;
                    shared.lock().clocks.write_millis += elapsed_millis(began);
                    match r {
                        Ok((gcp, max_seq_no)) => Event::WriteDone {
                            id,
                            follower_global_checkpoint: gcp,
                            follower_max_seq_no: max_seq_no,
                        },
                        Err(error) => Event::WriteFailed { id, error },
                    }
                    .into()
                });
                None
            }
            Command::UpdateMapping { version } => {
                let channel = self.remotes.channel(&c.remote_cluster);
                let shard = self.shard.clone();
                let settings_version = self.planner.stats().follower_settings_version;
                pending.spawn(async move {
                    let Some(channel) = channel else {
                        return Event::MetadataUpdateFailed {
                            error: not_connected(&c.remote_cluster),
                        }
                        .into();
                    };
                    let index = match leader_client::get_index(channel, &c.leader_index).await {
                        Ok(v) => v,
                        Err(s) => {
                            return Event::MetadataUpdateFailed {
                                error: classify(&s),
                            }
                            .into();
                        }
                    };
                    let mapping = index.get("mappings").cloned().unwrap_or_else(|| json!({}));
                    match shard.merge_mapping(mapping).await {
                        // Fetched after the read that asked for `version`, so at least as new.
                        Ok(()) => Event::MetadataUpdated {
                            mapping_version: version,
                            settings_version,
                        },
                        Err(error) => Event::MetadataUpdateFailed { error },
                    }
                    .into()
                });
                None
            }
            Command::UpdateSettings { version } => Some(Event::MetadataUpdated {
                mapping_version: self.planner.stats().follower_mapping_version,
                settings_version: version,
            }),
            Command::ScheduleRetry { after, token } => {
                pending.spawn(async move {
                    tokio::time::sleep(after).await;
                    Event::RetryTimerFired { token }.into()
                });
                None
            }
            Command::RenewLease { retaining_seq_no } => {
                // The planner names the follower's global checkpoint; the lease keeps what
                // comes after it (as ES's renewal, and as the lease was taken), so a
                // renewal never asks for less than the lease holds.
                let retaining_seq_no = retaining_seq_no.saturating_add(1);
                let channel = self.remotes.channel(&c.remote_cluster);
                tokio::spawn(
                    async move {
                        let Some(channel) = channel else { return };
                        let call = |renew| {
                            leader_client::lease(
                                channel.clone(),
                                &c.leader_index,
                                c.shard,
                                &c.lease_id,
                                retaining_seq_no.max(0),
                                renew,
                            )
                        };
                        match call(true).await {
                            Ok(_) => {}
                            Err(s) if es_type_of(&s).as_deref()
                                == Some("retention_lease_not_found_exception") =>
                            {
                                if let Err(s) = call(false).await {
                                    warn!(error = %s.message(), "re-adding the retention lease failed");
                                }
                            }
                            Err(s) => debug!(error = %s.message(), "retention lease renewal failed"),
                        }
                    }
                    .in_current_span(),
                );
                None
            }
            Command::Fatal { error } => {
                if self.config.params.auto_rebootstrap && error.es_type == FELL_BEHIND {
                    info!(reason = %error.reason, "follower fell behind the leader's history");
                } else {
                    warn!(kind = %error.es_type, reason = %error.reason, "follow task stopped on a fatal error");
                }
                None
            }
        }
    }

    /// Keeps the bodies of a read answer (the planner sees only [`OpMeta`]) and forgets
    /// those of a finished write.
    fn absorb(&mut self, done: Done) -> Event {
        if let Some(uuid) = done.history_uuid {
            self.history_uuid = uuid;
        }
        for op in done.bodies {
            let seq_no = i64::try_from(op.seq_no).unwrap_or(i64::MAX);
            self.bodies.entry(seq_no).or_insert(op);
        }
        if let Event::WriteDone { id, .. } = &done.event {
            self.writes.remove(id);
        }
        done.event
    }

    /// Drops bodies at or below the follower's checkpoint (stale or duplicate reads).
    fn prune_bodies(&mut self) {
        let gcp = self.planner.stats().follower_global_checkpoint;
        self.bodies = self.bodies.split_off(&(gcp + 1));
    }
}

fn elapsed_millis(began: Instant) -> u64 {
    u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The size estimate of one op (source plus id and fixed fields).
fn size_of(op: &ReplicatedOp) -> u64 {
    (op.source.as_ref().map_or(0, |s| s.len()) + op.id.len() + 32) as u64
}
