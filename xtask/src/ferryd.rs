//! Building and running one `ferryd` process: free ports, start, wait for readiness, read
//! its memory, stop it with SIGTERM (or SIGKILL when dropped while still running).
//!
//! Deliberately small: the integration-test harness in `tests/` is the full version (many
//! nodes, condition waits); xtask only needs one node it can measure.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Builds `ferryd` (the README's command) and returns the path of the binary.
pub fn build(release: bool) -> anyhow::Result<PathBuf> {
    let mut cmd = crate::cargo();
    cmd.args(["build", "-p", "ferry-node", "--bin", "ferryd"]);
    if release {
        cmd.arg("--release");
    }
    eprintln!(
        "xtask: building ferryd ({})",
        if release { "release" } else { "debug" }
    );
    let status = cmd.status().context("cannot run cargo build")?;
    if !status.success() {
        bail!("building ferryd failed ({status})");
    }
    let bin = target_dir()
        .join(if release { "release" } else { "debug" })
        .join("ferryd");
    if !bin.is_file() {
        bail!("cargo built ferryd but {} is missing", bin.display());
    }
    Ok(bin)
}

/// `$CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::workspace_root().join("target"), PathBuf::from)
}

/// `n` distinct ports the kernel reports free right now on 127.0.0.1.
pub fn free_ports<const N: usize>() -> anyhow::Result<[u16; N]> {
    // Hold every listener until all are chosen, so the kernel cannot hand one out twice.
    let mut held = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let l = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
        *port = l
            .local_addr()
            .context("cannot read a listener's port")?
            .port();
        held.push(l);
    }
    Ok(ports)
}

/// Where a node's output goes.
pub enum Output {
    /// The terminal (dev-cluster).
    Inherit,
    /// A file (bench): shown on failure.
    File(PathBuf),
}

/// The names a node starts with, and where its log files go.
pub struct Identity<'a> {
    /// `--cluster-name`.
    pub cluster_name: &'a str,
    /// `--node-name`.
    pub node_name: &'a str,
    /// `--log-dir`; `None` keeps ferryd's default, `<data-dir>/logs`.
    pub log_dir: Option<&'a Path>,
}

impl Identity<'static> {
    /// The one development node (bench, single-node dev-cluster).
    pub const DEV: Self = Self {
        cluster_name: "ferry-dev",
        node_name: "dev-1",
        log_dir: None,
    };
}

/// A running `ferryd`.
pub struct Ferryd {
    child: Child,
    /// `http://127.0.0.1:<http port>`.
    pub base_url: String,
    /// The transport (gRPC) address.
    pub transport: SocketAddr,
    output: Option<PathBuf>,
}

impl Ferryd {
    /// Starts `bin` on 127.0.0.1 with its own process group, so a Ctrl-C in the terminal
    /// reaches xtask only and xtask decides how the node stops.
    pub fn spawn(
        bin: &Path,
        data_dir: &Path,
        http_port: u16,
        transport_port: u16,
        output: Output,
    ) -> anyhow::Result<Self> {
        Self::spawn_as(
            bin,
            data_dir,
            http_port,
            transport_port,
            output,
            &Identity::DEV,
        )
    }

    /// [`Ferryd::spawn`] with the node's names and log directory given.
    pub fn spawn_as(
        bin: &Path,
        data_dir: &Path,
        http_port: u16,
        transport_port: u16,
        output: Output,
        id: &Identity<'_>,
    ) -> anyhow::Result<Self> {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(bin);
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["--bind", "127.0.0.1", "--http-port", &http_port.to_string()])
            .args(["--transport-port", &transport_port.to_string()])
            .args([
                "--node-name",
                id.node_name,
                "--cluster-name",
                id.cluster_name,
            ])
            .stdin(Stdio::null())
            .process_group(0);
        if let Some(dir) = id.log_dir {
            cmd.arg("--log-dir").arg(dir);
        }
        let output = match output {
            Output::Inherit => None,
            Output::File(path) => {
                let f = std::fs::File::create(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                let f2 = f.try_clone().context("cannot duplicate a file handle")?;
                cmd.stdout(f).stderr(f2);
                Some(path)
            }
        };
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        Ok(Self {
            child,
            base_url: format!("http://127.0.0.1:{http_port}"),
            transport: SocketAddr::from(([127, 0, 0, 1], transport_port)),
            output,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `/_health/ready` until it answers 200, failing early if the process exits.
    pub async fn wait_ready(
        &mut self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/_health/ready", self.base_url);
        loop {
            if let Some(status) = self.child.try_wait().context("cannot poll ferryd")? {
                bail!(
                    "ferryd exited during start-up ({status}){}",
                    self.output_tail()
                );
            }
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "ferryd was not ready within {timeout:?}{}",
                    self.output_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `(VmRSS, VmHWM)` in KiB, from `/proc/<pid>/status`.
    pub fn memory_kib(&self) -> anyhow::Result<(u64, u64)> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("{path} has no {name}"))?;
            line.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("cannot parse [{line}] in {path}"))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Sends SIGTERM (ferryd's graceful stop).
    pub fn terminate(&self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("cannot run kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed ({status})", self.pid());
        }
        Ok(())
    }

    /// Waits for the process to exit, up to `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().context("cannot poll ferryd")? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!(
                    "ferryd did not exit within {timeout:?} of SIGTERM{}",
                    self.output_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Non-blocking check: the exit status if the process has ended.
    pub fn try_exit(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        self.child.try_wait().context("cannot poll ferryd")
    }

    /// The last lines of the node's output, for error messages (empty when inherited).
    pub fn output_tail(&self) -> String {
        let Some(path) = &self.output else {
            return String::new();
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("\n--- last lines of {} ---\n{tail}", path.display())
    }
}

impl Drop for Ferryd {
    fn drop(&mut self) {
        // Never leave a node behind, whatever went wrong.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
