//! Tests of the search module: known data, known answers.

mod end_to_end;
mod errors;
mod index;
mod queries;
mod sorting;

use std::sync::Arc;

use serde_json::{Value, json};
use tempfile::TempDir;

use super::{SearchRequest, ShardHits, ShardSearchIndex};
use crate::{Mapping, SharedMapping};

/// A shard index over known documents, its mapping and its directory.
pub(super) struct Fixture {
    pub(super) _dir: TempDir,
    pub(super) idx: ShardSearchIndex,
    pub(super) mapping: SharedMapping,
}

impl Fixture {
    /// Indexes `docs` (ids "1", "2", ...) after growing `mapping` dynamically, as the
    /// write path does, then refreshes.
    pub(super) fn new(mapping: Value, docs: &[Value]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Mapping::from_es_json(&mapping).unwrap();
        for (i, d) in docs.iter().enumerate() {
            if let Some(u) = m.dynamic_update(&(i + 1).to_string(), d).unwrap() {
                m.merge(&u).unwrap();
            }
        }
        let shared: SharedMapping = Arc::new(parking_lot::RwLock::new(m));
        let idx = ShardSearchIndex::open(dir.path(), Arc::clone(&shared)).unwrap();
        for (i, d) in docs.iter().enumerate() {
            idx.index(&(i + 1).to_string(), i as u64, d.to_string().as_bytes())
                .unwrap();
        }
        if !docs.is_empty() {
            idx.refresh(docs.len() as u64 - 1).unwrap();
        }
        Self {
            _dir: dir,
            idx,
            mapping: shared,
        }
    }

    pub(super) fn run(&self, req: &SearchRequest) -> crate::Result<ShardHits> {
        let m = self.mapping.read();
        self.idx.search_shard(req, &m)
    }

    /// The ids of the page a body asks for.
    pub(super) fn ids(&self, body: Value) -> Vec<String> {
        let req = SearchRequest::from_es_json(&body).unwrap();
        self.page(&req)
    }

    pub(super) fn page(&self, req: &SearchRequest) -> Vec<String> {
        let hits = self
            .run(req)
            .unwrap_or_else(|e| panic!("search failed: {e}"));
        hits.hits
            .iter()
            .skip(req.from)
            .take(req.size)
            .map(|h| h.id.clone())
            .collect()
    }

    /// The ids matching a query, in score order.
    pub(super) fn q(&self, query: Value) -> Vec<String> {
        self.ids(json!({"query": query, "size": 100}))
    }

    /// The ids matching a query, sorted (for queries whose order is not the point).
    pub(super) fn qs(&self, query: Value) -> Vec<String> {
        let mut ids = self.q(query);
        ids.sort();
        ids
    }

    pub(super) fn err(&self, body: Value) -> crate::IndexError {
        match SearchRequest::from_es_json(&body) {
            Err(e) => e,
            Ok(req) => self.run(&req).expect_err("the search should fail"),
        }
    }
}

pub(super) fn books() -> Fixture {
    Fixture::new(
        json!({"properties": {"tag": {"type": "keyword"}, "price": {"type": "integer"}, "published": {"type": "date"}}}),
        &[
            json!({"title": "The Quick Brown Fox", "body": "the quick brown fox jumps over the lazy dog", "tag": "animal", "price": 10, "rating": 4.5, "published": "2020-01-15", "available": true, "tags": ["fast", "fox"], "author": {"name": "Alice", "age": 30}}),
            json!({"title": "Lazy Dogs", "body": "a lazy dog sleeps all day", "tag": "animal", "price": 25, "rating": 3.0, "published": "2019-06-01", "available": false, "tags": ["slow"], "author": {"name": "Bob", "age": 45}}),
            json!({"title": "Rust Programming", "body": "systems programming with rust is fast and safe", "tag": "tech", "price": 40, "rating": 4.9, "published": "2021-03-10T12:00:00Z", "available": true, "tags": ["rust", "fast"], "author": {"name": "Carol", "age": 28}}),
            json!({"title": "Cooking Basics", "body": "learn to cook quick meals", "tag": "food", "price": 15, "rating": 4.0, "published": "2018-11-20", "available": true, "author": {"name": "Dave"}}),
            json!({"title": "Brown Bread", "body": "baking brown bread at home", "tag": "food", "price": 8, "published": "2022-02-02", "available": false, "tags": ["baking"], "extra": "only here"}),
        ],
    )
}

pub(super) fn v(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}
