//! Plans the `remote ...` and `ccr ...` commands: one admin rpc each, with its body built
//! by `body::ccr` and the view its answer is shown in.
//!
//! No network and no printing here; rpcs whose request carries no query parameters drop
//! `-p` values other than follow parameters, as `info` does.

use std::collections::HashMap;

use ferry_proto::v1 as pb;

use super::{Rpc, View};
use crate::body::Source;
use crate::body::ccr::{
    AutoFollowFields, auto_follow_body, follow_body, forget_follower_body, remote_remove_body,
    remote_set_body, resume_body, split_follow_parameters,
};
use crate::cli::{AutoFollowCommand, CcrCommand, RemoteCommand};

/// The rpc and view of a `remote ...` command.
pub fn plan_remote(
    command: &RemoteCommand,
    params: HashMap<String, String>,
) -> anyhow::Result<(Rpc, View)> {
    Ok(match command {
        RemoteCommand::Set(set) => (
            Rpc::PutClusterSettings(pb::PutClusterSettingsRequest {
                params,
                body: remote_set_body(set)?.into(),
            }),
            View::Json,
        ),
        RemoteCommand::Remove { alias, transient } => (
            Rpc::PutClusterSettings(pb::PutClusterSettingsRequest {
                params,
                body: remote_remove_body(alias, *transient)?.into(),
            }),
            View::Json,
        ),
        RemoteCommand::List => (Rpc::RemoteInfo(pb::RemoteInfoRequest {}), View::RemoteList),
    })
}

/// The rpc and view of a `ccr ...` command.
pub fn plan_ccr(
    command: &CcrCommand,
    params: HashMap<String, String>,
) -> anyhow::Result<(Rpc, View)> {
    Ok(match command {
        CcrCommand::Follow {
            follower,
            remote,
            leader,
            settings,
            body,
        } => {
            let (params, follow) = split_follow_parameters(params);
            let input = read_file_arg(body.as_deref())?;
            let body = follow_body(
                input,
                remote.as_deref(),
                leader.as_deref(),
                settings,
                follow,
            )?;
            let req = pb::PutFollowRequest {
                index: follower.clone(),
                params,
                body: body.into(),
            };
            (Rpc::PutFollow(req), View::Json)
        }
        CcrCommand::Pause { follower } => (
            Rpc::PauseFollow(pb::PauseFollowRequest {
                index: follower.clone(),
            }),
            View::Json,
        ),
        CcrCommand::Resume { follower, body } => {
            let (_, follow) = split_follow_parameters(params);
            let body = resume_body(read_file_arg(body.as_deref())?, follow)?;
            let req = pb::ResumeFollowRequest {
                index: follower.clone(),
                body: body.into(),
            };
            (Rpc::ResumeFollow(req), View::Json)
        }
        CcrCommand::Unfollow { follower } => (
            Rpc::Unfollow(pb::UnfollowRequest {
                index: follower.clone(),
            }),
            View::Json,
        ),
        CcrCommand::Promote { follower } => (
            Rpc::PromoteFollower(pb::PromoteFollowerRequest {
                index: follower.clone(),
            }),
            View::Json,
        ),
        CcrCommand::ForgetFollower(f) => (
            Rpc::ForgetFollower(pb::ForgetFollowerRequest {
                index: f.leader.clone(),
                params,
                body: forget_follower_body(f)?.into(),
            }),
            View::Json,
        ),
        CcrCommand::Info { index: expr } => (
            Rpc::FollowInfo(pb::FollowInfoRequest {
                index: expr.clone(),
                params,
            }),
            View::FollowInfo,
        ),
        CcrCommand::Stats { index: Some(expr) } => (
            Rpc::FollowStats(pb::FollowStatsRequest {
                index: expr.clone(),
                params,
            }),
            View::FollowStats,
        ),
        CcrCommand::Stats { index: None } => (
            Rpc::CcrStats(pb::CcrStatsRequest { params }),
            View::FollowStats,
        ),
        CcrCommand::AutoFollow(cmd) => plan_auto_follow(cmd, params)?,
    })
}

