//! Index APIs as Elasticsearch answers them: create (typed `_doc` and typeless mappings,
//! settings), invalid names, already exists, GET/HEAD/DELETE with wildcards and comma lists,
//! additive `_mapping` updates, dynamic mapping, `_settings` dynamic vs static, close/open.
//!
//! Every rejected request is followed by a check that nothing changed.

use anyhow::Result;
use ferry_tests::TestNode;
use ferry_tests::es::{assert_es_error, assert_es_error_mentions};
use ferry_tests::ops::{create_index, index_names, index_settings, mappings};
use serde_json::{Value, json};

#[tokio::test]
async fn create_with_typeless_mappings_and_settings() -> Result<()> {
    let node = TestNode::start().await?;
    let props = json!({
        "title": {"type": "text"},
        "tag": {"type": "keyword"},
        "year": {"type": "integer"},
        "price": {"type": "double"},
        "ok": {"type": "boolean"},
        "at": {"type": "date"},
        "small": {"type": "short"},
        "tiny": {"type": "byte"},
        "ratio": {"type": "float"},
        "big": {"type": "long"},
        "meta": {"properties": {"k": {"type": "keyword"}}}
    });
    // An explicit "type": "object" is accepted and, as in ES, not echoed back.
    let mut sent = props.clone();
    sent["meta"]["type"] = json!("object");
    let resp = create_index(
        &node,
        "books",
        json!({"settings": {"number_of_shards": 2, "number_of_replicas": 0}, "mappings": {"properties": sent}}),
    )
    .await?;
    assert_eq!(resp.body["shards_acknowledged"], json!(true), "{resp}");

    let got = node.get("/books").await?;
    got.assert_status(200);
    let idx = &got.body["books"];
    assert_eq!(idx["mappings"]["properties"], props, "{got}");
    assert!(
        idx["aliases"].is_object(),
        "GET /books has no aliases object: {got}"
    );
    let settings = &idx["settings"]["index"];
    // ES renders every index setting as a string.
    assert_eq!(settings["number_of_shards"], json!("2"), "{got}");
    assert_eq!(settings["number_of_replicas"], json!("0"), "{got}");
    assert!(
        settings["uuid"]
            .as_str()
            .is_some_and(|u| !u.is_empty() && u != "_na_"),
        "no index uuid: {got}"
    );
    assert!(
        settings["creation_date"]
            .as_str()
            .is_some_and(|d| d.parse::<u64>().is_ok()),
        "creation_date is not epoch millis as a string: {got}"
    );
    assert_eq!(settings["provided_name"], json!("books"), "{got}");

    // ?human adds the readable creation date beside the millis.
    let human = node.get("/books/_settings?human").await?;
    human.assert_status(200);
    assert!(
        human.body["books"]["settings"]["index"]["creation_date_string"].is_string(),
        "?human must add creation_date_string: {human}"
    );
    Ok(())
}

#[tokio::test]
async fn create_with_typed_doc_mapping_answers_typeless() -> Result<()> {
    let node = TestNode::start().await?;
    let props = json!({"title": {"type": "text"}, "n": {"type": "long"}});
    create_index(
        &node,
        "typed",
        json!({"mappings": {"_doc": {"properties": props}}}),
    )
    .await?;
    let got = node.get("/typed/_mapping").await?;
    got.assert_status(200);
    assert_eq!(
        got.body,
        json!({"typed": {"mappings": {"properties": props}}}),
        "{got}"
    );
    // And documents honour the typed mapping.
    let bad = node
        .put("/typed/_doc/1", &json!({"n": "not a number"}))
        .await?;
    assert_es_error(
        &bad,
        400,
        &["document_parsing_exception", "mapper_parsing_exception"],
    );
    Ok(())
}

