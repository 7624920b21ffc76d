//! [`CopyFetch`] against a real leader: real shards on both sides, a real tonic server on
//! 127.0.0.1, and a fault-injecting TCP proxy between them for the resume and checksum
//! cases.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferry_index::{IndexError, IndexHandle, IndexMeta, IndexSettings, Mapping, ReplicatedOp};
use parking_lot::Mutex;
use serde_json::Value;
use tonic::transport::Endpoint;

use super::bootstrap::{ChannelSource, CopyFetch};
use super::bootstrap_stats::BootstrapStats;
use super::events::{ErrorKind, TaskError};
use super::params::FollowParameters;
use super::task::{FollowerShard, ShardFollowConfig};
use crate::leader::Throttle;
use crate::leader::testkit::{Leader, Proxy, del, fill, one_shard, put, write};
use crate::recovery::RecoverySettings;

/// A follower shard over a real index (shard 0), as ferry-node implements the trait.
pub(super) struct TestFollower {
    pub(super) handle: Arc<IndexHandle>,
    pub(super) staging: PathBuf,
    pub(super) mappings: Mutex<Vec<Value>>,
    _dir: tempfile::TempDir,
}

fn kind(e: IndexError) -> ErrorKind {
    ErrorKind::Retryable(TaskError::new(e.es_type(), e.to_string()))
}

impl TestFollower {
    pub(super) async fn create() -> Arc<Self> {
        let dir = tempfile::tempdir().unwrap();
        let meta = IndexMeta {
            uuid: "uuid-follower".into(),
            name: "follower".into(),
            settings: IndexSettings::from_es_json(&one_shard()).unwrap(),
            mapping: Mapping::default(),
        };
        let handle = IndexHandle::create(dir.path(), meta, 1).await.unwrap();
        Arc::new(Self {
            handle,
            staging: dir.path().join("ccr-staging").join("0"),
            mappings: Mutex::new(Vec::new()),
            _dir: dir,
        })
    }

    /// The staged copies left in the staging directory.
    pub(super) fn staged_files(&self) -> usize {
        std::fs::read_dir(&self.staging).map_or(0, |d| d.count())
    }
}

impl FollowerShard for TestFollower {
    fn checkpoints(&self) -> Result<(i64, i64), TaskError> {
        let s = &self.handle.shards()[0];
        Ok((s.global_checkpoint(), s.local_checkpoint()))
    }

    async fn apply(&self, ops: Vec<ReplicatedOp>) -> Result<(i64, i64), ErrorKind> {
        let o = self.handle.apply_replicated(0, ops).await.map_err(kind)?;
        Ok((o.local_checkpoint, o.max_seq_no))
    }

    async fn merge_mapping(&self, mapping: Value) -> Result<(), ErrorKind> {
        self.mappings.lock().push(mapping);
        Ok(())
    }

    async fn restore_batch(&self, session: &str, ops: Vec<ReplicatedOp>) -> Result<(), ErrorKind> {
        let shard = self.handle.shard(0).map_err(kind)?;
        shard.restore_batch(session, ops).await.map_err(kind)
    }

    async fn finish_restore(
        &self,
        session: &str,
        checkpoint: i64,
    ) -> Result<(i64, i64), ErrorKind> {
        let shard = self.handle.shard(0).map_err(kind)?;
        let o = shard
            .finish_restore(session, checkpoint)
            .await
            .map_err(kind)?;
        Ok((o.local_checkpoint, o.max_seq_no))
    }

    fn staging_dir(&self) -> PathBuf {
        self.staging.clone()
    }
}

/// What a follow task of `leader_index` runs with; its own (follower node) settings.
pub(super) fn config(leader_index: &str, recovery: Arc<RecoverySettings>) -> ShardFollowConfig {
    ShardFollowConfig {
        remote_cluster: "leader".into(),
        leader_index: leader_index.into(),
        follower_index: "follower".into(),
        shard: 0,
        lease_id: "follower/uuid-follower-following-leader/logs/uuid-logs".into(),
        params: FollowParameters::default(),
        copy_throttle: Arc::new(Throttle::new(recovery.clone())),
        recovery,
    }
}

