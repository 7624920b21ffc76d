//! `ferryd`'s configuration: layered, parsed, then validated into one immutable [`Config`].
//!
//! Layers, later wins: built-in defaults < `--config` file (TOML or YAML) < `FERRY_*`
//! environment variables < command-line flags (see `layers.rs` for the raw layers and
//! `deploy/config/ferry.example.toml` for every key). A bad value is refused at start with
//! an error naming the key and the layer it came from.
//!
//! Deliberately not here: reading `db.yml` or the `FERRY_DB` string (the catalog crate
//! parses them when the server starts), hot reloading (a change needs a restart), and
//! cluster mode (`--clustered` is refused until clustering lands).

mod bytesize;
mod cli;
mod layers;

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{anyhow, bail};
use clap::Parser;

pub use bytesize::render as render_byte_size;
use cli::Cli;
pub use layers::{CatalogSpec, Source};
use layers::{EnvLayer, Layered, Sourced};

/// Built-in defaults.
pub mod defaults {
    /// `--http-port`.
    pub const HTTP_PORT: u16 = 9200;
    /// `--transport-port`.
    pub const TRANSPORT_PORT: u16 = 9300;
    /// `-n/--node-port`.
    pub const NODE_PORT: u16 = 1551;
    /// `-q/--queue-port`.
    pub const QUEUE_PORT: u16 = 61616;
    /// `--data-dir`.
    pub const DATA_DIR: &str = "./data";
    /// `--cluster-name`.
    pub const CLUSTER_NAME: &str = "ferry";
    /// `--bind`.
    pub const BIND: &str = "127.0.0.1";
    /// `--log-level`.
    pub const LOG_LEVEL: &str = "info";
    /// `--max-content-length` (ES `http.max_content_length`).
    pub const MAX_CONTENT_LENGTH: &str = "100mb";
    /// Largest `--max-content-length` (ES's limit too: a Java int).
    pub const MAX_CONTENT_LENGTH_LIMIT: u64 = i32::MAX as u64;
    /// `--shard-state-cache` (ARCHITECTURE.md, "Memory").
    pub const SHARD_STATE_CACHE: &str = "256mb";
    /// Smallest and largest `--shard-state-cache`.
    pub const SHARD_STATE_CACHE_RANGE: (u64, u64) = (1 << 20, 64 << 30);
}

/// The validated configuration of one `ferryd` process. Only [`Config::load`] and
/// [`Config::resolve`] build it; after that nothing changes it.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// `-H/--hostname`: the name other nodes reach this one by.
    pub hostname: String,
    /// `-n/--node-port` (cluster mode only; not bound by a single node).
    pub node_port: u16,
    /// `-q/--queue-port` (cluster mode only; not bound by a single node).
    pub queue_port: u16,
    /// The catalog: `None` for the embedded SQLite file in the data dir.
    pub catalog: Option<CatalogSpec>,
    /// Which layer named the catalog (for error messages at start).
    pub catalog_from: Source,
    /// `--shared-storage-dir`.
    pub shared_storage_dir: PathBuf,
    /// `--http-port`.
    pub http_port: u16,
    /// `--transport-port`.
    pub transport_port: u16,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// `--cluster-name`.
    pub cluster_name: String,
    /// `--node-name`.
    pub node_name: String,
    /// `--bind`: the address both servers listen on.
    pub bind: IpAddr,
    /// `--log-dir`.
    pub log_dir: PathBuf,
    /// `--log-level`: a `tracing` filter (`info`, `warn,ferry_node=debug`).
    pub log_level: String,
    /// `--max-content-length` in bytes.
    pub max_content_length: usize,
    /// `--shard-state-cache` in bytes: the page cache of each shard's state file.
    pub shard_state_cache: usize,
    /// `--allow-version-skew` (tests only).
    pub allow_version_skew: bool,
    /// Warnings found while reading the layers, logged once logging runs.
    pub warnings: Vec<String>,
}

