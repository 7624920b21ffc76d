//! [`RemoteClusters`]: the node's registry of remote-cluster connections, one task per
//! enabled alias.
//!
//! A task tries the alias's addresses in order (the seeds in sniff mode, the proxy
//! address in proxy mode) with a `Handshake` over tonic. The first success pins the
//! remote's cluster name and uuid; a later handshake reporting another uuid is refused
//! and logged, and the next address is tried. When none answers, the task logs ES's
//! `no seed node left for cluster: [alias]` and retries with jittered exponential back-off
//! (capped at 30s). While connected it re-runs the handshake every [`CHECK_INTERVAL`], so a
//! remote that goes away shows as `connected: false` and is reconnected by itself when it
//! returns. Reconfiguring an alias (any setting changed) replaces its task, and with it
//! the pinned identity.
//!
//! Deliberately not here yet: discovering the remote's other nodes (every cluster is one
//! node until clustering lands, so a sniff connection reaches one gateway node), TLS and
//! SNI (`server_name` is stored and shown only), and sending `credentials` (remote
//! authentication comes with security). One HTTP/2 connection carries all calls to a
//! remote, so `num_proxy_sockets_connected` is 1 when connected.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_proto::v1::HandshakeRequest;
use ferry_proto::v1::HandshakeResponse;
use ferry_proto::v1::remote_cluster_client::RemoteClusterClient;
use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use tracing::{Instrument, debug, info, info_span, warn};

use super::backoff::Backoff;
use super::error::RemoteError;
use super::handshake::LocalIdentity;
use super::settings::{Mode, REDACTED, RemoteConfig};

/// How often a connected remote is checked with a handshake.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How long a TCP connect to a seed may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a handshake may take once connected.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 receive windows of the replication channel. Bootstrap chunks (1mb, 5 in flight)
/// and `ReadOps` answers are megabytes each: hyper's default 5 MiB connection window let
/// one chunk round's answers stall the connection until the follower had read them.
const CHANNEL_CONNECTION_WINDOW: u32 = 64 << 20;
const CHANNEL_STREAM_WINDOW: u32 = 16 << 20;
/// Largest HTTP/2 frame the leader may send on it (hyper's default is 16 KiB: 64 frames,
/// each parsed and copied on its own, per megabyte).
const CHANNEL_MAX_FRAME: u32 = 1 << 20;
/// ES's `cluster.remote.initial_connect_timeout`, as `/_remote/info` shows it.
const INITIAL_CONNECT_TIMEOUT: &str = "30s";

/// What `/_remote/info` and CCR need to know about one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionState {
    /// A handshake succeeded and the last check did too.
    pub connected: bool,
    /// The remote cluster's name, pinned by the first successful handshake.
    pub cluster_name: Option<String>,
    /// The remote cluster's uuid, pinned by the first successful handshake.
    pub cluster_uuid: Option<String>,
    /// The address that answered last.
    pub address: Option<String>,
}

