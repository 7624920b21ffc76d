//! Index administration: create, delete, get, exists, open, close, refresh.
//!
//! Every change is validated in full first (names, bodies, every index of an expression)
//! and written to the catalog before the engine acts on it, so a rejected request
//! changes nothing. The `_mapping` and `_settings` endpoints live in `mappings.rs`.

use std::sync::Arc;

use bytes::Bytes;
use ferry_catalog::{CatalogError, IndexState};
use ferry_index::{IndexMeta, IndexSettings, Mapping};
use serde_json::{Map, Value, json};

use super::args::ActiveShards;
use super::entry::{self, EntryState, IndexEntry};
use super::names::{ExpandWildcards, ResolveOptions, validate_index_name};
use super::{ApiResponse, ApiResult, Node, autoid, body, settings_view};
use crate::error::ApiError;
use crate::params::Params;

/// Options of requests that must name existing indices (`HEAD /<index>`, `_settings` PUT).
const STRICT_NO_EMPTY: ResolveOptions = ResolveOptions {
    ignore_unavailable: false,
    allow_no_indices: false,
    expand: ExpandWildcards {
        open: true,
        closed: true,
    },
};

impl Node {
    /// `PUT /<index>` with a create-index body (empty bytes = no body).
    pub async fn create_index(&self, index: &str, body: Bytes, params: &Params) -> ApiResult {
        let body = body::parse_object(&body)?;
        validate_index_name(index)?;
        let wait = ActiveShards::from_params(params)?;
        for (k, v) in &body {
            match k.as_str() {
                "settings" | "mappings" => {}
                "aliases" => {
                    if v.as_object().is_some_and(|m| !m.is_empty()) {
                        return Err(ApiError::illegal_argument(
                            "index aliases are not supported yet",
                        ));
                    }
                }
                other => {
                    return Err(ApiError::parse(format!(
                        "unknown key [{other}] for create index"
                    )));
                }
            }
        }
        let _admin = self.admin_lock().await?;
        if let Some(e) = self.entry(index) {
            return Err(ApiError::index_already_exists(&e.name, &e.uuid));
        }
        let empty = Value::Object(Map::new());
        let settings = IndexSettings::from_es_json(body.get("settings").unwrap_or(&empty))?;
        let mapping = Mapping::from_es_json(body.get("mappings").unwrap_or(&empty))?;
        // This node holds one copy of each shard: more is never acknowledged.
        let copies = wait.copies(settings.number_of_replicas, 1);
        self.create_locked(index, settings, mapping).await?;
        Ok(ApiResponse::ok(json!({
            "acknowledged": true,
            "shards_acknowledged": copies <= 1,
            "index": index,
        })))
    }

