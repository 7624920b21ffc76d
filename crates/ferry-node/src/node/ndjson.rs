//! Splitting a `_bulk` body into lines and pairing action lines with their source lines.
//!
//! Lines are byte ranges of the body (no copies); action lines are parsed by
//! [`super::action_line`]. Errors carry ES's `BulkRequestParser` reasons and are always
//! whole-request errors (400): a body that is not NDJSON writes nothing.
//! Source lines are not parsed here: index sources are checked per item by the engine,
//! update bodies by [`super::body::UpdateBody`].

use std::ops::Range;

pub use super::action_line::ActionMeta;
use super::action_line::parse_action_line;
use crate::error::ApiError;

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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use serde_json::value::RawValue;

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
