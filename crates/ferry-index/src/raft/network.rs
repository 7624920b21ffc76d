//! The Raft network of a shard group that has no peers.
//!
//! Groups have a single member until clustering lands, so openraft never needs to send
//! anything; should it try (a membership with other nodes), every call reports the peer
//! unreachable with a clear "not supported yet" reason. The real transport over the
//! node port belongs to `ferry-cluster`.

use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::TypeConfig;

const NO_PEERS: &str = "shard groups with more than one member are not supported yet";

fn unreachable<E: std::error::Error>() -> RPCError<u64, BasicNode, E> {
    RPCError::Unreachable(Unreachable::new(&std::io::Error::other(NO_PEERS)))
}

/// A network with no peers.
pub(crate) struct NoPeers;

impl RaftNetworkFactory<TypeConfig> for NoPeers {
    type Network = NoPeers;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> Self::Network {
        tracing::warn!(peer = target, "{NO_PEERS}");
        NoPeers
    }
}

impl RaftNetwork<TypeConfig> for NoPeers {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        Err(unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        Err(unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        Err(unreachable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_rpc_reports_the_peer_unreachable() {
        let mut net = NoPeers.new_client(2, &BasicNode::default()).await;
        let vote = VoteRequest::new(openraft::Vote::new(1, 1), None);
        let e = net
            .vote(vote, RPCOption::new(std::time::Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(matches!(e, RPCError::Unreachable(_)));
        assert!(e.to_string().contains("not supported yet"), "{e}");
    }
}