#[tokio::test]
async fn settings_are_accepted_nested_flat_and_dotted() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "nested",
        json!({"settings": {"index": {"number_of_shards": 3, "number_of_replicas": 0}}}),
    )
    .await?;
    create_index(
        &node,
        "flat",
        json!({"settings": {"number_of_shards": 3, "number_of_replicas": 0}}),
    )
    .await?;
    create_index(
        &node,
        "dotted",
        json!({"settings": {"index.number_of_shards": 3, "index.number_of_replicas": 0}}),
    )
    .await?;
    create_index(
        &node,
        "lease",
        json!({"settings": {"index": {"soft_deletes": {"retention_lease": {"period": "1h"}}, "refresh_interval": "250ms"}}}),
    )
    .await?;
    let s = index_settings(&node, "lease").await?;
    assert_eq!(
        s["soft_deletes"]["retention_lease"]["period"],
        json!("1h"),
        "{s}"
    );
    assert_eq!(s["refresh_interval"], json!("250ms"), "{s}");
    for name in ["nested", "flat", "dotted"] {
        let s = index_settings(&node, name).await?;
        assert_eq!(s["number_of_shards"], json!("3"), "{name}: {s}");
        assert_eq!(s["number_of_replicas"], json!("0"), "{name}: {s}");
    }
    Ok(())
}

#[tokio::test]
async fn defaults_are_one_shard_one_replica() -> Result<()> {
    let node = TestNode::start().await?;
    let resp = node.put("/plain", &json!({})).await?;
    resp.assert_status(200);
    // No body at all is also a valid create.
    node.request(ferry_tests::Method::PUT, "/nobody", None)
        .await?
        .assert_status(200);
    for name in ["plain", "nobody"] {
        let s = index_settings(&node, name).await?;
        assert_eq!(s["number_of_shards"], json!("1"), "{name}: {s}");
        assert_eq!(s["number_of_replicas"], json!("1"), "{name}: {s}");
    }
    Ok(())
}

#[tokio::test]
async fn invalid_index_names_are_refused_and_create_nothing() -> Result<()> {
    let node = TestNode::start().await?;
    let long = "a".repeat(256);
    // (name as sent in the URL, name as ES reports it)
    let cases: Vec<(String, String)> = vec![
        ("Upper".into(), "Upper".into()),
        ("_under".into(), "_under".into()),
        ("-dash".into(), "-dash".into()),
        ("%2Bplus".into(), "+plus".into()),
        ("a%5Cb".into(), "a\\b".into()),
        ("a*b".into(), "a*b".into()),
        ("a%3Fb".into(), "a?b".into()),
        ("a%22b".into(), "a\"b".into()),
        ("a%3Cb".into(), "a<b".into()),
        ("a%3Eb".into(), "a>b".into()),
        ("a%7Cb".into(), "a|b".into()),
        ("a%23b".into(), "a#b".into()),
        (long.clone(), long.clone()),
    ];
    for (url_name, name) in &cases {
        let resp = node.put(&format!("/{url_name}"), &json!({})).await?;
        assert_es_error(&resp, 400, &["invalid_index_name_exception"]);
        let reason = resp.body["error"]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(&format!("[{name}]")),
            "reason does not name [{name}]: {resp}"
        );
    }
    // A comma separates indices; creating "a,b" is refused too.
    let resp = node.put("/a,b", &json!({})).await?;
    assert!(
        resp.status == 400 && resp.body["error"].is_object(),
        "PUT /a,b must be refused: {resp}"
    );
    assert!(
        index_names(&node).await?.is_empty(),
        "a refused create left an index behind"
    );

    // 255 bytes is still a valid name.
    let ok = "b".repeat(255);
    create_index(&node, &ok, json!({})).await?;
    Ok(())
}

