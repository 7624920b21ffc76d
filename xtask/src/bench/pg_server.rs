//! Throwaway PostgreSQL instances for the replication comparison: found among Debian's
//! `postgresql` packages (`/usr/lib/postgresql/<version>/bin`), created with `initdb` under
//! a temp dir in `target/bench/`, configured for logical replication on a free port of
//! 127.0.0.1 with their sockets in their own dirs, started and stopped with `pg_ctl`.
//!
//! PostgreSQL refuses to run as root; when xtask runs as root, every PostgreSQL tool runs
//! as [`UNPRIVILEGED`] through `runuser`, and the temp dir is handed to that user.
//! [`Servers`] is the guard: dropping it stops every instance still running (immediate
//! mode) and then deletes the temp dir, on success, error or panic alike.
//!
//! Deliberately not here: installing PostgreSQL (the message says what to install),
//! touching any other instance (the system one on 5432 is never used), SQL (`bench_pg`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail, ensure};

/// Where Debian installs the server binaries, one dir per major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
/// The user PostgreSQL runs as when xtask is root.
pub(crate) const UNPRIVILEGED: &str = "nobody";

/// The server binaries and who runs them.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    bin: PathBuf,
    /// `Some((user, uid, gid))` when the tools must run as another user.
    run_as: Option<(String, u32, u32)>,
}

/// The highest version among `(major version, bin dir)`.
fn newest(found: Vec<(u32, PathBuf)>) -> Option<PathBuf> {
    found.into_iter().max_by_key(|(v, _)| *v).map(|(_, p)| p)
}

/// `Uid:` of `/proc/self/status` text: the effective uid (second number).
fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// `(uid, gid)` from a `getent passwd <user>` / `/etc/passwd` line set.
fn passwd_ids(text: &str, user: &str) -> Option<(u32, u32)> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[0] == user).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

impl Tools {
    /// `explicit`, else the newest `/usr/lib/postgresql/<v>/bin` that has `initdb`.
    pub fn find(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let bin = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let mut found = Vec::new();
                if let Ok(dirs) = std::fs::read_dir(DEBIAN_ROOT) {
                    for d in dirs.flatten() {
                        let v = d.file_name().to_string_lossy().parse::<u32>();
                        let bin = d.path().join("bin");
                        if let Ok(v) = v
                            && bin.join("initdb").is_file()
                        {
                            found.push((v, bin));
                        }
                    }
                }
                newest(found).with_context(|| {
                    format!("no PostgreSQL server found under {DEBIAN_ROOT}/<version>/bin; install Debian's `postgresql` package (apt-get install postgresql) or pass --pg-bin <dir with initdb, pg_ctl, postgres>")
                })?
            }
        };
        for tool in ["initdb", "pg_ctl", "postgres"] {
            ensure!(bin.join(tool).is_file(), "{} has no {tool}", bin.display());
        }
        let status = std::fs::read_to_string("/proc/self/status")
            .context("cannot read /proc/self/status")?;
        let run_as = if effective_uid(&status) == Some(0) {
            let out = Command::new("getent")
                .args(["passwd", UNPRIVILEGED])
                .output()
                .context("cannot run getent")?;
            let text = String::from_utf8_lossy(&out.stdout);
            let (uid, gid) = passwd_ids(&text, UNPRIVILEGED).with_context(|| {
                format!("running as root, PostgreSQL needs the user `{UNPRIVILEGED}`, which does not exist")
            })?;
            Some((UNPRIVILEGED.to_owned(), uid, gid))
        } else {
            None
        };
        Ok(Self { bin, run_as })
    }

    /// The version directory's name, for the report (`15`).
    pub fn version(&self) -> String {
        self.bin
            .parent()
            .and_then(Path::file_name)
            .map_or_else(|| "?".into(), |n| n.to_string_lossy().into_owned())
    }

    /// A command running `tool` as the right user.
    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        match &self.run_as {
            Some((user, _, _)) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }
}

/// The lines appended to each instance's `postgresql.conf`.
pub(crate) fn conf_text(port: u16, socket_dir: &Path) -> String {
    let socket = socket_dir.display().to_string().replace('\'', "''");
    format!(
        "\n# cargo xtask bench: a throwaway instance for the replication comparison\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         unix_socket_directories = '{socket}'\n\
         wal_level = logical\n\
         # durable commits, as Ferry acknowledges after fsync\n\
         fsync = on\n\
         synchronous_commit = on\n\
         full_page_writes = on\n\
         max_wal_senders = 10\n\
         max_replication_slots = 10\n\
         # ENABLE starts the apply worker at once, not up to 5 s later (the default)\n\
         wal_retrieve_retry_interval = '100ms'\n\
         logging_collector = off\n"
    )
}

/// One instance.
#[derive(Debug)]
pub(crate) struct Instance {
    pub name: &'static str,
    data: PathBuf,
    log: PathBuf,
    running: bool,
}

/// The instances of one bench run and their temp dir.
pub(crate) struct Servers {
    tools: Tools,
    instances: Vec<Instance>,
    tmp: tempfile::TempDir,
}

