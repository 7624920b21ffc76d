//! Search: the query DSL, the per-shard tantivy index, and the merge across shards.
//!
//! A request is parsed and validated once ([`SearchRequest`]); each shard compiles it
//! against its index's mapping, collects its top `from + size` hits with their sort
//! values and counts its matches (on a blocking thread: tantivy is synchronous); the
//! shard results are merged (ties break by shard order, then indexing order), paged, and
//! the page's sources are fetched from the shards' state stores and filtered. A hit
//! whose document vanished since the last refresh is dropped; a hit updated since then
//! shows its current source (Ferry keeps sources in one place only).
//!
//! Not here: aggregations, highlighting, scroll and point-in-time (refused by name in
//! [`request`]), distribution of shards over nodes (the caller passes local handles).

mod analysis;
mod collect;
mod compile;
mod compile_match;
mod compile_multi;
mod compile_multiterm;
mod document;
pub(crate) mod dsl;
mod query_string;
mod query_string_lex;
mod request;
mod schema;
mod segments;
mod shard_index;
mod sort;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::Value;

pub use collect::{ShardHit, ShardHits};
pub use request::SearchRequest;
use request::TrackTotalHits;
pub use segments::{CommitFile, SearchCommit};
pub use shard_index::ShardSearchIndex;
use sort::{KeySpec, compare_hits, render_sort_value};

use crate::{IndexError, IndexHandle, Result};

/// One hit of a search response.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Index name.
    pub index: String,
    /// Document id.
    pub id: String,
    /// The `_routing` the document was stored with (`None` when written without one).
    pub routing: Option<String>,
    /// BM25 score (`None` when sorted by a field without `_score`).
    pub score: Option<f32>,
    /// Sort values, when the request sorted.
    pub sort: Option<Vec<Value>>,
    /// The (filtered) source; `None` when `_source: false`.
    pub source: Option<Value>,
}

/// The hits part of a search response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchHits {
    /// Matching documents (exact unless `total_exact` is false).
    pub total: u64,
    /// `relation: eq` when true, `gte` otherwise.
    pub total_exact: bool,
    /// Highest score among hits.
    pub max_score: Option<f32>,
    /// The page of hits.
    pub hits: Vec<SearchHit>,
    /// Shards searched.
    pub shards: u32,
}

fn join_error(e: tokio::task::JoinError) -> IndexError {
    IndexError::Storage(format!("search task failed: {e}"))
}

/// A shard's hits tagged with where they came from.
struct Tagged {
    index: usize,
    shard: usize,
    hit: ShardHit,
}

/// Runs `f` on every shard of `indices` on blocking threads, in shard order.
async fn per_shard<T, F>(
    indices: &[Arc<IndexHandle>],
    req: &Arc<SearchRequest>,
    f: F,
) -> Result<Vec<(usize, usize, T)>>
where
    T: Send + 'static,
    F: Fn(&IndexHandle, usize, &SearchRequest) -> Result<T> + Send + Sync + Copy + 'static,
{
    let mut tasks = Vec::new();
    for (ii, handle) in indices.iter().enumerate() {
        for si in 0..handle.shards().len() {
            let handle = Arc::clone(handle);
            let req = Arc::clone(req);
            tasks.push((
                ii,
                si,
                tokio::task::spawn_blocking(move || f(&handle, si, &req)),
            ));
        }
    }
    let mut out = Vec::with_capacity(tasks.len());
    for (ii, si, task) in tasks {
        out.push((ii, si, task.await.map_err(join_error)??));
    }
    Ok(out)
}

fn shard_search(
    handle: &IndexHandle,
    shard: usize,
    req: &SearchRequest,
) -> Result<(ShardHits, Arc<Vec<KeySpec>>)> {
    let index = handle.shards()[shard].search_index();
    let prepared = {
        let mapping = handle.mapping().read();
        index.prepare(req, &mapping)?
    };
    let specs = prepared.specs();
    Ok((index.execute(req, &prepared)?, specs))
}

/// One shard's result: where it came from, its hits, its resolved sort.
type ShardResult = (usize, usize, (ShardHits, Arc<Vec<KeySpec>>));

