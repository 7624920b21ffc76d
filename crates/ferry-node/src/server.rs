//! Serving: binds the REST (axum) and gRPC (tonic) ports, starts the node, and stops it all
//! cleanly on SIGTERM or SIGINT.
//!
//! The REST app is `rest::router` plus what belongs to the process rather than to
//! Elasticsearch: `/_health/live`, `/_health/ready`, `/metrics`, the request body limit
//! (`http.max_content_length` → 413 with an ES error body), request metrics and a tracing
//! span per request carrying the node name.
//!
//! Shutdown: stop accepting on both ports, let in-flight requests finish (up to
//! [`DRAIN_TIMEOUT`]), then `Node::shutdown` (refresh and flush), then return. Ports are bound
//! before the node opens its catalog, so a port in use fails fast and changes nothing.
//!
//! The transport port carries the admin service (`grpc.rs`) and the CCR leader service
//! (`ferry_replication::leader`, over the node's indices), and the remote-cluster
//! handshake (`ferry_replication::remote`).
//!
//! Not here: any Elasticsearch endpoint (in `rest/`), any gRPC method (in `grpc.rs`), TLS
//! and authentication (later issues).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{Instrument, info, info_span, warn};

use crate::config::{CatalogSpec, Config};
use crate::error::ApiError;
use crate::node::{Node, NodeOptions};

/// How long in-flight requests may run after a stop signal before they are cut off.
/// Kept below systemd's `TimeoutStopSec` (deploy/systemd/ferryd.service) with room to flush.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The embedded catalog's file inside the data dir (no `-d`/`FERRY_DB`).
const EMBEDDED_CATALOG: &str = "catalog.db";

/// Runs ferryd until a stop signal, then shuts down cleanly. An `Err` means ferryd could not
/// start (bind, catalog, node) or a server failed.
pub async fn run(config: Config) -> anyhow::Result<()> {
    log_start(&config);
    let metrics = crate::metrics::install()?;
    // Listen for stop signals before the slow part of start-up: a SIGTERM during start
    // still ends in a clean shutdown.
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = tokio::spawn(wait_for_signals(stop_tx.clone()).in_current_span());

    let (node, http_listener, grpc_listener) = start(&config).await?;
    let node_name: Arc<str> = Arc::from(config.node_name.as_str());
    let app = app(
        node.clone(),
        metrics,
        config.max_content_length,
        node_name.clone(),
        stop_rx.clone(),
    );
    let http = {
        let (stop_tx, stop_rx) = (stop_tx.clone(), stop_rx.clone());
        async move {
            use axum::serve::ListenerExt as _;
            // No Nagle on REST either: a small answer is sent at once.
            let listener = http_listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
            });
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stopped(stop_rx))
                .await
                .context("the HTTP server failed");
            stop_tx.send_replace(true); // if one server stops, both stop
            served
        }
    };
    let sessions = ferry_replication::leader::CopySessions::new(
        config.data_dir.join("ccr-sessions"),
        node.recovery_settings(),
    )
    .context("cannot prepare the CCR copy-session directory")?;
    let grpc = {
        let (stop_rx, node) = (stop_rx.clone(), node.clone());
        async move {
            let served = tonic::transport::Server::builder()
                .trace_fn(
                    move |req| info_span!("grpc", node = %node_name, path = %req.uri().path()),
                )
                .add_service(node.remote_cluster_service().into_server())
                .add_service(
                    ferry_replication::remote::state::StateService::new(
                        Arc::new(crate::node::NodeIndices(node.clone())),
                        uuid::Uuid::new_v4().to_string(),
                    )
                    .into_server(),
                )
                .add_service(crate::grpc::service(node.clone()))
                .add_service(ferry_replication::leader::service(
                    node.clone(),
                    sessions,
                    leader_status,
                ))
                .serve_with_incoming_shutdown(
                    // No Nagle: a small CCR read answer must not wait for the reader's ACK.
                    tonic::transport::server::TcpIncoming::from(grpc_listener)
                        .with_nodelay(Some(true)),
                    stopped(stop_rx),
                )
                .await
                .context("the transport (gRPC) server failed");
            stop_tx.send_replace(true);
            served
        }
    };

    let servers = async { tokio::join!(http, grpc) };
    let drain_deadline = async {
        stopped(stop_rx).await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    let served = tokio::select! {
        (h, g) = servers => h.and(g),
        () = drain_deadline => {
            warn!(timeout_secs = DRAIN_TIMEOUT.as_secs(), "in-flight requests did not finish in time, closing them");
            Ok(())
        }
    };
    signals.abort();
    info!("servers stopped, flushing");
    node.shutdown().await;
    info!("ferryd stopped");
    served
}

