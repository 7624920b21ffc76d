//! The tantivy index of one shard: written by the shard's state machine (`index`,
//! `delete`, `refresh`), read by search.
//!
//! Every method takes `&self`: one mutex serialises the writer (so a replace is a delete
//! and an add that nothing interleaves), readers never block on it. A refresh commits
//! durably with the applied `_seq_no`, the highest `_seq_no` it holds and the text slot
//! assignment in the commit payload, then reloads the reader; after a crash the state
//! machine re-applies what follows [`ShardSearchIndex::committed_seq_no`], and only a
//! document above [`ShardSearchIndex::committed_max_seq_no`] can be added without a
//! delete. The writer uses two indexing threads (the shard's feed parses documents on a
//! third, so a backlog uses both cores), one merge thread and a 32 MB budget per
//! indexing thread, grown only as documents arrive.
//!
//! A follower that copies its leader's segments opens the index without a writer
//! ([`ShardSearchIndex::open_copy`]) and installs the leader's commits instead
//! (`segments`); a leader describes its last commit for such a follower.
//!
//! Sources are not stored here: hits are fetched from the shard's state store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::json;
use tantivy::collector::Count;
use tantivy::directory::MmapDirectory;
use tantivy::indexer::IndexWriterOptions;
use tantivy::query::{BooleanQuery, Occur};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};
use tokio::sync::watch;
use tracing::debug;

use super::collect::{ShardHits, TopCollector};
use super::compile::{Compiler, Q, constant};
use super::document::{PlannedDoc, plan_document};
use super::request::SearchRequest;
use super::schema::{Fields, TextSlots, build_schema, register_tokenizers};
use super::sort::{KeySpec, resolve_sort};
use crate::mapping::date_math::now_millis;
use crate::{IndexError, Mapping, Result, SharedMapping};

/// Memory budget of a shard's index writer.
const WRITER_BUDGET: usize = 32 * 1024 * 1024;

fn storage(e: impl std::fmt::Display) -> IndexError {
    IndexError::storage(e)
}

/// A query compiled for one shard, ready to run without the mapping lock.
pub(crate) struct Prepared {
    query: Q,
    specs: Arc<Vec<KeySpec>>,
}

impl Prepared {
    /// The resolved sort.
    pub(crate) fn specs(&self) -> Arc<Vec<KeySpec>> {
        Arc::clone(&self.specs)
    }
}

#[derive(Debug, Default)]
pub(super) struct CommitState {
    pub(super) committed: Option<u64>,
    /// The highest seq_no the last durable commit may hold (`u64::MAX`: unknown).
    pub(super) committed_max: Option<u64>,
    /// The highest seq_no added to the writer so far, committed or not.
    added_max: Option<u64>,
    dirty: bool,
}

impl CommitState {
    /// Records an added document; called with the writer locked, so a commit taken after
    /// it holds the document and sees its seq_no.
    fn added(&mut self, seq_no: u64) {
        self.added_max = self.added_max.max(Some(seq_no));
        self.dirty = true;
    }
}

/// The tantivy index of one shard: written by the shard's state machine, read by search.
pub struct ShardSearchIndex {
    pub(super) dir: PathBuf,
    pub(super) index: Index,
    fields: Fields,
    /// `None` for a copy of a leader's segments: nothing is indexed here.
    writer: Option<Mutex<IndexWriter<PlannedDoc>>>,
    pub(super) reader: IndexReader,
    mapping: SharedMapping,
    pub(super) slots: TextSlots,
    pub(super) state: Mutex<CommitState>,
    /// Counts the commits made or installed by this process, for followers that wait for
    /// a newer one.
    pub(super) commits: watch::Sender<u64>,
}

impl std::fmt::Debug for ShardSearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardSearchIndex")
            .field("committed_seq_no", &self.committed_seq_no())
            .finish_non_exhaustive()
    }
}

impl ShardSearchIndex {
    /// Opens or creates the index in `dir`, with a writer.
    pub fn open(dir: &Path, mapping: SharedMapping) -> Result<Self> {
        Self::open_with(dir, mapping, true)
    }

    /// Opens or creates the index in `dir` as a copy of a leader's segments: without a
    /// writer, changed only by installing the leader's commits.
    pub fn open_copy(dir: &Path, mapping: SharedMapping) -> Result<Self> {
        Self::open_with(dir, mapping, false)
    }

