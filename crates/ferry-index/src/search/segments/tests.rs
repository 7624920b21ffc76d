//! Copying a leader's search commits into a follower's copy: what arrives is what the
//! leader searched, files are fetched once, damaged files are refused, old files go, and
//! an unfollowed copy keeps indexing as its own.

use std::sync::Arc;

use serde_json::json;

use super::super::tests::Fixture;
use crate::search::ShardSearchIndex;
use crate::{IndexError, Mapping, SharedMapping};

fn words(i: u64) -> String {
    json!({"t": format!("word{} common", i % 7), "n": i}).to_string()
}

/// A leader index holding documents 0..n (seq_no = number), committed.
fn leader(n: u64) -> Fixture {
    let f = Fixture::new(
        json!({"properties": {"t": {"type": "text"}, "n": {"type": "long"}}}),
        &[],
    );
    for i in 0..n {
        f.idx
            .index_new(&i.to_string(), i, words(i).as_bytes())
            .unwrap();
    }
    f.idx.refresh(n - 1).unwrap();
    f
}

fn copy_index(dir: &std::path::Path, mapping: &SharedMapping) -> ShardSearchIndex {
    ShardSearchIndex::open_copy(dir, Arc::clone(mapping)).unwrap()
}

/// Copies the leader's last commit into `to`, each missing file in two writes (the
/// second half first); answers how many files were fetched.
fn copy(from: &ShardSearchIndex, to: &ShardSearchIndex) -> usize {
    let c = from.last_commit().unwrap();
    let mut fetched = 0;
    for f in &c.files {
        if to.has_file(&f.name).unwrap() {
            continue;
        }
        let half = f.len / 2;
        to.write_part(&f.name, half, &f.read_at(half, usize::MAX).unwrap())
            .unwrap();
        let first = f.read_at(0, usize::try_from(half).unwrap()).unwrap();
        to.write_part(&f.name, 0, &first).unwrap();
        to.finish_file(&f.name, f.len).unwrap();
        fetched += 1;
    }
    let names: Vec<String> = c.files.iter().map(|f| f.name.clone()).collect();
    assert_eq!(to.install(&c.meta, &names).unwrap(), c.seq_no);
    assert_eq!(to.commit_crc32().unwrap(), c.crc32);
    fetched
}

fn count(f: &Fixture, idx: &ShardSearchIndex, query: serde_json::Value) -> u64 {
    let req = crate::SearchRequest::from_es_json(&json!({"query": query})).unwrap();
    let m = f.mapping.read();
    idx.count_shard(&req, &m).unwrap()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "meta.json")
        .collect();
    names.sort();
    names
}

