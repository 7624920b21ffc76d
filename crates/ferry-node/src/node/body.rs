//! Request bodies: JSON parsing with ES's error types, and the `_update` body.
//!
//! Malformed JSON becomes `x_content_parse_exception` with ES's `[line:column]` prefix; a
//! body that is required but empty becomes `parse_exception` "request body is required".
//! The update body keeps `doc` and `upsert` as slices of the request bytes (no copies).
//! Nothing here validates documents against mappings: the engine does.

use std::fmt;

use bytes::Bytes;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// `x_content_parse_exception` for a serde_json error, with `[line:column]`.
pub fn json_error(e: &serde_json::Error) -> ApiError {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg.as_str(),
    };
    ApiError::x_content_parse(format!("[{}:{}] {msg}", e.line(), e.column()))
}

/// Whether `body` holds nothing but whitespace.
pub fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// The body as JSON, `None` when it is empty or whitespace.
pub fn parse_json(body: &[u8]) -> Result<Option<Value>, ApiError> {
    if is_blank(body) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| json_error(&e))
}

/// The body as a JSON object; an empty body is an empty object, anything but an object
/// is refused.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match parse_json(body)? {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(ApiError::x_content_parse(format!(
            "[1:1] Unexpected token: expected START_OBJECT but found [{}]",
            token_of(&other)
        ))),
    }
}

/// Like [`parse_object`], but an empty body is `parse_exception` "request body is required".
pub fn required_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if is_blank(body) {
        return Err(body_required());
    }
    parse_object(body)
}

/// ES's answer to a missing required body.
pub fn body_required() -> ApiError {
    ApiError::parse("request body is required")
}

/// The ES token name of a JSON value (one definition, in ferry-index).
pub use ferry_index::token_name as token_of;

/// The body of `POST /<index>/_update/<id>` (and of a bulk `update` source line).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateBody {
    /// `doc`: merged into the stored source (a slice of the request).
    pub doc: Option<Bytes>,
    /// `upsert`: inserted when the document does not exist.
    pub upsert: Option<Bytes>,
    /// `doc_as_upsert`.
    pub doc_as_upsert: bool,
    /// `detect_noop` (default true).
    pub detect_noop: bool,
    /// `_source` of the body: what the response's `get` carries.
    pub source: Option<Value>,
}

impl UpdateBody {
    /// Parses `body` (which must be a slice of `whole`, so `doc`/`upsert` can be sliced
    /// without copying). `script`/`scripted_upsert` are refused as not supported yet.
    pub fn parse(whole: &Bytes, body: &[u8]) -> Result<Self, ApiError> {
        if is_blank(body) {
            return Err(body_required());
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        let raw = de::Deserializer::deserialize_any(&mut de, UpdateVisitor)
            .and_then(|v| de.end().map(|()| v))
            .map_err(|e| {
                let msg = e.to_string();
                match msg.strip_prefix('\u{1}') {
                    Some(ours) => {
                        let ours = ours.rfind(" at line ").map_or(ours, |i| &ours[..i]);
                        if ours.starts_with("script") {
                            ApiError::not_supported(ours)
                        } else {
                            ApiError::x_content_parse(format!(
                                "[{}:{}] {ours}",
                                e.line(),
                                e.column()
                            ))
                        }
                    }
                    None => json_error(&e),
                }
            })?;
        let slice = |r: Option<&RawValue>| r.map(|r| whole.slice_ref(r.get().as_bytes()));
        let source = match raw.source {
            Some(r) => Some(serde_json::from_str(r.get()).map_err(|e| json_error(&e))?),
            None => None,
        };
        let out = Self {
            doc: slice(raw.doc),
            upsert: slice(raw.upsert),
            doc_as_upsert: raw.doc_as_upsert.unwrap_or(false),
            detect_noop: raw.detect_noop.unwrap_or(true),
            source,
        };
        if out.doc.is_none() {
            return Err(ApiError::validation(&["script or doc is missing"]));
        }
        Ok(out)
    }
}

#[derive(Default)]
struct RawUpdate<'a> {
    doc: Option<&'a RawValue>,
    upsert: Option<&'a RawValue>,
    doc_as_upsert: Option<bool>,
    detect_noop: Option<bool>,
    source: Option<&'a RawValue>,
}

struct UpdateVisitor;

fn ours<E: de::Error>(msg: String) -> E {
    E::custom(format!("\u{1}{msg}"))
}

fn object_field<'a, E: de::Error>(raw: &'a RawValue, field: &str) -> Result<&'a RawValue, E> {
    if raw.get().starts_with('{') {
        Ok(raw)
    } else {
        Err(ours(format!(
            "[UpdateRequest] failed to parse field [{field}]"
        )))
    }
}