/// One channel to `addr` that reconnects by itself, handed out again after every failure
/// (as the remote registry does).
fn channels_to(addr: SocketAddr) -> ChannelSource {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    Arc::new(move || Some(channel.clone()))
}

/// The documents of shard 0, by id: `(seq_no, primary_term, version, source, routing)`.
pub(super) fn docs_of(h: &IndexHandle, ids: &[String]) -> BTreeMap<String, String> {
    ids.iter()
        .filter_map(|id| {
            let d = h.shards()[0].get(id).unwrap()?;
            let source = String::from_utf8_lossy(&d.source).into_owned();
            let row = format!(
                "{}/{}/{} {source} {:?}",
                d.seq_no, d.primary_term, d.version, d.routing
            );
            Some((id.clone(), row))
        })
        .collect()
}

/// `d0`…`d{n-1}` plus the extra ids the tests write.
pub(super) fn ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("d{i}"))
        .chain(["late".to_owned(), "extra".to_owned()])
        .collect()
}

struct Setup {
    leader: Leader,
    h: Arc<IndexHandle>,
    follower: Arc<TestFollower>,
    recovery: Arc<RecoverySettings>,
    /// The follower node's copy throttle, shared by every fetch of this setup.
    throttle: Arc<Throttle>,
    stats: Arc<Mutex<BootstrapStats>>,
}

