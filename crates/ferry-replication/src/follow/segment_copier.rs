//! The segment copier of one follower shard whose index has
//! `index.ferry.ccr.copy_segments`: it runs beside the shard-follow task's event loop and
//! keeps the shard's search index a copy of the leader shard's last search commit, so the
//! follower never re-indexes what it applies.
//!
//! One round: `GetSearchCommit` (long-polling while the leader's commit is the one
//! installed here, or asking the leader to cover what this shard has applied when a
//! refresh of the follower is waiting), fetch the files this shard lacks in chunks of
//! `ccr.indices.recovery.chunk_size`, `max_concurrent_file_chunks` at a time, each file
//! checked against its tantivy checksum; wait until the shard's checkpoint reaches the
//! commit's `max_seq_no` (search never shows a document the shard cannot fetch); install.
//! A failure wakes waiting refreshes and is retried after a jittered back-off capped by
//! `max_retry_delay`; the reason shows in `_ccr/stats` (`segment_copy.last_failure`).
//!
//! Deliberately not here: file format and installation (`ferry_index::SegmentCopy`), the
//! leader side (`crate::leader::search_commits`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_index::SegmentCopy;
use ferry_proto::v1 as pb;
use ferry_proto::v1::replication_client::ReplicationClient;
use futures::StreamExt as _;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::watch;
use tonic::transport::Channel;
use tracing::{debug, info, warn};

use super::backoff::{RandJitter, retry_delay};
use super::events::{ErrorKind, TaskError};
use super::leader_client::classify;
use super::runner::not_connected;
use super::task::{FollowerShard, ShardFollowConfig};
use crate::remote::RemoteClusters;

/// Deadline of a file read, on top of nothing else (reads are not throttled).
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest file chunk asked for in one read.
const MAX_CHUNK: u64 = 16 << 20;

/// A follower shard's segment copy and its global checkpoint.
pub struct CopyTarget {
    /// The copy to install commits into.
    pub copy: Arc<SegmentCopy>,
    /// The shard's global checkpoint, as it advances.
    pub checkpoint: watch::Receiver<i64>,
}

/// The `segment_copy` object of a shard's `_ccr/stats` (Ferry's addition).
#[derive(Debug, Default, Clone)]
pub struct SegmentCopyStats {
    /// Leader commits installed.
    pub commits_installed: u64,
    /// The seq_no the installed commit covers (-1: none).
    pub installed_seq_no: i64,
    /// Files fetched.
    pub files_copied: u64,
    /// Bytes fetched.
    pub bytes_copied: u64,
    /// Time spent fetching files.
    pub copy_millis: u64,
    /// Failed rounds.
    pub failures: u64,
    /// The last failure, if the last round failed.
    pub last_failure: Option<TaskError>,
}

impl SegmentCopyStats {
    /// The stats object.
    pub fn to_es_json(&self) -> Value {
        let mut v = json!({
            "commits_installed": self.commits_installed,
            "installed_seq_no": self.installed_seq_no,
            "files_copied": self.files_copied,
            "bytes_copied": self.bytes_copied,
            "copy_millis": self.copy_millis,
            "failures": self.failures,
        });
        if let Some(e) = &self.last_failure {
            v["last_failure"] = json!({"type": e.es_type, "reason": e.reason});
        }
        v
    }
}

fn retryable(kind: &str, reason: impl Into<String>) -> ErrorKind {
    ErrorKind::Retryable(TaskError::new(kind, reason))
}

fn storage(e: &ferry_index::IndexError) -> ErrorKind {
    retryable(e.es_type(), e.to_string())
}

/// The copier of one shard task.
pub(super) struct SegmentCopier<S> {
    pub(super) config: ShardFollowConfig,
    pub(super) remotes: Arc<RemoteClusters>,
    pub(super) shard: Arc<S>,
    pub(super) stats: Arc<Mutex<SegmentCopyStats>>,
}

