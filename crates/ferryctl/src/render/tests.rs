//! Tests of answer rendering: exact table text for each view, JSON fallback, error lines.

use bytes::Bytes;
use serde_json::json;
use tonic::Code;

use super::*;

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("test JSON encodes")
}

#[test]
fn tables_align_columns_without_trailing_spaces() {
    let rows = vec![
        vec!["a".to_owned(), "long value".to_owned()],
        vec!["longer key".to_owned(), "".to_owned()],
    ];
    assert_eq!(
        table(&["k", "v"], &rows),
        "k           v\na           long value\nlonger key\n"
    );
}

#[test]
fn health_is_one_field_per_line() {
    let body = json!({"cluster_name": "ferry", "status": "green", "timed_out": false, "number_of_nodes": 1,
                      "indices": {"x": {}}});
    let out = render(View::Health, Output::Table, &bytes(&body));
    assert_eq!(
        out,
        "field            value\ncluster_name     ferry\nstatus           green\ntimed_out        false\nnumber_of_nodes  1\n"
    );
}

#[test]
fn index_list_keeps_server_column_order() {
    let body = json!([
        {"health": "green", "status": "open", "index": "logs", "docs.count": "12"},
        {"health": "yellow", "status": "open", "index": "metrics-2024", "docs.count": "0"}
    ]);
    let out = render(View::IndexList, Output::Table, &bytes(&body));
    assert_eq!(
        out,
        "health  status  index         docs.count\n\
         green   open    logs          12\n\
         yellow  open    metrics-2024  0\n"
    );
    assert_eq!(
        render(View::IndexList, Output::Table, b"[]"),
        "no indices\n"
    );
}

#[test]
fn search_hits_show_index_id_score_and_snippet() {
    let body = json!({
        "took": 3, "timed_out": false,
        "hits": {"total": {"value": 2, "relation": "eq"}, "max_score": 1.5, "hits": [
            {"_index": "logs", "_type": "_doc", "_id": "1", "_score": 1.5, "_source": {"title": "ferry"}},
            {"_index": "logs", "_type": "_doc", "_id": "2", "_score": null,
             "_source": {"body": "x".repeat(100)}}
        ]}
    });
    let out = render(View::Search, Output::Table, &bytes(&body));
    let long = format!("{{\"body\":\"{}...", "x".repeat(SNIPPET_CHARS - 9));
    assert_eq!(
        out,
        format!(
            "hits: 2, took: 3ms\nindex  id  score  source\nlogs   1   1.5    {{\"title\":\"ferry\"}}\nlogs   2   -      {long}\n"
        )
    );
}

#[test]
fn search_totals_as_int_and_lower_bounds() {
    let as_int = json!({"took": 1, "hits": {"total": 7, "hits": []}});
    assert_eq!(
        render(View::Search, Output::Table, &bytes(&as_int)),
        "hits: 7, took: 1ms\n"
    );
    let gte =
        json!({"took": 1, "hits": {"total": {"value": 10000, "relation": "gte"}, "hits": []}});
    assert_eq!(
        render(View::Search, Output::Table, &bytes(&gte)),
        "hits: 10000+, took: 1ms\n"
    );
}

#[test]
fn bulk_lists_only_failed_items() {
    let body = json!({"took": 5, "errors": true, "items": [
        {"index": {"_index": "logs", "_id": "1", "status": 201, "result": "created"}},
        {"create": {"_index": "logs", "_id": "2", "status": 409,
                    "error": {"type": "version_conflict_engine_exception", "reason": "[2]: version conflict"}}}
    ]});
    let out = render(View::Bulk, Output::Table, &bytes(&body));
    assert_eq!(
        out,
        "items: 2, failed: 1, errors: true, took: 5ms\n\
         action  index  id  status  type                               reason\n\
         create  logs   2   409     version_conflict_engine_exception  [2]: version conflict\n"
    );
}

#[test]
fn json_output_is_pretty_and_keeps_key_order() {
    let body = br#"{"z":1,"a":{"b":[1]}}"#;
    let expected = "{\n  \"z\": 1,\n  \"a\": {\n    \"b\": [\n      1\n    ]\n  }\n}\n";
    assert_eq!(render(View::Json, Output::Table, body), expected);
    assert_eq!(render(View::Search, Output::Json, body), expected);
}

#[test]
fn a_body_without_the_expected_shape_falls_back_to_json() {
    assert_eq!(
        render(View::Search, Output::Table, br#"{"found":false}"#),
        "{\n  \"found\": false\n}\n"
    );
    assert_eq!(
        render(View::IndexList, Output::Table, br#"{"a":1}"#),
        "{\n  \"a\": 1\n}\n"
    );
    assert_eq!(render(View::Json, Output::Json, b"not json"), "not json\n");
}

#[test]
fn errors_show_the_elasticsearch_type_and_reason() {
    let body = json!({"error": {"root_cause": [], "type": "index_not_found_exception",
                                "reason": "no such index [x]"}, "status": 404});
    let status = Status::with_details(
        Code::NotFound,
        "no such index [x]",
        Bytes::from(bytes(&body)),
    );
    assert_eq!(
        describe_status(&status),
        "index_not_found_exception: no such index [x]"
    );
}

#[test]
fn errors_without_details_show_the_grpc_code() {
    assert_eq!(
        describe_status(&Status::unavailable("connection refused")),
        "unavailable: connection refused"
    );
    let odd = Status::with_details(
        Code::InvalidArgument,
        "bad",
        Bytes::from_static(b"\x00junk"),
    );
    assert_eq!(describe_status(&odd), "invalid_argument: bad");
}
