//! The shard-follow task of §4 as a plain state machine: `handle(event) -> Vec<Command>`.
//! It decides which leader ranges to read, buffers what comes back in seq_no order,
//! batches bulk writes, gates ops behind the metadata they need, retries with back-off and
//! stops on fatal errors.
//!
//! Deliberately not here: any IO, clocks or timers (the runtime carries out the commands
//! and reports back), op bodies, and the start-up steps before [`Event::Start`]. It never
//! issues two outstanding reads whose ranges overlap and never drops a requested range:
//! a failed read is retried as is, a short read re-reads exactly its remainder.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::backoff::{Jitter, retry_delay};
use super::events::{Command, ErrorKind, Event, OpMeta, RetryToken, TaskError};
use super::params::FollowParameters;
use super::stats::{ReadException, ShardFollowStats};

mod coordinate;

/// How often the runtime sends [`Event::LeaseTick`] (ES's renew interval).
pub const LEASE_RENEW_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NotStarted,
    Running,
    Paused,
    Failed,
}

/// An outstanding read (keyed by its current `from`).
#[derive(Debug, Clone)]
struct OutstandingRead {
    /// `maxRequired`: a response stopping short of this is followed by a remainder read.
    required_to: i64,
    max_ops: u32,
    retries: u32,
}

impl OutstandingRead {
    /// The highest seq_no this read can return.
    fn upper(&self, from: i64) -> i64 {
        from + i64::from(self.max_ops) - 1
    }
}

#[derive(Debug, Clone)]
struct OutstandingWrite {
    ops: Vec<OpMeta>,
    retries: u32,
}

/// A read response waiting for the follower's metadata to catch up.
#[derive(Debug, Clone)]
struct Deferred {
    from: i64,
    ops: Vec<OpMeta>,
    leader_global_checkpoint: i64,
    leader_max_seq_no: i64,
    mapping_version: u64,
    settings_version: u64,
}

/// The limits of [`FollowParameters`] as the planner uses them.
#[derive(Debug, Clone)]
struct Limits {
    read_ops: u32,
    read_bytes: u64,
    outstanding_reads: usize,
    write_ops: usize,
    write_bytes: u64,
    outstanding_writes: usize,
    buffer_count: usize,
    buffer_bytes: u64,
    retry_cap: Duration,
    poll_timeout: Duration,
}

/// The planner of one follower shard.
pub struct ShardFollowPlanner {
    limits: Limits,
    jitter: Box<dyn Jitter>,
    phase: Phase,
    pub(super) stats: ShardFollowStats,
    reads: BTreeMap<i64, OutstandingRead>,
    writes: BTreeMap<u64, OutstandingWrite>,
    next_write_id: u64,
    buffer: BTreeMap<i64, OpMeta>,
    buffer_bytes: u64,
    deferred: VecDeque<Deferred>,
    metadata_in_flight: Option<Command>,
    metadata_retries: u32,
}

