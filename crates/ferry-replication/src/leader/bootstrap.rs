//! [`CopySessions`]: the leader side of CCR bootstrap ("remote recovery", spec `ccr.md`
//! §6). A session pins a point-in-time copy of one leader shard for one bootstrapping
//! follower: opening it writes the shard's live documents (`Shard::write_copy_parts`, one
//! thread per core) into session files, one per part, then computes a CRC-32 per chunk of
//! the parts read as one ([`CopyFile`]), so every checksum is known before the first chunk
//! is served and the copy cannot change under the follower. Chunks are then
//! positional reads of that whole, in any order and as often as asked, paced by the node's
//! shared [`Throttle`] (`ccr.indices.recovery.max_bytes_per_sec`).
//!
//! The follower names the session: opening an id that is open, or still being written,
//! answers that same copy, so an open that outlived its deadline or lost its connection is
//! retried without writing a second copy (the copy is written by a task of its own, not
//! by the call). A session idle for longer than `recovery_activity_timeout` is closed by a
//! reaper; closing deletes the file once no chunk read uses it any more; files left by an
//! earlier run are deleted at construction.
//!
//! A session also answers the index's mapping and metadata versions, read after the copy
//! was written, so they are at least as new as its documents (ES copies the index
//! metadata with the files).
//!
//! Deliberately not here: the copy format (ferry-index), retention leases (the follower
//! takes its lease before it opens a session), and the gRPC edge ([`super::service`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_index::IndexError;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{Instrument as _, debug, info, info_span, warn};

use super::copy_file::{self, CopyFile, copy_parts};
use super::throttle::Throttle;
use super::{LeaderError, LeaderShard, LeaderShards};
use crate::recovery::RecoverySettings;

/// The smallest and largest chunk a session cuts (ES's range of `chunk_size`).
const CHUNK_RANGE: (u64, u64) = (1024, 1 << 30);
/// Session files end in this; anything else in the directory is left alone.
const EXTENSION: &str = "copy";

/// The description of a pinned copy, as `OpenCopySession` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyDescription {
    /// The session id.
    pub session_id: String,
    /// Every seq_no up to here is in the copy (-1: empty shard).
    pub checkpoint: i64,
    /// The shard's highest seq_no at the copy (-1: none).
    pub max_seq_no: i64,
    /// The shard's history UUID.
    pub history_uuid: String,
    /// The index's mapping version, read after the copy was written.
    pub mapping_version: u64,
    /// The index's settings version, read after the copy was written.
    pub settings_version: u64,
    /// Length of the copy.
    pub total_bytes: u64,
    /// Bytes per chunk (the last one may be shorter).
    pub chunk_size: u64,
    /// CRC-32 of each chunk.
    pub chunk_crc32: Vec<u32>,
    /// Documents in the copy.
    pub docs: u64,
    /// The index's mapping (ES JSON), read after the copy was written.
    pub mapping: serde_json::Value,
}

impl CopyDescription {
    /// Offset and length of chunk `i`, if there is one.
    pub fn chunk_range(&self, i: u64) -> Option<(u64, u64)> {
        let offset = i.checked_mul(self.chunk_size)?;
        (i < self.chunk_crc32.len() as u64).then(|| {
            let len = self.total_bytes.saturating_sub(offset);
            (offset, self.chunk_size.min(len))
        })
    }
}

/// One written copy. Its files are deleted when the last user lets go.
struct Session {
    desc: CopyDescription,
    file: CopyFile,
    last_active: Mutex<Instant>,
}

impl Session {
    fn touch(&self) {
        *self.last_active.lock() = Instant::now();
    }
}

#[derive(Clone)]
enum SlotState {
    Building,
    Ready(Arc<Session>),
    Failed(LeaderError),
}

/// A session id's entry: which shard it copies and how far its copy is.
struct Slot {
    index: String,
    shard: u32,
    state: watch::Receiver<SlotState>,
}

