//! `search` and `count` over real indices: shards, the merge, sources and totals.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use crate::search::{SearchRequest, count, search};
use crate::{
    Conditions, DeleteOp, IndexHandle, IndexMeta, IndexOp, IndexSettings, Mapping, RefreshPolicy,
    WriteOp,
};

fn meta(name: &str, shards: u32) -> IndexMeta {
    IndexMeta {
        uuid: format!("uuid-{name}"),
        name: name.into(),
        settings: IndexSettings {
            number_of_shards: shards,
            refresh_interval: None,
            ..Default::default()
        },
        mapping: Mapping::from_es_json(
            &json!({"properties": {"n": {"type": "long"}, "tag": {"type": "keyword"}}}),
        )
        .unwrap(),
    }
}

async fn write(idx: &IndexHandle, ops: Vec<WriteOp>) {
    let batch = idx.prepare(ops.into_iter().map(|o| (o, None)).collect());
    if let Some(update) = batch.mapping_update() {
        idx.install_mapping(&update.clone()).unwrap();
    }
    for r in idx.execute(batch, RefreshPolicy::Immediate).await {
        r.unwrap();
    }
}

fn put(id: &str, source: serde_json::Value) -> WriteOp {
    WriteOp::Index(IndexOp {
        id: id.into(),
        source: Bytes::from(source.to_string()),
        create: false,
        cond: Conditions::default(),
        routing: None,
    })
}

fn req(body: serde_json::Value) -> SearchRequest {
    SearchRequest::from_es_json(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_count_across_shards_and_indices() {
    let data = tempfile::tempdir().unwrap();
    let a = IndexHandle::create(data.path(), meta("a", 3), 1)
        .await
        .unwrap();
    let b = IndexHandle::create(data.path(), meta("b", 1), 1)
        .await
        .unwrap();
    write(&a, (0..20).map(|i| put(&format!("a{i}"), json!({"n": i, "tag": if i % 2 == 0 { "even" } else { "odd" }, "text": format!("word{i} common"), "obj": {"x": i, "y": "keep"}}))).collect()).await;
    write(
        &b,
        (0..5)
            .map(|i| {
                put(
                    &format!("b{i}"),
                    json!({"n": 100 + i, "tag": "even", "text": "common"}),
                )
            })
            .collect(),
    )
    .await;
    let both = [Arc::clone(&a), Arc::clone(&b)];

    let hits = search(&both, &req(json!({"query": {"term": {"tag": "even"}}, "sort": [{"n": "desc"}], "size": 3, "from": 1}))).await.unwrap();
    assert_eq!(hits.total, 15);
    assert!(hits.total_exact);
    assert_eq!(hits.shards, 4);
    assert_eq!(hits.max_score, None);
    let got: Vec<_> = hits
        .hits
        .iter()
        .map(|h| (h.index.as_str(), h.id.as_str()))
        .collect();
    assert_eq!(got, [("b", "b3"), ("b", "b2"), ("b", "b1")]);
    assert_eq!(hits.hits[0].sort, Some(vec![json!(103)]));
    assert_eq!(hits.hits[0].score, None);
    assert_eq!(
        hits.hits[0].source,
        Some(json!({"n": 103, "tag": "even", "text": "common"}))
    );

    // Scores, source filtering, totals capped by track_total_hits.
    let hits = search(&both, &req(json!({"query": {"match": {"text": "common word7"}}, "_source": ["obj.y", "n"], "track_total_hits": 10}))).await.unwrap();
    assert_eq!((hits.total, hits.total_exact), (10, false));
    assert_eq!(hits.hits[0].id, "a7");
    assert_eq!(
        hits.hits[0].source,
        Some(json!({"n": 7, "obj": {"y": "keep"}}))
    );
    assert_eq!(hits.hits[0].sort, None);
    assert_eq!(hits.max_score, hits.hits[0].score);
    assert_eq!(hits.hits.len(), 10);
    let hits = search(
        &both,
        &req(json!({"query": {"ids": {"values": ["a1"]}}, "_source": false})),
    )
    .await
    .unwrap();
    assert_eq!(hits.hits[0].source, None);

    assert_eq!(
        count(&both, &req(json!({"query": {"range": {"n": {"gte": 10}}}})))
            .await
            .unwrap(),
        15
    );
    assert_eq!(
        count(&[Arc::clone(&a)], &SearchRequest::default())
            .await
            .unwrap(),
        20
    );

    // A hit deleted since the last refresh is dropped from the page.
    let batch = a.prepare(vec![(
        WriteOp::Delete(DeleteOp {
            id: "a19".into(),
            cond: Conditions::default(),
        }),
        None,
    )]);
    for r in a.execute(batch, RefreshPolicy::None).await {
        r.unwrap();
    }
    let hits = search(
        &[Arc::clone(&a)],
        &req(json!({"sort": [{"n": "desc"}], "size": 2})),
    )
    .await
    .unwrap();
    assert_eq!(
        hits.hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["a18"]
    );

    // Per-index mapping: a field unmapped in one index matches nothing there.
    assert!(
        search(&both, &req(json!({"sort": ["obj.x"]})))
            .await
            .is_err()
    );
    let hits = search(
        &both,
        &req(json!({"query": {"exists": {"field": "obj"}}, "size": 0})),
    )
    .await
    .unwrap();
    assert_eq!(hits.total, 20);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
