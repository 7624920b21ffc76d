//! Splitting a `_bulk` body into lines and parsing its action/metadata lines.
//!
//! Lines are byte ranges of the body (no copies); action lines are parsed with borrowed
//! strings wherever JSON escapes allow. Errors carry ES's `BulkRequestParser` reasons and
//! are always whole-request errors (400): a body that is not NDJSON writes nothing.
//! Source lines are not parsed here: index sources are checked per item by the engine,
//! update bodies by [`super::body::UpdateBody`].

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::ApiError;

/// Marks errors raised by our visitors (as opposed to JSON syntax errors).
const OURS: char = '\u{1}';

/// One line of the body: its byte range (without the `\n`) and whether a `\n` ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Bytes of the line in the body.
    pub range: Range<usize>,
    /// False only for a last line that the body does not end with `\n`.
    pub terminated: bool,
}

/// Iterates over the lines of `body`, including a last line without a newline.
pub fn lines(body: &[u8]) -> impl Iterator<Item = Line> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        if from >= body.len() {
            return None;
        }
        let start = from;
        match body[start..].iter().position(|&b| b == b'\n') {
            Some(off) => {
                from = start + off + 1;
                Some(Line {
                    range: start..start + off,
                    terminated: true,
                })
            }
            None => {
                from = body.len();
                Some(Line {
                    range: start..body.len(),
                    terminated: false,
                })
            }
        }
    })
}

/// The four bulk actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    /// `index`: create or replace.
    Index,
    /// `create`: fail if the id exists.
    Create,
    /// `update`: partial update or upsert.
    Update,
    /// `delete`.
    Delete,
}

impl BulkAction {
    /// The ES spelling, also the key of the item in the response.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Index => "index",
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// The metadata of one action line, borrowing from the body where possible.
#[derive(Debug, Clone, Default)]
pub struct ActionMeta<'a> {
    /// `_index`.
    pub index: Option<Cow<'a, str>>,
    /// `_id`.
    pub id: Option<Cow<'a, str>>,
    /// `routing`.
    pub routing: Option<Cow<'a, str>>,
    /// `op_type` (`index` or `create`).
    pub op_type: Option<Cow<'a, str>>,
    /// `version`.
    pub version: Option<i64>,
    /// `version_type`.
    pub version_type: Option<Cow<'a, str>>,
    /// `if_seq_no`.
    pub if_seq_no: Option<i64>,
    /// `if_primary_term`.
    pub if_primary_term: Option<i64>,
    /// `retry_on_conflict`.
    pub retry_on_conflict: Option<i64>,
    /// `_source` (update: what the `get` of the item response carries).
    pub source: Option<&'a RawValue>,
    /// `require_alias`.
    pub require_alias: Option<bool>,
    /// `pipeline` (refused: ingest pipelines are not supported).
    pub pipeline: Option<Cow<'a, str>>,
    /// `_type` (accepted as ES 7 does; only `_doc`).
    pub doc_type: Option<Cow<'a, str>>,
    /// `dynamic_templates` was given (refused).
    pub dynamic_templates: bool,
}

/// One parsed action: its action, metadata, and the byte range of its source line
/// (index/create/update).
#[derive(Debug, Clone)]
pub struct BulkLine<'a> {
    /// The action.
    pub action: BulkAction,
    /// Its metadata.
    pub meta: ActionMeta<'a>,
    /// The source line, for everything but `delete`.
    pub source: Option<Range<usize>>,
}