#[test]
fn a_copied_commit_searches_as_the_leader_and_only_new_files_are_fetched() {
    let f = leader(500);
    let dir = tempfile::tempdir().unwrap();
    let copy_idx = copy_index(dir.path(), &f.mapping);
    assert!(copy_idx.is_copy());
    assert!(copy(&f.idx, &copy_idx) > 0);
    assert_eq!(copy_idx.num_docs(), 500);
    assert_eq!(copy_idx.committed_seq_no(), Some(499));
    for q in [
        json!({"match": {"t": "word3"}}),
        json!({"range": {"n": {"gte": 100, "lt": 150}}}),
    ] {
        assert_eq!(count(&f, &copy_idx, q.clone()), count(&f, &f.idx, q));
    }
    // Nothing new on the leader: nothing fetched, same commit.
    assert_eq!(copy(&f.idx, &copy_idx), 0);

    // Deletes, replacements and new documents: the segments already here are kept.
    for i in 0..50 {
        f.idx.delete(&i.to_string()).unwrap();
    }
    f.idx
        .index("60", 500, br#"{"t": "replaced", "n": 60}"#)
        .unwrap();
    for i in 501..600 {
        f.idx
            .index_new(&i.to_string(), i, words(i).as_bytes())
            .unwrap();
    }
    f.idx.refresh(599).unwrap();
    let before = files_in(dir.path());
    copy(&f.idx, &copy_idx);
    assert_eq!(copy_idx.num_docs(), f.idx.num_docs());
    assert_eq!(copy_idx.num_docs(), 549);
    assert_eq!(count(&f, &copy_idx, json!({"match": {"t": "replaced"}})), 1);
    assert_eq!(copy_idx.committed_seq_no(), Some(599));
    // Only the files of the installed commit stay.
    let leader_files: Vec<String> = {
        let c = f.idx.last_commit().unwrap();
        c.files.iter().map(|f| f.name.clone()).collect()
    };
    assert_eq!(files_in(dir.path()), leader_files);
    assert!(
        before.iter().any(|n| leader_files.contains(n)),
        "segments kept"
    );
}

#[test]
fn a_commit_stays_readable_after_the_leader_deletes_its_files() {
    let f = leader(200);
    let held = f.idx.last_commit().unwrap();
    for i in 0..200 {
        f.idx.delete(&i.to_string()).unwrap();
    }
    f.idx.index_new("x", 200, br#"{"t": "x"}"#).unwrap();
    f.idx.refresh(200).unwrap();
    assert!(
        held.files
            .iter()
            .any(|file| !f._dir.path().join(&file.name).exists()),
        "the leader deleted files of the held commit"
    );
    let dir = tempfile::tempdir().unwrap();
    let copy_idx = copy_index(dir.path(), &f.mapping);
    for file in &held.files {
        copy_idx
            .write_part(&file.name, 0, &file.read_at(0, usize::MAX).unwrap())
            .unwrap();
        copy_idx.finish_file(&file.name, file.len).unwrap();
    }
    let names: Vec<String> = held.files.iter().map(|f| f.name.clone()).collect();
    copy_idx.install(&held.meta, &names).unwrap();
    assert_eq!(copy_idx.num_docs(), 200);
}

#[test]
fn damaged_or_misnamed_files_are_refused() {
    let f = leader(100);
    let c = f.idx.last_commit().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy_idx = copy_index(dir.path(), &f.mapping);
    let file = c.files.iter().max_by_key(|f| f.len).unwrap();
    let mut bytes = file.read_at(0, usize::MAX).unwrap();
    bytes[0] ^= 0xff;
    copy_idx.write_part(&file.name, 0, &bytes).unwrap();
    assert!(matches!(
        copy_idx.finish_file(&file.name, file.len),
        Err(IndexError::Storage(_))
    ));
    assert!(!copy_idx.has_file(&file.name).unwrap());
    assert!(files_in(dir.path()).is_empty(), "the damaged part is gone");
    // Short.
    copy_idx.write_part(&file.name, 0, &bytes[..10]).unwrap();
    assert!(copy_idx.finish_file(&file.name, file.len).is_err());
    // A commit whose files are not all here is not installed.
    let names: Vec<String> = c.files.iter().map(|f| f.name.clone()).collect();
    assert!(copy_idx.install(&c.meta, &names).is_err());
    assert_eq!(copy_idx.num_docs(), 0);
    for bad in ["../x", "a/b", ".managed.json", "meta.json", "", "x.part"] {
        assert!(
            matches!(
                copy_idx.write_part(bad, 0, b"x"),
                Err(IndexError::IllegalArgument(_))
            ),
            "{bad}"
        );
    }
    // A writer does not install copies.
    assert!(f.idx.install(&c.meta, &names).is_err());
}

#[test]
fn a_copy_reopened_with_a_writer_indexes_on_top_of_the_copied_segments() {
    let f = leader(300);
    let dir = tempfile::tempdir().unwrap();
    {
        let copy_idx = copy_index(dir.path(), &f.mapping);
        copy(&f.idx, &copy_idx);
        // Reopened as a copy (a follower restart): the installed commit is there.
        drop(copy_idx);
        let again = copy_index(dir.path(), &f.mapping);
        assert_eq!(again.num_docs(), 300);
        assert_eq!(again.committed_seq_no(), Some(299));
    }
    let mapping: SharedMapping = Arc::clone(&f.mapping);
    let own = ShardSearchIndex::open(dir.path(), mapping).unwrap();
    assert_eq!(own.committed_seq_no(), Some(299));
    own.index("5", 300, br#"{"t": "rewritten", "n": 5}"#)
        .unwrap();
    for i in 301..400 {
        own.index_new(&i.to_string(), i, words(i).as_bytes())
            .unwrap();
    }
    own.refresh(399).unwrap();
    assert_eq!(own.num_docs(), 399);
    assert_eq!(count(&f, &own, json!({"match": {"t": "rewritten"}})), 1);
    drop(own);
    let reopened = ShardSearchIndex::open(dir.path(), Arc::clone(&f.mapping)).unwrap();
    assert_eq!(reopened.num_docs(), 399);
}

#[test]
fn a_copy_refuses_to_index() {
    let dir = tempfile::tempdir().unwrap();
    let mapping: SharedMapping = Arc::new(parking_lot::RwLock::new(Mapping::default()));
    let idx = copy_index(dir.path(), &mapping);
    assert!(idx.index_new("a", 0, b"{}").is_err());
    assert!(idx.refresh(0).is_err());
}
