//! The replication parts of `cargo xtask bench`: Ferry's CCR (`bench_ccr`) and
//! PostgreSQL's logical replication (`bench_pg`) through the same scenario, then the
//! comparison table and `target/bench/ccr.json`.
//!
//! Deliberately not here: W1 (`bench`), the steps and clocks (`scenario`), the table's
//! contents (`compare`).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use super::{Args, compare, interruptible, scenario};

/// Runs the parts asked for (`ferry` needs `bin`), prints the table, writes ccr.json.
pub(super) fn run(
    rt: &tokio::runtime::Runtime,
    bin: Option<&Path>,
    bench_dir: &Path,
    args: &Args,
    ferry: bool,
    pg: bool,
) -> anyhow::Result<()> {
    let plan = scenario::Plan {
        docs: args.docs,
        batch: args.batch,
        clients: args.clients,
        seed: args.seed,
        rounds: args.rounds,
        probes: args.probes,
        load: Duration::from_secs(args.load_secs),
        probe_every: Duration::from_millis(100),
    };
    let ferry = match (ferry, bin) {
        (true, Some(bin)) => Some(interruptible(
            rt,
            crate::bench_ccr::run(bin, bench_dir, &plan),
        )?),
        _ => None,
    };
    let pg = if pg {
        Some(interruptible(
            rt,
            crate::bench_pg::run(bench_dir, &plan, args.pg_bin.as_deref()),
        )?)
    } else {
        None
    };
    let pg_version = pg.as_ref().map(|(_, v)| v.clone());
    let pg = pg.map(|(f, _)| f);
    println!("{}", compare::table(ferry.as_ref(), pg.as_ref()));
    let json = json!({
        "workload": "W1-CCR",
        "measured_at": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .ok(),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "docs": args.docs,
        "batch": args.batch,
        "clients": args.clients,
        "seed": args.seed,
        "rounds": args.rounds,
        "probes": args.probes,
        "load_secs": args.load_secs,
        "postgresql_version": pg_version,
        "ferry": ferry.as_ref().map(scenario::Figures::json),
        "postgresql": pg.as_ref().map(scenario::Figures::json),
        "comparison": compare::json(ferry.as_ref(), pg.as_ref()),
    });
    let path = bench_dir.join("ccr.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("xtask bench: wrote {}", path.display());
    Ok(())
}
