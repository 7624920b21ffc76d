//! The W1 corpus: deterministic synthetic documents of about 300 bytes, already cut into
//! `_bulk` bodies, plus the exact answer counts the bench checks the server against.
//!
//! Same seed, same bytes: two runs (or two machines) index identical data. Generation
//! happens before the clock starts.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The index W1 writes to.
pub const INDEX: &str = "w1";
/// Values of the `category` keyword field.
pub const CATEGORIES: usize = 10;
/// Values of the `tags` keyword field (each document has two distinct ones).
pub const TAGS: usize = 20;

/// 2024-01-01T00:00:00Z: timestamps fall in the year after it.
const EPOCH_2024: i64 = 1_704_067_200;

const WORDS: [&str; 64] = [
    "river", "stone", "harbor", "lantern", "meadow", "signal", "copper", "violet", "winter",
    "orbit", "canyon", "ember", "falcon", "garden", "island", "jungle", "kernel", "ladder",
    "marble", "nectar", "oyster", "pepper", "quartz", "rocket", "saddle", "timber", "umbra",
    "velvet", "walnut", "yellow", "zephyr", "anchor", "bridge", "cobalt", "desert", "engine",
    "forest", "glacier", "hollow", "indigo", "jasper", "kettle", "lumber", "mirror", "needle",
    "orchid", "pillar", "quiver", "ribbon", "silver", "tunnel", "upland", "valley", "willow",
    "summit", "beacon", "cradle", "dragon", "fabric", "goblet", "hammer", "ivory", "jigsaw",
    "lagoon",
];

/// The generated workload.
pub struct Corpus {
    /// NDJSON `_bulk` bodies, in order.
    pub batches: Vec<Vec<u8>>,
    /// Documents in each batch (the last may be short).
    pub batch_docs: Vec<usize>,
    /// Total documents.
    pub docs: usize,
    /// Total bytes of document sources (without the action lines).
    pub source_bytes: usize,
    /// Documents per category value.
    pub category_counts: [u64; CATEGORIES],
    /// Documents per (category, tag) pair.
    pub pair_counts: [[u64; TAGS]; CATEGORIES],
}

/// The keyword value of category `i`.
pub fn category(i: usize) -> String {
    format!("cat-{i}")
}

/// The keyword value of tag `i`.
pub fn tag(i: usize) -> String {
    format!("tag-{i:02}")
}

/// The create-index body: one shard, no replica, refresh every second, explicit mappings.
pub fn index_body() -> serde_json::Value {
    json!({
        "settings": { "index": { "number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s" } },
        "mappings": { "properties": {
            "id": { "type": "keyword" },
            "title": { "type": "text" },
            "body": { "type": "text" },
            "category": { "type": "keyword" },
            "price": { "type": "float" },
            "quantity": { "type": "integer" },
            "in_stock": { "type": "boolean" },
            "created_at": { "type": "date" },
            "tags": { "type": "keyword" }
        }}
    })
}

fn words(rng: &mut StdRng, n: usize) -> String {
    let picked: Vec<&str> = (0..n)
        .map(|_| *WORDS.choose(rng).expect("WORDS is not empty"))
        .collect();
    picked.join(" ")
}

/// One generated document: its id and its JSON source.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// `w1-<n>` with `n` zero-padded to 7 digits.
    pub id: String,
    /// The document as compact JSON.
    pub source: String,
    category: usize,
    tags: [usize; 2],
}

/// `docs` documents numbered from `first` (ids `w1-<first>` on), drawn from `seed`.
///
/// The same seed gives the same contents whatever `first` is: a second set that must not
/// collide with the first takes another `first` and, to differ in content too, another seed.
pub fn documents(first: usize, docs: usize, seed: u64) -> anyhow::Result<Vec<Doc>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(docs);
    for n in first..first + docs {
        let id = format!("w1-{n:07}");
        let cat = rng.random_range(0..CATEGORIES);
        let t1 = rng.random_range(0..TAGS);
        let t2 = (t1 + rng.random_range(1..TAGS)) % TAGS; // distinct from t1
        let secs = EPOCH_2024 + rng.random_range(0..365 * 86_400);
        let created = OffsetDateTime::from_unix_timestamp(secs)?.format(&Rfc3339)?;
        let doc = json!({
            "id": id,
            "title": words(&mut rng, 4),
            "body": words(&mut rng, 20),
            "category": category(cat),
            "price": (rng.random_range(0..100_000) as f64) / 100.0,
            "quantity": rng.random_range(0..10_000),
            "in_stock": rng.random_bool(0.7),
            "created_at": created,
            "tags": [tag(t1), tag(t2)],
        });
        out.push(Doc {
            id,
            source: serde_json::to_string(&doc)?,
            category: cat,
            tags: [t1, t2],
        });
    }
    Ok(out)
}

