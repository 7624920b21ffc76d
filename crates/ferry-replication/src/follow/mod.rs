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
//! Deliberately not here: the async runtime that carries out commands (gRPC reads, bulk
//! apply on the follower shard, timers, lease calls), the follow REST API, auto-follow and
//! re-bootstrap (the runtime acts on a fatal "operations are no longer available" when
//! `auto_rebootstrap` is set).

pub mod backoff;
pub mod error;
pub mod events;
pub mod params;
pub mod planner;
pub mod stats;
pub mod units;

pub use backoff::{Jitter, RandJitter};
pub use error::FollowError;
pub use events::{Command, ErrorKind, Event, OpMeta, RetryToken, TaskError};
pub use params::FollowParameters;
pub use planner::{LEASE_RENEW_INTERVAL, ShardFollowPlanner};
pub use stats::{ReadException, ShardFollowStats};
pub use units::{ByteSize, TimeValue};

#[cfg(test)]
mod params_tests;
#[cfg(test)]
mod planner_tests;
#[cfg(test)]
mod sim_tests;
