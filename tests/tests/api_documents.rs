//! Document APIs as Elasticsearch answers them: index/get/delete with `_type: "_doc"`, 201
//! vs 200, `_source` kept verbatim, auto ids, `_mget`, `_source` filtering, routing,
//! refresh semantics and auto-created indices.

use std::collections::BTreeSet;

use anyhow::Result;
use ferry_tests::TestNode;
use ferry_tests::docs::{assert_write, get_found, node_with_docs};
use ferry_tests::es::{assert_es_error, hit_ids, ids};
use ferry_tests::ops::{count, create_index};
use serde_json::{Value, json};

#[tokio::test]
async fn index_get_overwrite_delete_round_trip() -> Result<()> {
    let node = node_with_docs().await?;
    let r = node.put("/docs/_doc/1", &json!({"title": "one"})).await?;
    assert_write(&r, 201, "created", "1", 1, 0);
    assert_eq!(
        get_found(&node, "1").await?,
        (1, 0, json!({"title": "one"}))
    );

    // POST with an id is the same index operation; an overwrite is 200 "updated".
    let r = node.post("/docs/_doc/1", &json!({"title": "uno"})).await?;
    assert_write(&r, 200, "updated", "1", 2, 1);
    assert_eq!(
        get_found(&node, "1").await?,
        (2, 1, json!({"title": "uno"}))
    );

    let r = node.head("/docs/_doc/1").await?;
    r.assert_status(200);
    assert!(r.text.is_empty(), "{r}");

    let r = node.delete("/docs/_doc/1").await?;
    assert_write(&r, 200, "deleted", "1", 3, 2);

    let r = node.get("/docs/_doc/1").await?;
    r.assert_status(404);
    assert_eq!(r.body["found"], json!(false), "{r}");
    assert_eq!(r.body["_id"], json!("1"), "{r}");
    assert_eq!(r.body["_index"], json!("docs"), "{r}");
    assert_eq!(r.body["_type"], json!("_doc"), "{r}");
    node.head("/docs/_doc/1").await?.assert_status(404);

    let r = node.delete("/docs/_doc/1").await?;
    r.assert_status(404);
    assert_eq!(r.body["result"], json!("not_found"), "{r}");
    assert_eq!(r.body["_id"], json!("1"), "{r}");

    assert_es_error(
        &node.get("/nope/_doc/1").await?,
        404,
        &["index_not_found_exception"],
    );
    Ok(())
}

#[tokio::test]
async fn source_comes_back_verbatim_in_key_order() -> Result<()> {
    let node = node_with_docs().await?;
    let raw = r#"{"z":1,"a":{"y":true,"b":[3,1,2]},"m":"text é ✓","n":null,"f":1.5}"#;
    node.send_raw(ferry_tests::Method::PUT, "/docs/_doc/k", raw)
        .await?
        .assert_status(201);
    let r = node.get("/docs/_doc/k").await?;
    r.assert_status(200);
    let expected: Value = serde_json::from_str(raw)?;
    assert_eq!(r.body["_source"], expected, "{r}");
    let keys: Vec<&str> = r.body["_source"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["z", "a", "m", "n", "f"],
        "ES keeps _source key order: {r}"
    );
    Ok(())
}

#[tokio::test]
async fn auto_ids_are_20_url_safe_characters_and_distinct() -> Result<()> {
    let node = node_with_docs().await?;
    let mut seen = BTreeSet::new();
    for i in 0..40u64 {
        let r = node.post("/docs/_doc", &json!({"i": i})).await?;
        r.assert_status(201);
        assert_eq!(r.body["result"], json!("created"), "{r}");
        assert_eq!(r.body["_version"], json!(1), "{r}");
        assert_eq!(r.body["_seq_no"], json!(i), "{r}");
        let id = r.body["_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no _id: {r}"))
            .to_owned();
        assert_eq!(id.len(), 20, "auto id {id:?} is not 20 characters");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "auto id {id:?} is not URL-safe base64"
        );
        assert!(
            seen.insert(id.clone()),
            "auto id {id:?} was handed out twice"
        );
        let (_, _, source) = get_found(&node, &id).await?;
        assert_eq!(source, json!({"i": i}));
    }
    Ok(())
}

