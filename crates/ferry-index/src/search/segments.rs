//! Copying a shard's search index by its segment files, for a follower that does not
//! re-index its leader's documents.
//!
//! Leader side: [`ShardSearchIndex::last_commit`] describes the last durable commit
//! (tantivy's `meta.json` and the seq_nos its payload claims) and opens every file the
//! commit names, so those files stay readable after a later commit or merge deletes them.
//!
//! Follower side: a file arrives as `<name>.part`, written at offsets in any order
//! ([`ShardSearchIndex::write_part`]); [`ShardSearchIndex::finish_file`] checks its length
//! and tantivy's footer checksum, syncs it and renames it to its name (segment files are
//! immutable and uniquely named, so a name present is a file complete). Then
//! [`ShardSearchIndex::install`] checks the schema, switches `meta.json` atomically,
//! reloads the reader, takes the commit's text slots and seq_nos, deletes the files no
//! longer named and records the live ones in `.managed.json`, so that a writer opened on
//! the directory later (an unfollowed index) manages them as its own.
//!
//! Deciding when a commit may be installed (once the shard has applied every operation
//! it holds) is the caller's.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use tantivy::schema::Schema;

use super::schema::build_schema;
use super::shard_index::{ShardSearchIndex, parse_payload};
use crate::feed::as_i64;
use crate::{IndexError, Result};

/// tantivy's commit file.
const META: &str = "meta.json";
/// tantivy's list of the files it manages (and may delete).
const MANAGED: &str = ".managed.json";
/// Suffix of a file still being copied.
const PART: &str = ".part";
/// How many times a leader re-reads a commit that changed while its files were opened.
const ATTEMPTS: usize = 20;

fn storage(e: impl std::fmt::Display) -> IndexError {
    IndexError::storage(e)
}

/// One file of a search commit, held open.
#[derive(Debug)]
pub struct CommitFile {
    /// The file's name in the search directory.
    pub name: String,
    /// Its length in bytes.
    pub len: u64,
    file: File,
}

impl CommitFile {
    /// Up to `len` bytes from `offset` (fewer at the end of the file).
    pub fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        if offset > self.len {
            return Err(IndexError::IllegalArgument(format!(
                "offset [{offset}] is past the end of [{}] ({} bytes)",
                self.name, self.len
            )));
        }
        let n = usize::try_from(self.len - offset).map_or(len, |rest| rest.min(len));
        let mut buf = vec![0; n];
        self.file.read_exact_at(&mut buf, offset).map_err(storage)?;
        Ok(buf)
    }
}

/// The last durable commit of a shard's search index, its files held open.
#[derive(Debug, Clone)]
pub struct SearchCommit {
    /// tantivy's opstamp of the commit.
    pub opstamp: u64,
    /// The commit's `meta.json`, as a follower installs it.
    pub meta: bytes::Bytes,
    /// CRC-32 of `meta`: the commit's identity (a merge changes it without a new opstamp).
    pub crc32: u32,
    /// Every operation up to this seq_no is in the commit (-1: none).
    pub seq_no: i64,
    /// No operation above this seq_no is in it (at or above `seq_no`; `i64::MAX` when
    /// the commit does not say).
    pub max_seq_no: i64,
    /// The files the commit names.
    pub files: Vec<Arc<CommitFile>>,
}

/// A file name a commit may carry: no path, no hidden file, not the commit itself.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name != META
        && !name.ends_with(PART)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(IndexError::IllegalArgument(format!(
            "[{name}] is not a search segment file name"
        )))
    }
}

/// Writes `data` to `dir/name` atomically and durably.
fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<()> {
    let mut tmp = tempfile_in(dir)?;
    tmp.1.write_all(data).map_err(storage)?;
    tmp.1.sync_data().map_err(storage)?;
    std::fs::rename(&tmp.0, dir.join(name)).map_err(storage)
}

