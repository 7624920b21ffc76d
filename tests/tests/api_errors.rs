//! Bad input gets the Elasticsearch error body and status, and changes nothing: malformed
//! JSON, unknown query clauses and parameters, wrong field types, a body over
//! `http.max_content_length` (413), unknown indices (404), and a battery of garbage that
//! must never produce a 5xx or take the node down.
//!
//! After each rejected request the test checks what it could have changed: documents,
//! counts, mappings, the list of indices.

use anyhow::Result;
use ferry_tests::es::{assert_es_error, assert_es_error_mentions};
use ferry_tests::ops::{count, create_index, index_names, mappings};
use ferry_tests::{Method, TestNode};
use serde_json::{Value, json};

/// Error types ES uses for a body that is not valid JSON (depends on the endpoint and version).
const PARSE: &[&str] = &[
    "parse_exception",
    "x_content_parse_exception",
    "json_parse_exception",
    "parsing_exception",
];
/// Error types ES uses for a document its mapping cannot take (7.x / 8.x).
const DOC_PARSE: &[&str] = &["document_parsing_exception", "mapper_parsing_exception"];

fn typed_mapping() -> Value {
    json!({"properties": {
        "count": {"type": "long"},
        "flag": {"type": "boolean"},
        "tag": {"type": "keyword"},
        "when": {"type": "date"},
        "price": {"type": "double"},
        "tiny": {"type": "byte"},
        "obj": {"properties": {"x": {"type": "long"}}}
    }})
}

async fn node_with_e() -> Result<TestNode> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "e",
        json!({"settings": {"number_of_replicas": 0}, "mappings": typed_mapping()}),
    )
    .await?;
    Ok(node)
}

