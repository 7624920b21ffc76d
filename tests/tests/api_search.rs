//! Search queries as Elasticsearch answers them, on the fixed "shop" dataset
//! ([`ferry_tests::shop`]): every query clause of the Tier 1 DSL returns exactly the
//! expected ids in the expected order, the `query_string` subset and `?q=`, BM25 relevance
//! order, `_count`, and the response shape.
//!
//! Order is part of every expectation: filter-like clauses are sorted by the unique integer
//! `n` (equal to the id); relevance cases are built so that BM25 scores differ.

use anyhow::Result;
use ferry_tests::es::{assert_es_error, hit_ids, hits, ids, total_hits};
use ferry_tests::shop::{all_ids, check_cases, search, started};
use serde_json::json;

#[tokio::test]
async fn query_clauses_return_exactly_the_expected_ids() -> Result<()> {
    let node = started().await?;
    let cases = vec![
        ("match_all", json!({"match_all": {}}), all_ids()),
        ("match_none", json!({"match_none": {}}), vec![]),
        (
            "match",
            json!({"match": {"title": "fox"}}),
            vec!["1", "10", "11"],
        ),
        (
            "match or",
            json!({"match": {"title": "quick fox"}}),
            vec!["1", "9", "10", "11"],
        ),
        (
            "match and",
            json!({"match": {"title": {"query": "quick fox", "operator": "and"}}}),
            vec!["1"],
        ),
        (
            "match and body",
            json!({"match": {"body": {"query": "the dog", "operator": "and"}}}),
            vec!["1", "2"],
        ),
        (
            "match msm",
            json!({"match": {"body": {"query": "apple pie", "minimum_should_match": "2"}}}),
            vec!["5", "12"],
        ),
        (
            "match no msm",
            json!({"match": {"body": "apple pie"}}),
            vec!["4", "5", "12"],
        ),
        (
            "match uppercase analyzed",
            json!({"match": {"title": "FOX"}}),
            vec!["1", "10", "11"],
        ),
        (
            "match_phrase",
            json!({"match_phrase": {"body": "lazy dog"}}),
            vec!["1"],
        ),
        (
            "match_phrase order",
            json!({"match_phrase": {"body": "apple pie"}}),
            vec!["12"],
        ),
        (
            "multi_match",
            json!({"multi_match": {"query": "honey bread", "fields": ["title", "body"]}}),
            vec!["3", "6"],
        ),
        (
            "multi_match best_fields",
            json!({"multi_match": {"query": "apple", "fields": ["title", "body"], "type": "best_fields"}}),
            vec!["4", "5", "12"],
        ),
        (
            "term keyword",
            json!({"term": {"category": "food"}}),
            vec!["4", "5", "6"],
        ),
        (
            "term keyword object form",
            json!({"term": {"category": {"value": "food"}}}),
            vec!["4", "5", "6"],
        ),
        (
            "term is not analyzed",
            json!({"term": {"title": "Fox"}}),
            vec![],
        ),
        (
            "term on text token",
            json!({"term": {"title": "fox"}}),
            vec!["1", "10", "11"],
        ),
        (
            "term boolean",
            json!({"term": {"in_stock": true}}),
            vec!["1", "3", "4", "6", "7", "9", "10", "12"],
        ),
        ("term integer", json!({"term": {"n": 7}}), vec!["7"]),
        (
            "term array field",
            json!({"term": {"tags": "quick"}}),
            vec!["1", "9"],
        ),
        (
            "terms keyword",
            json!({"terms": {"tags": ["dessert", "go"]}}),
            vec!["5", "6", "8", "12"],
        ),
        (
            "terms integer",
            json!({"terms": {"n": [2, 4, 99]}}),
            vec!["2", "4"],
        ),
        (
            "range gte lt",
            json!({"range": {"price": {"gte": 10, "lt": 20}}}),
            vec!["1", "9", "10", "11"],
        ),
        (
            "range gt lte",
            json!({"range": {"price": {"gt": 10, "lte": 20}}}),
            vec!["1", "3", "9", "11"],
        ),
        (
            "range integer",
            json!({"range": {"n": {"gte": 3, "lte": 5}}}),
            vec!["3", "4", "5"],
        ),
        (
            "range float",
            json!({"range": {"rating": {"gte": 4.5}}}),
            vec!["1", "5", "7"],
        ),
        (
            "range dates",
            json!({"range": {"published": {"gte": "2022-01-01", "lt": "2023-01-01"}}}),
            vec!["1", "6", "10"],
        ),
        (
            "range datetimes inclusive",
            json!({"range": {"published": {"gte": "2023-03-10T00:00:00Z", "lte": "2023-11-01T00:00:00Z"}}}),
            vec!["3", "11"],
        ),
        (
            "range datetime gt",
            json!({"range": {"published": {"gt": "2023-03-10T00:00:00Z"}}}),
            vec!["5", "9", "11"],
        ),
        (
            "range epoch millis",
            json!({"range": {"published": {"gte": 1_700_000_000_000u64}}}),
            vec!["5", "9"],
        ),
        (
            "exists",
            json!({"exists": {"field": "rating"}}),
            vec!["1", "2", "4", "5", "7", "8", "10", "11", "12"],
        ),
        (
            "exists text",
            json!({"exists": {"field": "title"}}),
            all_ids(),
        ),
        (
            "exists unmapped",
            json!({"exists": {"field": "nope"}}),
            vec![],
        ),
        (
            "ids",
            json!({"ids": {"values": ["3", "7", "99"]}}),
            vec!["3", "7"],
        ),
        (
            "prefix text",
            json!({"prefix": {"title": "prog"}}),
            vec!["7", "8"],
        ),
        (
            "prefix keyword",
            json!({"prefix": {"category": "bo"}}),
            vec!["7", "8", "9", "10", "12"],
        ),
        (
            "prefix object form",
            json!({"prefix": {"category": {"value": "an"}}}),
            vec!["1", "2", "3", "11"],
        ),
        (
            "wildcard star",
            json!({"wildcard": {"tags": "f*t"}}),
            vec!["4", "5"],
        ),
        (
            "wildcard question mark",
            json!({"wildcard": {"category": "?ood"}}),
            vec!["4", "5", "6"],
        ),
        (
            "wildcard text",
            json!({"wildcard": {"title": {"value": "b*r"}}}),
            vec!["3"],
        ),
        (
            "bool all four",
            json!({"bool": {
                "must": [{"match": {"body": "programming"}}],
                "filter": [{"term": {"in_stock": true}}],
                "must_not": [{"term": {"tags": "go"}}],
                "should": [{"term": {"tags": "rust"}}]
            }}),
            vec!["7"],
        ),
        (
            "bool should msm",
            json!({"bool": {"should": [
                {"term": {"tags": "fox"}},
                {"term": {"category": "animals"}},
                {"term": {"in_stock": true}}
            ], "minimum_should_match": 2}}),
            vec!["1", "3", "10", "11"],
        ),
        (
            "bool filter and must_not",
            json!({"bool": {"filter": {"range": {"price": {"lt": 10}}}, "must_not": {"term": {"category": "food"}}}}),
            vec!["2"],
        ),
        (
            "bool should only",
            json!({"bool": {"should": [{"term": {"tags": "go"}}, {"term": {"tags": "rust"}}]}}),
            vec!["7", "8"],
        ),
        (
            "bool must_not only",
            json!({"bool": {"must_not": {"term": {"category": "animals"}}}}),
            vec!["4", "5", "6", "7", "8", "9", "10", "12"],
        ),
        (
            "bool nested",
            json!({"bool": {
                "must": {"bool": {"should": [{"term": {"category": "food"}}, {"term": {"category": "books"}}]}},
                "filter": {"range": {"price": {"gte": 20}}}
            }}),
            vec!["7", "8", "12"],
        ),
        (
            "constant_score",
            json!({"constant_score": {"filter": {"term": {"category": "animals"}}}}),
            vec!["1", "2", "3", "11"],
        ),
    ];
    check_cases(&node, "shop", cases).await
}

