//! An in-process mock of ferryd's admin service for the `ferryctl` binary tests, and the
//! helpers that run the binary against it.
//!
//! The mock echoes what it received (names, params, decoded body, and for the CCR calls the
//! rpc's name), so tests prove the command line reaches the wire as intended, and answers a
//! few canned Elasticsearch bodies and errors so tests see what a user sees. It holds no
//! server behaviour: that is tested against real ferryd processes in the workspace `tests/`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Output;

use bytes::Bytes;
use ferry_proto::v1 as pb;
use ferry_proto::v1::admin_server::{Admin, AdminServer};
use serde_json::{Value, json};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

/// Answers every rpc with a canned or echoed body.
struct Mock;

fn body(v: Value) -> Bytes {
    Bytes::from(serde_json::to_vec(&v).expect("mock JSON encodes"))
}

fn parsed(b: &[u8]) -> Value {
    if b.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(b).unwrap_or_else(|_| json!(String::from_utf8_lossy(b)))
    }
}

fn not_found(index: &str) -> Status {
    let reason = format!("no such index [{index}]");
    es_error(Code::NotFound, 404, "index_not_found_exception", &reason)
}

fn echo_params(p: &HashMap<String, String>) -> Value {
    json!(p)
}

/// The echo of a CCR call: which rpc, on what, with which params and body.
fn echo(rpc: &str, target: &str, params: &HashMap<String, String>, received: &[u8]) -> Bytes {
    body(
        json!({"rpc": rpc, "target": target, "params": echo_params(params),
                "received": parsed(received)}),
    )
}

/// An Elasticsearch error as the server sends it: message and details.
fn es_error(code: Code, status: u16, kind: &str, reason: &str) -> Status {
    let details = json!({"error": {"root_cause": [], "type": kind, "reason": reason},
                         "status": status});
    Status::with_details(code, reason, body(details))
}

/// A shard of a follower's stats as ferryd reports it.
fn shard_stats(index: &str) -> Value {
    json!({"remote_cluster": "leader", "leader_index": "products", "follower_index": index,
           "shard_id": 0, "leader_global_checkpoint": 12, "follower_global_checkpoint": 10,
           "read_exceptions": []})
}