    /// Whether this index is a copy of a leader's segments (it has no writer).
    pub fn is_copy(&self) -> bool {
        self.writer.is_none()
    }

    fn open_with(dir: &Path, mapping: SharedMapping, writer: bool) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(storage)?;
        let directory = MmapDirectory::open(dir).map_err(storage)?;
        let schema = build_schema();
        let index = if Index::exists(&directory).map_err(storage)? {
            let index = Index::open(directory).map_err(storage)?;
            if index.schema() != schema {
                return Err(IndexError::Storage(format!(
                    "search index in {} has an incompatible schema",
                    dir.display()
                )));
            }
            index
        } else {
            Index::create(directory, schema, Default::default()).map_err(storage)?
        };
        register_tokenizers(&index);
        let fields = Fields::of(&index.schema())?;
        let metas = index.load_metas().map_err(storage)?;
        let Payload {
            seq_no: committed,
            max_seq_no: committed_max,
            text_slots: slots,
        } = parse_payload(metas.payload.as_deref())?;
        let options = IndexWriterOptions::builder()
            .memory_budget_per_thread(WRITER_BUDGET)
            .num_worker_threads(2)
            .num_merge_threads(1)
            .build();
        let writer = if writer {
            Some(Mutex::new(
                index.writer_with_options(options).map_err(storage)?,
            ))
        } else {
            None
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(storage)?;
        debug!(dir = %dir.display(), committed_seq_no = ?committed, copy = writer.is_none(), "opened shard search index");
        Ok(Self {
            dir: dir.to_owned(),
            index,
            fields,
            writer,
            reader,
            mapping,
            slots: TextSlots::from_list(slots),
            state: Mutex::new(CommitState {
                committed,
                committed_max,
                // A commit that does not say what it holds above its claim is followed by
                // a replay of all of that before the next commit (`SearchFeed::catch_up`
                // and the Raft log): what this process adds bounds it from then on.
                added_max: if committed_max == Some(u64::MAX) {
                    committed
                } else {
                    committed_max
                },
                dirty: false,
            }),
            commits: watch::Sender::new(0),
        })
    }

    /// The writer; a copy of a leader's segments has none.
    fn writer(&self) -> Result<&Mutex<IndexWriter<PlannedDoc>>> {
        self.writer.as_ref().ok_or_else(|| {
            IndexError::Storage(
                "this search index copies its leader's segments and indexes nothing".into(),
            )
        })
    }

    /// Watches the commits made or installed since this index was opened (a counter).
    pub fn subscribe_commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// The highest `_seq_no` covered by the last durable commit (`None` when empty).
    pub fn committed_seq_no(&self) -> Option<u64> {
        self.state.lock().committed
    }

    /// The highest `_seq_no` a document in the last durable commit may carry, at or above
    /// [`Self::committed_seq_no`] (a follower applies above its checkpoint); `u64::MAX`
    /// when a commit does not say. Only a document above it can be added without a delete.
    pub fn committed_max_seq_no(&self) -> Option<u64> {
        self.state.lock().committed_max
    }

    fn plan(&self, id: &str, seq_no: u64, source: &[u8]) -> Result<PlannedDoc> {
        let mapping = self.mapping.read();
        plan_document(&mapping, &self.fields, &self.slots, id, seq_no, source)
    }

    /// Indexes `source` under `id`, replacing any earlier version of `id`.
    pub fn index(&self, id: &str, seq_no: u64, source: &[u8]) -> Result<()> {
        let doc = self.plan(id, seq_no, source)?;
        let writer = self.writer()?.lock();
        writer.delete_term(Term::from_field_text(self.fields.id, id));
        writer.add_document(doc).map_err(storage)?;
        self.state.lock().added(seq_no);
        Ok(())
    }

    /// Indexes `source` under an `id` the caller knows is not in the index (a `created`
    /// write): skips the delete, which saves a term lookup per segment at commit.
    pub fn index_new(&self, id: &str, seq_no: u64, source: &[u8]) -> Result<()> {
        let doc = self.plan(id, seq_no, source)?;
        let writer = self.writer()?.lock();
        writer.add_document(doc).map_err(storage)?;
        self.state.lock().added(seq_no);
        Ok(())
    }

    /// Removes `id`.
    pub fn delete(&self, id: &str) -> Result<()> {
        self.writer()?
            .lock()
            .delete_term(Term::from_field_text(self.fields.id, id));
        self.state.lock().dirty = true;
        Ok(())
    }

