//! `ferryctl` against a real node over gRPC: `health`, `index create|list|get|delete`,
//! `doc put|get|delete`, `bulk <file>`, `search <index> <query-json>`, `--output json|table`,
//! and failures that exit non-zero with `error:` on stderr.
//!
//! The CLI's JSON layout is its own; the tests check its *content* (the document, the index
//! name, the hit) and cross-check every change through the REST API.

use anyhow::Result;
use ferry_tests::es::contains_value;
use ferry_tests::ops::{count, create_index};
use ferry_tests::{Ferryctl, TestNode};
use serde_json::json;

#[track_caller]
fn assert_failed_with_error(out: &ferry_tests::CtlOutput) {
    assert!(!out.success(), "expected a failure: {out}");
    assert!(
        out.stderr.contains("error:"),
        "a failure must print `error:` on stderr: {out}"
    );
}

#[tokio::test]
async fn health_in_json_and_table() -> Result<()> {
    let node = TestNode::start().await?;
    let ctl = node.ctl()?;
    let v = ctl.json(&["health"])?;
    assert!(
        v.to_string().to_lowercase().contains("green"),
        "health of an empty node is green: {v}"
    );
    let out = ctl.run(&["--output", "table", "health"])?;
    out.assert_success();
    assert!(out.stdout.to_lowercase().contains("green"), "{out}");
    Ok(())
}

#[tokio::test]
async fn index_create_list_get_delete() -> Result<()> {
    let node = TestNode::start().await?;
    let ctl = node.ctl()?;
    ctl.run(&["index", "create", "books"])?.assert_success();
    node.head("/books").await?.assert_status(200);

    let list = ctl.json(&["index", "list"])?;
    assert!(
        contains_value(&list, &json!("books")),
        "index list lacks books: {list}"
    );
    let out = ctl.run(&["--output", "table", "index", "list"])?;
    out.assert_success();
    assert!(out.stdout.contains("books"), "{out}");

    let got = ctl.json(&["index", "get", "books"])?;
    assert!(
        contains_value(&got, &json!("books")),
        "index get lacks the name: {got}"
    );

    assert_failed_with_error(&ctl.run(&["index", "create", "books"])?);
    assert_failed_with_error(&ctl.run(&["index", "create", "Bad"])?);
    node.head("/Bad").await?.assert_status(404);

    ctl.run(&["index", "delete", "books"])?.assert_success();
    node.head("/books").await?.assert_status(404);
    assert_failed_with_error(&ctl.run(&["index", "get", "books"])?);
    assert_failed_with_error(&ctl.run(&["index", "delete", "books"])?);
    let list = ctl.json(&["index", "list"])?;
    assert!(
        !contains_value(&list, &json!("books")),
        "deleted index still listed: {list}"
    );
    Ok(())
}

#[tokio::test]
async fn doc_put_get_delete() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "books",
        json!({"settings": {"number_of_replicas": 0}}),
    )
    .await?;
    let ctl = node.ctl()?;
    let source = json!({"title": "ferry tales", "pages": 321});
    ctl.run(&["doc", "put", "books", "1", &source.to_string()])?
        .assert_success();
    let r = node.get("/books/_doc/1").await?;
    r.assert_status(200);
    assert_eq!(r.body["_source"], source, "{r}");

    let got = ctl.json(&["doc", "get", "books", "1"])?;
    assert!(
        contains_value(&got, &source),
        "doc get does not show the source: {got}"
    );

    assert_failed_with_error(&ctl.run(&["doc", "put", "books", "2", "{not json"])?);
    assert_failed_with_error(&ctl.run(&["doc", "put", "missing-index-Bad", "1", "{}"])?);
    node.get("/books/_doc/2").await?.assert_status(404);

    ctl.run(&["doc", "delete", "books", "1"])?.assert_success();
    node.get("/books/_doc/1").await?.assert_status(404);
    Ok(())
}

#[tokio::test]
async fn bulk_from_a_file_then_search() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "books",
        json!({"settings": {"number_of_replicas": 0}, "mappings": {"properties": {"n": {"type": "long"}, "title": {"type": "text"}}}}),
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("books.ndjson");
    let mut lines = Vec::new();
    for n in 1..=5 {
        lines.push(json!({"index": {"_index": "books", "_id": n.to_string()}}));
        lines.push(json!({"n": n, "title": format!("volume {n}")}));
    }
    std::fs::write(&file, ferry_tests::es::ndjson(&lines))?;
    let path = file.to_str().expect("temp paths are UTF-8 here");
    ctl_ok(&node.ctl()?, &["bulk", path])?;
    assert_eq!(count(&node, "books").await?, 5);

    let ctl = node.ctl()?;
    let hits = ctl.json(&["search", "books", r#"{"query":{"term":{"n":3}}}"#])?;
    assert!(
        contains_value(&hits, &json!({"n": 3, "title": "volume 3"})),
        "search does not show the hit: {hits}"
    );
    assert!(
        !contains_value(&hits, &json!({"n": 4, "title": "volume 4"})),
        "search shows a non-matching doc: {hits}"
    );
    let out = ctl.run(&[
        "--output",
        "table",
        "search",
        "books",
        r#"{"query":{"match":{"title":"volume"}}}"#,
    ])?;
    out.assert_success();
    assert_failed_with_error(&ctl.run(&["search", "books", r#"{"query":{"bogus":{}}}"#])?);
    assert_failed_with_error(&ctl.run(&["bulk", "/nonexistent/file.ndjson"])?);
    Ok(())
}

fn ctl_ok(ctl: &Ferryctl, args: &[&str]) -> Result<()> {
    ctl.run(args)?.assert_success();
    Ok(())
}

#[tokio::test]
async fn an_unreachable_node_is_an_error() -> Result<()> {
    // Bind and drop a port so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let ctl = Ferryctl::new(format!("http://127.0.0.1:{port}"))?;
    assert_failed_with_error(&ctl.run(&["health"])?);
    Ok(())
}