impl Config {
    /// Reads the real command line and environment. `--help` and clap usage errors print
    /// and exit here, as clap does.
    pub fn load() -> anyhow::Result<Config> {
        let cli = Cli::parse();
        Self::resolve(cli, std::env::vars_os(), &system_hostname())
    }

    /// Stacks and validates the layers; `system_hostname` is the default node name and `-H`.
    fn resolve(
        cli: Cli,
        env: impl IntoIterator<Item = (OsString, OsString)>,
        system_hostname: &str,
    ) -> anyhow::Result<Config> {
        let layered = Layered::stack(cli, EnvLayer::from_env(env)?)?;
        validate(layered, system_hostname)
    }
}

/// The machine's hostname, or `localhost` when the kernel does not say.
fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A value, or its default marked as such.
fn or_default<T>(v: Option<Sourced<T>>, default: impl FnOnce() -> T) -> Sourced<T> {
    v.unwrap_or_else(|| Sourced {
        value: default(),
        from: Source::Default,
    })
}

fn invalid(key: &str, from: &Source, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("invalid {key} ({from}): {why}")
}

fn validate(l: Layered, system_hostname: &str) -> anyhow::Result<Config> {
    // Cluster mode first: its refusal is the most useful thing to say.
    if let Some(clustered) = l.clustered.as_ref().filter(|c| c.value) {
        let by = match clustered.from {
            Source::Flag(_) => String::new(),
            ref other => format!(" (clustered is set by {other})"),
        };
        if l.catalog.is_none() {
            bail!(
                "a cluster needs a shared catalog database: pass -d <db.yml> or set FERRY_DB{by}"
            );
        }
        bail!("clustering is not supported yet: this build runs a single node{by}");
    }

    let data_dir = or_default(l.data_dir, || PathBuf::from(defaults::DATA_DIR));
    if data_dir.value.as_os_str().is_empty() {
        return Err(invalid("data_dir", &data_dir.from, "must not be empty"));
    }
    let log_dir = l
        .log_dir
        .map(|s| s.value)
        .unwrap_or_else(|| data_dir.value.join("logs"));
    let shared_storage_dir = l
        .shared_storage_dir
        .map(|s| s.value)
        .unwrap_or_else(|| data_dir.value.join("shared"));

    let hostname = or_default(l.hostname, || system_hostname.to_owned());
    check_hostname(&hostname)?;
    let node_name = or_default(l.node_name, || system_hostname.to_owned());
    if node_name.value.trim().is_empty() {
        return Err(invalid("node_name", &node_name.from, "must not be empty"));
    }
    let cluster_name = or_default(l.cluster_name, || defaults::CLUSTER_NAME.to_owned());
    check_cluster_name(&cluster_name)?;

    let ports = [
        ("http_port", or_default(l.http_port, || defaults::HTTP_PORT)),
        (
            "transport_port",
            or_default(l.transport_port, || defaults::TRANSPORT_PORT),
        ),
        ("node_port", or_default(l.node_port, || defaults::NODE_PORT)),
        (
            "queue_port",
            or_default(l.queue_port, || defaults::QUEUE_PORT),
        ),
    ];
    check_ports_distinct(&ports)?;
    let [http_port, transport_port, node_port, queue_port] = ports.map(|(_, p)| p.value);

    let bind = or_default(l.bind, || defaults::BIND.to_owned());
    let bind_ip: IpAddr = bind.value.trim().parse().map_err(|_| {
        invalid(
            "bind",
            &bind.from,
            format!("[{}] is not an IP address", bind.value),
        )
    })?;

    let log_level = or_default(l.log_level, || defaults::LOG_LEVEL.to_owned());
    check_log_filter(&log_level)?;

    let max_content_length = size_key(
        "max_content_length",
        l.max_content_length,
        defaults::MAX_CONTENT_LENGTH,
        (1, defaults::MAX_CONTENT_LENGTH_LIMIT),
    )?;
    let shard_state_cache = size_key(
        "shard_state_cache",
        l.shard_state_cache,
        defaults::SHARD_STATE_CACHE,
        defaults::SHARD_STATE_CACHE_RANGE,
    )?;

    let (catalog, catalog_from) = match l.catalog {
        Some(Sourced { value, from }) => {
            if let CatalogSpec::DbYml(p) = &value
                && p.as_os_str().is_empty()
            {
                return Err(invalid("db_config", &from, "must not be empty"));
            }
            (Some(value), from)
        }
        None => (None, Source::Default),
    };

    Ok(Config {
        config_file: l.config_file.map(|s| s.value),
        hostname: hostname.value,
        node_port,
        queue_port,
        catalog,
        catalog_from,
        shared_storage_dir,
        http_port,
        transport_port,
        data_dir: data_dir.value,
        cluster_name: cluster_name.value,
        node_name: node_name.value,
        bind: bind_ip,
        log_dir,
        log_level: log_level.value,
        max_content_length,
        shard_state_cache,
        allow_version_skew: l.allow_version_skew.is_some_and(|s| s.value),
        warnings: l.warnings,
    })
}

