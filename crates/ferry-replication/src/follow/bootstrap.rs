//! [`CopyFetch`]: the follower side of a bootstrap copy (spec `ccr.md` §6 steps 3–5).
//!
//! It opens a copy session on the leader shard under an id of its own (a retried open
//! re-attaches to the copy the leader is writing), stages the copy in a file of the
//! shard's staging directory, and fetches its chunks with up to `max_concurrent_chunks`
//! requests in flight, each written at its offset as it arrives, each checked against the
//! checksum the leader recorded when it pinned the copy (a mismatch fetches that chunk
//! again; a chunk failing [`MAX_CRC_MISMATCHES`] times means the leader's copy is damaged
//! and a new session starts), paced by the node's follower-side [`Throttle`] and bounded by
//! `internal_action_timeout` per call.
//!
//! A failed call that leaves the session usable (connection lost, timeout, a busy
//! leader) keeps the session and every chunk already staged: after a jittered back-off
//! capped by `max_retry_delay` the fetch asks a fresh channel for the chunks still missing
//! — it resumes rather than restarts. Only a leader that no longer holds the session (it
//! expired, or the leader restarted) makes it open a new session and start over.
//! Retryable failures are retried for as long as the task runs, as §4.4 asks of reads.
//!
//! Once complete, [`CopyFetch::apply`] (in `bootstrap_apply`) restores the staged copy.
//!
//! Deliberately not here: the retention lease, the leader's mapping and the planner
//! (the task's start-up, `bootstrap_run`), and the leader's side ([`crate::leader`]).

use std::collections::VecDeque;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::task::JoinSet;
use tonic::transport::Channel;
use tracing::{debug, info, warn};

use super::backoff::{RandJitter, retry_delay};
use super::bootstrap_stats::BootstrapStats;
use super::events::{ErrorKind, TaskError};
use super::leader_client::{self, CopySession, classify, is_session_not_found};
use super::task::ShardFollowConfig;
use crate::leader::Throttle;
use crate::recovery::RecoverySettings;

/// Where the fetch gets a channel to the leader cluster, asked again after every failure
/// (the task passes the remote registry's channel of its alias).
pub type ChannelSource = Arc<dyn Fn() -> Option<Channel> + Send + Sync>;

/// Checksum failures of one chunk after which its session is given up.
pub const MAX_CRC_MISMATCHES: u32 = 3;
/// Staged copies end in this.
const EXTENSION: &str = "copy";
/// Room over a chunk for the framing of a chunk answer.
const CHUNK_MESSAGE_SLACK: usize = 64 * 1024;

/// A session being fetched and its staged file.
pub(super) struct Staged {
    pub(super) session: CopySession,
    pub(super) path: PathBuf,
    pub(super) file: Arc<StagedFile>,
    done: Vec<bool>,
    requested: Vec<bool>,
    mismatches: Vec<u32>,
}

/// The staged copy's file. Chunks are checked in parallel but written one at a time, as
/// the kernel would anyway (the file's inode lock), without threads spinning on that lock
/// while another writes.
pub(super) struct StagedFile {
    file: std::fs::File,
    writing: Mutex<()>,
}

impl StagedFile {
    fn write_all_at(&self, data: &[u8], offset: u64) -> std::io::Result<()> {
        let _writing = self.writing.lock();
        self.file.write_all_at(data, offset)
    }

    /// A positional read (the staged copy is read back once complete).
    pub(super) fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.file.read_at(buf, offset)
    }
}

impl Staged {
    pub(super) fn complete(&self) -> bool {
        self.done.iter().all(|d| *d)
    }
}

/// What became of one chunk request.
enum Fetched {
    /// Checked against its checksum and written at its offset.
    Staged,
    /// Its bytes do not match the checksum the leader recorded.
    Mismatch,
    /// The call failed.
    Call(tonic::Status),
    /// Writing it into the staged copy failed.
    Write(std::io::Error),
    /// The blocking task that checks and writes it failed.
    Task(String),
}

