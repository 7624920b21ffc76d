//! Sorting, paging, `search_after`, totals and the merge across shards.

use std::sync::Arc;

use serde_json::json;

use super::{Fixture, books, v};
use crate::IndexError;
use crate::search::sort::render_sort_value;
use crate::search::sort::{KeySource, KeySpec, SortValue};
use crate::search::{SearchRequest, merge, reported_total};

fn sorted(f: &Fixture, sort: serde_json::Value) -> Vec<String> {
    f.ids(json!({"sort": sort, "size": 100}))
}

#[test]
fn sort_on_long_keyword_date_float_asc_and_desc() {
    let f = books();
    assert_eq!(sorted(&f, json!("price")), v(&["5", "1", "4", "2", "3"]));
    assert_eq!(
        sorted(&f, json!([{"price": "desc"}])),
        v(&["3", "2", "4", "1", "5"])
    );
    assert_eq!(
        sorted(&f, json!({"tag": {"order": "asc"}})),
        v(&["1", "2", "4", "5", "3"])
    );
    assert_eq!(
        sorted(&f, json!([{"tag": "desc"}])),
        v(&["3", "4", "5", "1", "2"])
    );
    assert_eq!(
        sorted(&f, json!(["published"])),
        v(&["4", "2", "1", "3", "5"])
    );
    assert_eq!(
        sorted(&f, json!([{"published": "desc"}])),
        v(&["5", "3", "1", "2", "4"])
    );
    assert_eq!(sorted(&f, json!(["rating"])), v(&["2", "4", "1", "3", "5"]));
    assert_eq!(
        sorted(&f, json!([{"rating": "desc"}])),
        v(&["3", "1", "4", "2", "5"])
    );
    assert_eq!(
        sorted(
            &f,
            json!([{"rating": {"order": "asc", "missing": "_first"}}])
        ),
        v(&["5", "2", "4", "1", "3"])
    );
    assert_eq!(
        sorted(&f, json!([{"tag": "asc"}, {"price": "desc"}])),
        v(&["2", "1", "4", "5", "3"])
    );
    assert_eq!(sorted(&f, json!(["_doc"])), v(&["1", "2", "3", "4", "5"]));
    assert_eq!(
        sorted(&f, json!([{"_doc": "desc"}])),
        v(&["5", "4", "3", "2", "1"])
    );
    assert_eq!(
        sorted(&f, json!([{"available": "desc"}, "price"])),
        v(&["1", "4", "3", "5", "2"])
    );
    assert_eq!(
        sorted(&f, json!([{"_id": "desc"}])),
        v(&["5", "4", "3", "2", "1"])
    );
}

#[test]
fn multi_valued_fields_sort_by_min_or_max() {
    let f = books();
    assert_eq!(
        sorted(&f, json!(["tags.keyword"])),
        v(&["5", "1", "3", "2", "4"])
    );
    assert_eq!(
        sorted(&f, json!([{"tags.keyword": "desc"}])),
        v(&["2", "3", "1", "5", "4"])
    );
    assert_eq!(
        sorted(
            &f,
            json!([{"tags.keyword": {"order": "asc", "mode": "max"}}])
        ),
        v(&["5", "1", "3", "2", "4"])
    );
}

#[test]
fn sort_values_and_scores() {
    let f = books();
    let req = SearchRequest::from_es_json(&json!({"sort": ["price"], "size": 2})).unwrap();
    let hits = f.run(&req).unwrap();
    assert_eq!(hits.hits[0].sort, vec![SortValue::I64(8)]);
    assert_eq!(hits.hits[0].score, None);
    assert_eq!(hits.max_score, None);
    let req =
        SearchRequest::from_es_json(&json!({"sort": ["tag", "published"], "track_scores": true}))
            .unwrap();
    let hits = f.run(&req).unwrap();
    assert_eq!(
        hits.hits[0].sort,
        vec![
            SortValue::Str("animal".into()),
            SortValue::I64(1_559_347_200_000)
        ]
    );
    assert_eq!(hits.hits[0].score, Some(1.0));
    assert_eq!(hits.max_score, Some(1.0));
    let req = SearchRequest::from_es_json(&json!({"sort": ["rating"]})).unwrap();
    let hits = f.run(&req).unwrap();
    assert_eq!(hits.hits[0].sort, vec![SortValue::F64(3.0)]);
    assert_eq!(hits.hits[4].sort, vec![SortValue::Missing]);
    // ES shows floats at float precision and a missing long as Long.MAX_VALUE.
    let spec = |source, desc| KeySpec {
        source,
        desc,
        missing_first: false,
        use_max: desc,
    };
    assert_eq!(
        render_sort_value(
            &SortValue::Missing,
            &spec(KeySource::Int("x".into()), false)
        ),
        json!(i64::MAX)
    );
    assert_eq!(
        render_sort_value(&SortValue::Missing, &spec(KeySource::Int("x".into()), true)),
        json!(i64::MIN)
    );
    assert_eq!(
        render_sort_value(
            &SortValue::Missing,
            &spec(KeySource::Str("x".into()), false)
        ),
        json!(null)
    );
    assert_eq!(
        render_sort_value(&SortValue::Score(1.1), &spec(KeySource::Score, true)),
        json!(1.1)
    );
    assert_eq!(
        render_sort_value(
            &SortValue::Str("a".into()),
            &spec(KeySource::Str("x".into()), false)
        ),
        json!("a")
    );
}

