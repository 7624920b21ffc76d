//! The node's service layer: every REST endpoint and every gRPC admin call lands on one
//! method of [`Node`], which answers an ES-shaped JSON body ([`ApiResponse`]) or an
//! [`ApiError`].
//!
//! The node keeps a map of index name → [`entry::IndexEntry`] (catalog record, open
//! engine handle, mapping mutex), its permanent id in `<data>/node.id`, and the catalog
//! connection. Admin changes (create, delete, open, close, settings) are serialized by one
//! mutex and written to the catalog before they take effect; document writes go straight
//! to the engine. This module does not speak HTTP: `crate::rest` maps routes, URL
//! parameters and rendering onto these methods.

mod action_line;
mod args;
mod auto_follow;
mod autoid;
mod body;
mod bulk;
mod cat;
mod cat_columns;
mod ccr;
mod ccr_admin;
mod ccr_metrics;
mod ccr_shard;
mod ccr_stats;
mod ccr_store;
mod cluster_settings;
mod docs;
mod entry;
mod health;
mod indices;
mod mappings;
mod names;
mod ndjson;
mod replication;
mod search;
mod settings_view;
mod table;
mod write;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use ferry_catalog::{Catalog, ClusterIdentity, IndexState};
use parking_lot::RwLock;
use serde_json::Value;

pub use bulk::BulkResponse;
pub use ccr_admin::NodeIndices;
pub(crate) use names::simple_match;
pub use replication::leader_api_error;
pub use table::CatOutput;

use crate::error::ApiError;
use autoid::AutoIdGenerator;
use entry::{EntryState, IndexEntry};
use names::{Expression, ResolveOptions};

/// A successful answer: HTTP status and ES-shaped JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    /// HTTP status (200, 201, 404 for `found: false` ...).
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl ApiResponse {
    /// 200 with `body`.
    pub fn ok(body: Value) -> Self {
        Self { status: 200, body }
    }

    /// `status` with `body`.
    pub fn with_status(status: u16, body: Value) -> Self {
        Self { status, body }
    }
}

/// Result of every service call.
pub type ApiResult = Result<ApiResponse, ApiError>;

/// What the daemon shell (`main.rs`/`config.rs`) hands the service layer at start.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// `--data-dir`: node.id, catalog (embedded), shards.
    pub data_dir: std::path::PathBuf,
    /// `--cluster-name` (used when the catalog has no cluster yet).
    pub cluster_name: String,
    /// `--node-name`.
    pub node_name: String,
    /// The catalog connection (embedded SQLite unless -d/FERRY_DB).
    pub db: ferry_catalog::DbConfig,
    /// `http.max_content_length` in bytes (default 100mb).
    pub max_content_length: usize,
    /// Where REST is served (for `_cat/nodes`, `GET /`).
    pub http_addr: std::net::SocketAddr,
    /// Where gRPC is served.
    pub transport_addr: std::net::SocketAddr,
}

/// The running node: catalog, open indices, identity.
pub struct Node {
    opts: NodeOptions,
    node_id: String,
    /// This node's member id in shard Raft groups (derived from `node_id`, so stable).
    raft_id: u64,
    cluster: ClusterIdentity,
    catalog: Catalog,
    indices: RwLock<BTreeMap<String, Arc<IndexEntry>>>,
    /// Serializes index creation, deletion, open/close and settings changes.
    admin: tokio::sync::Mutex<()>,
    ids: AutoIdGenerator,
    started: Instant,
    stopping: AtomicBool,
    /// Bumped on every change of the index set or an index's state (health waits on it).
    changes: tokio::sync::watch::Sender<u64>,
    /// ES 8's `action.destructive_requires_name` (true): no wildcards in delete/close.
    destructive_requires_name: bool,
    /// `PUT /_cluster/settings` state and the remote-cluster connections it drives.
    cluster_settings: cluster_settings::ClusterSettings,
    /// This node itself, for the follow tasks that call back into it.
    me: std::sync::Weak<Node>,
    /// CCR follower indices by name and their shard tasks (in memory only for now).
    follows: parking_lot::Mutex<BTreeMap<String, ccr::Follow>>,
    /// The live `ccr.indices.recovery.*` settings of bootstrap copies.
    recovery: Arc<ferry_replication::recovery::RecoverySettings>,
    /// This node's follower-side copy throttle: every follow task's chunk fetches share it.
    copy_throttle: Arc<ferry_replication::leader::Throttle>,
    /// Auto-follow patterns, their stats and the coordinator's loops.
    auto_follow: auto_follow::AutoFollow,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node_id", &self.node_id)
            .field("name", &self.opts.node_name)
            .finish()
    }
}