fn log_start(config: &Config) {
    for w in &config.warnings {
        warn!("{w}");
    }
    if config.allow_version_skew {
        warn!("--allow-version-skew is set: for tests only");
    }
    info!(
        version = env!("CARGO_PKG_VERSION"),
        config_file = ?config.config_file,
        cluster_name = %config.cluster_name,
        hostname = %config.hostname,
        data_dir = %config.data_dir.display(),
        log_dir = %config.log_dir.display(),
        shared_storage_dir = %config.shared_storage_dir.display(),
        catalog = catalog_kind(config),
        max_content_length = config.max_content_length,
        "ferryd starting"
    );
    tracing::debug!(
        node_port = config.node_port,
        queue_port = config.queue_port,
        "cluster ports, unused by a single node"
    );
}

/// Binds both ports (so a port in use fails before the catalog is touched), then starts
/// the node with the addresses actually bound.
async fn start(config: &Config) -> anyhow::Result<(Arc<Node>, TcpListener, TcpListener)> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let http_listener = bind("HTTP", SocketAddr::new(config.bind, config.http_port)).await?;
    let grpc_listener = bind(
        "transport (gRPC)",
        SocketAddr::new(config.bind, config.transport_port),
    )
    .await?;
    let http_addr = http_listener
        .local_addr()
        .context("cannot read the HTTP listener's address")?;
    let transport_addr = grpc_listener
        .local_addr()
        .context("cannot read the transport listener's address")?;
    let options = NodeOptions {
        data_dir: config.data_dir.clone(),
        cluster_name: config.cluster_name.clone(),
        node_name: config.node_name.clone(),
        db: catalog(config)?,
        max_content_length: config.max_content_length,
        http_addr,
        transport_addr,
    };
    let node = Node::start(options)
        .await
        .context("cannot start the node")?;
    node.resume_stored_follows()
        .await
        .map_err(|e| anyhow::anyhow!("cannot resume the stored follows: {}", e.reason))?;
    node.start_auto_follow()
        .await
        .map_err(|e| anyhow::anyhow!("cannot start auto-follow: {}", e.reason))?;
    info!(%http_addr, %transport_addr, "ferryd started");
    Ok((node, http_listener, grpc_listener))
}

async fn bind(what: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for {what} on {addr}"))
}

/// The catalog connection the config names (embedded SQLite by default).
fn catalog(config: &Config) -> anyhow::Result<ferry_catalog::DbConfig> {
    match &config.catalog {
        None => Ok(ferry_catalog::DbConfig::sqlite(
            config.data_dir.join(EMBEDDED_CATALOG),
        )),
        Some(CatalogSpec::DbYml(path)) => ferry_catalog::DbConfig::from_yaml_file(path)
            .with_context(|| {
                format!(
                    "invalid catalog config {} (from {})",
                    path.display(),
                    config.catalog_from
                )
            }),
        Some(CatalogSpec::FerryDb(s)) => ferry_catalog::DbConfig::from_ferry_db(s)
            .with_context(|| format!("invalid catalog string ({})", config.catalog_from)),
    }
}

/// How the catalog is given, for the log (never the `FERRY_DB` string: it holds a password).
fn catalog_kind(config: &Config) -> &'static str {
    match config.catalog {
        None => "embedded sqlite",
        Some(CatalogSpec::DbYml(_)) => "db.yml",
        Some(CatalogSpec::FerryDb(_)) => "FERRY_DB",
    }
}

