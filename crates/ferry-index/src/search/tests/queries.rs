//! Every query type against the `books` data: known data, known answers.

use serde_json::json;

use super::{books, v};
use crate::search::SearchRequest;

#[test]
fn match_analyzes_text_and_scores_bm25() {
    let f = books();
    // Same term frequency: the shorter body ranks first (per-field length norms).
    assert_eq!(f.q(json!({"match": {"body": "quick"}})), v(&["4", "1"]));
    assert_eq!(f.q(json!({"match": {"title": "BROWN"}})), v(&["5", "1"]));
    assert_eq!(
        f.q(json!({"match": {"body": {"query": "quick brown", "operator": "and"}}})),
        v(&["1"])
    );
    assert_eq!(
        f.qs(json!({"match": {"body": "quick brown"}})),
        v(&["1", "4", "5"])
    );
    assert_eq!(
        f.q(json!({"match": {"body": {"query": "quick brown fox", "minimum_should_match": 2}}})),
        v(&["1"])
    );
    assert_eq!(
        f.qs(
            json!({"match": {"body": {"query": "quick brown fox", "minimum_should_match": "34%"}}})
        ),
        v(&["1", "4", "5"])
    );
    assert!(
        f.q(json!({"match": {"body": {"query": "quick brown", "minimum_should_match": 3}}}))
            .is_empty()
    );
    assert!(f.q(json!({"match": {"body": "!!!"}})).is_empty());
    assert_eq!(
        f.q(json!({"match": {"body": {"query": "!!!", "zero_terms_query": "all"}}}))
            .len(),
        5
    );
    assert!(f.q(json!({"match": {"nope": "quick"}})).is_empty());
}

#[test]
fn match_on_exact_fields_is_a_term() {
    let f = books();
    assert_eq!(f.q(json!({"match": {"tag": "animal"}})), v(&["1", "2"]));
    assert!(f.q(json!({"match": {"tag": "Animal"}})).is_empty());
    assert_eq!(f.q(json!({"match": {"price": "25"}})), v(&["2"]));
    assert_eq!(f.q(json!({"match": {"available": false}})), v(&["2", "5"]));
    assert_eq!(
        f.q(json!({"match": {"published": "2019-06-01"}})),
        v(&["2"])
    );
    assert_eq!(
        f.q(json!({"match": {"title.keyword": "Lazy Dogs"}})),
        v(&["2"])
    );
    assert!(
        f.q(json!({"match": {"price": {"query": "abc", "lenient": true}}}))
            .is_empty()
    );
}

#[test]
fn match_phrase_and_prefix() {
    let f = books();
    assert_eq!(
        f.q(json!({"match_phrase": {"body": "lazy dog"}})),
        v(&["2", "1"])
    );
    assert!(
        f.q(json!({"match_phrase": {"body": "dog lazy"}}))
            .is_empty()
    );
    assert_eq!(
        f.q(json!({"match_phrase": {"body": {"query": "quick fox", "slop": 1}}})),
        v(&["1"])
    );
    assert!(
        f.q(json!({"match_phrase": {"body": "quick fox"}}))
            .is_empty()
    );
    assert_eq!(
        f.qs(json!({"match_phrase_prefix": {"body": "lazy do"}})),
        v(&["1", "2"])
    );
    assert_eq!(
        f.qs(json!({"match_phrase_prefix": {"title": "bro"}})),
        v(&["1", "5"])
    );
}

#[test]
fn multi_match_best_and_most_fields() {
    let f = books();
    assert_eq!(
        f.q(json!({"multi_match": {"query": "brown", "fields": ["title^2", "body"]}})),
        v(&["5", "1"])
    );
    assert_eq!(
        f.qs(json!({"multi_match": {"query": "fast", "fields": ["tags", "body"]}})),
        v(&["1", "3"])
    );
    assert_eq!(
        f.qs(json!({"multi_match": {"query": "lazy", "fields": ["t*"], "type": "most_fields"}})),
        v(&["2"])
    );
    assert_eq!(
        f.qs(json!({"multi_match": {"query": "lazy dog", "type": "phrase"}})),
        v(&["1", "2"])
    );
    // Every field when none are given; values that do not parse are skipped.
    assert_eq!(
        f.qs(json!({"multi_match": {"query": "food"}})),
        v(&["4", "5"])
    );
}

