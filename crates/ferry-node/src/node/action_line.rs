//! Parsing one `_bulk` action/metadata line (`{"index": {"_index": ..., "_id": ...}}`)
//! with ES's `BulkRequestParser` error reasons.
//!
//! Strings are borrowed from the body wherever JSON escapes allow; a malformed line is
//! `illegal_argument_exception` (ES's wording) or, for broken JSON,
//! `x_content_parse_exception` with `[line:column]`. Source lines are not parsed here.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::ndjson::BulkAction;
use crate::error::ApiError;

/// Marks errors raised by our visitors (as opposed to JSON syntax errors).
const OURS: char = '\u{1}';

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
