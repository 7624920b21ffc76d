//! The raw configuration layers above the built-in defaults — config file, `FERRY_*`
//! environment variables, command-line flags — and how they stack into one [`Layered`]
//! view in which every key remembers the layer that set it.
//!
//! Nothing here judges a value beyond its type (a port is a `u16`, a bool is a bool); range
//! and consistency checks live in `config.rs`, which can then name the key and its layer.
//! One key has three spellings: `http_port` in the file, `FERRY_HTTP_PORT` in the
//! environment, `--http-port` on the command line.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::cli::Cli;

/// Where a value came from; shown in every error about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built into ferryd.
    Default,
    /// The `--config` file.
    File(PathBuf),
    /// A `FERRY_*` environment variable (its name).
    Env(&'static str),
    /// A command-line flag (its long spelling).
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("built-in default"),
            Source::File(p) => write!(f, "config file {}", p.display()),
            Source::Env(var) => write!(f, "environment variable {var}"),
            Source::Flag(flag) => write!(f, "command-line flag {flag}"),
        }
    }
}

/// A value and the layer that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its layer.
    pub from: Source,
}

/// How the catalog database is given (absent: embedded SQLite in the data dir).
#[derive(Clone, PartialEq, Eq)]
pub enum CatalogSpec {
    /// `-d <db.yml>`: a `db.yml` file (spec/cluster.md §2).
    DbYml(PathBuf),
    /// `FERRY_DB`: the same keys as one `k=v&k=v` string. Holds a password: never printed.
    FerryDb(String),
}

impl fmt::Debug for CatalogSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogSpec::DbYml(p) => f.debug_tuple("DbYml").field(p).finish(),
            CatalogSpec::FerryDb(_) => f.write_str("FerryDb(<redacted>)"),
        }
    }
}

/// A byte size in a file: `"100mb"` or a bare number of bytes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
}

/// The `--config` file. Keys are the long flag names with `_` for `-`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    clustered: Option<bool>,
    hostname: Option<String>,
    node_port: Option<u16>,
    queue_port: Option<u16>,
    db_config: Option<PathBuf>,
    shared_storage_dir: Option<PathBuf>,
    http_port: Option<u16>,
    transport_port: Option<u16>,
    data_dir: Option<PathBuf>,
    cluster_name: Option<String>,
    node_name: Option<String>,
    bind: Option<String>,
    log_dir: Option<PathBuf>,
    log_level: Option<String>,
    max_content_length: Option<SizeValue>,
    shard_state_cache: Option<SizeValue>,
    allow_version_skew: Option<bool>,
}

/// Every key after stacking the layers; `None` means no layer set it (the default applies).
#[derive(Debug, Default)]
pub struct Layered {
    pub config_file: Option<Sourced<PathBuf>>,
    pub clustered: Option<Sourced<bool>>,
    pub hostname: Option<Sourced<String>>,
    pub node_port: Option<Sourced<u16>>,
    pub queue_port: Option<Sourced<u16>>,
    pub catalog: Option<Sourced<CatalogSpec>>,
    pub shared_storage_dir: Option<Sourced<PathBuf>>,
    pub http_port: Option<Sourced<u16>>,
    pub transport_port: Option<Sourced<u16>>,
    pub data_dir: Option<Sourced<PathBuf>>,
    pub cluster_name: Option<Sourced<String>>,
    pub node_name: Option<Sourced<String>>,
    pub bind: Option<Sourced<String>>,
    pub log_dir: Option<Sourced<PathBuf>>,
    pub log_level: Option<Sourced<String>>,
    pub max_content_length: Option<Sourced<String>>,
    pub shard_state_cache: Option<Sourced<String>>,
    pub allow_version_skew: Option<Sourced<bool>>,
    /// Things worth a warning once logging runs (e.g. an unknown `FERRY_*` variable).
    pub warnings: Vec<String>,
}

/// Overwrites `slot` when `value` is set: the later layer wins.
fn set<T>(slot: &mut Option<Sourced<T>>, value: Option<T>, from: &Source) {
    if let Some(value) = value {
        *slot = Some(Sourced {
            value,
            from: from.clone(),
        });
    }
}

