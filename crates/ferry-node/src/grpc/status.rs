//! The one place an [`ApiError`] becomes a gRPC [`Status`].
//!
//! The code derives from the HTTP status, the message is the Elasticsearch `reason`, and the
//! status details carry the whole Elasticsearch error body as JSON, so a gRPC client shows
//! exactly what a REST client would. It does not decide *which* error a request gets: that
//! is the service layer's job.
//!
//! Details and message travel in HTTP/2 trailers, which clients cap (hyper: 16 KiB for the
//! whole header list), so an oversized reason is shortened here rather than breaking the
//! call with a protocol error.

use bytes::Bytes;
use tonic::{Code, Status};

use crate::error::ApiError;

/// Longest reason, in characters, sent as the status message and in the details body.
const MAX_REASON_CHARS: usize = 512;
/// Largest details body, in bytes, before extra fields are dropped from it.
const MAX_DETAILS_BYTES: usize = 8 * 1024;

/// The gRPC code for an HTTP status.
pub fn grpc_code(http_status: u16) -> Code {
    match http_status {
        200..=299 => Code::Ok,
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        413 | 429 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Internal,
    }
}

/// The gRPC status for a service-layer error: code from the HTTP status, message the
/// reason, details the Elasticsearch error body as UTF-8 JSON.
pub fn to_status(err: &ApiError) -> Status {
    let mut code = grpc_code(err.status);
    if code == Code::Ok {
        // An error must never read as success on the wire.
        code = Code::Internal;
    }
    let reason = shorten(&err.reason);
    let details = details_body(err, &reason);
    Status::with_details(code, reason, details)
}

/// The error body for the details, with the reason shortened and, if still too large, the
/// extra fields dropped.
fn details_body(err: &ApiError, reason: &str) -> Bytes {
    let mut error = err.clone();
    if reason.len() != err.reason.len() {
        error.reason = reason.to_owned();
    }
    let mut body = serde_json::to_vec(&error.body()).unwrap_or_default();
    if body.len() > MAX_DETAILS_BYTES {
        error.extra.clear();
        body = serde_json::to_vec(&error.body()).unwrap_or_default();
    }
    Bytes::from(body)
}

/// `reason` cut to [`MAX_REASON_CHARS`] characters, marked with `...` when cut.
fn shorten(reason: &str) -> String {
    match reason.char_indices().nth(MAX_REASON_CHARS) {
        None => reason.to_owned(),
        Some((cut, _)) => format!("{}...", &reason[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn details_json(status: &Status) -> Value {
        serde_json::from_slice(status.details()).expect("details are JSON")
    }

    #[test]
    fn http_statuses_map_to_grpc_codes() {
        let cases = [
            (400, Code::InvalidArgument),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::NotFound),
            (409, Code::Aborted),
            (413, Code::ResourceExhausted),
            (429, Code::ResourceExhausted),
            (501, Code::Unimplemented),
            (503, Code::Unavailable),
            (504, Code::DeadlineExceeded),
            (500, Code::Internal),
            (405, Code::Internal),
            (418, Code::Internal),
        ];
        for (http, code) in cases {
            assert_eq!(grpc_code(http), code, "http {http}");
        }
    }

    #[test]
    fn index_not_found_carries_reason_and_body() {
        let status = to_status(&ApiError::index_not_found("logs"));
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "no such index [logs]");
        let body = details_json(&status);
        assert_eq!(body, ApiError::index_not_found("logs").body());
        assert_eq!(body["error"]["type"], "index_not_found_exception");
        assert_eq!(body["status"], 404);
    }

    #[test]
    fn conflict_is_aborted() {
        let err = ApiError::new(
            409,
            "version_conflict_engine_exception",
            "[1]: version conflict",
        );
        let status = to_status(&err);
        assert_eq!(status.code(), Code::Aborted);
        assert_eq!(
            details_json(&status)["error"]["type"],
            "version_conflict_engine_exception"
        );
    }

    #[test]
    fn an_error_with_a_success_status_is_still_an_error() {
        let status = to_status(&ApiError::new(200, "odd_exception", "odd"));
        assert_eq!(status.code(), Code::Internal);
    }

    #[test]
    fn long_reasons_are_shortened_in_message_and_details() {
        let reason = "é".repeat(10_000);
        let err = ApiError::parsing(reason)
            .with("line", 1)
            .with("blob", "x".repeat(20_000));
        let status = to_status(&err);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message().chars().count(), MAX_REASON_CHARS + 3);
        assert!(status.message().ends_with("..."));
        assert!(status.details().len() <= MAX_DETAILS_BYTES);
        let body = details_json(&status);
        assert_eq!(body["error"]["type"], "parsing_exception");
        assert_eq!(body["error"]["reason"], status.message());
        assert!(body["error"].get("blob").is_none());
    }

    #[test]
    fn short_reasons_and_extras_are_kept() {
        let err = ApiError::parsing("bad").with("line", 3);
        let status = to_status(&err);
        assert_eq!(status.message(), "bad");
        assert_eq!(details_json(&status)["error"]["line"], 3);
    }
}
