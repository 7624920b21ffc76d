//! Ferry's cross-cluster replication (CCR), pull-based and per shard.
//!
//! - [`leader`]: the service a leader cluster serves on its transport port: reading a
//!   shard's operation history by seq_no, and the retention leases that keep it.
//! - [`follow`]: the follower side's shard-follow tasks: follow parameters, the per-shard
//!   planner state machine (pure, no IO) and the tokio runtime that carries it out.
//! - [`remote`]: the follower cluster's side of `cluster.remote.<alias>.*`: validating
//!   remote-cluster settings, connecting to remote clusters and pinning their identity.
//!
//! Not here yet: auto-follow, bootstrap, settings replication (issue 3 continues). This crate
//! never stores documents itself: it reads and writes shards through `ferry-index`.

pub mod follow;
pub mod leader;
pub mod remote;
