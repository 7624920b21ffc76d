//! One index as this node holds it, and the one place the engine and catalog types meet.
//!
//! An [`IndexEntry`] keeps the catalog record, the parsed settings, the open
//! [`IndexHandle`] (while the index is open) and the mutex that serializes mapping
//! changes (dynamic mapping and `PUT _mapping`) so the catalog is written before a new
//! mapping is used. The adapter functions at the bottom are every call whose exact
//! engine/catalog signature is still settling; nothing else in `node` constructs engine
//! or catalog types directly.

use std::path::Path;
use std::sync::Arc;

use ferry_catalog::{IndexRecord, IndexState};
use ferry_index::{IndexHandle, IndexMeta, IndexSettings, Mapping};
use parking_lot::RwLock;
use serde_json::Value;

use crate::error::ApiError;

/// An index known to this node.
pub struct IndexEntry {
    /// Index name.
    pub name: String,
    /// Index uuid.
    pub uuid: String,
    state: RwLock<EntryState>,
    /// Serializes mapping changes of this index.
    pub mapping_lock: tokio::sync::Mutex<()>,
}

/// The mutable part of an entry.
#[derive(Clone)]
pub struct EntryState {
    /// The catalog's record (settings and mappings as last persisted).
    pub record: IndexRecord,
    /// The parsed settings.
    pub settings: IndexSettings,
    /// The open index, while open.
    pub handle: Option<Arc<IndexHandle>>,
    /// Why an index that should be open could not be opened.
    pub open_error: Option<String>,
}

impl IndexEntry {
    /// A new entry.
    pub fn new(state: EntryState) -> Self {
        Self {
            name: state.record.name.clone(),
            uuid: state.record.uuid.clone(),
            state: RwLock::new(state),
            mapping_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> EntryState {
        self.state.read().clone()
    }

    /// Changes the state under the lock.
    pub fn update<R>(&self, f: impl FnOnce(&mut EntryState) -> R) -> R {
        f(&mut self.state.write())
    }

    /// Whether the catalog says open.
    pub fn is_open(&self) -> bool {
        self.state.read().record.state == IndexState::Open
    }

    /// The parsed settings.
    pub fn settings(&self) -> IndexSettings {
        self.state.read().settings.clone()
    }

    /// Copies of every shard (1 primary + replicas) per the settings.
    pub fn copies(&self) -> u32 {
        1 + self.state.read().settings.number_of_replicas
    }

    /// The open handle; a closed index is `index_closed_exception`, one that failed to
    /// open is `no_shard_available_action_exception`.
    pub fn handle(&self) -> Result<Arc<IndexHandle>, ApiError> {
        let st = self.state.read();
        if st.record.state == IndexState::Closed {
            return Err(ApiError::index_closed(&self.name, &self.uuid));
        }
        match &st.handle {
            Some(h) => Ok(h.clone()),
            None => Err(ApiError::unavailable(format!(
                "[{}] index could not be opened: {}",
                self.name,
                st.open_error.as_deref().unwrap_or("not open")
            ))
            .for_index(&self.name, &self.uuid)),
        }
    }

    /// The mapping as ES shows it (`{"properties": ...}` or `{}`).
    pub fn mapping_json(&self) -> Value {
        let st = self.state.read();
        match &st.handle {
            Some(h) => h.mapping().read().to_es_json(),
            None => st.record.mappings.clone(),
        }
    }

    /// The current mapping (from the open handle, else parsed from the record).
    pub fn mapping(&self) -> Result<Mapping, ApiError> {
        let st = self.state.read();
        match &st.handle {
            Some(h) => Ok(h.mapping().read().clone()),
            None => Ok(Mapping::from_es_json(&st.record.mappings)?),
        }
    }
}

// ---- adapter: engine and catalog constructors --------------------------------------------

/// Shuts an index down, logging (not failing on) errors: shutdown must go on.
pub async fn shutdown_handle(name: &str, handle: &IndexHandle) {
    if let Err(e) = handle.shutdown().await {
        tracing::error!(index = %name, error = %e, "failed to shut index down cleanly");
    }
}

/// Milliseconds since the epoch.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A catalog record for a new index.
pub fn new_record(
    name: &str,
    uuid: &str,
    settings: &IndexSettings,
    mapping: &Mapping,
) -> IndexRecord {
    IndexRecord {
        uuid: uuid.to_owned(),
        name: name.to_owned(),
        settings: settings.to_es_json(),
        mappings: mapping.to_es_json(),
        state: IndexState::Open,
        settings_version: 1,
        mapping_version: 1,
        created_at_millis: now_millis() as _,
    }
}

/// Parses a catalog record into what the engine needs.
pub fn meta_of(record: &IndexRecord) -> Result<(IndexMeta, IndexSettings), ApiError> {
    let settings = IndexSettings::from_es_json(&record.settings)?;
    let mapping = Mapping::from_es_json(&record.mappings)?;
    let meta = IndexMeta {
        uuid: record.uuid.clone(),
        name: record.name.clone(),
        settings: settings.clone(),
        mapping,
    };
    Ok((meta, settings))
}

/// Creates (`create`) or opens the shards of an index under `<data>/shards/<uuid>`;
/// `raft_id` is this node's member id in every shard's Raft group.
pub async fn open_handle(
    data_dir: &Path,
    meta: IndexMeta,
    raft_id: u64,
    create: bool,
) -> Result<Arc<IndexHandle>, ApiError> {
    let (name, uuid) = (meta.name.clone(), meta.uuid.clone());
    let opened = if create {
        IndexHandle::create(data_dir, meta, raft_id).await
    } else {
        IndexHandle::open(data_dir, meta, raft_id).await
    };
    opened.map_err(|e| ApiError::from(e).for_index(&name, &uuid))
}

/// Shuts an index down (if open) and removes its files.
pub async fn remove_files(
    data_dir: &Path,
    uuid: &str,
    handle: Option<&Arc<IndexHandle>>,
) -> Result<(), ApiError> {
    if let Some(h) = handle {
        h.delete_files(data_dir).await?;
    }
    let dir = IndexHandle::dir(data_dir, uuid);
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ApiError::internal(format!(
            "failed to delete [{}]: {e}",
            dir.display()
        ))),
    }
}
