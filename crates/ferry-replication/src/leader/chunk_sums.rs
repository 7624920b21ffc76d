//! [`ChunkSums`]: a writer that checksums the bytes passing through it, one CRC-32 per
//! fixed-size chunk, so a copy session knows every chunk's checksum the moment its copy
//! is written.
//!
//! Deliberately not here: where the bytes go (the session file) and the chunk size policy.

use std::io::Write;

/// A writer that checksums what passes through it, one CRC-32 per `chunk` bytes.
pub(super) struct ChunkSums<W> {
    out: W,
    chunk: u64,
    crcs: Vec<u32>,
    hasher: crc32fast::Hasher,
    in_chunk: u64,
    total: u64,
}

impl<W: Write> ChunkSums<W> {
    pub(super) fn new(out: W, chunk: u64) -> Self {
        Self {
            out,
            chunk: chunk.max(1),
            crcs: Vec::new(),
            hasher: crc32fast::Hasher::new(),
            in_chunk: 0,
            total: 0,
        }
    }

    /// The inner writer, the checksums of every chunk (the last one possibly short) and
    /// the bytes written.
    pub(super) fn finish(mut self) -> (W, Vec<u32>, u64) {
        if self.in_chunk > 0 {
            let last = std::mem::take(&mut self.hasher);
            self.crcs.push(last.finalize());
        }
        (self.out, self.crcs, self.total)
    }
}

impl<W: Write> Write for ChunkSums<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let room = usize::try_from(self.chunk - self.in_chunk).unwrap_or(usize::MAX);
            let (head, tail) = rest.split_at(room.min(rest.len()));
            self.hasher.update(head);
            self.in_chunk += head.len() as u64;
            if self.in_chunk == self.chunk {
                let full = std::mem::take(&mut self.hasher);
                self.crcs.push(full.finalize());
                self.in_chunk = 0;
            }
            rest = tail;
        }
        self.total += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sums_match_a_checksum_of_each_chunk_however_the_bytes_are_written() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut w = ChunkSums::new(Vec::new(), 1024);
        // Odd write sizes that straddle chunk boundaries.
        for piece in data.chunks(333) {
            w.write_all(piece).unwrap();
        }
        let (out, crcs, total) = w.finish();
        assert_eq!(out, data);
        assert_eq!(total, 10_000);
        let want: Vec<u32> = data.chunks(1024).map(crc32fast::hash).collect();
        assert_eq!(crcs, want);
        assert_eq!(crcs.len(), 10);

        let (_, none, zero) = ChunkSums::new(Vec::new(), 1024).finish();
        assert!(none.is_empty());
        assert_eq!(zero, 0);
    }
}
