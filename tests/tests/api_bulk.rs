//! `_bulk` as Elasticsearch answers it: mixed actions with per-item statuses and results,
//! a bad item failing alone (`errors: true`), a malformed body refused whole with one 400
//! and nothing written, the trailing-newline rule, default index from the path, refresh,
//! auto-created indices, and a large batch with dense sequence numbers.

use anyhow::Result;
use ferry_tests::es::{assert_es_error, ndjson};
use ferry_tests::ops::{count, create_index, index_names};
use ferry_tests::{Method, Resp, TestNode};
use serde_json::{Value, json};

async fn node_with_b() -> Result<TestNode> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "b",
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": {"properties": {"n": {"type": "long"}}}}),
    )
    .await?;
    Ok(node)
}

/// The per-item objects of a bulk answer as (action, item) pairs.
#[track_caller]
fn items(resp: &Resp) -> Vec<(String, Value)> {
    let items = resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items array: {resp}"));
    items
        .iter()
        .map(|item| {
            let obj = item
                .as_object()
                .unwrap_or_else(|| panic!("item is not an object: {resp}"));
            assert_eq!(obj.len(), 1, "an item has exactly one action key: {resp}");
            let (action, body) = obj.iter().next().expect("checked: one entry");
            (action.clone(), body.clone())
        })
        .collect()
}

#[tokio::test]
async fn mixed_actions_answer_per_item() -> Result<()> {
    let node = node_with_b().await?;
    let r = node
        .bulk(
            "/_bulk",
            &[
                json!({"index": {"_index": "b", "_id": "1"}}),
                json!({"n": 1}),
                json!({"create": {"_index": "b", "_id": "2"}}),
                json!({"n": 2}),
                json!({"index": {"_index": "b"}}),
                json!({"n": 3}),
                json!({"update": {"_index": "b", "_id": "1"}}),
                json!({"doc": {"extra": true}}),
                json!({"delete": {"_index": "b", "_id": "2"}}),
                json!({"delete": {"_index": "b", "_id": "zz"}}),
                json!({"index": {"_index": "b", "_id": "1"}}),
                json!({"n": 100}),
            ],
        )
        .await?;
    r.assert_status(200);
    assert_eq!(
        r.body["errors"],
        json!(false),
        "a not_found delete is not an error: {r}"
    );
    assert!(r.body["took"].is_u64(), "took must be a number: {r}");
    let items = items(&r);
    let actions: Vec<&str> = items.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "index", "create", "index", "update", "delete", "delete", "index"
        ],
        "{r}"
    );

    let expect = [
        (201, "created", 1),
        (201, "created", 1),
        (201, "created", 1),
        (200, "updated", 2),
        (200, "deleted", 2),
    ];
    for (i, (status, result, version)) in expect.iter().enumerate() {
        let item = &items[i].1;
        assert_eq!(item["status"], json!(status), "item {i}: {r}");
        assert_eq!(item["result"], json!(result), "item {i}: {r}");
        assert_eq!(item["_version"], json!(version), "item {i}: {r}");
        assert_eq!(item["_seq_no"], json!(i), "item {i}: {r}");
        assert_eq!(item["_primary_term"], json!(1), "item {i}: {r}");
        assert_eq!(item["_index"], json!("b"), "item {i}: {r}");
        assert_eq!(item["_type"], json!("_doc"), "item {i}: {r}");
        assert_eq!(
            item["_shards"],
            json!({"total": 1, "successful": 1, "failed": 0}),
            "item {i}: {r}"
        );
        assert!(item.get("error").is_none(), "item {i}: {r}");
    }
    let auto_id = items[2].1["_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no auto id: {r}"))
        .to_owned();
    assert_eq!(auto_id.len(), 20, "{r}");
    assert_eq!(items[5].1["status"], json!(404), "{r}");
    assert_eq!(items[5].1["result"], json!("not_found"), "{r}");
    assert_eq!(items[6].1["status"], json!(200), "{r}");
    assert_eq!(items[6].1["result"], json!("updated"), "{r}");
    assert_eq!(items[6].1["_version"], json!(3), "{r}");
    assert!(items[6].1["_seq_no"].as_u64() > Some(4), "{r}");

    let doc = node.get("/b/_doc/1").await?;
    assert_eq!(doc.body["_source"], json!({"n": 100}), "{doc}");
    node.get("/b/_doc/2").await?.assert_status(404);
    let doc = node.get(&format!("/b/_doc/{auto_id}")).await?;
    assert_eq!(doc.body["_source"], json!({"n": 3}), "{doc}");
    assert_eq!(count(&node, "b").await?, 2);
    Ok(())
}

