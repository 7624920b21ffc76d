//! Test harness of the leader service, shared by the leader's and the follower's tests:
//! real shards in a temporary directory, a real tonic server on 127.0.0.1 (the
//! `Replication` service with its copy sessions, and the remote-cluster handshake), and [`Proxy`], a TCP relay that can cut its
//! connections or flip a byte on the way, to put faults between follower and leader.
//!
//! Deliberately not here: assertions (each test file makes its own).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use ferry_index::{
    Conditions, DeleteOp, IndexHandle, IndexMeta, IndexOp, IndexSettings, Mapping, RefreshPolicy,
    WriteOp, WriteOutcome,
};
use ferry_proto::v1 as pb;
use ferry_proto::v1::replication_client::ReplicationClient;
use parking_lot::Mutex;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::{CopySessions, LeaderError, LeaderShard, LeaderShards, service};
use crate::recovery::RecoverySettings;
use crate::remote::{HandshakeService, LocalIdentity};

/// Indices by name; a name in `closed` answers `index_closed_exception`.
pub(crate) struct Registry {
    pub(crate) open: Mutex<BTreeMap<String, Arc<IndexHandle>>>,
    pub(crate) closed: Mutex<Vec<String>>,
    /// `(mapping_version, settings_version)` every shard reports.
    pub(crate) versions: Mutex<(u64, u64)>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            open: Mutex::default(),
            closed: Mutex::default(),
            versions: Mutex::new((3, 5)),
        }
    }
}

impl LeaderShards for Registry {
    fn shard(&self, index: &str, shard: u32) -> Result<LeaderShard, LeaderError> {
        if self.closed.lock().iter().any(|c| c == index) {
            return Err(LeaderError::IndexClosed {
                index: index.into(),
                uuid: "u".into(),
            });
        }
        let handle = self.open.lock().get(index).cloned();
        let (mapping, settings) = *self.versions.lock();
        match handle {
            Some(h) => LeaderShard::new(h, shard, mapping, settings),
            None => Err(LeaderError::IndexNotFound {
                index: index.into(),
            }),
        }
    }
}

/// The status mapping ferry-node applies, in miniature: ES type and reason in the details.
pub(crate) fn to_status(e: &LeaderError) -> Status {
    let code = match e.status() {
        400 => Code::InvalidArgument,
        404 => Code::NotFound,
        503 => Code::Unavailable,
        _ => Code::Internal,
    };
    let mut error = e.metadata();
    error.insert("type".into(), json!(e.es_type()));
    error.insert("reason".into(), json!(e.to_string()));
    let body = json!({ "error": error, "status": e.status() });
    Status::with_details(code, e.to_string(), Bytes::from(body.to_string()))
}

/// The ES error type in a status's details.
pub(crate) fn es_type(s: &Status) -> String {
    let v: serde_json::Value = serde_json::from_slice(s.details()).expect("details are JSON");
    v["error"]["type"].as_str().unwrap_or_default().to_owned()
}

/// A leader node in miniature.
pub(crate) struct Leader {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) registry: Arc<Registry>,
    pub(crate) client: ReplicationClient<Channel>,
    pub(crate) addr: SocketAddr,
    pub(crate) sessions: Arc<CopySessions>,
    /// The leader's own `ccr.indices.recovery.*`.
    pub(crate) settings: Arc<RecoverySettings>,
}

impl Leader {
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let registry = Arc::new(Registry::default());
        let settings = Arc::new(RecoverySettings::default());
        let sessions = CopySessions::new(dir.path().join("ccr-sessions"), settings.clone())
            .expect("session dir");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let svc = service(registry.clone(), sessions.clone(), to_status);
        let handshake = HandshakeService::new(LocalIdentity {
            cluster_name: "leader".into(),
            cluster_uuid: "leader-uuid".into(),
            node_id: "n1".into(),
            node_name: "leader-1".into(),
            version: "test".into(),
        });
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(svc)
                .add_service(handshake.into_server())
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .expect("test server runs");
        });
        let client = ReplicationClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        Self {
            dir,
            registry,
            client,
            addr,
            sessions,
            settings,
        }
    }

    pub(crate) async fn create(&self, name: &str, settings: serde_json::Value) -> Arc<IndexHandle> {
        let meta = IndexMeta {
            uuid: format!("uuid-{name}"),
            name: name.into(),
            settings: IndexSettings::from_es_json(&settings).unwrap(),
            mapping: Mapping::default(),
        };
        let handle = IndexHandle::create(self.dir.path(), meta, 1).await.unwrap();
        self.registry
            .open
            .lock()
            .insert(name.into(), handle.clone());
        handle
    }

    pub(crate) fn read(&self, index: &str, from: i64) -> pb::ReadOpsRequest {
        pb::ReadOpsRequest {
            leader_index: index.into(),
            shard: 0,
            from_seq_no: from,
            max_ops: 1000,
            max_bytes: 1 << 20,
            poll_timeout_millis: 0,
            expected_history_uuid: String::new(),
        }
    }

    pub(crate) async fn read_ops(
        &self,
        req: pb::ReadOpsRequest,
    ) -> Result<pb::ReadOpsResponse, Status> {
        self.client
            .clone()
            .read_ops(req)
            .await
            .map(tonic::Response::into_inner)
    }

    pub(crate) fn lease(&self, index: &str, id: &str, retaining: i64) -> pb::RetentionLeaseRequest {
        pb::RetentionLeaseRequest {
            leader_index: index.into(),
            shard: 0,
            lease_id: id.into(),
            retaining_seq_no: retaining,
            source: "ccr".into(),
        }
    }
}