#[tokio::test]
async fn mget_with_docs_and_ids() -> Result<()> {
    let node = node_with_docs().await?;
    node.put("/docs/_doc/1", &json!({"n": 1}))
        .await?
        .assert_status(201);
    node.put("/docs/_doc/2", &json!({"n": 2, "extra": "x"}))
        .await?
        .assert_status(201);

    let r = node
        .post(
            "/_mget",
            &json!({"docs": [
                {"_index": "docs", "_id": "1"},
                {"_index": "docs", "_id": "missing"},
                {"_index": "nope", "_id": "1"},
                {"_index": "docs", "_id": "2", "_source": ["n"]}
            ]}),
        )
        .await?;
    r.assert_status(200);
    let docs = r.body["docs"]
        .as_array()
        .unwrap_or_else(|| panic!("no docs array: {r}"));
    assert_eq!(docs.len(), 4, "{r}");
    assert_eq!(docs[0]["found"], json!(true), "{r}");
    assert_eq!(docs[0]["_id"], json!("1"), "{r}");
    assert_eq!(docs[0]["_type"], json!("_doc"), "{r}");
    assert_eq!(docs[0]["_source"], json!({"n": 1}), "{r}");
    assert_eq!(docs[0]["_version"], json!(1), "{r}");
    assert_eq!(docs[0]["_seq_no"], json!(0), "{r}");
    assert_eq!(docs[1]["found"], json!(false), "{r}");
    assert_eq!(docs[1]["_id"], json!("missing"), "{r}");
    assert_eq!(docs[2]["_index"], json!("nope"), "{r}");
    assert_eq!(
        docs[2]["error"]["type"],
        json!("index_not_found_exception"),
        "{r}"
    );
    assert_eq!(docs[3]["_source"], json!({"n": 2}), "{r}");

    let r = node
        .get_with("/docs/_mget", &json!({"ids": ["2", "1", "zzz"]}))
        .await?;
    r.assert_status(200);
    let got: Vec<(Value, Value)> = r.body["docs"]
        .as_array()
        .unwrap_or_else(|| panic!("no docs array: {r}"))
        .iter()
        .map(|d| (d["_id"].clone(), d["found"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (json!("2"), json!(true)),
            (json!("1"), json!(true)),
            (json!("zzz"), json!(false))
        ],
        "{r}"
    );

    let r = node
        .post("/docs/_mget", &json!({"docs": [{"_id": "1"}]}))
        .await?;
    r.assert_status(200);
    assert_eq!(r.body["docs"][0]["_source"], json!({"n": 1}), "{r}");

    // Without an index anywhere, the request is invalid.
    let r = node
        .post("/_mget", &json!({"docs": [{"_id": "1"}]}))
        .await?;
    assert_es_error(&r, 400, &["action_request_validation_exception"]);
    Ok(())
}

#[tokio::test]
async fn source_filtering_on_get() -> Result<()> {
    let node = node_with_docs().await?;
    node.put(
        "/docs/_doc/s",
        &json!({"a": 1, "b": {"c": 2, "d": 3}, "e": "x"}),
    )
    .await?
    .assert_status(201);
    let source = |q: &'static str| {
        let node = &node;
        async move {
            let r = node.get(&format!("/docs/_doc/s?{q}")).await?;
            r.assert_status(200);
            assert_eq!(r.body["found"], json!(true), "{r}");
            anyhow::Ok(r.body.get("_source").cloned())
        }
    };
    assert_eq!(
        source("_source_includes=a,b.c").await?,
        Some(json!({"a": 1, "b": {"c": 2}}))
    );
    assert_eq!(
        source("_source_excludes=b").await?,
        Some(json!({"a": 1, "e": "x"}))
    );
    assert_eq!(
        source("_source_includes=b.*&_source_excludes=b.d").await?,
        Some(json!({"b": {"c": 2}}))
    );
    assert_eq!(source("_source=e").await?, Some(json!({"e": "x"})));
    assert_eq!(source("_source=false").await?, None);
    Ok(())
}

