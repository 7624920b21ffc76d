//! The files of a copy session: the copy written in parts by several threads
//! ([`write_parts`]), one file per part, read as one file — the parts concatenated in
//! order ([`CopyFile`]) — and the CRC-32 of each fixed-size chunk of that whole
//! ([`chunk_crcs`]), so a session knows every chunk's checksum before it serves the first.
//!
//! Why the parts are not joined into one file: joining copied every part but the first
//! once more through the page cache (a third of the pinning time of a 280 MB copy); a
//! chunk that straddles two parts is simply read in two pieces.
//!
//! Deliberately not here: what the copy holds (ferry-index) and how chunks are served.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use ferry_index::{CopyInfo, IndexError, Shard};
use tracing::warn;

/// At most this many threads write one copy.
const MAX_PARTS: usize = 4;

/// How many parts (threads) a copy is written in: one per core, at most [`MAX_PARTS`].
pub(super) fn copy_parts() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, MAX_PARTS)
}

/// The file of part `i` of the copy in `main`: `main` itself for the first part, a file
/// beside it for the others (ids hold no '.', so no session's own file has such a name).
pub(super) fn part_path(main: &Path, i: usize) -> PathBuf {
    match i {
        0 => main.to_path_buf(),
        i => main.with_extension(format!("{i}.copy")),
    }
}

/// Creates (or empties) a part's file, open for writing and positional reads.
fn create_part(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// One part of a written copy: its file and where it sits in the whole.
struct Part {
    path: PathBuf,
    file: File,
    start: u64,
    len: u64,
}

/// A written copy, read as the concatenation of its parts' files; the files are
/// deleted when it is dropped.
pub(super) struct CopyFile {
    parts: Vec<Part>,
}

impl CopyFile {
    /// The whole copy's length in bytes.
    pub(super) fn len(&self) -> u64 {
        self.parts.last().map_or(0, |p| p.start + p.len)
    }

    /// Fills `buf` from `offset` of the whole copy (blocking IO); fails past its end.
    pub(super) fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
        for part in &self.parts {
            if buf.is_empty() {
                break;
            }
            let end = part.start + part.len;
            if offset >= end {
                continue;
            }
            let here = offset - part.start;
            let n = usize::try_from((end - offset).min(buf.len() as u64)).unwrap_or(buf.len());
            let (head, rest) = buf.split_at_mut(n);
            part.file.read_exact_at(head, here)?;
            buf = rest;
            offset += n as u64;
        }
        if buf.is_empty() {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("a copy of {} bytes has no byte at {offset}", self.len()),
            ))
        }
    }

    /// Sets each part's length and start from its file as written.
    fn measure(&mut self) -> std::io::Result<()> {
        let mut start = 0;
        for part in &mut self.parts {
            part.start = start;
            part.len = part.file.metadata()?.len();
            start += part.len;
        }
        Ok(())
    }
}

impl Drop for CopyFile {
    fn drop(&mut self) {
        for part in &self.parts {
            if let Err(e) = std::fs::remove_file(&part.path) {
                warn!(path = %part.path.display(), error = %e, "cannot delete a copy session file");
            }
        }
    }
}

/// Writes `shard`'s copy in `parts` parts, one thread each, into `main` and files beside
/// it. Answers the copy and what it holds. Blocking IO; on error every file it made is
/// gone.
pub(super) fn write_parts(
    shard: &Shard,
    main: &Path,
    parts: usize,
) -> Result<(CopyFile, CopyInfo), IndexError> {
    // Holds every file as soon as it exists, so an early return deletes it.
    let mut copy = CopyFile { parts: Vec::new() };
    let mut outs = Vec::with_capacity(parts.max(1));
    for i in 0..parts.max(1) {
        let path = part_path(main, i);
        let file = create_part(&path).map_err(|e| io("cannot create a copy session file", e))?;
        let writer = file.try_clone();
        copy.parts.push(Part {
            path,
            file,
            start: 0,
            len: 0,
        });
        let writer = writer.map_err(|e| io("cannot open a copy session file", e))?;
        outs.push(writer);
    }
    let info = {
        let mut refs: Vec<&mut (dyn std::io::Write + Send)> = outs
            .iter_mut()
            .map(|o| o as &mut (dyn std::io::Write + Send))
            .collect();
        shard.write_copy_parts(&mut refs)?
    };
    copy.measure()
        .map_err(|e| io("cannot stat a copy session file", e))?;
    if copy.len() != info.bytes {
        return Err(io(
            "a copy session file",
            format!("holds {} bytes, the copy wrote {}", copy.len(), info.bytes),
        ));
    }
    Ok((copy, info))
}

