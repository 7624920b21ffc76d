//! The grammar of `ferryctl remote ...` (remote clusters) and `ferryctl ccr ...`
//! (cross-cluster replication).
//!
//! Only the grammar lives here. Follow parameters (`max_read_request_operation_count`,
//! `read_poll_timeout`, ...) are given with the global `-p/--param KEY=VALUE`; `plan`
//! moves those keys into the request body and leaves the rest as query parameters. Which
//! values are valid is the server's business, not this module's.

use clap::{Subcommand, ValueEnum};

use super::parse_param;

/// The `remote set` flags of proxy mode, which sniff-mode flags exclude.
const PROXY_ARGS: [&str; 3] = ["proxy_address", "server_name", "proxy_socket_connections"];

/// `ferryctl remote ...`: remote clusters are `cluster.remote.<alias>.*` cluster settings.
#[derive(Debug, Subcommand, PartialEq)]
pub enum RemoteCommand {
    /// Define or change a remote cluster (`PUT /_cluster/settings`). Only the keys given are
    /// set; `--mode`, or a key of one mode, also sets the mode and clears the other mode's
    /// keys.
    Set(RemoteSet),
    /// Remove a remote cluster: every `cluster.remote.<alias>.*` setting of the scope.
    Remove {
        /// Alias of the remote cluster.
        alias: String,
        /// Remove the transient settings instead of the persistent ones.
        #[arg(long)]
        transient: bool,
    },
    /// The remote clusters and their connections (`GET /_remote/info`).
    List,
}

/// `ferryctl remote set`.
#[derive(Debug, Default, clap::Args, PartialEq)]
pub struct RemoteSet {
    /// Alias of the remote cluster, as CCR calls name it.
    pub alias: String,
    /// Seed nodes' transport addresses (sniff mode), comma-separated or repeated.
    #[arg(long, value_name = "HOST:PORT", value_delimiter = ',', conflicts_with_all = PROXY_ARGS)]
    pub seeds: Vec<String>,
    /// How to connect; implied by the other flags when absent.
    #[arg(long, value_enum)]
    pub mode: Option<RemoteMode>,
    /// The one address to connect to (proxy mode).
    #[arg(long, value_name = "HOST:PORT")]
    pub proxy_address: Option<String>,
    /// TLS server name to send to the proxy (proxy mode).
    #[arg(long)]
    pub server_name: Option<String>,
    /// Number of gateway nodes to connect to (sniff mode).
    #[arg(long, value_name = "N", conflicts_with_all = PROXY_ARGS)]
    pub node_connections: Option<u32>,
    /// Number of sockets to open to the proxy (proxy mode).
    #[arg(long, value_name = "N")]
    pub proxy_socket_connections: Option<u32>,
    /// Let cross-cluster searches skip this remote when it is unavailable.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub skip_unavailable: Option<bool>,
    /// An API key of the remote cluster (stored, never shown back).
    #[arg(long, value_name = "KEY")]
    pub credentials: Option<String>,
    /// Set transient settings (lost on a full restart) instead of persistent ones.
    #[arg(long)]
    pub transient: bool,
}

/// `cluster.remote.<alias>.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RemoteMode {
    /// Connect to seed nodes and discover gateway nodes from them.
    Sniff,
    /// Connect to one address (a load balancer or proxy).
    Proxy,
}

impl RemoteMode {
    /// The setting's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sniff => "sniff",
            Self::Proxy => "proxy",
        }
    }
}

/// `ferryctl ccr ...`.
#[derive(Debug, Subcommand, PartialEq)]
pub enum CcrCommand {
    /// Create a follower index of a leader index on a remote cluster
    /// (`PUT /<follower>/_ccr/follow`); follow parameters go with `-p KEY=VALUE`.
    Follow {
        /// Name of the follower index to create.
        follower: String,
        /// Alias of the remote cluster that holds the leader.
        #[arg(long, value_name = "ALIAS", required_unless_present = "body")]
        remote: Option<String>,
        /// Name of the leader index.
        #[arg(long, value_name = "INDEX", required_unless_present = "body")]
        leader: Option<String>,
        /// A follower setting to override (non-replicated ones only), repeatable.
        #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = parse_param)]
        settings: Vec<(String, String)>,
        /// The follow JSON body: a file, or `-` for standard input; flags override it.
        #[arg(long, value_name = "FILE|-")]
        body: Option<String>,
    },
    /// Stop following, keeping the follower (`POST /<follower>/_ccr/pause_follow`).
    Pause {
        /// Name of the follower index.
        follower: String,
    },
    /// Follow again after a pause (`POST /<follower>/_ccr/resume_follow`); new follow
    /// parameters go with `-p KEY=VALUE`.
    Resume {
        /// Name of the follower index.
        follower: String,
        /// Follow parameters as a JSON body: a file, or `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        body: Option<String>,
    },
    /// Turn a paused, closed follower into a normal index (`POST /<follower>/_ccr/unfollow`).
    Unfollow {
        /// Name of the follower index.
        follower: String,
    },
    /// Pause, close, unfollow and reopen a follower in one call
    /// (`POST /<follower>/_ccr/promote`).
    Promote {
        /// Name of the follower index.
        follower: String,
    },
    /// On the leader cluster: drop a follower's retention leases
    /// (`POST /<leader>/_ccr/forget_follower`).
    ForgetFollower(ForgetFollower),
    /// What follower indices follow (`GET /<index>/_ccr/info`).
    Info {
        /// Index expression: a name, a comma list, wildcards or `_all`.
        index: String,
    },
    /// Follow statistics per shard (`GET /<index>/_ccr/stats`, or `GET /_ccr/stats`
    /// without an index).
    Stats {
        /// Index expression; absent means every follower and the auto-follow statistics.
        index: Option<String>,
    },
    /// Auto-follow patterns: follow new leader indices whose names match.
    #[command(subcommand)]
    AutoFollow(AutoFollowCommand),
}