/// The copy sessions of one leader node.
pub struct CopySessions {
    dir: PathBuf,
    settings: Arc<RecoverySettings>,
    throttle: Throttle,
    slots: Mutex<HashMap<String, Slot>>,
    reaper: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for CopySessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopySessions")
            .field("dir", &self.dir)
            .field("sessions", &self.slots.lock().len())
            .finish_non_exhaustive()
    }
}

impl Drop for CopySessions {
    fn drop(&mut self) {
        if let Some(reaper) = self.reaper.lock().take() {
            reaper.abort();
        }
    }
}

fn storage(context: &str, e: impl std::fmt::Display) -> LeaderError {
    LeaderError::Index(IndexError::Storage(format!("{context}: {e}")))
}

fn validate_id(id: &str) -> Result<(), LeaderError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(LeaderError::Validation(vec![format!(
            "session_id [{id}] must be 1 to 64 letters, digits, '-' or '_'"
        )]))
    }
}

impl CopySessions {
    /// The sessions of a node keeping their files in `dir` (created if missing; copy
    /// files an earlier run left there are deleted). Inside a tokio runtime it also starts
    /// the reaper of idle sessions, which ends when the returned value is dropped.
    pub fn new(
        dir: impl Into<PathBuf>,
        settings: Arc<RecoverySettings>,
    ) -> std::io::Result<Arc<Self>> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == EXTENSION) {
                std::fs::remove_file(&path)?;
                info!(path = %path.display(), "deleted a stale copy session file");
            }
        }
        let this = Arc::new(Self {
            dir,
            throttle: Throttle::new(settings.clone()),
            settings,
            slots: Mutex::new(HashMap::new()),
            reaper: Mutex::new(None),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let reaper = rt.spawn(reap_forever(Arc::downgrade(&this)));
            *this.reaper.lock() = Some(reaper);
        }
        Ok(this)
    }

    /// The node's live copy settings.
    pub fn settings(&self) -> &Arc<RecoverySettings> {
        &self.settings
    }

    /// The directory holding the session files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node's chunk throttle (its counters show what was served).
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Sessions open or being written.
    pub fn len(&self) -> usize {
        self.slots.lock().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens session `id` on shard `shard` of `index` (or answers it when already open),
    /// cutting chunks of `chunk_size` bytes (0: the node's setting).
    pub async fn open(
        self: &Arc<Self>,
        shards: Arc<dyn LeaderShards>,
        id: &str,
        index: &str,
        shard: u32,
        chunk_size: u64,
    ) -> Result<CopyDescription, LeaderError> {
        validate_id(id)?;
        let mut state = match self.existing(id, index, shard)? {
            Some(state) => state,
            None => {
                let leader = shards.shard(index, shard)?;
                let chunk = match chunk_size {
                    0 => self.settings.chunk_size(),
                    n => n,
                }
                .clamp(CHUNK_RANGE.0, CHUNK_RANGE.1);
                self.start(shards, leader, id, index, chunk)?
            }
        };
        let settled = state
            .wait_for(|s| !matches!(s, SlotState::Building))
            .await
            .map(|s| s.clone())
            .map_err(|_| LeaderError::Unavailable(format!("session [{id}] was abandoned")))?;
        match settled {
            SlotState::Ready(session) => {
                session.touch();
                Ok(session.desc.clone())
            }
            SlotState::Failed(e) => Err(e),
            SlotState::Building => Err(LeaderError::IllegalState(format!(
                "session [{id}] is still writing its copy"
            ))),
        }
    }

    /// The state of an existing slot for `id`, checked to copy the same shard.
    fn existing(
        &self,
        id: &str,
        index: &str,
        shard: u32,
    ) -> Result<Option<watch::Receiver<SlotState>>, LeaderError> {
        self.slots
            .lock()
            .get(id)
            .map(|slot| same_shard(slot, id, index, shard))
            .transpose()
    }

    /// Registers `id` and starts writing its copy in a task of its own, so the copy
    /// outlives the call that asked for it (a concurrent open of the same id that
    /// registered first wins).
    fn start(
        self: &Arc<Self>,
        shards: Arc<dyn LeaderShards>,
        leader: LeaderShard,
        id: &str,
        index: &str,
        chunk: u64,
    ) -> Result<watch::Receiver<SlotState>, LeaderError> {
        let shard = leader.shard().number();
        let (tx, rx) = watch::channel(SlotState::Building);
        {
            let mut slots = self.slots.lock();
            if let Some(slot) = slots.get(id) {
                return same_shard(slot, id, index, shard);
            }
            let slot = Slot {
                index: index.to_owned(),
                shard,
                state: rx.clone(),
            };
            slots.insert(id.to_owned(), slot);
        }
        let this = self.clone();
        let id = id.to_owned();
        let mine = rx.clone();
        let span = info_span!("copy_session", session = %id, index = %index, shard);
        tokio::spawn(
            async move {
                match this.build(shards.as_ref(), leader, &id, chunk).await {
                    Ok(session) => {
                        let d = &session.desc;
                        info!(
                            bytes = d.total_bytes,
                            docs = d.docs,
                            chunks = d.chunk_crc32.len(),
                            checkpoint = d.checkpoint,
                            "copy session opened"
                        );
                        tx.send_replace(SlotState::Ready(Arc::new(session)));
                    }
                    Err(e) => {
                        warn!(error = %e, "writing a shard copy failed");
                        tx.send_replace(SlotState::Failed(e));
                        let mut slots = this.slots.lock();
                        if slots.get(&id).is_some_and(|s| s.state.same_channel(&mine)) {
                            slots.remove(&id);
                        }
                    }
                }
            }
            .instrument(span),
        );
        Ok(rx)
    }

    /// Writes the copy into the session files (in parts), checksums each chunk, then
    /// reads the index's metadata versions (so they are at least as new as the copy).
    async fn build(
        &self,
        shards: &dyn LeaderShards,
        leader: LeaderShard,
        id: &str,
        chunk: u64,
    ) -> Result<Session, LeaderError> {
        let target = self.dir.join(format!("{id}.{EXTENSION}"));
        let index = leader.index().name().to_owned();
        let shard = leader.shard().number();
        let written = tokio::task::spawn_blocking(move || {
            let (file, info) = copy_file::write_parts(leader.shard(), &target, copy_parts())?;
            let crcs = copy_file::chunk_crcs(&file, chunk)
                .map_err(|e| storage("cannot read a copy session file", e))?;
            Ok::<_, LeaderError>((file, crcs, info))
        })
        .await
        .map_err(|e| storage("the copy task failed", e))
        .and_then(|r| r);
        // On failure the copy's files are gone already.
        let (file, crcs, info) = written?;
        let total = file.len();
        let mut session = Session {
            desc: CopyDescription {
                session_id: id.to_owned(),
                checkpoint: info.checkpoint,
                max_seq_no: info.max_seq_no,
                history_uuid: info.history_uuid,
                mapping_version: 0,
                settings_version: 0,
                total_bytes: total,
                chunk_size: chunk,
                chunk_crc32: crcs,
                docs: info.docs,
                mapping: serde_json::Value::Null,
            },
            file,
            last_active: Mutex::new(Instant::now()),
        };
        // Dropping `session` on failure deletes its files.
        let after = shards.shard(&index, shard)?;
        session.desc.mapping_version = after.mapping_version;
        session.desc.settings_version = after.settings_version;
        session.desc.mapping = after.index().mapping().read().to_es_json();
        Ok(session)
    }

    fn ready(&self, id: &str) -> Result<Arc<Session>, LeaderError> {
        let slots = self.slots.lock();
        let slot = slots
            .get(id)
            .ok_or_else(|| LeaderError::SessionNotFound(id.to_owned()))?;
        let state = slot.state.borrow().clone();
        match state {
            SlotState::Ready(session) => Ok(session),
            SlotState::Building => Err(LeaderError::Unavailable(format!(
                "session [{id}] is still writing its copy"
            ))),
            SlotState::Failed(e) => Err(e),
        }
    }

    /// Chunk `i` of session `id` and its CRC-32 as computed when the copy was written.
    pub async fn chunk(&self, id: &str, i: u64) -> Result<(Bytes, u32), LeaderError> {
        let session = self.ready(id)?;
        session.touch();
        let desc = &session.desc;
        let Some((offset, len)) = desc.chunk_range(i) else {
            return Err(LeaderError::Validation(vec![format!(
                "chunk [{i}] is out of range: session [{id}] has [{}] chunks",
                desc.chunk_crc32.len()
            )]));
        };
        let crc = desc.chunk_crc32[i as usize];
        self.throttle.acquire(len).await;
        let reader = session.clone();
        let data = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
            reader.file.read_exact_at(&mut buf, offset).map(|()| buf)
        })
        .await
        .map_err(|e| storage("the chunk read task failed", e))?
        .map_err(|e| storage("cannot read a copy session file", e))?;
        session.touch();
        Ok((Bytes::from(data), crc))
    }

    /// Closes session `id` (its file goes once no read uses it).
    pub fn close(&self, id: &str) -> Result<(), LeaderError> {
        match self.slots.lock().remove(id) {
            Some(_) => {
                info!(session = %id, "copy session closed");
                Ok(())
            }
            None => Err(LeaderError::SessionNotFound(id.to_owned())),
        }
    }

    /// Closes every written session idle for longer than the activity timeout; answers
    /// their ids. Sessions still writing their copy are never idle.
    pub fn reap(&self) -> Vec<String> {
        let timeout = self.settings.activity_timeout();
        let mut slots = self.slots.lock();
        let idle: Vec<String> = slots
            .iter()
            .filter(|(_, slot)| match &*slot.state.borrow() {
                SlotState::Ready(s) => s.last_active.lock().elapsed() >= timeout,
                SlotState::Building | SlotState::Failed(_) => false,
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &idle {
            slots.remove(id);
            info!(session = %id, timeout_millis = timeout.as_millis(), "copy session expired");
        }
        idle
    }
}

fn same_shard(
    slot: &Slot,
    id: &str,
    index: &str,
    shard: u32,
) -> Result<watch::Receiver<SlotState>, LeaderError> {
    if slot.index == index && slot.shard == shard {
        Ok(slot.state.clone())
    } else {
        Err(LeaderError::Validation(vec![format!(
            "session [{id}] copies [{}][{}], not [{index}][{shard}]",
            slot.index, slot.shard
        )]))
    }
}

/// Runs [`CopySessions::reap`] a few times per activity timeout until the sessions are gone.
async fn reap_forever(sessions: Weak<CopySessions>) {
    loop {
        let pause = match sessions.upgrade() {
            Some(s) => {
                s.reap();
                (s.settings.activity_timeout() / 4)
                    .clamp(Duration::from_millis(10), Duration::from_secs(1))
            }
            None => return,
        };
        tokio::time::sleep(pause).await;
        debug!("copy session reaper tick");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_ranges_cover_the_copy_exactly() {
        let d = CopyDescription {
            session_id: "s".into(),
            checkpoint: 9,
            max_seq_no: 9,
            history_uuid: "h".into(),
            mapping_version: 1,
            settings_version: 1,
            total_bytes: 2500,
            chunk_size: 1024,
            chunk_crc32: vec![0, 0, 0],
            docs: 10,
            mapping: serde_json::json!({}),
        };
        assert_eq!(d.chunk_range(0), Some((0, 1024)));
        assert_eq!(d.chunk_range(2), Some((2048, 452)));
        assert_eq!(d.chunk_range(3), None);
        assert_eq!(d.chunk_range(u64::MAX), None);
    }

    #[test]
    fn session_ids_are_safe_file_names() {
        assert!(validate_id("a1-B_2").is_ok());
        for bad in ["", "../x", "a/b", "a.copy", &"x".repeat(65)] {
            let e = validate_id(bad).unwrap_err();
            assert_eq!(e.es_type(), "action_request_validation_exception");
        }
    }
}
