//! Temporary perf probe (removed before hand-off).

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::search::{SearchRequest, ShardSearchIndex};
use crate::{Mapping, SharedMapping};

const WORDS: &[&str] = &["alpha","bravo","charlie","delta","echo","foxtrot","golf","hotel","india","juliet","kilo","lima","mike","november","oscar","papa","quebec","romeo","sierra","tango","uniform","victor","whiskey","xray","yankee","zulu"];

fn doc(i: usize) -> Vec<u8> {
    let w = |k: usize| WORDS[(i * 7 + k * 13 + k * k) % WORDS.len()];
    let title = (0..4).map(w).collect::<Vec<_>>().join(" ");
    let body = (4..24).map(w).collect::<Vec<_>>().join(" ");
    json!({"id": i, "title": title, "body": body, "category": format!("cat{}", i % 10), "price": (i % 1000) as f64 / 7.0, "qty": i % 500, "active": i % 2 == 0, "ts": format!("2024-01-{:02}T10:00:00Z", 1 + i % 28), "tags": [w(30), w(31)]}).to_string().into_bytes()
}

#[test]
fn perf_probe() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = Mapping::default();
    let u = m.dynamic_update("0", &serde_json::from_slice(&doc(0)).unwrap()).unwrap().unwrap();
    m.merge(&u).unwrap();
    let shared: SharedMapping = Arc::new(parking_lot::RwLock::new(m));
    let idx = ShardSearchIndex::open(dir.path(), Arc::clone(&shared)).unwrap();
    let docs: Vec<Vec<u8>> = (0..100_000).map(doc).collect();
    let t = Instant::now();
    for (i, d) in docs.iter().enumerate() {
        idx.index_new(&format!("id{i}"), i as u64, d).unwrap();
        if i % 30_000 == 29_999 { idx.refresh(i as u64).unwrap(); }
    }
    idx.refresh(99_999).unwrap();
    let el = t.elapsed();
    eprintln!("index_new 100k: {:?} = {:.0} docs/s", el, 100_000.0 / el.as_secs_f64());
    let t = Instant::now();
    for (i, d) in docs.iter().enumerate().take(30_000) {
        idx.index(&format!("id{i}"), 100_000 + i as u64, d).unwrap();
    }
    idx.refresh(130_000).unwrap();
    let el = t.elapsed();
    eprintln!("index (replace) 30k: {:?} = {:.0} docs/s", el, 30_000.0 / el.as_secs_f64());
    let t = Instant::now();
    let m = shared.read().clone();
    for d in docs.iter().take(20_000) {
        let v: serde_json::Value = serde_json::from_slice(d).unwrap();
        assert!(m.dynamic_update("x", &v).unwrap().is_none());
    }
    let el = t.elapsed();
    eprintln!("parse+dynamic_update 20k: {:?} = {:.0} docs/s", el, 20_000.0 / el.as_secs_f64());
    for body in [
        json!({"query": {"term": {"category.keyword": "cat3"}}}),
        json!({"query": {"match": {"body": "alpha"}}}),
        json!({"query": {"bool": {"must": [{"match": {"body": "alpha"}}, {"match": {"body": "zulu"}}]}}}),
        json!({"query": {"match": {"body": {"query": "alpha zulu", "operator": "and"}}}}),
        json!({"query": {"range": {"qty": {"gte": 10, "lt": 20}}}}),
        json!({"query": {"match_all": {}}, "sort": [{"price": "desc"}]}),
        json!({"query": {"term": {"category.keyword": "cat3"}}, "sort": ["category.keyword", "ts"]}),
        json!({"query": {"query_string": {"query": "alpha"}}}),
    ] {
        let req = SearchRequest::from_es_json(&body).unwrap();
        let mm = shared.read();
        let mut best = std::time::Duration::MAX;
        let mut total = 0;
        for _ in 0..20 {
            let t = Instant::now();
            let h = idx.search_shard(&req, &mm).unwrap();
            best = best.min(t.elapsed());
            total = h.total();
        }
        eprintln!("{body}: total {total}, best {best:?}");
    }
}
