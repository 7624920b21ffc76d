//! Versioned writes as Elasticsearch answers them: `op_type=create` and `_create`,
//! `if_seq_no`/`if_primary_term`, external versions, and `_update` (doc merge, noop
//! detection, upsert, doc_as_upsert, missing documents).
//!
//! Every refused write is followed by a read showing the document did not change, and a
//! check that it consumed no sequence number.

use anyhow::Result;
use ferry_tests::docs::{assert_write, get_found, node_with_docs};
use ferry_tests::es::{assert_es_error, assert_es_error_mentions};
use serde_json::json;

#[tokio::test]
async fn op_type_create_and_create_endpoint_refuse_existing_ids() -> Result<()> {
    let node = node_with_docs().await?;
    let r = node
        .put("/docs/_doc/1?op_type=create", &json!({"v": 1}))
        .await?;
    assert_write(&r, 201, "created", "1", 1, 0);
    let r = node
        .put("/docs/_doc/1?op_type=create", &json!({"v": 2}))
        .await?;
    assert_es_error_mentions(
        &r,
        409,
        &["version_conflict_engine_exception"],
        "version conflict",
    );
    assert_eq!(r.body["error"]["index"], json!("docs"), "{r}");

    let r = node.put("/docs/_create/2", &json!({"v": 1})).await?;
    assert_write(&r, 201, "created", "2", 1, 1);
    let r = node.put("/docs/_create/2", &json!({"v": 2})).await?;
    assert_es_error_mentions(
        &r,
        409,
        &["version_conflict_engine_exception"],
        "version conflict",
    );
    let r = node.post("/docs/_create/2", &json!({"v": 3})).await?;
    assert_es_error(&r, 409, &["version_conflict_engine_exception"]);

    assert_eq!(get_found(&node, "1").await?, (1, 0, json!({"v": 1})));
    assert_eq!(get_found(&node, "2").await?, (1, 1, json!({"v": 1})));
    // The conflicts consumed no sequence number.
    let r = node.put("/docs/_doc/3", &json!({"v": 1})).await?;
    assert_write(&r, 201, "created", "3", 1, 2);
    Ok(())
}

#[tokio::test]
async fn if_seq_no_and_if_primary_term_guard_writes() -> Result<()> {
    let node = node_with_docs().await?;
    node.put("/docs/_doc/1", &json!({"v": 1}))
        .await?
        .assert_status(201);

    let r = node
        .put(
            "/docs/_doc/1?if_seq_no=0&if_primary_term=1",
            &json!({"v": 2}),
        )
        .await?;
    assert_write(&r, 200, "updated", "1", 2, 1);

    // Stale seq_no, then wrong term: both 409, nothing written.
    let r = node
        .put(
            "/docs/_doc/1?if_seq_no=0&if_primary_term=1",
            &json!({"v": 3}),
        )
        .await?;
    assert_es_error_mentions(
        &r,
        409,
        &["version_conflict_engine_exception"],
        "version conflict",
    );
    let r = node
        .put(
            "/docs/_doc/1?if_seq_no=1&if_primary_term=2",
            &json!({"v": 3}),
        )
        .await?;
    assert_es_error(&r, 409, &["version_conflict_engine_exception"]);
    let r = node
        .delete("/docs/_doc/1?if_seq_no=0&if_primary_term=1")
        .await?;
    assert_es_error(&r, 409, &["version_conflict_engine_exception"]);
    let r = node
        .post(
            "/docs/_update/1?if_seq_no=0&if_primary_term=1",
            &json!({"doc": {"v": 4}}),
        )
        .await?;
    assert_es_error(&r, 409, &["version_conflict_engine_exception"]);
    // On a missing document the guard fails too (ES: 409, not 404).
    let r = node
        .put(
            "/docs/_doc/absent?if_seq_no=0&if_primary_term=1",
            &json!({"v": 1}),
        )
        .await?;
    assert_es_error(&r, 409, &["version_conflict_engine_exception"]);
    node.get("/docs/_doc/absent").await?.assert_status(404);
    assert_eq!(get_found(&node, "1").await?, (2, 1, json!({"v": 2})));

    // if_seq_no without if_primary_term is a validation error.
    let r = node
        .put("/docs/_doc/1?if_seq_no=1", &json!({"v": 5}))
        .await?;
    assert_es_error(&r, 400, &["action_request_validation_exception"]);
    assert_eq!(get_found(&node, "1").await?, (2, 1, json!({"v": 2})));

    // The right guard on delete works.
    let r = node
        .delete("/docs/_doc/1?if_seq_no=1&if_primary_term=1")
        .await?;
    assert_write(&r, 200, "deleted", "1", 3, 2);
    Ok(())
}