fn plan_auto_follow(
    command: &AutoFollowCommand,
    params: HashMap<String, String>,
) -> anyhow::Result<(Rpc, View)> {
    Ok(match command {
        AutoFollowCommand::Put {
            name,
            remote,
            patterns,
            exclusions,
            follow_pattern,
            settings,
            body,
        } => {
            let (_, follow) = split_follow_parameters(params);
            let fields = AutoFollowFields {
                remote: remote.as_deref(),
                patterns,
                exclusions,
                follow_pattern: follow_pattern.as_deref(),
                settings,
            };
            let body = auto_follow_body(read_file_arg(body.as_deref())?, &fields, follow)?;
            let req = pb::PutAutoFollowPatternRequest {
                name: name.clone(),
                body: body.into(),
            };
            (Rpc::PutAutoFollowPattern(req), View::Json)
        }
        AutoFollowCommand::Get { name } => (
            Rpc::GetAutoFollowPattern(pb::GetAutoFollowPatternRequest { name: name.clone() }),
            View::AutoFollow,
        ),
        AutoFollowCommand::Delete { name } => (
            Rpc::DeleteAutoFollowPattern(pb::DeleteAutoFollowPatternRequest { name: name.clone() }),
            View::Json,
        ),
        AutoFollowCommand::Pause { name } => (
            Rpc::PauseAutoFollowPattern(pb::PauseAutoFollowPatternRequest { name: name.clone() }),
            View::Json,
        ),
        AutoFollowCommand::Resume { name } => (
            Rpc::ResumeAutoFollowPattern(pb::ResumeAutoFollowPatternRequest { name: name.clone() }),
            View::Json,
        ),
    })
}