struct Connection {
    config: RemoteConfig,
    state: Arc<RwLock<ConnectionState>>,
    /// A channel to the address that answered the last handshake, without a per-call
    /// timeout (CCR reads long-poll; each call sets its own deadline).
    channel: Arc<RwLock<Option<Channel>>>,
    task: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The remote clusters of one node and their connection tasks.
pub struct RemoteClusters {
    local: LocalIdentity,
    connections: Mutex<BTreeMap<String, Connection>>,
}

impl std::fmt::Debug for RemoteClusters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteClusters")
            .field(
                "aliases",
                &self.connections.lock().keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl RemoteClusters {
    /// An empty registry for the node `local`.
    pub fn new(local: LocalIdentity) -> Arc<Self> {
        Arc::new(Self {
            local,
            connections: Mutex::new(BTreeMap::new()),
        })
    }

    /// Makes the registry match `remotes`: removed aliases are disconnected, new ones
    /// connected, changed ones reconnected (with a fresh pinned identity); unchanged ones
    /// keep their connection. Must run inside a tokio runtime.
    pub fn configure(&self, remotes: &BTreeMap<String, RemoteConfig>) {
        let mut connections = self.connections.lock();
        connections.retain(|alias, c| {
            let keep = remotes.get(alias) == Some(&c.config);
            if !keep {
                info!(remote = %alias, "remote cluster connection closed");
            }
            keep
        });
        for (alias, config) in remotes {
            if connections.contains_key(alias) {
                continue;
            }
            let state = Arc::new(RwLock::new(ConnectionState::default()));
            let channel = Arc::new(RwLock::new(None));
            let span = info_span!("remote_cluster", remote = %alias, node = %self.local.node_name);
            let task = tokio::spawn(
                run(
                    config.clone(),
                    self.local.clone(),
                    state.clone(),
                    channel.clone(),
                )
                .instrument(span),
            );
            connections.insert(
                alias.clone(),
                Connection {
                    config: config.clone(),
                    state,
                    channel,
                    task,
                },
            );
        }
    }

    /// The connection state of `alias`, if it is configured.
    pub fn state(&self, alias: &str) -> Option<ConnectionState> {
        self.connections
            .lock()
            .get(alias)
            .map(|c| c.state.read().clone())
    }

    /// A channel to `alias`'s connected node, for CCR calls (`ReadOps`, leases, admin
    /// `GetIndex`); `None` when the alias is unknown or not connected right now. The channel
    /// has no per-call timeout: callers set one per request.
    pub fn channel(&self, alias: &str) -> Option<Channel> {
        let connections = self.connections.lock();
        let c = connections.get(alias)?;
        if !c.state.read().connected {
            return None;
        }
        c.channel.read().clone()
    }

    /// Whether `alias` is configured (connected or not).
    pub fn contains(&self, alias: &str) -> bool {
        self.connections.lock().contains_key(alias)
    }

    /// Disconnects every remote.
    pub fn shutdown(&self) {
        self.connections.lock().clear();
    }

    /// The body of `GET /_remote/info`: per alias, ES's fields, then Ferry's
    /// `cluster_name` and `cluster_uuid` of the remote once a handshake pinned them.
    pub fn info(&self) -> Value {
        let connections = self.connections.lock();
        let mut out = Map::new();
        for (alias, c) in connections.iter() {
            let state = c.state.read().clone();
            let connected = state.connected;
            let config = &c.config;
            let mut entry = Map::new();
            entry.insert("connected".into(), json!(connected));
            entry.insert("mode".into(), json!(config.mode.as_str()));
            match config.mode {
                Mode::Sniff => {
                    entry.insert("seeds".into(), json!(config.seeds));
                    entry.insert("num_nodes_connected".into(), json!(u32::from(connected)));
                    entry.insert(
                        "max_connections_per_cluster".into(),
                        json!(config.node_connections),
                    );
                }
                Mode::Proxy => {
                    entry.insert(
                        "proxy_address".into(),
                        json!(config.proxy_address.clone().unwrap_or_default()),
                    );
                    entry.insert(
                        "server_name".into(),
                        json!(config.server_name.clone().unwrap_or_default()),
                    );
                    entry.insert(
                        "num_proxy_sockets_connected".into(),
                        json!(u32::from(connected)),
                    );
                    entry.insert(
                        "max_proxy_socket_connections".into(),
                        json!(config.proxy_socket_connections),
                    );
                }
            }
            entry.insert(
                "initial_connect_timeout".into(),
                json!(INITIAL_CONNECT_TIMEOUT),
            );
            entry.insert("skip_unavailable".into(), json!(config.skip_unavailable));
            if config.credentials.is_some() {
                entry.insert("cluster_credentials".into(), json!(REDACTED));
            }
            // Ferry's fields: the identity the first handshake pinned, once there was one.
            if let (Some(name), Some(uuid)) = (state.cluster_name, state.cluster_uuid) {
                entry.insert("cluster_name".into(), json!(name));
                entry.insert("cluster_uuid".into(), json!(uuid));
            }
            out.insert(alias.clone(), Value::Object(entry));
        }
        Value::Object(out)
    }
}

/// The pinned identity of a remote: name and uuid.
type Pin = Option<(String, String)>;

/// Whether a handshake answer may be accepted under `pin`.
pub(crate) fn check_pin(pin: &Pin, answer: &HandshakeResponse) -> Result<(), String> {
    match pin {
        Some((_, uuid)) if *uuid != answer.cluster_uuid => Err(format!(
            "remote answered as cluster [{}] with uuid [{}], but this alias is pinned to uuid [{uuid}]",
            answer.cluster_name, answer.cluster_uuid
        )),
        _ => Ok(()),
    }
}

/// The connection task of one alias: connect, check, reconnect, forever.
async fn run(
    config: RemoteConfig,
    local: LocalIdentity,
    state: Arc<RwLock<ConnectionState>>,
    channel: Arc<RwLock<Option<Channel>>>,
) {
    let mut backoff = Backoff::default();
    let mut pin: Pin = None;
    let mut reported_down = false;
    loop {
        match connect(&config, &local, &pin).await {
            Ok((mut client, answer, address)) => {
                if pin.is_none() {
                    pin = Some((answer.cluster_name.clone(), answer.cluster_uuid.clone()));
                }
                info!(
                    %address,
                    cluster = %answer.cluster_name,
                    cluster_uuid = %answer.cluster_uuid,
                    remote_node = %answer.node_name,
                    "connected to remote cluster"
                );
                // The channel first, so that `connected` always comes with one.
                *channel.write() =
                    Endpoint::from_shared(format!("http://{address}"))
                        .ok()
                        .map(|e| {
                            e.connect_timeout(CONNECT_TIMEOUT)
                                .initial_connection_window_size(CHANNEL_CONNECTION_WINDOW)
                                .initial_stream_window_size(CHANNEL_STREAM_WINDOW)
                                .max_frame_size(CHANNEL_MAX_FRAME)
                                .connect_lazy()
                        });
                *state.write() = ConnectionState {
                    connected: true,
                    cluster_name: Some(answer.cluster_name),
                    cluster_uuid: Some(answer.cluster_uuid),
                    address: Some(address.clone()),
                };
                backoff.reset();
                reported_down = false;
                loop {
                    tokio::time::sleep(CHECK_INTERVAL).await;
                    match handshake(&mut client, &local).await {
                        Ok(answer) if check_pin(&pin, &answer).is_ok() => {}
                        Ok(answer) => {
                            let reason = check_pin(&pin, &answer).err().unwrap_or_default();
                            warn!(%address, %reason, "remote cluster identity changed, refusing it");
                            break;
                        }
                        Err(e) => {
                            warn!(%address, error = %e, "lost the connection to the remote cluster");
                            break;
                        }
                    }
                }
                state.write().connected = false;
                *channel.write() = None;
            }
            Err(e) => {
                state.write().connected = false;
                if reported_down {
                    debug!(error = %e, "remote cluster still unreachable");
                } else {
                    warn!(error = %e, "cannot connect to the remote cluster, retrying with back-off");
                    reported_down = true;
                }
            }
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// Tries every address in order; the first that answers with an acceptable identity wins.
async fn connect(
    config: &RemoteConfig,
    local: &LocalIdentity,
    pin: &Pin,
) -> Result<(RemoteClusterClient<Channel>, HandshakeResponse, String), RemoteError> {
    for address in config.addresses() {
        let endpoint = match Endpoint::from_shared(format!("http://{address}")) {
            Ok(e) => e
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(HANDSHAKE_TIMEOUT),
            Err(e) => {
                warn!(%address, error = %e, "seed address is not a valid uri");
                continue;
            }
        };
        let channel = match endpoint.connect().await {
            Ok(c) => c,
            Err(e) => {
                debug!(%address, error = %e, "seed did not accept a connection");
                continue;
            }
        };
        let mut client = RemoteClusterClient::new(channel);
        match handshake(&mut client, local).await {
            Ok(answer) => match check_pin(pin, &answer) {
                Ok(()) => return Ok((client, answer, address)),
                Err(reason) => warn!(%address, %reason, "refusing remote node"),
            },
            Err(e) => debug!(%address, error = %e, "handshake failed"),
        }
    }
    Err(RemoteError::NoSeedNodeLeft(config.alias.clone()))
}

async fn handshake(
    client: &mut RemoteClusterClient<Channel>,
    local: &LocalIdentity,
) -> Result<HandshakeResponse, tonic::Status> {
    let request = HandshakeRequest {
        from_cluster_name: local.cluster_name.clone(),
        from_cluster_uuid: local.cluster_uuid.clone(),
    };
    client
        .handshake(request)
        .await
        .map(tonic::Response::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(uuid: &str) -> HandshakeResponse {
        HandshakeResponse {
            cluster_name: "us".into(),
            cluster_uuid: uuid.into(),
            ..Default::default()
        }
    }

    #[test]
    fn pin_accepts_the_same_uuid_and_refuses_another() {
        assert!(check_pin(&None, &answer("a")).is_ok());
        let pin = Some(("us".to_owned(), "a".to_owned()));
        assert!(check_pin(&pin, &answer("a")).is_ok());
        let err = check_pin(&pin, &answer("b")).unwrap_err();
        assert!(err.contains("pinned to uuid [a]"), "{err}");
    }
}