#[tokio::test]
async fn malformed_json_is_refused_and_changes_nothing() -> Result<()> {
    let node = node_with_e().await?;
    let before = mappings(&node, "e").await?;

    let r = node
        .send_raw(Method::PUT, "/broken", r#"{"settings": "#)
        .await?;
    assert_es_error(&r, 400, &[PARSE, &["mapper_parsing_exception"]].concat());

    for (what, body) in [
        ("truncated", r#"{"count": "#),
        ("array root", "[1,2]"),
        ("string root", r#""str""#),
        ("garbage", "{nope}"),
    ] {
        let r = node.send_raw(Method::PUT, "/e/_doc/1", body).await?;
        assert!(r.status == 400, "{what}: {r}");
        assert_es_error(&r, 400, &[DOC_PARSE, PARSE].concat());
    }
    let r = node.request(Method::PUT, "/e/_doc/1", None).await?;
    assert_eq!(r.status, 400, "an index request without a body: {r}");
    assert!(
        r.body["error"].is_object() || r.body["error"].is_string(),
        "{r}"
    );

    let r = node
        .send_raw(Method::POST, "/e/_search", r#"{"query": "#)
        .await?;
    assert_es_error(&r, 400, PARSE);
    let r = node
        .send_raw(Method::PUT, "/e/_mapping", r#"{"properties": "#)
        .await?;
    assert_es_error(&r, 400, &[PARSE, &["mapper_parsing_exception"]].concat());
    let r = node.send_raw(Method::PUT, "/e/_settings", "{").await?;
    assert_es_error(&r, 400, &[PARSE, &["illegal_argument_exception"]].concat());
    let r = node
        .send_raw(Method::POST, "/e/_update/1", r#"{"doc": "#)
        .await?;
    assert_es_error(&r, 400, PARSE);
    let r = node
        .send_raw(Method::POST, "/_mget", r#"{"docs": "#)
        .await?;
    assert_es_error(&r, 400, PARSE);

    node.get("/e/_doc/1").await?.assert_status(404);
    assert_eq!(count(&node, "e").await?, 0);
    assert_eq!(mappings(&node, "e").await?, before);
    assert_eq!(
        index_names(&node).await?.into_iter().collect::<Vec<_>>(),
        ["e"]
    );
    Ok(())
}

#[tokio::test]
async fn unknown_query_clauses_options_and_parameters_are_named() -> Result<()> {
    let node = node_with_e().await?;
    let search = |body: Value| {
        let node = &node;
        async move { node.post("/e/_search", &body).await }
    };
    let r = search(json!({"query": {"bogus": {}}})).await?;
    assert_es_error_mentions(&r, 400, &["parsing_exception"], "bogus");
    let r = search(json!({"query": {"match": {"count": {"query": 1, "bogus_opt": 1}}}})).await?;
    assert_es_error_mentions(&r, 400, &["parsing_exception"], "bogus_opt");
    let r = search(json!({"query": {"bool": {"musts": []}}})).await?;
    assert_es_error_mentions(&r, 400, &["parsing_exception"], "musts");
    let r = search(json!({"query": {"range": {"price": {"gtx": 1}}}})).await?;
    assert_es_error_mentions(&r, 400, &["parsing_exception"], "gtx");
    let r = search(json!({"bogus_key": 1})).await?;
    assert_es_error_mentions(
        &r,
        400,
        &["parsing_exception", "x_content_parse_exception"],
        "bogus_key",
    );
    let r = search(json!({"query": {"bool": {"must": {"bogus_inner": {}}}}})).await?;
    assert_es_error_mentions(&r, 400, &["parsing_exception"], "bogus_inner");

    // Unknown URL parameters are refused, never ignored.
    let r = node.get("/e/_search?bogus_param=1").await?;
    assert_es_error_mentions(&r, 400, &["illegal_argument_exception"], "bogus_param");
    let r = node
        .put("/e/_doc/1?bogus_param=1", &json!({"count": 1}))
        .await?;
    assert_es_error_mentions(&r, 400, &["illegal_argument_exception"], "bogus_param");
    node.get("/e/_doc/1").await?.assert_status(404);
    Ok(())
}

#[tokio::test]
async fn wrong_field_types_are_refused_and_change_nothing() -> Result<()> {
    let node = node_with_e().await?;
    node.put("/e/_doc/good", &json!({"count": 1, "flag": true, "tag": "t", "when": "2024-01-01", "price": 1.5, "obj": {"x": 1}}))
        .await?
        .assert_status(201);
    node.put("/e/_doc/dyn", &json!({"dyn": 5}))
        .await?
        .assert_status(201);
    let before = mappings(&node, "e").await?;

    let cases = [
        ("count", json!({"count": "abc", "newfield": "x"})),
        ("count", json!({"count": {"a": 1}})),
        ("flag", json!({"flag": "notbool"})),
        ("when", json!({"when": "not a date"})),
        ("price", json!({"price": "cheap"})),
        ("tag", json!({"tag": {"nested": 1}})),
        ("obj", json!({"obj": "scalar"})),
        ("dyn", json!({"dyn": "abc"})),
        ("tiny", json!({"tiny": 300})),
    ];
    for (i, (field, doc)) in cases.iter().enumerate() {
        let r = node.put(&format!("/e/_doc/bad{i}"), doc).await?;
        assert_es_error_mentions(&r, 400, DOC_PARSE, field);
        node.get(&format!("/e/_doc/bad{i}"))
            .await?
            .assert_status(404);
    }
    // The same through _update and _bulk.
    let r = node
        .post("/e/_update/good", &json!({"doc": {"count": "abc"}}))
        .await?;
    assert_es_error_mentions(&r, 400, DOC_PARSE, "count");
    let b = node
        .bulk(
            "/_bulk",
            &[
                json!({"index": {"_index": "e", "_id": "bulkbad"}}),
                json!({"count": "abc"}),
            ],
        )
        .await?;
    assert_eq!(b.body["errors"], json!(true), "{b}");
    assert!(
        DOC_PARSE.contains(
            &b.body["items"][0]["index"]["error"]["type"]
                .as_str()
                .unwrap_or_default()
        ),
        "{b}"
    );

    assert_eq!(
        mappings(&node, "e").await?,
        before,
        "a refused document must not add or change mappings"
    );
    assert_eq!(count(&node, "e").await?, 2);
    let good = node.get("/e/_doc/good").await?;
    assert_eq!(good.body["_version"], json!(1), "{good}");
    assert_eq!(good.body["_source"]["count"], json!(1), "{good}");

    // ES coerces numeric strings and boolean strings by default: these are accepted.
    node.put(
        "/e/_doc/coerce",
        &json!({"count": "12", "flag": "false", "price": "2.5"}),
    )
    .await?
    .assert_status(201);
    node.post_empty("/e/_refresh").await?.assert_status(200);
    let r = node
        .post("/e/_count", &json!({"query": {"term": {"count": 12}}}))
        .await?;
    assert_eq!(
        r.body["count"],
        json!(1),
        "a coerced value is searchable as a number: {r}"
    );
    Ok(())
}

#[tokio::test]
async fn a_body_over_max_content_length_is_413_and_changes_nothing() -> Result<()> {
    let node = TestNode::builder()
        .args(["--max-content-length", "1kb"])
        .start()
        .await?;
    create_index(
        &node,
        "small",
        json!({"settings": {"number_of_replicas": 0}}),
    )
    .await?;
    node.put("/small/_doc/ok", &json!({"text": "x".repeat(500)}))
        .await?
        .assert_status(201);

    let big = json!({"text": "y".repeat(2000)});
    let r = node.put("/small/_doc/big", &big).await?;
    assert_eq!(r.status, 413, "{r}");
    assert_eq!(
        r.headers
            .get("x-elastic-product")
            .and_then(|v| v.to_str().ok()),
        Some("Elasticsearch"),
        "the 413 answer carries the product header like every other: {r}"
    );
    let lines = vec![
        json!({"index": {"_index": "small", "_id": "bulkbig"}}),
        big.clone(),
    ];
    let r = node.bulk("/_bulk", &lines).await?;
    assert_eq!(r.status, 413, "{r}");
    let r = node
        .post(
            "/small/_search",
            &json!({"query": {"match": {"text": "z".repeat(2000)}}}),
        )
        .await?;
    assert_eq!(r.status, 413, "{r}");
    let r = node
        .put(
            "/toolarge",
            &json!({"settings": {"index": {"refresh_interval": "1s"}}, "pad": "p".repeat(2000)}),
        )
        .await?;
    assert_eq!(r.status, 413, "{r}");

    node.get("/small/_doc/big").await?.assert_status(404);
    node.get("/small/_doc/bulkbig").await?.assert_status(404);
    assert_eq!(count(&node, "small").await?, 1);
    assert_eq!(
        index_names(&node).await?.into_iter().collect::<Vec<_>>(),
        ["small"]
    );
    // The node still serves normally afterwards.
    node.get("/").await?.assert_status(200);
    Ok(())
}

#[tokio::test]
async fn an_unknown_index_is_404_everywhere_and_is_not_created() -> Result<()> {
    let node = TestNode::start().await?;
    let requests: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/nope", None),
        (Method::GET, "/nope/_doc/1", None),
        (Method::DELETE, "/nope/_doc/1", None),
        (Method::DELETE, "/nope", None),
        (Method::GET, "/nope/_mapping", None),
        (
            Method::PUT,
            "/nope/_mapping",
            Some(json!({"properties": {"a": {"type": "keyword"}}})),
        ),
        (Method::GET, "/nope/_settings", None),
        (Method::POST, "/nope/_search", Some(json!({}))),
        (Method::GET, "/nope/_count", None),
        (Method::POST, "/nope/_refresh", None),
        (Method::POST, "/nope/_close", None),
        (Method::POST, "/nope/_open", None),
    ];
    for (method, path, body) in requests {
        let body = body.map(|b| {
            (
                serde_json::to_vec(&b).expect("a Value serializes"),
                "application/json",
            )
        });
        let r = node.request(method, path, body).await?;
        assert_es_error(&r, 404, &["index_not_found_exception"]);
        let e = &r.body["error"];
        assert_eq!(e["index"], json!("nope"), "{r}");
        assert_eq!(e["resource.id"], json!("nope"), "{r}");
        assert_eq!(e["resource.type"], json!("index_or_alias"), "{r}");
        assert_eq!(
            e["root_cause"][0]["type"],
            json!("index_not_found_exception"),
            "{r}"
        );
    }
    let r = node.head("/nope/_doc/1").await?;
    r.assert_status(404);
    assert!(
        index_names(&node).await?.is_empty(),
        "an unknown-index request created an index"
    );
    Ok(())
}

/// A request body and its content type.
type Body = (Vec<u8>, &'static str);

#[tokio::test]
async fn garbage_never_gets_a_5xx_nor_takes_the_node_down() -> Result<()> {
    let node = node_with_e().await?;
    let deep = "[".repeat(5000) + &"]".repeat(5000);
    let deep_obj = "{\"a\":".repeat(3000) + "1" + &"}".repeat(3000);
    let raw: Vec<(Method, &str, Option<Body>)> = vec![
        (Method::DELETE, "/_cat/indices", None),
        (Method::POST, "/", None),
        (
            Method::PUT,
            "/e/_doc",
            Some((b"{}".to_vec(), "application/json")),
        ),
        (Method::GET, "/e/_doc/", None),
        (
            Method::PUT,
            "/e/_doc/%FF%FE",
            Some((b"{}".to_vec(), "application/json")),
        ),
        (
            Method::PUT,
            "/e/_doc/1",
            Some((vec![0xff, 0x00, 0xfe, 0x01], "application/json")),
        ),
        (
            Method::PUT,
            "/e/_doc/1",
            Some((deep.clone().into_bytes(), "application/json")),
        ),
        (
            Method::PUT,
            "/e/_doc/1",
            Some((deep_obj.clone().into_bytes(), "application/json")),
        ),
        (
            Method::POST,
            "/e/_search",
            Some((deep_obj.into_bytes(), "application/json")),
        ),
        (
            Method::POST,
            "/e/_search",
            Some((br#"{"size": 1000000000}"#.to_vec(), "application/json")),
        ),
        (
            Method::POST,
            "/e/_search",
            Some((br#"{"from": -1}"#.to_vec(), "application/json")),
        ),
        (
            Method::POST,
            "/e/_search",
            Some((
                br#"{"query": {"match": {"tag": null}}}"#.to_vec(),
                "application/json",
            )),
        ),
        (
            Method::POST,
            "/e/_search",
            Some((br#"{"query": []}"#.to_vec(), "application/json")),
        ),
        (
            Method::POST,
            "/e/_search",
            Some((
                br#"{"sort": {"count": "sideways"}}"#.to_vec(),
                "application/json",
            )),
        ),
        (Method::GET, "/e/_search?size=abc", None),
        (
            Method::PUT,
            "/e/_doc/1?version=abc&version_type=external",
            Some((b"{}".to_vec(), "application/json")),
        ),
        (
            Method::PUT,
            "/e/_doc/1?if_seq_no=-5&if_primary_term=1",
            Some((b"{}".to_vec(), "application/json")),
        ),
        (
            Method::PUT,
            "/e/_doc/1",
            Some((b"{\"count\": 1}".to_vec(), "text/plain")),
        ),
        (
            Method::POST,
            "/_bulk",
            Some((
                b"{\"index\":{\"_index\":\"e\"}}\n".to_vec(),
                "application/x-ndjson",
            )),
        ),
        (
            Method::POST,
            "/_bulk",
            Some((b"\n\n\n".to_vec(), "application/x-ndjson")),
        ),
        (
            Method::PUT,
            "/e/_settings",
            Some((
                br#"{"index": {"number_of_replicas": "many"}}"#.to_vec(),
                "application/json",
            )),
        ),
        (
            Method::PUT,
            "/e/_mapping",
            Some((
                br#"{"properties": {"x": {"type": "keyword", "bogus_param": 1}}}"#.to_vec(),
                "application/json",
            )),
        ),
        (Method::GET, "/_cluster/health?wait_for_status=purple", None),
    ];
    let mut failures = Vec::new();
    for (method, path, body) in raw {
        let r = node.request(method.clone(), path, body).await?;
        if !(400..500).contains(&r.status) {
            failures.push(format!("expected a 4xx: {r}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    node.get("/").await?.assert_status(200);
    node.get("/_health/ready").await?.assert_status(200);
    assert_eq!(count(&node, "e").await?, 0, "garbage wrote a document");
    assert_eq!(
        mappings(&node, "e").await?,
        typed_mapping(),
        "garbage changed the mapping"
    );
    assert_eq!(
        node.get("/e/_settings").await?.body["e"]["settings"]["index"]["number_of_replicas"],
        json!("0")
    );
    Ok(())
}