#[test]
fn term_and_terms() {
    let f = books();
    assert_eq!(f.q(json!({"term": {"tag": "food"}})), v(&["4", "5"]));
    assert_eq!(
        f.q(json!({"term": {"tag": {"value": "FOOD", "case_insensitive": true}}})),
        v(&["4", "5"])
    );
    assert!(
        f.q(json!({"term": {"title": "Brown"}})).is_empty(),
        "term does not analyze"
    );
    assert_eq!(f.q(json!({"term": {"title": "brown"}})), v(&["5", "1"]));
    assert_eq!(f.q(json!({"term": {"price": 40}})), v(&["3"]));
    assert_eq!(f.q(json!({"term": {"rating": 4.5}})), v(&["1"]));
    assert_eq!(f.q(json!({"term": {"rating": 4}})), v(&["4"]));
    assert_eq!(
        f.q(json!({"term": {"available": "true"}})),
        v(&["1", "3", "4"])
    );
    assert_eq!(f.q(json!({"term": {"author.age": 45}})), v(&["2"]));
    assert_eq!(
        f.q(json!({"terms": {"tag": ["tech", "food"]}})),
        v(&["3", "4", "5"])
    );
    assert_eq!(
        f.q(json!({"terms": {"price": [8, "40", 99]}})),
        v(&["3", "5"])
    );
    assert_eq!(
        f.q(json!({"terms": {"tags.keyword": ["fast"]}})),
        v(&["1", "3"])
    );
    assert_eq!(
        f.q(json!({"terms": {"published": ["2019-06-01", "2018-11-20"]}})),
        v(&["2", "4"])
    );
}

#[test]
fn ranges_on_numbers_dates_and_keywords() {
    let f = books();
    assert_eq!(
        f.q(json!({"range": {"price": {"gte": 10, "lt": 25}}})),
        v(&["1", "4"])
    );
    assert_eq!(
        f.q(json!({"range": {"price": {"gt": 10}}})),
        v(&["2", "3", "4"])
    );
    assert_eq!(
        f.q(json!({"range": {"price": {"gt": 9.5, "lte": "15.9"}}})),
        v(&["1", "4"])
    );
    assert_eq!(
        f.q(json!({"range": {"rating": {"gte": 4.5}}})),
        v(&["1", "3"])
    );
    assert_eq!(
        f.q(json!({"range": {"rating": {"gt": 3.0, "lt": 4.5}}})),
        v(&["4"])
    );
    assert_eq!(
        f.q(json!({"range": {"published": {"gte": "2020-01-01"}}})),
        v(&["1", "3", "5"])
    );
    // lte a day includes the whole day; gt a day starts after it (ES rounding).
    assert_eq!(
        f.q(json!({"range": {"published": {"lte": "2020-01-15"}}})),
        v(&["1", "2", "4"])
    );
    assert_eq!(
        f.q(json!({"range": {"published": {"gt": "2020-01-15"}}})),
        v(&["3", "5"])
    );
    assert_eq!(
        f.q(json!({"range": {"published": {"gte": "now-200y", "lte": "now"}}}))
            .len(),
        5
    );
    assert_eq!(
        f.q(json!({"range": {"published": {"gte": "01/2020", "lt": "01/2021", "format": "MM/yyyy"}}})),
        v(&["1"])
    );
    assert_eq!(
        f.q(json!({"range": {"published": {"gte": 1_577_836_800_000i64}}})),
        v(&["1", "3", "5"])
    );
    assert_eq!(
        f.q(json!({"range": {"tag": {"gte": "b", "lt": "g"}}})),
        v(&["4", "5"])
    );
    assert_eq!(
        f.q(json!({"range": {"author.age": {"from": 28, "to": 30, "include_upper": false}}})),
        v(&["3"])
    );
    assert!(
        f.q(json!({"range": {"price": {"gt": 30, "lt": 20}}}))
            .is_empty()
    );
    assert!(
        f.q(json!({"range": {"missing_field": {"gt": 1}}}))
            .is_empty()
    );
}

