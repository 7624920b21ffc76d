//! The follower side's shard-follow task logic (spec `ccr.md` §2 parameters, §4 algorithm),
//! as pure code without IO:
//!
//! - [`params`]: the ten follow parameters plus `auto_rebootstrap`; ES defaults, parsing,
//!   validation texts, rendering.
//! - [`planner`]: [`ShardFollowPlanner`], the per-shard state machine
//!   (`handle(Event) -> Vec<Command>`) deciding reads, writes, metadata updates, retries.
//! - [`stats`]: the per-shard stats snapshot with ES's field names.
//! - [`backoff`]: the jittered exponential retry delay, capped by `max_retry_delay`.
//!
//! - [`task`]: the runtime, one tokio task per follower shard carrying out the planner's
//!   commands; [`leader_client`]: its calls to the leader and their retryable/fatal split.
//! - [`bootstrap`]: [`CopyFetch`], a new follower shard's resumable, checksummed, throttled
//!   fetch of a leader shard copy, and (`bootstrap_apply`) its restore; `bootstrap_run`:
//!   the start-up step around it (lease, renewals, mapping); [`bootstrap_stats`]: its
//!   progress in stats.
//! - [`segment_copier`]: keeps a `copy_segments` follower shard's search index a copy of
//!   the leader's last search commit, beside the event loop.
//!
//! Deliberately not here: the follow REST API (ferry-node) and auto-follow.

pub mod backoff;
pub mod bootstrap;
mod bootstrap_apply;
mod bootstrap_run;
pub mod bootstrap_stats;
pub mod error;
pub mod events;
pub mod leader_client;
pub mod params;
pub mod planner;
mod runner;
pub mod segment_copier;
pub mod stats;
pub mod task;
pub mod units;

pub use backoff::{Jitter, RandJitter};
pub use bootstrap::{ChannelSource, CopyFetch};
pub use bootstrap_stats::{BootstrapState, BootstrapStats};
pub use error::FollowError;
pub use events::{Command, ErrorKind, Event, OpMeta, RetryToken, TaskError};
pub use params::FollowParameters;
pub use planner::{LEASE_RENEW_INTERVAL, ShardFollowPlanner};
pub use segment_copier::{CopyTarget, SegmentCopyStats};
pub use stats::{ReadException, ShardFollowStats};
pub use task::{FollowerShard, ShardFollowConfig, ShardFollowTask, StartState};
pub use units::{ByteSize, TimeValue};

#[cfg(test)]
mod bootstrap_task_tests;
#[cfg(test)]
mod bootstrap_tests;
#[cfg(test)]
mod params_tests;
#[cfg(test)]
mod planner_tests;
#[cfg(test)]
mod sim_tests;
