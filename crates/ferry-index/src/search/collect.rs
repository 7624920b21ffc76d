//! Collecting the top hits of one shard: ES sort semantics over tantivy fast fields.
//!
//! Sort keys: `_score`, `_doc` (index order, i.e. `_seq_no` of the indexed version),
//! keyword (`kw` columns, compared by term ordinal inside a segment), numbers, dates and
//! booleans (`num` columns). Multi-valued fields sort by their min (asc) or max (desc)
//! unless `mode` says otherwise; missing values sort last unless `missing: _first`.
//! Ties break by `_seq_no` (then segment and doc id), so equal-scored hits come back in
//! indexing order and paging is stable. `search_after` keeps only hits strictly after the
//! given sort values, as ES does.
//!
//! Each segment keeps its own top `from + size` with keys encoded as integers; the
//! harvest decodes them to typed [`SortValue`]s, which the shard and the cross-shard
//! merges compare. A hit's `_id` is read from its segment's dictionary only once the
//! shard's merge has kept it: every read decompresses a dictionary block (zstd, with a
//! new context each time), and reading the ids of every segment's top `k` took about
//! half of a W1 term query's CPU.

use std::collections::BinaryHeap;
use std::sync::Arc;

use serde_json::Value;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, ColumnType, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, f64_to_u64, u64_to_f64, u64_to_i64};

use super::sort::{KeySource, KeySpec, MissingKind, SortValue, compare_hits};

/// One hit of a shard.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardHit {
    pub(crate) id: String,
    pub(crate) score: Option<f32>,
    pub(crate) sort: Vec<SortValue>,
    pub(crate) seq_no: u64,
}

impl ShardHit {
    /// The document id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The score (when scores were computed).
    pub fn score(&self) -> Option<f32> {
        self.score
    }
}

/// The top hits of a shard and its match count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardHits {
    pub(crate) total: u64,
    pub(crate) max_score: Option<f32>,
    pub(crate) hits: Vec<ShardHit>,
}

impl ShardHits {
    /// Documents matching (after `min_score`).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The top `from + size` hits, best first.
    pub fn hits(&self) -> &[ShardHit] {
        &self.hits
    }
}

fn score_bits(s: f32) -> u64 {
    let b = s.to_bits();
    u64::from(if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    })
}