impl<'de> Visitor<'de> for UpdateVisitor {
    type Value = RawUpdate<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an update request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut u = RawUpdate::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "doc" => u.doc = Some(object_field(map.next_value()?, "doc")?),
                "upsert" => u.upsert = Some(object_field(map.next_value()?, "upsert")?),
                "doc_as_upsert" => u.doc_as_upsert = Some(flag(&mut map, "doc_as_upsert")?),
                "detect_noop" => u.detect_noop = Some(flag(&mut map, "detect_noop")?),
                "_source" => u.source = Some(map.next_value()?),
                "script" | "scripted_upsert" => {
                    return Err(ours(format!("{key} in update requests")));
                }
                other => return Err(ours(format!("[UpdateRequest] unknown field [{other}]"))),
            }
        }
        Ok(u)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(ours(
            "[UpdateRequest] Expected START_OBJECT but was: START_ARRAY".into(),
        ))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(ours(
            "[UpdateRequest] Expected START_OBJECT but was: VALUE_STRING".into(),
        ))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(ours(
            "[UpdateRequest] Expected START_OBJECT but was: VALUE_NUMBER".into(),
        ))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(ours(
            "[UpdateRequest] Expected START_OBJECT but was: VALUE_NUMBER".into(),
        ))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(ours(
            "[UpdateRequest] Expected START_OBJECT but was: VALUE_NUMBER".into(),
        ))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(ours(
            "[UpdateRequest] Expected START_OBJECT but was: VALUE_BOOLEAN".into(),
        ))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(ours(
            "[UpdateRequest] Expected START_OBJECT but was: VALUE_NULL".into(),
        ))
    }
}

fn flag<'de, A: MapAccess<'de>>(map: &mut A, field: &str) -> Result<bool, A::Error> {
    match map.next_value::<Value>()? {
        Value::Bool(b) => Ok(b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(ours(format!(
            "[UpdateRequest] failed to parse field [{field}]"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<UpdateBody, ApiError> {
        let b = Bytes::copy_from_slice(s.as_bytes());
        UpdateBody::parse(&b, &b)
    }

    #[test]
    fn update_body_slices_doc_and_upsert() {
        let u = parse(r#"{"doc": {"a": 1}, "upsert": {"a": 0}, "doc_as_upsert": true, "detect_noop": false, "_source": true}"#)
            .unwrap();
        assert_eq!(u.doc.as_deref(), Some(&br#"{"a": 1}"#[..]));
        assert_eq!(u.upsert.as_deref(), Some(&br#"{"a": 0}"#[..]));
        assert!(u.doc_as_upsert);
        assert!(!u.detect_noop);
        assert_eq!(u.source, Some(Value::Bool(true)));
        assert!(
            parse(r#"{"doc": {}}"#).unwrap().detect_noop,
            "detect_noop defaults to true"
        );
    }

    #[test]
    fn update_body_errors_are_elasticsearch_shaped() {
        let e = parse(r#"{"doc": {}, "bogus": 1}"#).unwrap_err();
        assert_eq!(e.kind, "x_content_parse_exception");
        assert!(
            e.reason.ends_with("[UpdateRequest] unknown field [bogus]"),
            "{}",
            e.reason
        );
        let e = parse(r#"{"upsert": {}}"#).unwrap_err();
        assert_eq!(e.reason, "Validation Failed: 1: script or doc is missing;");
        let e = parse(r#"{"doc": 5}"#).unwrap_err();
        assert!(
            e.reason
                .ends_with("[UpdateRequest] failed to parse field [doc]"),
            "{}",
            e.reason
        );
        let e = parse(r#"{"script": "ctx._source.a = 1"}"#).unwrap_err();
        assert!(e.reason.contains("not supported yet"), "{}", e.reason);
        assert_eq!(parse("").unwrap_err().kind, "parse_exception");
        assert_eq!(parse("{").unwrap_err().kind, "x_content_parse_exception");
    }

    #[test]
    fn json_helpers() {
        assert_eq!(parse_json(b" \n").unwrap(), None);
        assert!(parse_object(b"").unwrap().is_empty());
        let e = parse_object(b"{\"a\":}").unwrap_err();
        assert_eq!(e.kind, "x_content_parse_exception");
        assert!(e.reason.starts_with("[1:6] "), "{}", e.reason);
        assert_eq!(
            parse_object(b"[1]").unwrap_err().kind,
            "x_content_parse_exception"
        );
        assert_eq!(
            required_object(b"").unwrap_err().reason,
            "request body is required"
        );
    }
}