#[tokio::test]
async fn routing_is_kept_on_the_document_and_its_hits() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "r",
        json!({"settings": {"number_of_shards": 3, "number_of_replicas": 0}}),
    )
    .await?;
    for (id, routing) in [("1", "user1"), ("2", "user2"), ("3", "user1")] {
        let r = node
            .put(
                &format!("/r/_doc/{id}?routing={routing}&refresh=true"),
                &json!({"id": id}),
            )
            .await?;
        r.assert_status(201);
    }
    let r = node.get("/r/_doc/1?routing=user1").await?;
    r.assert_status(200);
    assert_eq!(r.body["_routing"], json!("user1"), "{r}");
    assert_eq!(r.body["_source"], json!({"id": "1"}), "{r}");

    let r = node.post("/r/_search", &json!({"query": {"ids": {"values": ["1", "2", "3"]}}, "sort": [{"id.keyword": "asc"}]})).await?;
    r.assert_status(200);
    assert_eq!(hit_ids(&r), ids(&["1", "2", "3"]), "{r}");
    let routings: Vec<Value> = r.body["hits"]["hits"]
        .as_array()
        .map(|h| h.iter().map(|x| x["_routing"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(
        routings,
        vec![json!("user1"), json!("user2"), json!("user1")],
        "{r}"
    );

    let r = node.delete("/r/_doc/1?routing=user1").await?;
    r.assert_status(200);
    assert_eq!(r.body["result"], json!("deleted"), "{r}");
    node.get("/r/_doc/1?routing=user1")
        .await?
        .assert_status(404);
    Ok(())
}

#[tokio::test]
async fn refresh_controls_search_visibility_but_get_is_realtime() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "nrt",
        json!({"settings": {"number_of_replicas": 0, "refresh_interval": "-1"}}),
    )
    .await?;
    let search_count = |index: &'static str| {
        let node = &node;
        async move {
            let r = node.get(&format!("/{index}/_count")).await?;
            r.assert_status(200);
            anyhow::Ok(
                r.body["count"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no count: {r}")),
            )
        }
    };

    node.put("/nrt/_doc/1", &json!({"v": 1}))
        .await?
        .assert_status(201);
    assert_eq!(
        search_count("nrt").await?,
        0,
        "with refresh_interval -1 nothing refreshed yet"
    );
    node.get("/nrt/_doc/1").await?.assert_status(200);

    let r = node
        .put("/nrt/_doc/2?refresh=true", &json!({"v": 2}))
        .await?;
    r.assert_status(201);
    assert_eq!(
        r.body["forced_refresh"],
        json!(true),
        "ES reports the forced refresh: {r}"
    );
    assert_eq!(
        search_count("nrt").await?,
        2,
        "refresh=true publishes everything acknowledged so far"
    );

    node.put("/nrt/_doc/3", &json!({"v": 3}))
        .await?
        .assert_status(201);
    let r = node.post_empty("/nrt/_refresh").await?;
    r.assert_status(200);
    assert_eq!(r.body["_shards"]["failed"], json!(0), "{r}");
    assert_eq!(r.body["_shards"]["successful"], json!(1), "{r}");
    assert_eq!(search_count("nrt").await?, 3);

    // wait_for returns once a (scheduled) refresh made the write visible.
    create_index(
        &node,
        "wf",
        json!({"settings": {"number_of_replicas": 0, "refresh_interval": "100ms"}}),
    )
    .await?;
    node.put("/wf/_doc/1?refresh=wait_for", &json!({"v": 1}))
        .await?
        .assert_status(201);
    assert_eq!(search_count("wf").await?, 1);

    let r = node
        .put("/nrt/_doc/4?refresh=sometimes", &json!({"v": 4}))
        .await?;
    assert_es_error(&r, 400, &["illegal_argument_exception"]);
    node.get("/nrt/_doc/4").await?.assert_status(404);

    // POST /_refresh refreshes every index.
    node.put("/nrt/_doc/5", &json!({"v": 5}))
        .await?
        .assert_status(201);
    node.post_empty("/_refresh").await?.assert_status(200);
    assert_eq!(search_count("nrt").await?, 4);
    Ok(())
}

#[tokio::test]
async fn the_first_write_creates_the_index() -> Result<()> {
    let node = TestNode::start().await?;
    let r = node
        .put("/auto/_doc/1", &json!({"title": "hello", "n": 3}))
        .await?;
    r.assert_status(201);
    assert_eq!(r.body["_index"], json!("auto"), "{r}");
    node.head("/auto").await?.assert_status(200);
    let r = node.get("/auto/_mapping").await?;
    assert_eq!(
        r.body["auto"]["mappings"]["properties"]["n"],
        json!({"type": "long"}),
        "{r}"
    );
    assert_eq!(count(&node, "auto").await?, 1);

    // An invalid name is refused for auto-creation too.
    let r = node.put("/Auto/_doc/1", &json!({"x": 1})).await?;
    assert_es_error(&r, 400, &["invalid_index_name_exception"]);
    node.head("/Auto").await?.assert_status(404);
    Ok(())
}
