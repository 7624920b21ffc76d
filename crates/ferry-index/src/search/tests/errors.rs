//! Bad requests are refused up front with ES's wording, and change nothing.

use serde_json::json;

use super::books;
use crate::IndexError;
use crate::search::SearchRequest;

fn parse_err(body: serde_json::Value) -> IndexError {
    SearchRequest::from_es_json(&body).expect_err("the body should be refused")
}

fn is_parsing(e: &IndexError, text: &str) -> bool {
    matches!(e, IndexError::Parsing(m) if m == text)
}

#[test]
fn unknown_and_malformed_queries() {
    let e = parse_err(json!({"query": {"foo": {}}}));
    assert!(is_parsing(&e, "unknown query [foo]"), "{e}");
    let e = parse_err(json!({"query": {"match": "x"}}));
    assert!(
        is_parsing(
            &e,
            "[match] query malformed, no start_object after query name"
        ),
        "{e}"
    );
    let e = parse_err(json!({"query": {"match": {"a": "x", "b": "y"}}}));
    assert!(
        is_parsing(
            &e,
            "[match] query doesn't support multiple fields, found [a] and [b]"
        ),
        "{e}"
    );
    let e = parse_err(json!({"query": {"match": {"a": {"query": "x", "bogus": 1}}}}));
    assert!(
        is_parsing(&e, "[match] query does not support [bogus]"),
        "{e}"
    );
    let e = parse_err(json!({"query": {"bool": {"must": [{"nope": {}}]}}}));
    assert!(is_parsing(&e, "unknown query [nope]"), "{e}");
    let e = parse_err(json!({"query": {"bool": {"shoud": []}}}));
    assert!(
        is_parsing(&e, "[bool] query does not support [shoud]"),
        "{e}"
    );
    let e = parse_err(json!({"query": {"match": {}, "term": {}}}));
    assert!(matches!(e, IndexError::Parsing(_)));
    assert!(matches!(
        parse_err(json!({"query": {}})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"query": []})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"query": {"term": {"f": ["a"]}}})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"query": {"terms": {"f": "a"}}})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"query": {"range": {"f": 3}}})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"query": {"exists": {}}})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"query": {"match": {"f": {"query": "x", "operator": "xor"}}}})),
        IndexError::IllegalArgument(_)
    ));
    assert!(matches!(
        parse_err(json!({"query": {"match": {"f": {"query": "x", "boost": "high"}}}})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"query": {"match_all": {"boost": -1}}})),
        IndexError::IllegalArgument(_)
    ));
    assert!(
        matches!(parse_err(json!({"query": {"fuzzy": {"f": "x"}}})), IndexError::Parsing(m) if m.contains("not supported yet"))
    );
    assert!(matches!(
        parse_err(json!({"query": {"query_string": {"query": "a AND (b"}}})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"query": {"query_string": {"query": "foo~"}}})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"query": {"multi_match": {"query": "x", "type": "cross_fields"}}})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(
            json!({"query": {"match": {"f": {"query": "x", "minimum_should_match": "lots"}}}})
        ),
        IndexError::IllegalArgument(_)
    ));
    assert!(SearchRequest::default().with_q("a:(").is_err());
}

#[test]
fn top_level_keys_and_paging() {
    let e = parse_err(json!({"foo": {}}));
    assert!(
        is_parsing(&e, "Unknown key for a START_OBJECT in [foo]."),
        "{e}"
    );
    let e = parse_err(json!({"foo": 1}));
    assert!(
        is_parsing(&e, "Unknown key for a VALUE_NUMBER in [foo]."),
        "{e}"
    );
    let e = parse_err(json!({"from": 9995, "size": 10}));
    assert!(
        matches!(&e, IndexError::IllegalArgument(m) if m.starts_with("Result window is too large, from + size must be less than or equal to: [10000] but was [10005]")),
        "{e}"
    );
    let e = parse_err(json!({"size": -1}));
    assert_eq!(
        e.to_string(),
        "[size] parameter cannot be negative, found [-1]"
    );
    assert!(matches!(
        parse_err(json!({"from": "x"})),
        IndexError::Parsing(_)
    ));
    assert!(
        matches!(parse_err(json!({"aggs": {}})), IndexError::IllegalArgument(m) if m.contains("not supported yet"))
    );
    assert!(matches!(
        parse_err(json!({"highlight": {}})),
        IndexError::IllegalArgument(_)
    ));
    assert!(matches!(
        parse_err(json!({"version": true})),
        IndexError::IllegalArgument(_)
    ));
    assert!(matches!(
        parse_err(json!({"track_total_hits": "x"})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"timeout": "soon"})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(
        parse_err(json!({"_source": 5})),
        IndexError::Parsing(_)
    ));
    assert!(matches!(parse_err(json!([1])), IndexError::Parsing(_)));
    assert!(
        SearchRequest::from_es_json(
            &json!({"timeout": "1s", "version": false, "track_total_hits": 100})
        )
        .is_ok()
    );
    assert!(
        SearchRequest::default()
            .with_from_size(Some("9999"), Some("2"))
            .is_err()
    );
    assert!(
        SearchRequest::default()
            .with_from_size(Some("-1"), None)
            .is_err()
    );
    assert!(
        SearchRequest::default()
            .with_sort_param("price:sideways")
            .is_err()
    );
    let req = SearchRequest::default()
        .with_sort_param("price:desc,_score")
        .unwrap();
    assert!(req.has_sort());
}

#[test]
fn values_that_do_not_fit_the_field_fail_the_search() {
    let f = books();
    let e = f.err(json!({"query": {"term": {"price": "abc"}}}));
    assert!(
        matches!(&e, IndexError::IllegalArgument(m) if m.contains("For input string: \"abc\"")),
        "{e}"
    );
    let e = f.err(json!({"query": {"range": {"published": {"gte": "yesterday"}}}}));
    assert!(matches!(e, IndexError::IllegalArgument(_)));
    let e = f.err(json!({"query": {"prefix": {"price": "1"}}}));
    assert!(
        matches!(&e, IndexError::IllegalArgument(m) if m.starts_with("Can only use prefix queries on keyword and text fields")),
        "{e}"
    );
    let e = f.err(json!({"query": {"match": {"available": "maybe"}}}));
    assert!(matches!(e, IndexError::IllegalArgument(_)));
    let e = f.err(json!({"query": {"query_string": {"query": "price:abc", "fields": ["price"]}}}));
    assert!(matches!(e, IndexError::IllegalArgument(_)));
    // `*` fields are lenient.
    assert!(f.q(json!({"query_string": {"query": "abc"}})).is_empty());
    let e = f.err(json!({"query": {"regexp": {"tag": "(unclosed"}}}));
    assert!(matches!(e, IndexError::IllegalArgument(_)));
}
