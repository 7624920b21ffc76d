//! The command line: global options and subcommands (clap derive).
//!
//! Only the grammar lives here (the remote-cluster and CCR commands in `ccr`); reading
//! files, building request bodies and calling the server are in `call` and `body`,
//! rendering in `render`.

mod ccr;

use clap::{Parser, Subcommand, ValueEnum};

pub use self::ccr::{
    AutoFollowCommand, CcrCommand, ForgetFollower, RemoteCommand, RemoteMode, RemoteSet,
};

const EXIT_CODES: &str = "\
Exit codes:
  0  the server answered with a 2xx status
  1  the server answered with another status, the call failed, or the input was unusable
  2  the command line is wrong";

/// Ferry's admin CLI: talks gRPC to a ferryd transport port.
#[derive(Debug, Parser)]
#[command(name = "ferryctl", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// gRPC endpoint of a ferryd transport port.
    #[arg(
        long,
        global = true,
        env = "FERRY_ENDPOINT",
        default_value = "http://127.0.0.1:9300"
    )]
    pub endpoint: String,
    /// How to print answers: a readable table where one fits, or the JSON body.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// A query parameter as REST takes it, repeatable (e.g. `-p refresh=true -p routing=a`).
    /// For `ccr follow`, `ccr resume` and `ccr auto-follow put`, follow parameters
    /// (`-p max_read_request_operation_count=1000`, `-p read_poll_timeout=30s`, ...) go into
    /// the request body instead.
    #[arg(long = "param", short = 'p', global = true, value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Seconds to wait for the connection and for each answer.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How answers are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// The JSON body, pretty-printed.
    Json,
    /// A table for health, index lists, search hits, bulk results, remote clusters and
    /// CCR info, stats and auto-follow patterns; JSON otherwise.
    Table,
}

/// The subcommands.
#[derive(Debug, Subcommand, PartialEq)]
pub enum Command {
    /// Cluster health (`GET /_cluster/health[/<index>]`).
    Health {
        /// Limit the health to these indices.
        index: Option<String>,
    },
    /// Node and cluster info (`GET /`).
    Info,
    /// Create, delete, list and show indices.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Put, get and delete single documents.
    #[command(subcommand)]
    Doc(DocCommand),
    /// Send an NDJSON bulk request (`POST [/<index>]/_bulk`).
    Bulk {
        /// NDJSON file, or `-` for standard input.
        file: String,
        /// Default index for actions that name none.
        #[arg(long)]
        index: Option<String>,
    },
    /// Search an index (`POST /<index>/_search`).
    Search {
        /// Index expression: a name, a comma list, wildcards or `_all`.
        index: String,
        /// A search body (`{"query": ...}`) or a bare query (`{"match": ...}`), as JSON,
        /// `@file` or `-` for standard input; match all when absent.
        query: Option<String>,
        /// Number of hits to return (overrides `size` in the body).
        #[arg(long)]
        size: Option<u64>,
        /// Offset of the first hit (overrides `from` in the body).
        #[arg(long)]
        from: Option<u64>,
    },
    /// Define, remove and list remote clusters.
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// Cross-cluster replication: follow, pause, resume, stats, auto-follow, ...
    #[command(subcommand)]
    Ccr(CcrCommand),
}

/// `ferryctl index ...`.
#[derive(Debug, Subcommand, PartialEq)]
pub enum IndexCommand {
    /// Create an index (`PUT /<index>`).
    Create {
        /// Name of the index.
        name: String,
        /// `number_of_shards` (overrides the body).
        #[arg(long)]
        shards: Option<u32>,
        /// `number_of_replicas` (overrides the body).
        #[arg(long)]
        replicas: Option<u32>,
        /// Create-index JSON body (settings, mappings): a file, or `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        body: Option<String>,
    },
    /// Delete indices (`DELETE /<index>`).
    Delete {
        /// Index expression: a name, a comma list or wildcards.
        name: String,
    },
    /// List indices (`GET /_cat/indices`).
    List,
    /// Show settings and mappings (`GET /<index>`).
    Get {
        /// Index expression: a name, a comma list or wildcards.
        name: String,
    },
}