#[test]
fn exists_ids_prefix_wildcard_regexp() {
    let f = books();
    assert_eq!(
        f.q(json!({"exists": {"field": "tags"}})),
        v(&["1", "2", "3", "5"])
    );
    assert_eq!(
        f.q(json!({"exists": {"field": "author"}})),
        v(&["1", "2", "3", "4"])
    );
    assert_eq!(
        f.q(json!({"exists": {"field": "author.age"}})),
        v(&["1", "2", "3"])
    );
    assert_eq!(f.q(json!({"exists": {"field": "extra"}})), v(&["5"]));
    assert_eq!(
        f.q(json!({"exists": {"field": "rat*"}})),
        v(&["1", "2", "3", "4"])
    );
    assert!(f.q(json!({"exists": {"field": "nothing"}})).is_empty());
    assert_eq!(
        f.q(json!({"ids": {"values": ["3", "1", "x"]}})),
        v(&["1", "3"])
    );
    assert_eq!(f.q(json!({"prefix": {"title.keyword": "Lazy"}})), v(&["2"]));
    assert_eq!(f.q(json!({"prefix": {"body": "laz"}})), v(&["1", "2"]));
    assert_eq!(
        f.q(json!({"prefix": {"tag": {"value": "FO", "case_insensitive": true}}})),
        v(&["4", "5"])
    );
    assert_eq!(f.q(json!({"wildcard": {"tag": "*ec*"}})), v(&["3"]));
    assert_eq!(
        f.q(json!({"wildcard": {"tag": {"value": "t?ch"}}})),
        v(&["3"])
    );
    assert_eq!(f.q(json!({"wildcard": {"body": "jump*"}})), v(&["1"]));
    assert_eq!(
        f.q(json!({"wildcard": {"author.name.keyword": "*o*"}})),
        v(&["2", "3"])
    );
    assert_eq!(f.q(json!({"regexp": {"tag": "f.*d"}})), v(&["4", "5"]));
    assert!(
        f.q(json!({"prefix": {"tag": "a.b"}})).is_empty(),
        "regex characters are literal"
    );
}

#[test]
fn bool_with_all_clauses() {
    let f = books();
    assert_eq!(
        f.q(json!({"bool": {"must": {"match": {"body": "quick"}}, "filter": [{"range": {"price": {"lte": 12}}}]}})),
        v(&["1"])
    );
    // The rarer term scores higher.
    assert_eq!(
        f.q(json!({"bool": {"should": [{"term": {"tag": "animal"}}, {"term": {"tag": "tech"}}], "must_not": {"term": {"available": false}}}})),
        v(&["3", "1"])
    );
    assert_eq!(
        f.q(json!({"bool": {"must_not": {"term": {"tag": "food"}}}})),
        v(&["1", "2", "3"])
    );
    assert_eq!(
        f.qs(json!({"bool": {"should": [{"term": {"tag": "animal"}}, {"term": {"available": true}}, {"range": {"price": {"lt": 16}}}], "minimum_should_match": 2}})),
        v(&["1", "4"])
    );
    // With must, should clauses are optional and only add score.
    assert_eq!(
        f.q(json!({"bool": {"must": {"term": {"tag": "animal"}}, "should": {"term": {"price": 25}}}})),
        v(&["2", "1"])
    );
    assert_eq!(f.q(json!({"bool": {}})).len(), 5);
    assert!(
        f.q(json!({"bool": {"should": [{"term": {"tag": "x"}}], "minimum_should_match": 2}}))
            .is_empty()
    );
    let req = SearchRequest::from_es_json(
        &json!({"query": {"bool": {"filter": {"term": {"tag": "food"}}}}}),
    )
    .unwrap();
    let hits = f.run(&req).unwrap();
    assert!(
        hits.hits.iter().all(|h| h.score == Some(0.0)),
        "filter-only bool scores 0"
    );
}

