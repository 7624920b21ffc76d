//! Which shard a document lives in: Elasticsearch's routing, exactly.
//!
//! shard = `floorMod(murmur3_x86_32(utf16le(routing), seed 0), routing_num_shards) /
//! (routing_num_shards / number_of_shards)`, where `routing` is the `_routing` value or
//! else the `_id`, and `routing_num_shards` is ES 7+'s default: the largest
//! `number_of_shards * 2^k <= 1024` (at least one split). Matching ES means a document
//! lands in the same shard number as in an Elasticsearch index with the same shard
//! count, which keeps shard-level tooling and CCR comparisons intuitive. The hash is
//! stable by construction (it is part of the on-disk layout: never change it). This
//! module does not know about partitioned routing (`routing_partition_size`).

/// MurmurHash3, x86 32-bit variant.
pub(crate) fn murmur3_x86_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k |= u32::from(*b) << (8 * i);
        }
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    // The length is mixed in modulo 2^32, as the reference implementation does.
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// ES's `Murmur3HashFunction.hash(String)`: murmur3 over the UTF-16 code units, each
/// as two little-endian bytes, seed 0, as a signed int.
pub(crate) fn es_hash(routing: &str) -> i32 {
    let bytes: Vec<u8> = routing.encode_utf16().flat_map(u16::to_le_bytes).collect();
    murmur3_x86_32(&bytes, 0) as i32
}

/// ES 7+'s default `index.number_of_routing_shards` for `shards` shards.
pub(crate) fn routing_num_shards(shards: u32) -> u32 {
    let shards = shards.max(1);
    let log2_shards = 32 - (shards - 1).leading_zeros();
    let splits = 10u32.saturating_sub(log2_shards).max(1);
    shards << splits
}

/// The shard of a document with id `id` and optional `_routing` in an index of
/// `shards` shards.
pub(crate) fn shard_for(id: &str, routing: Option<&str>, shards: u32) -> u32 {
    let shards = shards.max(1);
    let routing_shards = routing_num_shards(shards);
    let hash = es_hash(routing.unwrap_or(id));
    let slot = i64::from(hash).rem_euclid(i64::from(routing_shards));
    // `slot` is in 0..routing_shards, which fits u32.
    u32::try_from(slot).unwrap_or(0) / (routing_shards / shards)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn murmur3_reference_vectors() {
        assert_eq!(murmur3_x86_32(b"", 0), 0);
        assert_eq!(murmur3_x86_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_x86_32(b"hello", 0), 0x248b_fa47);
        assert_eq!(
            murmur3_x86_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
    }

    #[test]
    fn elasticsearch_known_values() {
        // From ES's Murmur3HashFunctionTests.
        for (want, s) in [
            (0x5a0c_b7c3u32, "hell"),
            (0xd7c3_1989, "hello"),
            (0x22ab_2984, "hello w"),
            (0xdf0c_a123, "hello wo"),
            (0xe774_4d61, "hello wor"),
            (0xe07d_b09c, "The quick brown fox jumps over the lazy dog"),
            (0x4e63_d2ad, "The quick brown fox jumps over the lazy cog"),
        ] {
            assert_eq!(es_hash(s), want as i32, "{s}");
        }
    }

    #[test]
    fn routing_shards_default() {
        assert_eq!(routing_num_shards(1), 1024);
        assert_eq!(routing_num_shards(2), 1024);
        assert_eq!(routing_num_shards(3), 768);
        assert_eq!(routing_num_shards(5), 640);
        assert_eq!(routing_num_shards(1024), 2048);
    }

    #[test]
    fn routing_value_overrides_the_id() {
        assert_eq!(
            shard_for("a", Some("user1"), 7),
            shard_for("b", Some("user1"), 7)
        );
        assert_eq!(shard_for("anything", None, 1), 0);
    }

    proptest! {
        #[test]
        fn shard_is_in_range_and_stable(id in ".{0,30}", shards in 1u32..=1024) {
            let s = shard_for(&id, None, shards);
            prop_assert!(s < shards);
            prop_assert_eq!(s, shard_for(&id, None, shards));
        }
    }
}
