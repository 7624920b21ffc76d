//! Running the `ferryctl` CLI against a node, capturing exit code, stdout and stderr.
//!
//! The harness passes the node's transport address as `--endpoint http://127.0.0.1:<port>`
//! before the subcommand (see [`ADDR_FLAG`]); everything else is the test's arguments.
//! Output goes to temporary files, so a chatty or hung CLI cannot deadlock a pipe; a run
//! that does not finish within a generous deadline is killed and reported.
//!
//! It does not interpret what the CLI prints beyond parsing JSON on request.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The global flag that tells `ferryctl` where the node's transport port is.
pub const ADDR_FLAG: &str = "--endpoint";
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A `ferryctl` runner bound to one node.
#[derive(Debug, Clone)]
pub struct Ferryctl {
    bin: PathBuf,
    addr: String,
}

/// What one `ferryctl` run produced.
#[derive(Debug, Clone)]
pub struct CtlOutput {
    /// The arguments after the address flag, for messages.
    pub args: Vec<String>,
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

impl Ferryctl {
    /// A runner for the node whose transport URL is `addr` (`http://127.0.0.1:<port>`).
    pub fn new(addr: impl Into<String>) -> Result<Self> {
        Ok(Self {
            bin: crate::ferryctl_bin()?,
            addr: addr.into(),
        })
    }

    /// Runs `ferryctl --endpoint <addr> <args...>`.
    pub fn run(&self, args: &[&str]) -> Result<CtlOutput> {
        let dir = tempfile::tempdir().context("creating a temp dir for ferryctl output")?;
        let out_path = dir.path().join("stdout");
        let err_path = dir.path().join("stderr");
        let out = std::fs::File::create(&out_path).context("creating the stdout file")?;
        let err = std::fs::File::create(&err_path).context("creating the stderr file")?;
        let mut cmd = Command::new(&self.bin);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FERRY") {
                cmd.env_remove(key);
            }
        }
        cmd.arg(ADDR_FLAG)
            .arg(&self.addr)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", self.bin.display()))?;
        let deadline = Instant::now() + RUN_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().context("waiting for ferryctl")? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("ferryctl {args:?} did not finish within {RUN_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let read = |p: &PathBuf| std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned());
        Ok(CtlOutput {
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            code: status.code(),
            stdout: read(&out_path).context("reading ferryctl stdout")?,
            stderr: read(&err_path).context("reading ferryctl stderr")?,
        })
    }

    /// Runs `ferryctl --endpoint <addr> --output json <args...>`, requires exit 0, parses stdout.
    pub fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let out = self.run(&all)?;
        if !out.success() {
            bail!("{out}");
        }
        serde_json::from_str(out.stdout.trim())
            .with_context(|| format!("stdout of {out} is not JSON"))
    }
}

impl CtlOutput {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the whole output unless the run exited 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.success(), "ferryctl failed: {self}");
        self
    }
}

impl std::fmt::Display for CtlOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ferryctl {:?} exited {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}
