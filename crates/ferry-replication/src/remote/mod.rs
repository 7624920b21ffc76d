//! Remote clusters: the follower cluster's side of `cluster.remote.<alias>.*`.
//!
//! - [`settings`]: parsing, validating and merging the settings of `PUT /_cluster/settings`
//!   (pure; ES's messages), and rendering them with credentials redacted.
//! - [`RemoteClusters`]: one connection task per enabled alias that handshakes with the
//!   remote, pins its cluster name and uuid, re-checks it and reconnects with back-off;
//!   [`RemoteClusters::info`] is `GET /_remote/info`.
//! - [`HandshakeService`]: the `RemoteCluster` gRPC service every node serves on its
//!   transport port.
//! - [`state`]: the `RemoteClusterState` service: the index list auto-follow long-polls,
//!   and the client call for it.
//!
//! Deliberately not here: storing settings (the catalog holds persistent ones, the node's
//! memory transient ones; ferry-node does both) and any CCR read (the leader service).

mod backoff;
mod error;
mod handshake;
mod registry;
pub mod settings;
pub mod state;

pub use error::RemoteError;
pub use handshake::{HandshakeService, LocalIdentity};
pub use registry::{CHECK_INTERVAL, ConnectionState, RemoteClusters};
pub use settings::{FlatSettings, RemoteConfig, Scope, SettingsUpdate};
