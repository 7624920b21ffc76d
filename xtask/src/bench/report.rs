//! The bench's figures: latency summaries, the printed table and the JSON report.

use std::time::Duration;

use serde_json::{Value, json};

/// A latency sample summarized (nearest-rank percentiles).
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub mean: Duration,
    pub max: Duration,
}

impl From<Vec<Duration>> for Latency {
    fn from(mut v: Vec<Duration>) -> Self {
        v.sort_unstable();
        let rank = |p: f64| -> Duration {
            if v.is_empty() {
                return Duration::ZERO;
            }
            let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v[i]
        };
        let total: Duration = v.iter().sum();
        Latency {
            count: v.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            mean: if v.is_empty() {
                Duration::ZERO
            } else {
                total / v.len() as u32
            },
            max: v.last().copied().unwrap_or_default(),
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn mb(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

impl Latency {
    fn json(&self) -> Value {
        json!({ "requests": self.count, "p50_ms": ms(self.p50), "p99_ms": ms(self.p99),
                "mean_ms": ms(self.mean), "max_ms": ms(self.max) })
    }
}

/// Everything one W1 run measured.
#[derive(Debug)]
pub struct Report {
    pub docs: usize,
    pub batch: usize,
    pub clients: usize,
    pub seed: u64,
    pub avg_doc_bytes: f64,
    pub ingest: Duration,
    pub bulk: Latency,
    pub visible_after: Duration,
    pub term: Latency,
    pub and: Latency,
    pub idle_rss_kib: u64,
    pub after_rss_kib: u64,
    pub peak_rss_kib: u64,
    pub stop: Duration,
}

impl Report {
    fn docs_per_sec(&self) -> f64 {
        (self.docs as f64 / self.ingest.as_secs_f64()).round()
    }

    /// The human summary.
    pub fn table(&self) -> String {
        let rows = [
            (
                "documents",
                format!(
                    "{} (avg {:.0} B, seed {})",
                    self.docs, self.avg_doc_bytes, self.seed
                ),
            ),
            (
                "bulk",
                format!("{} docs/request, {} clients", self.batch, self.clients),
            ),
            (
                "durable ingest",
                format!(
                    "{} docs/s ({:.2} s)",
                    self.docs_per_sec(),
                    self.ingest.as_secs_f64()
                ),
            ),
            (
                "bulk latency",
                format!("p50 {} ms, p99 {} ms", ms(self.bulk.p50), ms(self.bulk.p99)),
            ),
            (
                "searchable after",
                format!("{} ms after the last ack", ms(self.visible_after)),
            ),
            (
                "term query",
                format!(
                    "p50 {} ms, p99 {} ms ({} requests)",
                    ms(self.term.p50),
                    ms(self.term.p99),
                    self.term.count
                ),
            ),
            (
                "two-term AND",
                format!(
                    "p50 {} ms, p99 {} ms ({} requests)",
                    ms(self.and.p50),
                    ms(self.and.p99),
                    self.and.count
                ),
            ),
            ("RSS idle", format!("{} MB", mb(self.idle_rss_kib))),
            (
                "RSS after W1",
                format!(
                    "{} MB (peak {} MB)",
                    mb(self.after_rss_kib),
                    mb(self.peak_rss_kib)
                ),
            ),
            (
                "clean stop",
                format!("{:.2} s after SIGTERM", self.stop.as_secs_f64()),
            ),
        ];
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::from("\nW1 results\n");
        for (k, v) in rows {
            out.push_str(&format!("  {k:<width$}  {v}\n"));
        }
        out
    }

    /// The machine-readable report (target/bench/w1.json).
    pub fn json(&self) -> Value {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .ok();
        json!({
            "workload": "W1",
            "measured_at": now,
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "docs": self.docs,
            "batch": self.batch,
            "clients": self.clients,
            "seed": self.seed,
            "avg_doc_bytes": self.avg_doc_bytes.round(),
            "ingest": {
                "seconds": self.ingest.as_secs_f64(),
                "docs_per_sec": self.docs_per_sec(),
                "bulk_latency": self.bulk.json(),
                "searchable_after_ms": ms(self.visible_after),
            },
            "search": { "term": self.term.json(), "two_term_and": self.and.json() },
            "rss_mb": { "idle": mb(self.idle_rss_kib), "after_w1": mb(self.after_rss_kib), "peak": mb(self.peak_rss_kib) },
            "stop_seconds": self.stop.as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latency::from(
            (1..=100)
                .rev()
                .map(Duration::from_millis)
                .collect::<Vec<_>>(),
        );
        assert_eq!(l.count, 100);
        assert_eq!(l.p50, Duration::from_millis(50));
        assert_eq!(l.p99, Duration::from_millis(99));
        assert_eq!(l.max, Duration::from_millis(100));
        assert_eq!(l.mean, Duration::from_micros(50_500));
        assert_eq!(
            Latency::from(vec![Duration::from_millis(7)]).p99,
            Duration::from_millis(7)
        );
        assert_eq!(Latency::from(Vec::new()).p50, Duration::ZERO);
    }
}
