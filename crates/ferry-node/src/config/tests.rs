//! Layering order and validation of `ferryd`'s configuration, without touching the real
//! process environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser;

use super::*;

const HOST: &str = "box-7";

fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    pairs
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect()
}

fn load(args: &[&str], vars: &[(&str, &str)]) -> anyhow::Result<Config> {
    let cli = Cli::try_parse_from(std::iter::once("ferryd").chain(args.iter().copied()))?;
    Config::resolve(cli, env(vars), HOST)
}

fn err(args: &[&str], vars: &[(&str, &str)]) -> String {
    match load(args, vars) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => format!("{e:#}"),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("temp dir is writable");
    p.to_str().expect("temp paths are UTF-8").to_owned()
}

#[test]
fn defaults_apply_when_no_layer_speaks() {
    let c = load(&[], &[]).expect("defaults are valid");
    assert_eq!(
        (c.http_port, c.transport_port, c.node_port, c.queue_port),
        (9200, 9300, 1551, 61616)
    );
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.log_dir, PathBuf::from("./data/logs"));
    assert_eq!(c.shared_storage_dir, PathBuf::from("./data/shared"));
    assert_eq!(c.cluster_name, "ferry");
    assert_eq!(c.node_name, HOST);
    assert_eq!(c.hostname, HOST);
    assert_eq!(c.bind.to_string(), "127.0.0.1");
    assert_eq!(c.log_level, "info");
    assert_eq!(c.max_content_length, 100 * 1024 * 1024);
    assert_eq!(c.shard_state_cache, ferry_index::DEFAULT_STATE_CACHE_BYTES);
    assert!(c.catalog.is_none());
    assert_eq!(c.catalog_from, Source::Default);
    assert!(!c.allow_version_skew);
}

#[test]
fn later_layers_win_key_by_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "ferry.toml",
        "http_port = 1001\ncluster_name = \"from-file\"\nbind = \"0.0.0.0\"\n",
    );
    let file_env_flag = load(
        &["--config", &file, "--http-port", "3003"],
        &[("FERRY_HTTP_PORT", "2002"), ("FERRY_NODE_NAME", "from-env")],
    )
    .expect("valid");
    assert_eq!(file_env_flag.http_port, 3003, "a flag beats env and file");
    assert_eq!(
        file_env_flag.node_name, "from-env",
        "env sets what the flags leave alone"
    );
    assert_eq!(
        file_env_flag.cluster_name, "from-file",
        "the file sets what env and flags leave alone"
    );
    assert_eq!(file_env_flag.bind.to_string(), "0.0.0.0");

    let file_env = load(&["--config", &file], &[("FERRY_HTTP_PORT", "2002")]).expect("valid");
    assert_eq!(file_env.http_port, 2002, "env beats the file");

    let file_only = load(&["--config", &file], &[]).expect("valid");
    assert_eq!(file_only.http_port, 1001, "the file beats the default");
}

#[test]
fn yaml_files_and_ferry_config_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "ferry.yaml",
        "transport_port: 9400\nmax_content_length: 1mb\nlog_level: debug\n",
    );
    let c = load(&[], &[("FERRY_CONFIG", &file)]).expect("valid");
    assert_eq!(c.transport_port, 9400);
    assert_eq!(c.max_content_length, 1024 * 1024);
    assert_eq!(c.log_level, "debug");
    assert_eq!(c.config_file.as_deref(), Some(Path::new(&file)));
    let empty = write(dir.path(), "empty.yml", "");
    assert_eq!(
        load(&["--config", &empty], &[])
            .expect("an empty file sets nothing")
            .http_port,
        9200
    );
}

#[test]
fn sizes_in_files_may_be_numbers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "ferry.toml", "max_content_length = 4096\n");
    assert_eq!(
        load(&["--config", &file], &[])
            .expect("valid")
            .max_content_length,
        4096
    );
}

#[test]
fn unknown_file_keys_and_formats_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let typo = write(dir.path(), "ferry.toml", "http_prot = 9200\n");
    let e = err(&["--config", &typo], &[]);
    assert!(e.contains("http_prot") && e.contains("ferry.toml"), "{e}");
    let ini = write(dir.path(), "ferry.ini", "http_port=1\n");
    assert!(err(&["--config", &ini], &[]).contains("unknown format"));
    let missing = dir.path().join("nope.toml");
    let e = err(&["--config", missing.to_str().expect("UTF-8")], &[]);
    assert!(e.contains("nope.toml") && e.contains("--config"), "{e}");
}

