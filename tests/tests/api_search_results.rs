//! Search results as Elasticsearch shapes them, on the fixed "shop" dataset
//! ([`ferry_tests::shop`]): sort (keyword, number, date, missing values, explicit
//! tie-breaks, sort values), `from`/`size`, `search_after`, `_source` filtering,
//! total-hits tracking and `rest_total_hits_as_int`, multi-index and wildcard index
//! expressions, and a multi-shard index merging to the same answers.

use anyhow::Result;
use ferry_tests::TestNode;
use ferry_tests::es::{assert_es_error, hit_ids, hits, ids, total_hits};
use ferry_tests::ops::create_index;
use ferry_tests::shop::{
    all_ids, check_cases, dataset, load, mapping, search, sort_values, started,
};
use serde_json::{Value, json};

#[tokio::test]
async fn sorting_on_keyword_number_date_and_missing_values() -> Result<()> {
    let node = started().await?;
    let run = |sort: Value| {
        let node = &node;
        async move {
            search(
                node,
                "shop",
                json!({"query": {"match_all": {}}, "sort": sort, "size": 20}),
            )
            .await
        }
    };

    let r = run(json!([{"price": "asc"}])).await?;
    assert_eq!(
        hit_ids(&r),
        ids(&[
            "4", "2", "6", "5", "10", "1", "11", "9", "3", "12", "8", "7"
        ]),
        "{r}"
    );
    let prices: Vec<Vec<Value>> = [
        1.25, 5.0, 6.0, 7.5, 10.0, 10.5, 12.0, 15.0, 20.0, 22.5, 35.0, 39.99,
    ]
    .iter()
    .map(|p| vec![json!(p)])
    .collect();
    assert_eq!(sort_values(&r), prices, "{r}");
    // Sorting by a field does not compute scores.
    assert!(
        r.body["hits"]["max_score"].is_null(),
        "max_score must be null when sorting by a field: {r}"
    );
    assert!(
        hits(&r).iter().all(|h| h["_score"].is_null()),
        "_score must be null when sorting by a field: {r}"
    );

    let r = run(json!([{"price": {"order": "desc"}}])).await?;
    assert_eq!(
        hit_ids(&r),
        ids(&[
            "7", "8", "12", "3", "9", "11", "1", "10", "5", "6", "2", "4"
        ]),
        "{r}"
    );

    let r = run(json!([{"published": "asc"}])).await?;
    assert_eq!(
        hit_ids(&r),
        ids(&[
            "12", "4", "2", "8", "10", "6", "1", "7", "3", "11", "5", "9"
        ]),
        "{r}"
    );
    let millis: Vec<Vec<Value>> = [
        1609372800000u64,
        1609804800000,
        1612915200000,
        1629417600000,
        1640995200000,
        1646483400000,
        1654041600000,
        1674172800000,
        1678406400000,
        1698796800000,
        1707091200000,
        1710892800000,
    ]
    .iter()
    .map(|m| vec![json!(*m as f64)])
    .collect();
    assert_eq!(
        sort_values(&r),
        millis,
        "date sort values are epoch millis: {r}"
    );

    let r = run(json!([{"published": "desc"}])).await?;
    assert_eq!(
        hit_ids(&r),
        ids(&[
            "9", "5", "11", "3", "7", "1", "6", "10", "8", "2", "4", "12"
        ]),
        "{r}"
    );

    let r = run(json!([{"category": "asc"}, {"n": "desc"}])).await?;
    assert_eq!(
        hit_ids(&r),
        ids(&[
            "11", "3", "2", "1", "12", "10", "9", "8", "7", "6", "5", "4"
        ]),
        "{r}"
    );
    assert_eq!(
        sort_values(&r)[0],
        vec![json!("animals"), json!(11.0)],
        "{r}"
    );

    // Missing values sort last in both directions unless told otherwise.
    let r = run(json!([{"rating": "desc"}, {"n": "asc"}])).await?;
    assert_eq!(
        hit_ids(&r),
        ids(&[
            "5", "7", "1", "12", "8", "4", "10", "2", "11", "3", "6", "9"
        ]),
        "{r}"
    );
    let r = run(json!([{"rating": "asc"}, {"n": "asc"}])).await?;
    assert_eq!(
        hit_ids(&r),
        ids(&[
            "11", "2", "10", "4", "8", "12", "1", "7", "5", "3", "6", "9"
        ]),
        "{r}"
    );
    let r = run(json!([{"rating": {"order": "asc", "missing": "_first"}}, {"n": "asc"}])).await?;
    assert_eq!(
        hit_ids(&r),
        ids(&[
            "3", "6", "9", "11", "2", "10", "4", "8", "12", "1", "7", "5"
        ]),
        "{r}"
    );

    // Short forms: a bare field name sorts ascending.
    let r = run(json!("n")).await?;
    assert_eq!(hit_ids(&r), ids(&all_ids()), "{r}");
    let r = run(json!(["n"])).await?;
    assert_eq!(hit_ids(&r), ids(&all_ids()), "{r}");
    // _doc order is the engine's own, but it is accepted and returns every hit.
    let r = run(json!(["_doc"])).await?;
    let mut got = hit_ids(&r);
    got.sort_by_key(|id| id.parse::<u32>().unwrap_or(u32::MAX));
    assert_eq!(got, ids(&all_ids()), "{r}");

    // Sorting on a text field or an unmapped field is refused, not ignored.
    let bad = [
        "search_phase_execution_exception",
        "illegal_argument_exception",
        "query_shard_exception",
    ];
    let r = node
        .post("/shop/_search", &json!({"sort": [{"title": "asc"}]}))
        .await?;
    assert_es_error(&r, 400, &bad);
    let r = node
        .post("/shop/_search", &json!({"sort": [{"bogus": "asc"}]}))
        .await?;
    assert_es_error(&r, 400, &bad);
    Ok(())
}

