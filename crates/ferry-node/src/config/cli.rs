//! `ferryd`'s command line (clap derive): one optional flag per configuration key.
//!
//! Only the grammar lives here. A flag left out means "not set by this layer", so the
//! defaults shown in `--help` are documentation; `layers.rs` stacks the flags over the
//! other layers and `config.rs` applies the defaults.

use std::path::PathBuf;

use clap::Parser;

const AFTER_HELP: &str = "\
Every flag is also a config-file key (--http-port: http_port) and an environment variable
(FERRY_HTTP_PORT). Flags beat the environment, which beats the file, which beats the
defaults. The catalog can be given as FERRY_DB=\"dialect=...&host=...\" instead of -d.
Exit status: 0 after a clean stop, 1 when start-up or a server fails, 2 for bad configuration.";

/// `ferryd`'s command line. Every flag is optional so that a missing flag lets the lower
/// layers speak; the defaults shown in `--help` are the built-in ones.
#[derive(Debug, Default, Parser)]
#[command(
    name = "ferryd",
    version,
    about = "Ferry node daemon: an Elasticsearch-dialect document index server",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Config file, TOML (.toml) or YAML (.yml/.yaml) [env: FERRY_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Join a cluster through a shared catalog (not supported yet: refused)
    #[arg(long)]
    pub clustered: bool,
    /// Hostname other nodes reach this node by [default: the system hostname]
    #[arg(short = 'H', long, value_name = "HOST")]
    pub hostname: Option<String>,
    /// Inter-node port (cluster mode) [default: 1551]
    #[arg(short = 'n', long, value_name = "PORT")]
    pub node_port: Option<u16>,
    /// Cluster event-stream port (cluster mode) [default: 61616]
    #[arg(short = 'q', long, value_name = "PORT")]
    pub queue_port: Option<u16>,
    /// Catalog database config file (db.yml); FERRY_DB gives the same as one string
    #[arg(short = 'd', long, value_name = "DB_YML")]
    pub db_config: Option<PathBuf>,
    /// Shared storage directory [default: <data-dir>/shared]
    #[arg(long, value_name = "DIR")]
    pub shared_storage_dir: Option<PathBuf>,
    /// REST port [default: 9200]
    #[arg(long, value_name = "PORT")]
    pub http_port: Option<u16>,
    /// gRPC admin port [default: 9300]
    #[arg(long, value_name = "PORT")]
    pub transport_port: Option<u16>,
    /// Node data directory [default: ./data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Cluster name used when the catalog has none yet [default: ferry]
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// Node name [default: the system hostname]
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// Address the HTTP and gRPC servers listen on [default: 127.0.0.1]
    #[arg(long, value_name = "IP")]
    pub bind: Option<String>,
    /// Log directory [default: <data-dir>/logs]
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Log filter: a level or target=level list [default: info]
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Largest accepted request body (http.max_content_length) [default: 100mb]
    #[arg(long, value_name = "SIZE")]
    pub max_content_length: Option<String>,
    /// Page cache of each shard's state file, filled as it is used [default: 256mb]
    #[arg(long, value_name = "SIZE")]
    pub shard_state_cache: Option<String>,
    /// Start even if the catalog was written by another release (tests only)
    #[arg(long)]
    pub allow_version_skew: bool,
}