#[test]
fn bad_values_name_the_key_and_the_layer() {
    let e = err(&[], &[("FERRY_HTTP_PORT", "ninety")]);
    assert!(
        e.contains("http_port") && e.contains("environment variable FERRY_HTTP_PORT"),
        "{e}"
    );

    let e = err(&["--bind", "localhost:9"], &[]);
    assert!(
        e.contains("invalid bind") && e.contains("command-line flag --bind"),
        "{e}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "ferry.toml",
        "max_content_length = \"10 parsecs\"\n",
    );
    let e = err(&["--config", &file], &[]);
    assert!(
        e.contains("max_content_length") && e.contains("config file") && e.contains("unknown unit"),
        "{e}"
    );

    let e = err(&[], &[("FERRY_CLUSTERED", "maybe")]);
    assert!(
        e.contains("clustered") && e.contains("FERRY_CLUSTERED"),
        "{e}"
    );

    let e = err(&["--cluster-name", "a:b"], &[]);
    assert!(
        e.contains("cluster_name") && e.contains("--cluster-name"),
        "{e}"
    );

    let e = err(&["-H", "has space"], &[]);
    assert!(e.contains("hostname") && e.contains("--hostname"), "{e}");

    let e = err(&[], &[("FERRY_NODE_NAME", " ")]);
    assert!(
        e.contains("node_name") && e.contains("FERRY_NODE_NAME"),
        "{e}"
    );
}

#[test]
fn max_content_length_has_bounds() {
    assert!(err(&["--max-content-length", "0"], &[]).contains("between"));
    assert!(err(&["--max-content-length", "2gb"], &[]).contains("between"));
    assert!(err(&["--max-content-length", "1.5mb"], &[]).contains("max_content_length"));
    let c = load(&["--max-content-length", "1023mb"], &[]).expect("valid");
    assert_eq!(c.max_content_length, 1023 * 1024 * 1024);
}

#[test]
fn shard_state_cache_comes_from_any_layer_within_bounds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "ferry.toml", "shard_state_cache = \"64mb\"\n");
    assert_eq!(
        load(&["--config", &file], &[])
            .expect("valid")
            .shard_state_cache,
        64 << 20
    );
    let env_set = load(
        &["--config", &file],
        &[("FERRY_SHARD_STATE_CACHE", "128mb")],
    )
    .expect("valid");
    assert_eq!(env_set.shard_state_cache, 128 << 20);
    let flag = load(
        &["--config", &file, "--shard-state-cache", "1gb"],
        &[("FERRY_SHARD_STATE_CACHE", "128mb")],
    )
    .expect("valid");
    assert_eq!(flag.shard_state_cache, 1 << 30);
    let e = err(&["--shard-state-cache", "512kb"], &[]);
    assert!(
        e.contains("shard_state_cache")
            && e.contains("between")
            && e.contains("--shard-state-cache"),
        "{e}"
    );
    assert!(err(&[], &[("FERRY_SHARD_STATE_CACHE", "65gb")]).contains("FERRY_SHARD_STATE_CACHE"));
    assert!(err(&["--shard-state-cache", "lots"], &[]).contains("shard_state_cache"));
}

#[test]
fn log_filters_are_checked() {
    let e = err(&["--log-level", "verbose"], &[]);
    assert!(e.contains("log_level") && e.contains("[verbose]"), "{e}");
    assert!(err(&["--log-level", "ferry_node=loud"], &[]).contains("log_level"));
    let c = load(&["--log-level", "warn,ferry_node=debug"], &[]).expect("valid");
    assert_eq!(c.log_level, "warn,ferry_node=debug");
}

#[test]
fn ports_must_differ() {
    let e = err(&["--http-port", "9300"], &[]);
    assert!(
        e.contains("transport_port") && e.contains("http_port"),
        "{e}"
    );
    let e = err(&["-n", "7000"], &[("FERRY_QUEUE_PORT", "7000")]);
    assert!(
        e.contains("queue_port") && e.contains("FERRY_QUEUE_PORT") && e.contains("--node-port"),
        "{e}"
    );
    let any =
        load(&["--http-port", "0", "--transport-port", "0"], &[]).expect("0 means any free port");
    assert_eq!((any.http_port, any.transport_port), (0, 0));
}

