//! The `RemoteCluster` gRPC service every ferryd serves on its transport port: a
//! `Handshake` answers who this node and its cluster are, so a follower cluster can pin
//! the remote's name and uuid.
//!
//! Deliberately not here: authenticating the caller (the handshake tells nothing secret)
//! or wiring the service into a server (ferry-node does).

use ferry_proto::v1::remote_cluster_server::{RemoteCluster, RemoteClusterServer};
use ferry_proto::v1::{HandshakeRequest, HandshakeResponse};
use tonic::{Request, Response, Status};

/// Who a node is, as a handshake reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIdentity {
    /// The cluster's name.
    pub cluster_name: String,
    /// The cluster's uuid (from the catalog).
    pub cluster_uuid: String,
    /// The node's permanent id.
    pub node_id: String,
    /// The node's `--node-name`.
    pub node_name: String,
    /// The Ferry release.
    pub version: String,
}

/// The handshake service of one node.
#[derive(Debug, Clone)]
pub struct HandshakeService {
    local: LocalIdentity,
}

impl HandshakeService {
    /// A service answering with `local`.
    pub fn new(local: LocalIdentity) -> Self {
        Self { local }
    }

    /// The tonic service to add to the transport server.
    pub fn into_server(self) -> RemoteClusterServer<HandshakeService> {
        RemoteClusterServer::new(self)
    }
}

#[tonic::async_trait]
impl RemoteCluster for HandshakeService {
    async fn handshake(
        &self,
        request: Request<HandshakeRequest>,
    ) -> Result<Response<HandshakeResponse>, Status> {
        let from = request.into_inner();
        tracing::debug!(
            from_cluster = %from.from_cluster_name,
            from_cluster_uuid = %from.from_cluster_uuid,
            "remote cluster handshake"
        );
        let local = &self.local;
        Ok(Response::new(HandshakeResponse {
            cluster_name: local.cluster_name.clone(),
            cluster_uuid: local.cluster_uuid.clone(),
            node_id: local.node_id.clone(),
            node_name: local.node_name.clone(),
            version: local.version.clone(),
        }))
    }
}