/// `ferryctl ccr forget-follower`.
#[derive(Debug, clap::Args, PartialEq)]
pub struct ForgetFollower {
    /// Name of the leader index.
    pub leader: String,
    /// Name of the follower's cluster.
    #[arg(long, value_name = "NAME")]
    pub follower_cluster: String,
    /// Name of the follower index.
    #[arg(long, value_name = "INDEX")]
    pub follower_index: String,
    /// UUID of the follower index.
    #[arg(long, value_name = "UUID")]
    pub follower_index_uuid: String,
    /// Alias under which the follower's cluster knows this (leader) cluster.
    #[arg(long, value_name = "ALIAS")]
    pub leader_remote_cluster: String,
}

/// `ferryctl ccr auto-follow ...`.
#[derive(Debug, Subcommand, PartialEq)]
pub enum AutoFollowCommand {
    /// Create or replace a pattern (`PUT /_ccr/auto_follow/<name>`); follow parameters go
    /// with `-p KEY=VALUE`.
    Put {
        /// Name of the pattern.
        name: String,
        /// Alias of the remote cluster to watch.
        #[arg(long, value_name = "ALIAS", required_unless_present = "body")]
        remote: Option<String>,
        /// Leader index pattern to follow, repeatable.
        #[arg(
            long = "pattern",
            value_name = "PATTERN",
            required_unless_present = "body"
        )]
        patterns: Vec<String>,
        /// Leader index pattern to leave alone, repeatable.
        #[arg(long = "exclude", value_name = "PATTERN")]
        exclusions: Vec<String>,
        /// Name of each follower, `{{leader_index}}` standing for the leader's name.
        #[arg(long, value_name = "PATTERN")]
        follow_pattern: Option<String>,
        /// A follower setting to override (non-replicated ones only), repeatable.
        #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = parse_param)]
        settings: Vec<(String, String)>,
        /// The pattern JSON body: a file, or `-` for standard input; flags override it.
        #[arg(long, value_name = "FILE|-")]
        body: Option<String>,
    },
    /// Show one pattern, or all (`GET /_ccr/auto_follow[/<name>]`).
    Get {
        /// Name of the pattern; absent means every pattern.
        name: Option<String>,
    },
    /// Delete a pattern; its followers stay (`DELETE /_ccr/auto_follow/<name>`).
    Delete {
        /// Name of the pattern.
        name: String,
    },
    /// Stop a pattern from following new indices (`POST /_ccr/auto_follow/<name>/pause`).
    Pause {
        /// Name of the pattern.
        name: String,
    },
    /// Let a paused pattern follow new indices again (`POST /_ccr/auto_follow/<name>/resume`).
    Resume {
        /// Name of the pattern.
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("ferryctl").chain(args.iter().copied()))
            .expect("arguments parse")
            .command
    }

    fn refused(args: &[&str]) -> bool {
        Cli::try_parse_from(std::iter::once("ferryctl").chain(args.iter().copied())).is_err()
    }

    #[test]
    fn remote_set_takes_seeds_as_a_list_and_defaults_to_sniff() {
        let cmd = parse(&[
            "remote",
            "set",
            "leader",
            "--seeds",
            "a:9300,b:9300",
            "--seeds",
            "c:9300",
            "--skip-unavailable",
        ]);
        assert_eq!(
            cmd,
            Command::Remote(RemoteCommand::Set(RemoteSet {
                alias: "leader".into(),
                seeds: vec!["a:9300".into(), "b:9300".into(), "c:9300".into()],
                skip_unavailable: Some(true),
                ..RemoteSet::default()
            }))
        );
    }

    #[test]
    fn remote_set_proxy_mode_and_an_explicit_false() {
        let Command::Remote(RemoteCommand::Set(set)) = parse(&[
            "remote",
            "set",
            "lb",
            "--mode",
            "proxy",
            "--proxy-address",
            "lb:9400",
            "--skip-unavailable=false",
            "--transient",
        ]) else {
            panic!("not remote set")
        };
        assert_eq!(set.mode, Some(RemoteMode::Proxy));
        assert_eq!(set.proxy_address.as_deref(), Some("lb:9400"));
        assert_eq!(set.skip_unavailable, Some(false));
        assert!(set.transient && set.seeds.is_empty());
    }

    #[test]
    fn remote_set_refuses_flags_of_both_modes() {
        assert!(refused(&[
            "remote",
            "set",
            "x",
            "--seeds",
            "a:1",
            "--proxy-address",
            "b:2"
        ]));
        assert!(refused(&[
            "remote",
            "set",
            "x",
            "--node-connections",
            "2",
            "--server-name",
            "s"
        ]));
        assert!(refused(&["remote", "set", "x", "--mode", "tunnel"]));
    }

    #[test]
    fn remote_remove_and_list() {
        assert_eq!(
            parse(&["remote", "remove", "leader", "--transient"]),
            Command::Remote(RemoteCommand::Remove {
                alias: "leader".into(),
                transient: true
            })
        );
        assert_eq!(
            parse(&["remote", "list"]),
            Command::Remote(RemoteCommand::List)
        );
    }

    #[test]
    fn ccr_follow_needs_remote_and_leader_unless_a_body_is_given() {
        assert_eq!(
            parse(&[
                "ccr",
                "follow",
                "copy",
                "--remote",
                "leader",
                "--leader",
                "products",
                "--setting",
                "index.number_of_replicas=0",
            ]),
            Command::Ccr(CcrCommand::Follow {
                follower: "copy".into(),
                remote: Some("leader".into()),
                leader: Some("products".into()),
                settings: vec![("index.number_of_replicas".into(), "0".into())],
                body: None
            })
        );
        assert!(matches!(
            parse(&["ccr", "follow", "copy", "--body", "-"]),
            Command::Ccr(CcrCommand::Follow { remote: None, .. })
        ));
        assert!(refused(&["ccr", "follow", "copy", "--remote", "leader"]));
        assert!(refused(&[
            "ccr", "follow", "--remote", "r", "--leader", "l"
        ]));
    }

    #[test]
    fn ccr_index_commands() {
        assert_eq!(
            parse(&["ccr", "pause", "copy"]),
            Command::Ccr(CcrCommand::Pause {
                follower: "copy".into()
            })
        );
        assert_eq!(
            parse(&["ccr", "resume", "copy"]),
            Command::Ccr(CcrCommand::Resume {
                follower: "copy".into(),
                body: None
            })
        );
        assert_eq!(
            parse(&["ccr", "stats"]),
            Command::Ccr(CcrCommand::Stats { index: None })
        );
        assert_eq!(
            parse(&["ccr", "stats", "copy"]),
            Command::Ccr(CcrCommand::Stats {
                index: Some("copy".into())
            })
        );
        for sub in ["unfollow", "promote", "info", "pause", "resume"] {
            assert!(refused(&["ccr", sub]), "{sub} needs an index");
        }
    }

    #[test]
    fn forget_follower_needs_all_four_fields() {
        let full = [
            "ccr",
            "forget-follower",
            "products",
            "--follower-cluster",
            "japan",
            "--follower-index",
            "copy",
            "--follower-index-uuid",
            "u1",
            "--leader-remote-cluster",
            "leader",
        ];
        assert_eq!(
            parse(&full),
            Command::Ccr(CcrCommand::ForgetFollower(ForgetFollower {
                leader: "products".into(),
                follower_cluster: "japan".into(),
                follower_index: "copy".into(),
                follower_index_uuid: "u1".into(),
                leader_remote_cluster: "leader".into(),
            }))
        );
        assert!(refused(&full[..full.len() - 2]));
    }

    #[test]
    fn auto_follow_commands() {
        assert_eq!(
            parse(&[
                "ccr",
                "auto-follow",
                "put",
                "logs",
                "--remote",
                "leader",
                "--pattern",
                "logs-*",
                "--pattern",
                "metrics-*",
                "--exclude",
                "logs-tmp*",
                "--follow-pattern",
                "{{leader_index}}-copy",
            ]),
            Command::Ccr(CcrCommand::AutoFollow(AutoFollowCommand::Put {
                name: "logs".into(),
                remote: Some("leader".into()),
                patterns: vec!["logs-*".into(), "metrics-*".into()],
                exclusions: vec!["logs-tmp*".into()],
                follow_pattern: Some("{{leader_index}}-copy".into()),
                settings: Vec::new(),
                body: None,
            }))
        );
        assert!(refused(&[
            "ccr",
            "auto-follow",
            "put",
            "logs",
            "--remote",
            "r"
        ]));
        assert_eq!(
            parse(&["ccr", "auto-follow", "get"]),
            Command::Ccr(CcrCommand::AutoFollow(AutoFollowCommand::Get {
                name: None
            }))
        );
        for sub in ["delete", "pause", "resume"] {
            assert!(refused(&["ccr", "auto-follow", sub]), "{sub} needs a name");
            assert!(matches!(
                parse(&["ccr", "auto-follow", sub, "logs"]),
                Command::Ccr(CcrCommand::AutoFollow(_))
            ));
        }
    }
}
