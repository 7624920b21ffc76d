//! One real `ferryd` process for a test: ports, directories, start, faults, restart, logs.
//!
//! A node gets a temporary root directory holding `data/` (unless the builder names a data
//! dir), `logs/` (passed as `--log-dir`) and the process's captured stdout/stderr, appended
//! across restarts. Ports are picked by binding port 0 on 127.0.0.1 and releasing it; if the
//! first start loses that race (address in use), fresh ports are picked and it retries.
//! `FERRY_*` variables of the calling environment are removed so a developer's shell cannot
//! point a test node at a real catalog. The process is killed when the [`TestNode`] drops;
//! if the test is panicking, the node's stderr and log files are printed and its directory
//! is kept.
//!
//! It does not interpret responses (see [`crate::Http`] and [`crate::es`]).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::TcpListener;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::http::Http;

/// How long a node may take to report ready (a hang guard, not a speed check).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a node may take to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Start attempts with freshly picked ports when the first loses a port race.
const START_ATTEMPTS: usize = 3;

/// Builds a [`TestNode`].
#[derive(Debug, Default)]
pub struct NodeBuilder {
    data_dir: Option<PathBuf>,
    envs: Vec<(String, String)>,
    args: Vec<String>,
    http_port: Option<u16>,
    transport_port: Option<u16>,
}

/// A running (or deliberately stopped) `ferryd` process.
#[derive(Debug)]
pub struct TestNode {
    bin: PathBuf,
    child: Option<Child>,
    root: TempDir,
    data_dir: PathBuf,
    log_dir: PathBuf,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    http_port: u16,
    transport_port: u16,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    http: Http,
    starts: u32,
}

impl NodeBuilder {
    /// Use this data directory instead of `<tempdir>/data` (it is not deleted afterwards).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Sets an environment variable for `ferryd`.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Adds one command-line argument (after the harness's own flags).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds several command-line arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Fixes the HTTP port instead of picking a free one.
    pub fn http_port(mut self, port: u16) -> Self {
        self.http_port = Some(port);
        self
    }

    /// Fixes the transport (gRPC) port instead of picking a free one.
    pub fn transport_port(mut self, port: u16) -> Self {
        self.transport_port = Some(port);
        self
    }

