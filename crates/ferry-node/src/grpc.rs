//! The gRPC admin service on the transport port, thin over [`crate::node::Node`].
//!
//! Each rpc unpacks its request into the same arguments the REST face passes (names,
//! [`Params`], body bytes), calls the matching `Node` method in a tracing span named after
//! the rpc, and packs the answer as HTTP-equivalent status plus Elasticsearch JSON. Errors
//! become a gRPC status in one place, [`status::to_status`]. This module does no request
//! validation and no business logic of its own; the Raft transport (`ShardRaft`) is not
//! served here.

pub(crate) mod status;

use std::sync::Arc;

use bytes::Bytes;
use ferry_proto::v1 as pb;
use ferry_proto::v1::admin_server::{Admin, AdminServer};
use serde_json::Value;
use tonic::{Request, Response, Status};
use tracing::{Instrument, Span};

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
}

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

/// The typed summary of a cluster health body; fields the body lacks stay zero.
fn health_summary(body: &Value) -> pb::ClusterHealth {
    let count = |key: &str| {
        body.get(key)
            .and_then(Value::as_u64)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let status = match body.get("status").and_then(Value::as_str) {
        Some("green") => pb::HealthStatus::Green,
        Some("yellow") => pb::HealthStatus::Yellow,
        Some("red") => pb::HealthStatus::Red,
        _ => pb::HealthStatus::Unspecified,
    };
    pb::ClusterHealth {
        cluster_name: body
            .get("cluster_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        status: status.into(),
        timed_out: body
            .get("timed_out")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        number_of_nodes: count("number_of_nodes"),
        number_of_data_nodes: count("number_of_data_nodes"),
        active_primary_shards: count("active_primary_shards"),
        active_shards: count("active_shards"),
        relocating_shards: count("relocating_shards"),
        initializing_shards: count("initializing_shards"),
        unassigned_shards: count("unassigned_shards"),
    }
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
        async move {
            let (status, body) = reply(self.node.info().await)?;
            Ok(Response::new(pb::ClusterInfoResponse {
                status,
                body: encode(&body)?,
            }))
        }
        .instrument(self.span("ClusterInfo", None))
        .await
    }

    async fn create_index(
        &self,
        request: Request<pb::CreateIndexRequest>,
    ) -> Result<Response<pb::CreateIndexResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("CreateIndex", Some(&r.index));
        async move {
            let (status, body) = reply(
                self.node
                    .create_index(&r.index, r.body, &Params(r.params))
                    .await,
            )?;
            Ok(Response::new(pb::CreateIndexResponse {
                status,
                body: encode(&body)?,
            }))
        }
        .instrument(span)
        .await
    }

    async fn delete_index(
        &self,
        request: Request<pb::DeleteIndexRequest>,
    ) -> Result<Response<pb::DeleteIndexResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("DeleteIndex", Some(&r.index));
        async move {
            let (status, body) = reply(self.node.delete_index(&r.index, &Params(r.params)).await)?;
            Ok(Response::new(pb::DeleteIndexResponse {
                status,
                body: encode(&body)?,
            }))
        }
        .instrument(span)
        .await
    }

    async fn get_index(
        &self,
        request: Request<pb::GetIndexRequest>,
    ) -> Result<Response<pb::GetIndexResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("GetIndex", Some(&r.index));
        async move {
            let (status, body) = reply(self.node.get_index(&r.index, &Params(r.params)).await)?;
            Ok(Response::new(pb::GetIndexResponse {
                status,
                body: encode(&body)?,
            }))
        }
        .instrument(span)
        .await
    }

    async fn list_indices(
        &self,
        request: Request<pb::ListIndicesRequest>,
    ) -> Result<Response<pb::ListIndicesResponse>, Status> {
        let r = request.into_inner();
        async move {
            let (status, body) = reply(self.node.list_indices(&Params(r.params)).await)?;
            Ok(Response::new(pb::ListIndicesResponse {
                status,
                body: encode(&body)?,
            }))
        }
        .instrument(self.span("ListIndices", None))
        .await
    }

    async fn put_document(
        &self,
        request: Request<pb::PutDocumentRequest>,
    ) -> Result<Response<pb::PutDocumentResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("PutDocument", Some(&r.index));
        async move {
            let params = Params(r.params);
            let (status, body) = reply(
                self.node
                    .index_doc(&r.index, r.id.as_deref(), r.body, &params)
                    .await,
            )?;
            Ok(Response::new(pb::PutDocumentResponse {
                status,
                body: encode(&body)?,
            }))
        }
        .instrument(span)
        .await
    }

    async fn get_document(
        &self,
        request: Request<pb::GetDocumentRequest>,
    ) -> Result<Response<pb::GetDocumentResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("GetDocument", Some(&r.index));
        async move {
            let (status, body) =
                reply(self.node.get_doc(&r.index, &r.id, &Params(r.params)).await)?;
            Ok(Response::new(pb::GetDocumentResponse {
                status,
                body: encode(&body)?,
            }))
        }
        .instrument(span)
        .await
    }

    async fn delete_document(
        &self,
        request: Request<pb::DeleteDocumentRequest>,
    ) -> Result<Response<pb::DeleteDocumentResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("DeleteDocument", Some(&r.index));
        async move {
            let (status, body) = reply(
                self.node
                    .delete_doc(&r.index, &r.id, &Params(r.params))
                    .await,
            )?;
            Ok(Response::new(pb::DeleteDocumentResponse {
                status,
                body: encode(&body)?,
            }))
        }
        .instrument(span)
        .await
    }

    async fn bulk(
        &self,
        request: Request<pb::BulkRequest>,
    ) -> Result<Response<pb::BulkResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("Bulk", r.index.as_deref());
        async move {
            let (status, body) = reply(
                self.node
                    .bulk(r.index.as_deref(), r.body, &Params(r.params))
                    .await,
            )?;
            Ok(Response::new(pb::BulkResponse {
                status,
                body: encode(&body)?,
            }))
        }
        .instrument(span)
        .await
    }

    async fn search(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        let r = request.into_inner();
        let span = self.span("Search", r.index.as_deref());
        async move {
            let (status, body) = reply(
                self.node
                    .search(r.index.as_deref(), r.body, &Params(r.params))
                    .await,
            )?;
            Ok(Response::new(pb::SearchResponse {
                status,
                body: encode(&body)?,
            }))
        }
        .instrument(span)
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
    fn health_summary_reads_the_elasticsearch_fields() {
        let body = json!({
            "cluster_name": "ferry", "status": "yellow", "timed_out": false,
            "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 3,
            "active_shards": 3, "relocating_shards": 0, "initializing_shards": 0,
            "unassigned_shards": 3
        });
        let h = health_summary(&body);
        assert_eq!(h.cluster_name, "ferry");
        assert_eq!(h.status(), pb::HealthStatus::Yellow);
        assert_eq!(
            (
                h.number_of_nodes,
                h.active_primary_shards,
                h.unassigned_shards
            ),
            (1, 3, 3)
        );
    }

    #[test]
    fn health_summary_of_an_unknown_status_is_unspecified() {
        let h = health_summary(&json!({"status": "purple", "active_shards": -1}));
        assert_eq!(h.status(), pb::HealthStatus::Unspecified);
        assert_eq!(h.active_shards, 0);
    }

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
