//! Common REST steps tests build on, each asserting that it worked as ES answers.
//!
//! Creating an index, listing index names, counting documents, indexing a document: small
//! enough to be obviously right, so a failing test points at the behaviour under test and
//! not at its set-up. They panic (with the response) on an unexpected answer.

use std::collections::BTreeSet;

use anyhow::Result;
use serde_json::Value;

use crate::http::{Http, Resp};

/// `PUT /<name>` with `body`; asserts `200 {"acknowledged": true, "index": name}`.
pub async fn create_index(http: &Http, name: &str, body: Value) -> Result<Resp> {
    let resp = http.put(&format!("/{name}"), &body).await?;
    resp.assert_status(200);
    assert_eq!(
        resp.body["acknowledged"],
        Value::Bool(true),
        "create index not acknowledged: {resp}"
    );
    assert_eq!(
        resp.body["index"],
        Value::from(name),
        "create index answered another name: {resp}"
    );
    Ok(resp)
}

/// Names of every index, from `GET /_cat/indices?format=json`.
pub async fn index_names(http: &Http) -> Result<BTreeSet<String>> {
    let resp = http.get("/_cat/indices?format=json").await?;
    resp.assert_status(200);
    let rows = resp
        .body
        .as_array()
        .unwrap_or_else(|| panic!("_cat/indices?format=json is not an array: {resp}"));
    Ok(rows
        .iter()
        .map(|r| {
            r["index"]
                .as_str()
                .unwrap_or_else(|| panic!("row without index in {resp}"))
                .to_owned()
        })
        .collect())
}

/// `POST /<index>/_refresh` then `GET /<index>/_count`: the number of live documents.
pub async fn count(http: &Http, index: &str) -> Result<u64> {
    http.post_empty(&format!("/{index}/_refresh"))
        .await?
        .assert_status(200);
    let resp = http.get(&format!("/{index}/_count")).await?;
    resp.assert_status(200);
    Ok(resp.body["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("no count in {resp}")))
}

/// `PUT /<index>/_doc/<id>` with `doc`; asserts 200 or 201 and returns the answer.
pub async fn put_doc(http: &Http, index: &str, id: &str, doc: &Value) -> Result<Resp> {
    let resp = http.put(&format!("/{index}/_doc/{id}"), doc).await?;
    assert!(
        resp.status == 200 || resp.status == 201,
        "indexing {index}/{id} failed: {resp}"
    );
    Ok(resp)
}

/// `GET /<index>/_mapping` → the `mappings` object of that index.
pub async fn mappings(http: &Http, index: &str) -> Result<Value> {
    let resp = http.get(&format!("/{index}/_mapping")).await?;
    resp.assert_status(200);
    Ok(resp.body[index]["mappings"].clone())
}

/// `GET /<index>/_settings` → the `settings.index` object of that index.
pub async fn index_settings(http: &Http, index: &str) -> Result<Value> {
    let resp = http.get(&format!("/{index}/_settings")).await?;
    resp.assert_status(200);
    Ok(resp.body[index]["settings"]["index"].clone())
}