impl<S: FollowerShard> SegmentCopier<S> {
    /// Copies commits until dropped (the task's event loop ending drops it). Returns at
    /// once, never to be polled again, when the shard indexes for itself.
    pub(super) async fn run(self) {
        let mut jitter = RandJitter::from_os();
        let mut retries = 0u32;
        let mut history_uuid = String::new();
        let mut have: Option<(u32, Arc<SegmentCopy>)> = None;
        loop {
            // Attached until the next round, back-off included: a refresh waits for it.
            let mut _attached = None;
            let round = match self.shard.copy_target() {
                Ok(Some(target)) => {
                    _attached = Some(target.copy.attach());
                    // The installed commit, read from disk when the copy is new to this
                    // task (a reopened index is a new copy).
                    let crc = match &have {
                        Some((crc, copy)) if Arc::ptr_eq(copy, &target.copy) => *crc,
                        _ => target.copy.search().commit_crc32().unwrap_or(0),
                    };
                    let done = self.round(&target, crc, &mut history_uuid).await;
                    if done.is_err() {
                        target.copy.failed();
                    }
                    done.map(|next| have = Some((next, target.copy.clone())))
                }
                Ok(None) => return std::future::pending().await,
                Err(e) => Err(e),
            };
            match round {
                Ok(()) => {
                    retries = 0;
                    self.stats.lock().last_failure = None;
                }
                Err(ErrorKind::Fatal(e) | ErrorKind::Retryable(e)) => {
                    debug!(kind = %e.es_type, reason = %e.reason, "segment copy round failed");
                    {
                        let mut st = self.stats.lock();
                        st.failures += 1;
                        st.last_failure = Some(e);
                    }
                    retries += 1;
                    let cap = self.config.params.max_retry_delay.duration();
                    tokio::time::sleep(retry_delay(retries, cap, &mut jitter)).await;
                }
            }
        }
    }

    /// One round; answers the CRC-32 of the commit installed afterwards.
    async fn round(
        &self,
        target: &CopyTarget,
        have: u32,
        history_uuid: &mut String,
    ) -> Result<u32, ErrorKind> {
        let mut progress = target.copy.subscribe();
        let asked = *progress.borrow_and_update();
        let refresh_to = if asked.wanted > asked.installed {
            asked.wanted
        } else {
            -1
        };
        let poll = if refresh_to >= 0 {
            Duration::ZERO
        } else {
            self.config.params.read_poll_timeout.duration()
        };
        let channel = self.channel()?;
        let call = self.get_commit(channel.clone(), have, refresh_to, poll, history_uuid);
        let commit = tokio::select! {
            answer = call => answer?,
            // A refresh asked for more while this call long-polls: ask again, now for it.
            _ = progress.wait_for(|p| p.wanted > asked.wanted.max(p.installed)), if refresh_to < 0 => {
                return Ok(have);
            }
        };
        if commit.crc32 == have || commit.meta.is_empty() {
            return Ok(have);
        }
        if history_uuid.is_empty() {
            history_uuid.clone_from(&commit.history_uuid);
        }
        self.fetch(&target.copy, channel, &commit).await?;
        let mut checkpoint = target.checkpoint.clone();
        let needed = commit.max_seq_no.max(commit.seq_no);
        if checkpoint.wait_for(|c| *c >= needed).await.is_err() {
            return Err(retryable(
                "index_closed_exception",
                "the follower shard closed while a search commit waited for its operations",
            ));
        }
        let copy = target.copy.clone();
        let names: Vec<String> = commit.files.iter().map(|f| f.name.clone()).collect();
        let meta = commit.meta.clone();
        let covered = tokio::task::spawn_blocking(move || copy.install(&meta, &names))
            .await
            .map_err(|e| {
                retryable(
                    "exception",
                    format!("installing a search commit failed: {e}"),
                )
            })?
            .map_err(|e| storage(&e))?;
        let mut st = self.stats.lock();
        st.commits_installed += 1;
        st.installed_seq_no = covered;
        Ok(commit.crc32)
    }

    fn channel(&self) -> Result<Channel, ErrorKind> {
        self.remotes
            .channel(&self.config.remote_cluster)
            .ok_or_else(|| not_connected(&self.config.remote_cluster))
    }

