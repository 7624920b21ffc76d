//! Rendering answers: JSON compact or `?pretty` exactly as ES prints it (`"key" : value`,
//! two-space indent, `{ }` for empty objects, a final newline), `?filter_path`, the
//! `X-Elastic-Product` header, HEAD without a body, and `_cat` text.
//!
//! Nothing here decides what an answer contains.

use std::io;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use serde_json::ser::Formatter;

/// ES's pretty printer (Jackson's default with `" : "` and newline-indented arrays).
#[derive(Debug, Default)]
pub struct EsPretty {
    indent: usize,
    has_value: bool,
}

impl EsPretty {
    fn newline<W: ?Sized + io::Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.indent {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + io::Write>(&mut self, w: &mut W, c: &[u8]) -> io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(c)
    }

    fn close<W: ?Sized + io::Write>(&mut self, w: &mut W, c: &[u8]) -> io::Result<()> {
        self.indent -= 1;
        if self.has_value {
            self.newline(w)?;
        } else {
            w.write_all(b" ")?;
        }
        self.has_value = true;
        w.write_all(c)
    }

    fn item<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }
}

impl Formatter for EsPretty {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b" : ")
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Serializes `v` compactly, or as ES's pretty output (with a final newline).
pub fn to_json<T: Serialize + ?Sized>(v: &T, pretty: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let res = if pretty {
        let mut ser = serde_json::Serializer::with_formatter(&mut out, EsPretty::default());
        v.serialize(&mut ser)
    } else {
        let mut ser = serde_json::Serializer::new(&mut out);
        v.serialize(&mut ser)
    };
    match res {
        Ok(()) => {
            if pretty {
                out.push(b'\n');
            }
            out
        }
        Err(e) => {
            tracing::error!(error = %e, "failed to serialize a response");
            br#"{"error":"failed to serialize the response","status":500}"#.to_vec()
        }
    }
}

/// How answers are rendered for one request.
#[derive(Debug, Clone, Default)]
pub struct RenderOpts {
    /// `?pretty`.
    pub pretty: bool,
    /// HEAD: status and headers only.
    pub head: bool,
    /// The client asked for `compatible-with=N`.
    pub compat: Option<String>,
}

/// A response with `bytes` as body and ES's headers.
pub fn bytes_response(
    status: u16,
    content_type: &str,
    bytes: Vec<u8>,
    opts: &RenderOpts,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let len = bytes.len();
    let mut resp = Response::new(if opts.head {
        Body::empty()
    } else {
        Body::from(bytes)
    });
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// The JSON content type to answer with (the vendor type when the client asked for it).
pub fn json_content_type(opts: &RenderOpts) -> String {
    match &opts.compat {
        Some(v) => format!("application/vnd.elasticsearch+json;compatible-with={v}"),
        None => "application/json".to_owned(),
    }
}

/// A JSON response.
pub fn json_response<T: Serialize + ?Sized>(status: u16, body: &T, opts: &RenderOpts) -> Response {
    let bytes = if opts.head {
        Vec::new()
    } else {
        to_json(body, opts.pretty)
    };
    bytes_response(status, &json_content_type(opts), bytes, opts)
}

/// ES's plain error answer (`{"error": "<text>", "status": N}`): 400 no handler, 405, 406.
pub fn plain_error(status: u16, text: &str, opts: &RenderOpts) -> Response {
    json_response(
        status,
        &serde_json::json!({ "error": text, "status": status }),
        opts,
    )
}

/// `text/plain` for `_cat`.
pub fn text_response(status: u16, text: String, opts: &RenderOpts) -> Response {
    bytes_response(status, "text/plain; charset=UTF-8", text.into_bytes(), opts)
}

/// Applies a filter to a value, answering `{}` when nothing is left.
pub fn filtered(v: Value, filter: Option<&super::filter_path::FilterPath>) -> Value {
    match filter {
        None => v,
        Some(f) => f.apply(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pretty_output_matches_elasticsearch() {
        let v =
            json!({"name": "n", "version": {"number": "8.11.0"}, "a": [1, 2], "e": {}, "ea": []});
        let text = String::from_utf8(to_json(&v, true)).unwrap();
        assert_eq!(
            text,
            "{\n  \"name\" : \"n\",\n  \"version\" : {\n    \"number\" : \"8.11.0\"\n  },\n  \"a\" : [\n    1,\n    2\n  ],\n  \"e\" : { },\n  \"ea\" : [ ]\n}\n"
        );
        assert_eq!(
            String::from_utf8(to_json(&v, false)).unwrap(),
            r#"{"name":"n","version":{"number":"8.11.0"},"a":[1,2],"e":{},"ea":[]}"#
        );
    }

    #[test]
    fn head_answers_have_no_body_and_the_product_header() {
        let opts = RenderOpts {
            head: true,
            ..RenderOpts::default()
        };
        let r = json_response(404, &json!({"a": 1}), &opts);
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["x-elastic-product"], "Elasticsearch");
        assert_eq!(r.headers()["content-type"], "application/json");
        let opts = RenderOpts {
            compat: Some("8".into()),
            ..RenderOpts::default()
        };
        let r = json_response(200, &json!({}), &opts);
        assert_eq!(
            r.headers()["content-type"],
            "application/vnd.elasticsearch+json;compatible-with=8"
        );
    }
}
