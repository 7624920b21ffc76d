//! Locating the `ferryd` and `ferryctl` binaries, building them when missing or stale.
//!
//! `cargo test --workspace` does not build the binaries of *other* packages before running an
//! integration test, so the harness does it: once per test process (behind a `OnceLock`), if
//! either binary is missing or older than the newest file under `crates/`, `proto/`,
//! `Cargo.toml` or `Cargo.lock`, it runs `cargo build -p ferry-node -p ferryctl` with the
//! test executable's profile and target directory. Concurrent test processes are serialized
//! by cargo's own build lock. `FERRYD_BIN` / `FERRYCTL_BIN` bypass all of this.
//!
//! It does not decide *what* to test with the binaries, and never builds anything else.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow, bail, ensure};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

/// Path of the `ferryd` binary: `FERRYD_BIN`, else `target/<profile>/ferryd` (built if needed).
pub fn ferryd_bin() -> Result<PathBuf> {
    locate("FERRYD_BIN", "ferryd")
}

/// Path of the `ferryctl` binary: `FERRYCTL_BIN`, else `target/<profile>/ferryctl` (built if needed).
pub fn ferryctl_bin() -> Result<PathBuf> {
    locate("FERRYCTL_BIN", "ferryctl")
}

fn locate(env_var: &str, name: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        ensure!(path.is_file(), "{env_var}={} is not a file", path.display());
        return Ok(path);
    }
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(|| build_if_stale().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("{e}"))?;
    let path = dir.join(name);
    ensure!(
        path.is_file(),
        "{} does not exist after building; set {env_var} to override",
        path.display()
    );
    Ok(path)
}

/// `target/<profile>` of the running executable (a test binary lives in `target/<profile>/deps`).
fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the current executable")?;
    let parent = exe
        .parent()
        .context("current executable has no parent directory")?;
    let dir = if parent.file_name().is_some_and(|n| n == "deps") {
        parent.parent().context("deps directory has no parent")?
    } else {
        parent
    };
    Ok(dir.to_path_buf())
}

fn build_if_stale() -> Result<PathBuf> {
    let dir = profile_dir()?;
    let root = workspace_root();
    let newest_source = newest_mtime(&root)?;
    let stale = ["ferryd", "ferryctl"]
        .iter()
        .any(|bin| match mtime(&dir.join(bin)) {
            Some(built) => built < newest_source,
            None => true,
        });
    if stale {
        build(&root, &dir)?;
    }
    Ok(dir)
}

fn build(root: &Path, dir: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args([
        "build",
        "-p",
        "ferry-node",
        "-p",
        "ferryctl",
        "--bin",
        "ferryd",
        "--bin",
        "ferryctl",
    ]);
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(profile) => {
            cmd.args(["--profile", profile]);
        }
    }
    if let Some(target_dir) = dir.parent() {
        cmd.arg("--target-dir").arg(target_dir);
    }
    eprintln!("ferry-tests: building ferryd and ferryctl: {cmd:?}");
    let out = cmd.output().context("cannot run cargo to build ferryd")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "building ferryd/ferryctl failed ({}):\n{}",
            out.status,
            tail.join("\n")
        );
    }
    Ok(())
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Newest modification time of the sources a binary is built from.
fn newest_mtime(root: &Path) -> Result<SystemTime> {
    let mut newest = SystemTime::UNIX_EPOCH;
    for file in ["Cargo.toml", "Cargo.lock"] {
        if let Some(t) = mtime(&root.join(file)) {
            newest = newest.max(t);
        }
    }
    for dir in ["crates", "proto"] {
        walk(&root.join(dir), &mut newest)?;
    }
    Ok(newest)
}

fn walk(dir: &Path, newest: &mut SystemTime) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("stat {}", path.display()))?;
        if kind.is_dir() {
            if entry.file_name() != "target" {
                walk(&path, newest)?;
            }
        } else if let Some(t) = mtime(&path) {
            *newest = (*newest).max(t);
        }
    }
    Ok(())
}
