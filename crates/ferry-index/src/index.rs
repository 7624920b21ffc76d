//! An open index on this node: its shards (`<data>/shards/<uuid>/<n>/`), routing, the
//! shared mapping, dynamic settings, and the write path across shards.
//!
//! A write batch goes `prepare` (validate, parse, map, route; see `prepare`) →
//! the caller persists any mapping update and calls [`IndexHandle::install_mapping`] →
//! [`IndexHandle::execute`] (one Raft entry per shard, shards in parallel, results in
//! input order). The index does not persist its definition (the catalog does) and
//! knows nothing of HTTP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::prepare::{self, Prepared, PreparedBatch};
use crate::{
    IndexError, IndexSettings, Mapping, RefreshPolicy, ReplicatedOp, ReplicatedOutcome, Result,
    Shard, ShardStats, SharedMapping, StoredDoc, WriteOp, WriteOutcome, routing,
};

/// What the engine needs to open an index (from the catalog).
#[derive(Debug, Clone)]
pub struct IndexMeta {
    /// Index uuid (directory name under `<data>/shards/`).
    pub uuid: String,
    /// Index name.
    pub name: String,
    /// Settings.
    pub settings: IndexSettings,
    /// Mapping.
    pub mapping: Mapping,
}

/// Counters of an index: sums over its shards, and each shard's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexStats {
    /// Live documents.
    pub docs: u64,
    /// Operations in history.
    pub history_ops: u64,
    /// Bytes on disk.
    pub store_bytes: u64,
    /// Per shard, by number.
    pub shards: Vec<ShardStats>,
}

/// An open index.
pub struct IndexHandle {
    meta: IndexMeta,
    settings: RwLock<IndexSettings>,
    mapping: SharedMapping,
    shards: Vec<Shard>,
}

impl IndexHandle {
    /// The directory of index `uuid` under the data directory.
    pub fn dir(data_dir: &Path, uuid: &str) -> PathBuf {
        data_dir.join("shards").join(uuid)
    }