#[tokio::test]
async fn creating_an_existing_index_is_refused_and_keeps_the_original() -> Result<()> {
    let node = TestNode::start().await?;
    let props = json!({"a": {"type": "keyword"}});
    create_index(&node, "dup", json!({"mappings": {"properties": props}})).await?;
    let uuid = index_settings(&node, "dup").await?["uuid"].clone();
    let again = node
        .put(
            "/dup",
            &json!({"mappings": {"properties": {"a": {"type": "long"}}}}),
        )
        .await?;
    assert_es_error_mentions(&again, 400, &["resource_already_exists_exception"], "dup");
    assert_eq!(again.body["error"]["index"], json!("dup"), "{again}");
    assert_eq!(mappings(&node, "dup").await?["properties"], props);
    assert_eq!(index_settings(&node, "dup").await?["uuid"], uuid);
    Ok(())
}

#[tokio::test]
async fn invalid_settings_and_mappings_are_refused_and_create_nothing() -> Result<()> {
    let node = TestNode::start().await?;
    let soft = node
        .put(
            "/nosoft",
            &json!({"settings": {"index": {"soft_deletes": {"enabled": false}}}}),
        )
        .await?;
    assert_es_error(&soft, 400, &["illegal_argument_exception"]);
    let zero = node
        .put("/zero", &json!({"settings": {"number_of_shards": 0}}))
        .await?;
    assert_es_error(&zero, 400, &["illegal_argument_exception"]);
    let unknown = node
        .put(
            "/unknown",
            &json!({"settings": {"index": {"bogus_setting": 1}}}),
        )
        .await?;
    assert_es_error_mentions(
        &unknown,
        400,
        &["illegal_argument_exception"],
        "bogus_setting",
    );
    let badtype = node
        .put(
            "/badtype",
            &json!({"mappings": {"properties": {"f": {"type": "bogus"}}}}),
        )
        .await?;
    assert_es_error_mentions(&badtype, 400, &["mapper_parsing_exception"], "bogus");
    assert!(
        index_names(&node).await?.is_empty(),
        "a refused create left an index behind"
    );
    Ok(())
}

#[tokio::test]
async fn get_and_head_with_wildcards_and_comma_lists() -> Result<()> {
    let node = TestNode::start().await?;
    for name in ["logs-a", "logs-b", "other"] {
        create_index(&node, name, json!({"settings": {"number_of_replicas": 0}})).await?;
    }
    let keys = |v: &Value| {
        v.as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };

    let r = node.get("/logs-*").await?;
    r.assert_status(200);
    assert_eq!(keys(&r.body), vec!["logs-a", "logs-b"], "{r}");

    let r = node.get("/logs-a,other").await?;
    r.assert_status(200);
    assert_eq!(keys(&r.body), vec!["logs-a", "other"], "{r}");

    let r = node.get("/_all").await?;
    r.assert_status(200);
    assert_eq!(keys(&r.body), vec!["logs-a", "logs-b", "other"], "{r}");

    // A wildcard matching nothing is an empty answer, not an error.
    let r = node.get("/nomatch-*").await?;
    r.assert_status(200);
    assert_eq!(r.body, json!({}), "{r}");

    let r = node.get("/missing").await?;
    assert_es_error(&r, 404, &["index_not_found_exception"]);
    assert_eq!(r.body["error"]["index"], json!("missing"), "{r}");
    assert_eq!(r.body["error"]["resource.id"], json!("missing"), "{r}");
    assert_eq!(
        r.body["error"]["resource.type"],
        json!("index_or_alias"),
        "{r}"
    );

    let r = node.get("/logs-a,missing").await?;
    assert_es_error(&r, 404, &["index_not_found_exception"]);

    let r = node.head("/logs-a").await?;
    r.assert_status(200);
    assert!(r.text.is_empty(), "HEAD must not have a body: {r}");
    let r = node.head("/missing").await?;
    r.assert_status(404);
    assert!(r.text.is_empty(), "HEAD must not have a body: {r}");
    Ok(())
}

