//! The gRPC admin service on the transport port, thin over [`crate::node::Node`].
//!
//! Each rpc unpacks its request into the same arguments the REST face passes (names,
//! [`Params`], body bytes), calls the matching `Node` method in a tracing span named after
//! the rpc, and packs the answer as HTTP-equivalent status plus Elasticsearch JSON
//! ([`AdminService::answer`]). That covers indices, documents, search, cluster settings,
//! remote clusters and every cross-cluster replication call. Errors become a gRPC status in
//! one place, [`status::to_status`]. This module does no request validation and no business
//! logic of its own; the Raft transport (`ShardRaft`) is not served here.

mod health;
pub(crate) mod status;

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use ferry_proto::v1 as pb;
use ferry_proto::v1::admin_server::{Admin, AdminServer};
use serde_json::Value;
use tonic::{Request, Response, Status};
use tracing::{Instrument, Span};

use self::health::health_summary;
use crate::node::{ApiResult, Node};
use crate::params::Params;

/// Room for the protobuf envelope (names, params) around a body of
/// `http.max_content_length` bytes, so a body the REST face would accept also fits here.
const ENVELOPE_BYTES: usize = 64 * 1024;

/// The admin gRPC service, ready to add to a tonic router. It decodes requests up to the
/// node's `http.max_content_length` plus the envelope; a larger message fails with
/// `RESOURCE_EXHAUSTED` before it reaches the node.
pub fn service(node: Arc<Node>) -> AdminServer<AdminService> {
    let limit = node.max_content_length().saturating_add(ENVELOPE_BYTES);
    AdminServer::new(AdminService { node }).max_decoding_message_size(limit)
}

/// Implements `ferry.v1.Admin` over a [`Node`].
pub struct AdminService {
    node: Arc<Node>,
}

impl AdminService {
    /// The span every rpc handler runs in.
    fn span(&self, method: &'static str, index: Option<&str>) -> Span {
        tracing::info_span!("admin_rpc", node = %self.node.node_id(), method, index = index.unwrap_or_default())
    }

    /// Runs the service call `call` in `span` and packs its answer as the response `T`.
    async fn answer<T: Answer>(
        &self,
        span: Span,
        call: impl Future<Output = ApiResult> + Send,
    ) -> Result<Response<T>, Status> {
        async move {
            let (status, body) = reply(call.await)?;
            Ok(Response::new(T::from_parts(status, encode(&body)?)))
        }
        .instrument(span)
        .await
    }
}

/// A response message that is exactly the HTTP-equivalent status and the JSON body.
trait Answer {
    fn from_parts(status: u32, body: Bytes) -> Self;
}

macro_rules! answers {
    ($($message:ident),* $(,)?) => {$(
        impl Answer for pb::$message {
            fn from_parts(status: u32, body: Bytes) -> Self {
                Self { status, body }
            }
        }
    )*};
}

answers!(
    ClusterInfoResponse,
    CreateIndexResponse,
    DeleteIndexResponse,
    GetIndexResponse,
    ListIndicesResponse,
    PutDocumentResponse,
    GetDocumentResponse,
    DeleteDocumentResponse,
    BulkResponse,
    SearchResponse,
    GetClusterSettingsResponse,
    PutClusterSettingsResponse,
    RemoteInfoResponse,
    PutFollowResponse,
    PauseFollowResponse,
    ResumeFollowResponse,
    UnfollowResponse,
    PromoteFollowerResponse,
    ForgetFollowerResponse,
    FollowInfoResponse,
    FollowStatsResponse,
    CcrStatsResponse,
    PutAutoFollowPatternResponse,
    GetAutoFollowPatternResponse,
    DeleteAutoFollowPatternResponse,
    PauseAutoFollowPatternResponse,
    ResumeAutoFollowPatternResponse,
);

/// Splits a service answer into wire status and JSON, or the gRPC error.
fn reply(result: ApiResult) -> Result<(u32, Value), Status> {
    match result {
        Ok(resp) => Ok((u32::from(resp.status), resp.body)),
        Err(err) => {
            if err.status >= 500 {
                tracing::warn!(status = err.status, kind = %err.kind, reason = %err.reason, "request failed");
            } else {
                tracing::debug!(status = err.status, kind = %err.kind, reason = %err.reason, "request rejected");
            }
            Err(status::to_status(&err))
        }
    }
}