#[tokio::test]
async fn external_versions() -> Result<()> {
    let node = node_with_docs().await?;
    let r = node
        .put(
            "/docs/_doc/e?version=5&version_type=external",
            &json!({"v": 5}),
        )
        .await?;
    assert_write(&r, 201, "created", "e", 5, 0);

    let r = node
        .put(
            "/docs/_doc/e?version=5&version_type=external",
            &json!({"v": 55}),
        )
        .await?;
    assert_es_error_mentions(
        &r,
        409,
        &["version_conflict_engine_exception"],
        "version conflict",
    );
    let r = node
        .put(
            "/docs/_doc/e?version=4&version_type=external",
            &json!({"v": 4}),
        )
        .await?;
    assert_es_error(&r, 409, &["version_conflict_engine_exception"]);
    assert_eq!(get_found(&node, "e").await?, (5, 0, json!({"v": 5})));

    let r = node
        .put(
            "/docs/_doc/e?version=7&version_type=external",
            &json!({"v": 7}),
        )
        .await?;
    assert_write(&r, 200, "updated", "e", 7, 1);
    // external_gte accepts an equal version and refuses a lower one.
    let r = node
        .put(
            "/docs/_doc/e?version=7&version_type=external_gte",
            &json!({"v": 77}),
        )
        .await?;
    assert_write(&r, 200, "updated", "e", 7, 2);
    let r = node
        .put(
            "/docs/_doc/e?version=6&version_type=external_gte",
            &json!({"v": 6}),
        )
        .await?;
    assert_es_error(&r, 409, &["version_conflict_engine_exception"]);
    assert_eq!(get_found(&node, "e").await?, (7, 2, json!({"v": 77})));

    // A delete with an external version must be newer too.
    let r = node
        .delete("/docs/_doc/e?version=6&version_type=external")
        .await?;
    assert_es_error(&r, 409, &["version_conflict_engine_exception"]);
    let r = node
        .delete("/docs/_doc/e?version=9&version_type=external")
        .await?;
    assert_write(&r, 200, "deleted", "e", 9, 3);

    // Internal versions cannot be used for optimistic concurrency.
    node.put("/docs/_doc/i", &json!({"v": 1}))
        .await?
        .assert_status(201);
    let r = node.put("/docs/_doc/i?version=1", &json!({"v": 2})).await?;
    assert_es_error(&r, 400, &["action_request_validation_exception"]);
    let r = node
        .put(
            "/docs/_doc/i?version=2&version_type=bogus",
            &json!({"v": 2}),
        )
        .await?;
    assert_es_error(&r, 400, &["illegal_argument_exception"]);
    let (_, _, source) = get_found(&node, "i").await?;
    assert_eq!(source, json!({"v": 1}));
    Ok(())
}