/// `ferryctl doc ...`.
#[derive(Debug, Subcommand, PartialEq)]
pub enum DocCommand {
    /// Index a document (`PUT /<index>/_doc/<id>`, or `POST /<index>/_doc` without an id).
    Put {
        /// Name of the index.
        index: String,
        /// `[ID] DOC`: an optional id (the server assigns one when absent), then the
        /// document as JSON, `@file` or `-` for standard input.
        #[arg(required = true, num_args = 1..=2, value_names = ["ID", "DOC"])]
        args: Vec<String>,
    },
    /// Read a document (`GET /<index>/_doc/<id>`).
    Get {
        /// Name of the index.
        index: String,
        /// Document id.
        id: String,
    },
    /// Delete a document (`DELETE /<index>/_doc/<id>`).
    Delete {
        /// Name of the index.
        index: String,
        /// Document id.
        id: String,
    },
}

/// Parses `KEY=VALUE`; `KEY` alone means an empty value (a flag such as `pretty`).
fn parse_param(s: &str) -> Result<(String, String), String> {
    let (key, value) = s.split_once('=').unwrap_or((s, ""));
    if key.is_empty() {
        return Err(format!("parameter [{s}] has no name; expected KEY=VALUE"));
    }
    Ok((key.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("ferryctl").chain(args.iter().copied()))
            .expect("arguments parse")
    }

    #[test]
    fn the_parser_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let cli = parse(&["health"]);
        assert_eq!(cli.output, Output::Table);
        assert_eq!(cli.timeout, 60);
        assert!(cli.params.is_empty());
        assert_eq!(cli.command, Command::Health { index: None });
        if std::env::var_os("FERRY_ENDPOINT").is_none() {
            assert_eq!(cli.endpoint, "http://127.0.0.1:9300");
        }
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        let cli = parse(&[
            "--endpoint",
            "http://h:1",
            "index",
            "list",
            "-o",
            "json",
            "-p",
            "v",
            "-p",
            "s=index",
        ]);
        assert_eq!(cli.endpoint, "http://h:1");
        assert_eq!(cli.output, Output::Json);
        assert_eq!(
            cli.params,
            vec![("v".into(), String::new()), ("s".into(), "index".into())]
        );
        assert_eq!(cli.command, Command::Index(IndexCommand::List));
    }

    #[test]
    fn index_create_takes_shards_replicas_and_body() {
        let cli = parse(&[
            "index",
            "create",
            "logs",
            "--shards",
            "3",
            "--replicas",
            "0",
            "--body",
            "-",
        ]);
        assert_eq!(
            cli.command,
            Command::Index(IndexCommand::Create {
                name: "logs".into(),
                shards: Some(3),
                replicas: Some(0),
                body: Some("-".into())
            })
        );
    }

    #[test]
    fn doc_put_takes_an_optional_id() {
        let with_id = parse(&["doc", "put", "logs", "1", r#"{"a":1}"#]);
        assert_eq!(
            with_id.command,
            Command::Doc(DocCommand::Put {
                index: "logs".into(),
                args: vec!["1".into(), r#"{"a":1}"#.into()]
            })
        );
        let without = parse(&["doc", "put", "logs", "-"]);
        assert_eq!(
            without.command,
            Command::Doc(DocCommand::Put {
                index: "logs".into(),
                args: vec!["-".into()]
            })
        );
    }

    #[test]
    fn search_and_bulk() {
        let cli = parse(&["search", "logs", r#"{"match_all":{}}"#, "--size", "5"]);
        assert_eq!(
            cli.command,
            Command::Search {
                index: "logs".into(),
                query: Some(r#"{"match_all":{}}"#.into()),
                size: Some(5),
                from: None
            }
        );
        let bulk = parse(&["bulk", "-", "--index", "logs"]);
        assert_eq!(
            bulk.command,
            Command::Bulk {
                file: "-".into(),
                index: Some("logs".into())
            }
        );
    }

    #[test]
    fn bad_command_lines_are_refused() {
        for args in [
            &["doc", "put", "logs"][..],
            &["doc", "put", "logs", "1", "{}", "extra"],
            &["doc", "get", "logs"],
            &["index", "create"],
            &["index", "create", "x", "--shards", "many"],
            &["search"],
            &["health", "-o", "yaml"],
            &["health", "-p", "=v"],
            &["nonsense"],
        ] {
            let argv = std::iter::once("ferryctl").chain(args.iter().copied());
            assert!(
                Cli::try_parse_from(argv).is_err(),
                "{args:?} should not parse"
            );
        }
    }
}