    /// Commits everything added so far (durably, recording `applied_seq_no`) and makes it
    /// searchable.
    pub fn refresh(&self, applied_seq_no: u64) -> Result<()> {
        let mut writer = self.writer()?.lock();
        // Read with the writer locked: the commit holds exactly what was added so far.
        let added_max = {
            let st = self.state.lock();
            if !st.dirty && st.committed == Some(applied_seq_no) {
                return Ok(());
            }
            st.added_max
        };
        let payload = json!({
            "seq_no": applied_seq_no,
            "max_seq_no": added_max,
            "text_slots": self.slots.to_list(),
        })
        .to_string();
        let mut prepared = writer.prepare_commit().map_err(storage)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(storage)?;
        drop(writer);
        self.reader.reload().map_err(storage)?;
        {
            let mut st = self.state.lock();
            st.committed = Some(applied_seq_no);
            st.committed_max = added_max;
            st.dirty = false;
        }
        self.commits.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Number of live documents searchable now.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Compiles the request's query and sort for this shard.
    pub(crate) fn prepare(&self, req: &SearchRequest, mapping: &Mapping) -> Result<Prepared> {
        let compiler = Compiler {
            mapping,
            fields: &self.fields,
            slots: &self.slots,
            now_millis: now_millis(),
        };
        let mut query = compiler.compile(&req.query)?;
        if let Some(pf) = &req.post_filter {
            let filter = constant(compiler.compile(pf)?, 0.0);
            query = Box::new(BooleanQuery::new(vec![
                (Occur::Must, query),
                (Occur::Must, filter),
            ]));
        }
        let specs = resolve_sort(mapping, &req.effective_sort())?;
        Ok(Prepared {
            query,
            specs: Arc::new(specs),
        })
    }

    /// Runs a prepared search: the top `from + size` hits and the match count.
    pub(crate) fn execute(&self, req: &SearchRequest, prepared: &Prepared) -> Result<ShardHits> {
        let collector = TopCollector {
            specs: Arc::clone(&prepared.specs),
            k: req.from + req.size,
            after: req.search_after.clone().map(Arc::new),
            scoring: req.needs_scores(),
            min_score: req.min_score,
        };
        let searcher = self.reader.searcher();
        searcher
            .search(&*prepared.query, &collector)
            .map_err(|e| match e {
                tantivy::TantivyError::InternalError(msg) if msg.starts_with("search_after") => {
                    IndexError::IllegalArgument(msg)
                }
                other => storage(other),
            })
    }

    /// Searches this shard alone (the per-shard half of [`crate::search`]).
    pub fn search_shard(&self, req: &SearchRequest, mapping: &Mapping) -> Result<ShardHits> {
        let prepared = self.prepare(req, mapping)?;
        self.execute(req, &prepared)
    }

    /// Counts the matches of the request's query on this shard.
    pub fn count_shard(&self, req: &SearchRequest, mapping: &Mapping) -> Result<u64> {
        let prepared = self.prepare(req, mapping)?;
        self.count_prepared(&prepared)
    }

    /// Counts the matches of a prepared query.
    pub(crate) fn count_prepared(&self, prepared: &Prepared) -> Result<u64> {
        let n = self
            .reader
            .searcher()
            .search(&*prepared.query, &Count)
            .map_err(storage)?;
        Ok(n as u64)
    }
}

/// What a commit's payload says.
#[derive(Debug, Default)]
pub(super) struct Payload {
    pub(super) seq_no: Option<u64>,
    pub(super) max_seq_no: Option<u64>,
    pub(super) text_slots: Vec<String>,
}

/// Reads `{"seq_no": n, "max_seq_no": m, "text_slots": [...]}`. A payload written before
/// `max_seq_no` existed says nothing of it: the commit may then hold any seq_no.
pub(super) fn parse_payload(payload: Option<&str>) -> Result<Payload> {
    let Some(p) = payload else {
        return Ok(Payload::default());
    };
    let v: serde_json::Value = serde_json::from_str(p)
        .map_err(|e| IndexError::Storage(format!("unreadable search commit payload: {e}")))?;
    let seq_no = v.get("seq_no").and_then(serde_json::Value::as_u64);
    let max_seq_no = match v.get("max_seq_no") {
        None => Some(u64::MAX),
        Some(m) => m.as_u64(),
    };
    let text_slots = v
        .get("text_slots")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Payload {
        seq_no,
        max_seq_no,
        text_slots,
    })
}