#[test]
fn from_size_paging() {
    let f = books();
    assert_eq!(
        f.ids(json!({"sort": ["price"], "from": 1, "size": 2})),
        v(&["1", "4"])
    );
    assert_eq!(
        f.ids(json!({"sort": ["price"], "from": 4, "size": 10})),
        v(&["3"])
    );
    assert!(f.ids(json!({"sort": ["price"], "from": 5})).is_empty());
    assert!(f.ids(json!({"size": 0})).is_empty());
    let req = SearchRequest::from_es_json(&json!({"size": 0})).unwrap();
    assert_eq!(f.run(&req).unwrap().total, 5);
    // Default: by score, ties in indexing order.
    assert_eq!(f.ids(json!({"size": 3})), v(&["1", "2", "3"]));
}

#[test]
fn search_after_pages_strictly_after() {
    let f = books();
    assert_eq!(
        f.ids(json!({"sort": ["price"], "search_after": [10]})),
        v(&["4", "2", "3"])
    );
    assert_eq!(
        f.ids(json!({"sort": [{"price": "desc"}], "search_after": [25]})),
        v(&["4", "1", "5"])
    );
    assert_eq!(
        f.ids(json!({"sort": ["tag", "price"], "search_after": ["food", 8]})),
        v(&["4", "3"])
    );
    assert_eq!(
        f.ids(json!({"sort": ["tag"], "search_after": ["c"]})),
        v(&["4", "5", "3"])
    );
    assert_eq!(
        f.ids(json!({"sort": [{"tag": "desc"}], "search_after": ["c"]})),
        v(&["1", "2"])
    );
    assert_eq!(
        f.ids(json!({"sort": ["rating"], "search_after": [4.9]})),
        v(&["5"])
    );
    assert_eq!(
        f.ids(json!({"sort": ["published"], "search_after": ["2020-01-01"]})),
        v(&["1", "3", "5"])
    );
    assert_eq!(
        f.ids(json!({"sort": ["_doc"], "search_after": [2]})),
        v(&["4", "5"])
    );
    // Paging through with the last hit's sort values visits everything once.
    let mut seen = Vec::new();
    let mut after: Option<serde_json::Value> = None;
    loop {
        let mut body = json!({"sort": ["tag", "_id"], "size": 2});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let req = SearchRequest::from_es_json(&body).unwrap();
        let hits = f.run(&req).unwrap();
        if hits.hits.is_empty() {
            break;
        }
        seen.extend(hits.hits.iter().map(|h| h.id.clone()));
        let last = hits.hits.last().unwrap();
        let values: Vec<_> = last
            .sort
            .iter()
            .map(|s| match s {
                SortValue::Str(s) => json!(s),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        after = Some(json!(values));
    }
    assert_eq!(seen, v(&["1", "2", "4", "5", "3"]));
    // By score: pass the score back.
    let req = SearchRequest::from_es_json(&json!({"query": {"match": {"body": "quick"}}})).unwrap();
    let top = f.run(&req).unwrap().hits[0].score.unwrap();
    assert_eq!(
        f.ids(json!({"query": {"match": {"body": "quick"}}, "search_after": [top]})),
        v(&["1"])
    );
}

#[test]
fn sort_errors() {
    let f = books();
    let e = f.err(json!({"sort": ["title"]}));
    assert!(
        matches!(&e, IndexError::IllegalArgument(m) if m.starts_with("Text fields are not optimised")),
        "{e}"
    );
    let e = f.err(json!({"sort": ["nope"]}));
    assert_eq!(
        e.to_string(),
        "No mapping found for [nope] in order to sort on"
    );
    assert_eq!(
        sorted(&f, json!([{"nope": {"unmapped_type": "long"}}])),
        v(&["1", "2", "3", "4", "5"])
    );
    let e = f.err(json!({"sort": ["price"], "search_after": [1, 2]}));
    assert_eq!(e.to_string(), "search_after has 2 value(s) but sort has 1.");
    let e = f.err(json!({"sort": ["price"], "search_after": [1], "from": 1}));
    assert!(matches!(e, IndexError::IllegalArgument(_)));
    let e = f.err(json!({"sort": [{"price": "up"}]}));
    assert!(matches!(e, IndexError::IllegalArgument(_)));
}

#[test]
fn totals_follow_track_total_hits() {
    let req = |v: serde_json::Value| {
        SearchRequest::from_es_json(&json!({"track_total_hits": v})).unwrap()
    };
    assert_eq!(
        reported_total(&SearchRequest::default(), 20_000),
        (10_000, false)
    );
    assert_eq!(reported_total(&SearchRequest::default(), 5), (5, true));
    assert_eq!(reported_total(&req(json!(true)), 20_000), (20_000, true));
    assert_eq!(reported_total(&req(json!(2)), 5), (2, false));
    assert_eq!(reported_total(&req(json!(false)), 5), (0, false));
    assert!(!req(json!(false)).total_hits_tracked());
}

#[test]
fn shards_merge_by_sort_then_shard_then_order() {
    let docs_a = [json!({"n": 3, "t": "x"}), json!({"n": 1, "t": "x"})];
    let docs_b = [json!({"n": 2, "t": "x"}), json!({"n": 1, "t": "x"})];
    let a = Fixture::new(json!({}), &docs_a);
    let b = Fixture::new(json!({}), &docs_b);
    let run = |req: &SearchRequest| {
        let ra = {
            let m = a.mapping.read();
            let p = a.idx.prepare(req, &m).unwrap();
            (p.specs(), a.idx.execute(req, &p).unwrap())
        };
        let rb = {
            let m = b.mapping.read();
            let p = b.idx.prepare(req, &m).unwrap();
            (p.specs(), b.idx.execute(req, &p).unwrap())
        };
        let merged = merge(
            req,
            vec![(0, 0, (ra.1, ra.0)), (0, 1, (rb.1, Arc::clone(&rb.0)))],
        );
        (
            merged.total,
            merged
                .page
                .iter()
                .map(|t| (t.shard, t.hit.id.clone()))
                .collect::<Vec<_>>(),
        )
    };
    let req = SearchRequest::from_es_json(&json!({"sort": ["n"]})).unwrap();
    let (total, page) = run(&req);
    assert_eq!(total, 4);
    assert_eq!(
        page,
        vec![
            (0, "2".into()),
            (1, "2".into()),
            (1, "1".into()),
            (0, "1".into())
        ]
    );
    let req = SearchRequest::from_es_json(&json!({"sort": [{"n": "desc"}], "from": 1, "size": 2}))
        .unwrap();
    assert_eq!(run(&req).1, vec![(1, "1".into()), (0, "2".into())]);
    // Equal scores: shard order, then indexing order.
    let req = SearchRequest::from_es_json(&json!({"query": {"term": {"t.keyword": "x"}}})).unwrap();
    assert_eq!(
        run(&req).1,
        vec![
            (0, "1".into()),
            (0, "2".into()),
            (1, "1".into()),
            (1, "2".into())
        ]
    );
}

/// Hits from several segments keep their own ids: each segment's candidates carry an id
/// ordinal of *that* segment's dictionary until the merge keeps them.
#[test]
fn hits_across_segments_keep_their_ids() {
    let f = Fixture::new(json!({"properties": {"n": {"type": "long"}}}), &[]);
    // Three commits, three segments; ids sort in the opposite order of `n` inside each.
    let mut seq = 0;
    for batch in 0..3u64 {
        for i in 0..4u64 {
            let n = batch * 10 + i;
            let id = format!("d{}-{}", 9 - batch, 9 - i);
            f.idx
                .index(&id, seq, json!({ "n": n }).to_string().as_bytes())
                .unwrap();
            seq += 1;
        }
        f.idx.refresh(seq - 1).unwrap();
    }
    assert_eq!(
        f.ids(json!({"sort": [{"n": "desc"}], "size": 5})),
        v(&["d7-6", "d7-7", "d7-8", "d7-9", "d8-6"])
    );
    assert_eq!(
        f.ids(json!({"sort": ["n"], "from": 3, "size": 3})),
        v(&["d9-6", "d8-9", "d8-8"])
    );
    assert_eq!(
        f.ids(json!({"query": {"range": {"n": {"gte": 11, "lte": 20}}}, "sort": ["n"]})),
        v(&["d8-8", "d8-7", "d8-6", "d7-9"])
    );
}
