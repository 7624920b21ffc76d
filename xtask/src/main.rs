//! `cargo xtask`: the one developer entry point.
//!
//! - `ci`: formatting check, clippy with `-D warnings`, then the whole test suite — the
//!   command the README and `.ci/run` name.
//! - `dev-cluster`: build and run one `ferryd` under `target/dev-cluster/` until Ctrl-C;
//!   `--ccr` runs two one-node clusters (`us-cluster`, `japan-cluster`) for the CCR tutorial.
//! - `bench`: workload W1 (issue 2, docs/benchmarks.md) against a release `ferryd`, then
//!   cross-cluster replication (issue 3) beside PostgreSQL's logical replication, measured
//!   in the same run; `--only w1,ccr,pg` picks parts.
//!
//! xtask drives cargo, `ferryd` and PostgreSQL processes; it never links Ferry's crates,
//! so it keeps working while they are half-built and measures exactly what users run.

mod bench;
mod bench_ccr;
mod bench_pg;
mod ci;
mod dev_cluster;
mod ferryd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Ferry's developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// fmt check, clippy -D warnings, build the binaries, then every test of the workspace
    Ci,
    /// Build ferryd and run one node (or, with --ccr, two clusters) under target/dev-cluster/ until Ctrl-C
    DevCluster(dev_cluster::Args),
    /// W1 on a release ferryd (target/bench/w1.json), then CCR beside PostgreSQL (target/bench/ccr.json)
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Ci => ci::run(),
        Task::DevCluster(args) => dev_cluster::run(args),
        Task::Bench(args) => bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The cargo that runs us (`cargo xtask` sets `CARGO`), else the one on `PATH`.
fn cargo() -> std::process::Command {
    let mut cmd =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}
