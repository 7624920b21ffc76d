//! The rows of `_cat/indices`, `_cat/shards`, `_cat/nodes`, `_cat/health`, `_cat/count`,
//! with ES's column names, aliases and default columns.
//!
//! Values come from the node's entries, the engine's shard stats and (for `_cat/nodes`)
//! `/proc` on Linux; rendering is [`super::table`]'s. Nothing here changes state.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::cat_columns::{COUNT, HEALTH, HEALTH_NO_TS, INDICES, NODES, SHARDS};
use super::entry::IndexEntry;
use super::health::{ES_VERSION, ShardCounts, Status, cluster_counts};
use super::names::{ExpandWildcards, ResolveOptions};
use super::table::{CatOutput, CatTable, Cell};
use super::{ApiResponse, ApiResult, Node};
use crate::error::ApiError;
use crate::params::Params;

/// `(epoch seconds, HH:MM:SS)` now, in UTC.
fn now_cells() -> (Cell, Cell) {
    let now = time::OffsetDateTime::now_utc();
    let hms = format!("{:02}:{:02}:{:02}", now.hour(), now.minute(), now.second());
    (Cell::Num(now.unix_timestamp()), Cell::Text(hms))
}

/// ES's `TimeValue` text: the largest unit ≥ 1, one decimal truncated, `.0` dropped;
/// zero is `0s`.
pub fn human_time(millis: u64) -> String {
    if millis == 0 {
        return "0s".to_owned();
    }
    const UNITS: [(&str, u64); 4] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ];
    for (suffix, unit) in UNITS {
        if millis >= unit {
            let tenths = millis * 10 / unit;
            return if tenths.is_multiple_of(10) {
                format!("{}{suffix}", tenths / 10)
            } else {
                format!("{}.{}{suffix}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{millis}ms")
}

/// Machine figures for `_cat/nodes` from `/proc` (Linux); `None` elsewhere.
struct Machine {
    rss: Option<u64>,
    mem_total: Option<u64>,
    mem_available: Option<u64>,
    load: Option<[f64; 3]>,
}

fn kb_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

fn machine() -> Machine {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut l = loadavg.split_whitespace().map(|v| v.parse::<f64>().ok());
    let load = match (l.next().flatten(), l.next().flatten(), l.next().flatten()) {
        (Some(a), Some(b), Some(c)) => Some([a, b, c]),
        _ => None,
    };
    Machine {
        rss: kb_field(&status, "VmRSS:"),
        mem_total: kb_field(&meminfo, "MemTotal:"),
        mem_available: kb_field(&meminfo, "MemAvailable:"),
        load,
    }
}

fn percent(part: Option<u64>, whole: Option<u64>) -> Cell {
    match (part, whole) {
        (Some(p), Some(w)) if w > 0 => Cell::Num((p * 100 / w) as i64),
        _ => Cell::Null,
    }
}

impl Node {
    /// Builds a `_cat/<kind>` table (`indices`, `shards`, `nodes`, `health`, `count`).
    pub async fn cat(
        &self,
        kind: &str,
        expr: Option<&str>,
        params: &Params,
    ) -> Result<CatTable, ApiError> {
        match kind {
            "indices" => self.cat_indices(expr, params),
            "shards" => self.cat_shards(expr, params),
            "nodes" => Ok(self.cat_nodes(params)?),
            "health" => {
                let ts = params.bool("ts", true)?;
                let c = cluster_counts(&self.entries());
                let mut t = CatTable::new(if ts { HEALTH } else { HEALTH_NO_TS });
                let (epoch, hms) = now_cells();
                t.rows.push(vec![
                    epoch,
                    hms,
                    self.cluster.name.as_str().into(),
                    c.status.as_str().into(),
                    Cell::Num(1),
                    Cell::Num(1),
                    Cell::Num(c.active as i64),
                    Cell::Num(c.active_primary as i64),
                    Cell::Num(0),
                    Cell::Num(0),
                    Cell::Num(c.unassigned as i64),
                    Cell::Num(0),
                    "-".into(),
                    format!("{:.1}%", c.active_percent()).into(),
                ]);
                Ok(t)
            }
            "count" => {
                let count = self.count(expr, Bytes::new(), &Params::default()).await?;
                let n = count.body["count"].as_i64().unwrap_or(0);
                let mut t = CatTable::new(COUNT);
                let (epoch, hms) = now_cells();
                t.rows.push(vec![epoch, hms, Cell::Num(n)]);
                Ok(t)
            }
            other => Err(ApiError::illegal_argument(format!(
                "_cat/{other} is not supported yet"
            ))),
        }
    }

    /// `GET /_cat/indices?format=json` as a JSON array.
    pub async fn list_indices(&self, params: &Params) -> ApiResult {
        let mut p = params.clone();
        p.0.insert("format".into(), "json".into());
        match self.cat("indices", None, params).await?.render(&p)? {
            CatOutput::Json(v) => Ok(ApiResponse::ok(v)),
            CatOutput::Text(t) => Ok(ApiResponse::ok(Value::String(t))),
        }
    }

    fn cat_targets(
        &self,
        expr: Option<&str>,
        params: &Params,
    ) -> Result<Vec<Arc<IndexEntry>>, ApiError> {
        let defaults = ResolveOptions {
            expand: ExpandWildcards {
                open: true,
                closed: true,
            },
            ..ResolveOptions::STRICT_OPEN
        };
        self.resolve(expr, ResolveOptions::from_params(params, defaults)?)
    }

    fn cat_indices(&self, expr: Option<&str>, params: &Params) -> Result<CatTable, ApiError> {
        let only = params.get("health").map(|h| match h {
            "green" => Ok(Status::Green),
            "yellow" => Ok(Status::Yellow),
            "red" => Ok(Status::Red),
            other => Err(ApiError::illegal_argument(format!(
                "unknown health status [{other}]"
            ))),
        });
        let only = only.transpose()?;
        let mut t = CatTable::new(INDICES);
        for e in self.cat_targets(expr, params)? {
            let st = e.snapshot();
            let open = e.is_open();
            let counts = ShardCounts::of(&e);
            let status = if open {
                counts.status
            } else if counts.replicas > 0 {
                Status::Yellow
            } else {
                Status::Green
            };
            if only.is_some_and(|s| s != status) {
                continue;
            }
            let stats = st
                .handle
                .as_ref()
                .filter(|_| open)
                .and_then(|h| h.stats().ok());
            let (docs, store) = match stats {
                Some(s) => (Cell::Num(s.docs as i64), Some(s.store_bytes)),
                None => (Cell::Null, None),
            };
            let created = st.record.created_at_millis.to_string();
            let created_ms: i64 = created.parse().unwrap_or(0);
            let created_str =
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(created_ms) * 1_000_000)
                    .ok()
                    .and_then(|d| {
                        d.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_default();
            t.rows.push(vec![
                status.as_str().into(),
                (if open { "open" } else { "close" }).into(),
                e.name.as_str().into(),
                e.uuid.as_str().into(),
                Cell::Num(i64::from(st.settings.number_of_shards)),
                Cell::Num(i64::from(st.settings.number_of_replicas)),
                docs.clone(),
                if matches!(docs, Cell::Null) {
                    Cell::Null
                } else {
                    Cell::Num(0)
                },
                Cell::Num(created_ms),
                created_str.into(),
                store.map_or(Cell::Null, Cell::Bytes),
                store.map_or(Cell::Null, Cell::Bytes),
            ]);
        }
        Ok(t)
    }

    fn cat_shards(&self, expr: Option<&str>, params: &Params) -> Result<CatTable, ApiError> {
        let ip = self.opts.http_addr.ip().to_string();
        let mut t = CatTable::new(SHARDS);
        for e in self
            .cat_targets(expr, params)?
            .into_iter()
            .filter(|e| e.is_open())
        {
            let st = e.snapshot();
            let stats = st
                .handle
                .as_ref()
                .and_then(|h| h.stats().ok())
                .map(|s| s.shards)
                .unwrap_or_default();
            for shard in 0..st.settings.number_of_shards {
                let s = stats.get(shard as usize);
                let started = st.handle.is_some();
                t.rows.push(vec![
                    e.name.as_str().into(),
                    Cell::Num(i64::from(shard)),
                    "p".into(),
                    (if started { "STARTED" } else { "UNASSIGNED" }).into(),
                    s.map_or(Cell::Null, |s| Cell::Num(s.docs as i64)),
                    s.map_or(Cell::Null, |s| Cell::Bytes(s.store_bytes)),
                    if started {
                        ip.as_str().into()
                    } else {
                        Cell::Null
                    },
                    if started {
                        self.node_id.as_str().into()
                    } else {
                        Cell::Null
                    },
                    if started {
                        self.opts.node_name.as_str().into()
                    } else {
                        Cell::Null
                    },
                    s.map_or(Cell::Null, |s| Cell::Num(s.local_checkpoint)),
                    s.map_or(Cell::Null, |s| Cell::Num(s.local_checkpoint)),
                    s.map_or(Cell::Null, |s| Cell::Num(s.global_checkpoint)),
                ]);
                for _ in 0..st.settings.number_of_replicas {
                    let mut row = vec![
                        e.name.as_str().into(),
                        Cell::Num(i64::from(shard)),
                        "r".into(),
                        "UNASSIGNED".into(),
                    ];
                    row.resize(SHARDS.len(), Cell::Null);
                    t.rows.push(row);
                }
            }
        }
        Ok(t)
    }

    fn cat_nodes(&self, params: &Params) -> Result<CatTable, ApiError> {
        let full_id = params.bool("full_id", false)?;
        let m = machine();
        let used = match (m.mem_total, m.mem_available) {
            (Some(t), Some(a)) => Some(t.saturating_sub(a)),
            _ => None,
        };
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let load = |i: usize| {
            m.load
                .map_or(Cell::Null, |l| Cell::Text(format!("{:.2}", l[i])))
        };
        let cpu = m.load.map_or(Cell::Null, |l| {
            Cell::Num(((l[0] / cpus) * 100.0).clamp(0.0, 100.0) as i64)
        });
        let id = if full_id {
            self.node_id.clone()
        } else {
            self.node_id.chars().take(4).collect()
        };
        let mut t = CatTable::new(NODES);
        t.rows.push(vec![
            id.into(),
            Cell::Num(i64::from(std::process::id())),
            self.opts.http_addr.ip().to_string().into(),
            Cell::Num(i64::from(self.opts.transport_addr.port())),
            self.opts.http_addr.to_string().into(),
            ES_VERSION.into(),
            percent(m.rss, m.mem_total),
            used.map_or(Cell::Null, Cell::Bytes),
            percent(used, m.mem_total),
            m.mem_total.map_or(Cell::Null, Cell::Bytes),
            cpu,
            load(0),
            load(1),
            load(2),
            human_time(self.uptime_millis()).into(),
            "cdfhilmrstw".into(),
            "*".into(),
            self.opts.node_name.as_str().into(),
        ]);
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_values_render_like_time_value() {
        assert_eq!(human_time(0), "0s");
        assert_eq!(human_time(5), "5ms");
        assert_eq!(human_time(1_500), "1.5s");
        assert_eq!(human_time(60_000), "1m");
        assert_eq!(human_time(5_400_000), "1.5h");
        assert_eq!(human_time(2 * 86_400_000), "2d");
    }

    #[test]
    fn column_sets_are_consistent() {
        for cols in [INDICES, SHARDS, NODES, HEALTH, HEALTH_NO_TS, COUNT] {
            assert!(cols.iter().any(|c| c.default));
        }
        assert_eq!(HEALTH.len(), HEALTH_NO_TS.len());
        let defaults: Vec<&str> = INDICES
            .iter()
            .filter(|c| c.default)
            .map(|c| c.name)
            .collect();
        assert_eq!(
            defaults,
            [
                "health",
                "status",
                "index",
                "uuid",
                "pri",
                "rep",
                "docs.count",
                "docs.deleted",
                "store.size",
                "pri.store.size"
            ]
        );
    }

    #[test]
    fn proc_fields_parse() {
        assert_eq!(kb_field("VmRSS:\t  2048 kB\n", "VmRSS:"), Some(2048 * 1024));
        assert_eq!(kb_field("x", "VmRSS:"), None);
        assert_eq!(percent(Some(1), Some(4)), Cell::Num(25));
        assert_eq!(percent(None, Some(4)), Cell::Null);
    }
}