/// The gRPC status of a CCR leader-service error: the same Elasticsearch error body and
/// code mapping as the admin service.
fn leader_status(err: &ferry_replication::leader::LeaderError) -> tonic::Status {
    crate::grpc::status::to_status(&crate::node::leader_api_error(err))
}

/// Resolves once a stop was asked for.
async fn stopped(mut rx: watch::Receiver<bool>) {
    // An error means every sender is gone, which also means "stop".
    let _ = rx.wait_for(|stop| *stop).await;
}

/// First SIGTERM/SIGINT: graceful stop. A second one: exit at once (the acknowledged writes
/// are durable already; only the final refresh is skipped).
async fn wait_for_signals(stop: watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot listen for stop signals; stop ferryd with SIGKILL");
            return;
        }
    };
    let name = tokio::select! { _ = term.recv() => "SIGTERM", _ = int.recv() => "SIGINT" };
    info!(
        signal = name,
        "stop requested: finishing in-flight requests"
    );
    stop.send_replace(true);
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    warn!("second stop signal: exiting without waiting");
    std::process::exit(1);
}

/// State of the health routes.
#[derive(Clone)]
struct Health {
    node: Arc<Node>,
    stopping: watch::Receiver<bool>,
}

/// The whole REST app: ES routes, health, metrics, and the layers around them.
fn app(
    node: Arc<Node>,
    metrics: PrometheusHandle,
    max_content_length: usize,
    node_name: Arc<str>,
    stopping: watch::Receiver<bool>,
) -> Router {
    let health = Router::new()
        .route("/_health/live", get(live))
        .route("/_health/ready", get(ready))
        .with_state(Health {
            node: node.clone(),
            stopping,
        });
    let metrics = Router::new()
        .route("/metrics", get(crate::metrics::render))
        .with_state(crate::metrics::Scrape {
            handle: metrics,
            node: node.clone(),
        });
    crate::rest::router(node)
        .merge(health)
        .merge(metrics)
        // Layers run outermost last-added first: span → metrics → body limit → route.
        .layer(DefaultBodyLimit::max(max_content_length))
        .layer(middleware::from_fn_with_state(
            max_content_length,
            limit_body,
        ))
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(middleware::from_fn_with_state(node_name, request_span))
}

/// `GET /_health/live`: 200 while the process serves HTTP; checks nothing else.
async fn live() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "live" }))).into_response()
}

/// `GET /_health/ready`: 200 when the node can serve, else 503 with the reasons.
async fn ready(State(h): State<Health>) -> Response {
    let answer = if *h.stopping.borrow() {
        Err(vec!["shutting down".to_owned()])
    } else {
        h.node.ready().await
    };
    match answer {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "ready": true }))).into_response(),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "ready": false, "reasons": reasons })),
        )
            .into_response(),
    }
}

/// One span per request, carrying the node name, so every event of a handler says where
/// it ran.
async fn request_span(State(node): State<Arc<str>>, req: Request, next: Next) -> Response {
    let span = info_span!("http", node = %node, method = %req.method(), path = %req.uri().path());
    next.run(req).instrument(span).await
}

/// Enforces `http.max_content_length`: a declared `Content-Length` over the limit is refused
/// before any byte is read; a chunked body is cut off when it passes the limit. Either way
/// the answer is 413 with the Elasticsearch error body, and the handler never sees it, so
/// nothing changes.
async fn limit_body(State(limit): State<usize>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_long(limit);
    }
    let (parts, body) = req.into_parts();
    let body = Body::new(http_body_util::Limited::new(body, limit));
    let response = next.run(Request::from_parts(parts, body)).await;
    // axum's own rejection of an over-long body is plain text: answer in the ES dialect.
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        too_long(limit)
    } else {
        response
    }
}

/// 413 in the Elasticsearch 8 form (`content_too_long_exception`).
fn too_long(limit: usize) -> Response {
    let err = ApiError::new(
        413,
        "content_too_long_exception",
        format!(
            "request body is larger than http.max_content_length [{}]",
            crate::config::render_byte_size(limit as u64)
        ),
    );
    // Like every REST answer: official ES clients refuse a server without this header.
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [("x-elastic-product", "Elasticsearch")],
        axum::Json(err.body()),
    )
        .into_response()
}