/// Reads `<data>/node.id`, creating it (a UUID v4, written atomically) on first start.
fn load_or_create_node_id(data_dir: &Path) -> anyhow::Result<uuid::Uuid> {
    let path = data_dir.join("node.id");
    match std::fs::read_to_string(&path) {
        Ok(text) => uuid::Uuid::parse_str(text.trim()).with_context(|| {
            format!(
                "{} does not hold a node id; restore it or remove the data dir",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4();
            let tmp = data_dir.join("node.id.tmp");
            {
                use std::io::Write as _;
                let mut f = std::fs::File::create(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?;
                writeln!(f, "{id}")?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path).with_context(|| format!("creating {}", path.display()))?;
            if let Ok(dir) = std::fs::File::open(data_dir) {
                // Make the rename durable; a failure here only risks a new id after a crash.
                let _ = dir.sync_all();
            }
            Ok(id)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The Raft member id of a node: the first 8 bytes of its UUID, never 0 (openraft ids
/// are opaque `u64`s; deriving it keeps it stable across restarts without another file).
fn raft_id_of(node: &uuid::Uuid) -> u64 {
    let b = node.as_bytes();
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]).max(1)
}

impl Node {
    /// Connects the catalog, ensures the cluster identity, opens every open index.
    pub async fn start(opts: NodeOptions) -> anyhow::Result<Arc<Node>> {
        std::fs::create_dir_all(opts.data_dir.join("shards"))
            .with_context(|| format!("creating data dir {}", opts.data_dir.display()))?;
        let node_uuid = load_or_create_node_id(&opts.data_dir)?;
        let node_id = node_uuid.to_string();
        let raft_id = raft_id_of(&node_uuid);
        let catalog = Catalog::connect(&opts.db)
            .await
            .context("connecting the catalog")?;
        let cluster = catalog
            .ensure_cluster(&opts.cluster_name)
            .await
            .context("reading the cluster identity")?;
        let records = catalog.list_indices().await.context("listing indices")?;
        let mut map = BTreeMap::new();
        for record in records {
            let state = match entry::meta_of(&record) {
                Err(e) => {
                    tracing::error!(index = %record.name, error = %e, "index definition in the catalog is invalid");
                    let settings = ferry_index::IndexSettings::default();
                    EntryState {
                        record,
                        settings,
                        handle: None,
                        open_error: Some(e.reason),
                    }
                }
                Ok((meta, settings)) => {
                    let (handle, open_error) = if record.state == IndexState::Open {
                        match entry::open_handle(&opts.data_dir, meta, raft_id, false).await {
                            Ok(h) => (Some(h), None),
                            Err(e) => {
                                tracing::error!(index = %record.name, error = %e, "failed to open index");
                                (None, Some(e.reason))
                            }
                        }
                    } else {
                        (None, None)
                    };
                    EntryState {
                        record,
                        settings,
                        handle,
                        open_error,
                    }
                }
            };
            let e = IndexEntry::new(state);
            map.insert(e.name.clone(), Arc::new(e));
        }
        let cluster_settings = cluster_settings::ClusterSettings::load(
            &catalog,
            ferry_replication::remote::LocalIdentity {
                cluster_name: cluster.name.clone(),
                cluster_uuid: cluster.uuid.clone(),
                node_id: node_id.clone(),
                node_name: opts.node_name.clone(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
        )
        .await
        .context("reading the cluster settings")?;
        tracing::info!(node = %node_id, cluster = %cluster.name, indices = map.len(), "node started");
        let mut node_bytes = [0u8; 6];
        node_bytes.copy_from_slice(&node_uuid.as_bytes()[..6]);
        let recovery = Arc::new(ferry_replication::recovery::RecoverySettings::default());
        recovery.apply(&cluster_settings.merged().await);
        Ok(Arc::new_cyclic(|me| Node {
            me: me.clone(),
            follows: parking_lot::Mutex::new(BTreeMap::new()),
            copy_throttle: Arc::new(ferry_replication::leader::Throttle::new(recovery.clone())),
            recovery,
            auto_follow: auto_follow::AutoFollow::default(),
            opts,
            node_id,
            raft_id,
            cluster,
            catalog,
            indices: RwLock::new(map),
            admin: tokio::sync::Mutex::new(()),
            ids: AutoIdGenerator::new(node_bytes),
            started: Instant::now(),
            stopping: AtomicBool::new(false),
            changes: tokio::sync::watch::channel(0).0,
            destructive_requires_name: true,
            cluster_settings,
        }))
    }

    /// Readiness: `Ok` when the catalog answers and the node can route; reasons otherwise.
    pub async fn ready(&self) -> Result<(), Vec<String>> {
        let mut reasons = Vec::new();
        if self.stopping.load(Ordering::SeqCst) {
            reasons.push("node is shutting down".to_owned());
        }
        if let Err(e) = self.catalog.ping().await {
            reasons.push(format!("catalog is unreachable: {e}"));
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }

    /// Stops accepting writes, refreshes and flushes every index, closes the catalog.
    pub async fn shutdown(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        let _admin = self.admin.lock().await;
        self.auto_follow.shutdown();
        self.follows.lock().clear();
        self.cluster_settings.shutdown();
        for e in self.entries() {
            let handle = e.snapshot().handle;
            if let Some(h) = handle {
                entry::shutdown_handle(&e.name, &h).await;
            }
        }
        self.catalog.close().await;
        tracing::info!(node = %self.node_id, "node stopped");
    }

    /// The live `ccr.indices.recovery.*` settings (shared with the copy sessions).
    pub fn recovery_settings(&self) -> Arc<ferry_replication::recovery::RecoverySettings> {
        self.recovery.clone()
    }

    /// This node's permanent id (`<data>/node.id`).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// `http.max_content_length` in bytes.
    pub fn max_content_length(&self) -> usize {
        self.opts.max_content_length
    }

    /// Milliseconds since the node started.
    pub fn uptime_millis(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    // ---- the index registry ----------------------------------------------------------

    fn entry(&self, name: &str) -> Option<Arc<IndexEntry>> {
        self.indices.read().get(name).cloned()
    }

    /// Every index, by name.
    fn entries(&self) -> Vec<Arc<IndexEntry>> {
        self.indices.read().values().cloned().collect()
    }

    fn insert_entry(&self, e: IndexEntry) -> Arc<IndexEntry> {
        let e = Arc::new(e);
        self.indices.write().insert(e.name.clone(), e.clone());
        self.changed();
        e
    }

    fn remove_entry(&self, name: &str) {
        // A deleted follower stops following (its tasks end when dropped).
        self.follows.lock().remove(name);
        self.indices.write().remove(name);
        self.changed();
    }

    fn changed(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    /// Expands an index expression into entries.
    fn resolve(
        &self,
        expr: Option<&str>,
        opts: ResolveOptions,
    ) -> Result<Vec<Arc<IndexEntry>>, ApiError> {
        let map = self.indices.read();
        let names = Expression::parse(expr).resolve(
            map.values().map(|e| (e.name.as_str(), e.is_open())),
            opts,
            expr.unwrap_or(""),
        )?;
        Ok(names.iter().filter_map(|n| map.get(n).cloned()).collect())
    }

    /// Expands an expression for a read or write of documents: a closed index named
    /// concretely is `index_closed_exception` (ES's `forbid_closed_indices`).
    fn resolve_open(
        &self,
        expr: Option<&str>,
        opts: ResolveOptions,
    ) -> Result<Vec<Arc<IndexEntry>>, ApiError> {
        let entries = self.resolve(expr, opts)?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            if e.is_open() {
                out.push(e);
            } else if !opts.ignore_unavailable {
                return Err(ApiError::index_closed(&e.name, &e.uuid));
            }
        }
        Ok(out)
    }

    /// The one index a document request names; 404 when missing.
    fn require(&self, name: &str) -> Result<Arc<IndexEntry>, ApiError> {
        self.entry(name)
            .ok_or_else(|| ApiError::index_not_found(name))
    }

    /// Refuses `_all` and wildcards for destructive actions (ES 8 default).
    fn check_destructive(&self, expr: &str) -> Result<(), ApiError> {
        if self.destructive_requires_name && Expression::parse(Some(expr)).is_wildcard_or_all() {
            return Err(ApiError::illegal_argument(
                "Wildcard expressions or all indices are not allowed",
            ));
        }
        Ok(())
    }
}