/// The environment variables ferryd reads, each with its file key.
const ENV_KEYS: &[(&str, &str)] = &[
    ("FERRY_CONFIG", "config"),
    ("FERRY_CLUSTERED", "clustered"),
    ("FERRY_HOSTNAME", "hostname"),
    ("FERRY_NODE_PORT", "node_port"),
    ("FERRY_QUEUE_PORT", "queue_port"),
    ("FERRY_DB_CONFIG", "db_config"),
    ("FERRY_DB", "db"),
    ("FERRY_SHARED_STORAGE_DIR", "shared_storage_dir"),
    ("FERRY_HTTP_PORT", "http_port"),
    ("FERRY_TRANSPORT_PORT", "transport_port"),
    ("FERRY_DATA_DIR", "data_dir"),
    ("FERRY_CLUSTER_NAME", "cluster_name"),
    ("FERRY_NODE_NAME", "node_name"),
    ("FERRY_BIND", "bind"),
    ("FERRY_LOG_DIR", "log_dir"),
    ("FERRY_LOG_LEVEL", "log_level"),
    ("FERRY_MAX_CONTENT_LENGTH", "max_content_length"),
    ("FERRY_SHARD_STATE_CACHE", "shard_state_cache"),
    ("FERRY_ALLOW_VERSION_SKEW", "allow_version_skew"),
];

/// The keys a config file may hold (every environment key but `config` and `db`).
#[cfg(test)]
pub fn file_keys() -> impl Iterator<Item = &'static str> {
    ENV_KEYS
        .iter()
        .map(|(_, key)| *key)
        .filter(|k| !matches!(*k, "config" | "db"))
}

/// The `FERRY_*` variables of an environment, by name; empty values count as unset.
/// Unknown `FERRY_*` names become warnings rather than errors: other tools share the prefix.
pub struct EnvLayer {
    vars: Vec<(&'static str, String)>,
    warnings: Vec<String>,
}

impl EnvLayer {
    /// Picks ferryd's variables out of `env`.
    pub fn from_env(env: impl IntoIterator<Item = (OsString, OsString)>) -> anyhow::Result<Self> {
        let mut vars = Vec::new();
        let mut warnings = Vec::new();
        for (name, value) in env {
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with("FERRY_") {
                continue;
            }
            let Some(&(var, _)) = ENV_KEYS.iter().find(|(v, _)| *v == name) else {
                warnings.push(format!("ignoring unknown environment variable {name}"));
                continue;
            };
            let Some(value) = value.to_str() else {
                bail!("invalid value in environment variable {var}: not valid UTF-8");
            };
            if !value.is_empty() {
                vars.push((var, value.to_owned()));
            }
        }
        Ok(Self { vars, warnings })
    }

    fn get(&self, var: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(v, _)| *v == var)
            .map(|(_, value)| value.as_str())
    }

    fn invalid(var: &'static str, raw: &str, what: &str) -> anyhow::Error {
        let key = ENV_KEYS
            .iter()
            .find(|(v, _)| *v == var)
            .map_or(var, |(_, k)| *k);
        anyhow::anyhow!("invalid {key} (environment variable {var}): [{raw}] is not {what}")
    }

    fn parsed<T: FromStr>(&self, var: &'static str, what: &str) -> anyhow::Result<Option<T>> {
        let Some(raw) = self.get(var) else {
            return Ok(None);
        };
        raw.trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| Self::invalid(var, raw, what))
    }

    fn bool(&self, var: &'static str) -> anyhow::Result<Option<bool>> {
        let Some(raw) = self.get(var) else {
            return Ok(None);
        };
        match raw.trim() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(Self::invalid(var, raw, "true or false")),
        }
    }

    fn string(&self, var: &'static str) -> Option<String> {
        self.get(var).map(str::to_owned)
    }

    fn path(&self, var: &'static str) -> Option<PathBuf> {
        self.get(var).map(PathBuf::from)
    }
}