    /// Creates the index's shards (a new Raft group each, with `node_id` as member).
    /// On failure, whatever was created is shut down and removed.
    pub async fn create(data_dir: &Path, meta: IndexMeta, node_id: u64) -> Result<Arc<Self>> {
        let dir = Self::dir(data_dir, &meta.uuid);
        if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(IndexError::Storage(format!(
                "index directory [{}] already exists",
                dir.display()
            )));
        }
        let result = Self::start(&dir, meta, node_id, true).await;
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }

    /// Opens an existing index's shards.
    pub async fn open(data_dir: &Path, meta: IndexMeta, node_id: u64) -> Result<Arc<Self>> {
        let dir = Self::dir(data_dir, &meta.uuid);
        if !dir.is_dir() {
            return Err(IndexError::Storage(format!(
                "index [{}] has no data directory [{}]",
                meta.name,
                dir.display()
            )));
        }
        Self::start(&dir, meta, node_id, false).await
    }

    async fn start(dir: &Path, meta: IndexMeta, node_id: u64, create: bool) -> Result<Arc<Self>> {
        let mapping: SharedMapping = Arc::new(RwLock::new(meta.mapping.clone()));
        let settings = meta.settings.clone();
        let opening = (0..settings.number_of_shards).map(|n| {
            let shard_dir = dir.join(n.to_string());
            let mapping = mapping.clone();
            let settings = &settings;
            async move {
                if create {
                    Shard::create(&shard_dir, n, node_id, settings, mapping).await
                } else {
                    Shard::open(&shard_dir, n, node_id, settings, mapping).await
                }
            }
        });
        let mut shards = Vec::new();
        let mut first_error = None;
        for result in futures::future::join_all(opening).await {
            match result {
                Ok(shard) => shards.push(shard),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            for shard in &shards {
                let _ = shard.shutdown().await;
            }
            return Err(e);
        }
        tracing::info!(index = %meta.name, uuid = %meta.uuid, shards = shards.len(), "index open");
        Ok(Arc::new(Self {
            settings: RwLock::new(settings),
            meta,
            mapping,
            shards,
        }))
    }

    /// Index name.
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// Index uuid.
    pub fn uuid(&self) -> &str {
        &self.meta.uuid
    }

    /// The shared mapping.
    pub fn mapping(&self) -> &SharedMapping {
        &self.mapping
    }

    /// The shards, by number.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// The current settings.
    pub fn settings(&self) -> IndexSettings {
        self.settings.read().clone()
    }

    /// The shard a document with this id and `_routing` lives in.
    pub fn shard_for(&self, id: &str, routing: Option<&str>) -> u32 {
        routing::shard_for(id, routing, self.meta.settings.number_of_shards)
    }

    /// Validates, parses, maps and routes a batch (see the `prepare` module).
    pub fn prepare(&self, ops: Vec<(WriteOp, Option<String>)>) -> PreparedBatch {
        let mapping = self.mapping.read();
        prepare::prepare(&mapping, self.meta.settings.number_of_shards, ops)
    }

    /// Merges `mapping` into the shared mapping (after the caller persisted it).
    pub fn install_mapping(&self, mapping: &Mapping) -> Result<()> {
        let mut current = self.mapping.write();
        current.merge(mapping)?;
        Ok(())
    }

    /// Executes a prepared batch: one Raft entry per shard, shards in parallel. One
    /// result per op, in input order (pre-flight failures included).
    pub async fn execute(
        &self,
        batch: PreparedBatch,
        refresh: RefreshPolicy,
    ) -> Vec<Result<WriteOutcome>> {
        let mut results: Vec<Option<Result<WriteOutcome>>> =
            (0..batch.len()).map(|_| None).collect();
        let mut per_shard: BTreeMap<u32, (Vec<usize>, Vec<WriteOp>)> = BTreeMap::new();
        for (i, item) in batch.items.into_iter().enumerate() {
            match item {
                Prepared::Ready { shard, op } => {
                    let slot = per_shard.entry(shard).or_default();
                    slot.0.push(i);
                    slot.1.push(op);
                }
                Prepared::Failed(e) => results[i] = Some(Err(e)),
            }
        }
        let writes = per_shard
            .into_iter()
            .map(|(shard, (positions, ops))| async move {
                let outcomes = match self.shards.get(shard as usize) {
                    Some(s) => s.write(ops, refresh).await,
                    None => ops
                        .iter()
                        .map(|_| Err(IndexError::Storage(format!("no shard {shard}"))))
                        .collect(),
                };
                (positions, outcomes)
            });
        for (positions, outcomes) in futures::future::join_all(writes).await {
            for (i, outcome) in positions.into_iter().zip(outcomes) {
                results[i] = Some(outcome);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(IndexError::Storage("a write got no answer".into()))))
            .collect()
    }

    /// Applies a CCR follower's batch of the leader's operations to shard `shard`,
    /// keeping their `_seq_no`, `_primary_term` and `_version` (idempotent, any order).
    pub async fn apply_replicated(
        &self,
        shard: u32,
        ops: Vec<ReplicatedOp>,
    ) -> Result<ReplicatedOutcome> {
        match self.shards.get(shard as usize) {
            Some(s) => s.apply_replicated(ops).await,
            None => Err(IndexError::IllegalArgument(format!(
                "index [{}] has no shard [{shard}]",
                self.name()
            ))),
        }
    }

    /// Shard `shard`, or the error naming the missing shard.
    pub fn shard(&self, shard: u32) -> Result<&Shard> {
        self.shards.get(shard as usize).ok_or_else(|| {
            IndexError::IllegalArgument(format!("index [{}] has no shard [{shard}]", self.name()))
        })
    }

    /// Marks the index as a CCR follower (client writes then fail with
    /// [`IndexError::FollowerWrite`]) or, on unfollow, as a regular index. Changes the
    /// running index only: the caller persists [`Self::settings`] in the catalog.
    pub fn set_following(&self, following: bool) {
        let mut settings = self.settings.write();
        settings.following_index = following;
        for shard in &self.shards {
            shard.update_settings(&settings);
        }
    }

    /// Realtime get.
    pub fn get(&self, id: &str, routing: Option<&str>) -> Result<Option<StoredDoc>> {
        match self.shards.get(self.shard_for(id, routing) as usize) {
            Some(shard) => shard.get(id),
            None => Ok(None),
        }
    }

    /// Makes everything acknowledged so far searchable, on every shard.
    pub async fn refresh(&self) -> Result<()> {
        let all = futures::future::join_all(self.shards.iter().map(Shard::refresh)).await;
        all.into_iter().collect()
    }

    /// Refreshes and commits every shard durably.
    pub async fn flush(&self) -> Result<()> {
        let all = futures::future::join_all(self.shards.iter().map(Shard::flush)).await;
        all.into_iter().collect()
    }

    /// Applies new settings (validated by [`IndexSettings::update`]); the shard count
    /// cannot change.
    pub fn update_settings(&self, settings: IndexSettings) -> Result<()> {
        if settings.number_of_shards != self.meta.settings.number_of_shards {
            return Err(IndexError::IllegalArgument(
                "Can't update non dynamic settings [[index.number_of_shards]] for open indices"
                    .into(),
            ));
        }
        for shard in &self.shards {
            shard.update_settings(&settings);
        }
        *self.settings.write() = settings;
        Ok(())
    }

    /// Counters summed over the shards, and per shard.
    pub fn stats(&self) -> Result<IndexStats> {
        let mut stats = IndexStats::default();
        for shard in &self.shards {
            let s = shard.stats()?;
            stats.docs += s.docs;
            stats.history_ops += s.history_ops;
            stats.store_bytes += s.store_bytes;
            stats.shards.push(s);
        }
        Ok(stats)
    }

    /// Shuts every shard down (refresh, durable commit, stop Raft). Idempotent.
    pub async fn shutdown(&self) -> Result<()> {
        let all = futures::future::join_all(self.shards.iter().map(Shard::shutdown)).await;
        all.into_iter().collect()
    }

    /// Shuts down (if not yet) and removes the index's files from `data_dir`.
    pub async fn delete_files(&self, data_dir: &Path) -> Result<()> {
        self.shutdown().await?;
        let dir = Self::dir(data_dir, &self.meta.uuid);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(IndexError::Storage(format!(
                "removing [{}]: {e}",
                dir.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{Conditions, DeleteOp, IndexOp, SearchRequest, UpdateOp, WriteResult};

    fn index(id: &str, source: &str) -> WriteOp {
        WriteOp::Index(IndexOp {
            id: id.into(),
            source: Bytes::copy_from_slice(source.as_bytes()),
            create: false,
            cond: Conditions::default(),
            routing: None,
        })
    }

    fn update(id: &str, doc: &str, upsert: Option<&str>) -> WriteOp {
        WriteOp::Update(UpdateOp {
            id: id.into(),
            doc: Some(Bytes::copy_from_slice(doc.as_bytes())),
            upsert: upsert.map(|u| Bytes::copy_from_slice(u.as_bytes())),
            doc_as_upsert: false,
            detect_noop: true,
            cond: Conditions::default(),
            routing: None,
        })
    }

    fn meta(shards: u32) -> IndexMeta {
        IndexMeta {
            uuid: "uuid-1".into(),
            name: "logs".into(),
            settings: IndexSettings {
                number_of_shards: shards,
                refresh_interval: None,
                ..Default::default()
            },
            mapping: Mapping::default(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_across_shards_answers_in_input_order() {
        let data = tempfile::tempdir().unwrap();
        let idx = IndexHandle::create(data.path(), meta(3), 1).await.unwrap();
        assert_eq!(idx.shards().len(), 3);
        let mut ops: Vec<_> = (0..30)
            .map(|i| (index(&format!("d{i}"), &format!(r#"{{"n":{i}}}"#)), None))
            .collect();
        ops.insert(5, (index("bad", r#"{"n":"#), None));
        ops.push((index("routed", r#"{"n":1}"#), Some("user-7".to_owned())));
        let batch = idx.prepare(ops.clone());
        if let Some(update) = batch.mapping_update() {
            idx.install_mapping(&update.clone()).unwrap();
        }
        // The mapping now knows every field the batch uses.
        assert!(idx.prepare(ops).mapping_update().is_none());
        let results = idx.execute(batch, RefreshPolicy::None).await;
        assert_eq!(results.len(), 32);
        assert_eq!(
            results[5].as_ref().unwrap_err().es_type(),
            "document_parsing_exception"
        );
        let mut per_shard = vec![Vec::new(); 3];
        for r in results.iter().filter_map(|r| r.as_ref().ok()) {
            assert_eq!(r.result, WriteResult::Created);
            let routing = (r.id == "routed").then_some("user-7");
            assert_eq!(r.shard, idx.shard_for(&r.id, routing));
            per_shard[r.shard as usize].push(r.seq_no);
        }
        for seq_nos in &mut per_shard {
            seq_nos.sort_unstable();
            assert_eq!(*seq_nos, (0..seq_nos.len() as u64).collect::<Vec<_>>());
        }
        assert_eq!(results[6].as_ref().unwrap().id, "d5", "input order is kept");
        assert!(idx.get("routed", Some("user-7")).unwrap().is_some());
        assert_eq!(
            idx.get("d3", None).unwrap().unwrap().source,
            Bytes::from_static(br#"{"n":3}"#)
        );
        let stats = idx.stats().unwrap();
        assert_eq!(
            (stats.docs, stats.history_ops, stats.shards.len()),
            (31, 31, 3)
        );

        assert!(
            idx.update_settings(IndexSettings {
                number_of_shards: 5,
                ..idx.settings()
            })
            .is_err()
        );
        let faster = IndexSettings {
            refresh_interval: Some(std::time::Duration::from_millis(200)),
            ..idx.settings()
        };
        idx.update_settings(faster.clone()).unwrap();
        assert_eq!(idx.settings(), faster);
        idx.refresh().await.unwrap();
        idx.shutdown().await.unwrap();
        drop(idx);

        assert!(
            IndexHandle::create(data.path(), meta(3), 1).await.is_err(),
            "already exists"
        );
        let idx = IndexHandle::open(data.path(), meta(3), 1).await.unwrap();
        assert_eq!(idx.stats().unwrap().docs, 31);
        let routed = idx.get("routed", Some("user-7")).unwrap().unwrap();
        assert_eq!(
            routed.routing.as_deref(),
            Some("user-7"),
            "kept by a restart"
        );
        assert_eq!(idx.get("d3", None).unwrap().unwrap().routing, None);
        idx.delete_files(data.path()).await.unwrap();
        assert!(!IndexHandle::dir(data.path(), "uuid-1").exists());
    }

    /// `_routing` is stored with the document: the op that writes it sets it, an update of
    /// a live document keeps it (whatever routing the update came with), an upsert takes
    /// the request's, a reindex replaces it; GET, history and search hits show it, before
    /// and after a restart.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn routing_is_stored_with_the_document_and_survives_a_restart() {
        let data = tempfile::tempdir().unwrap();
        let idx = IndexHandle::create(data.path(), meta(1), 1).await.unwrap();
        let delete = WriteOp::Delete(DeleteOp {
            id: "d".into(),
            cond: Conditions::default(),
        });
        let ops = vec![
            (index("a", r#"{"n":1}"#), Some("r1")),
            (index("plain", r#"{"n":2}"#), None),
            (update("a", r#"{"m":1}"#, None), Some("other")),
            (update("b", r#"{"m":2}"#, Some(r#"{"u":1}"#)), Some("r2")),
            (index("c", r#"{"n":3}"#), Some("r3")),
            (index("c", r#"{"n":4}"#), None),
            (index("d", "{}"), Some("r4")),
            (delete, Some("r4")),
        ];
        let batch = idx.prepare(
            ops.into_iter()
                .map(|(op, r)| (op, r.map(str::to_owned)))
                .collect(),
        );
        if let Some(update) = batch.mapping_update() {
            idx.install_mapping(&update.clone()).unwrap();
        }
        for r in idx.execute(batch, RefreshPolicy::Immediate).await {
            r.unwrap();
        }
        let owned = |v: &[(&str, Option<&str>)]| -> Vec<(String, Option<String>)> {
            v.iter()
                .map(|(id, r)| ((*id).to_owned(), r.map(str::to_owned)))
                .collect()
        };
        let live = owned(&[
            ("a", Some("r1")),
            ("b", Some("r2")),
            ("c", None),
            ("plain", None),
        ]);
        let gets = |idx: &IndexHandle| -> Vec<(String, Option<String>)> {
            live.iter()
                .map(|(id, _)| {
                    let doc = idx.get(id, None).unwrap().unwrap();
                    (doc.id, doc.routing)
                })
                .collect()
        };
        let hits = |idx: Arc<IndexHandle>| async move {
            let hits = crate::search(&[idx], &SearchRequest::default())
                .await
                .unwrap();
            let mut got: Vec<_> = hits.hits.into_iter().map(|h| (h.id, h.routing)).collect();
            got.sort();
            got
        };
        assert_eq!(gets(&idx), live);
        assert_eq!(hits(Arc::clone(&idx)).await, live);
        // The last history op of each id (superseded ones may be pruned at any time).
        let last: BTreeMap<String, Option<String>> = idx.shards()[0]
            .history(0, 100)
            .unwrap()
            .into_iter()
            .map(|op| (op.id, op.routing))
            .collect();
        let expected = owned(&[
            ("a", Some("r1")),
            ("b", Some("r2")),
            ("c", None),
            ("d", None),
            ("plain", None),
        ]);
        assert_eq!(last.into_iter().collect::<Vec<_>>(), expected);

        idx.shutdown().await.unwrap();
        drop(idx);
        let idx = IndexHandle::open(data.path(), meta(1), 1).await.unwrap();
        assert_eq!(gets(&idx), live, "routing survives a restart");
        assert_eq!(hits(Arc::clone(&idx)).await, live);
        idx.delete_files(data.path()).await.unwrap();
    }
}
