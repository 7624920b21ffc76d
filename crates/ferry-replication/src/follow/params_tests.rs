//! Tests of the follow parameters: defaults, parsing, ES validation texts, rendering.

use serde_json::{Map, Value, json};

use super::{ByteSize, FollowError, FollowParameters, TimeValue};

fn body(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("test bodies are objects"),
    }
}

fn parse(v: Value) -> Result<FollowParameters, FollowError> {
    FollowParameters::from_es_json(&body(v))
}

#[test]
fn defaults_render_like_ccr_info() {
    let p = parse(json!({"remote_cluster": "us", "leader_index": "products"})).expect("valid");
    assert_eq!(p, FollowParameters::default());
    assert_eq!(
        Value::Object(p.to_es_json()),
        json!({
            "max_read_request_operation_count": 5120,
            "max_read_request_size": "32mb",
            "max_outstanding_read_requests": 12,
            "max_write_request_operation_count": 5120,
            "max_write_request_size": "9223372036854775807b",
            "max_outstanding_write_requests": 9,
            "max_write_buffer_count": 2147483647,
            "max_write_buffer_size": "512mb",
            "max_retry_delay": "500ms",
            "read_poll_timeout": "1m",
            "auto_rebootstrap": false
        })
    );
    let keys: Vec<String> = p.to_es_json().keys().cloned().collect();
    assert_eq!(keys[0], "max_read_request_operation_count");
    assert_eq!(keys[9], "read_poll_timeout");
    assert_eq!(p.max_read_request_size.bytes(), 32 << 20);
    assert_eq!(p.max_retry_delay.millis(), 500);
    assert_eq!(p.read_poll_timeout.millis(), 60_000);
}

#[test]
fn parses_given_values_and_keeps_their_text() {
    let p = parse(json!({
        "max_read_request_operation_count": 100,
        "max_outstanding_read_requests": "3",
        "max_read_request_size": "1KB",
        "max_write_request_size": "2g",
        "max_write_buffer_size": "1.5mb",
        "max_retry_delay": "2s",
        "read_poll_timeout": "30s",
        "auto_rebootstrap": true
    }))
    .expect("valid");
    assert_eq!(p.max_read_request_operation_count, 100);
    assert_eq!(p.max_outstanding_read_requests, 3);
    assert_eq!(p.max_read_request_size.bytes(), 1024);
    assert_eq!(p.max_read_request_size.as_str(), "1kb");
    assert_eq!(p.max_write_request_size.as_str(), "2gb");
    assert_eq!(p.max_write_buffer_size.as_str(), "1572864b");
    assert_eq!(p.max_retry_delay.as_str(), "2s");
    assert_eq!(p.read_poll_timeout.millis(), 30_000);
    assert!(p.auto_rebootstrap);
}

#[test]
fn zero_and_negative_values_give_es_messages_in_es_order() {
    let err = parse(json!({
        "max_retry_delay": "0ms",
        "max_write_buffer_size": "0",
        "max_outstanding_write_requests": 0,
        "max_read_request_operation_count": -5,
        "max_read_request_size": "-1",
        "max_write_buffer_count": 0,
        "max_outstanding_read_requests": 0,
        "max_write_request_operation_count": 0,
        "max_write_request_size": "0b"
    }))
    .expect_err("invalid");
    assert_eq!(err.es_type(), "illegal_argument_exception");
    assert_eq!(
        err.to_string(),
        "Validation Failed: 1: max_read_request_operation_count must be larger than 0;\
         2: max_read_request_size must be larger than 0;\
         3: max_outstanding_read_requests must be larger than 0;\
         4: max_write_request_operation_count must be larger than 0;\
         5: max_write_request_size must be larger than 0;\
         6: max_outstanding_write_requests must be larger than 0;\
         7: max_write_buffer_count must be larger than 0;\
         8: max_write_buffer_size must be larger than 0;\
         9: [max_retry_delay] must be positive but was [0ms];"
    );
}

#[test]
fn retry_delay_bounds() {
    let err = parse(json!({"max_retry_delay": "10m"})).expect_err("too long");
    assert_eq!(
        err.to_string(),
        "Validation Failed: 1: [max_retry_delay] must be less than [5m] but was [10m];"
    );
    let err = parse(json!({"max_retry_delay": "-1"})).expect_err("negative");
    assert_eq!(
        err.to_string(),
        "Validation Failed: 1: [max_retry_delay] must be positive but was [-1];"
    );
    assert!(parse(json!({"max_retry_delay": "5m"})).is_ok());
    assert!(parse(json!({"max_retry_delay": "300001ms"})).is_err());
}

#[test]
fn parse_errors_are_reported_before_validation() {
    let err = parse(json!({"max_read_request_size": "12"})).expect_err("no unit");
    assert_eq!(err.es_type(), "illegal_argument_exception");
    assert_eq!(
        err.to_string(),
        "failed to parse setting [max_read_request_size] with value [12] as a size in bytes: unit is missing or unrecognized"
    );
    let err = parse(json!({"read_poll_timeout": 5})).expect_err("no unit");
    assert_eq!(
        err.to_string(),
        "failed to parse setting [read_poll_timeout] with value [5] as a time value: unit is missing or unrecognized"
    );
    let err = parse(json!({"read_poll_timeout": "-3s"})).expect_err("negative");
    assert!(
        err.to_string()
            .ends_with("negative durations are not supported"),
        "{err}"
    );
    assert!(parse(json!({"max_retry_delay": "1.5s"})).is_err());
    assert!(parse(json!({"max_outstanding_read_requests": "many"})).is_err());
    assert!(parse(json!({"max_outstanding_read_requests": 3_000_000_000u64})).is_err());
    assert!(parse(json!({"max_read_request_size": "abcmb"})).is_err());
    assert!(parse(json!({"max_read_request_size": "-2b"})).is_err());
    assert!(parse(json!({"max_read_request_size": "9999999pb"})).is_err());
    assert!(parse(json!({"auto_rebootstrap": "yes"})).is_err());
}

#[test]
fn units_parse_and_render() {
    for (text, bytes, rep) in [
        ("5b", 5, "5b"),
        ("2k", 2048, "2kb"),
        ("1mb", 1 << 20, "1mb"),
        ("0", 0, "0"),
    ] {
        let b = ByteSize::parse("x", text).expect("valid");
        assert_eq!((b.bytes(), b.as_str()), (bytes, rep));
    }
    for (text, millis, rep) in [
        ("250ms", 250, "250ms"),
        ("2m", 120_000, "2m"),
        ("1h", 3_600_000, "1h"),
        ("0", 0, "0ms"),
    ] {
        let t = TimeValue::parse("x", text).expect("valid");
        assert_eq!((t.millis(), t.as_str()), (millis, rep));
    }
    assert_eq!(
        TimeValue::parse("x", "1500micros").expect("valid").millis(),
        1
    );
}