/// A byte-size key (`100mb`, `4096`) within `[min, max]` bytes.
fn size_key(
    key: &str,
    value: Option<Sourced<String>>,
    default: &str,
    (min, max): (u64, u64),
) -> anyhow::Result<usize> {
    let v = or_default(value, || default.to_owned());
    let bytes = bytesize::parse(&v.value).map_err(|why| invalid(key, &v.from, why))?;
    if !(min..=max).contains(&bytes) {
        return Err(invalid(
            key,
            &v.from,
            format!("[{}] must be between {min}b and {max}b", v.value),
        ));
    }
    usize::try_from(bytes).map_err(|_| invalid(key, &v.from, "too large for this platform"))
}

fn check_hostname(h: &Sourced<String>) -> anyhow::Result<()> {
    let v = &h.value;
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "hostname",
            &h.from,
            format!("[{v}] is not a hostname or IP address"),
        ))
    }
}

/// Elasticsearch's rule for `cluster.name`: not empty, no `:`.
fn check_cluster_name(n: &Sourced<String>) -> anyhow::Result<()> {
    let v = &n.value;
    if v.trim().is_empty() {
        return Err(invalid("cluster_name", &n.from, "must not be empty"));
    }
    if v.contains(':') {
        return Err(invalid(
            "cluster_name",
            &n.from,
            format!("[{v}] must not contain ':'"),
        ));
    }
    Ok(())
}

/// The four ports must differ (0, "any free port", may repeat).
fn check_ports_distinct(ports: &[(&str, Sourced<u16>)]) -> anyhow::Result<()> {
    for (i, (a, pa)) in ports.iter().enumerate() {
        for (b, pb) in &ports[i + 1..] {
            if pa.value != 0 && pa.value == pb.value {
                bail!(
                    "invalid {b} ({}): port {} is already the {a} ({}); every port must differ",
                    pb.from,
                    pb.value,
                    pa.from
                );
            }
        }
    }
    Ok(())
}

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// A level, or a comma list of `level` / `target=level` directives. Stricter than
/// `tracing`'s own parser, which takes a mistyped level for a target name and says nothing.
fn check_log_filter(f: &Sourced<String>) -> anyhow::Result<()> {
    let bad = |d: &str| {
        invalid(
            "log_level",
            &f.from,
            format!(
                "[{d}] is not a level ({}) or target=level",
                LEVELS.join(", ")
            ),
        )
    };
    if f.value.trim().is_empty() {
        return Err(bad(""));
    }
    for directive in f.value.split(',').map(str::trim) {
        let (target, level) = directive.split_once('=').unwrap_or(("", directive));
        let target_ok = target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'));
        if !target_ok || !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(bad(directive));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