/// Splits and parses a whole bulk body. Any malformed action line, a missing source line
/// or a body not ending with `\n` fails the whole request.
pub fn parse_bulk(body: &[u8]) -> Result<Vec<BulkLine<'_>>, ApiError> {
    let mut out = Vec::new();
    let mut it = lines(body);
    let mut line_no = 0usize;
    while let Some(line) = it.next() {
        line_no += 1;
        if !line.terminated {
            return Err(not_terminated());
        }
        let bytes = &body[line.range.clone()];
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (action, meta) = parse_action_line(bytes, line_no)?;
        let source = if action == BulkAction::Delete {
            None
        } else {
            let Some(src) = it.next() else {
                return Err(ApiError::illegal_argument(format!(
                    "Malformed action/metadata line [{line_no}], expected a source line after the [{}] action",
                    action.as_str()
                )));
            };
            line_no += 1;
            if !src.terminated {
                return Err(not_terminated());
            }
            Some(src.range)
        };
        out.push(BulkLine {
            action,
            meta,
            source,
        });
    }
    Ok(out)
}

fn not_terminated() -> ApiError {
    ApiError::illegal_argument("The bulk request must be terminated by a newline [\\n]")
}

/// The ES token name of the JSON value starting at the first non-blank byte.
fn token_name(bytes: &[u8]) -> &'static str {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => "START_OBJECT",
        Some(b'[') => "START_ARRAY",
        Some(b'"') => "VALUE_STRING",
        Some(b't' | b'f') => "VALUE_BOOLEAN",
        Some(b'n') => "VALUE_NULL",
        Some(b'0'..=b'9' | b'-') => "VALUE_NUMBER",
        Some(b'}') => "END_OBJECT",
        _ => "VALUE_EMBEDDED_OBJECT",
    }
}

/// Parses `{"<action>": {<metadata>}}`.
pub fn parse_action_line(
    bytes: &[u8],
    line: usize,
) -> Result<(BulkAction, ActionMeta<'_>), ApiError> {
    let first = token_name(bytes);
    if first != "START_OBJECT" {
        return Err(ApiError::illegal_argument(format!(
            "Malformed action/metadata line [{line}], expected START_OBJECT but found [{first}]"
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = de
        .deserialize_map(ActionVisitor { line })
        .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| json_error(e, line))
}

/// Turns a serde_json error into ES's error: ours → `illegal_argument_exception`, syntax →
/// `x_content_parse_exception` with `[line:column]`.
fn json_error(e: serde_json::Error, line: usize) -> ApiError {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg.as_str(),
    };
    if let Some(ours) = msg.strip_prefix(OURS) {
        ApiError::illegal_argument(ours)
    } else {
        ApiError::x_content_parse(format!("[{line}:{}] {msg}", e.column()))
    }
}

fn ours<E: de::Error>(msg: String) -> E {
    E::custom(format!("{OURS}{msg}"))
}

struct ActionVisitor {
    line: usize,
}

impl<'de> Visitor<'de> for ActionVisitor {
    type Value = (BulkAction, ActionMeta<'de>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an action object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let line = self.line;
        let Some(key) = map.next_key::<Cow<'de, str>>()? else {
            return Err(ours(format!(
                "Malformed action/metadata line [{line}], expected FIELD_NAME but found [END_OBJECT]"
            )));
        };
        let action = match key.as_ref() {
            "index" => BulkAction::Index,
            "create" => BulkAction::Create,
            "update" => BulkAction::Update,
            "delete" => BulkAction::Delete,
            other => {
                return Err(ours(format!(
                    "Malformed action/metadata line [{line}], expected field [create], [delete], [index] or [update] but found [{other}]"
                )));
            }
        };
        let meta = map.next_value_seed(MetaSeed { line })?;
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(ours(format!(
                "Malformed action/metadata line [{line}], expected END_OBJECT but found [FIELD_NAME]"
            )));
        }
        Ok((action, meta))
    }
}

struct MetaSeed {
    line: usize,
}

