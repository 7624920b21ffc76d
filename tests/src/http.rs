//! A small HTTP client for one node's REST port, answering status + JSON.
//!
//! Every call returns a [`Resp`] whatever the status: tests assert on 4xx bodies as much as
//! on 2xx ones. Only a transport failure (connection refused, reset) is an `Err`, and its
//! message carries the tail of the node's stderr when the harness knows it.
//!
//! Connections are not pooled: each `#[tokio::test]` has its own runtime, and a pooled
//! connection from a finished runtime would fail in the next one. It deliberately knows
//! nothing of Elasticsearch semantics (see [`crate::es`]).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
pub use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// How long one request may take before the harness gives up on it (a hung server).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A REST client bound to one base URL (`http://127.0.0.1:<port>`).
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    base: String,
    stderr: Option<PathBuf>,
}

/// One HTTP answer.
#[derive(Clone, Debug)]
pub struct Resp {
    /// The request method, for messages.
    pub method: Method,
    /// The request path (with query string), for messages.
    pub path: String,
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as text (lossy UTF-8).
    pub text: String,
    /// The body parsed as JSON, `Value::Null` when empty or not JSON.
    pub body: Value,
}

impl Http {
    /// A client for `base_url` (no trailing slash).
    pub fn new(base_url: impl Into<String>) -> Result<Self> {
        Self::with_stderr(base_url, None)
    }

    pub(crate) fn with_stderr(
        base_url: impl Into<String>,
        stderr: Option<PathBuf>,
    ) -> Result<Self> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the reqwest client")?;
        Ok(Self {
            client,
            base: base_url.into(),
            stderr,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The underlying reqwest client, for requests the helpers do not cover.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `method path` with an optional body and its content type.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<Resp> {
        let url = format!("{}{}", self.base, path);
        let mut req = self.client.request(method.clone(), &url);
        if let Some((bytes, content_type)) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let sent = req.send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(&method, path, e)),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Err(self.transport_error(&method, path, e)),
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Resp {
            method,
            path: path.to_owned(),
            status,
            headers,
            text,
            body,
        })
    }

    fn transport_error(&self, method: &Method, path: &str, e: reqwest::Error) -> anyhow::Error {
        let tail = self
            .stderr
            .as_ref()
            .map(|p| crate::node::tail_of(p, 40))
            .unwrap_or_default();
        anyhow::anyhow!(
            "{method} {}{path} failed: {e:#}\n--- ferryd stderr (tail) ---\n{tail}",
            self.base
        )
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Resp> {
        self.request(Method::GET, path, None).await
    }

    /// `HEAD path`.
    pub async fn head(&self, path: &str) -> Result<Resp> {
        self.request(Method::HEAD, path, None).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Resp> {
        self.request(Method::DELETE, path, None).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Resp> {
        self.request(
            Method::PUT,
            path,
            Some((json_bytes(body), "application/json")),
        )
        .await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Resp> {
        self.request(
            Method::POST,
            path,
            Some((json_bytes(body), "application/json")),
        )
        .await
    }

    /// `POST path` without a body.
    pub async fn post_empty(&self, path: &str) -> Result<Resp> {
        self.request(Method::POST, path, None).await
    }

    /// `GET path` with a JSON body (as ES clients send `_search`, `_mget`, `_count`).
    pub async fn get_with(&self, path: &str, body: &Value) -> Result<Resp> {
        self.request(
            Method::GET,
            path,
            Some((json_bytes(body), "application/json")),
        )
        .await
    }

    /// `method path` with raw bytes as `application/json` (for malformed bodies).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: impl Into<Vec<u8>>,
    ) -> Result<Resp> {
        self.request(method, path, Some((body.into(), "application/json")))
            .await
    }

    /// `POST path` with an NDJSON body sent exactly as given.
    pub async fn post_ndjson(&self, path: &str, body: impl Into<Vec<u8>>) -> Result<Resp> {
        self.request(
            Method::POST,
            path,
            Some((body.into(), "application/x-ndjson")),
        )
        .await
    }

    /// `POST path` (`/_bulk`, `/<index>/_bulk?...`) with `lines` as NDJSON, newline-terminated.
    pub async fn bulk(&self, path: &str, lines: &[Value]) -> Result<Resp> {
        self.post_ndjson(path, crate::es::ndjson(lines)).await
    }
}

fn json_bytes(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).expect("a serde_json::Value always serializes")
}

impl Resp {
    /// Panics (with the whole answer) unless the status is `expected`.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(self.status, expected, "unexpected status for {self}");
        self
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.type` of an Elasticsearch error body.
    pub fn error_type(&self) -> Option<&str> {
        self.body["error"]["type"].as_str()
    }
}

impl fmt::Display for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 4000;
        let text = if self.text.len() > MAX {
            let mut end = MAX;
            while !self.text.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}… ({} bytes)", &self.text[..end], self.text.len())
        } else {
            self.text.clone()
        };
        write!(
            f,
            "{} {} -> {}: {}",
            self.method, self.path, self.status, text
        )
    }
}