    /// Takes the admin mutex, refusing once the node is stopping.
    pub(super) async fn admin_lock(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, ApiError> {
        let guard = self.admin.lock().await;
        if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ApiError::unavailable("node is shutting down"));
        }
        Ok(guard)
    }

    /// Creates an index; the admin mutex must be held and the name validated.
    pub(super) async fn create_locked(
        &self,
        index: &str,
        settings: IndexSettings,
        mapping: Mapping,
    ) -> Result<Arc<IndexEntry>, ApiError> {
        let uuid = autoid::index_uuid();
        let record = entry::new_record(index, &uuid, &settings, &mapping);
        if let Err(e) = self.catalog.create_index(&record).await {
            return Err(match e {
                CatalogError::AlreadyExists { .. } => {
                    let existing = self.catalog.get_index(index).await.ok().flatten();
                    ApiError::index_already_exists(
                        index,
                        existing.as_ref().map_or("_na_", |r| r.uuid.as_str()),
                    )
                }
                other => other.into(),
            });
        }
        let meta = IndexMeta {
            uuid: uuid.clone(),
            name: index.to_owned(),
            settings: settings.clone(),
            mapping,
        };
        let handle = match entry::open_handle(&self.opts.data_dir, meta, self.raft_id, true).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(index, error = %e, "failed to create index shards, rolling back");
                if let Err(ce) = self.catalog.delete_index(&uuid).await {
                    tracing::error!(index, error = %ce, "failed to roll back index creation in the catalog");
                }
                let _ = entry::remove_files(&self.opts.data_dir, &uuid, None).await;
                return Err(e);
            }
        };
        tracing::info!(index, uuid = %uuid, shards = settings.number_of_shards, "index created");
        Ok(self.insert_entry(IndexEntry::new(EntryState {
            record,
            settings,
            handle: Some(handle),
            open_error: None,
        })))
    }

    /// The index a write goes to, created with default settings when missing and
    /// `auto_create` (ES's `action.auto_create_index`).
    pub(super) async fn entry_for_write(
        &self,
        index: &str,
        auto_create: bool,
    ) -> Result<Arc<IndexEntry>, ApiError> {
        if let Some(e) = self.entry(index) {
            return Ok(e);
        }
        validate_index_name(index)?;
        if !auto_create {
            return Err(ApiError::index_not_found(index));
        }
        let _admin = self.admin_lock().await?;
        if let Some(e) = self.entry(index) {
            return Ok(e);
        }
        self.create_locked(index, IndexSettings::default(), Mapping::default())
            .await
    }

    /// `DELETE /<index>` (comma lists; wildcards and `_all` refused as ES 8 does).
    pub async fn delete_index(&self, expr: &str, params: &Params) -> ApiResult {
        self.check_destructive(expr)?;
        let opts = ResolveOptions::from_params(params, ResolveOptions::STRICT_ALL)?;
        let _admin = self.admin_lock().await?;
        let entries = self.resolve(Some(expr), opts)?;
        for e in entries {
            self.catalog.delete_index(&e.uuid).await?;
            // A deleted follower stops following for good (its tasks end with the entry).
            self.forget_follow(&e.name).await?;
            self.remove_entry(&e.name);
            let handle = e.update(|s| s.handle.take());
            if let Err(err) =
                entry::remove_files(&self.opts.data_dir, &e.uuid, handle.as_ref()).await
            {
                tracing::warn!(index = %e.name, error = %err, "index deleted but its files remain");
            }
            tracing::info!(index = %e.name, uuid = %e.uuid, "index deleted");
        }
        Ok(ApiResponse::ok(json!({ "acknowledged": true })))
    }

    /// `GET /<index>` (comma lists, wildcards).
    pub async fn get_index(&self, expr: &str, params: &Params) -> ApiResult {
        let opts = ResolveOptions::from_params(params, ResolveOptions::STRICT_OPEN)?;
        let typed = params.bool("include_type_name", false)?;
        let features = params
            .get("features")
            .unwrap_or("aliases,mappings,settings");
        let want = |f: &str| {
            features
                .split(',')
                .any(|x| x.trim() == f || x.trim() == "_all")
        };
        let mut out = Map::new();
        for e in self.resolve(Some(expr), opts)? {
            let mut obj = Map::new();
            if want("aliases") {
                obj.insert("aliases".into(), json!({}));
            }
            if want("mappings") {
                obj.insert("mappings".into(), typed_mapping(e.mapping_json(), typed));
            }
            if want("settings") {
                obj.insert("settings".into(), settings_of(&e, params, None)?);
            }
            out.insert(e.name.clone(), Value::Object(obj));
        }
        Ok(ApiResponse::ok(Value::Object(out)))
    }

    /// `HEAD /<index>`: 200 when every named index exists, 404 otherwise.
    pub async fn index_exists(&self, expr: &str, params: &Params) -> ApiResult {
        let opts = ResolveOptions::from_params(params, STRICT_NO_EMPTY)?;
        match self.resolve(Some(expr), opts) {
            Ok(_) => Ok(ApiResponse::ok(json!({}))),
            Err(e) if e.status == 404 => Ok(ApiResponse::with_status(404, json!({}))),
            Err(e) => Err(e),
        }
    }

    /// `POST /<index>/_close`.
    pub async fn close_index(&self, expr: &str, params: &Params) -> ApiResult {
        self.check_destructive(expr)?;
        let opts = ResolveOptions::from_params(params, ResolveOptions::STRICT_OPEN)?;
        let _admin = self.admin_lock().await?;
        let entries = self.resolve(Some(expr), opts)?;
        let mut indices = Map::new();
        for e in entries {
            if e.is_open() {
                self.catalog
                    .set_index_state(&e.uuid, IndexState::Closed)
                    .await?;
                let handle = e.update(|s| {
                    s.record.state = IndexState::Closed;
                    s.open_error = None;
                    s.handle.take()
                });
                if let Some(h) = handle {
                    entry::shutdown_handle(&e.name, &h).await;
                }
                tracing::info!(index = %e.name, "index closed");
            }
            indices.insert(e.name.clone(), json!({ "closed": true }));
        }
        self.changed();
        Ok(ApiResponse::ok(json!({
            "acknowledged": true,
            "shards_acknowledged": true,
            "indices": indices,
        })))
    }

    /// `POST /<index>/_open`.
    pub async fn open_index(&self, expr: &str, params: &Params) -> ApiResult {
        let defaults = ResolveOptions {
            expand: ExpandWildcards {
                open: false,
                closed: true,
            },
            ..STRICT_NO_EMPTY
        };
        let defaults = ResolveOptions {
            allow_no_indices: true,
            ..defaults
        };
        let opts = ResolveOptions::from_params(params, defaults)?;
        let _admin = self.admin_lock().await?;
        let entries = self.resolve(Some(expr), opts)?;
        for e in entries {
            let st = e.snapshot();
            if st.handle.is_some() {
                continue;
            }
            let (meta, settings) = entry::meta_of(&st.record)?;
            let handle = entry::open_handle(&self.opts.data_dir, meta, self.raft_id, false).await?;
            if st.record.state != IndexState::Open
                && let Err(err) = self
                    .catalog
                    .set_index_state(&e.uuid, IndexState::Open)
                    .await
            {
                entry::shutdown_handle(&e.name, &handle).await;
                return Err(err.into());
            }
            e.update(|s| {
                s.record.state = IndexState::Open;
                s.settings = settings;
                s.handle = Some(handle);
                s.open_error = None;
            });
            tracing::info!(index = %e.name, "index opened");
        }
        self.changed();
        Ok(ApiResponse::ok(
            json!({ "acknowledged": true, "shards_acknowledged": true }),
        ))
    }

    /// `POST [/<index>]/_forcemerge`: Ferry has no segments to merge by hand (tantivy
    /// merges on its own); what a force merge does in ES that matters here is dropping
    /// soft-deleted history no retention lease needs, so it prunes every shard's history
    /// now (leases past their period expire first) instead of at the next housekeeping.
    pub async fn force_merge(&self, expr: Option<&str>, params: &Params) -> ApiResult {
        let opts = ResolveOptions::from_params(params, ResolveOptions::STRICT_OPEN)?;
        if !params.bool("wait_for_completion", true)? {
            return Err(ApiError::not_supported("wait_for_completion=false"));
        }
        let entries = self.resolve_open(expr, opts)?;
        let (mut total, mut ok, mut failed) = (0u64, 0u64, 0u64);
        for e in entries {
            let handle = e.handle()?;
            for shard in handle.shards() {
                total += 1;
                match shard.prune_history().await {
                    Ok(_) => ok += 1,
                    Err(err) => {
                        tracing::warn!(index = %e.name, error = %err, "force merge: pruning failed");
                        failed += 1;
                    }
                }
            }
        }
        Ok(ApiResponse::ok(
            json!({ "_shards": { "total": total, "successful": ok, "failed": failed } }),
        ))
    }

    /// `POST [/<index>]/_refresh`.
    pub async fn refresh(&self, expr: Option<&str>, params: &Params) -> ApiResult {
        let opts = ResolveOptions::from_params(params, ResolveOptions::STRICT_OPEN)?;
        let entries = self.resolve_open(expr, opts)?;
        let (mut total, mut ok, mut failed) = (0u64, 0u64, 0u64);
        for e in entries {
            let settings = e.settings();
            let shards = u64::from(settings.number_of_shards);
            total += shards * u64::from(1 + settings.number_of_replicas);
            match e.handle() {
                Ok(h) => match h.refresh().await {
                    Ok(()) => ok += shards,
                    Err(err) => {
                        tracing::warn!(index = %e.name, error = %err, "refresh failed");
                        failed += shards;
                    }
                },
                Err(_) => failed += shards,
            }
        }
        Ok(ApiResponse::ok(
            json!({ "_shards": { "total": total, "successful": ok, "failed": failed } }),
        ))
    }
}

/// `{"_doc": mapping}` when `include_type_name=true` (ES 7), the mapping otherwise.
pub(super) fn typed_mapping(mapping: Value, typed: bool) -> Value {
    if typed {
        json!({ "_doc": mapping })
    } else {
        mapping
    }
}

/// The `settings` object of an index as `GET /<index>` and `GET _settings` show it.
pub(super) fn settings_of(
    e: &IndexEntry,
    params: &Params,
    names: Option<&str>,
) -> Result<Value, ApiError> {
    let flat = params.bool("flat_settings", false)?;
    let st = e.snapshot();
    let id = settings_view::Identity {
        name: &e.name,
        uuid: &e.uuid,
        created_at_millis: st.record.created_at_millis,
        closed: st.record.state == IndexState::Closed,
        human: params.bool("human", false)?,
    };
    let flat_map = settings_view::index_settings_flat(&st.settings.to_es_json(), &id);
    Ok(settings_view::render(flat_map, flat, names))
}
