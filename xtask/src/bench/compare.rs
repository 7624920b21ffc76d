//! The replication report: each figure of issue 3's Speed section with its target, Ferry's
//! value, PostgreSQL's value from the same run and their ratio, as a printed table and as
//! `target/bench/ccr.json`.
//!
//! Ratios are always Ferry ÷ PostgreSQL; the `better` column says which way is good. A side
//! that was not run (`--only`), or a figure a side could not measure, shows `—` and `null`,
//! never a guess. Deliberately not here: measuring (`scenario`).

use serde_json::{Value, json};

use super::scenario::Figures;

/// Which direction is good for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

/// A figure's target from the issue.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Goal {
    /// No target: the reference the relative targets use.
    Reference,
    /// At least this multiple of the same side's single-node ingest.
    TimesSingleNode(f64),
    /// At most this value (inclusive).
    AtMost(f64),
    /// Strictly below this value.
    Below(f64),
    /// At least this value.
    AtLeast(f64),
    /// The last third's median lag under load is not above 1.5 × the first third's + 10 ms
    /// (noise at millisecond scale is not growth). Medians, because a follower falling
    /// behind moves every probe after it, while a third's p99 (about 66 probes) is its
    /// single slowest probe, which one merge or scheduling hiccup decides.
    NotGrowing,
}

struct Row {
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    better: Better,
    goal: Goal,
    value: fn(&Figures) -> Option<f64>,
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

const ROWS: [Row; 9] = [
    Row {
        key: "single_node_ingest",
        label: "single-node ingest",
        unit: "docs/s",
        better: Better::Higher,
        goal: Goal::Reference,
        value: |f| Some(f.baseline_rate()),
    },
    Row {
        key: "replicated_end_to_end",
        label: "replicated end-to-end",
        unit: "docs/s",
        better: Better::Higher,
        goal: Goal::TimesSingleNode(0.9),
        value: |f| Some(f.replicated_rate()),
    },
    Row {
        key: "tail_after_last_ack",
        label: "tail after last leader ack",
        unit: "ms",
        better: Better::Lower,
        goal: Goal::AtMost(1_000.0),
        value: |f| Some(ms(f.tail())),
    },
    Row {
        key: "catch_up",
        label: "catch-up from backlog",
        unit: "docs/s",
        better: Better::Higher,
        goal: Goal::TimesSingleNode(1.5),
        value: |f| Some(f.catch_up_rate()),
    },
    Row {
        key: "idle_lag_p50",
        label: "idle single-write lag p50",
        unit: "ms",
        better: Better::Lower,
        goal: Goal::AtMost(10.0),
        value: |f| Some(ms(f.idle_lag.p50)),
    },
    Row {
        key: "idle_lag_p99",
        label: "idle single-write lag p99",
        unit: "ms",
        better: Better::Lower,
        goal: Goal::AtMost(50.0),
        value: |f| Some(ms(f.idle_lag.p99)),
    },
    Row {
        key: "half_load_lag_p99",
        label: "lag at 50% load p99",
        unit: "ms",
        better: Better::Lower,
        goal: Goal::Below(1_000.0),
        value: |f| Some(ms(f.load.lag.p99)),
    },
    Row {
        key: "half_load_lag_p50_last_third",
        label: "  p50 of the last third",
        unit: "ms",
        better: Better::Lower,
        goal: Goal::NotGrowing,
        value: |f| Some(ms(f.load.last_third.p50)),
    },
    Row {
        key: "bootstrap",
        label: "bootstrap copy",
        unit: "MiB/s",
        better: Better::Higher,
        goal: Goal::AtLeast(100.0),
        value: |f| f.bootstrap.mib_per_sec(),
    },
];

impl Goal {
    fn text(self) -> String {
        match self {
            Goal::Reference => "reference".into(),
            Goal::TimesSingleNode(x) => format!("≥ {x}× single-node"),
            Goal::AtMost(v) => format!("≤ {}", whole(v)),
            Goal::Below(v) => format!("< {}", whole(v)),
            Goal::AtLeast(v) => format!("≥ {}", whole(v)),
            Goal::NotGrowing => "not growing vs first third".into(),
        }
    }

    /// Whether `value` of `f` meets the goal; `None` when there is nothing to judge.
    fn met(self, value: Option<f64>, f: &Figures) -> Option<bool> {
        let v = value?;
        match self {
            Goal::Reference => None,
            Goal::TimesSingleNode(x) => Some(v >= x * f.baseline_rate()),
            Goal::AtMost(t) => Some(v <= t),
            Goal::Below(t) => Some(v < t),
            Goal::AtLeast(t) => Some(v >= t),
            Goal::NotGrowing => Some(not_growing(ms(f.load.first_third.p50), v)),
        }
    }
}

/// The "not growing" rule: last ≤ 1.5 × first + 10 ms.
fn not_growing(first_ms: f64, last_ms: f64) -> bool {
    last_ms <= 1.5 * first_ms + 10.0
}

/// A figure for people: thousands separated above 1,000, else 3 significant-ish digits.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    if v.abs() >= 999.5 {
        let digits = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A target: whole numbers without decimals.
fn whole(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1_000.0 {
        format!("{v:.0}")
    } else {
        number(v)
    }
}

/// Ferry ÷ PostgreSQL, when both exist and the divisor is not zero.
fn ratio(ferry: Option<f64>, pg: Option<f64>) -> Option<f64> {
    match (ferry, pg) {
        (Some(f), Some(p)) if p != 0.0 && f.is_finite() && p.is_finite() => Some(f / p),
        _ => None,
    }
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "—".into(), |r| format!("{r:.2}×"))
}

fn cell(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{} {unit}", number(v)))
}

fn met_text(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "",
    }
}

