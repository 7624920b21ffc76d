//! The `RemoteClusterState` gRPC service: a leader cluster's index list for the follower
//! cluster's auto-follow coordinator, long-polled by metadata version.
//!
//! The node supplies [`LocalIndices`]: its current indices and a watch that changes with
//! them. An `epoch` (one per node run) lets a caller notice that versions started over.
//! Deliberately not here: matching patterns or following anything (the follower does).

use std::sync::Arc;
use std::time::Duration;

use ferry_proto::v1::remote_cluster_state_server::{RemoteClusterState, RemoteClusterStateServer};
use ferry_proto::v1::{ClusterStateRequest, ClusterStateResponse, RemoteIndex};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

/// The longest wait the service grants.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// One index as the remote reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSummary {
    /// Name.
    pub name: String,
    /// Uuid.
    pub uuid: String,
    /// Open (not closed).
    pub open: bool,
    /// Soft deletes enabled.
    pub soft_deletes_enabled: bool,
    /// Itself a follower index.
    pub following: bool,
}

/// What the node exposes to the service.
pub trait LocalIndices: Send + Sync + 'static {
    /// Every index now.
    fn indices(&self) -> Vec<IndexSummary>;
    /// A watch whose value is the metadata version.
    fn metadata_version(&self) -> watch::Receiver<u64>;
}

/// The service over a node's [`LocalIndices`].
pub struct StateService {
    local: Arc<dyn LocalIndices>,
    epoch: String,
}

impl StateService {
    /// A service for `local`; `epoch` must differ between runs of the node.
    pub fn new(local: Arc<dyn LocalIndices>, epoch: String) -> Self {
        Self { local, epoch }
    }

    /// The tonic service to add to the transport server.
    pub fn into_server(self) -> RemoteClusterStateServer<StateService> {
        RemoteClusterStateServer::new(self)
    }
}

#[tonic::async_trait]
impl RemoteClusterState for StateService {
    async fn cluster_state(
        &self,
        request: Request<ClusterStateRequest>,
    ) -> Result<Response<ClusterStateResponse>, Status> {
        let req = request.into_inner();
        let mut version = self.local.metadata_version();
        let mut timed_out = false;
        if req.epoch == self.epoch && *version.borrow_and_update() < req.wait_for_metadata_version {
            let wait = Duration::from_millis(req.wait_timeout_millis).min(MAX_WAIT);
            let target = req.wait_for_metadata_version;
            let reached = version.wait_for(|v| *v >= target);
            timed_out = !matches!(tokio::time::timeout(wait, reached).await, Ok(Ok(_)));
        }
        let metadata_version = *version.borrow();
        let indices = self
            .local
            .indices()
            .into_iter()
            .map(|i| RemoteIndex {
                name: i.name,
                uuid: i.uuid,
                open: i.open,
                soft_deletes_enabled: i.soft_deletes_enabled,
                following: i.following,
            })
            .collect();
        Ok(Response::new(ClusterStateResponse {
            epoch: self.epoch.clone(),
            metadata_version,
            wait_for_timed_out: timed_out,
            indices,
        }))
    }
}

/// What [`fetch`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteState {
    /// The remote node's epoch.
    pub epoch: String,
    /// Its metadata version.
    pub metadata_version: u64,
    /// Its indices.
    pub indices: Vec<IndexSummary>,
}

/// Calls `ClusterState` on `channel`: at once when `since` is `None`, else waiting up to
/// `wait` for a version above the one in `since` (same epoch).
pub async fn fetch(
    channel: tonic::transport::Channel,
    since: Option<(&str, u64)>,
    wait: Duration,
) -> Result<RemoteState, Status> {
    use ferry_proto::v1::remote_cluster_state_client::RemoteClusterStateClient;
    let mut client = RemoteClusterStateClient::new(channel);
    let (epoch, version) = since.unwrap_or(("", 0));
    let mut req = Request::new(ClusterStateRequest {
        wait_for_metadata_version: if since.is_some() { version + 1 } else { 0 },
        wait_timeout_millis: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        epoch: epoch.to_owned(),
    });
    req.set_timeout(wait + Duration::from_secs(30));
    let answer = client.cluster_state(req).await?.into_inner();
    Ok(RemoteState {
        epoch: answer.epoch,
        metadata_version: answer.metadata_version,
        indices: answer
            .indices
            .into_iter()
            .map(|i| IndexSummary {
                name: i.name,
                uuid: i.uuid,
                open: i.open,
                soft_deletes_enabled: i.soft_deletes_enabled,
                following: i.following,
            })
            .collect(),
    })
}