/// The bytes of a `--body FILE|-` argument, when given.
fn read_file_arg(arg: Option<&str>) -> anyhow::Result<Option<Vec<u8>>> {
    arg.map(|a| Source::file_arg(a).read()).transpose()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::cli::{ForgetFollower, RemoteSet};

    fn json_of(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("body is JSON")
    }

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn follow_moves_follow_parameters_into_the_body() {
        let cmd = CcrCommand::Follow {
            follower: "copy".into(),
            remote: Some("leader".into()),
            leader: Some("products".into()),
            settings: Vec::new(),
            body: None,
        };
        let p = params(&[
            ("wait_for_active_shards", "1"),
            ("max_outstanding_read_requests", "3"),
        ]);
        let (rpc, view) = plan_ccr(&cmd, p).expect("plans");
        assert_eq!(view, View::Json);
        let Rpc::PutFollow(req) = rpc else {
            panic!("wrong rpc: {rpc:?}")
        };
        assert_eq!(req.index, "copy");
        assert_eq!(req.params, params(&[("wait_for_active_shards", "1")]));
        assert_eq!(
            json_of(&req.body),
            json!({"remote_cluster": "leader", "leader_index": "products",
                   "max_outstanding_read_requests": 3})
        );
    }

    #[test]
    fn resume_without_parameters_sends_no_body() {
        let cmd = CcrCommand::Resume {
            follower: "copy".into(),
            body: None,
        };
        let (rpc, _) = plan_ccr(&cmd, HashMap::new()).expect("plans");
        assert_eq!(
            rpc,
            Rpc::ResumeFollow(pb::ResumeFollowRequest {
                index: "copy".into(),
                body: Default::default()
            })
        );
        let (rpc, _) = plan_ccr(&cmd, params(&[("read_poll_timeout", "5s")])).expect("plans");
        let Rpc::ResumeFollow(req) = rpc else {
            panic!("wrong rpc")
        };
        assert_eq!(json_of(&req.body), json!({"read_poll_timeout": "5s"}));
    }

    #[test]
    fn stats_with_and_without_an_index() {
        let (rpc, view) = plan_ccr(
            &CcrCommand::Stats { index: None },
            params(&[("timeout", "5s")]),
        )
        .expect("plans");
        assert_eq!(view, View::FollowStats);
        assert_eq!(
            rpc,
            Rpc::CcrStats(pb::CcrStatsRequest {
                params: params(&[("timeout", "5s")])
            })
        );
        let (rpc, view) = plan_ccr(
            &CcrCommand::Stats {
                index: Some("copy".into()),
            },
            HashMap::new(),
        )
        .expect("plans");
        assert_eq!(view, View::FollowStats);
        assert!(matches!(rpc, Rpc::FollowStats(r) if r.index == "copy"));
    }

    #[test]
    fn one_rpc_per_follower_call() {
        let follower = || "copy".to_owned();
        let cases = [
            (
                CcrCommand::Pause {
                    follower: follower(),
                },
                "PauseFollow",
            ),
            (
                CcrCommand::Unfollow {
                    follower: follower(),
                },
                "Unfollow",
            ),
            (
                CcrCommand::Promote {
                    follower: follower(),
                },
                "PromoteFollower",
            ),
            (CcrCommand::Info { index: follower() }, "FollowInfo"),
        ];
        for (cmd, name) in cases {
            let (rpc, _) = plan_ccr(&cmd, HashMap::new()).expect("plans");
            assert!(format!("{rpc:?}").starts_with(name), "{cmd:?} -> {rpc:?}");
        }
    }

    #[test]
    fn forget_follower_targets_the_leader_index() {
        let cmd = CcrCommand::ForgetFollower(ForgetFollower {
            leader: "products".into(),
            follower_cluster: "japan".into(),
            follower_index: "copy".into(),
            follower_index_uuid: "u".into(),
            leader_remote_cluster: "leader".into(),
        });
        let (rpc, _) = plan_ccr(&cmd, params(&[("timeout", "1m")])).expect("plans");
        let Rpc::ForgetFollower(req) = rpc else {
            panic!("wrong rpc")
        };
        assert_eq!(req.index, "products");
        assert_eq!(req.params, params(&[("timeout", "1m")]));
        assert_eq!(json_of(&req.body)["follower_index"], json!("copy"));
    }

    #[test]
    fn auto_follow_calls_carry_the_pattern_name() {
        let put = AutoFollowCommand::Put {
            name: "logs".into(),
            remote: Some("leader".into()),
            patterns: vec!["logs-*".into()],
            exclusions: Vec::new(),
            follow_pattern: None,
            settings: Vec::new(),
            body: None,
        };
        let (rpc, _) = plan_ccr(
            &CcrCommand::AutoFollow(put),
            params(&[("max_write_buffer_size", "1gb")]),
        )
        .expect("plans");
        let Rpc::PutAutoFollowPattern(req) = rpc else {
            panic!("wrong rpc")
        };
        assert_eq!(req.name, "logs");
        assert_eq!(
            json_of(&req.body),
            json!({"remote_cluster": "leader", "leader_index_patterns": ["logs-*"],
                   "max_write_buffer_size": "1gb"})
        );
        let (rpc, view) = plan_ccr(
            &CcrCommand::AutoFollow(AutoFollowCommand::Get { name: None }),
            HashMap::new(),
        )
        .expect("plans");
        assert_eq!(view, View::AutoFollow);
        assert_eq!(
            rpc,
            Rpc::GetAutoFollowPattern(pb::GetAutoFollowPatternRequest { name: None })
        );
        let name = || "logs".to_owned();
        for (cmd, rpc_name) in [
            (
                AutoFollowCommand::Delete { name: name() },
                "DeleteAutoFollowPattern",
            ),
            (
                AutoFollowCommand::Pause { name: name() },
                "PauseAutoFollowPattern",
            ),
            (
                AutoFollowCommand::Resume { name: name() },
                "ResumeAutoFollowPattern",
            ),
        ] {
            let (rpc, _) = plan_ccr(&CcrCommand::AutoFollow(cmd), HashMap::new()).expect("plans");
            assert!(format!("{rpc:?}").starts_with(rpc_name), "{rpc:?}");
            assert!(format!("{rpc:?}").contains("\"logs\""), "{rpc:?}");
        }
    }

    #[test]
    fn remote_commands_are_cluster_settings_and_remote_info() {
        let set = RemoteCommand::Set(RemoteSet {
            alias: "leader".into(),
            seeds: vec!["127.0.0.1:9300".into()],
            ..RemoteSet::default()
        });
        let (rpc, view) = plan_remote(&set, HashMap::new()).expect("plans");
        assert_eq!(view, View::Json);
        let Rpc::PutClusterSettings(req) = rpc else {
            panic!("wrong rpc")
        };
        assert_eq!(
            json_of(&req.body)["persistent"]["cluster.remote.leader.seeds"],
            json!(["127.0.0.1:9300"])
        );
        let (rpc, view) = plan_remote(&RemoteCommand::List, HashMap::new()).expect("plans");
        assert_eq!(
            (rpc, view),
            (Rpc::RemoteInfo(pb::RemoteInfoRequest {}), View::RemoteList)
        );
    }

    #[test]
    fn an_unreadable_body_file_fails_before_any_call() {
        let cmd = CcrCommand::Follow {
            follower: "copy".into(),
            remote: None,
            leader: None,
            settings: Vec::new(),
            body: Some("/nonexistent/follow.json".into()),
        };
        assert!(plan_ccr(&cmd, HashMap::new()).is_err());
    }
}