#[test]
fn constant_score_dis_max_match_all_none() {
    let f = books();
    let req = SearchRequest::from_es_json(
        &json!({"query": {"constant_score": {"filter": {"term": {"tag": "food"}}, "boost": 2.5}}}),
    )
    .unwrap();
    let hits = f.run(&req).unwrap();
    assert_eq!(
        hits.hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["4", "5"]
    );
    assert!(hits.hits.iter().all(|h| h.score == Some(2.5)));
    assert_eq!(hits.max_score, Some(2.5));
    assert_eq!(
        f.q(json!({"dis_max": {"queries": [{"term": {"tag": "tech"}}, {"match": {"title": "bread"}}]}})).len(),
        2
    );
    assert_eq!(f.q(json!({"match_all": {}})), v(&["1", "2", "3", "4", "5"]));
    assert!(f.q(json!({"match_none": {}})).is_empty());
    let req = SearchRequest::from_es_json(&json!({"query": {"match_all": {"boost": 3}}})).unwrap();
    assert!(
        f.run(&req)
            .unwrap()
            .hits
            .iter()
            .all(|h| h.score == Some(3.0))
    );
}

#[test]
fn query_string_subset() {
    let f = books();
    let qs = |q: &str| f.qs(json!({"query_string": {"query": q}}));
    assert_eq!(qs("title:brown AND tag:food"), v(&["5"]));
    assert_eq!(qs("quick OR bread"), v(&["1", "4", "5"]));
    assert_eq!(qs("tag:(food OR tech)"), v(&["3", "4", "5"]));
    assert_eq!(qs("price:[10 TO 20]"), v(&["1", "4"]));
    assert_eq!(qs("price:{10 TO *]"), v(&["2", "3", "4"]));
    assert_eq!(qs("price:>20"), v(&["2", "3"]));
    assert_eq!(qs("published:<=2019-06-01"), v(&["2", "4"]));
    assert_eq!(qs("\"lazy dog\""), v(&["1", "2"]));
    assert_eq!(qs("-tag:food"), v(&["1", "2", "3"]));
    assert_eq!(qs("NOT tag:food AND NOT tag:animal"), v(&["3"]));
    assert_eq!(qs("+tag:animal -available:false"), v(&["1"]));
    assert_eq!(qs("title:bro*"), v(&["1", "5"]));
    assert_eq!(qs("title:BRO*"), v(&["1", "5"]));
    assert_eq!(qs("_exists_:extra"), v(&["5"]));
    assert_eq!(qs("extra:*"), v(&["5"]));
    assert_eq!(qs("*"), v(&["1", "2", "3", "4", "5"]));
    assert_eq!(qs("author.name:carol"), v(&["3"]));
    assert_eq!(qs("tag:/te.h/"), v(&["3"]));
    assert_eq!(qs("(quick AND lazy) OR tag:tech"), v(&["1", "3"]));
    assert_eq!(
        f.qs(json!({"query_string": {"query": "quick brown", "default_operator": "AND"}})),
        v(&["1"])
    );
    assert_eq!(
        f.qs(json!({"query_string": {"query": "lazy", "default_field": "title"}})),
        v(&["2"])
    );
    assert_eq!(
        f.qs(json!({"query_string": {"query": "lazy", "fields": ["title", "tag"]}})),
        v(&["2"])
    );
    assert_eq!(
        f.q(json!({"query_string": {"query": "brown", "fields": ["title^3", "body"]}})),
        v(&["5", "1"])
    );
    let req = SearchRequest::default().with_q("tag:tech").unwrap();
    assert_eq!(f.page(&req), v(&["3"]));
    let req = SearchRequest::default()
        .with_q_params("quick brown", Some("body"), Some("and"))
        .unwrap();
    assert_eq!(f.page(&req), v(&["1"]));
}

#[test]
fn post_filter_and_min_score() {
    let f = books();
    assert_eq!(
        f.ids(
            json!({"query": {"match": {"body": "quick"}}, "post_filter": {"term": {"tag": "food"}}})
        ),
        v(&["4"])
    );
    let all = f
        .run(&SearchRequest::from_es_json(&json!({"query": {"match": {"body": "quick"}}})).unwrap())
        .unwrap();
    let low = all
        .hits
        .iter()
        .map(|h| h.score.unwrap())
        .fold(f32::MAX, f32::min);
    let req = SearchRequest::from_es_json(
        &json!({"query": {"match": {"body": "quick"}}, "min_score": low + 0.0001}),
    )
    .unwrap();
    let hits = f.run(&req).unwrap();
    assert_eq!(hits.total, 1);
    assert_eq!(hits.hits[0].id, "4");
}