#[tokio::test]
async fn delete_single_and_comma_list_and_missing() -> Result<()> {
    let node = TestNode::start().await?;
    for name in ["d1", "d2", "d3", "keep"] {
        create_index(&node, name, json!({"settings": {"number_of_replicas": 0}})).await?;
    }
    let old_uuid = index_settings(&node, "d1").await?["uuid"].clone();
    let r = node.delete("/d1").await?;
    r.assert_status(200);
    assert_eq!(r.body, json!({"acknowledged": true}), "{r}");
    node.head("/d1").await?.assert_status(404);

    node.delete("/d2,d3").await?.assert_status(200);
    node.head("/d2").await?.assert_status(404);
    node.head("/d3").await?.assert_status(404);

    let r = node.delete("/d1").await?;
    assert_es_error(&r, 404, &["index_not_found_exception"]);

    // A list naming a missing index is refused as a whole: nothing is deleted.
    let r = node.delete("/keep,missing").await?;
    assert_es_error(&r, 404, &["index_not_found_exception"]);
    node.head("/keep").await?.assert_status(200);

    // The name is free again: re-creating gives a new index with a new uuid.
    create_index(&node, "d1", json!({})).await?;
    assert_ne!(
        index_settings(&node, "d1").await?["uuid"],
        old_uuid,
        "a re-created index must get a new uuid"
    );
    Ok(())
}

#[tokio::test]
async fn mapping_updates_are_additive() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "m",
        json!({"mappings": {"properties": {"title": {"type": "text"}}}}),
    )
    .await?;

    let r = node
        .put(
            "/m/_mapping",
            &json!({"properties": {"tag": {"type": "keyword"}}}),
        )
        .await?;
    r.assert_status(200);
    assert_eq!(r.body, json!({"acknowledged": true}), "{r}");
    let m = mappings(&node, "m").await?;
    assert_eq!(
        m["properties"],
        json!({"title": {"type": "text"}, "tag": {"type": "keyword"}}),
        "{m}"
    );

    // Changing a field's type is refused and changes nothing.
    let r = node
        .put(
            "/m/_mapping",
            &json!({"properties": {"title": {"type": "long"}, "extra": {"type": "keyword"}}}),
        )
        .await?;
    assert_es_error_mentions(&r, 400, &["illegal_argument_exception"], "title");
    let after = mappings(&node, "m").await?;
    assert_eq!(after, m, "a refused mapping update changed the mapping");

    // GET /_mapping covers every index; GET /<index>/_mapping of a missing index is a 404.
    let all = node.get("/_mapping").await?;
    all.assert_status(200);
    assert_eq!(all.body["m"]["mappings"], m, "{all}");
    assert_es_error(
        &node.get("/nope/_mapping").await?,
        404,
        &["index_not_found_exception"],
    );
    Ok(())
}

#[tokio::test]
async fn dynamic_mapping_follows_elasticsearch_defaults() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(&node, "dyn", json!({"settings": {"number_of_replicas": 0}})).await?;
    let doc = json!({
        "name": "some text",
        "count": 5,
        "ratio": 1.5,
        "flag": true,
        "when": "2024-01-02T03:04:05Z",
        "obj": {"x": 1}
    });
    let r = node.put("/dyn/_doc/1", &doc).await?;
    r.assert_status(201);
    let m = mappings(&node, "dyn").await?;
    let p = &m["properties"];
    assert_eq!(
        p["name"],
        json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}),
        "{m}"
    );
    assert_eq!(p["count"], json!({"type": "long"}), "{m}");
    assert_eq!(p["ratio"], json!({"type": "float"}), "{m}");
    assert_eq!(p["flag"], json!({"type": "boolean"}), "{m}");
    assert_eq!(p["when"], json!({"type": "date"}), "{m}");
    assert_eq!(
        p["obj"],
        json!({"properties": {"x": {"type": "long"}}}),
        "{m}"
    );
    Ok(())
}