#[tokio::test]
async fn query_string_subset_and_the_q_parameter() -> Result<()> {
    let node = started().await?;
    let qs = |q: &str| json!({"query_string": {"query": q}});
    let cases = vec![
        (
            "field:value AND",
            qs("category:food AND in_stock:true"),
            vec!["4", "6"],
        ),
        (
            "OR",
            qs("title:fox OR title:bear"),
            vec!["1", "3", "10", "11"],
        ),
        ("quotes", qs("title:\"lazy dog\""), vec!["2"]),
        (
            "inclusive range",
            qs("price:[10 TO 20]"),
            vec!["1", "3", "9", "10", "11"],
        ),
        (
            "exclusive range",
            qs("price:{10 TO 20}"),
            vec!["1", "9", "11"],
        ),
        (
            "one-sided range",
            qs("category:(food OR books) AND price:>30"),
            vec!["7", "8"],
        ),
        (
            "AND NOT",
            qs("category:books AND NOT tags:go"),
            vec!["7", "9", "10", "12"],
        ),
        ("no field searches all fields", qs("honey"), vec!["3"]),
        (
            "default_field",
            json!({"query_string": {"query": "quick guide", "default_field": "title"}}),
            vec!["1", "9"],
        ),
        (
            "default_operator AND",
            json!({"query_string": {"query": "quick guide", "default_field": "title", "default_operator": "AND"}}),
            vec!["9"],
        ),
    ];
    check_cases(&node, "shop", cases).await?;

    for (q, expected) in [
        ("category:food", vec!["4", "5", "6"]),
        ("title:fox", vec!["1", "10", "11"]),
        ("fox", vec!["1", "10", "11"]),
    ] {
        let r = node.get(&format!("/shop/_search?q={q}&size=20")).await?;
        r.assert_status(200);
        let mut got = hit_ids(&r);
        got.sort_by_key(|id| id.parse::<u32>().unwrap_or(u32::MAX));
        assert_eq!(got, ids(&expected), "?q={q}: {r}");
        assert_eq!(total_hits(&r), expected.len() as u64, "?q={q}: {r}");
    }
    Ok(())
}