/// A chunk request's index and what became of it.
type ChunkAnswer = (usize, Fetched);

/// Checks `data` (chunk at `offset`, `len` bytes, announced with `crc`) against the
/// checksum the session recorded, `want`, and writes it into `file`: on the blocking pool,
/// so the chunks in flight are checked in parallel, and the round keeps asking for more
/// meanwhile.
async fn stage(
    file: Arc<StagedFile>,
    data: Bytes,
    crc: u32,
    want: u32,
    range: (u64, u64),
) -> Fetched {
    let (offset, len) = range;
    let job = move || {
        if data.len() as u64 != len || crc != want || crc32fast::hash(&data) != want {
            return Fetched::Mismatch;
        }
        match file.write_all_at(&data, offset) {
            Ok(()) => Fetched::Staged,
            Err(e) => Fetched::Write(e),
        }
    };
    tokio::task::spawn_blocking(job)
        .await
        .unwrap_or_else(|e| Fetched::Task(e.to_string()))
}

/// How one round of chunk requests ended.
enum Round {
    /// Every chunk is staged.
    Done,
    /// A failure that leaves the session usable: back off, then resume.
    Retry(TaskError),
    /// The session is gone or its copy damaged: open a new one.
    Restart(String),
    /// Stop.
    Fatal(TaskError),
}

/// The bootstrap copy of one follower shard.
pub struct CopyFetch {
    leader_index: String,
    shard: u32,
    channels: ChannelSource,
    settings: Arc<RecoverySettings>,
    throttle: Arc<Throttle>,
    retry_cap: Duration,
    staging: PathBuf,
    pub(super) stats: Arc<Mutex<BootstrapStats>>,
    jitter: RandJitter,
    pub(super) staged: Option<Staged>,
    failures: u32,
}

pub(super) fn io_error(context: &str, e: impl std::fmt::Display) -> ErrorKind {
    ErrorKind::Retryable(TaskError::new("exception", format!("{context}: {e}")))
}

fn not_connected() -> TaskError {
    TaskError::new(
        "no_such_remote_cluster_exception",
        "the remote cluster is not connected",
    )
}

impl CopyFetch {
    /// A fetch of `config`'s leader shard into `staging`, reporting into `stats`.
    pub fn new(
        config: &ShardFollowConfig,
        channels: ChannelSource,
        staging: PathBuf,
        stats: Arc<Mutex<BootstrapStats>>,
    ) -> Self {
        Self {
            leader_index: config.leader_index.clone(),
            shard: config.shard,
            channels,
            throttle: config.copy_throttle.clone(),
            settings: config.recovery.clone(),
            retry_cap: config.params.max_retry_delay.duration(),
            staging,
            stats,
            jitter: RandJitter::from_os(),
            staged: None,
            failures: 0,
        }
    }

    /// The session being fetched, once opened.
    pub fn session(&self) -> Option<&CopySession> {
        self.staged.as_ref().map(|s| &s.session)
    }

    async fn back_off(&mut self, error: &TaskError) {
        self.failures += 1;
        let delay = retry_delay(self.failures, self.retry_cap, &mut self.jitter);
        debug!(kind = %error.es_type, reason = %error.reason, attempt = self.failures,
            delay_millis = delay.as_millis(), "bootstrap call failed, retrying");
        tokio::time::sleep(delay).await;
    }

    /// Opens a session (unless one is open): removes earlier staged copies, then asks the
    /// leader under a new id, retrying that same id until it answers.
    pub async fn open(&mut self) -> Result<&CopySession, ErrorKind> {
        if self.staged.is_none() {
            let staged = self.open_new().await?;
            self.staged = Some(staged);
        }
        match &self.staged {
            Some(s) => Ok(&s.session),
            None => Err(ErrorKind::Retryable(not_connected())),
        }
    }

