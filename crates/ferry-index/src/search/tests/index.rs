//! The shard index's lifecycle: replace, delete, refresh, restart, text slots, and how
//! values are typed when indexed.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Fixture, v};
use crate::search::ShardSearchIndex;
use crate::{IndexError, Mapping, SharedMapping};

fn shared(m: Value) -> SharedMapping {
    Arc::new(parking_lot::RwLock::new(Mapping::from_es_json(&m).unwrap()))
}

#[test]
fn is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ShardSearchIndex>();
}

#[test]
fn replace_delete_and_refresh_visibility() {
    let f = Fixture::new(
        json!({}),
        &[json!({"t": "old words"}), json!({"t": "other"})],
    );
    assert_eq!(f.idx.committed_seq_no(), Some(1));
    assert_eq!(f.idx.num_docs(), 2);
    f.idx.index("1", 2, br#"{"t": "new words"}"#).unwrap();
    // Not visible before a refresh.
    assert_eq!(f.q(json!({"match": {"t": "old"}})), v(&["1"]));
    assert!(f.q(json!({"match": {"t": "new"}})).is_empty());
    f.idx.refresh(2).unwrap();
    assert!(f.q(json!({"match": {"t": "old"}})).is_empty());
    assert_eq!(f.q(json!({"match": {"t": "new"}})), v(&["1"]));
    assert_eq!(f.idx.num_docs(), 2);
    f.idx.delete("2").unwrap();
    f.idx.delete("missing").unwrap();
    f.idx.refresh(3).unwrap();
    assert_eq!(f.idx.num_docs(), 1);
    assert_eq!(f.idx.committed_seq_no(), Some(3));
    f.idx.index_new("9", 4, br#"{"t": "fresh"}"#).unwrap();
    f.idx.refresh(4).unwrap();
    assert_eq!(f.q(json!({"match": {"t": "fresh"}})), v(&["9"]));
    // A refresh with nothing new is a no-op.
    f.idx.refresh(4).unwrap();
    assert_eq!(f.idx.num_docs(), 2);
}

#[test]
fn a_commit_records_the_highest_seq_no_it_holds_above_its_claim() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = shared(json!({}));
    {
        let idx = ShardSearchIndex::open(dir.path(), Arc::clone(&mapping)).unwrap();
        assert_eq!(idx.committed_max_seq_no(), None);
        idx.index_new("a", 0, br#"{"t": "a"}"#).unwrap();
        // A follower's operation above its checkpoint: in the commit, not in its claim.
        idx.index_new("z", 9, br#"{"t": "z"}"#).unwrap();
        idx.refresh(0).unwrap();
        assert_eq!(
            (idx.committed_seq_no(), idx.committed_max_seq_no()),
            (Some(0), Some(9))
        );
        idx.index("b", 1, br#"{"t": "b"}"#).unwrap();
        idx.delete("a").unwrap();
        idx.refresh(1).unwrap();
        assert_eq!(idx.committed_max_seq_no(), Some(9));
        // Added after the last commit: a restart does not see it.
        idx.index_new("y", 12, br#"{"t": "y"}"#).unwrap();
    }
    let idx = ShardSearchIndex::open(dir.path(), Arc::clone(&mapping)).unwrap();
    assert_eq!(
        (idx.committed_seq_no(), idx.committed_max_seq_no()),
        (Some(1), Some(9))
    );
    idx.index_new("c", 2, br#"{"t": "c"}"#).unwrap();
    idx.refresh(2).unwrap();
    assert_eq!(idx.committed_max_seq_no(), Some(9));
}

#[test]
fn a_payload_without_its_highest_seq_no_may_hold_any() {
    let parse = |p| super::super::shard_index::parse_payload(Some(p)).unwrap();
    let old = parse(r#"{"seq_no": 5, "text_slots": ["a"]}"#);
    assert_eq!((old.seq_no, old.max_seq_no), (Some(5), Some(u64::MAX)));
    assert_eq!(old.text_slots, vec!["a".to_owned()]);
    let new = parse(r#"{"seq_no": 5, "max_seq_no": 7, "text_slots": []}"#);
    assert_eq!((new.seq_no, new.max_seq_no), (Some(5), Some(7)));
    let none = parse(r#"{"seq_no": null, "max_seq_no": null, "text_slots": []}"#);
    assert_eq!((none.seq_no, none.max_seq_no), (None, None));
}

#[test]
fn restart_keeps_commit_point_and_text_slots() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = shared(
        json!({"properties": {"a": {"type": "text"}, "b": {"type": "text"}, "k": {"type": "keyword"}}}),
    );
    {
        let idx = ShardSearchIndex::open(dir.path(), Arc::clone(&mapping)).unwrap();
        assert_eq!(idx.committed_seq_no(), None);
        // `b` gets slot 0, `a` slot 1: the order documents show them, not the mapping's.
        idx.index("1", 0, br#"{"b": "bee", "k": "x"}"#).unwrap();
        idx.index("2", 1, br#"{"a": "ant bee", "k": "y"}"#).unwrap();
        idx.refresh(1).unwrap();
        idx.index("3", 2, br#"{"a": "not committed"}"#).unwrap();
    }
    let idx = ShardSearchIndex::open(dir.path(), Arc::clone(&mapping)).unwrap();
    assert_eq!(idx.committed_seq_no(), Some(1));
    assert_eq!(idx.num_docs(), 2);
    let f = Fixture {
        _dir: tempfile::tempdir().unwrap(),
        idx,
        mapping,
    };
    assert_eq!(f.q(json!({"match": {"a": "bee"}})), v(&["2"]));
    assert_eq!(f.q(json!({"match": {"b": "bee"}})), v(&["1"]));
    assert_eq!(f.q(json!({"term": {"k": "y"}})), v(&["2"]));
    // New text fields after the restart get fresh slots.
    let mut m = f.mapping.write();
    m.merge(&Mapping::from_es_json(&json!({"properties": {"c": {"type": "text"}}})).unwrap())
        .unwrap();
    drop(m);
    f.idx.index("4", 3, br#"{"c": "cat", "a": "ant"}"#).unwrap();
    f.idx.refresh(3).unwrap();
    assert_eq!(f.q(json!({"match": {"c": "cat"}})), v(&["4"]));
    assert_eq!(f.qs(json!({"match": {"a": "ant"}})), v(&["2", "4"]));
}

#[test]
fn text_fields_beyond_the_slots_still_match() {
    let mut doc = serde_json::Map::new();
    for i in 0..40 {
        doc.insert(format!("f{i:02}"), json!(format!("alpha word{i}")));
    }
    let f = Fixture::new(
        json!({}),
        &[
            Value::Object(doc),
            json!({"f35": "beta gamma", "f36": "alphabet soup"}),
        ],
    );
    assert_eq!(f.q(json!({"match": {"f35": "beta"}})), v(&["2"]));
    assert_eq!(f.q(json!({"match": {"f35": "alpha"}})), v(&["1"]));
    assert_eq!(f.q(json!({"match": {"f00": "alpha"}})), v(&["1"]));
    assert_eq!(
        f.q(json!({"match_phrase": {"f35": "beta gamma"}})),
        v(&["2"])
    );
    assert!(
        f.q(json!({"match_phrase": {"f35": "gamma beta"}}))
            .is_empty()
    );
    assert_eq!(f.qs(json!({"prefix": {"f36": "alp"}})), v(&["1", "2"]));
    assert_eq!(f.q(json!({"match": {"f39": "word39"}})), v(&["1"]));
    assert_eq!(
        f.q(json!({"term": {"f38.keyword": "alpha word38"}})),
        v(&["1"])
    );
}

#[test]
fn unmapped_fields_are_indexed_as_dynamic_mapping_would() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = shared(json!({}));
    let idx = ShardSearchIndex::open(dir.path(), Arc::clone(&mapping)).unwrap();
    idx.index(
        "1",
        0,
        br#"{"x": "hello world", "n": 5, "when": "2020-01-01"}"#,
    )
    .unwrap();
    idx.refresh(0).unwrap();
    let f = Fixture {
        _dir: dir,
        idx,
        mapping,
    };
    // Unmapped fields match nothing (as in ES) but exist.
    assert!(f.q(json!({"match": {"x": "hello"}})).is_empty());
    assert_eq!(f.q(json!({"exists": {"field": "x"}})), v(&["1"]));
    // Once the mapping knows them, what was indexed is found with the right types.
    let update = f
        .mapping
        .read()
        .dynamic_update(
            "1",
            &json!({"x": "hello world", "n": 5, "when": "2020-01-01"}),
        )
        .unwrap()
        .unwrap();
    f.mapping.write().merge(&update).unwrap();
    assert_eq!(f.q(json!({"match": {"x": "hello"}})), v(&["1"]));
    assert_eq!(
        f.q(json!({"term": {"x.keyword": "hello world"}})),
        v(&["1"])
    );
    assert_eq!(f.q(json!({"range": {"n": {"gte": 5}}})), v(&["1"]));
    assert_eq!(
        f.q(json!({"range": {"when": {"lt": "2020-01-02"}}})),
        v(&["1"])
    );
}

#[test]
fn mapping_parameters_shape_indexing() {
    let f = Fixture::new(
        json!({"dynamic": false, "properties": {
            "k": {"type": "keyword", "null_value": "NULL", "ignore_above": 5},
            "off": {"type": "object", "enabled": false},
            "n": {"type": "long", "ignore_malformed": true},
            "hidden": {"type": "keyword", "index": false},
            "items": {"properties": {"name": {"type": "keyword"}}}
        }}),
        &[
            json!({"k": null, "off": {"k": "x"}, "n": "junk", "free": "text", "items": [{"name": "a"}, {"name": "b"}]}),
            json!({"k": "toolongvalue", "n": 7, "hidden": "h", "items": {"name": "c"}}),
            json!({"k": ["ab", "cd"]}),
        ],
    );
    assert_eq!(f.q(json!({"term": {"k": "NULL"}})), v(&["1"]));
    assert!(f.q(json!({"term": {"k": "toolongvalue"}})).is_empty());
    assert_eq!(f.q(json!({"exists": {"field": "k"}})), v(&["1", "3"]));
    assert_eq!(f.q(json!({"term": {"k": "cd"}})), v(&["3"]));
    assert!(f.q(json!({"exists": {"field": "off"}})).is_empty());
    assert!(
        f.q(json!({"exists": {"field": "free"}})).is_empty(),
        "dynamic: false does not index"
    );
    assert_eq!(f.q(json!({"exists": {"field": "n"}})), v(&["2"]));
    assert_eq!(f.q(json!({"term": {"items.name": "b"}})), v(&["1"]));
    assert_eq!(f.q(json!({"exists": {"field": "items"}})), v(&["1", "2"]));
    let e = f.err(json!({"query": {"term": {"hidden": "h"}}}));
    assert!(
        matches!(&e, IndexError::IllegalArgument(m) if m == "Cannot search on field [hidden] since it is not indexed."),
        "{e}"
    );
    assert_eq!(
        f.ids(json!({"sort": ["hidden", "_doc"]})),
        v(&["2", "1", "3"])
    );
}

#[test]
fn bad_sources_are_refused() {
    let f = Fixture::new(json!({}), &[]);
    assert!(matches!(
        f.idx.index("1", 0, b"not json"),
        Err(IndexError::DocumentParsing(_))
    ));
    assert!(matches!(
        f.idx.index("1", 0, b"[1, 2]"),
        Err(IndexError::DocumentParsing(_))
    ));
    assert!(matches!(
        f.idx.index("1", 0, br#"{"a": 1} trailing"#),
        Err(IndexError::DocumentParsing(_))
    ));
    f.idx.refresh(0).unwrap();
    assert_eq!(f.idx.num_docs(), 0);
}