pub(crate) fn one_shard() -> serde_json::Value {
    json!({ "index": { "number_of_shards": 1, "refresh_interval": "-1" } })
}

pub(crate) fn put(id: &str, source: &str) -> WriteOp {
    WriteOp::Index(IndexOp {
        id: id.into(),
        source: Bytes::copy_from_slice(source.as_bytes()),
        create: false,
        cond: Conditions::default(),
        routing: None,
    })
}

pub(crate) fn del(id: &str) -> WriteOp {
    WriteOp::Delete(DeleteOp {
        id: id.into(),
        cond: Conditions::default(),
    })
}

pub(crate) async fn write(h: &IndexHandle, ops: Vec<WriteOp>) -> Vec<WriteOutcome> {
    h.shards()[0]
        .write(ops, RefreshPolicy::None)
        .await
        .into_iter()
        .map(|r| r.expect("write succeeds"))
        .collect()
}

/// Writes `n` documents `d0`… in batches; each source holds `filler` (so a test can make
/// copies of any size, or plant a pattern a [`Proxy`] will look for).
pub(crate) async fn fill(h: &IndexHandle, n: usize, filler: &str) {
    let docs: Vec<usize> = (0..n).collect();
    for batch in docs.chunks(1000) {
        let ops = batch
            .iter()
            .map(|i| {
                put(
                    &format!("d{i}"),
                    &format!(r#"{{"n":{i},"pad":"{filler}"}}"#),
                )
            })
            .collect();
        write(h, ops).await;
    }
}

/// What a [`Proxy`] does to the leader's answers.
#[derive(Default)]
struct Faults {
    /// Leader → follower bytes relayed so far, over all connections.
    relayed: AtomicU64,
    /// Once this many bytes are relayed, the connection carrying the next byte is cut
    /// and that byte never arrives (`u64::MAX`: never; fires once).
    cut_at: AtomicU64,
    /// Connections cut so far.
    cuts: AtomicU64,
    /// Flip one bit inside the first occurrence of this pattern (once).
    corrupt: Mutex<Option<Vec<u8>>>,
    /// Bytes flipped so far.
    corrupted: AtomicU64,
}

/// A TCP relay between a follower and a leader, injecting [`Faults`].
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    faults: Arc<Faults>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub(crate) async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Faults {
            cut_at: AtomicU64::new(u64::MAX),
            ..Faults::default()
        });
        let shared = faults.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(relay(inbound, target, shared.clone()));
            }
        });
        Self { addr, faults, task }
    }

    /// Cut the connection that carries the leader's byte number `at + 1` (once).
    pub(crate) fn cut_after(&self, at: u64) {
        self.faults.cut_at.store(at, Ordering::SeqCst);
    }

    /// Flip a bit in the middle of the first occurrence of `pattern` (once).
    pub(crate) fn corrupt_once(&self, pattern: &[u8]) {
        *self.faults.corrupt.lock() = Some(pattern.to_vec());
    }

    pub(crate) fn cuts(&self) -> u64 {
        self.faults.cuts.load(Ordering::SeqCst)
    }

    pub(crate) fn corrupted(&self) -> u64 {
        self.faults.corrupted.load(Ordering::SeqCst)
    }
}

impl Faults {
    /// How many of `n` new bytes to relay, and whether to cut the connection after them.
    fn admit(&self, n: usize) -> (usize, bool) {
        let before = self.relayed.fetch_add(n as u64, Ordering::SeqCst);
        let cut_at = self.cut_at.load(Ordering::SeqCst);
        if cut_at != u64::MAX
            && before + n as u64 > cut_at
            && self
                .cut_at
                .compare_exchange(cut_at, u64::MAX, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            self.cuts.fetch_add(1, Ordering::SeqCst);
            return (
                usize::try_from(cut_at.saturating_sub(before)).unwrap_or(n),
                true,
            );
        }
        (n, false)
    }

    fn maybe_corrupt(&self, buf: &mut [u8]) {
        let mut pattern = self.corrupt.lock();
        let Some(p) = pattern.as_ref() else { return };
        if let Some(at) = buf.windows(p.len()).position(|w| w == p.as_slice()) {
            buf[at + p.len() / 2] ^= 0x01;
            *pattern = None;
            self.corrupted.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn relay(inbound: TcpStream, target: SocketAddr, faults: Arc<Faults>) {
    let Ok(outbound) = TcpStream::connect(target).await else {
        return;
    };
    let (mut from_follower, mut to_follower) = inbound.into_split();
    let (mut from_leader, mut to_leader) = outbound.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_follower, &mut to_leader).await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from_leader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        faults.maybe_corrupt(&mut buf[..n]);
        let (pass, cut) = faults.admit(n);
        if to_follower.write_all(&buf[..pass]).await.is_err() || cut {
            break;
        }
    }
    upstream.abort();
}
