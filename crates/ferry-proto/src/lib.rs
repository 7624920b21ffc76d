//! Ferry's gRPC contracts: the code generated from `proto/ferry/v1/*.proto`.
//!
//! This is the only crate that compiles the protos (`build.rs`, pure-Rust `protox`, no
//! system `protoc`). It holds no logic: other crates convert these wire types to their own
//! domain types at the edge.
//!
//! - [`v1::admin_server::Admin`] / [`v1::admin_client::AdminClient`]: the admin service on
//!   the transport port (health, cluster info, indices, documents, bulk, search, cluster
//!   settings, remote clusters, CCR follow and auto-follow calls), answering
//!   the same status and Elasticsearch JSON as REST.
//! - [`v1::replication_server::Replication`] / [`v1::replication_client::ReplicationClient`]:
//!   the cross-cluster replication leader service on the transport port (reading a
//!   shard's history by seq_no, retention leases, bootstrap copy sessions).
//! - [`v1::shard_raft_server::ShardRaft`] / [`v1::shard_raft_client::ShardRaftClient`]: the
//!   transport between the copies of one shard's Raft group (postcard-encoded openraft
//!   messages); unused while every group has a single member.
//! - [`v1::remote_cluster_server::RemoteCluster`] / [`v1::remote_cluster_client::RemoteClusterClient`]:
//!   the remote-cluster handshake on the transport port (cluster name, uuid, node, version).
//! - [`v1::remote_cluster_state_server::RemoteClusterState`]: a cluster's index list,
//!   long-polled by metadata version, for remote auto-followers.

/// Package `ferry.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod v1 {
    tonic::include_proto!("ferry.v1");
}