/// The printed comparison.
pub(crate) fn table(ferry: Option<&Figures>, pg: Option<&Figures>) -> String {
    let mut rows = vec![[
        "figure".to_string(),
        "target".into(),
        "Ferry".into(),
        "PostgreSQL".into(),
        "Ferry/PG".into(),
        "better".into(),
        "Ferry meets".into(),
    ]];
    for r in &ROWS {
        let f = ferry.and_then(r.value);
        let p = pg.and_then(r.value);
        let met = ferry.and_then(|fig| r.goal.met(f, fig));
        rows.push([
            r.label.into(),
            match r.goal {
                Goal::Reference | Goal::TimesSingleNode(_) | Goal::NotGrowing => r.goal.text(),
                _ => format!("{} {}", r.goal.text(), r.unit),
            },
            cell(f, r.unit),
            cell(p, r.unit),
            ratio_text(ratio(f, p)),
            match r.better {
                Better::Higher => "higher".into(),
                Better::Lower => "lower".into(),
            },
            met_text(met).into(),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::from("\nCross-cluster replication (W1 documents), same run\n");
    for row in &rows {
        let mut line = String::from(" ");
        for (c, w) in row.iter().zip(widths) {
            line.push(' ');
            line.push_str(c);
            line.extend(std::iter::repeat_n(' ', w - c.chars().count() + 1));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for (name, fig) in [("Ferry", ferry), ("PostgreSQL", pg)] {
        if let Some(f) = fig {
            for n in &f.bootstrap.notes {
                out.push_str(&format!("  note ({name} bootstrap): {n}\n"));
            }
            out.push_str(&format!(
                "  {name}: leader ingest while followed {} docs/s; half load asked {} docs/s, took {}; bootstrap to full count {}\n",
                number(f.leader_rate()),
                number(f.load.target_rate),
                number(f.load.achieved_rate),
                f.bootstrap
                    .full
                    .map_or_else(|| "—".into(), |d| format!("{:.2} s", d.as_secs_f64())),
            ));
            if f.rounds.len() > 1 {
                let each: Vec<String> = f
                    .rounds
                    .iter()
                    .map(|r| {
                        let (single, end_to_end) = r.rates(f.docs);
                        format!("{} / {} docs/s", number(single), number(end_to_end))
                    })
                    .collect();
                out.push_str(&format!(
                    "  {name}: rounds (single-node / end-to-end; the table shows their medians): {}\n",
                    each.join(", ")
                ));
            }
            if let Some(line) = f.cpu.line() {
                out.push_str(&format!("  {name}: {line}\n"));
            }
        }
    }
    out
}

/// The `comparison` array of ccr.json.
pub(crate) fn json(ferry: Option<&Figures>, pg: Option<&Figures>) -> Value {
    let rows: Vec<Value> = ROWS
        .iter()
        .map(|r| {
            let f = ferry.and_then(r.value);
            let p = pg.and_then(r.value);
            let round = |v: Option<f64>| v.map(|v| (v * 1000.0).round() / 1000.0);
            json!({
                "figure": r.key,
                "unit": r.unit,
                "target": r.goal.text(),
                "better": match r.better { Better::Higher => "higher", Better::Lower => "lower" },
                "ferry": round(f),
                "postgresql": round(p),
                "ratio_ferry_over_postgresql": round(ratio(f, p)),
                "ferry_meets_target": ferry.and_then(|fig| r.goal.met(f, fig)),
                "postgresql_meets_target": pg.and_then(|fig| r.goal.met(p, fig)),
            })
        })
        .collect();
    Value::Array(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_the_docs() {
        assert_eq!(number(53_499.4), "53,499");
        assert_eq!(number(1_234_567.0), "1,234,567");
        assert_eq!(number(999.6), "1,000");
        assert_eq!(number(250.4), "250");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(number(-2_500.0), "-2,500");
        assert_eq!(number(f64::NAN), "—");
    }

    #[test]
    fn ratio_is_ferry_over_postgresql_and_absent_without_both() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(ratio_text(ratio(Some(3.0), Some(2.0))), "1.50×");
        assert_eq!(ratio(None, Some(2.0)), None);
        assert_eq!(ratio(Some(1.0), None), None);
        assert_eq!(ratio(Some(1.0), Some(0.0)), None, "no division by zero");
        assert_eq!(ratio_text(None), "—");
        assert_eq!(cell(None, "ms"), "—");
        assert_eq!(cell(Some(4.5), "ms"), "4.50 ms");
    }

    #[test]
    fn goals_judge_values() {
        assert_eq!(Goal::AtMost(10.0).text(), "≤ 10");
        assert_eq!(Goal::Below(1_000.0).text(), "< 1,000");
        assert_eq!(Goal::AtLeast(2.5).text(), "≥ 2.50");
        assert_eq!(Goal::TimesSingleNode(0.9).text(), "≥ 0.9× single-node");
        assert!(not_growing(10.0, 25.0));
        assert!(!not_growing(10.0, 25.1));
        assert!(not_growing(0.5, 10.7), "millisecond noise is not growth");
    }

    #[test]
    fn a_missing_side_leaves_dashes_not_numbers() {
        let t = table(None, None);
        assert!(t.contains("bootstrap copy"));
        let rows: Vec<&str> = t.lines().skip(3).collect();
        assert_eq!(rows.len(), ROWS.len(), "{t}");
        assert!(rows.iter().all(|l| l.matches('—').count() == 3), "{t}");
        let j = json(None, None);
        assert_eq!(j.as_array().map(Vec::len), Some(ROWS.len()));
        assert_eq!(j[0]["ferry"], Value::Null);
        assert_eq!(j[0]["ratio_ferry_over_postgresql"], Value::Null);
    }
}