impl Setup {
    /// A leader index `logs` of `n` documents padded with `filler`, some updated and
    /// deleted; an empty follower; follower-side settings cutting `chunk` byte chunks.
    async fn new(n: usize, filler: &str, chunk: u64) -> Self {
        let leader = Leader::start().await;
        let h = leader.create("logs", one_shard()).await;
        fill(&h, n, filler).await;
        write(&h, vec![put("d3", r#"{"n":"three again"}"#), del("d4")]).await;
        let recovery = Arc::new(RecoverySettings::default());
        recovery.set_chunk_size(chunk);
        recovery.set_max_bytes_per_sec(0);
        Self {
            leader,
            h,
            follower: TestFollower::create().await,
            throttle: Arc::new(Throttle::new(recovery.clone())),
            recovery,
            stats: Arc::new(Mutex::new(BootstrapStats::default())),
        }
    }

    fn fetch(&self, addr: SocketAddr) -> CopyFetch {
        let mut cfg = config("logs", self.recovery.clone());
        cfg.copy_throttle = self.throttle.clone();
        CopyFetch::new(
            &cfg,
            channels_to(addr),
            self.follower.staging.clone(),
            self.stats.clone(),
        )
    }

    /// Fetches, releases the session, restores; checks the follower now equals the copy.
    async fn finish(&self, fetch: &mut CopyFetch, n: usize) {
        let session = fetch.fetch().await.unwrap().clone();
        fetch.close_session().await;
        let params = FollowParameters {
            max_write_request_operation_count: 700,
            ..FollowParameters::default()
        };
        let checkpoints = fetch.apply(self.follower.as_ref(), &params).await.unwrap();
        assert_eq!(checkpoints, (session.checkpoint, session.checkpoint));
        assert_eq!(session.checkpoint, self.h.shards()[0].global_checkpoint());
        assert_eq!(session.docs, n as u64 - 1);
        let ids = ids(n);
        assert_eq!(docs_of(&self.follower.handle, &ids), docs_of(&self.h, &ids));
        assert_eq!(
            self.follower.staged_files(),
            0,
            "the staged copy is deleted"
        );
        assert!(self.leader.sessions.is_empty(), "the session is released");
        let s = self.stats.lock().clone();
        assert_eq!(s.chunks_fetched, s.chunks_total);
        assert_eq!(s.chunks_total, session.chunk_crc32.len() as u64);
        assert_eq!(
            (s.bytes_copied, s.bytes_total),
            (session.total_bytes, session.total_bytes)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_arrives_intact_and_is_restored() {
    let setup = Setup::new(2000, &"a".repeat(100), 16 * 1024).await;
    let mut fetch = setup.fetch(setup.leader.addr);
    setup.finish(&mut fetch, 2000).await;
    let s = setup.stats.lock().clone();
    assert!(s.chunks_total >= 10, "{} chunks", s.chunks_total);
    assert_eq!(
        (s.sessions_opened, s.chunks_retried, s.crc_mismatches),
        (1, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_resumes_the_same_session() {
    let setup = Setup::new(3000, &"b".repeat(400), 64 * 1024).await;
    let proxy = Proxy::start(setup.leader.addr).await;
    // Far past the open's answer, well before the end of a ~1.3mb copy.
    proxy.cut_after(400_000);
    let mut fetch = setup.fetch(proxy.addr);
    setup.finish(&mut fetch, 3000).await;
    assert_eq!(proxy.cuts(), 1);
    let s = setup.stats.lock().clone();
    assert_eq!(s.sessions_opened, 1, "resumed, not restarted");
    assert!(
        s.chunks_retried > 0,
        "the chunks lost with the connection were asked again"
    );
    assert_eq!(s.crc_mismatches, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_corrupted_on_the_way_is_fetched_again() {
    const MARK: &str = "QJXZ-corrupt-me-QJXZ";
    let setup = Setup::new(1500, &MARK.repeat(4), 16 * 1024).await;
    let proxy = Proxy::start(setup.leader.addr).await;
    proxy.corrupt_once(MARK.as_bytes());
    let mut fetch = setup.fetch(proxy.addr);
    setup.finish(&mut fetch, 1500).await;
    assert_eq!(proxy.corrupted(), 1);
    let s = setup.stats.lock().clone();
    assert_eq!(
        (s.crc_mismatches, s.chunks_retried, s.sessions_opened),
        (1, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_damaged_on_the_leader_is_replaced_by_a_new_session() {
    let setup = Setup::new(800, "c", 4096).await;
    let mut fetch = setup.fetch(setup.leader.addr);
    let first = fetch.open().await.unwrap().session_id.clone();
    let path = setup.leader.sessions.dir().join(format!("{first}.copy"));
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"garbage", 100).unwrap();

    setup.finish(&mut fetch, 800).await;
    let s = setup.stats.lock().clone();
    assert_eq!(
        s.crc_mismatches,
        u64::from(super::bootstrap::MAX_CRC_MISMATCHES)
    );
    assert_eq!(s.sessions_opened, 2);
    assert_ne!(fetch.session().map(|s| s.session_id.clone()), Some(first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_starts_over() {
    let setup = Setup::new(500, "d", 4096).await;
    let mut fetch = setup.fetch(setup.leader.addr);
    fetch.open().await.unwrap();
    setup.leader.settings.set_activity_timeout(Duration::ZERO);
    while !setup.leader.sessions.is_empty() {
        setup.leader.sessions.reap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    setup
        .leader
        .settings
        .set_activity_timeout(crate::recovery::DEFAULT_ACTIVITY_TIMEOUT);

    setup.finish(&mut fetch, 500).await;
    assert_eq!(setup.stats.lock().sessions_opened, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_throttles_its_chunk_requests() {
    let setup = Setup::new(1000, &"e".repeat(300), 32 * 1024).await;
    let rate = 8u64 << 20;
    setup.recovery.set_max_bytes_per_sec(rate);
    let throttle = setup.throttle.clone();
    let mut fetch = setup.fetch(setup.leader.addr);
    setup.finish(&mut fetch, 1000).await;
    let total = setup.stats.lock().bytes_total;
    assert_eq!(throttle.bytes(), total, "every chunk was paid for once");
    let paid = Duration::from_nanos(
        u64::try_from(u128::from(total) * 1_000_000_000 / u128::from(rate)).unwrap(),
    );
    assert!(
        throttle.throttled() >= paid,
        "{:?} < {paid:?}",
        throttle.throttled()
    );
}
