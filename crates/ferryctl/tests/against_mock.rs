//! Runs the `ferryctl` binary against an in-process mock admin server and checks what a
//! user sees: standard output, the `error:` line on standard error, and the exit code.
//!
//! The mock (`mock`) echoes what it received, so these tests also prove the command line
//! reaches the wire as intended (ids, params, wrapped queries) and that Elasticsearch error
//! bodies survive the trip in the status details. Server behaviour itself is tested against
//! real ferryd processes in the workspace `tests/`. The remote and CCR commands are in
//! `ccr_against_mock.rs`.

mod mock;

use serde_json::json;

use crate::mock::{ferryctl, start_mock, stdout_json, text};

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