fn i64_key(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

fn key_i64(k: u64) -> i64 {
    (k ^ (1 << 63)) as i64
}

/// Encodes a natural-order key with direction and missing placement.
fn encode(spec: &KeySpec, v: Option<u64>) -> u128 {
    match v {
        None if spec.missing_first => 0,
        None => u128::MAX,
        Some(v) => {
            let v = if spec.desc { !v } else { v };
            u128::from(v) + u128::from(spec.missing_first)
        }
    }
}

fn decode(spec: &KeySpec, k: u128) -> Option<u64> {
    if (spec.missing_first && k == 0) || (!spec.missing_first && k == u128::MAX) {
        return None;
    }
    let v = (k - u128::from(spec.missing_first)) as u64;
    Some(if spec.desc { !v } else { v })
}

/// Collects the top `k` hits (and counts every match).
pub(crate) struct TopCollector {
    pub(crate) specs: Arc<Vec<KeySpec>>,
    pub(crate) k: usize,
    pub(crate) after: Option<Arc<Vec<Value>>>,
    pub(crate) scoring: bool,
    pub(crate) min_score: Option<f32>,
}

enum SegReader {
    Score,
    Seq,
    Num {
        col: Option<(Column<u64>, ColumnType)>,
        float: bool,
    },
    Str(Option<StrColumn>),
    Missing,
}

fn storage(e: impl std::fmt::Display) -> tantivy::TantivyError {
    tantivy::TantivyError::InternalError(e.to_string())
}

/// A segment's top hits, each with its `_id` ordinal in `ids`; the id, still empty, is
/// read by the merge for the hits it keeps.
pub(crate) struct SegHits {
    total: u64,
    max_score: Option<f32>,
    hits: Vec<(ShardHit, u64)>,
    ids: Option<StrColumn>,
}

impl Collector for TopCollector {
    type Fruit = ShardHits;
    type Child = SegCollector;

    fn for_segment(
        &self,
        _segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegCollector> {
        let ff = reader.fast_fields();
        let numeric = [
            ColumnType::I64,
            ColumnType::U64,
            ColumnType::F64,
            ColumnType::Bool,
        ];
        let readers = self
            .specs
            .iter()
            .map(|s| {
                Ok(match &s.source {
                    KeySource::Score => SegReader::Score,
                    KeySource::Seq => SegReader::Seq,
                    KeySource::Int(name) => SegReader::Num {
                        col: ff.u64_lenient_for_type(Some(&numeric), name)?,
                        float: false,
                    },
                    KeySource::Float(name, _) => SegReader::Num {
                        col: ff.u64_lenient_for_type(Some(&numeric), name)?,
                        float: true,
                    },
                    KeySource::Str(name) => SegReader::Str(ff.str(name)?),
                    KeySource::Missing(_) => SegReader::Missing,
                })
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        let seq = ff.u64("_seq")?;
        let ids = ff.str("_id")?;
        let mut seg = SegCollector {
            specs: Arc::clone(&self.specs),
            readers,
            k: self.k,
            heap: BinaryHeap::with_capacity(self.k.min(1024) + 1),
            after: None,
            total: 0,
            max_score: f32::NEG_INFINITY,
            scratch: Vec::with_capacity(self.specs.len()),
            seq,
            ids,
            scoring: self.scoring,
            min_score: self.min_score,
        };
        if let Some(after) = &self.after {
            seg.after = Some(seg.after_keys(after).map_err(storage)?);
        }
        Ok(seg)
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    fn merge_fruits(&self, fruits: Vec<SegHits>) -> tantivy::Result<ShardHits> {
        let mut out = ShardHits::default();
        let mut max: Option<f32> = None;
        let mut columns = Vec::with_capacity(fruits.len());
        let mut kept: Vec<(ShardHit, u64, usize)> = Vec::new();
        for (seg, f) in fruits.into_iter().enumerate() {
            out.total += f.total;
            if let Some(m) = f.max_score {
                max = Some(max.map_or(m, |x| x.max(m)));
            }
            columns.push(f.ids);
            kept.extend(f.hits.into_iter().map(|(hit, ord)| (hit, ord, seg)));
        }
        let specs = &self.specs;
        kept.sort_by(|a, b| compare_hits(specs, &a.0, &b.0).then(a.0.seq_no.cmp(&b.0.seq_no)));
        kept.truncate(self.k);
        for (mut hit, ord, seg) in kept {
            if let Some(col) = &columns[seg]
                && col.ord_to_str(ord, &mut hit.id).unwrap_or(false)
            {
                out.hits.push(hit);
            }
        }
        out.max_score = max;
        Ok(out)
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    keys: Box<[u128]>,
    seq: u64,
    doc: DocId,
    score_bits: u64,
}

/// The per-segment part of [`TopCollector`].
pub(crate) struct SegCollector {
    specs: Arc<Vec<KeySpec>>,
    readers: Vec<SegReader>,
    k: usize,
    heap: BinaryHeap<Candidate>,
    after: Option<Vec<u128>>,
    total: u64,
    max_score: f32,
    scratch: Vec<u128>,
    seq: Column<u64>,
    ids: Option<StrColumn>,
    scoring: bool,
    min_score: Option<f32>,
}

fn num_natural(raw: u64, typ: ColumnType, float: bool) -> u64 {
    if float {
        let f = match typ {
            ColumnType::F64 => u64_to_f64(raw),
            ColumnType::I64 => u64_to_i64(raw) as f64,
            _ => raw as f64,
        };
        f64_to_u64(f)
    } else {
        let i = match typ {
            ColumnType::I64 => u64_to_i64(raw),
            ColumnType::F64 => u64_to_f64(raw) as i64,
            _ => i64::try_from(raw).unwrap_or(i64::MAX),
        };
        i64_key(i)
    }
}

impl SegCollector {
    fn compute_keys(&mut self, doc: DocId, score: Score) {
        self.scratch.clear();
        for (spec, reader) in self.specs.iter().zip(&self.readers) {
            let natural: Option<u64> = match reader {
                SegReader::Score => Some(score_bits(score)),
                SegReader::Seq => Some(self.seq.first(doc).unwrap_or(0)),
                SegReader::Missing => None,
                SegReader::Num { col: None, .. } | SegReader::Str(None) => None,
                SegReader::Num {
                    col: Some((col, typ)),
                    float,
                } => {
                    let vals = col
                        .values_for_doc(doc)
                        .map(|raw| num_natural(raw, *typ, *float));
                    if spec.use_max { vals.max() } else { vals.min() }
                }
                SegReader::Str(Some(col)) => {
                    let ords = col.ords().values_for_doc(doc);
                    let ord = if spec.use_max { ords.max() } else { ords.min() };
                    ord.map(|o| o * 2 + 1)
                }
            };
            self.scratch.push(encode(spec, natural));
        }
    }

    /// `search_after` values as this segment's keys.
    fn after_keys(&self, after: &[Value]) -> std::result::Result<Vec<u128>, String> {
        let mut out = Vec::with_capacity(after.len());
        for ((spec, reader), v) in self.specs.iter().zip(&self.readers).zip(after) {
            let bad = || format!("search_after value [{v}] does not fit its sort field");
            let natural: Option<u64> = if v.is_null() {
                None
            } else {
                match (&spec.source, reader) {
                    (KeySource::Score, _) => Some(score_bits(v.as_f64().ok_or_else(bad)? as f32)),
                    (KeySource::Seq, _) => Some(v.as_u64().ok_or_else(bad)?),
                    (KeySource::Int(_), _) | (KeySource::Missing(MissingKind::Int), _) => {
                        let n = match v {
                            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
                            Value::String(s) => s.parse::<i64>().ok().or_else(|| {
                                crate::mapping::DateFormat::default_format().parse_millis(s)
                            }),
                            Value::Bool(b) => Some(i64::from(*b)),
                            _ => None,
                        }
                        .ok_or_else(bad)?;
                        let sentinel = if spec.desc != spec.missing_first {
                            i64::MIN
                        } else {
                            i64::MAX
                        };
                        (n != sentinel).then(|| i64_key(n))
                    }
                    (KeySource::Float(_, _), _) | (KeySource::Missing(MissingKind::Float), _) => {
                        let f = match v {
                            Value::Number(n) => n.as_f64(),
                            Value::String(s) => s.parse().ok(),
                            _ => None,
                        }
                        .ok_or_else(bad)?;
                        let f = match spec.source {
                            KeySource::Float(_, true) => f64::from(f as f32),
                            _ => f,
                        };
                        Some(f64_to_u64(f))
                    }
                    (_, SegReader::Str(Some(col))) => {
                        let s = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let dict = col.dictionary();
                        match dict.term_ord(s.as_bytes()).map_err(|e| e.to_string())? {
                            Some(ord) => Some(ord * 2 + 1),
                            None => {
                                let (lo, _) = dict
                                    .term_bounds_to_ord(
                                        std::ops::Bound::Included(s.as_bytes()),
                                        std::ops::Bound::Unbounded,
                                    )
                                    .map_err(|e| e.to_string())?;
                                let n = match lo {
                                    std::ops::Bound::Included(n) | std::ops::Bound::Excluded(n) => {
                                        n
                                    }
                                    std::ops::Bound::Unbounded => 0,
                                };
                                Some(n.min(dict.num_terms() as u64) * 2)
                            }
                        }
                    }
                    // A string sort whose column is absent here: every doc is missing, so
                    // only the position relative to "missing" matters.
                    (_, _) => Some(0),
                }
            };
            out.push(encode(spec, natural));
        }
        Ok(out)
    }

    fn decode_values(&self, keys: &[u128], score: f32) -> Vec<SortValue> {
        let mut out = Vec::with_capacity(keys.len());
        let mut buf = String::new();
        for ((spec, reader), &k) in self.specs.iter().zip(&self.readers).zip(keys) {
            let Some(v) = decode(spec, k) else {
                out.push(SortValue::Missing);
                continue;
            };
            out.push(match (&spec.source, reader) {
                (KeySource::Score, _) => SortValue::Score(score),
                (KeySource::Seq, _) => SortValue::Seq(v),
                (KeySource::Int(_), _) => SortValue::I64(key_i64(v)),
                (KeySource::Float(..), _) => SortValue::F64(u64_to_f64(v)),
                (_, SegReader::Str(Some(col))) => {
                    buf.clear();
                    match col.ord_to_str((v - 1) / 2, &mut buf) {
                        Ok(true) => SortValue::Str(buf.clone()),
                        _ => SortValue::Missing,
                    }
                }
                _ => SortValue::Missing,
            });
        }
        out
    }
}

impl SegmentCollector for SegCollector {
    type Fruit = SegHits;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Some(min) = self.min_score
            && score < min
        {
            return;
        }
        self.total += 1;
        if self.scoring && score > self.max_score {
            self.max_score = score;
        }
        if self.k == 0 {
            return;
        }
        self.compute_keys(doc, score);
        if let Some(after) = &self.after
            && self.scratch.as_slice() <= after.as_slice()
        {
            return;
        }
        let seq = self.seq.first(doc).unwrap_or(0);
        if self.heap.len() >= self.k {
            let worst = self.heap.peek().expect("heap is full");
            let better = (self.scratch.as_slice(), seq, doc) < (&*worst.keys, worst.seq, worst.doc);
            if !better {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Candidate {
            keys: self.scratch.clone().into_boxed_slice(),
            seq,
            doc,
            score_bits: u64::from(score.to_bits()),
        });
    }

    fn harvest(mut self) -> SegHits {
        let heap = std::mem::take(&mut self.heap);
        let mut hits = Vec::with_capacity(heap.len());
        for c in heap.into_sorted_vec() {
            let Some(ord) = self.ids.as_ref().and_then(|col| col.ords().first(c.doc)) else {
                continue;
            };
            let score = f32::from_bits(c.score_bits as u32);
            let sort = self.decode_values(&c.keys, score);
            let hit = ShardHit {
                id: String::new(),
                score: self.scoring.then_some(score),
                sort,
                seq_no: c.seq,
            };
            hits.push((hit, ord));
        }
        SegHits {
            total: self.total,
            max_score: (self.scoring && self.total > 0).then_some(self.max_score),
            hits,
            ids: self.ids,
        }
    }
}