/// Shard results merged: the page of hits, the total and the best score.
struct Merged {
    page: Vec<Tagged>,
    total: u64,
    max_score: Option<f32>,
    specs: Vec<KeySpec>,
}

/// Merges per-shard results (in shard order) and cuts the requested page.
fn merge(req: &SearchRequest, results: Vec<ShardResult>) -> Merged {
    let mut total = 0u64;
    let mut max_score: Option<f32> = None;
    let mut specs: Option<Arc<Vec<KeySpec>>> = None;
    let mut all = Vec::new();
    for (ii, si, (hits, shard_specs)) in results {
        total += hits.total;
        if let Some(m) = hits.max_score {
            max_score = Some(max_score.map_or(m, |x| x.max(m)));
        }
        specs.get_or_insert(shard_specs);
        all.extend(hits.hits.into_iter().map(|hit| Tagged {
            index: ii,
            shard: si,
            hit,
        }));
    }
    let specs = specs.map(|s| s.as_ref().clone()).unwrap_or_default();
    all.sort_by(|a, b| {
        compare_hits(&specs, &a.hit, &b.hit)
            .then((a.index, a.shard).cmp(&(b.index, b.shard)))
            .then(a.hit.seq_no.cmp(&b.hit.seq_no))
    });
    let page = all.into_iter().skip(req.from).take(req.size).collect();
    Merged {
        page,
        total,
        max_score,
        specs,
    }
}

/// `hits.total` and whether it is exact, under `track_total_hits`.
fn reported_total(req: &SearchRequest, total: u64) -> (u64, bool) {
    match req.track_total_hits {
        TrackTotalHits::Exact => (total, true),
        TrackTotalHits::UpTo(n) if total > n => (n, false),
        TrackTotalHits::UpTo(_) => (total, true),
        TrackTotalHits::Off => (0, false),
    }
}

/// Searches every shard of `indices` and merges the results.
pub async fn search(indices: &[Arc<IndexHandle>], req: &SearchRequest) -> Result<SearchHits> {
    let req = Arc::new(req.clone());
    let results = per_shard(indices, &req, shard_search).await?;
    let shards = results.len() as u32;
    let merged = merge(&req, results);
    let hits = fetch_sources(indices, &req, merged.page, merged.specs).await?;
    let (total, total_exact) = reported_total(&req, merged.total);
    Ok(SearchHits {
        total,
        total_exact,
        max_score: if req.needs_scores() && req.size > 0 {
            merged.max_score
        } else {
            None
        },
        hits,
        shards,
    })
}

/// Fetches and filters the sources of a page of hits (dropping vanished documents).
async fn fetch_sources(
    indices: &[Arc<IndexHandle>],
    req: &Arc<SearchRequest>,
    page: Vec<Tagged>,
    specs: Vec<KeySpec>,
) -> Result<Vec<SearchHit>> {
    if page.is_empty() {
        return Ok(Vec::new());
    }
    let handles: Vec<Arc<IndexHandle>> = indices.to_vec();
    let req = Arc::clone(req);
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::with_capacity(page.len());
        for t in page {
            let handle = &handles[t.index];
            let Some(doc) = handle.shards()[t.shard].get(&t.hit.id)? else {
                continue;
            };
            let source = req.source.apply(&doc.source);
            let sort = req.has_sort().then(|| {
                t.hit
                    .sort
                    .iter()
                    .zip(&specs)
                    .map(|(v, spec)| render_sort_value(v, spec))
                    .collect()
            });
            out.push(SearchHit {
                index: handle.name().to_string(),
                id: t.hit.id,
                routing: doc.routing,
                score: t.hit.score,
                sort,
                source,
            });
        }
        Ok(out)
    })
    .await
    .map_err(join_error)?
}

/// Counts matches over every shard of `indices`.
pub async fn count(indices: &[Arc<IndexHandle>], req: &SearchRequest) -> Result<u64> {
    let req = Arc::new(req.clone());
    let counts = per_shard(indices, &req, |handle, si, req| {
        let index = handle.shards()[si].search_index();
        let prepared = {
            let mapping = handle.mapping().read();
            index.prepare(req, &mapping)?
        };
        index.count_prepared(&prepared)
    })
    .await?;
    Ok(counts.into_iter().map(|(_, _, n)| n).sum())
}
