//! `cargo xtask ci`: what CI runs, in order, stopping at the first failure.
//!
//! Uses `cargo test` (not nextest) so that a machine with only the Rust toolchain can run
//! it. `ferryd` and `ferryctl` are built before the tests because the integration tests in
//! `tests/` start them from `target/debug/` (the harness would otherwise build them from
//! inside the first test).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};

/// Each step: a name and the cargo arguments.
const STEPS: &[(&str, &[&str])] = &[
    ("format", &["fmt", "--all", "--", "--check"]),
    (
        "clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    ),
    (
        "build binaries",
        &["build", "--workspace", "--bins", "--locked"],
    ),
    (
        "tests",
        &["test", "--workspace", "--locked", "--no-fail-fast"],
    ),
];

pub fn run() -> anyhow::Result<ExitCode> {
    let all = Instant::now();
    for (name, args) in STEPS {
        let started = Instant::now();
        eprintln!("xtask ci: {name}: cargo {}", args.join(" "));
        let status = crate::cargo()
            .args(*args)
            .status()
            .with_context(|| format!("cannot run cargo for {name}"))?;
        if !status.success() {
            bail!("{name} failed ({status}): cargo {}", args.join(" "));
        }
        eprintln!("xtask ci: {name} passed in {:.0?}", started.elapsed());
    }
    eprintln!("xtask ci: all passed in {:.0?}", all.elapsed());
    Ok(ExitCode::SUCCESS)
}
