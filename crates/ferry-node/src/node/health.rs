//! `GET /` and `GET /_cluster/health[/<index>]`, and the shard counts `_cat` reuses.
//!
//! One node holds every primary; replicas can never be assigned on it, so an index with
//! `number_of_replicas > 0` is yellow (as in ES), an index whose shards failed to open is
//! red, and a missing index asked for by name makes the answer red. Health requests wait
//! (up to `timeout`, default 30s) for `wait_for_*` conditions and for named indices to
//! exist, then answer 408 with `timed_out: true`, as ES does. Nothing here changes state.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::entry::IndexEntry;
use super::names::ResolveOptions;
use super::{ApiResponse, ApiResult, Node, args};
use crate::error::ApiError;
use crate::params::Params;

/// The Elasticsearch version this node reports.
pub const ES_VERSION: &str = "8.11.0";

/// Health colours, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Every shard copy assigned.
    Green,
    /// Primaries assigned, some replicas not.
    Yellow,
    /// A primary is not assigned (or a named index is missing).
    Red,
}

impl Status {
    /// ES's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Green => "green",
            Self::Yellow => "yellow",
            Self::Red => "red",
        }
    }

    fn parse(v: &str) -> Result<Self, ApiError> {
        match v {
            "green" => Ok(Self::Green),
            "yellow" => Ok(Self::Yellow),
            "red" => Ok(Self::Red),
            other => Err(ApiError::illegal_argument(format!(
                "unknown cluster health status [{other}]"
            ))),
        }
    }
}

/// Shard counts of one index (or summed over several).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardCounts {
    /// Worst status.
    pub status: Status,
    /// Primaries.
    pub shards: u64,
    /// Replicas per primary.
    pub replicas: u64,
    /// Assigned primaries.
    pub active_primary: u64,
    /// Assigned copies.
    pub active: u64,
    /// Copies that cannot be assigned.
    pub unassigned: u64,
}

impl Default for ShardCounts {
    fn default() -> Self {
        Self {
            status: Status::Green,
            shards: 0,
            replicas: 0,
            active_primary: 0,
            active: 0,
            unassigned: 0,
        }
    }
}

impl ShardCounts {
    /// The counts of one open index.
    pub fn of(e: &IndexEntry) -> Self {
        let st = e.snapshot();
        let shards = u64::from(st.settings.number_of_shards);
        let replicas = u64::from(st.settings.number_of_replicas);
        let active_primary = if st.handle.is_some() { shards } else { 0 };
        let unassigned = shards * replicas + (shards - active_primary);
        let status = if active_primary < shards {
            Status::Red
        } else if replicas > 0 {
            Status::Yellow
        } else {
            Status::Green
        };
        Self {
            status,
            shards,
            replicas,
            active_primary,
            active: active_primary,
            unassigned,
        }
    }

    fn add(&mut self, o: &Self) {
        self.status = self.status.max(o.status);
        self.shards += o.shards;
        self.active_primary += o.active_primary;
        self.active += o.active;
        self.unassigned += o.unassigned;
    }

    /// `active_shards_percent_as_number`.
    pub fn active_percent(&self) -> f64 {
        let all = self.active + self.unassigned;
        if all == 0 {
            100.0
        } else {
            self.active as f64 * 100.0 / all as f64
        }
    }
}

/// The counts of the whole cluster (every open index).
pub fn cluster_counts(entries: &[std::sync::Arc<IndexEntry>]) -> ShardCounts {
    let mut total = ShardCounts::default();
    for e in entries.iter().filter(|e| e.is_open()) {
        total.add(&ShardCounts::of(e));
    }
    total
}