impl Layered {
    /// Stacks file < environment < flags. Reads the config file named by `--config` or
    /// `FERRY_CONFIG`.
    pub fn stack(cli: Cli, env: EnvLayer) -> anyhow::Result<Self> {
        let mut l = Layered::default();
        set(
            &mut l.config_file,
            env.path("FERRY_CONFIG"),
            &Source::Env("FERRY_CONFIG"),
        );
        set(
            &mut l.config_file,
            cli.config.clone(),
            &Source::Flag("--config"),
        );
        if let Some(file) = l.config_file.clone() {
            l.apply_file(&file)?;
        }
        l.apply_env(&env)?;
        l.warnings.extend(env.warnings);
        l.apply_flags(cli);
        Ok(l)
    }

    fn apply_file(&mut self, file: &Sourced<PathBuf>) -> anyhow::Result<()> {
        let path = &file.value;
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read config file {} (given by {})",
                path.display(),
                file.from
            )
        })?;
        let f = parse_file(path, &text)?;
        let from = Source::File(path.clone());
        set(&mut self.clustered, f.clustered, &from);
        set(&mut self.hostname, f.hostname, &from);
        set(&mut self.node_port, f.node_port, &from);
        set(&mut self.queue_port, f.queue_port, &from);
        set(
            &mut self.catalog,
            f.db_config.map(CatalogSpec::DbYml),
            &from,
        );
        set(&mut self.shared_storage_dir, f.shared_storage_dir, &from);
        set(&mut self.http_port, f.http_port, &from);
        set(&mut self.transport_port, f.transport_port, &from);
        set(&mut self.data_dir, f.data_dir, &from);
        set(&mut self.cluster_name, f.cluster_name, &from);
        set(&mut self.node_name, f.node_name, &from);
        set(&mut self.bind, f.bind, &from);
        set(&mut self.log_dir, f.log_dir, &from);
        set(&mut self.log_level, f.log_level, &from);
        let text = |s: SizeValue| match s {
            SizeValue::Bytes(n) => n.to_string(),
            SizeValue::Text(t) => t,
        };
        set(
            &mut self.max_content_length,
            f.max_content_length.map(text),
            &from,
        );
        set(
            &mut self.shard_state_cache,
            f.shard_state_cache.map(text),
            &from,
        );
        set(&mut self.allow_version_skew, f.allow_version_skew, &from);
        Ok(())
    }

    fn apply_env(&mut self, env: &EnvLayer) -> anyhow::Result<()> {
        let e = |var: &'static str| Source::Env(var);
        const PORT: &str = "a port number (0-65535)";
        set(
            &mut self.clustered,
            env.bool("FERRY_CLUSTERED")?,
            &e("FERRY_CLUSTERED"),
        );
        set(
            &mut self.hostname,
            env.string("FERRY_HOSTNAME"),
            &e("FERRY_HOSTNAME"),
        );
        set(
            &mut self.node_port,
            env.parsed("FERRY_NODE_PORT", PORT)?,
            &e("FERRY_NODE_PORT"),
        );
        set(
            &mut self.queue_port,
            env.parsed("FERRY_QUEUE_PORT", PORT)?,
            &e("FERRY_QUEUE_PORT"),
        );
        match (env.path("FERRY_DB_CONFIG"), env.string("FERRY_DB")) {
            (Some(_), Some(_)) => bail!(
                "set only one of FERRY_DB_CONFIG and FERRY_DB: both name the catalog database"
            ),
            (yml, db) => {
                set(
                    &mut self.catalog,
                    yml.map(CatalogSpec::DbYml),
                    &e("FERRY_DB_CONFIG"),
                );
                set(
                    &mut self.catalog,
                    db.map(CatalogSpec::FerryDb),
                    &e("FERRY_DB"),
                );
            }
        }
        set(
            &mut self.shared_storage_dir,
            env.path("FERRY_SHARED_STORAGE_DIR"),
            &e("FERRY_SHARED_STORAGE_DIR"),
        );
        set(
            &mut self.http_port,
            env.parsed("FERRY_HTTP_PORT", PORT)?,
            &e("FERRY_HTTP_PORT"),
        );
        set(
            &mut self.transport_port,
            env.parsed("FERRY_TRANSPORT_PORT", PORT)?,
            &e("FERRY_TRANSPORT_PORT"),
        );
        set(
            &mut self.data_dir,
            env.path("FERRY_DATA_DIR"),
            &e("FERRY_DATA_DIR"),
        );
        set(
            &mut self.cluster_name,
            env.string("FERRY_CLUSTER_NAME"),
            &e("FERRY_CLUSTER_NAME"),
        );
        set(
            &mut self.node_name,
            env.string("FERRY_NODE_NAME"),
            &e("FERRY_NODE_NAME"),
        );
        set(&mut self.bind, env.string("FERRY_BIND"), &e("FERRY_BIND"));
        set(
            &mut self.log_dir,
            env.path("FERRY_LOG_DIR"),
            &e("FERRY_LOG_DIR"),
        );
        set(
            &mut self.log_level,
            env.string("FERRY_LOG_LEVEL"),
            &e("FERRY_LOG_LEVEL"),
        );
        set(
            &mut self.max_content_length,
            env.string("FERRY_MAX_CONTENT_LENGTH"),
            &e("FERRY_MAX_CONTENT_LENGTH"),
        );
        set(
            &mut self.shard_state_cache,
            env.string("FERRY_SHARD_STATE_CACHE"),
            &e("FERRY_SHARD_STATE_CACHE"),
        );
        set(
            &mut self.allow_version_skew,
            env.bool("FERRY_ALLOW_VERSION_SKEW")?,
            &e("FERRY_ALLOW_VERSION_SKEW"),
        );
        Ok(())
    }

    fn apply_flags(&mut self, cli: Cli) {
        let f = |flag: &'static str| Source::Flag(flag);
        set(
            &mut self.clustered,
            cli.clustered.then_some(true),
            &f("--clustered"),
        );
        set(&mut self.hostname, cli.hostname, &f("--hostname"));
        set(&mut self.node_port, cli.node_port, &f("--node-port"));
        set(&mut self.queue_port, cli.queue_port, &f("--queue-port"));
        set(
            &mut self.catalog,
            cli.db_config.map(CatalogSpec::DbYml),
            &f("--db-config"),
        );
        set(
            &mut self.shared_storage_dir,
            cli.shared_storage_dir,
            &f("--shared-storage-dir"),
        );
        set(&mut self.http_port, cli.http_port, &f("--http-port"));
        set(
            &mut self.transport_port,
            cli.transport_port,
            &f("--transport-port"),
        );
        set(&mut self.data_dir, cli.data_dir, &f("--data-dir"));
        set(
            &mut self.cluster_name,
            cli.cluster_name,
            &f("--cluster-name"),
        );
        set(&mut self.node_name, cli.node_name, &f("--node-name"));
        set(&mut self.bind, cli.bind, &f("--bind"));
        set(&mut self.log_dir, cli.log_dir, &f("--log-dir"));
        set(&mut self.log_level, cli.log_level, &f("--log-level"));
        set(
            &mut self.max_content_length,
            cli.max_content_length,
            &f("--max-content-length"),
        );
        set(
            &mut self.shard_state_cache,
            cli.shard_state_cache,
            &f("--shard-state-cache"),
        );
        set(
            &mut self.allow_version_skew,
            cli.allow_version_skew.then_some(true),
            &f("--allow-version-skew"),
        );
    }
}

/// Parses a config file by its extension.
fn parse_file(path: &Path, text: &str) -> anyhow::Result<FileConfig> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("toml") => {
            toml::from_str(text).with_context(|| format!("invalid config file {}", path.display()))
        }
        Some("yml" | "yaml") => {
            // An empty YAML document is null, not an empty map: treat it as "no keys".
            if text.trim().is_empty() {
                return Ok(FileConfig::default());
            }
            serde_yaml::from_str(text)
                .with_context(|| format!("invalid config file {}", path.display()))
        }
        _ => bail!(
            "config file {}: unknown format, name it *.toml, *.yml or *.yaml",
            path.display()
        ),
    }
}