    async fn open_new(&mut self) -> Result<Staged, ErrorKind> {
        clear_staging(&self.staging).map_err(|e| io_error("cannot clear the staging dir", e))?;
        let id = format!("{:032x}", rand::random::<u128>());
        let session = loop {
            let Some(channel) = (self.channels)() else {
                self.back_off(&not_connected()).await;
                continue;
            };
            let opened = leader_client::open_copy_session(
                channel,
                &self.leader_index,
                self.shard,
                &id,
                self.settings.chunk_size(),
                self.settings.action_timeout(),
            )
            .await;
            if let Err(s) = &opened
                && s.code() == tonic::Code::Unimplemented
            {
                return Err(ErrorKind::Fatal(TaskError::new(
                    "illegal_state_exception",
                    format!("the leader cannot serve bootstrap copies: {}", s.message()),
                )));
            }
            match opened.map_err(|s| classify(&s)) {
                Ok(session) => break session,
                Err(ErrorKind::Fatal(e)) => return Err(ErrorKind::Fatal(e)),
                Err(ErrorKind::Retryable(e)) => self.back_off(&e).await,
            }
        };
        self.failures = 0;
        let path = self.staging.join(format!("{id}.{EXTENSION}"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .and_then(|f| f.set_len(session.total_bytes).map(|()| f))
            .map_err(|e| io_error("cannot create the staged copy", e))?;
        let chunks = session.chunk_crc32.len();
        info!(session = %id, bytes = session.total_bytes, docs = session.docs, chunks,
            checkpoint = session.checkpoint, "bootstrap copy session opened");
        self.stats
            .lock()
            .session_opened(chunks as u64, session.total_bytes);
        Ok(Staged {
            session,
            path,
            file: Arc::new(StagedFile {
                file,
                writing: Mutex::new(()),
            }),
            done: vec![false; chunks],
            requested: vec![false; chunks],
            mismatches: vec![0; chunks],
        })
    }

    /// Fetches every chunk still missing; answers the complete session.
    pub async fn fetch(&mut self) -> Result<&CopySession, ErrorKind> {
        loop {
            self.open().await?;
            match self.round().await {
                Round::Done => break,
                Round::Retry(e) => self.back_off(&e).await,
                Round::Restart(reason) => {
                    warn!(%reason, "bootstrap copy session lost, starting over with a new one");
                    self.discard().await;
                }
                Round::Fatal(e) => return Err(ErrorKind::Fatal(e)),
            }
        }
        self.open().await
    }

    /// One pass over the missing chunks on one channel, until all are staged or a call
    /// fails. After a failure no new request is sent; those in flight are still taken.
    async fn round(&mut self) -> Round {
        let Some(channel) = (self.channels)() else {
            return Round::Retry(not_connected());
        };
        let Some(staged) = self.staged.as_mut() else {
            return Round::Restart("no session".into());
        };
        let session = staged.session.clone();
        let max_message = usize::try_from(session.chunk_size)
            .unwrap_or(usize::MAX)
            .saturating_add(CHUNK_MESSAGE_SLACK);
        let timeout = self.settings.action_timeout();
        let mut queue: VecDeque<usize> = (0..staged.done.len())
            .filter(|i| !staged.done[*i])
            .collect();
        let mut in_flight: JoinSet<ChunkAnswer> = JoinSet::new();
        let mut failure: Option<TaskError> = None;
        loop {
            let limit = usize::try_from(self.settings.max_concurrent_chunks().max(1)).unwrap_or(1);
            while failure.is_none() && in_flight.len() < limit {
                let Some(i) = queue.pop_front() else { break };
                let Some(range) = session.chunk_range(i as u64) else {
                    continue;
                };
                self.throttle.acquire(range.1).await;
                if std::mem::replace(&mut staged.requested[i], true) {
                    self.stats.lock().chunks_retried += 1;
                }
                let (channel, id) = (channel.clone(), session.session_id.clone());
                let (file, want) = (staged.file.clone(), session.chunk_crc32[i]);
                in_flight.spawn(async move {
                    let call =
                        leader_client::get_copy_chunk(channel, &id, i as u64, max_message, timeout);
                    let fetched = match call.await {
                        Ok((data, crc)) => stage(file, data, crc, want, range).await,
                        Err(status) => Fetched::Call(status),
                    };
                    (i, fetched)
                });
            }
            let Some(joined) = in_flight.join_next().await else {
                break;
            };
            let (i, answer) = match joined {
                Ok(done) => done,
                Err(e) => {
                    failure.get_or_insert_with(|| {
                        TaskError::new("exception", format!("chunk request task failed: {e}"))
                    });
                    continue;
                }
            };
            match answer {
                Fetched::Staged => {
                    staged.done[i] = true;
                    self.failures = 0;
                    let len = session.chunk_range(i as u64).map_or(0, |(_, len)| len);
                    let mut stats = self.stats.lock();
                    stats.chunks_fetched += 1;
                    stats.bytes_copied += len;
                }
                Fetched::Mismatch => {
                    staged.mismatches[i] += 1;
                    self.stats.lock().crc_mismatches += 1;
                    warn!(
                        chunk = i,
                        attempt = staged.mismatches[i],
                        "bootstrap chunk failed its checksum, fetching it again"
                    );
                    if staged.mismatches[i] >= MAX_CRC_MISMATCHES {
                        return Round::Restart(format!(
                            "chunk [{i}] failed its checksum [{}] times",
                            staged.mismatches[i]
                        ));
                    }
                    queue.push_front(i);
                }
                Fetched::Write(e) => {
                    return Round::Fatal(TaskError::new(
                        "exception",
                        format!("cannot write the staged copy: {e}"),
                    ));
                }
                Fetched::Task(e) => {
                    failure.get_or_insert_with(|| {
                        TaskError::new("exception", format!("staging task failed: {e}"))
                    });
                }
                Fetched::Call(status) if is_session_not_found(&status) => {
                    return Round::Restart(status.message().to_owned());
                }
                Fetched::Call(status) => match classify(&status) {
                    ErrorKind::Fatal(e) => return Round::Fatal(e),
                    ErrorKind::Retryable(e) => {
                        failure.get_or_insert(e);
                    }
                },
            }
        }
        match failure {
            Some(e) => Round::Retry(e),
            None if staged.complete() => Round::Done,
            None => Round::Retry(TaskError::new("exception", "chunks still missing")),
        }
    }

    /// Releases the session on the leader (best effort: an expired session needs nothing).
    pub async fn close_session(&self) {
        let Some(staged) = &self.staged else { return };
        let Some(channel) = (self.channels)() else {
            return;
        };
        let id = &staged.session.session_id;
        match leader_client::close_copy_session(channel, id, self.settings.action_timeout()).await {
            Ok(()) => debug!(session = %id, "bootstrap copy session closed"),
            Err(s) => {
                debug!(session = %id, error = %s.message(), "closing the bootstrap copy session failed")
            }
        }
    }

    /// Drops the session: released on the leader, its staged file deleted.
    async fn discard(&mut self) {
        self.close_session().await;
        if let Some(staged) = self.staged.take() {
            let _ = std::fs::remove_file(&staged.path);
        }
    }

    /// Runs `call` until it succeeds or fails fatally, backing off between tries.
    pub async fn retrying<T, F, Fut>(&mut self, mut call: F) -> Result<T, ErrorKind>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ErrorKind>>,
    {
        loop {
            match call().await {
                Ok(v) => {
                    self.failures = 0;
                    return Ok(v);
                }
                Err(ErrorKind::Fatal(e)) => return Err(ErrorKind::Fatal(e)),
                Err(ErrorKind::Retryable(e)) => self.back_off(&e).await,
            }
        }
    }
}

/// Deletes the staged copies an earlier bootstrap of this shard left behind (and creates
/// the directory).
fn clear_staging(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == EXTENSION) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