#[tokio::test]
async fn a_bad_item_fails_alone() -> Result<()> {
    let node = node_with_b().await?;
    let body = [
        r#"{"index":{"_index":"b","_id":"1"}}"#,
        r#"{"n":1}"#,
        r#"{"index":{"_index":"b","_id":"bad-json"}}"#,
        r#"{"n": "#,
        r#"{"index":{"_index":"b","_id":"wrong-type"}}"#,
        r#"{"n":"abc"}"#,
        r#"{"create":{"_index":"b","_id":"1"}}"#,
        r#"{"n":11}"#,
        r#"{"update":{"_index":"b","_id":"ghost"}}"#,
        r#"{"doc":{"n":5}}"#,
        r#"{"index":{"_index":"b","_id":"2"}}"#,
        r#"{"n":2}"#,
    ]
    .join("\n")
        + "\n";
    let r = node.post_ndjson("/_bulk", body).await?;
    r.assert_status(200);
    assert_eq!(r.body["errors"], json!(true), "{r}");
    let items = items(&r);
    let statuses: Vec<Value> = items.iter().map(|(_, i)| i["status"].clone()).collect();
    assert_eq!(
        statuses,
        [
            json!(201),
            json!(400),
            json!(400),
            json!(409),
            json!(404),
            json!(201)
        ],
        "{r}"
    );
    let parse_types = ["document_parsing_exception", "mapper_parsing_exception"];
    for (i, types) in [
        (1, &parse_types[..]),
        (2, &parse_types[..]),
        (3, &["version_conflict_engine_exception"][..]),
        (4, &["document_missing_exception"][..]),
    ] {
        let item = &items[i].1;
        let kind = item["error"]["type"]
            .as_str()
            .unwrap_or_else(|| panic!("item {i} has no error.type: {r}"));
        assert!(
            types.contains(&kind),
            "item {i}: error type {kind} not in {types:?}: {r}"
        );
        assert!(item["error"]["reason"].is_string(), "item {i}: {r}");
        assert_eq!(item["_index"], json!("b"), "item {i}: {r}");
        assert!(item["_id"].is_string(), "item {i}: {r}");
    }
    assert_eq!(items[2].1["_id"], json!("wrong-type"), "{r}");
    assert_eq!(
        items[5].1["_seq_no"],
        json!(1),
        "failed items consume no sequence number: {r}"
    );

    assert_eq!(
        node.get("/b/_doc/1").await?.body["_source"],
        json!({"n": 1})
    );
    node.get("/b/_doc/bad-json").await?.assert_status(404);
    node.get("/b/_doc/wrong-type").await?.assert_status(404);
    node.get("/b/_doc/ghost").await?.assert_status(404);
    assert_eq!(count(&node, "b").await?, 2);
    let m = node.get("/b/_mapping").await?;
    assert_eq!(
        m.body["b"]["mappings"]["properties"],
        json!({"n": {"type": "long"}}),
        "failed items must not map fields: {m}"
    );
    Ok(())
}