/// One `_bulk` body indexing `docs` into `index`.
pub fn bulk_body(index: &str, docs: &[Doc]) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    for d in docs {
        serde_json::to_writer(
            &mut body,
            &json!({ "index": { "_index": index, "_id": d.id } }),
        )?;
        body.push(b'\n');
        body.extend_from_slice(d.source.as_bytes());
        body.push(b'\n');
    }
    Ok(body)
}

/// Generates W1: `docs` documents with `seed`, cut into bodies of `batch` documents.
pub fn generate(docs: usize, batch: usize, seed: u64) -> anyhow::Result<Corpus> {
    let all = documents(0, docs, seed)?;
    let mut c = Corpus {
        batches: Vec::with_capacity(docs.div_ceil(batch)),
        batch_docs: Vec::with_capacity(docs.div_ceil(batch)),
        docs,
        source_bytes: 0,
        category_counts: [0; CATEGORIES],
        pair_counts: [[0; TAGS]; CATEGORIES],
    };
    for d in &all {
        c.category_counts[d.category] += 1;
        for t in d.tags {
            c.pair_counts[d.category][t] += 1;
        }
        c.source_bytes += d.source.len();
    }
    for chunk in all.chunks(batch.max(1)) {
        c.batches.push(bulk_body(INDEX, chunk)?);
        c.batch_docs.push(chunk.len());
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_and_counts_add_up() {
        let a = generate(2_500, 1_000, 7).expect("generates");
        let b = generate(2_500, 1_000, 7).expect("generates");
        assert_eq!(a.batches, b.batches);
        assert_eq!(a.batch_docs, vec![1_000, 1_000, 500]);
        assert_eq!(a.category_counts.iter().sum::<u64>(), 2_500);
        let pairs: u64 = a.pair_counts.iter().flatten().sum();
        assert_eq!(pairs, 5_000, "two distinct tags per document");
        let avg = a.source_bytes / a.docs;
        assert!(
            (250..=350).contains(&avg),
            "documents average ~300 bytes, got {avg}"
        );
        let c = generate(2_500, 1_000, 8).expect("generates");
        assert_ne!(a.batches, c.batches);
    }

    #[test]
    fn documents_number_from_first_and_bulk_bodies_name_the_index() {
        let a = documents(0, 3, 5).expect("generates");
        let b = documents(100, 3, 5).expect("generates");
        assert_eq!(b[0].id, "w1-0000100");
        assert_eq!(b[2].id, "w1-0000102");
        let strip = |d: &Doc| {
            let mut v: serde_json::Value = serde_json::from_str(&d.source).expect("JSON");
            v["id"] = json!(null);
            v
        };
        assert_eq!(strip(&a[1]), strip(&b[1]), "same seed, same contents");
        let body = String::from_utf8(bulk_body("other", &a[..2]).expect("body")).expect("UTF-8");
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines.len(), 4);
        let action: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
        assert_eq!(
            action,
            json!({"index": {"_index": "other", "_id": "w1-0000000"}})
        );
        assert_eq!(lines[1], a[0].source);
        let w1 = generate(3, 2, 5).expect("generates");
        assert_eq!(w1.batches[0], bulk_body(INDEX, &a[..2]).expect("body"));
        assert_eq!(
            w1.source_bytes,
            a.iter().map(|d| d.source.len()).sum::<usize>()
        );
    }

    #[test]
    fn bulk_lines_are_valid_json_pairs() {
        let c = generate(3, 10, 1).expect("generates");
        let text = String::from_utf8(c.batches[0].clone()).expect("UTF-8");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0]["index"]["_id"], "w1-0000000");
        assert_eq!(lines[1]["id"], "w1-0000000");
        assert_ne!(lines[1]["tags"][0], lines[1]["tags"][1]);
        assert!(
            lines[1]["created_at"]
                .as_str()
                .is_some_and(|s| s.starts_with("2024-") && s.ends_with('Z'))
        );
    }
}
