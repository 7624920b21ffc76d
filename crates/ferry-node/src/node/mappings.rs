//! `GET|PUT _mapping` and `GET|PUT _settings`, and the dynamic-mapping step of writes.
//!
//! Mapping changes are additive (the engine's `Mapping::merge` refuses type changes) and
//! are persisted to the catalog under the index's mapping mutex before the engine uses
//! them. Settings changes are validated by the engine's `IndexSettings::update` for every
//! index of the expression before any is written. Nothing here parses documents.

use bytes::Bytes;
use ferry_index::{IndexHandle, Mapping};
use serde_json::{Map, Value, json};

use super::entry::IndexEntry;
use super::indices::{settings_of, typed_mapping};
use super::names::{ExpandWildcards, ResolveOptions};
use super::{ApiResponse, ApiResult, Node, body};
use crate::error::ApiError;
use crate::params::Params;

impl Node {
    /// `GET [/<index>]/_mapping`.
    pub async fn get_mapping(&self, expr: Option<&str>, params: &Params) -> ApiResult {
        let opts = ResolveOptions::from_params(params, ResolveOptions::STRICT_OPEN)?;
        let typed = params.bool("include_type_name", false)?;
        let mut out = Map::new();
        for e in self.resolve(expr, opts)? {
            out.insert(
                e.name.clone(),
                json!({ "mappings": typed_mapping(e.mapping_json(), typed) }),
            );
        }
        Ok(ApiResponse::ok(Value::Object(out)))
    }

    /// `PUT|POST /<index>/_mapping`: additive; every index is checked before any changes.
    pub async fn put_mapping(&self, expr: &str, body: Bytes, params: &Params) -> ApiResult {
        let body = body::required_object(&body)?;
        let update = Mapping::from_es_json(&Value::Object(body))?;
        let opts = ResolveOptions::from_params(params, ResolveOptions::STRICT_OPEN)?;
        let _admin = self.admin_lock().await?;
        let entries = self.resolve(Some(expr), opts)?;
        let mut guards = Vec::with_capacity(entries.len());
        let mut merged = Vec::with_capacity(entries.len());
        for e in &entries {
            guards.push(e.mapping_lock.lock().await);
            let mut m = e.mapping()?;
            let changed = m
                .merge(&update)
                .map_err(|err| ApiError::from(err).for_index(&e.name, &e.uuid))?;
            merged.push(changed.then_some(m));
        }
        for (e, m) in entries.iter().zip(merged) {
            if let Some(m) = m {
                self.persist_mapping(e, m).await?;
            }
        }
        drop(guards);
        Ok(ApiResponse::ok(json!({ "acknowledged": true })))
    }

    /// Merges a CCR leader's mapping (untyped ES JSON) into the follower `index`.
    pub(super) async fn merge_leader_mapping(
        &self,
        index: &str,
        leader_mapping: &Value,
    ) -> Result<(), ApiError> {
        let update = Mapping::from_es_json(leader_mapping)?;
        let e = self.require(index)?;
        let _guard = e.mapping_lock.lock().await;
        let mut m = e.mapping()?;
        let changed = m
            .merge(&update)
            .map_err(|err| ApiError::from(err).for_index(&e.name, &e.uuid))?;
        if changed {
            self.persist_mapping(&e, m).await?;
        }
        Ok(())
    }

    /// Writes `mapping` to the catalog, then installs it in the open index. The caller
    /// holds `e.mapping_lock`.
    async fn persist_mapping(&self, e: &IndexEntry, mapping: Mapping) -> Result<(), ApiError> {
        let json = mapping.to_es_json();
        let version = e.snapshot().record.mapping_version + 1;
        self.catalog
            .update_mappings(&e.uuid, &json, version)
            .await?;
        let handle = e.update(|s| {
            s.record.mappings = json;
            s.record.mapping_version = version;
            s.handle.clone()
        });
        if let Some(h) = handle {
            h.install_mapping(&mapping)
                .map_err(|err| ApiError::from(err).for_index(&e.name, &e.uuid))?;
        }
        tracing::debug!(index = %e.name, version, "mapping updated");
        Ok(())
    }

    /// The dynamic-mapping step of a write batch: merges `update` (new fields found by
    /// `prepare`) into the current mapping, persists it and installs it.
    pub(super) async fn apply_dynamic_mapping(
        &self,
        e: &IndexEntry,
        handle: &IndexHandle,
        update: &Mapping,
    ) -> Result<(), ApiError> {
        let _guard = e.mapping_lock.lock().await;
        let mut merged = handle.mapping().read().clone();
        let changed = merged
            .merge(update)
            .map_err(|err| ApiError::from(err).for_index(&e.name, &e.uuid))?;
        if changed {
            self.persist_mapping(e, merged).await?;
        }
        Ok(())
    }

    /// `GET [/<index>]/_settings[/<name>]`.
    pub async fn get_settings(
        &self,
        expr: Option<&str>,
        name: Option<&str>,
        params: &Params,
    ) -> ApiResult {
        let opts = ResolveOptions::from_params(params, ResolveOptions::STRICT_ALL)?;
        let mut out = Map::new();
        for e in self.resolve(expr, opts)? {
            out.insert(
                e.name.clone(),
                json!({ "settings": settings_of(&e, params, name)? }),
            );
        }
        Ok(ApiResponse::ok(Value::Object(out)))
    }

    /// `PUT [/<index>]/_settings`: every index is validated before any is changed.
    pub async fn put_settings(
        &self,
        expr: Option<&str>,
        body: Bytes,
        params: &Params,
    ) -> ApiResult {
        let mut body = body::required_object(&body)?;
        if body.len() == 1
            && let Some(Value::Object(inner)) = body.get("settings")
        {
            body = inner.clone();
        }
        if params.bool("preserve_existing", false)? {
            return Err(ApiError::not_supported("preserve_existing=true"));
        }
        let body = Value::Object(body);
        let defaults = ResolveOptions {
            ignore_unavailable: false,
            allow_no_indices: false,
            expand: ExpandWildcards {
                open: true,
                closed: true,
            },
        };
        let opts = ResolveOptions::from_params(params, defaults)?;
        let _admin = self.admin_lock().await?;
        let entries = self.resolve(expr, opts)?;
        let mut updated = Vec::with_capacity(entries.len());
        for e in &entries {
            let new = e
                .settings()
                .update(&body)
                .map_err(|err| ApiError::from(err).for_index(&e.name, &e.uuid))?;
            updated.push(new);
        }
        for (e, new) in entries.iter().zip(updated) {
            let json = new.to_es_json();
            let version = e.snapshot().record.settings_version + 1;
            self.catalog
                .update_settings(&e.uuid, &json, version)
                .await?;
            let handle = e.update(|s| {
                s.record.settings = json;
                s.record.settings_version = version;
                s.settings = new.clone();
                s.handle.clone()
            });
            if let Some(h) = handle {
                h.update_settings(new)?;
            }
            tracing::info!(index = %e.name, version, "settings updated");
        }
        self.changed();
        Ok(ApiResponse::ok(json!({ "acknowledged": true })))
    }
}