    async fn get_commit(
        &self,
        channel: Channel,
        have: u32,
        refresh_to: i64,
        poll: Duration,
        history_uuid: &str,
    ) -> Result<pb::GetSearchCommitResponse, ErrorKind> {
        let mut client = ReplicationClient::new(channel).max_decoding_message_size(64 << 20);
        let mut req = tonic::Request::new(pb::GetSearchCommitRequest {
            leader_index: self.config.leader_index.clone(),
            shard: self.config.shard,
            expected_history_uuid: history_uuid.to_owned(),
            have_crc32: have,
            refresh_to_seq_no: refresh_to,
            poll_timeout_millis: u64::try_from(poll.as_millis()).unwrap_or(u64::MAX),
        });
        req.set_timeout(poll + READ_TIMEOUT);
        client
            .get_search_commit(req)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| classify(&s))
    }

    /// Fetches every file of `commit` the copy lacks.
    async fn fetch(
        &self,
        copy: &Arc<SegmentCopy>,
        channel: Channel,
        commit: &pb::GetSearchCommitResponse,
    ) -> Result<(), ErrorKind> {
        let started = Instant::now();
        let chunk = self.config.recovery.chunk_size().clamp(1024, MAX_CHUNK);
        let in_flight = usize::try_from(self.config.recovery.max_concurrent_chunks())
            .unwrap_or(1)
            .max(1);
        let mut missing = Vec::new();
        for f in &commit.files {
            if !copy.search().has_file(&f.name).map_err(|e| storage(&e))? {
                missing.push(f);
            }
        }
        // Every chunk of every missing file, `in_flight` at a time across files (a commit
        // is mostly small files); a file is checked and synced as soon as its last chunk
        // is written, beside the reads still running.
        let mut remaining: Vec<u64> = missing
            .iter()
            .map(|f| f.length.div_ceil(chunk).max(1))
            .collect();
        let chunks: Vec<(usize, u64)> = missing
            .iter()
            .enumerate()
            .flat_map(|(i, _)| (0..remaining[i]).map(move |c| (i, c * chunk)))
            .collect();
        let copier = self;
        let reads = futures::stream::iter(chunks).map(|(i, offset)| {
            let channel = channel.clone();
            let copy = copy.clone();
            let file = missing[i];
            async move {
                let len = chunk.min(file.length - offset.min(file.length));
                let data = copier
                    .read(channel, commit.crc32, &file.name, offset, len)
                    .await?;
                let got = data.len() as u64;
                if got != len {
                    return Err(retryable(
                        "exception",
                        format!(
                            "leader sent {got} bytes of [{}] at {offset}, not {len}",
                            file.name
                        ),
                    ));
                }
                let name = file.name.clone();
                tokio::task::spawn_blocking(move || copy.search().write_part(&name, offset, &data))
                    .await
                    .map_err(|e| {
                        retryable("exception", format!("writing a search file failed: {e}"))
                    })?
                    .map_err(|e| storage(&e))?;
                Ok::<(usize, u64), ErrorKind>((i, got))
            }
        });
        let mut reads = reads.buffer_unordered(in_flight);
        let mut finishing = tokio::task::JoinSet::new();
        while let Some(read) = reads.next().await {
            let (i, got) = read?;
            self.stats.lock().bytes_copied += got;
            remaining[i] -= 1;
            if remaining[i] == 0 {
                let (c, name, len) = (copy.clone(), missing[i].name.clone(), missing[i].length);
                finishing.spawn_blocking(move || c.search().finish_file(&name, len));
            }
        }
        while let Some(done) = finishing.join_next().await {
            done.map_err(|e| {
                retryable("exception", format!("checking a search file failed: {e}"))
            })?
            .map_err(|e| storage(&e))?;
            self.stats.lock().files_copied += 1;
        }
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.stats.lock().copy_millis += millis;
        let bytes: u64 = missing.iter().map(|f| f.length).sum();
        if bytes > 64 << 20 {
            info!(
                files = missing.len(),
                bytes,
                millis,
                seq_no = commit.seq_no,
                "copied a large search commit"
            );
        }
        Ok(())
    }

    async fn read(
        &self,
        channel: Channel,
        crc32: u32,
        name: &str,
        offset: u64,
        len: u64,
    ) -> Result<bytes::Bytes, ErrorKind> {
        let mut client =
            ReplicationClient::new(channel).max_decoding_message_size(MAX_CHUNK as usize + 1024);
        let mut req = tonic::Request::new(pb::ReadSearchFileRequest {
            leader_index: self.config.leader_index.clone(),
            shard: self.config.shard,
            crc32,
            name: name.to_owned(),
            offset,
            length: u32::try_from(len).unwrap_or(u32::MAX),
        });
        req.set_timeout(READ_TIMEOUT);
        // Every failure is retried by asking for the current commit again (see `run`).
        match client.read_search_file(req).await {
            Ok(r) => Ok(r.into_inner().data),
            Err(s) => {
                if super::leader_client::is_session_not_found(&s) {
                    warn!(
                        file = name,
                        "the leader let go of a search commit being copied; asking for the current one"
                    );
                }
                Err(classify(&s))
            }
        }
    }
}