/// A new hidden temporary file in `dir` (hidden: never taken for a segment file).
fn tempfile_in(dir: &Path) -> Result<(std::path::PathBuf, File)> {
    for n in 0..1_000u32 {
        let path = dir.join(format!(".install-{}-{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(storage(e)),
        }
    }
    Err(IndexError::Storage(format!(
        "no free temporary file name in {}",
        dir.display()
    )))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(storage)
}

impl ShardSearchIndex {
    /// Describes the last durable commit and opens every file it names.
    pub fn last_commit(&self) -> Result<SearchCommit> {
        for _ in 0..ATTEMPTS {
            let metas = self.index.load_metas().map_err(storage)?;
            let meta = serde_json::to_vec_pretty(&metas).map_err(storage)?;
            let mut files = Vec::new();
            for path in metas.list_segment_files() {
                let name = path.to_string_lossy().into_owned();
                match File::open(self.dir.join(&path)) {
                    Ok(file) => {
                        let len = file.metadata().map_err(storage)?.len();
                        files.push(Arc::new(CommitFile { name, len, file }));
                    }
                    // A component this segment does not have, or a file a newer commit
                    // deleted: told apart below.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(storage(e)),
                }
            }
            // The files of the current commit are never deleted: if it is still the
            // commit read above, every file it has is open.
            let again = serde_json::to_vec_pretty(&self.index.load_metas().map_err(storage)?)
                .map_err(storage)?;
            if again != meta {
                continue;
            }
            let payload = parse_payload(metas.payload.as_deref())?;
            files.sort_by(|a, b| a.name.cmp(&b.name));
            return Ok(SearchCommit {
                opstamp: metas.opstamp,
                crc32: crc32fast::hash(&meta),
                meta: bytes::Bytes::from(meta),
                seq_no: as_i64(payload.seq_no),
                max_seq_no: as_i64(payload.max_seq_no),
                files,
            });
        }
        Err(IndexError::Unavailable(
            "the search index kept changing while its commit was read".into(),
        ))
    }

    /// The identity (CRC-32 of `meta.json`) of the commit installed or made here last.
    pub fn commit_crc32(&self) -> Result<u32> {
        let meta = std::fs::read(self.dir.join(META)).map_err(storage)?;
        Ok(crc32fast::hash(&meta))
    }

    /// Whether the commit file `name` is here, complete.
    pub fn has_file(&self, name: &str) -> Result<bool> {
        check_name(name)?;
        Ok(self.dir.join(name).is_file())
    }

    /// Writes `data` at `offset` of the file `name` being copied.
    pub fn write_part(&self, name: &str, offset: u64, data: &[u8]) -> Result<()> {
        check_name(name)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(format!("{name}{PART}")))
            .map_err(storage)?;
        file.write_all_at(data, offset).map_err(storage)
    }

    /// Ends the copy of `name`: checks its length and checksum, syncs it and gives it its
    /// name. A damaged copy is deleted (copy it again).
    pub fn finish_file(&self, name: &str, len: u64) -> Result<()> {
        check_name(name)?;
        let part_name = format!("{name}{PART}");
        let part = self.dir.join(&part_name);
        let file = File::open(&part).map_err(storage)?;
        let got = file.metadata().map_err(storage)?.len();
        let intact = got == len
            && self
                .index
                .directory()
                .validate_checksum(Path::new(&part_name))
                .unwrap_or(false);
        if !intact {
            let _ = std::fs::remove_file(&part);
            return Err(IndexError::Storage(format!(
                "copied search file [{name}] is damaged ({got} of {len} bytes, or a bad checksum)"
            )));
        }
        file.sync_all().map_err(storage)?;
        std::fs::rename(&part, self.dir.join(name)).map_err(storage)
    }

    /// Installs a leader's commit whose `files` are all here: switches `meta.json`, makes
    /// the commit searchable and deletes every file it does not name. Answers the seq_no
    /// the commit covers.
    pub fn install(&self, meta: &[u8], files: &[String]) -> Result<i64> {
        if !self.is_copy() {
            return Err(IndexError::Storage(
                "a search index with a writer does not install copied commits".into(),
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(meta)
            .map_err(|e| IndexError::Storage(format!("unreadable copied search commit: {e}")))?;
        let schema: Schema = serde_json::from_value(v["schema"].clone())
            .map_err(|e| IndexError::Storage(format!("unreadable copied search schema: {e}")))?;
        if schema != build_schema() {
            return Err(IndexError::IllegalArgument(
                "the leader's search index has another schema (another Ferry version); \
                 follow with [index.ferry.ccr.copy_segments: false]"
                    .into(),
            ));
        }
        let payload = parse_payload(v["payload"].as_str())?;
        let mut live: HashSet<&str> = HashSet::with_capacity(files.len() + 1);
        for name in files {
            if !self.has_file(name)? {
                return Err(IndexError::Storage(format!(
                    "search file [{name}] of the commit to install is missing"
                )));
            }
            live.insert(name);
        }
        sync_dir(&self.dir)?;
        write_atomic(&self.dir, META, meta)?;
        sync_dir(&self.dir)?;
        self.reader.reload().map_err(storage)?;
        self.slots.replace(payload.text_slots);
        let covered = as_i64(payload.seq_no);
        {
            let mut st = self.state.lock();
            st.committed = payload.seq_no;
            st.committed_max = payload.max_seq_no;
        }
        self.commits.send_modify(|n| *n += 1);
        self.sweep(&live)?;
        live.insert(META);
        let mut managed: Vec<&str> = live.into_iter().collect();
        managed.sort_unstable();
        let json = serde_json::to_vec(&managed).map_err(storage)?;
        write_atomic(&self.dir, MANAGED, &json)?;
        Ok(covered)
    }

    /// Deletes every file of the search directory that is neither hidden, the commit,
    /// nor named in `live` (the reader keeps what it maps until it lets go).
    fn sweep(&self, live: &HashSet<&str>) -> Result<()> {
        for entry in std::fs::read_dir(&self.dir).map_err(storage)? {
            let entry = entry.map_err(storage)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || name == META || live.contains(name) {
                continue;
            }
            if entry.file_type().is_ok_and(|t| t.is_file())
                && let Err(e) = std::fs::remove_file(entry.path())
            {
                tracing::warn!(file = name, error = %e, "cannot delete an old search file");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