impl std::fmt::Debug for ShardFollowPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardFollowPlanner")
            .field("phase", &self.phase)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl ShardFollowPlanner {
    /// A planner for `params`, drawing back-off jitter from `jitter`.
    pub fn new(params: &FollowParameters, jitter: Box<dyn Jitter>) -> Self {
        let limits = Limits {
            read_ops: params.max_read_request_operation_count,
            read_bytes: FollowParameters::bytes_of(&params.max_read_request_size),
            outstanding_reads: params.max_outstanding_read_requests as usize,
            write_ops: params.max_write_request_operation_count as usize,
            write_bytes: FollowParameters::bytes_of(&params.max_write_request_size),
            outstanding_writes: params.max_outstanding_write_requests as usize,
            buffer_count: params.max_write_buffer_count as usize,
            buffer_bytes: FollowParameters::bytes_of(&params.max_write_buffer_size),
            retry_cap: params.max_retry_delay.duration(),
            poll_timeout: params.read_poll_timeout.duration(),
        };
        Self {
            limits,
            jitter,
            phase: Phase::NotStarted,
            stats: ShardFollowStats::default(),
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            next_write_id: 0,
            buffer: BTreeMap::new(),
            buffer_bytes: 0,
            deferred: VecDeque::new(),
            metadata_in_flight: None,
            metadata_retries: 0,
        }
    }

    /// Whether the task stopped on a fatal error.
    pub fn is_failed(&self) -> bool {
        self.phase == Phase::Failed
    }

    /// Feeds one event; returns what the runtime must do, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Command> {
        let mut out = Vec::new();
        match (self.phase, event) {
            (
                Phase::NotStarted,
                Event::Start {
                    follower_global_checkpoint,
                    follower_max_seq_no,
                    leader_global_checkpoint,
                    follower_mapping_version,
                    follower_settings_version,
                },
            ) => {
                self.phase = Phase::Running;
                let s = &mut self.stats;
                s.follower_global_checkpoint = follower_global_checkpoint;
                s.follower_max_seq_no = follower_max_seq_no;
                s.last_requested_seq_no = follower_global_checkpoint;
                s.leader_global_checkpoint =
                    leader_global_checkpoint.max(follower_global_checkpoint);
                s.leader_max_seq_no = s.leader_global_checkpoint;
                s.follower_mapping_version = follower_mapping_version;
                s.follower_settings_version = follower_settings_version;
                self.coordinate_reads(&mut out);
            }
            (
                Phase::Running,
                Event::ReadDone {
                    from,
                    ops,
                    leader_global_checkpoint,
                    leader_max_seq_no,
                    mapping_version,
                    settings_version,
                },
            ) => {
                if !self.reads.contains_key(&from) {
                    return out; // stale: not a read this planner has outstanding
                }
                let response = Deferred {
                    from,
                    ops,
                    leader_global_checkpoint,
                    leader_max_seq_no,
                    mapping_version,
                    settings_version,
                };
                if self.metadata_satisfied(&response) {
                    self.apply_read(response, &mut out);
                } else {
                    self.deferred.push_back(response);
                    self.request_metadata(&mut out);
                }
            }
            (Phase::Running, Event::ReadFailed { from, error }) => {
                let Some(read) = self.reads.get_mut(&from) else {
                    return out;
                };
                match error {
                    ErrorKind::Retryable(e) => {
                        read.retries += 1;
                        let retries = read.retries;
                        self.stats.failed_read_requests += 1;
                        self.record_read_exception(from, retries, e);
                        let after =
                            retry_delay(retries, self.limits.retry_cap, self.jitter.as_mut());
                        out.push(Command::ScheduleRetry {
                            after,
                            token: RetryToken::Read { from },
                        });
                    }
                    ErrorKind::Fatal(e) => self.fail(e, &mut out),
                }
            }
            (
                Phase::Running,
                Event::WriteDone {
                    id,
                    follower_global_checkpoint,
                    follower_max_seq_no,
                },
            ) => {
                let Some(write) = self.writes.remove(&id) else {
                    return out;
                };
                let s = &mut self.stats;
                s.follower_global_checkpoint =
                    s.follower_global_checkpoint.max(follower_global_checkpoint);
                s.follower_max_seq_no = s.follower_max_seq_no.max(follower_max_seq_no);
                s.successful_write_requests += 1;
                s.operations_written += write.ops.len() as u64;
                self.coordinate_writes(&mut out);
                self.coordinate_reads(&mut out);
            }
            (Phase::Running, Event::WriteFailed { id, error }) => {
                let Some(write) = self.writes.get_mut(&id) else {
                    return out;
                };
                match error {
                    ErrorKind::Retryable(_) => {
                        write.retries += 1;
                        let retries = write.retries;
                        self.stats.failed_write_requests += 1;
                        let after =
                            retry_delay(retries, self.limits.retry_cap, self.jitter.as_mut());
                        out.push(Command::ScheduleRetry {
                            after,
                            token: RetryToken::Write { id },
                        });
                    }
                    ErrorKind::Fatal(e) => self.fail(e, &mut out),
                }
            }
            (Phase::Running, Event::RetryTimerFired { token }) => self.retry(token, &mut out),
            (
                Phase::Running,
                Event::MetadataUpdated {
                    mapping_version,
                    settings_version,
                },
            ) => {
                let s = &mut self.stats;
                s.follower_mapping_version = s.follower_mapping_version.max(mapping_version);
                s.follower_settings_version = s.follower_settings_version.max(settings_version);
                self.metadata_in_flight = None;
                self.metadata_retries = 0;
                let waiting = std::mem::take(&mut self.deferred);
                for response in waiting {
                    if self.metadata_satisfied(&response) {
                        self.apply_read(response, &mut out);
                    } else {
                        self.deferred.push_back(response);
                    }
                }
                self.request_metadata(&mut out);
            }
            (Phase::Running, Event::MetadataUpdateFailed { error }) => match error {
                ErrorKind::Retryable(_) => {
                    self.metadata_retries += 1;
                    let after = retry_delay(
                        self.metadata_retries,
                        self.limits.retry_cap,
                        self.jitter.as_mut(),
                    );
                    out.push(Command::ScheduleRetry {
                        after,
                        token: RetryToken::Metadata,
                    });
                }
                ErrorKind::Fatal(e) => self.fail(e, &mut out),
            },
            (Phase::Running, Event::LeaseTick) => {
                out.push(Command::RenewLease {
                    retaining_seq_no: self.stats.follower_global_checkpoint,
                });
            }
            (Phase::NotStarted | Phase::Running, Event::Pause) => {
                self.phase = Phase::Paused;
                self.reads.clear();
                self.writes.clear();
                self.buffer.clear();
                self.buffer_bytes = 0;
                self.deferred.clear();
                self.metadata_in_flight = None;
            }
            // Not started yet, paused or failed: nothing to do.
            _ => {}
        }
        out
    }

    /// A snapshot of the §3 shard stats this planner knows.
    pub fn stats(&self) -> ShardFollowStats {
        let mut s = self.stats.clone();
        s.outstanding_read_requests = self.reads.len() as u64;
        s.outstanding_write_requests = self.writes.len() as u64;
        s.write_buffer_operation_count = self.buffer.len() as u64;
        s.write_buffer_size_in_bytes = self.buffer_bytes;
        s
    }

    fn fail(&mut self, error: TaskError, out: &mut Vec<Command>) {
        self.phase = Phase::Failed;
        self.stats.fatal_exception = Some(error.clone());
        out.push(Command::Fatal { error });
    }

    fn retry(&mut self, token: RetryToken, out: &mut Vec<Command>) {
        match token {
            RetryToken::Read { from } => {
                if let Some(read) = self.reads.get(&from) {
                    out.push(self.read_command(from, read.max_ops));
                }
            }
            RetryToken::Write { id } => {
                if let Some(write) = self.writes.get(&id) {
                    out.push(Command::Write {
                        id,
                        ops: write.ops.clone(),
                    });
                }
            }
            RetryToken::Metadata => {
                if let Some(command) = &self.metadata_in_flight {
                    out.push(command.clone());
                }
            }
        }
    }

    fn record_read_exception(&mut self, from: i64, retries: u32, error: TaskError) {
        let map = &mut self.stats.read_exceptions;
        map.insert(
            from,
            ReadException {
                retries,
                exception: error,
            },
        );
        while map.len() > self.limits.outstanding_reads {
            map.pop_first();
        }
    }
}
