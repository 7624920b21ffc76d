//! The REST face: every Elasticsearch-dialect endpoint, thin over [`crate::node::Node`].
//!
//! One axum fallback handler routes by ES's rules (see [`routes`]): unknown paths get
//! ES's "no handler found" 400, wrong methods 405, unknown URL parameters 400, bodies
//! without a JSON Content-Type 406, bodies over `http.max_content_length` 413. Answers are
//! rendered with `?pretty`, `?filter_path`, `X-Elastic-Product` and HEAD handling (see
//! [`render`]). `/_health/*` and `/metrics` are not here: the server adds them.

mod allowed;
mod filter_path;
mod handlers;
mod render;
mod request;
mod routes;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use tracing::Instrument as _;

use crate::error::ApiError;
use crate::node::{CatOutput, Node};
use crate::params::Params;
use filter_path::FilterPath;
use handlers::Reply;
use render::RenderOpts;
use routes::{Method, Routed};

/// All Elasticsearch-dialect routes (not `/_health/*` or `/metrics`, which the server adds).
pub fn router(node: Arc<Node>) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(node)
}

/// Routes and answers one request.
async fn dispatch(State(node): State<Arc<Node>>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let method = Method::parse(&parts.method);
    let mut opts = RenderOpts {
        pretty: false,
        head: method == Some(Method::Head),
        compat: request::compatible_with(&parts.headers),
    };
    let params = match request::query_params(parts.uri.query()) {
        Ok(p) => p,
        Err(e) => return error_response(&e, &opts),
    };
    opts.pretty = params.get("pretty").is_some_and(|v| v != "false");
    let segments = match request::segments(&path) {
        Ok(s) => s,
        Err(e) => return error_response(&e, &opts),
    };
    let (handler, pp) = match routes::route(method, &segments) {
        Routed::Found(h, pp) => (h, pp),
        Routed::NotFound => {
            let text = format!(
                "no handler found for uri [{uri}] and method [{}]",
                parts.method
            );
            return render::plain_error(400, &text, &opts);
        }
        Routed::WrongMethod(allowed) => {
            let text = format!(
                "Incorrect HTTP method for uri [{uri}] and method [{}], allowed: [{}]",
                parts.method,
                allowed.join(", ")
            );
            let mut resp = render::plain_error(405, &text, &opts);
            if let Ok(v) = HeaderValue::from_str(&allowed.join(",")) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
            return resp;
        }
    };
    let action = handler.action;
    let span =
        tracing::debug_span!("rest", action = action.name(), method = %parts.method, path = %path);

    let answer = async {
        allowed::check_params(&path, handler, &params)?;
        check_format(&params, action.is_cat())?;
        let filter = params.get("filter_path").and_then(FilterPath::parse);
        let mut body = request::read_body(&parts.headers, body, node.max_content_length()).await?;
        if !body.is_empty() {
            if let Err(e) = request::check_content_type(&parts.headers) {
                return Ok(render::plain_error(406, &e.0, &opts));
            }
        } else if let Some(src) = params.get("source") {
            body = source_param(src, &params)?;
        }
        let reply = handlers::call(&node, action, pp, &params, body).await?;
        Ok::<_, ApiError>(render_reply(reply, filter.as_ref(), &opts))
    }
    .instrument(span)
    .await;
    let resp = answer.unwrap_or_else(|e| error_response(&e, &opts));
    let status = resp.status().as_u16();
    let took = started.elapsed();
    if status >= 500 {
        tracing::error!(action = action.name(), path = %path, status, "request failed");
    } else {
        tracing::debug!(action = action.name(), path = %path, status, took_ms = took.as_millis() as u64, "request");
    }
    resp
}

/// `?format=`: JSON everywhere (text too for `_cat`); other formats are not supported.
fn check_format(params: &Params, cat: bool) -> Result<(), ApiError> {
    match params.get("format") {
        None | Some("json") => Ok(()),
        Some("text" | "txt") if cat => Ok(()),
        Some(f @ ("yaml" | "cbor" | "smile")) => {
            Err(ApiError::not_supported(&format!("format [{f}]")))
        }
        Some(f) if cat => Err(ApiError::illegal_argument(format!(
            "format [{f}] is not supported yet for _cat"
        ))),
        Some(_) => Ok(()),
    }
}

/// The `source` URL parameter as the body (ES requires `source_content_type` with it).
fn source_param(src: &str, params: &Params) -> Result<Bytes, ApiError> {
    let ct = params.get("source_content_type").ok_or_else(|| {
        ApiError::illegal_argument("source and source_content_type parameters are required")
    })?;
    let mut headers = axum::http::HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(ct) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    request::check_content_type(&headers).map_err(|e| ApiError::illegal_argument(e.0))?;
    Ok(Bytes::copy_from_slice(src.as_bytes()))
}

fn error_response(e: &ApiError, opts: &RenderOpts) -> Response {
    render::json_response(e.status, &e.body(), opts)
}

fn render_reply(reply: Reply, filter: Option<&FilterPath>, opts: &RenderOpts) -> Response {
    match reply {
        Reply::Json(r) => {
            let body = render::filtered(r.body, filter);
            render::json_response(r.status, &body, opts)
        }
        Reply::Bulk(b) => match filter {
            None => render::json_response(200, &b, opts),
            Some(f) => match serde_json::to_value(&b) {
                Ok(v) => render::json_response(200, &f.apply(v), opts),
                Err(e) => error_response(&ApiError::internal(e.to_string()), opts),
            },
        },
        Reply::Cat(CatOutput::Text(t)) => render::text_response(200, t, opts),
        Reply::Cat(CatOutput::Json(v)) => {
            render::json_response(200, &render::filtered(v, filter), opts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let p = |v: &str| Params([("format".to_owned(), v.to_owned())].into_iter().collect());
        assert!(check_format(&p("json"), false).is_ok());
        assert!(check_format(&p("txt"), true).is_ok());
        assert!(check_format(&p("yaml"), false).is_err());
        assert!(check_format(&p("bogus"), true).is_err());
    }

    #[test]
    fn source_parameter_needs_a_content_type() {
        let p = Params(
            [(
                "source_content_type".to_owned(),
                "application/json".to_owned(),
            )]
            .into_iter()
            .collect(),
        );
        assert_eq!(source_param("{}", &p).unwrap(), Bytes::from_static(b"{}"));
        assert!(source_param("{}", &Params::default()).is_err());
    }
}
