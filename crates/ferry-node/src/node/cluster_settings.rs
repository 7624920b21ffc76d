//! `PUT/GET /_cluster/settings` and `GET /_remote/info`: the node's side of cluster-wide
//! settings, which for now are the `cluster.remote.<alias>.*` keys.
//!
//! Persistent settings are written to the catalog (one transaction) before they take
//! effect; transient settings live in this node's memory only and are lost on a restart,
//! as in ES. Every update is parsed and validated (on the merged result) before anything
//! is stored, so a rejected request changes nothing; updates are serialized by one mutex.
//! After an update the [`RemoteClusters`] registry is reconfigured. Deliberately not here:
//! the meaning of the settings and the connections (ferry-replication's `remote`).

use std::sync::Arc;

use bytes::Bytes;
use ferry_catalog::{Catalog, PERSISTENT};
use ferry_replication::remote::settings::{self, FlatSettings};
use ferry_replication::remote::{HandshakeService, LocalIdentity, RemoteClusters, RemoteError};
use serde_json::json;

use super::{ApiResponse, ApiResult, Node, body};
use crate::error::ApiError;
use crate::params::Params;

/// The cluster settings this node holds and the remote-cluster registry they drive.
pub(crate) struct ClusterSettings {
    /// Both scopes, changed together under this lock: (persistent, transient).
    scopes: tokio::sync::Mutex<(FlatSettings, FlatSettings)>,
    remotes: Arc<RemoteClusters>,
    local: LocalIdentity,
}

impl ClusterSettings {
    /// Loads the persistent settings from the catalog and connects the remotes they name.
    /// Stored settings that no longer validate are logged and leave the remotes unconnected.
    pub(crate) async fn load(catalog: &Catalog, local: LocalIdentity) -> anyhow::Result<Self> {
        let persistent = catalog.get_cluster_settings(PERSISTENT).await?;
        let remotes = RemoteClusters::new(local.clone());
        match settings::remotes(&persistent, &FlatSettings::new()) {
            Ok(configs) => remotes.configure(&configs),
            Err(e) => {
                tracing::error!(error = %e, "stored remote cluster settings are invalid; no remote is connected")
            }
        }
        Ok(Self {
            scopes: tokio::sync::Mutex::new((persistent, FlatSettings::new())),
            remotes,
            local,
        })
    }

    /// The `RemoteCluster` handshake service of this node.
    pub(crate) fn handshake_service(&self) -> HandshakeService {
        HandshakeService::new(self.local.clone())
    }

    /// The remote-cluster registry (CCR follow tasks read through it).
    pub(crate) fn remotes(&self) -> Arc<RemoteClusters> {
        self.remotes.clone()
    }

    /// Both scopes merged (transient over persistent).
    pub(crate) async fn merged(&self) -> FlatSettings {
        let scopes = self.scopes.lock().await;
        merged(&scopes.0, &scopes.1)
    }

    /// Disconnects every remote.
    pub(crate) fn shutdown(&self) {
        self.remotes.shutdown();
    }
}

/// Transient over persistent, key by key.
fn merged(persistent: &FlatSettings, transient: &FlatSettings) -> FlatSettings {
    let mut m = persistent.clone();
    m.extend(transient.iter().map(|(k, v)| (k.clone(), v.clone())));
    m
}

/// The one place a remote-settings error becomes an ES error.
fn api_error(e: RemoteError) -> ApiError {
    match e {
        RemoteError::IllegalArgument(m) => ApiError::illegal_argument(m),
        RemoteError::Parse(m) => ApiError::x_content_parse(m),
        RemoteError::Validation(errors) => ApiError::validation(&errors),
        RemoteError::NoSeedNodeLeft(alias) => ApiError::new(
            500,
            "no_seed_node_left_exception",
            format!("no seed node left for cluster: [{alias}]"),
        ),
    }
}

impl Node {
    /// `GET /_cluster/settings`: both scopes, nested unless `flat_settings`; secrets redacted.
    pub async fn get_cluster_settings(&self, params: &Params) -> ApiResult {
        if params.bool("include_defaults", false)? {
            return Err(ApiError::not_supported(
                "[include_defaults] on GET /_cluster/settings",
            ));
        }
        let flat = params.bool("flat_settings", false)?;
        let scopes = self.cluster_settings.scopes.lock().await;
        Ok(ApiResponse::ok(json!({
            "persistent": settings::render(&scopes.0, flat),
            "transient": settings::render(&scopes.1, flat),
        })))
    }

    /// `PUT /_cluster/settings`: validates the whole update against the merged result,
    /// stores the persistent part in the catalog, keeps the transient part in memory, then
    /// reconfigures the remote clusters.
    pub async fn put_cluster_settings(&self, body: Bytes, params: &Params) -> ApiResult {
        let flat = params.bool("flat_settings", false)?;
        let request = body::required_object(&body)?;
        let update = settings::parse_update(&request).map_err(api_error)?;
        let cs = &self.cluster_settings;
        let mut scopes = cs.scopes.lock().await;
        let (persistent, persistent_done) = settings::apply(&scopes.0, &update.persistent);
        let (transient, transient_done) = settings::apply(&scopes.1, &update.transient);
        let remotes = settings::remotes(&persistent, &transient).map_err(api_error)?;
        if !persistent_done.is_empty() {
            self.catalog
                .put_cluster_settings(PERSISTENT, &persistent_done)
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
        }
        *scopes = (persistent, transient);
        cs.remotes.configure(&remotes);
        self.recovery.apply(&merged(&scopes.0, &scopes.1));
        let keys: Vec<&str> = persistent_done
            .iter()
            .chain(&transient_done)
            .map(|(k, _)| k.as_str())
            .collect();
        tracing::info!(?keys, "cluster settings updated");
        Ok(ApiResponse::ok(json!({
            "acknowledged": true,
            "persistent": settings::render_changes(&update.persistent, flat),
            "transient": settings::render_changes(&update.transient, flat),
        })))
    }

    /// `GET /_remote/info`: per alias, ES's connection fields.
    pub async fn remote_info(&self) -> ApiResult {
        Ok(ApiResponse::ok(self.cluster_settings.remotes.info()))
    }

    /// The `RemoteCluster` handshake service to serve on the transport port.
    pub fn remote_cluster_service(&self) -> HandshakeService {
        self.cluster_settings.handshake_service()
    }
}
