//! The files of a copy session: the copy written in parts by several threads
//! ([`write_parts`]), joined into one file, and the CRC-32 of each fixed-size chunk of it
//! ([`chunk_crcs`]), so a session knows every chunk's checksum before it serves the first.
//!
//! Deliberately not here: what the copy holds (ferry-index) and how chunks are served.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use ferry_index::{CopyInfo, IndexError, Shard};

/// Buffer of each part's file writer.
const PART_BUFFER: usize = 1 << 20;
/// At most this many threads write one copy.
const MAX_PARTS: usize = 4;

/// How many parts (threads) a copy is written in: one per core, at most [`MAX_PARTS`].
pub(super) fn copy_parts() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, MAX_PARTS)
}

/// The file of part `i` (> 0) of the copy in `main` (ids hold no '.', so no session's
/// own file has such a name).
fn part_path(main: &Path, i: usize) -> PathBuf {
    main.with_extension(format!("{i}.copy"))
}

/// Writes `shard`'s copy into `main` (created, read-write) in `parts` parts, one thread
/// each, then appends the other parts' files to it and deletes them. Answers the file,
/// its length and what the copy holds. Blocking IO; on error every file it made is gone.
pub(super) fn write_parts(
    shard: &Shard,
    main: &Path,
    parts: usize,
) -> Result<(File, u64, CopyInfo), IndexError> {
    let paths: Vec<PathBuf> = (0..parts.max(1))
        .map(|i| {
            if i == 0 {
                main.to_path_buf()
            } else {
                part_path(main, i)
            }
        })
        .collect();
    let written = write_and_join(shard, &paths);
    for extra in &paths[1..] {
        let _ = std::fs::remove_file(extra);
    }
    if written.is_err() {
        let _ = std::fs::remove_file(main);
    }
    written
}

fn io(context: &str, e: impl std::fmt::Display) -> IndexError {
    IndexError::Storage(format!("{context}: {e}"))
}

fn write_and_join(shard: &Shard, paths: &[PathBuf]) -> Result<(File, u64, CopyInfo), IndexError> {
    let mut outs = Vec::with_capacity(paths.len());
    for path in paths {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| io("cannot create a copy session file", e))?;
        outs.push(BufWriter::with_capacity(PART_BUFFER, file));
    }
    let info = {
        let mut refs: Vec<&mut (dyn std::io::Write + Send)> = outs
            .iter_mut()
            .map(|o| o as &mut (dyn std::io::Write + Send))
            .collect();
        shard.write_copy_parts(&mut refs)?
    };
    let mut files = Vec::with_capacity(outs.len());
    for out in outs {
        files.push(
            out.into_inner()
                .map_err(|e| io("cannot write a copy session file", e.error()))?,
        );
    }
    let mut parts = files.into_iter();
    let mut main = parts.next().ok_or_else(|| io("a copy", "has no part"))?;
    for mut part in parts {
        use std::io::Seek as _;
        part.rewind()
            .map_err(|e| io("cannot read a copy part", e))?;
        std::io::copy(&mut part, &mut main).map_err(|e| io("cannot join copy parts", e))?;
    }
    main.flush()
        .map_err(|e| io("cannot write a copy session file", e))?;
    let len = main
        .metadata()
        .map_err(|e| io("cannot stat a copy session file", e))?
        .len();
    if len != info.bytes {
        return Err(io(
            "a copy session file",
            format!("holds {len} bytes, the copy wrote {}", info.bytes),
        ));
    }
    Ok((main, len, info))
}

/// The CRC-32 of each `chunk`-byte piece of the first `len` bytes of `file` (the last
/// one possibly short), read back in order.
pub(super) fn chunk_crcs(file: &File, len: u64, chunk: u64) -> std::io::Result<Vec<u32>> {
    let chunk = chunk.max(1);
    let mut buf = vec![0u8; usize::try_from(chunk.min(len)).unwrap_or(usize::MAX)];
    let mut crcs = Vec::with_capacity(usize::try_from(len.div_ceil(chunk)).unwrap_or(0));
    let mut offset = 0;
    while offset < len {
        let n = usize::try_from(chunk.min(len - offset)).unwrap_or(usize::MAX);
        file.read_exact_at(&mut buf[..n], offset)?;
        crcs.push(crc32fast::hash(&buf[..n]));
        offset += n as u64;
    }
    Ok(crcs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_crcs_match_a_checksum_of_each_chunk() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&data).unwrap();
        let want: Vec<u32> = data.chunks(1024).map(crc32fast::hash).collect();
        assert_eq!(chunk_crcs(&file, 10_000, 1024).unwrap(), want);
        assert_eq!(want.len(), 10);
        // Only the first `len` bytes count; an empty copy has no chunk.
        let head: Vec<u32> = data[..3000].chunks(1000).map(crc32fast::hash).collect();
        assert_eq!(chunk_crcs(&file, 3000, 1000).unwrap(), head);
        assert!(chunk_crcs(&file, 0, 1024).unwrap().is_empty());
    }

    #[test]
    fn part_files_do_not_collide_with_session_files() {
        let main = Path::new("/s/abc-1.copy");
        assert_eq!(part_path(main, 2), Path::new("/s/abc-1.2.copy"));
        assert!(copy_parts() >= 1 && copy_parts() <= MAX_PARTS);
    }
}
