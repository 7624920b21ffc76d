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
//!
//! Deliberately not here: the follow REST API (ferry-node), auto-follow, bootstrap and
//! re-bootstrap.

pub mod backoff;
pub mod error;
pub mod events;
pub mod leader_client;
pub mod params;
pub mod planner;
mod runner;
pub mod stats;
pub mod task;
pub mod units;

pub use backoff::{Jitter, RandJitter};
pub use error::FollowError;
pub use events::{Command, ErrorKind, Event, OpMeta, RetryToken, TaskError};
pub use params::FollowParameters;
pub use planner::{LEASE_RENEW_INTERVAL, ShardFollowPlanner};
pub use stats::{ReadException, ShardFollowStats};
pub use task::{FollowerShard, ShardFollowConfig, ShardFollowTask};
pub use units::{ByteSize, TimeValue};

#[cfg(test)]
mod params_tests;
#[cfg(test)]
mod planner_tests;
#[cfg(test)]
mod sim_tests;