impl<'de> de::DeserializeSeed<'de> for MetaSeed {
    type Value = ActionMeta<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MetaSeed {
    type Value = ActionMeta<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("action metadata")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let line = self.line;
        let mut m = ActionMeta::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let simple = |v: Scalar<'de>| -> Result<Cow<'de, str>, A::Error> {
                v.text().ok_or_else(|| {
                    ours(format!(
                        "Malformed action/metadata line [{line}], expected a simple value for field [{key}] but found [{}]",
                        v.token()
                    ))
                })
            };
            match key.as_ref() {
                "_index" => m.index = Some(simple(map.next_value()?)?),
                "_id" => m.id = Some(simple(map.next_value()?)?),
                "routing" => m.routing = Some(simple(map.next_value()?)?),
                "op_type" => m.op_type = Some(simple(map.next_value()?)?),
                "version_type" => m.version_type = Some(simple(map.next_value()?)?),
                "pipeline" => m.pipeline = Some(simple(map.next_value()?)?),
                "_type" => m.doc_type = Some(simple(map.next_value()?)?),
                "version" | "if_seq_no" | "if_primary_term" | "retry_on_conflict" => {
                    let text = simple(map.next_value()?)?;
                    let n: i64 = text.parse().map_err(|_| {
                        ours(format!("For input string: \"{text}\" (field [{key}] of action/metadata line [{line}])"))
                    })?;
                    match key.as_ref() {
                        "version" => m.version = Some(n),
                        "if_seq_no" => m.if_seq_no = Some(n),
                        "if_primary_term" => m.if_primary_term = Some(n),
                        _ => m.retry_on_conflict = Some(n),
                    }
                }
                "require_alias" | "require_data_stream" | "list_executed_pipelines" => {
                    let text = simple(map.next_value()?)?;
                    let b = match text.as_ref() {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(ours(format!(
                                "Failed to parse value [{other}] as only [true] or [false] are allowed."
                            )));
                        }
                    };
                    if key == "require_alias" {
                        m.require_alias = Some(b);
                    }
                }
                "_source" => m.source = Some(map.next_value::<&'de RawValue>()?),
                "dynamic_templates" => {
                    map.next_value::<de::IgnoredAny>()?;
                    m.dynamic_templates = true;
                }
                other => {
                    return Err(ours(format!(
                        "Action/metadata line [{line}] contains an unknown parameter [{other}]"
                    )));
                }
            }
        }
        Ok(m)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.wrong("VALUE_NULL"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(self.wrong("VALUE_BOOLEAN"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(self.wrong("VALUE_NUMBER"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(self.wrong("VALUE_NUMBER"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(self.wrong("VALUE_NUMBER"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(self.wrong("VALUE_STRING"))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong("START_ARRAY"))
    }
}

impl MetaSeed {
    fn wrong<E: de::Error>(&self, token: &str) -> E {
        ours(format!(
            "Malformed action/metadata line [{}], expected START_OBJECT or END_OBJECT but found [{token}]",
            self.line
        ))
    }
}

/// A metadata value: a scalar as text, or the token name of what it was instead.
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Other(&'static str),
}

impl<'a> Scalar<'a> {
    fn text(&self) -> Option<Cow<'a, str>> {
        match self {
            Self::Text(t) => Some(t.clone()),
            Self::Other(_) => None,
        }
    }
    fn token(&self) -> &'static str {
        match self {
            Self::Text(_) => "VALUE_STRING",
            Self::Other(t) => t,
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a simple value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Borrowed(if v {
                    "true"
                } else {
                    "false"
                })))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other("VALUE_NULL"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other("START_ARRAY"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other("START_OBJECT"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_include_a_last_line_without_newline() {
        let body = b"a\n\nbc\r\nlast";
        let got: Vec<Line> = lines(body).collect();
        assert_eq!(
            got,
            vec![
                Line {
                    range: 0..1,
                    terminated: true
                },
                Line {
                    range: 2..2,
                    terminated: true
                },
                Line {
                    range: 3..6,
                    terminated: true
                },
                Line {
                    range: 7..11,
                    terminated: false
                },
            ]
        );
        assert_eq!(lines(b"x\n").count(), 1);
        assert_eq!(lines(b"").count(), 0);
    }

    #[test]
    fn parses_actions_sources_and_metadata() {
        let body =
            br#"{"index":{"_index":"a","_id":"1","routing":"r","if_seq_no":3,"if_primary_term":1}}
{"f":1}

{"delete":{"_id":2}}
{"create":{}}
{"g":2}
{"update":{"_id":"3","retry_on_conflict":"2","_source":["x"]}}
{"doc":{"x":1}}
"#;
        let items = parse_bulk(body).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].action, BulkAction::Index);
        assert_eq!(items[0].meta.index.as_deref(), Some("a"));
        assert_eq!(items[0].meta.routing.as_deref(), Some("r"));
        assert_eq!(
            (items[0].meta.if_seq_no, items[0].meta.if_primary_term),
            (Some(3), Some(1))
        );
        assert!(
            matches!(items[0].meta.index, Some(Cow::Borrowed(_))),
            "no copy of plain strings"
        );
        assert_eq!(&body[items[0].source.clone().unwrap()], br#"{"f":1}"#);
        assert_eq!(items[1].action, BulkAction::Delete);
        assert_eq!(items[1].meta.id.as_deref(), Some("2"));
        assert_eq!(items[2].action, BulkAction::Create);
        assert!(items[2].meta.id.is_none() && items[2].meta.index.is_none());
        assert_eq!(items[3].meta.retry_on_conflict, Some(2));
        assert_eq!(items[3].meta.source.map(RawValue::get), Some(r#"["x"]"#));
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let items = parse_bulk(b"{\"index\":{\"_id\":\"a\\\"b\"}}\n{}\n").unwrap();
        assert_eq!(items[0].meta.id.as_deref(), Some("a\"b"));
    }

    fn err(body: &[u8]) -> ApiError {
        parse_bulk(body).expect_err("body must be refused")
    }

    #[test]
    fn malformed_bodies_are_whole_request_errors() {
        let e = err(b"{\"index\":{}}\n{\"a\":1}");
        assert_eq!(
            e.reason,
            "The bulk request must be terminated by a newline [\\n]"
        );
        let e = err(b"{\"foo\":{}}\n");
        assert_eq!(
            e.reason,
            "Malformed action/metadata line [1], expected field [create], [delete], [index] or [update] but found [foo]"
        );
        assert_eq!(e.kind, "illegal_argument_exception");
        let e = err(b"{\"delete\":{\"_id\":\"1\"}}\n{\"index\":{\"bogus\":1}}\n{}\n");
        assert_eq!(
            e.reason,
            "Action/metadata line [2] contains an unknown parameter [bogus]"
        );
        let e = err(b"\"x\"\n");
        assert_eq!(
            e.reason,
            "Malformed action/metadata line [1], expected START_OBJECT but found [VALUE_STRING]"
        );
        let e = err(b"{\"index\":\"x\"}\n");
        assert_eq!(
            e.reason,
            "Malformed action/metadata line [1], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]"
        );
        let e = err(b"{\"index\":{}}\n");
        assert!(e.reason.contains("expected a source line"), "{}", e.reason);
        let e = err(b"{\"index\":{\"_id\":{\"a\":1}}}\n{}\n");
        assert_eq!(
            e.reason,
            "Malformed action/metadata line [1], expected a simple value for field [_id] but found [START_OBJECT]"
        );
        let e = err(b"{\"index\":{}, \"delete\":{}}\n{}\n");
        assert!(
            e.reason
                .contains("expected END_OBJECT but found [FIELD_NAME]"),
            "{}",
            e.reason
        );
        let e = err(b"{\"index\":{\"_id\":\"1\"}\n{}\n");
        assert_eq!(e.kind, "x_content_parse_exception");
        assert!(e.reason.starts_with("[1:"), "{}", e.reason);
        let e = err(b"{}\n");
        assert!(
            e.reason
                .contains("expected FIELD_NAME but found [END_OBJECT]"),
            "{}",
            e.reason
        );
    }
}