#[test]
fn clustered_is_refused_with_the_right_reason() {
    let e = err(&["--clustered"], &[]);
    assert_eq!(
        e,
        "a cluster needs a shared catalog database: pass -d <db.yml> or set FERRY_DB"
    );
    let e = err(&["--clustered", "-d", "db.yml"], &[]);
    assert_eq!(
        e,
        "clustering is not supported yet: this build runs a single node"
    );
    let e = err(&["--clustered"], &[("FERRY_DB", "dialect=mysql&host=db1")]);
    assert!(e.starts_with("clustering is not supported yet"), "{e}");
    let e = err(&[], &[("FERRY_CLUSTERED", "true")]);
    assert!(
        e.starts_with("a cluster needs a shared catalog") && e.contains("FERRY_CLUSTERED"),
        "{e}"
    );
}

#[test]
fn catalog_layers_and_secrecy() {
    let secret = "dialect=mysql&host=db1&password=hunter2";
    let c = load(&[], &[("FERRY_DB", secret)]).expect("valid");
    assert_eq!(c.catalog, Some(CatalogSpec::FerryDb(secret.to_owned())));
    assert_eq!(c.catalog_from, Source::Env("FERRY_DB"));
    assert!(
        !format!("{c:?}").contains("hunter2"),
        "Debug must not print FERRY_DB"
    );

    let c = load(&["-d", "/etc/ferry/db.yml"], &[("FERRY_DB", secret)]).expect("valid");
    assert_eq!(
        c.catalog,
        Some(CatalogSpec::DbYml("/etc/ferry/db.yml".into())),
        "-d beats FERRY_DB"
    );
    assert_eq!(c.catalog_from, Source::Flag("--db-config"));

    let e = err(&[], &[("FERRY_DB", secret), ("FERRY_DB_CONFIG", "db.yml")]);
    assert!(
        e.contains("only one of FERRY_DB_CONFIG and FERRY_DB") && !e.contains("hunter2"),
        "{e}"
    );
}

#[test]
fn derived_dirs_follow_the_data_dir_unless_set() {
    let c = load(&["--data-dir", "/srv/ferry"], &[]).expect("valid");
    assert_eq!(c.log_dir, PathBuf::from("/srv/ferry/logs"));
    assert_eq!(c.shared_storage_dir, PathBuf::from("/srv/ferry/shared"));
    let c = load(
        &["--data-dir", "/srv/ferry", "--log-dir", "/var/log/ferry"],
        &[],
    )
    .expect("valid");
    assert_eq!(c.log_dir, PathBuf::from("/var/log/ferry"));
}

#[test]
fn environment_details() {
    let c = load(
        &[],
        &[
            ("FERRY_HTTP_PORT", ""),
            ("FERRY_HTTP_PROT", "1"),
            ("OTHER", "x"),
        ],
    )
    .expect("valid");
    assert_eq!(c.http_port, 9200, "an empty variable counts as unset");
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("FERRY_HTTP_PROT"));
    let c = load(&["--allow-version-skew"], &[]).expect("valid");
    assert!(c.allow_version_skew);
    let c = load(&[], &[("FERRY_ALLOW_VERSION_SKEW", "1")]).expect("valid");
    assert!(c.allow_version_skew);
}

#[test]
fn short_flags_of_the_cluster_design_parse() {
    let c = load(
        &[
            "-H",
            "node-a.example",
            "-n",
            "1661",
            "-q",
            "61717",
            "-d",
            "db.yml",
        ],
        &[],
    )
    .expect("valid");
    assert_eq!(c.hostname, "node-a.example");
    assert_eq!((c.node_port, c.queue_port), (1661, 61717));
    assert_eq!(c.catalog, Some(CatalogSpec::DbYml("db.yml".into())));
    assert!(
        load(&["--http-port", "70000"], &[]).is_err(),
        "clap refuses a port above 65535"
    );
}

/// `deploy/config/ferry.example.toml` documents every file key exactly once, and its
/// values, uncommented, are a valid configuration.
#[test]
fn the_example_file_documents_every_key() {
    let example = include_str!("../../../../deploy/config/ferry.example.toml");
    let mut keys = Vec::new();
    let mut active = String::new();
    for line in example.lines() {
        let Some(setting) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, _)) = setting.split_once(" = ") else {
            continue;
        };
        if key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            keys.push(key.to_owned());
            active.push_str(setting);
            active.push('\n');
        }
    }
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        keys.len(),
        "a key is documented twice: {keys:?}"
    );
    let mut expected: Vec<String> = layers::file_keys().map(str::to_owned).collect();
    expected.sort();
    assert_eq!(
        sorted, expected,
        "the example must document exactly the file keys"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "example.toml", &active);
    let c = load(&["--config", &file], &[]).expect("the example's values are valid");
    assert_eq!(c.http_port, 9200);
    assert_eq!(
        c.catalog,
        Some(CatalogSpec::DbYml("/etc/ferry/db.yml".into()))
    );
}