#[tokio::test]
async fn update_merges_doc_and_detects_noops() -> Result<()> {
    let node = node_with_docs().await?;
    node.put("/docs/_doc/u", &json!({"a": 1, "b": {"c": 1}, "keep": "x"}))
        .await?
        .assert_status(201);

    let r = node
        .post("/docs/_update/u", &json!({"doc": {"b": {"d": 2}, "e": 3}}))
        .await?;
    assert_write(&r, 200, "updated", "u", 2, 1);
    assert_eq!(
        get_found(&node, "u").await?,
        (
            2,
            1,
            json!({"a": 1, "b": {"c": 1, "d": 2}, "keep": "x", "e": 3})
        )
    );

    // Same values again: a noop that writes nothing and consumes no sequence number.
    let r = node
        .post("/docs/_update/u", &json!({"doc": {"b": {"d": 2}, "e": 3}}))
        .await?;
    r.assert_status(200);
    assert_eq!(r.body["result"], json!("noop"), "{r}");
    assert_eq!(r.body["_version"], json!(2), "{r}");
    assert_eq!(r.body["_seq_no"], json!(1), "{r}");
    assert_eq!(r.body["_primary_term"], json!(1), "{r}");
    assert_eq!(r.body["_type"], json!("_doc"), "{r}");

    // detect_noop: false writes anyway.
    let r = node
        .post(
            "/docs/_update/u",
            &json!({"doc": {"e": 3}, "detect_noop": false}),
        )
        .await?;
    assert_write(&r, 200, "updated", "u", 3, 2);

    // A null value in doc sets the field to null (it is not removed).
    let r = node
        .post("/docs/_update/u", &json!({"doc": {"keep": null}}))
        .await?;
    assert_write(&r, 200, "updated", "u", 4, 3);
    let (_, _, source) = get_found(&node, "u").await?;
    assert_eq!(
        source,
        json!({"a": 1, "b": {"c": 1, "d": 2}, "keep": null, "e": 3})
    );
    Ok(())
}

#[tokio::test]
async fn update_with_upsert_and_doc_as_upsert() -> Result<()> {
    let node = node_with_docs().await?;
    let body = json!({"doc": {"x": 1}, "upsert": {"x": 0, "y": 0}});
    let r = node.post("/docs/_update/up", &body).await?;
    assert_write(&r, 201, "created", "up", 1, 0);
    assert_eq!(
        get_found(&node, "up").await?,
        (1, 0, json!({"x": 0, "y": 0}))
    );
    let r = node.post("/docs/_update/up", &body).await?;
    assert_write(&r, 200, "updated", "up", 2, 1);
    assert_eq!(
        get_found(&node, "up").await?,
        (2, 1, json!({"x": 1, "y": 0}))
    );

    let body = json!({"doc": {"z": "zz"}, "doc_as_upsert": true});
    let r = node.post("/docs/_update/dau", &body).await?;
    assert_write(&r, 201, "created", "dau", 1, 2);
    assert_eq!(get_found(&node, "dau").await?, (1, 2, json!({"z": "zz"})));
    let r = node
        .post(
            "/docs/_update/dau",
            &json!({"doc": {"w": 1}, "doc_as_upsert": true}),
        )
        .await?;
    assert_write(&r, 200, "updated", "dau", 2, 3);
    assert_eq!(
        get_found(&node, "dau").await?,
        (2, 3, json!({"z": "zz", "w": 1}))
    );
    Ok(())
}

#[tokio::test]
async fn update_of_a_missing_document_or_with_a_bad_body_changes_nothing() -> Result<()> {
    let node = node_with_docs().await?;
    let r = node
        .post("/docs/_update/ghost", &json!({"doc": {"x": 1}}))
        .await?;
    assert_es_error(&r, 404, &["document_missing_exception"]);
    node.get("/docs/_doc/ghost").await?.assert_status(404);

    node.put("/docs/_doc/real", &json!({"x": 1}))
        .await?
        .assert_status(201);
    // A misspelled field: ES names it ("[UpdateRequest] unknown field [dac]").
    let r = node
        .post("/docs/_update/real", &json!({"dac": {"x": 2}}))
        .await?;
    assert_es_error_mentions(
        &r,
        400,
        &[
            "x_content_parse_exception",
            "parsing_exception",
            "illegal_argument_exception",
        ],
        "dac",
    );
    // An update without doc, upsert or script is a validation error.
    let r = node.post("/docs/_update/real", &json!({})).await?;
    assert_es_error(&r, 400, &["action_request_validation_exception"]);
    assert_eq!(get_found(&node, "real").await?, (1, 0, json!({"x": 1})));
    Ok(())
}