#[tonic::async_trait]
impl Admin for Mock {
    async fn health(
        &self,
        r: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthResponse>, Status> {
        let index = r.into_inner().index;
        let b = body(
            json!({"cluster_name": "mock", "status": "green", "number_of_nodes": 1, "index": index}),
        );
        Ok(Response::new(pb::HealthResponse {
            status: 200,
            body: b,
            health: None,
        }))
    }
    async fn cluster_info(
        &self,
        _: Request<pb::ClusterInfoRequest>,
    ) -> Result<Response<pb::ClusterInfoResponse>, Status> {
        Ok(Response::new(pb::ClusterInfoResponse {
            status: 200,
            body: body(json!({"name": "mock"})),
        }))
    }
    async fn create_index(
        &self,
        r: Request<pb::CreateIndexRequest>,
    ) -> Result<Response<pb::CreateIndexResponse>, Status> {
        let r = r.into_inner();
        let b = body(json!({"acknowledged": true, "index": r.index, "received": parsed(&r.body)}));
        Ok(Response::new(pb::CreateIndexResponse {
            status: 200,
            body: b,
        }))
    }
    async fn delete_index(
        &self,
        r: Request<pb::DeleteIndexRequest>,
    ) -> Result<Response<pb::DeleteIndexResponse>, Status> {
        let r = r.into_inner();
        if r.index == "missing" {
            return Err(not_found(&r.index));
        }
        Ok(Response::new(pb::DeleteIndexResponse {
            status: 200,
            body: body(json!({"acknowledged": true})),
        }))
    }
    async fn get_index(
        &self,
        r: Request<pb::GetIndexRequest>,
    ) -> Result<Response<pb::GetIndexResponse>, Status> {
        let index = r.into_inner().index;
        Ok(Response::new(pb::GetIndexResponse {
            status: 200,
            body: body(json!({ index: {"settings": {}} })),
        }))
    }
    async fn list_indices(
        &self,
        _: Request<pb::ListIndicesRequest>,
    ) -> Result<Response<pb::ListIndicesResponse>, Status> {
        let rows = json!([{"health": "green", "index": "a", "docs.count": "3"}]);
        Ok(Response::new(pb::ListIndicesResponse {
            status: 200,
            body: body(rows),
        }))
    }
    async fn put_document(
        &self,
        r: Request<pb::PutDocumentRequest>,
    ) -> Result<Response<pb::PutDocumentResponse>, Status> {
        let r = r.into_inner();
        let b = body(
            json!({"_index": r.index, "_id": r.id.unwrap_or_else(|| "auto".into()),
                            "params": echo_params(&r.params), "received": parsed(&r.body)}),
        );
        Ok(Response::new(pb::PutDocumentResponse {
            status: 201,
            body: b,
        }))
    }
    async fn get_document(
        &self,
        r: Request<pb::GetDocumentRequest>,
    ) -> Result<Response<pb::GetDocumentResponse>, Status> {
        let r = r.into_inner();
        let b = body(json!({"_index": r.index, "_type": "_doc", "_id": r.id, "found": false}));
        Ok(Response::new(pb::GetDocumentResponse {
            status: 404,
            body: b,
        }))
    }
    async fn delete_document(
        &self,
        r: Request<pb::DeleteDocumentRequest>,
    ) -> Result<Response<pb::DeleteDocumentResponse>, Status> {
        let r = r.into_inner();
        let b = body(json!({"_index": r.index, "_id": r.id, "result": "deleted"}));
        Ok(Response::new(pb::DeleteDocumentResponse {
            status: 200,
            body: b,
        }))
    }
    async fn bulk(
        &self,
        r: Request<pb::BulkRequest>,
    ) -> Result<Response<pb::BulkResponse>, Status> {
        let r = r.into_inner();
        let lines = r
            .body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        let b = body(
            json!({"took": 1, "errors": false, "items": vec![json!({"index": {"status": 201}}); lines],
                            "default_index": r.index}),
        );
        Ok(Response::new(pb::BulkResponse {
            status: 200,
            body: b,
        }))
    }
    async fn search(
        &self,
        r: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        let r = r.into_inner();
        let hit = json!({"_index": r.index, "_id": "1", "_score": 1.0, "_source": parsed(&r.body)});
        let b = body(
            json!({"took": 2, "hits": {"total": {"value": 1, "relation": "eq"}, "hits": [hit]}}),
        );
        Ok(Response::new(pb::SearchResponse {
            status: 200,
            body: b,
        }))
    }
    async fn put_cluster_settings(
        &self,
        r: Request<pb::PutClusterSettingsRequest>,
    ) -> Result<Response<pb::PutClusterSettingsResponse>, Status> {
        let r = r.into_inner();
        let b = echo("PutClusterSettings", "", &r.params, &r.body);
        Ok(Response::new(pb::PutClusterSettingsResponse {
            status: 200,
            body: b,
        }))
    }
    async fn put_follow(
        &self,
        r: Request<pb::PutFollowRequest>,
    ) -> Result<Response<pb::PutFollowResponse>, Status> {
        let r = r.into_inner();
        let b = echo("PutFollow", &r.index, &r.params, &r.body);
        Ok(Response::new(pb::PutFollowResponse {
            status: 200,
            body: b,
        }))
    }
    async fn pause_follow(
        &self,
        r: Request<pb::PauseFollowRequest>,
    ) -> Result<Response<pb::PauseFollowResponse>, Status> {
        let r = r.into_inner();
        let b = echo("PauseFollow", &r.index, &HashMap::new(), &[]);
        Ok(Response::new(pb::PauseFollowResponse {
            status: 200,
            body: b,
        }))
    }
    async fn resume_follow(
        &self,
        r: Request<pb::ResumeFollowRequest>,
    ) -> Result<Response<pb::ResumeFollowResponse>, Status> {
        let r = r.into_inner();
        let b = echo("ResumeFollow", &r.index, &HashMap::new(), &r.body);
        Ok(Response::new(pb::ResumeFollowResponse {
            status: 200,
            body: b,
        }))
    }
    async fn unfollow(
        &self,
        r: Request<pb::UnfollowRequest>,
    ) -> Result<Response<pb::UnfollowResponse>, Status> {
        let r = r.into_inner();
        let b = echo("Unfollow", &r.index, &HashMap::new(), &[]);
        Ok(Response::new(pb::UnfollowResponse {
            status: 200,
            body: b,
        }))
    }
    async fn forget_follower(
        &self,
        r: Request<pb::ForgetFollowerRequest>,
    ) -> Result<Response<pb::ForgetFollowerResponse>, Status> {
        let r = r.into_inner();
        let b = echo("ForgetFollower", &r.index, &r.params, &r.body);
        Ok(Response::new(pb::ForgetFollowerResponse {
            status: 200,
            body: b,
        }))
    }
    async fn put_auto_follow_pattern(
        &self,
        r: Request<pb::PutAutoFollowPatternRequest>,
    ) -> Result<Response<pb::PutAutoFollowPatternResponse>, Status> {
        let r = r.into_inner();
        let b = echo("PutAutoFollowPattern", &r.name, &HashMap::new(), &r.body);
        Ok(Response::new(pb::PutAutoFollowPatternResponse {
            status: 200,
            body: b,
        }))
    }
    async fn delete_auto_follow_pattern(
        &self,
        r: Request<pb::DeleteAutoFollowPatternRequest>,
    ) -> Result<Response<pb::DeleteAutoFollowPatternResponse>, Status> {
        let r = r.into_inner();
        let b = echo("DeleteAutoFollowPattern", &r.name, &HashMap::new(), &[]);
        Ok(Response::new(pb::DeleteAutoFollowPatternResponse {
            status: 200,
            body: b,
        }))
    }
    async fn pause_auto_follow_pattern(
        &self,
        r: Request<pb::PauseAutoFollowPatternRequest>,
    ) -> Result<Response<pb::PauseAutoFollowPatternResponse>, Status> {
        let r = r.into_inner();
        let b = echo("PauseAutoFollowPattern", &r.name, &HashMap::new(), &[]);
        Ok(Response::new(pb::PauseAutoFollowPatternResponse {
            status: 200,
            body: b,
        }))
    }
    async fn resume_auto_follow_pattern(
        &self,
        r: Request<pb::ResumeAutoFollowPatternRequest>,
    ) -> Result<Response<pb::ResumeAutoFollowPatternResponse>, Status> {
        let r = r.into_inner();
        let b = echo("ResumeAutoFollowPattern", &r.name, &HashMap::new(), &[]);
        Ok(Response::new(pb::ResumeAutoFollowPatternResponse {
            status: 200,
            body: b,
        }))
    }
    async fn get_cluster_settings(
        &self,
        r: Request<pb::GetClusterSettingsRequest>,
    ) -> Result<Response<pb::GetClusterSettingsResponse>, Status> {
        let b = echo("GetClusterSettings", "", &r.into_inner().params, &[]);
        Ok(Response::new(pb::GetClusterSettingsResponse {
            status: 200,
            body: b,
        }))
    }
    async fn remote_info(
        &self,
        _: Request<pb::RemoteInfoRequest>,
    ) -> Result<Response<pb::RemoteInfoResponse>, Status> {
        let info = json!({"leader": {"connected": true, "mode": "sniff",
            "seeds": ["127.0.0.1:9300"], "num_nodes_connected": 1,
            "max_connections_per_cluster": 3, "initial_connect_timeout": "30s",
            "skip_unavailable": false}});
        Ok(Response::new(pb::RemoteInfoResponse {
            status: 200,
            body: body(info),
        }))
    }
    async fn promote_follower(
        &self,
        _: Request<pb::PromoteFollowerRequest>,
    ) -> Result<Response<pb::PromoteFollowerResponse>, Status> {
        let reason = "promote is not supported yet";
        Err(es_error(
            Code::InvalidArgument,
            400,
            "illegal_argument_exception",
            reason,
        ))
    }
    async fn follow_info(
        &self,
        r: Request<pb::FollowInfoRequest>,
    ) -> Result<Response<pb::FollowInfoResponse>, Status> {
        let index = r.into_inner().index;
        let info = json!({"follower_indices": [{"follower_index": index,
            "remote_cluster": "leader", "leader_index": "products", "status": "active"}]});
        Ok(Response::new(pb::FollowInfoResponse {
            status: 200,
            body: body(info),
        }))
    }
    async fn follow_stats(
        &self,
        r: Request<pb::FollowStatsRequest>,
    ) -> Result<Response<pb::FollowStatsResponse>, Status> {
        let index = r.into_inner().index;
        if index == "missing" {
            return Err(not_found(&index));
        }
        let stats = json!({"indices": [{"index": index, "total_global_checkpoint_lag": 2,
            "shards": [shard_stats(&index)]}]});
        Ok(Response::new(pb::FollowStatsResponse {
            status: 200,
            body: body(stats),
        }))
    }
    async fn ccr_stats(
        &self,
        _: Request<pb::CcrStatsRequest>,
    ) -> Result<Response<pb::CcrStatsResponse>, Status> {
        let stats = json!({"auto_follow_stats": {"number_of_failed_follow_indices": 0,
            "number_of_failed_remote_cluster_state_requests": 0,
            "number_of_successful_follow_indices": 1},
            "follow_stats": {"indices": [{"index": "copy", "shards": [shard_stats("copy")]}]}});
        Ok(Response::new(pb::CcrStatsResponse {
            status: 200,
            body: body(stats),
        }))
    }
    async fn get_auto_follow_pattern(
        &self,
        r: Request<pb::GetAutoFollowPatternRequest>,
    ) -> Result<Response<pb::GetAutoFollowPatternResponse>, Status> {
        let name = r.into_inner().name.unwrap_or_else(|| "logs".to_owned());
        if name == "missing" {
            let reason = "auto-follow pattern [missing] is missing";
            return Err(es_error(
                Code::NotFound,
                404,
                "resource_not_found_exception",
                reason,
            ));
        }
        let patterns = json!({"patterns": [{"name": name, "pattern": {"active": true,
            "remote_cluster": "leader", "leader_index_patterns": ["logs-*"],
            "leader_index_exclusion_patterns": [], "follow_index_pattern": null}}]});
        Ok(Response::new(pb::GetAutoFollowPatternResponse {
            status: 200,
            body: body(patterns),
        }))
    }
}

/// Starts the mock on a free port in a background thread with its own runtime.
pub fn start_mock() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime starts");
        rt.block_on(async move {
            let incoming = TcpIncoming::bind("127.0.0.1:0".parse().expect("valid address"))
                .expect("port binds");
            tx.send(incoming.local_addr().expect("bound address"))
                .expect("test waits for the address");
            Server::builder()
                .add_service(AdminServer::new(Mock))
                .serve_with_incoming(incoming)
                .await
                .expect("mock server runs");
        });
    });
    rx.recv().expect("mock server reports its address")
}

pub fn ferryctl(addr: SocketAddr, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ferryctl"))
        .arg("--endpoint")
        .arg(format!("http://{addr}"))
        .args(args)
        .env_remove("FERRY_ENDPOINT")
        .output()
        .expect("ferryctl runs")
}

pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

pub fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("output is UTF-8")
}
