//! The search tests' fixed dataset ("shop"): 12 documents with known answers, its mapping,
//! loading it, and the helpers that run and compare searches.
//!
//! `n` equals the id and is unique, so sorting by it makes every expected order explicit;
//! `rating` is missing on 3 and 9 and null on 6; titles are built so that BM25 scores of a
//! `match` on `title` differ. Documents are indexed in a shuffled order ([`INSERT_ORDER`]),
//! so insertion order can never pass for a sort. Nothing here asserts on search semantics
//! beyond "the request succeeded": the expectations live in the test files.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

use crate::es::{hit_ids, hits, ids};
use crate::ops::create_index;
use crate::{Http, Resp, TestNode};

/// The dataset: id → document. `n` equals the id; `rating` is missing on 3 and 9, null on 6.
pub fn dataset() -> BTreeMap<String, Value> {
    let docs = [
        json!({"n": 1, "title": "quick brown fox", "body": "the fox jumps over the lazy dog", "category": "animals", "tags": ["fox", "quick"], "price": 10.5, "published": "2022-06-01", "in_stock": true, "rating": 4.5}),
        json!({"n": 2, "title": "lazy dog", "body": "the dog is lazy and sleeps all day", "category": "animals", "tags": ["dog"], "price": 5.0, "published": "2021-02-10", "in_stock": false, "rating": 3.0}),
        json!({"n": 3, "title": "brown bear", "body": "the bear eats honey", "category": "animals", "tags": ["bear"], "price": 20.0, "published": "2023-03-10T00:00:00Z", "in_stock": true}),
        json!({"n": 4, "title": "red apple", "body": "an apple a day keeps the doctor away", "category": "food", "tags": ["fruit", "red"], "price": 1.25, "published": "2021-01-05", "in_stock": true, "rating": 4.0}),
        json!({"n": 5, "title": "green apple pie", "body": "pie made with green apple", "category": "food", "tags": ["fruit", "dessert"], "price": 7.5, "published": "2024-02-05", "in_stock": false, "rating": 5.0}),
        json!({"n": 6, "title": "banana bread", "body": "bread made with ripe banana", "category": "food", "tags": ["dessert"], "price": 6.0, "published": "2022-03-05T12:30:00Z", "in_stock": true, "rating": null}),
        json!({"n": 7, "title": "rust programming", "body": "systems programming with rust", "category": "books", "tags": ["programming", "rust"], "price": 39.99, "published": "2023-01-20", "in_stock": true, "rating": 4.8}),
        json!({"n": 8, "title": "programming in go", "body": "go is a programming language", "category": "books", "tags": ["programming", "go"], "price": 35.0, "published": "2021-08-20", "in_stock": false, "rating": 4.1}),
        json!({"n": 9, "title": "the quick guide", "body": "a quick guide to cooking", "category": "books", "tags": ["cooking", "quick"], "price": 15.0, "published": "2024-03-20", "in_stock": true}),
        json!({"n": 10, "title": "the fox and the hound", "body": "a story about a fox and a hound", "category": "books", "tags": ["fox", "story"], "price": 10.0, "published": "2022-01-01", "in_stock": true, "rating": 3.5}),
        json!({"n": 11, "title": "fox", "body": "red fox", "category": "animals", "tags": ["fox"], "price": 12.0, "published": "2023-11-01", "in_stock": false, "rating": 2.0}),
        json!({"n": 12, "title": "apple pie recipe", "body": "how to bake an apple pie", "category": "books", "tags": ["cooking", "dessert"], "price": 22.5, "published": "2020-12-31", "in_stock": true, "rating": 4.2}),
    ];
    docs.into_iter().map(|d| (d["n"].to_string(), d)).collect()
}

/// The insertion order (shuffled so that it matches no sort under test).
pub const INSERT_ORDER: [&str; 12] = [
    "7", "3", "11", "1", "9", "5", "12", "2", "8", "4", "10", "6",
];

/// The explicit mapping of the dataset's fields.
pub fn mapping() -> Value {
    json!({"properties": {
        "n": {"type": "integer"},
        "title": {"type": "text"},
        "body": {"type": "text"},
        "category": {"type": "keyword"},
        "tags": {"type": "keyword"},
        "price": {"type": "double"},
        "published": {"type": "date"},
        "in_stock": {"type": "boolean"},
        "rating": {"type": "float"}
    }})
}

/// Creates `index` with `shards` shards and bulk-loads the dataset with `refresh=true`.
pub async fn load(node: &Http, index: &str, shards: u32) -> Result<()> {
    create_index(
        node,
        index,
        json!({"settings": {"number_of_shards": shards, "number_of_replicas": 0}, "mappings": mapping()}),
    )
    .await?;
    let data = dataset();
    let mut lines = Vec::new();
    for id in INSERT_ORDER {
        lines.push(json!({"index": {"_index": index, "_id": id}}));
        lines.push(data[id].clone());
    }
    let r = node.bulk("/_bulk?refresh=true", &lines).await?;
    r.assert_status(200);
    assert_eq!(
        r.body["errors"],
        json!(false),
        "loading the dataset failed: {r}"
    );
    Ok(())
}

/// A fresh node with the dataset loaded as index `shop` (1 shard).
pub async fn started() -> Result<TestNode> {
    let node = TestNode::start().await?;
    load(&node, "shop", 1).await?;
    Ok(node)
}

/// POST /<index>/_search with `body`, asserting 200.
pub async fn search(node: &Http, index: &str, body: Value) -> Result<Resp> {
    let r = node.post(&format!("/{index}/_search"), &body).await?;
    r.assert_status(200);
    Ok(r)
}

/// Runs each `(name, query, expected ids)` sorted by `n` and reports every mismatch at once.
pub async fn check_cases(
    node: &Http,
    index: &str,
    cases: Vec<(&str, Value, Vec<&str>)>,
) -> Result<()> {
    let mut failures = Vec::new();
    for (name, query, expected) in cases {
        let r = node
            .post(
                &format!("/{index}/_search"),
                &json!({"query": query, "sort": [{"n": "asc"}], "size": 20}),
            )
            .await?;
        if r.status != 200 {
            failures.push(format!("{name}: expected 200, got {r}"));
            continue;
        }
        let got = hit_ids(&r);
        let total = r.body["hits"]["total"]["value"].as_u64();
        if got != ids(&expected) || total != Some(expected.len() as u64) {
            failures.push(format!(
                "{name}: expected {expected:?} (total {}), got {got:?} (total {total:?})",
                expected.len()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}

/// Every id, in `n` order.
pub fn all_ids() -> Vec<&'static str> {
    vec![
        "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
    ]
}

/// Sort values of every hit, numbers compared as f64.
pub fn sort_values(r: &Resp) -> Vec<Vec<Value>> {
    hits(r)
        .iter()
        .map(|h| {
            h["sort"]
                .as_array()
                .unwrap_or_else(|| panic!("hit without sort values: {r}"))
                .iter()
                .map(|v| v.as_f64().map(Value::from).unwrap_or_else(|| v.clone()))
                .collect()
        })
        .collect()
}