#[tokio::test]
async fn a_malformed_body_is_one_400_and_writes_nothing() -> Result<()> {
    let node = node_with_b().await?;
    let first = r#"{"index":{"_index":"b","_id":"must-not-exist"}}"#.to_owned()
        + "\n"
        + r#"{"n":1}"#
        + "\n";
    let cases: Vec<(&str, String)> = vec![
        (
            "broken action line",
            first.clone() + "{\"index\": {\"_index\":\n{\"n\":2}\n",
        ),
        (
            "action is not an object",
            first.clone() + "\"just a string\"\n",
        ),
        (
            "unknown action",
            first.clone() + "{\"upsert\":{\"_index\":\"b\",\"_id\":\"u\"}}\n{\"n\":1}\n",
        ),
        (
            "unknown action parameter",
            first.clone() + "{\"index\":{\"_index\":\"b\",\"_id\":\"p\",\"bogus\":1}}\n{\"n\":1}\n",
        ),
        (
            "malformed update body",
            first.clone() + "{\"update\":{\"_index\":\"b\",\"_id\":\"1\"}}\n{\"doc\": \n",
        ),
        (
            "no trailing newline",
            first.clone() + "{\"index\":{\"_index\":\"b\",\"_id\":\"t\"}}\n{\"n\":3}",
        ),
    ];
    for (what, body) in cases {
        let r = node.post_ndjson("/_bulk", body).await?;
        assert_eq!(r.status, 400, "{what}: {r}");
        assert_es_error(
            &r,
            400,
            &[
                "illegal_argument_exception",
                "x_content_parse_exception",
                "parsing_exception",
                "json_parse_exception",
            ],
        );
    }
    let r = node
        .post_ndjson(
            "/_bulk",
            "{\"index\":{\"_index\":\"b\",\"_id\":\"t\"}}\n{\"n\":3}",
        )
        .await?;
    let reason = r.body["error"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("newline"),
        "the missing trailing newline is named: {r}"
    );

    let r = node.post_ndjson("/_bulk", "").await?;
    assert_eq!(r.status, 400, "empty bulk: {r}");
    assert!(r.body["error"]["type"].is_string(), "empty bulk: {r}");

    node.get("/b/_doc/must-not-exist").await?.assert_status(404);
    assert_eq!(count(&node, "b").await?, 0);
    assert_eq!(
        index_names(&node).await?.into_iter().collect::<Vec<_>>(),
        ["b"],
        "no index was auto-created"
    );
    Ok(())
}

#[tokio::test]
async fn default_index_from_the_path_json_content_type_and_crlf() -> Result<()> {
    let node = node_with_b().await?;
    create_index(
        &node,
        "other",
        json!({"settings": {"number_of_replicas": 0}}),
    )
    .await?;
    let body = "{\"index\":{\"_id\":\"p1\"}}\r\n{\"n\":1}\r\n{\"index\":{\"_index\":\"other\",\"_id\":\"o1\"}}\r\n{\"n\":2}\r\n";
    let r = node
        .send_raw(Method::POST, "/b/_bulk?refresh=true", body)
        .await?;
    r.assert_status(200);
    assert_eq!(r.body["errors"], json!(false), "{r}");
    let it = items(&r);
    assert_eq!(it[0].1["_index"], json!("b"), "{r}");
    assert_eq!(it[1].1["_index"], json!("other"), "{r}");
    assert_eq!(
        node.get("/b/_doc/p1").await?.body["_source"],
        json!({"n": 1})
    );
    assert_eq!(
        node.get("/other/_doc/o1").await?.body["_source"],
        json!({"n": 2})
    );
    // refresh=true made both searchable without another refresh.
    let c = node.get("/b,other/_count").await?;
    assert_eq!(c.body["count"], json!(2), "{c}");

    // PUT /_bulk is accepted as well.
    let r = node
        .request(
            Method::PUT,
            "/b/_bulk",
            Some((
                ndjson(&[json!({"delete": {"_id": "p1"}})]).into_bytes(),
                "application/x-ndjson",
            )),
        )
        .await?;
    r.assert_status(200);
    assert_eq!(items(&r)[0].1["result"], json!("deleted"), "{r}");
    Ok(())
}