#[tokio::test]
async fn dynamic_settings_update_and_static_ones_are_refused() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "s",
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}}),
    )
    .await?;

    let r = node
        .put(
            "/s/_settings",
            &json!({"index": {"refresh_interval": "5s"}}),
        )
        .await?;
    r.assert_status(200);
    assert_eq!(r.body, json!({"acknowledged": true}), "{r}");
    node.put("/s/_settings", &json!({"index.number_of_replicas": 1}))
        .await?
        .assert_status(200);
    let s = index_settings(&node, "s").await?;
    assert_eq!(s["refresh_interval"], json!("5s"), "{s}");
    assert_eq!(s["number_of_replicas"], json!("1"), "{s}");

    let r = node
        .put("/s/_settings", &json!({"index": {"number_of_shards": 4}}))
        .await?;
    assert_es_error_mentions(&r, 400, &["illegal_argument_exception"], "number_of_shards");
    let r = node
        .put("/s/_settings", &json!({"index": {"bogus_setting": "x"}}))
        .await?;
    assert_es_error_mentions(&r, 400, &["illegal_argument_exception"], "bogus_setting");
    let after = index_settings(&node, "s").await?;
    assert_eq!(after["number_of_shards"], json!("1"), "{after}");
    assert!(after.get("bogus_setting").is_none(), "{after}");
    assert_eq!(after["refresh_interval"], json!("5s"), "{after}");

    // GET /_settings lists every index; a missing one is a 404.
    let all = node.get("/_settings").await?;
    all.assert_status(200);
    assert_eq!(
        all.body["s"]["settings"]["index"]["number_of_shards"],
        json!("1"),
        "{all}"
    );
    assert_es_error(
        &node
            .put(
                "/nope/_settings",
                &json!({"index": {"refresh_interval": "1s"}}),
            )
            .await?,
        404,
        &["index_not_found_exception"],
    );
    Ok(())
}

#[tokio::test]
async fn a_closed_index_refuses_reads_and_writes_until_opened() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(&node, "c", json!({"settings": {"number_of_replicas": 0}})).await?;
    node.put("/c/_doc/1?refresh=true", &json!({"v": 1}))
        .await?
        .assert_status(201);

    let r = node.post_empty("/c/_close").await?;
    r.assert_status(200);
    assert_eq!(r.body["acknowledged"], json!(true), "{r}");
    assert_eq!(r.body["indices"]["c"]["closed"], json!(true), "{r}");

    let closed = |r: &ferry_tests::Resp| {
        assert_es_error(r, 400, &["index_closed_exception"]);
        assert_eq!(r.body["error"]["index"], json!("c"), "{r}");
    };
    closed(&node.get("/c/_doc/1").await?);
    closed(&node.put("/c/_doc/2", &json!({"v": 2})).await?);
    closed(
        &node
            .post("/c/_search", &json!({"query": {"match_all": {}}}))
            .await?,
    );
    closed(&node.get("/c/_count").await?);
    let bulk = node
        .bulk(
            "/_bulk",
            &[
                json!({"index": {"_index": "c", "_id": "3"}}),
                json!({"v": 3}),
            ],
        )
        .await?;
    // ES fails the item (or the request) with index_closed_exception; either way nothing is written.
    assert!(
        bulk.text.contains("index_closed_exception"),
        "bulk into a closed index: {bulk}"
    );

    let r = node.post_empty("/c/_open").await?;
    r.assert_status(200);
    assert_eq!(r.body["acknowledged"], json!(true), "{r}");
    let doc = node.get("/c/_doc/1").await?;
    doc.assert_status(200);
    assert_eq!(doc.body["_source"], json!({"v": 1}), "{doc}");
    node.get("/c/_doc/2").await?.assert_status(404);
    node.get("/c/_doc/3").await?.assert_status(404);
    assert_eq!(ferry_tests::ops::count(&node, "c").await?, 1);

    assert_es_error(
        &node.post_empty("/missing/_close").await?,
        404,
        &["index_not_found_exception"],
    );
    Ok(())
}