#[tokio::test]
async fn from_size_and_search_after_paginate() -> Result<()> {
    let node = started().await?;
    let page = |from: u64, size: u64| {
        let node = &node;
        async move {
            search(
                node,
                "shop",
                json!({"sort": [{"n": "asc"}], "from": from, "size": size}),
            )
            .await
        }
    };
    let r = page(3, 4).await?;
    assert_eq!(hit_ids(&r), ids(&["4", "5", "6", "7"]), "{r}");
    assert_eq!(total_hits(&r), 12, "{r}");
    assert_eq!(hit_ids(&page(10, 5).await?), ids(&["11", "12"]));
    let r = page(20, 5).await?;
    assert!(hit_ids(&r).is_empty(), "{r}");
    assert_eq!(total_hits(&r), 12, "{r}");
    let r = page(0, 0).await?;
    assert!(hit_ids(&r).is_empty(), "{r}");
    assert_eq!(total_hits(&r), 12, "{r}");

    // Defaults: from 0, size 10; URL parameters work too.
    let r = search(&node, "shop", json!({"sort": [{"n": "asc"}]})).await?;
    assert_eq!(
        hit_ids(&r),
        ids(&["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]),
        "{r}"
    );
    let r = node
        .post(
            "/shop/_search?from=2&size=3",
            &json!({"sort": [{"n": "asc"}]}),
        )
        .await?;
    assert_eq!(hit_ids(&r), ids(&["3", "4", "5"]), "{r}");

    // search_after walks the whole price order in pages of 5.
    let mut seen = Vec::new();
    let mut after: Option<Value> = None;
    for _ in 0..4 {
        let mut body = json!({"sort": [{"price": "asc"}, {"n": "asc"}], "size": 5});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let r = search(&node, "shop", body).await?;
        let page = hit_ids(&r);
        if page.is_empty() {
            break;
        }
        after = Some(
            hits(&r)
                .last()
                .map(|h| h["sort"].clone())
                .unwrap_or(Value::Null),
        );
        if seen.is_empty() {
            assert_eq!(sort_values(&r)[4], vec![json!(10.0), json!(10.0)], "{r}");
        }
        seen.extend(page);
    }
    assert_eq!(
        seen,
        ids(&[
            "4", "2", "6", "5", "10", "1", "11", "9", "3", "12", "8", "7"
        ])
    );

    let r = node
        .post(
            "/shop/_search",
            &json!({"sort": [{"n": "asc"}], "search_after": [3], "from": 2}),
        )
        .await?;
    assert_es_error(
        &r,
        400,
        &[
            "action_request_validation_exception",
            "illegal_argument_exception",
            "search_phase_execution_exception",
        ],
    );
    let r = node.post("/shop/_search", &json!({"size": -5})).await?;
    assert_es_error(
        &r,
        400,
        &[
            "illegal_argument_exception",
            "x_content_parse_exception",
            "parsing_exception",
        ],
    );
    Ok(())
}

#[tokio::test]
async fn hits_carry_source_and_source_filtering_applies() -> Result<()> {
    let node = started().await?;
    let data = dataset();
    let r = search(&node, "shop", json!({"size": 20})).await?;
    assert_eq!(hits(&r).len(), 12, "{r}");
    for h in hits(&r) {
        let id = h["_id"].as_str().unwrap_or_default();
        assert_eq!(h["_index"], json!("shop"), "{r}");
        assert_eq!(h["_type"], json!("_doc"), "{r}");
        assert!(h["_score"].is_number(), "{r}");
        assert_eq!(
            h["_source"], data[id],
            "hit {id} must carry its source verbatim"
        );
    }

    let sources = |body: Value| {
        let node = &node;
        async move {
            let mut body = body;
            body["query"] = json!({"ids": {"values": ["1"]}});
            let r = search(node, "shop", body).await?;
            anyhow::Ok(hits(&r)[0].get("_source").cloned())
        }
    };
    assert_eq!(
        sources(json!({"_source": ["title", "price"]})).await?,
        Some(json!({"title": "quick brown fox", "price": 10.5}))
    );
    assert_eq!(
        sources(json!({"_source": "category"})).await?,
        Some(json!({"category": "animals"}))
    );
    assert_eq!(
        sources(json!({"_source": {"includes": ["t*"], "excludes": ["tags"]}})).await?,
        Some(json!({"title": "quick brown fox"}))
    );
    assert_eq!(
        sources(json!({"_source": {"excludes": ["body", "tags", "title", "published", "rating"]}}))
            .await?,
        Some(json!({
            "n": 1, "category": "animals", "price": 10.5, "in_stock": true
        }))
    );
    assert_eq!(sources(json!({"_source": false})).await?, None);
    Ok(())
}

#[tokio::test]
async fn total_hits_tracking_and_rest_total_hits_as_int() -> Result<()> {
    let node = started().await?;
    let r = search(&node, "shop", json!({})).await?;
    assert_eq!(
        r.body["hits"]["total"],
        json!({"value": 12, "relation": "eq"}),
        "{r}"
    );
    let r = search(&node, "shop", json!({"track_total_hits": true})).await?;
    assert_eq!(
        r.body["hits"]["total"],
        json!({"value": 12, "relation": "eq"}),
        "{r}"
    );
    let r = search(&node, "shop", json!({"track_total_hits": 5})).await?;
    assert_eq!(
        r.body["hits"]["total"],
        json!({"value": 5, "relation": "gte"}),
        "{r}"
    );
    let r = search(&node, "shop", json!({"track_total_hits": 100})).await?;
    assert_eq!(
        r.body["hits"]["total"],
        json!({"value": 12, "relation": "eq"}),
        "{r}"
    );
    let r = search(&node, "shop", json!({"track_total_hits": false})).await?;
    assert!(
        r.body["hits"].get("total").is_none(),
        "track_total_hits false omits hits.total: {r}"
    );

    let r = node
        .post(
            "/shop/_search?rest_total_hits_as_int=true",
            &json!({"query": {"term": {"category": "food"}}}),
        )
        .await?;
    r.assert_status(200);
    assert_eq!(r.body["hits"]["total"], json!(3), "{r}");
    let r = node
        .post(
            "/shop/_search?rest_total_hits_as_int=true",
            &json!({"track_total_hits": false}),
        )
        .await?;
    r.assert_status(200);
    assert_eq!(r.body["hits"]["total"], json!(-1), "{r}");
    let r = node
        .get("/shop/_search?rest_total_hits_as_int=true&q=category:books")
        .await?;
    assert_eq!(r.body["hits"]["total"], json!(5), "{r}");
    Ok(())
}

#[tokio::test]
async fn multi_index_and_wildcard_expressions() -> Result<()> {
    let node = started().await?;
    create_index(&node, "shop2", json!({"settings": {"number_of_shards": 2, "number_of_replicas": 0}, "mappings": mapping()})).await?;
    create_index(
        &node,
        "logs",
        json!({"settings": {"number_of_replicas": 0}}),
    )
    .await?;
    let r = node
        .bulk(
            "/_bulk?refresh=true",
            &[
                json!({"index": {"_index": "shop2", "_id": "13"}}),
                json!({"n": 13, "title": "extra fox", "category": "extra", "price": 1.0}),
                json!({"index": {"_index": "shop2", "_id": "14"}}),
                json!({"n": 14, "title": "extra", "category": "extra", "price": 2.0}),
                json!({"index": {"_index": "logs", "_id": "l1"}}),
                json!({"message": "hello"}),
            ],
        )
        .await?;
    assert_eq!(r.body["errors"], json!(false), "{r}");

    let sorted = json!({"sort": [{"n": {"order": "asc", "unmapped_type": "integer"}}], "size": 20});
    let r = search(&node, "shop,shop2", sorted.clone()).await?;
    let mut expected = all_ids();
    expected.extend(["13", "14"]);
    assert_eq!(hit_ids(&r), ids(&expected), "{r}");
    assert_eq!(hits(&r)[12]["_index"], json!("shop2"), "{r}");
    assert_eq!(hits(&r)[0]["_index"], json!("shop"), "{r}");
    assert_eq!(total_hits(&search(&node, "shop*", json!({})).await?), 14);
    assert_eq!(total_hits(&search(&node, "_all", json!({})).await?), 15);
    let r = node.post("/_search", &json!({})).await?;
    assert_eq!(total_hits(&r), 15, "{r}");
    let r = search(
        &node,
        "shop*",
        json!({"query": {"match": {"title": "fox"}}, "sort": [{"n": "asc"}]}),
    )
    .await?;
    assert_eq!(hit_ids(&r), ids(&["1", "10", "11", "13"]), "{r}");
    assert_eq!(
        r.body["_shards"]["total"],
        json!(3),
        "1 + 2 shards were searched: {r}"
    );

    let r = node.get("/shop*/_count").await?;
    assert_eq!(r.body["count"], json!(14), "{r}");

    let r = node.post("/shop,missing/_search", &json!({})).await?;
    assert_es_error(&r, 404, &["index_not_found_exception"]);
    assert_eq!(r.body["error"]["index"], json!("missing"), "{r}");
    let r = node.post("/nomatch-*/_search", &json!({})).await?;
    r.assert_status(200);
    assert_eq!(
        total_hits(&r),
        0,
        "a wildcard matching nothing is an empty result: {r}"
    );
    Ok(())
}

#[tokio::test]
async fn a_multi_shard_index_gives_the_same_answers() -> Result<()> {
    let node = TestNode::start().await?;
    load(&node, "sharded", 3).await?;
    let r = search(
        &node,
        "sharded",
        json!({"sort": [{"price": "asc"}], "size": 20}),
    )
    .await?;
    assert_eq!(
        hit_ids(&r),
        ids(&[
            "4", "2", "6", "5", "10", "1", "11", "9", "3", "12", "8", "7"
        ]),
        "{r}"
    );
    assert_eq!(r.body["_shards"]["total"], json!(3), "{r}");
    let r = search(
        &node,
        "sharded",
        json!({"sort": [{"n": "desc"}], "from": 2, "size": 3}),
    )
    .await?;
    assert_eq!(hit_ids(&r), ids(&["10", "9", "8"]), "{r}");
    let r = search(
        &node,
        "sharded",
        json!({"sort": [{"price": "asc"}, {"n": "asc"}], "size": 5, "search_after": [10.0, 10]}),
    )
    .await?;
    assert_eq!(hit_ids(&r), ids(&["1", "11", "9", "3", "12"]), "{r}");
    check_cases(
        &node,
        "sharded",
        vec![
            (
                "terms",
                json!({"terms": {"tags": ["dessert", "go"]}}),
                vec!["5", "6", "8", "12"],
            ),
            (
                "range",
                json!({"range": {"price": {"gte": 10, "lt": 20}}}),
                vec!["1", "9", "10", "11"],
            ),
            ("match_all", json!({"match_all": {}}), all_ids()),
        ],
    )
    .await?;
    let r = search(&node, "sharded", json!({"track_total_hits": 5})).await?;
    assert_eq!(
        r.body["hits"]["total"],
        json!({"value": 5, "relation": "gte"}),
        "{r}"
    );
    let r = node.get("/sharded/_count").await?;
    assert_eq!(r.body["count"], json!(12), "{r}");
    Ok(())
}
