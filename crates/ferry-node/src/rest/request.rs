//! Turning an HTTP request into route input: percent-decoded path segments, the query
//! string as [`Params`], the body (bounded by `http.max_content_length`), and ES's
//! Content-Type rules.
//!
//! Nothing here knows about endpoints; errors are ES's (406 for a missing or unsupported
//! Content-Type, 413 for a body over the limit).

use std::collections::HashMap;

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use http_body_util::BodyExt as _;

use crate::error::ApiError;
use crate::params::Params;

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`).
pub fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, ApiError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::illegal_argument(format!(
                            "unterminated escape sequence at end of string: {s}"
                        ))
                    })?;
                out.push(byte);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::illegal_argument(format!("[{s}] is not valid UTF-8 once decoded")))
}

/// The path's segments, decoded, empty ones dropped.
pub fn segments(path: &str) -> Result<Vec<String>, ApiError> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect()
}

/// The query string as parameters (`?pretty` is `pretty=""`; later duplicates win).
pub fn query_params(query: Option<&str>) -> Result<Params, ApiError> {
    let mut map = HashMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(percent_decode(k, true)?, percent_decode(v, true)?);
    }
    Ok(Params(map))
}

/// Media types a request body may have.
const ACCEPTED: &[&str] = &[
    "application/json",
    "application/x-ndjson",
    "application/vnd.elasticsearch+json",
    "application/vnd.elasticsearch+x-ndjson",
];

/// ES answers these with a plain `{"error": "...", "status": 406}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentTypeError(pub String);

/// Checks the Content-Type of a non-empty body.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ContentTypeError> {
    let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Err(ContentTypeError("Content-Type header is missing".into()));
    };
    let text = ct.to_str().unwrap_or("");
    let media = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ACCEPTED.contains(&media.as_str()) {
        Ok(())
    } else {
        Err(ContentTypeError(format!(
            "Content-Type header [{text}] is not supported"
        )))
    }
}

/// The `compatible-with` version a client asked for (ES 8 clients send
/// `application/vnd.elasticsearch+json; compatible-with=8`).
pub fn compatible_with(headers: &HeaderMap) -> Option<String> {
    for name in [axum::http::header::ACCEPT, axum::http::header::CONTENT_TYPE] {
        let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        if !v.contains("vnd.elasticsearch") {
            continue;
        }
        if let Some(i) = v.find("compatible-with=") {
            let n: String = v[i + "compatible-with=".len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !n.is_empty() {
                return Some(n);
            }
        }
    }
    None
}

/// Reads the body, refusing more than `limit` bytes with 413.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = |n: Option<u64>| {
        let shown = n.map_or_else(|| "more than the limit".to_owned(), |n| format!("{n}"));
        ApiError::new(
            413,
            "content_too_long_exception",
            format!(
                "request content length [{shown}] exceeds http.max_content_length [{limit}] bytes"
            ),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(declared));
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large(None))
        }
        Err(e) => Err(ApiError::new(
            400,
            "illegal_argument_exception",
            format!("failed to read the request body: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_like_elasticsearch() {
        let p = query_params(Some("pretty&q=title:a+b&routing=x%2Fy&empty=")).unwrap();
        assert_eq!(p.get("pretty"), Some(""));
        assert_eq!(p.get("q"), Some("title:a b"));
        assert_eq!(p.get("routing"), Some("x/y"));
        assert_eq!(p.get("empty"), Some(""));
        assert!(query_params(Some("a=%zz")).is_err());
        assert_eq!(query_params(None).unwrap(), Params::default());
    }

    #[test]
    fn path_segments_are_decoded_and_empty_ones_dropped() {
        assert_eq!(
            segments("/logs//_doc/a%2Fb/").unwrap(),
            ["logs", "_doc", "a/b"]
        );
        assert_eq!(segments("/").unwrap(), Vec::<String>::new());
        assert_eq!(
            segments("/a+b").unwrap(),
            ["a+b"],
            "plus is literal in paths"
        );
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert_eq!(
            check_content_type(&h).unwrap_err().0,
            "Content-Type header is missing"
        );
        h.insert(
            "content-type",
            "application/json; charset=UTF-8".parse().unwrap(),
        );
        assert!(check_content_type(&h).is_ok());
        h.insert(
            "content-type",
            "application/vnd.elasticsearch+json; compatible-with=8"
                .parse()
                .unwrap(),
        );
        assert!(check_content_type(&h).is_ok());
        assert_eq!(compatible_with(&h).as_deref(), Some("8"));
        h.insert("content-type", "text/plain".parse().unwrap());
        assert_eq!(
            check_content_type(&h).unwrap_err().0,
            "Content-Type header [text/plain] is not supported"
        );
        assert_eq!(compatible_with(&h), None);
    }
}