#[tokio::test]
async fn relevance_orders_by_bm25_and_constant_score_is_constant() -> Result<()> {
    let node = started().await?;
    // Same term frequency, different title lengths: the shortest title scores highest.
    let r = search(&node, "shop", json!({"query": {"match": {"title": "fox"}}})).await?;
    assert_eq!(hit_ids(&r), ids(&["11", "1", "10"]), "{r}");
    let scores: Vec<f64> = hits(&r)
        .iter()
        .map(|h| h["_score"].as_f64().unwrap_or(f64::NAN))
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] > w[1]),
        "scores must strictly decrease: {scores:?}"
    );
    assert_eq!(r.body["hits"]["max_score"].as_f64(), Some(scores[0]), "{r}");

    // A should clause only adds score; ties broken explicitly by n.
    let r = search(
        &node,
        "shop",
        json!({
            "query": {"bool": {"must": {"term": {"category": "books"}}, "should": {"term": {"tags": "rust"}}}},
            "sort": ["_score", {"n": "asc"}]
        }),
    )
    .await?;
    assert_eq!(hit_ids(&r), ids(&["7", "8", "9", "10", "12"]), "{r}");

    let r = search(&node, "shop", json!({"query": {"constant_score": {"filter": {"term": {"category": "animals"}}, "boost": 2.5}}}))
        .await?;
    let mut got = hit_ids(&r);
    got.sort_by_key(|id| id.parse::<u32>().unwrap_or(u32::MAX));
    assert_eq!(got, ids(&["1", "2", "3", "11"]), "{r}");
    for h in hits(&r) {
        assert_eq!(
            h["_score"].as_f64(),
            Some(2.5),
            "constant_score with boost 2.5: {r}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn count_api() -> Result<()> {
    let node = started().await?;
    let r = node.get("/shop/_count").await?;
    r.assert_status(200);
    assert_eq!(r.body["count"], json!(12), "{r}");
    assert_eq!(
        r.body["_shards"],
        json!({"total": 1, "successful": 1, "skipped": 0, "failed": 0}),
        "{r}"
    );
    let r = node
        .post(
            "/shop/_count",
            &json!({"query": {"term": {"category": "food"}}}),
        )
        .await?;
    assert_eq!(r.body["count"], json!(3), "{r}");
    let r = node
        .get_with(
            "/shop/_count",
            &json!({"query": {"range": {"price": {"gte": 20}}}}),
        )
        .await?;
    assert_eq!(r.body["count"], json!(4), "{r}");
    let r = node.get("/shop/_count?q=category:books").await?;
    assert_eq!(r.body["count"], json!(5), "{r}");
    let r = node.get("/_count").await?;
    assert_eq!(r.body["count"], json!(12), "{r}");
    let r = node
        .post("/shop/_count", &json!({"query": {"bogus": {}}}))
        .await?;
    assert_es_error(&r, 400, &["parsing_exception"]);
    Ok(())
}

#[tokio::test]
async fn response_shape() -> Result<()> {
    let node = started().await?;
    let r = search(&node, "shop", json!({"query": {"match": {"title": "fox"}}})).await?;
    let b = &r.body;
    assert!(b["took"].is_u64(), "{r}");
    assert_eq!(b["timed_out"], json!(false), "{r}");
    assert_eq!(
        b["_shards"],
        json!({"total": 1, "successful": 1, "skipped": 0, "failed": 0}),
        "{r}"
    );
    assert!(
        b["hits"]["max_score"].as_f64().is_some_and(|s| s > 0.0),
        "{r}"
    );
    let r = node.get("/shop/_search").await?;
    r.assert_status(200);
    assert_eq!(total_hits(&r), 12, "GET without a body is match_all: {r}");
    Ok(())
}
