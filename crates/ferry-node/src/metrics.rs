//! Metrics set-up: the process-wide Prometheus recorder, its `/metrics` rendering (plus the
//! node's per-follower-shard CCR metrics), and the HTTP request metrics every REST call
//! records.
//!
//! The recorder is built without the exporter's own HTTP listener (its default features pull
//! a second TLS provider); `/metrics` is an ordinary axum route on the REST port. Metrics of
//! the engine and catalog are recorded where they happen, through the `metrics` facade.
//! Names follow `ferry_<area>_<what>_<unit>`.

use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `method` and `status`.
pub const HTTP_REQUESTS: &str = "ferry_http_requests_total";
/// Time from a request's arrival to its response head, by `method`.
pub const HTTP_DURATION: &str = "ferry_http_request_duration_seconds";

/// Histogram buckets (seconds) for every `*_seconds` metric: 250µs to 60s.
const LATENCY_BUCKETS: [f64; 16] = [
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0,
    60.0,
];

/// How often histograms are compacted (the exporter needs a periodic upkeep call).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the global recorder. Call once, inside the runtime (it starts the upkeep task).
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
        .context("invalid histogram buckets")?
        .build_recorder();
    let handle = recorder.handle();
    ::metrics::set_global_recorder(recorder).context("a metrics recorder is already installed")?;
    ::metrics::describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method and status"
    );
    ::metrics::describe_histogram!(
        HTTP_DURATION,
        ::metrics::Unit::Seconds,
        "time from an HTTP request's arrival to its response head"
    );
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// What a scrape renders: the recorder's metrics and the node's per-follower-shard ones.
#[derive(Clone)]
pub struct Scrape {
    /// The process-wide recorder.
    pub handle: PrometheusHandle,
    /// The node (CCR follower shards).
    pub node: std::sync::Arc<crate::node::Node>,
}

/// `GET /metrics`: the Prometheus text format.
pub async fn render(State(scrape): State<Scrape>) -> Response {
    let mut text = scrape.handle.render();
    text.push_str(&scrape.node.ccr_metrics_text());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Middleware: counts every request and times it to its response head.
pub async fn track(req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    ::metrics::counter!(HTTP_REQUESTS, "method" => method, "status" => status).increment(1);
    ::metrics::histogram!(HTTP_DURATION, "method" => method).record(start.elapsed().as_secs_f64());
    response
}

/// Standard methods by name; anything else as `other`, so a client cannot grow the label set.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"PURGE").expect("a valid token")),
            "other"
        );
    }
}
