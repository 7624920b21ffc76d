//! [`SearchCommits`]: the leader side of segment copies. A follower index with
//! `index.ferry.ccr.copy_segments` does not index what it applies; it copies the leader
//! shard's tantivy segments instead. `GetSearchCommit` describes the shard's last durable
//! search commit and holds its files open here, keyed by the commit's CRC-32, until no
//! read touched it for `recovery_activity_timeout`, so a commit or merge on the leader
//! cannot delete a file under a follower still copying it. `ReadSearchFile` is a
//! positional read of a held file.
//!
//! A follower that has the current commit long-polls on the shard's commit counter (woken
//! by the next refresh, not by a timer). A follower refreshed by its own users asks the
//! leader to cover what it has applied (`refresh_to_seq_no`). Reads are not throttled:
//! like `ReadOps`, this is ongoing replication, not a bootstrap copy.
//!
//! Deliberately not here: the file format and the commit description (ferry-index) and
//! the gRPC edge ([`super::service`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_index::SearchCommit;
use parking_lot::Mutex;

use super::{LeaderError, LeaderShards};
use crate::recovery::RecoverySettings;

/// Most bytes one `ReadSearchFile` answers.
pub const MAX_READ: usize = 16 << 20;
/// Most commits held per shard (each holds its files open); the least recently used goes
/// first, and a follower still copying it asks for the current commit again.
const HELD_PER_SHARD: usize = 4;

/// What a follower asks `GetSearchCommit` for.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    /// The leader index.
    pub index: String,
    /// The shard number.
    pub shard: u32,
    /// The history UUID the follower follows (empty: any).
    pub expected_history_uuid: String,
    /// The commit the follower has (0: none).
    pub have_crc32: u32,
    /// Refresh the shard first unless its commit covers this seq_no (-1: no).
    pub refresh_to_seq_no: i64,
    /// How long to wait while the shard's commit is `have_crc32`.
    pub poll_timeout: Duration,
}

/// A held commit and when a follower last used it.
struct Held {
    commit: SearchCommit,
    last_used: Instant,
}

/// The search commits this leader node holds open for copying followers.
pub struct SearchCommits {
    settings: Arc<RecoverySettings>,
    held: Mutex<HashMap<(String, u32, u32), Held>>,
}

impl std::fmt::Debug for SearchCommits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchCommits")
            .field("held", &self.held.lock().len())
            .finish_non_exhaustive()
    }
}

impl SearchCommits {
    /// Holds commits for `recovery_activity_timeout` of `settings` after their last use.
    pub fn new(settings: Arc<RecoverySettings>) -> Self {
        Self {
            settings,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// The shard's last commit, once it is not `have_crc32` (held open from now on), with
    /// the shard's history UUID; `None` when the poll timed out on the same commit.
    pub async fn get(
        &self,
        shards: &dyn LeaderShards,
        req: &CommitRequest,
    ) -> Result<(Option<SearchCommit>, String), LeaderError> {
        self.reap();
        // The index is looked up again after every wait and never held across one, so a
        // parked poll does not keep a closed index open.
        let (mut commits, history_uuid) = {
            let leader = shards.shard(&req.index, req.shard)?;
            let shard = leader.shard();
            let history_uuid = shard.history_uuid().to_owned();
            if !req.expected_history_uuid.is_empty() && req.expected_history_uuid != history_uuid {
                return Err(LeaderError::HistoryUuidMismatch {
                    expected: req.expected_history_uuid.clone(),
                    actual: history_uuid,
                });
            }
            if req.refresh_to_seq_no >= 0 {
                shard.refresh_to(req.refresh_to_seq_no).await?;
            }
            (shard.subscribe_search_commits(), history_uuid)
        };
        let deadline = tokio::time::Instant::now() + req.poll_timeout;
        loop {
            commits.borrow_and_update();
            let commit = shards
                .shard(&req.index, req.shard)?
                .shard()
                .search_commit()
                .await?;
            if commit.crc32 != req.have_crc32 {
                self.hold(req, &commit);
                return Ok((Some(commit), history_uuid));
            }
            match tokio::time::timeout_at(deadline, commits.changed()).await {
                Ok(Ok(())) => {}
                // Timed out, or the shard closed: the follower asks again.
                Ok(Err(_)) | Err(_) => return Ok((None, history_uuid)),
            }
        }
    }

    /// Up to `len` bytes (at most [`MAX_READ`]) of file `name` of a held commit, from
    /// `offset` on.
    pub async fn read(
        &self,
        index: &str,
        shard: u32,
        crc32: u32,
        name: &str,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, LeaderError> {
        let file = {
            let mut held = self.held.lock();
            let key = (index.to_owned(), shard, crc32);
            let h = held.get_mut(&key).ok_or_else(|| {
                LeaderError::SessionNotFound(format!("{index}/{shard}/{crc32:08x}"))
            })?;
            h.last_used = Instant::now();
            h.commit
                .files
                .iter()
                .find(|f| f.name == name)
                .cloned()
                .ok_or_else(|| {
                    LeaderError::Validation(vec![format!(
                        "file [{name}] is not in search commit [{crc32:08x}]"
                    )])
                })?
        };
        let len = len.min(MAX_READ);
        let data = tokio::task::spawn_blocking(move || file.read_at(offset, len))
            .await
            .map_err(|e| LeaderError::Unavailable(format!("search file read failed: {e}")))??;
        Ok(Bytes::from(data))
    }

    fn hold(&self, req: &CommitRequest, commit: &SearchCommit) {
        let mut held = self.held.lock();
        let key = (req.index.clone(), req.shard, commit.crc32);
        let last_used = Instant::now();
        let commit = commit.clone();
        held.insert(key, Held { commit, last_used });
        let mut of_shard: Vec<((String, u32, u32), Instant)> = held
            .iter()
            .filter(|((i, s, _), _)| *i == req.index && *s == req.shard)
            .map(|(k, h)| (k.clone(), h.last_used))
            .collect();
        if of_shard.len() > HELD_PER_SHARD {
            of_shard.sort_by_key(|(_, used)| *used);
            for (k, _) in of_shard.iter().take(of_shard.len() - HELD_PER_SHARD) {
                held.remove(k);
            }
        }
    }

    /// Lets go of commits no follower used for `recovery_activity_timeout`.
    fn reap(&self) {
        let idle = self.settings.activity_timeout();
        self.held.lock().retain(|_, h| h.last_used.elapsed() < idle);
    }
}
