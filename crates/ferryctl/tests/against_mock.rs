//! Runs the `ferryctl` binary against an in-process mock admin server and checks what a
//! user sees: standard output, the `error:` line on standard error, and the exit code.
//!
//! The mock echoes what it received, so these tests also prove the command line reaches the
//! wire as intended (ids, params, wrapped queries) and that Elasticsearch error bodies
//! survive the trip in the status details. Server behaviour itself is tested against real
//! ferryd processes in the workspace `tests/`.

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
    let details = json!({"error": {"root_cause": [], "type": "index_not_found_exception", "reason": reason},
                         "status": 404});
    Status::with_details(Code::NotFound, reason, body(details))
}

fn echo_params(p: &HashMap<String, String>) -> Value {
    json!(p)
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
}

/// Starts the mock on a free port in a background thread with its own runtime.
fn start_mock() -> SocketAddr {
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

fn ferryctl(addr: SocketAddr, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ferryctl"))
        .arg("--endpoint")
        .arg(format!("http://{addr}"))
        .args(args)
        .env_remove("FERRY_ENDPOINT")
        .output()
        .expect("ferryctl runs")
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("output is UTF-8")
}

#[test]
fn health_prints_a_table_and_exits_zero() {
    let addr = start_mock();
    let out = ferryctl(addr, &["health"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "field            value\ncluster_name     mock\nstatus           green\nnumber_of_nodes  1\nindex            null\n"
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn doc_put_sends_params_and_source_and_no_id() {
    let addr = start_mock();
    let out = ferryctl(
        addr,
        &[
            "doc",
            "put",
            "logs",
            r#"{"a":1}"#,
            "-p",
            "refresh=true",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let body = stdout_json(&out);
    assert_eq!(body["_id"], "auto");
    assert_eq!(body["params"], json!({"refresh": "true"}));
    assert_eq!(body["received"], json!({"a": 1}));
}

#[test]
fn a_missing_document_prints_the_body_and_exits_one() {
    let addr = start_mock();
    let out = ferryctl(addr, &["doc", "get", "logs", "9"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["found"], false);
    assert_eq!(text(&out.stderr), "error: answered with status 404\n");
}

#[test]
fn a_grpc_error_prints_the_elasticsearch_type_and_reason() {
    let addr = start_mock();
    let out = ferryctl(addr, &["index", "delete", "missing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "error: index_not_found_exception: no such index [missing]\n"
    );
}

#[test]
fn search_wraps_a_bare_query_and_renders_hits() {
    let addr = start_mock();
    let out = ferryctl(
        addr,
        &["search", "logs", r#"{"match":{"t":"x"}}"#, "--size", "3"],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "hits: 1, took: 2ms\nindex  id  score  source\nlogs   1   1.0    {\"query\":{\"match\":{\"t\":\"x\"}},\"size\":3}\n"
    );
}

#[test]
fn bulk_reads_the_file_and_summarises() {
    let addr = start_mock();
    let dir = std::env::temp_dir().join(format!("ferryctl-bulk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("ops.ndjson");
    std::fs::write(
        &file,
        "{\"index\":{}}\n{\"a\":1}\n{\"index\":{}}\n{\"a\":2}\n",
    )
    .expect("write ndjson");
    let out = ferryctl(
        addr,
        &[
            "bulk",
            file.to_str().expect("utf-8 path"),
            "--index",
            "logs",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "items: 4, failed: 0, errors: false, took: 1ms\n"
    );
}

#[test]
fn index_list_and_create() {
    let addr = start_mock();
    let list = ferryctl(addr, &["index", "list"]);
    assert_eq!(
        text(&list.stdout),
        "health  index  docs.count\ngreen   a      3\n"
    );
    let create = ferryctl(
        addr,
        &["index", "create", "logs", "--shards", "2", "-o", "json"],
    );
    assert_eq!(create.status.code(), Some(0));
    assert_eq!(
        stdout_json(&create)["received"],
        json!({"settings": {"number_of_shards": 2}})
    );
}

#[test]
fn an_unreachable_endpoint_exits_one() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port binds")
        .local_addr()
        .expect("addr");
    // The listener is dropped here, so nothing listens on the port.
    let out = ferryctl(port, &["info"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: unavailable: cannot connect to http://127.0.0.1:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_wrong_command_line_exits_two() {
    let out = ferryctl(
        "127.0.0.1:1".parse().expect("valid address"),
        &["doc", "put"],
    );
    assert_eq!(out.status.code(), Some(2));
}