/// `wait_for_nodes`: `N`, `>=N`, `<=N`, `>N`, `<N`, `ge(N)`, `le(N)`, `gt(N)`, `lt(N)`.
fn nodes_condition_met(expr: &str, nodes: u64) -> Result<bool, ApiError> {
    let e = expr.trim();
    let bad = || ApiError::illegal_argument(format!("cannot parse wait_for_nodes [{expr}]"));
    let (op, num) = if let Some(n) = e.strip_prefix(">=") {
        (">=", n)
    } else if let Some(n) = e.strip_prefix("<=") {
        ("<=", n)
    } else if let Some(n) = e.strip_prefix('>') {
        (">", n)
    } else if let Some(n) = e.strip_prefix('<') {
        ("<", n)
    } else if let Some(inner) = e.strip_suffix(')') {
        let (op, n) = inner.split_once('(').ok_or_else(bad)?;
        match op {
            "ge" => (">=", n),
            "le" => ("<=", n),
            "gt" => (">", n),
            "lt" => ("<", n),
            _ => return Err(bad()),
        }
    } else {
        ("=", e)
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    Ok(match op {
        ">=" => nodes >= n,
        "<=" => nodes <= n,
        ">" => nodes > n,
        "<" => nodes < n,
        _ => nodes == n,
    })
}

impl Node {
    /// `GET /`.
    pub async fn info(&self) -> ApiResult {
        Ok(ApiResponse::ok(json!({
            "name": self.opts.node_name,
            "cluster_name": self.cluster.name,
            "cluster_uuid": self.cluster.uuid,
            "version": {
                "number": ES_VERSION,
                "build_flavor": "default",
                "build_type": "tar",
                "distribution": "ferry",
                "ferry_version": env!("CARGO_PKG_VERSION"),
                "build_hash": option_env!("FERRY_BUILD_HASH").unwrap_or("unknown"),
                "build_date": option_env!("FERRY_BUILD_DATE").unwrap_or("1970-01-01T00:00:00.000Z"),
                "build_snapshot": false,
                "lucene_version": "9.8.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        })))
    }

    /// `GET /_cluster/health[/<index>]`.
    pub async fn cluster_health(&self, index: Option<&str>, params: &Params) -> ApiResult {
        let timeout = args::time(params, "timeout", Duration::from_secs(30))?;
        let want_status = params
            .get("wait_for_status")
            .map(Status::parse)
            .transpose()?;
        let want_nodes = params.get("wait_for_nodes").filter(|v| !v.is_empty());
        if let Some(w) = want_nodes {
            nodes_condition_met(w, 1)?;
        }
        let want_active = params
            .get("wait_for_active_shards")
            .filter(|v| !v.is_empty() && *v != "0");
        let level = params.get("level").unwrap_or("cluster");
        if !matches!(level, "cluster" | "indices" | "shards") {
            return Err(ApiError::illegal_argument(format!(
                "level [{level}] not in [cluster, indices, shards]"
            )));
        }
        let ok_on_timeout = params.bool("return_200_for_cluster_health_timeout", false)?;
        let opts = ResolveOptions::from_params(params, ResolveOptions::STRICT_OPEN)?;
        let started = Instant::now();
        let mut changes = self.changes.subscribe();
        loop {
            changes.borrow_and_update();
            let (entries, missing) = match self.resolve(index, opts) {
                Ok(e) => (e, false),
                Err(e) if e.status == 404 => {
                    let lenient = ResolveOptions {
                        ignore_unavailable: true,
                        ..opts
                    };
                    (self.resolve(index, lenient)?, true)
                }
                Err(e) => return Err(e),
            };
            let mut counts = cluster_counts(&entries);
            if missing {
                counts.status = Status::Red;
            }
            let mut met = !missing;
            if let Some(w) = want_status {
                met &= counts.status <= w;
            }
            if let Some(w) = want_nodes {
                met &= nodes_condition_met(w, 1)?;
            }
            if let Some(w) = want_active {
                met &= if w == "all" {
                    counts.unassigned == 0
                } else {
                    let n: u64 = w.parse().map_err(|_| {
                        ApiError::illegal_argument(format!(
                            "failed to parse wait_for_active_shards [{w}]"
                        ))
                    })?;
                    counts.active >= n
                };
            }
            let elapsed = started.elapsed();
            if met || elapsed >= timeout {
                let timed_out = !met;
                let body = self.health_body(&entries, counts, timed_out, level);
                let status = if timed_out && !ok_on_timeout {
                    408
                } else {
                    200
                };
                return Ok(ApiResponse::with_status(status, body));
            }
            let wait = (timeout - elapsed).min(Duration::from_millis(500));
            let _ = tokio::time::timeout(wait, changes.changed()).await;
        }
    }

    fn health_body(
        &self,
        entries: &[std::sync::Arc<IndexEntry>],
        c: ShardCounts,
        timed_out: bool,
        level: &str,
    ) -> Value {
        let mut m = Map::new();
        m.insert("cluster_name".into(), json!(self.cluster.name));
        m.insert("status".into(), json!(c.status.as_str()));
        m.insert("timed_out".into(), json!(timed_out));
        m.insert("number_of_nodes".into(), json!(1));
        m.insert("number_of_data_nodes".into(), json!(1));
        m.insert("active_primary_shards".into(), json!(c.active_primary));
        m.insert("active_shards".into(), json!(c.active));
        m.insert("relocating_shards".into(), json!(0));
        m.insert("initializing_shards".into(), json!(0));
        m.insert("unassigned_shards".into(), json!(c.unassigned));
        m.insert("delayed_unassigned_shards".into(), json!(0));
        m.insert("number_of_pending_tasks".into(), json!(0));
        m.insert("number_of_in_flight_fetch".into(), json!(0));
        m.insert("task_max_waiting_in_queue_millis".into(), json!(0));
        m.insert(
            "active_shards_percent_as_number".into(),
            json!(c.active_percent()),
        );
        if level != "cluster" {
            let mut indices = Map::new();
            for e in entries.iter().filter(|e| e.is_open()) {
                let ic = ShardCounts::of(e);
                let mut im = Map::new();
                im.insert("status".into(), json!(ic.status.as_str()));
                im.insert("number_of_shards".into(), json!(ic.shards));
                im.insert("number_of_replicas".into(), json!(ic.replicas));
                im.insert("active_primary_shards".into(), json!(ic.active_primary));
                im.insert("active_shards".into(), json!(ic.active));
                im.insert("relocating_shards".into(), json!(0));
                im.insert("initializing_shards".into(), json!(0));
                im.insert("unassigned_shards".into(), json!(ic.unassigned));
                if level == "shards" {
                    let per = ShardCounts {
                        shards: 1,
                        active_primary: ic.active_primary.min(1),
                        ..ic
                    };
                    let mut shards = Map::new();
                    for n in 0..ic.shards {
                        shards.insert(
                            n.to_string(),
                            json!({
                                "status": ic.status.as_str(),
                                "primary_active": per.active_primary == 1,
                                "active_shards": per.active_primary,
                                "relocating_shards": 0,
                                "initializing_shards": 0,
                                "unassigned_shards": ic.replicas + 1 - per.active_primary,
                            }),
                        );
                    }
                    im.insert("shards".into(), Value::Object(shards));
                }
                indices.insert(e.name.clone(), Value::Object(im));
            }
            m.insert("indices".into(), Value::Object(indices));
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_for_nodes_expressions() {
        assert!(nodes_condition_met("1", 1).unwrap());
        assert!(nodes_condition_met(">=1", 1).unwrap());
        assert!(!nodes_condition_met(">1", 1).unwrap());
        assert!(nodes_condition_met("le(3)", 1).unwrap());
        assert!(!nodes_condition_met("2", 1).unwrap());
        assert!(nodes_condition_met("x", 1).is_err());
    }

    #[test]
    fn statuses_order_and_parse() {
        assert!(Status::Green < Status::Yellow && Status::Yellow < Status::Red);
        assert_eq!(Status::parse("yellow").unwrap(), Status::Yellow);
        assert!(Status::parse("blue").is_err());
        let c = ShardCounts {
            active: 1,
            unassigned: 1,
            ..ShardCounts::default()
        };
        assert_eq!(c.active_percent(), 50.0);
        assert_eq!(ShardCounts::default().active_percent(), 100.0);
    }
}