    /// Starts `ferryd` and waits until `/_health/ready` answers 200.
    pub async fn start(self) -> Result<TestNode> {
        crate::install_crypto_provider();
        let bin = crate::ferryd_bin()?;
        let root = tempfile::Builder::new()
            .prefix("ferry-test-")
            .tempdir()
            .context("creating the node's temp dir")?;
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| root.path().join("data"));
        let log_dir = root.path().join("logs");
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("creating {}", log_dir.display()))?;
        let stdout_path = root.path().join("ferryd.stdout");
        let stderr_path = root.path().join("ferryd.stderr");
        let fixed_ports = self.http_port.is_some() || self.transport_port.is_some();
        let (http_port, transport_port) = pick_ports(self.http_port, self.transport_port)?;
        let http = Http::with_stderr(
            format!("http://127.0.0.1:{http_port}"),
            Some(stderr_path.clone()),
        )?;
        let mut node = TestNode {
            bin,
            child: None,
            root,
            data_dir,
            log_dir,
            stdout_path,
            stderr_path,
            http_port,
            transport_port,
            args: self.args,
            envs: self.envs,
            http,
            starts: 0,
        };
        let mut attempt = 1;
        loop {
            match node.spawn_and_wait_ready().await {
                Ok(()) => return Ok(node),
                Err(e) if !fixed_ports && attempt < START_ATTEMPTS && node.lost_port_race() => {
                    eprintln!(
                        "ferry-tests: port race on start attempt {attempt}, retrying with new ports: {e:#}"
                    );
                    let (h, t) = pick_ports(None, None)?;
                    node.http_port = h;
                    node.transport_port = t;
                    node.http = Http::with_stderr(
                        format!("http://127.0.0.1:{h}"),
                        Some(node.stderr_path.clone()),
                    )?;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl TestNode {
    /// A builder with defaults: temporary data dir, free ports, no extra flags.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    /// Starts a node with all defaults.
    pub async fn start() -> Result<TestNode> {
        Self::builder().start().await
    }

    /// The REST client of this node (also reachable through `Deref`).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// `http://127.0.0.1:<http port>`.
    pub fn base_url(&self) -> &str {
        self.http.base_url()
    }

    /// The REST port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The transport (gRPC admin) port.
    pub fn transport_port(&self) -> u16 {
        self.transport_port
    }

    /// `http://127.0.0.1:<transport port>`, what gRPC clients dial.
    pub fn transport_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.transport_port)
    }

    /// The node's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The node's log directory (`--log-dir`).
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The OS process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) | None => false,
        }
    }

    /// A `ferryctl` runner pointed at this node's transport port.
    pub fn ctl(&self) -> Result<crate::Ferryctl> {
        crate::Ferryctl::new(self.transport_url())
    }

    /// `kill -9` the process and reap it: nothing gets a chance to flush.
    pub async fn kill9(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("kill9: the node is not running")
        };
        // An error here means it already exited, which leaves the same state.
        let _ = child.kill();
        child.wait().context("waiting for the killed ferryd")?;
        Ok(())
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub async fn sigterm(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("sigterm: the node is not running")
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .context("running kill -TERM")?;
        if !sent.success() {
            // Already gone: report how it ended.
            return child.wait().context("waiting for ferryd");
        }
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().context("waiting for ferryd to exit")? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "ferryd did not exit within {EXIT_TIMEOUT:?} of SIGTERM\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the process again on the same data dir, ports, flags and environment, and
    /// waits until ready. A still-running process is first stopped with SIGTERM.
    pub async fn restart(&mut self) -> Result<()> {
        if self.is_running() {
            self.sigterm().await?;
        }
        self.spawn_and_wait_ready().await
    }

    /// The tail of the node's stderr, stdout and every file in its log directory.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "--- ferryd stderr ({}) ---\n",
            self.stderr_path.display()
        ));
        out.push_str(&tail_of(&self.stderr_path, 200));
        out.push_str(&format!(
            "\n--- ferryd stdout ({}) ---\n",
            self.stdout_path.display()
        ));
        out.push_str(&tail_of(&self.stdout_path, 100));
        if let Ok(entries) = std::fs::read_dir(&self.log_dir) {
            let mut files: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for f in files.iter().filter(|f| f.is_file()) {
                out.push_str(&format!("\n--- log file {} ---\n", f.display()));
                out.push_str(&tail_of(f, 200));
            }
        }
        out
    }

    fn spawn(&mut self) -> Result<()> {
        self.starts += 1;
        let mut stdout = open_append(&self.stdout_path)?;
        let mut stderr = open_append(&self.stderr_path)?;
        let marker = format!("=== ferry-tests: start #{} ===\n", self.starts);
        stdout
            .write_all(marker.as_bytes())
            .context("writing the stdout marker")?;
        stderr
            .write_all(marker.as_bytes())
            .context("writing the stderr marker")?;
        let mut cmd = Command::new(&self.bin);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FERRY_") {
                cmd.env_remove(key);
            }
        }
        cmd.arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--http-port")
            .arg(self.http_port.to_string())
            .arg("--transport-port")
            .arg(self.transport_port.to_string())
            .arg("--log-dir")
            .arg(&self.log_dir)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    async fn spawn_and_wait_ready(&mut self) -> Result<()> {
        self.spawn()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("polling ferryd")?
            {
                self.child = None;
                bail!(
                    "ferryd exited before becoming ready ({status})\n{}",
                    self.logs()
                );
            }
            if let Ok(resp) = self.http.get("/_health/ready").await
                && resp.status == 200
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                if let Some(mut child) = self.child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                bail!(
                    "ferryd was not ready within {READY_TIMEOUT:?}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Whether the last start failed because a port was taken (stderr says so).
    fn lost_port_race(&self) -> bool {
        let tail = tail_of(&self.stderr_path, 50).to_lowercase();
        tail.contains("address already in use")
            || tail.contains("addrinuse")
            || tail.contains("address in use")
    }
}

impl Deref for TestNode {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            self.root.disable_cleanup(true);
            eprintln!(
                "ferry-tests: node on port {} failed; its directory is kept at {}\n{}",
                self.http_port,
                self.root.path().display(),
                self.logs()
            );
        }
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// Two distinct free ports on 127.0.0.1 (both held while picking so they differ).
fn pick_ports(http: Option<u16>, transport: Option<u16>) -> Result<(u16, u16)> {
    let a = TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    let b = TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    let http = http.unwrap_or(a.local_addr()?.port());
    let transport = transport.unwrap_or(b.local_addr()?.port());
    Ok((http, transport))
}

/// The last `lines` lines of a text file (empty if unreadable).
pub(crate) fn tail_of(path: &Path, lines: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