fn io(context: &str, e: impl std::fmt::Display) -> IndexError {
    IndexError::Storage(format!("{context}: {e}"))
}

/// The CRC-32 of each `chunk`-byte piece of `copy` (the last one possibly short), read
/// back in order.
pub(super) fn chunk_crcs(copy: &CopyFile, chunk: u64) -> std::io::Result<Vec<u32>> {
    let (len, chunk) = (copy.len(), chunk.max(1));
    let mut buf = vec![0u8; usize::try_from(chunk.min(len)).unwrap_or(usize::MAX)];
    let mut crcs = Vec::with_capacity(usize::try_from(len.div_ceil(chunk)).unwrap_or(0));
    let mut offset = 0;
    while offset < len {
        let n = usize::try_from(chunk.min(len - offset)).unwrap_or(usize::MAX);
        copy.read_exact_at(&mut buf[..n], offset)?;
        crcs.push(crc32fast::hash(&buf[..n]));
        offset += n as u64;
    }
    Ok(crcs)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// A copy of `pieces` as its parts, each in a file of `dir`.
    fn copy_of(dir: &Path, pieces: &[&[u8]]) -> CopyFile {
        let mut copy = CopyFile { parts: Vec::new() };
        for (i, piece) in pieces.iter().enumerate() {
            let path = part_path(&dir.join("s.copy"), i);
            let mut file = create_part(&path).unwrap();
            file.write_all(piece).unwrap();
            copy.parts.push(Part {
                path,
                file,
                start: 0,
                len: 0,
            });
        }
        copy.measure().unwrap();
        copy
    }

    fn data(n: u32) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn parts_read_as_their_concatenation_across_every_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let whole = data(10_000);
        // Uneven parts, one empty, as threads over skewed seq_no ranges write them.
        let copy = copy_of(
            dir.path(),
            &[&whole[..3000], &[], &whole[3000..3001], &whole[3001..]],
        );
        assert_eq!(copy.len(), 10_000);
        for (offset, len) in [
            (0, 10_000),
            (2990, 20),
            (3000, 1),
            (2999, 3),
            (9999, 1),
            (0, 0),
        ] {
            let mut buf = vec![0; len];
            copy.read_exact_at(&mut buf, offset as u64).unwrap();
            assert_eq!(buf, whole[offset..offset + len], "{len} bytes at {offset}");
        }
        let mut past = vec![0; 2];
        let err = copy.read_exact_at(&mut past, 9999).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn chunk_crcs_match_a_checksum_of_each_chunk_of_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let whole = data(10_000);
        let copy = copy_of(dir.path(), &[&whole[..2500], &whole[2500..]]);
        let want: Vec<u32> = whole.chunks(1024).map(crc32fast::hash).collect();
        assert_eq!(chunk_crcs(&copy, 1024).unwrap(), want);
        assert_eq!(want.len(), 10);
        let empty = copy_of(dir.path(), &[&[], &[]]);
        assert!(chunk_crcs(&empty, 1024).unwrap().is_empty());
    }

    #[test]
    fn dropping_a_copy_deletes_every_part_file() {
        let dir = tempfile::tempdir().unwrap();
        let copy = copy_of(dir.path(), &[b"ab", b"", b"c"]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
        drop(copy);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn part_files_do_not_collide_with_session_files() {
        let main = Path::new("/s/abc-1.copy");
        assert_eq!(part_path(main, 2), Path::new("/s/abc-1.2.copy"));
        assert!(copy_parts() >= 1 && copy_parts() <= MAX_PARTS);
    }
}