/// The JSON body as wire bytes.
fn encode(body: &Value) -> Result<Bytes, Status> {
    serde_json::to_vec(body).map(Bytes::from).map_err(|e| {
        tracing::warn!(error = %e, "response body does not serialize");
        Status::internal(format!("response body does not serialize: {e}"))
    })
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn health(
        &self,
        request: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("Health", r.index.as_deref());
        async move {
            let (status, body) = reply(
                self.node
                    .cluster_health(r.index.as_deref(), &Params(r.params))
                    .await,
            )?;
            let health = Some(health_summary(&body));
            Ok(Response::new(pb::HealthResponse {
                status,
                body: encode(&body)?,
                health,
            }))
        }
        .instrument(span)
        .await
    }

    async fn cluster_info(
        &self,
        _request: Request<pb::ClusterInfoRequest>,
    ) -> Result<Response<pb::ClusterInfoResponse>, Status> {
        let span = self.span("ClusterInfo", None);
        self.answer(span, self.node.info()).await
    }

    async fn create_index(
        &self,
        request: Request<pb::CreateIndexRequest>,
    ) -> Result<Response<pb::CreateIndexResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("CreateIndex", Some(&r.index));
        self.answer(span, self.node.create_index(&r.index, r.body, &params))
            .await
    }

    async fn delete_index(
        &self,
        request: Request<pb::DeleteIndexRequest>,
    ) -> Result<Response<pb::DeleteIndexResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("DeleteIndex", Some(&r.index));
        self.answer(span, self.node.delete_index(&r.index, &params))
            .await
    }

    async fn get_index(
        &self,
        request: Request<pb::GetIndexRequest>,
    ) -> Result<Response<pb::GetIndexResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("GetIndex", Some(&r.index));
        self.answer(span, self.node.get_index(&r.index, &params))
            .await
    }

    async fn list_indices(
        &self,
        request: Request<pb::ListIndicesRequest>,
    ) -> Result<Response<pb::ListIndicesResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("ListIndices", None);
        self.answer(span, self.node.list_indices(&params)).await
    }

    async fn put_document(
        &self,
        request: Request<pb::PutDocumentRequest>,
    ) -> Result<Response<pb::PutDocumentResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("PutDocument", Some(&r.index));
        self.answer(
            span,
            self.node
                .index_doc(&r.index, r.id.as_deref(), r.body, &params),
        )
        .await
    }

    async fn get_document(
        &self,
        request: Request<pb::GetDocumentRequest>,
    ) -> Result<Response<pb::GetDocumentResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("GetDocument", Some(&r.index));
        self.answer(span, self.node.get_doc(&r.index, &r.id, &params))
            .await
    }

    async fn delete_document(
        &self,
        request: Request<pb::DeleteDocumentRequest>,
    ) -> Result<Response<pb::DeleteDocumentResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("DeleteDocument", Some(&r.index));
        self.answer(span, self.node.delete_doc(&r.index, &r.id, &params))
            .await
    }

    async fn bulk(
        &self,
        request: Request<pb::BulkRequest>,
    ) -> Result<Response<pb::BulkResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("Bulk", r.index.as_deref());
        self.answer(span, self.node.bulk(r.index.as_deref(), r.body, &params))
            .await
    }

    async fn search(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("Search", r.index.as_deref());
        self.answer(span, self.node.search(r.index.as_deref(), r.body, &params))
            .await
    }

    async fn get_cluster_settings(
        &self,
        request: Request<pb::GetClusterSettingsRequest>,
    ) -> Result<Response<pb::GetClusterSettingsResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("GetClusterSettings", None);
        self.answer(span, self.node.get_cluster_settings(&params))
            .await
    }

    async fn put_cluster_settings(
        &self,
        request: Request<pb::PutClusterSettingsRequest>,
    ) -> Result<Response<pb::PutClusterSettingsResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("PutClusterSettings", None);
        self.answer(span, self.node.put_cluster_settings(r.body, &params))
            .await
    }

    async fn remote_info(
        &self,
        _request: Request<pb::RemoteInfoRequest>,
    ) -> Result<Response<pb::RemoteInfoResponse>, Status> {
        let span = self.span("RemoteInfo", None);
        self.answer(span, self.node.remote_info()).await
    }

    async fn put_follow(
        &self,
        request: Request<pb::PutFollowRequest>,
    ) -> Result<Response<pb::PutFollowResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("PutFollow", Some(&r.index));
        self.answer(span, self.node.put_follow(&r.index, r.body, &params))
            .await
    }

    async fn pause_follow(
        &self,
        request: Request<pb::PauseFollowRequest>,
    ) -> Result<Response<pb::PauseFollowResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("PauseFollow", Some(&r.index));
        self.answer(span, self.node.pause_follow(&r.index)).await
    }

    async fn resume_follow(
        &self,
        request: Request<pb::ResumeFollowRequest>,
    ) -> Result<Response<pb::ResumeFollowResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("ResumeFollow", Some(&r.index));
        self.answer(span, self.node.resume_follow(&r.index, r.body))
            .await
    }

    async fn unfollow(
        &self,
        request: Request<pb::UnfollowRequest>,
    ) -> Result<Response<pb::UnfollowResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("Unfollow", Some(&r.index));
        self.answer(span, self.node.unfollow(&r.index)).await
    }

    async fn promote_follower(
        &self,
        request: Request<pb::PromoteFollowerRequest>,
    ) -> Result<Response<pb::PromoteFollowerResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("PromoteFollower", Some(&r.index));
        self.answer(span, self.node.promote(&r.index)).await
    }

    async fn forget_follower(
        &self,
        request: Request<pb::ForgetFollowerRequest>,
    ) -> Result<Response<pb::ForgetFollowerResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("ForgetFollower", Some(&r.index));
        self.answer(span, self.node.forget_follower(&r.index, r.body, &params))
            .await
    }

    async fn follow_info(
        &self,
        request: Request<pb::FollowInfoRequest>,
    ) -> Result<Response<pb::FollowInfoResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("FollowInfo", Some(&r.index));
        self.answer(span, self.node.follow_info(&r.index, &params))
            .await
    }

    async fn follow_stats(
        &self,
        request: Request<pb::FollowStatsRequest>,
    ) -> Result<Response<pb::FollowStatsResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("FollowStats", Some(&r.index));
        self.answer(span, self.node.follow_stats(&r.index, &params))
            .await
    }

    async fn ccr_stats(
        &self,
        request: Request<pb::CcrStatsRequest>,
    ) -> Result<Response<pb::CcrStatsResponse>, Status> {
        let r = request.into_inner();
        let params = Params(r.params);
        let span = self.span("CcrStats", None);
        self.answer(span, self.node.ccr_stats(&params)).await
    }

    async fn put_auto_follow_pattern(
        &self,
        request: Request<pb::PutAutoFollowPatternRequest>,
    ) -> Result<Response<pb::PutAutoFollowPatternResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("PutAutoFollowPattern", None);
        self.answer(span, self.node.put_auto_follow(&r.name, r.body))
            .await
    }

    async fn get_auto_follow_pattern(
        &self,
        request: Request<pb::GetAutoFollowPatternRequest>,
    ) -> Result<Response<pb::GetAutoFollowPatternResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("GetAutoFollowPattern", None);
        self.answer(span, self.node.get_auto_follow(r.name.as_deref()))
            .await
    }

    async fn delete_auto_follow_pattern(
        &self,
        request: Request<pb::DeleteAutoFollowPatternRequest>,
    ) -> Result<Response<pb::DeleteAutoFollowPatternResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("DeleteAutoFollowPattern", None);
        self.answer(span, self.node.delete_auto_follow(&r.name))
            .await
    }

    async fn pause_auto_follow_pattern(
        &self,
        request: Request<pb::PauseAutoFollowPatternRequest>,
    ) -> Result<Response<pb::PauseAutoFollowPatternResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("PauseAutoFollowPattern", None);
        self.answer(span, self.node.set_auto_follow_active(&r.name, false))
            .await
    }

    async fn resume_auto_follow_pattern(
        &self,
        request: Request<pb::ResumeAutoFollowPatternRequest>,
    ) -> Result<Response<pb::ResumeAutoFollowPatternResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("ResumeAutoFollowPattern", None);
        self.answer(span, self.node.set_auto_follow_active(&r.name, true))
            .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ApiError;
    use crate::node::ApiResponse;

    #[test]
    fn reply_keeps_non_error_statuses() {
        let ok = ApiResponse {
            status: 404,
            body: json!({"found": false}),
        };
        assert_eq!(
            reply(Ok(ok)).expect("a response is not an error"),
            (404, json!({"found": false}))
        );
    }

    #[test]
    fn reply_turns_errors_into_statuses() {
        let err = reply(Err(ApiError::index_not_found("x"))).expect_err("an error stays an error");
        assert_eq!(err.code(), tonic::Code::NotFound);
    }
}