#[tokio::test]
async fn bulk_auto_creates_indices_and_refuses_invalid_names_per_item() -> Result<()> {
    let node = TestNode::start().await?;
    let r = node
        .bulk(
            "/_bulk",
            &[
                json!({"index": {"_index": "fresh", "_id": "1"}}),
                json!({"x": 1}),
                json!({"index": {"_index": "Bad", "_id": "1"}}),
                json!({"x": 1}),
            ],
        )
        .await?;
    r.assert_status(200);
    assert_eq!(r.body["errors"], json!(true), "{r}");
    let it = items(&r);
    assert_eq!(it[0].1["status"], json!(201), "{r}");
    assert_eq!(it[1].1["status"], json!(400), "{r}");
    assert_eq!(
        it[1].1["error"]["type"],
        json!("invalid_index_name_exception"),
        "{r}"
    );
    assert_eq!(
        index_names(&node).await?.into_iter().collect::<Vec<_>>(),
        ["fresh"]
    );
    Ok(())
}

#[tokio::test]
async fn only_an_object_source_auto_creates_its_index() -> Result<()> {
    let node = TestNode::start().await?;
    let r = node
        .post_ndjson(
            "/_bulk",
            "{\"index\":{\"_index\":\"never\",\"_id\":\"1\"}}\n[1,2]\n\
             {\"index\":{\"_index\":\"never\",\"_id\":\"2\"}}\n\"text\"\n\
             {\"index\":{\"_index\":\"later\",\"_id\":\"1\"}}\n[3]\n\
             {\"index\":{\"_index\":\"later\",\"_id\":\"2\"}}\n{\"x\":1}\n",
        )
        .await?;
    r.assert_status(200);
    assert_eq!(r.body["errors"], json!(true), "{r}");
    let it = items(&r);
    for i in [0, 1] {
        assert_eq!(it[i].1["status"], json!(404), "item {i}: {r}");
        assert_eq!(
            it[i].1["error"]["type"],
            json!("index_not_found_exception"),
            "item {i}: {r}"
        );
    }
    assert_eq!(it[2].1["status"], json!(400), "{r}");
    assert_eq!(
        it[2].1["error"]["type"],
        json!("document_parsing_exception"),
        "{r}"
    );
    assert_eq!(it[3].1["status"], json!(201), "{r}");
    assert_eq!(
        index_names(&node).await?.into_iter().collect::<Vec<_>>(),
        ["later"],
        "a group of non-object sources creates nothing"
    );
    Ok(())
}

#[tokio::test]
async fn a_large_batch_gets_dense_sequence_numbers_in_item_order() -> Result<()> {
    let node = node_with_b().await?;
    let mut lines = Vec::new();
    for i in 0..1000u64 {
        lines.push(json!({"index": {"_index": "b", "_id": format!("d{i}")}}));
        lines.push(json!({"n": i, "title": format!("document number {i}")}));
    }
    let r = node.bulk("/_bulk", &lines).await?;
    r.assert_status(200);
    assert_eq!(r.body["errors"], json!(false), "{r}");
    let it = items(&r);
    assert_eq!(it.len(), 1000);
    for (i, (_, item)) in it.iter().enumerate() {
        assert_eq!(
            item["_id"],
            json!(format!("d{i}")),
            "item order is request order"
        );
        assert_eq!(item["_seq_no"], json!(i), "item {i}");
        assert_eq!(item["status"], json!(201), "item {i}");
    }
    assert_eq!(count(&node, "b").await?, 1000);
    let d = node.get("/b/_doc/d999").await?;
    assert_eq!(
        d.body["_source"],
        json!({"n": 999, "title": "document number 999"}),
        "{d}"
    );
    Ok(())
}
