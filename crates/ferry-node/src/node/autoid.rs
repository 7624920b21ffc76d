//! Auto-generated document ids and index uuids, in Elasticsearch's formats.
//!
//! An auto id is 15 bytes — 6 bytes of milliseconds since the epoch, a 3-byte sequence,
//! 6 bytes naming this node — encoded as 20 URL-safe base64 characters without padding,
//! like ES's time-based UUIDs. Ids from one generator are strictly increasing as bytes
//! (time-ordered); the clock going backwards never repeats an id. Index uuids are 16
//! random bytes as 22 base64url characters (ES's `randomBase64UUID`). This module does no
//! I/O beyond reading the clock.

use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Length of an auto id in characters.
pub const AUTO_ID_LEN: usize = 20;

/// Encodes `bytes` as URL-safe base64 without padding into `out`.
pub fn base64url_into(bytes: &[u8], out: &mut Vec<u8>) {
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]);
        }
    }
}

/// URL-safe base64 without padding.
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    base64url_into(bytes, &mut out);
    String::from_utf8(out).expect("the base64url alphabet is ASCII")
}

/// A fresh index uuid: 16 random bytes, 22 characters.
pub fn index_uuid() -> String {
    base64url(uuid::Uuid::new_v4().as_bytes())
}

/// Generates time-ordered 20-character document ids.
#[derive(Debug)]
pub struct AutoIdGenerator {
    node: [u8; 6],
    /// (last timestamp used, last sequence used).
    state: Mutex<(u64, u32)>,
}

impl AutoIdGenerator {
    /// A generator whose ids carry `node` (the first 6 bytes of the node id).
    pub fn new(node: [u8; 6]) -> Self {
        Self {
            node,
            state: Mutex::new((0, 0)),
        }
    }

    /// The next id as 20 ASCII bytes.
    pub fn next_bytes(&self) -> [u8; AUTO_ID_LEN] {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.next_at(now)
    }

    /// The next id as a `String`.
    pub fn next_id(&self) -> String {
        let b = self.next_bytes();
        String::from_utf8(b.to_vec()).expect("the base64url alphabet is ASCII")
    }

    fn next_at(&self, now_millis: u64) -> [u8; AUTO_ID_LEN] {
        let (millis, seq) = {
            let mut st = self.state.lock();
            if now_millis > st.0 {
                *st = (now_millis, 0);
            } else if st.1 >= 0x00ff_ffff {
                // Sequence exhausted within one millisecond: borrow the next one.
                *st = (st.0 + 1, 0);
            } else {
                st.1 += 1;
            }
            *st
        };
        let mut raw = [0u8; 15];
        raw[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        raw[6..9].copy_from_slice(&seq.to_be_bytes()[1..]);
        raw[9..].copy_from_slice(&self.node);
        let mut out = Vec::with_capacity(AUTO_ID_LEN);
        base64url_into(&raw, &mut out);
        let mut id = [0u8; AUTO_ID_LEN];
        id.copy_from_slice(&out);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(id: &[u8]) -> Vec<u8> {
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for &c in id {
            let v = ALPHABET
                .iter()
                .position(|&a| a == c)
                .expect("base64url character") as u32;
            bits = (bits << 6) | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        out
    }

    #[test]
    fn base64url_matches_known_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(index_uuid().len(), 22);
    }

    #[test]
    fn auto_ids_are_20_url_safe_characters() {
        let g = AutoIdGenerator::new([1, 2, 3, 4, 5, 6]);
        let id = g.next_id();
        assert_eq!(id.len(), 20);
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{id}"
        );
        let raw = decode(id.as_bytes());
        assert_eq!(raw.len(), 15);
        assert_eq!(raw[9..], [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn auto_ids_are_time_ordered_and_unique() {
        let g = AutoIdGenerator::new([9; 6]);
        let mut last = decode(&g.next_at(1_000));
        // Same millisecond, later millisecond, and a clock that went backwards.
        for now in [1_000, 1_000, 1_001, 999, 5_000, 5_000, 4_000] {
            let next = decode(&g.next_at(now));
            assert!(next > last, "{next:?} must sort after {last:?}");
            last = next;
        }
        let ms = u64::from_be_bytes([0, 0, last[0], last[1], last[2], last[3], last[4], last[5]]);
        assert_eq!(ms, 5_000);
    }

    #[test]
    fn exhausted_sequence_moves_to_the_next_millisecond() {
        let g = AutoIdGenerator::new([0; 6]);
        *g.state.lock() = (7, 0x00ff_ffff);
        let raw = decode(&g.next_at(7));
        assert_eq!(raw[5], 8);
        assert_eq!(raw[6..9], [0, 0, 0]);
    }
}
