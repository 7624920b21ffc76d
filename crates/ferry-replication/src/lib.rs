//! Ferry's cross-cluster replication (CCR), pull-based and per shard.
//!
//! - [`leader`]: the service a leader cluster serves on its transport port: reading a
//!   shard's operation history by seq_no, the retention leases that keep it, and the
//!   copy sessions that bootstrap new followers.
//! - [`follow`]: the follower side's shard-follow tasks: follow parameters, the per-shard
//!   planner state machine (pure, no IO), the tokio runtime that carries it out, and the
//!   bootstrap (chunked, checksummed, throttled, resumable copy; auto-rebootstrap).
//! - [`remote`]: the follower cluster's side of `cluster.remote.<alias>.*`: validating
//!   remote-cluster settings, connecting to remote clusters and pinning their identity,
//!   and the index list remote auto-followers long-poll.
//! - [`autofollow`]: auto-follow patterns: parsing, matching, naming, deciding (pure).
//! - [`recovery`]: the live `ccr.*` node settings (bootstrap copies, auto-follow polling).
//!
//! Not here: storing anything (the node keeps follows and patterns in the catalog) and
//! replicating dynamic index settings (Ferry has no replicated dynamic index setting: the
//! ones a follower may change are its own). This crate never stores documents itself: it
//! reads and writes shards through `ferry-index`.

pub mod autofollow;
pub mod follow;
pub mod leader;
pub mod recovery;
pub mod remote;