fn checked(what: &str, out: std::io::Result<Output>) -> anyhow::Result<()> {
    let out = out.with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl Servers {
    /// A temp dir under `bench_dir`, owned by whoever runs the tools.
    pub fn new(tools: Tools, bench_dir: &Path) -> anyhow::Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix("pg-")
            .tempdir_in(bench_dir)
            .context("cannot create a temp dir")?;
        if let Some((user, uid, gid)) = &tools.run_as {
            std::os::unix::fs::chown(tmp.path(), Some(*uid), Some(*gid))
                .with_context(|| format!("cannot give {} to {user}", tmp.path().display()))?;
        }
        Ok(Self {
            tools,
            instances: Vec::new(),
            tmp,
        })
    }

    /// `initdb`s a new instance on `port` (free: see [`crate::ferryd::free_ports`], which must
    /// pick every instance's port at once, or two instances may be handed the same one)
    /// and configures it; returns its index.
    pub fn create(&mut self, name: &'static str, port: u16) -> anyhow::Result<usize> {
        let data = self.tmp.path().join(name);
        let mut initdb = self.tools.command("initdb");
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
            .current_dir(self.tmp.path());
        checked(&format!("initdb for {name}"), initdb.output())?;
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)
            .with_context(|| format!("cannot read {}", conf.display()))?;
        text.push_str(&conf_text(port, &data));
        std::fs::write(&conf, text).with_context(|| format!("cannot write {}", conf.display()))?;
        self.instances.push(Instance {
            name,
            log: self.tmp.path().join(format!("{name}.log")),
            data,
            running: false,
        });
        Ok(self.instances.len() - 1)
    }

    /// `pg_ctl start`, waiting until it accepts connections.
    pub fn start(&mut self, i: usize) -> anyhow::Result<()> {
        let inst = &self.instances[i];
        let mut cmd = self.tools.command("pg_ctl");
        cmd.arg("-D")
            .arg(&inst.data)
            .arg("-l")
            .arg(&inst.log)
            .args(["-w", "-t", "120", "start"])
            .current_dir(self.tmp.path());
        let result = checked(&format!("pg_ctl start ({})", inst.name), cmd.output());
        // Even a failed start may have left a postmaster behind: let the guard try.
        self.instances[i].running = true;
        result.map_err(|e| anyhow::anyhow!("{e:#}{}", self.log_tail(i)))
    }

    fn stop(&mut self, i: usize, mode: &str) -> anyhow::Result<()> {
        let inst = &self.instances[i];
        let mut cmd = self.tools.command("pg_ctl");
        cmd.arg("-D")
            .arg(&inst.data)
            .args(["-m", mode, "-w", "-t", "60", "stop"])
            .current_dir(self.tmp.path());
        let result = checked(&format!("pg_ctl stop ({})", inst.name), cmd.output());
        self.instances[i].running = false;
        result
    }

    /// Stops every running instance (fast shutdown); the first failure is returned.
    pub fn stop_all(&mut self) -> anyhow::Result<()> {
        let mut first = Ok(());
        for i in 0..self.instances.len() {
            if self.instances[i].running {
                let r = self.stop(i, "fast");
                if first.is_ok() {
                    first = r;
                }
            }
        }
        first
    }

    /// The last lines of an instance's server log, for error messages.
    pub fn log_tail(&self, i: usize) -> String {
        let inst = &self.instances[i];
        let text = std::fs::read_to_string(&inst.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("\n--- last lines of {} ---\n{tail}", inst.log.display())
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        // Never leave a postmaster behind; the temp dir goes after this.
        for i in 0..self.instances.len() {
            let inst = &self.instances[i];
            if inst.running
                && inst.data.join("postmaster.pid").exists()
                && let Err(e) = self.stop(i, "immediate")
            {
                eprintln!("xtask bench: could not stop PostgreSQL: {e:#}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_enables_logical_replication_with_durable_commits() {
        let text = conf_text(54_321, Path::new("/t/it's"));
        let lines: Vec<&str> = text.lines().collect();
        for want in [
            "port = 54321",
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = '/t/it''s'",
            "wal_level = logical",
            "fsync = on",
            "synchronous_commit = on",
            "max_wal_senders = 10",
            "max_replication_slots = 10",
            "wal_retrieve_retry_interval = '100ms'",
        ] {
            assert!(lines.contains(&want), "missing [{want}] in\n{text}");
        }
    }

    #[test]
    fn picks_the_newest_version() {
        let found = vec![
            (13, PathBuf::from("/p/13/bin")),
            (15, PathBuf::from("/p/15/bin")),
            (9, PathBuf::from("/p/9/bin")),
        ];
        assert_eq!(newest(found), Some(PathBuf::from("/p/15/bin")));
        assert_eq!(newest(Vec::new()), None);
    }

    #[test]
    fn reads_uids_from_proc_status_and_passwd() {
        let status = "Name:\txtask\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Name: x\n"), None);
        let passwd = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
        assert_eq!(passwd_ids(passwd, "nobody"), Some((65534, 65534)));
        assert_eq!(passwd_ids(passwd, "postgres"), None);
        assert_eq!(passwd_ids("nobody:x:abc:1:", "nobody"), None);
    }
}
