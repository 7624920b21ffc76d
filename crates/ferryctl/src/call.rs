//! From a parsed command to one admin rpc, and from the rpc to its answer.
//!
//! [`plan`] reads the command's input and builds the request (no network; the remote and
//! CCR commands are planned in `ccr`); [`execute`] sends it. Neither prints anything:
//! rendering is in `render`.

mod ccr;

use std::collections::HashMap;

use bytes::Bytes;
use ferry_proto::v1 as pb;
use ferry_proto::v1::admin_client::AdminClient;
use tonic::Status;
use tonic::transport::Channel;

use crate::body::{Source, create_index_body, search_body};
use crate::cli::{Command, DocCommand, IndexCommand};

/// How an answer is best shown as a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Cluster health: one field per line.
    Health,
    /// `_cat/indices` rows.
    IndexList,
    /// Search hits.
    Search,
    /// Bulk summary and failed items.
    Bulk,
    /// `_remote/info`: one row per remote cluster.
    RemoteList,
    /// `_ccr/info`: one row per follower index.
    FollowInfo,
    /// `_ccr/stats` (of indices or the cluster): one row per follower shard.
    FollowStats,
    /// Auto-follow patterns: one row per pattern.
    AutoFollow,
    /// No table: the JSON body.
    Json,
}

/// One admin rpc, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Rpc {
    Health(pb::HealthRequest),
    ClusterInfo(pb::ClusterInfoRequest),
    CreateIndex(pb::CreateIndexRequest),
    DeleteIndex(pb::DeleteIndexRequest),
    GetIndex(pb::GetIndexRequest),
    ListIndices(pb::ListIndicesRequest),
    PutDocument(pb::PutDocumentRequest),
    GetDocument(pb::GetDocumentRequest),
    DeleteDocument(pb::DeleteDocumentRequest),
    Bulk(pb::BulkRequest),
    Search(pb::SearchRequest),
    PutClusterSettings(pb::PutClusterSettingsRequest),
    RemoteInfo(pb::RemoteInfoRequest),
    PutFollow(pb::PutFollowRequest),
    PauseFollow(pb::PauseFollowRequest),
    ResumeFollow(pb::ResumeFollowRequest),
    Unfollow(pb::UnfollowRequest),
    PromoteFollower(pb::PromoteFollowerRequest),
    ForgetFollower(pb::ForgetFollowerRequest),
    FollowInfo(pb::FollowInfoRequest),
    FollowStats(pb::FollowStatsRequest),
    CcrStats(pb::CcrStatsRequest),
    PutAutoFollowPattern(pb::PutAutoFollowPatternRequest),
    GetAutoFollowPattern(pb::GetAutoFollowPatternRequest),
    DeleteAutoFollowPattern(pb::DeleteAutoFollowPatternRequest),
    PauseAutoFollowPattern(pb::PauseAutoFollowPatternRequest),
    ResumeAutoFollowPattern(pb::ResumeAutoFollowPatternRequest),
}

/// A planned call: the rpc and how to show its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The request.
    pub rpc: Rpc,
    /// The table view of the answer.
    pub view: View,
}

/// What the server answered: HTTP-equivalent status and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP-equivalent status.
    pub status: u32,
    /// The Elasticsearch JSON body.
    pub body: Bytes,
}

/// Builds the rpc for `command`, reading any file or standard input it names.
pub fn plan(command: &Command, params: HashMap<String, String>) -> anyhow::Result<Call> {
    let (rpc, view) = match command {
        Command::Health { index } => (
            Rpc::Health(pb::HealthRequest {
                index: index.clone(),
                params,
            }),
            View::Health,
        ),
        Command::Info => (Rpc::ClusterInfo(pb::ClusterInfoRequest {}), View::Json),
        Command::Index(IndexCommand::Create {
            name,
            shards,
            replicas,
            body,
        }) => {
            let input = body
                .as_deref()
                .map(|b| Source::file_arg(b).read())
                .transpose()?;
            let body = create_index_body(input, *shards, *replicas)?;
            let req = pb::CreateIndexRequest {
                index: name.clone(),
                params,
                body: body.into(),
            };
            (Rpc::CreateIndex(req), View::Json)
        }
        Command::Index(IndexCommand::Delete { name }) => (
            Rpc::DeleteIndex(pb::DeleteIndexRequest {
                index: name.clone(),
                params,
            }),
            View::Json,
        ),
        Command::Index(IndexCommand::Get { name }) => (
            Rpc::GetIndex(pb::GetIndexRequest {
                index: name.clone(),
                params,
            }),
            View::Json,
        ),
        Command::Index(IndexCommand::List) => (
            Rpc::ListIndices(pb::ListIndicesRequest { params }),
            View::IndexList,
        ),
        Command::Doc(DocCommand::Put { index, args }) => {
            let (id, doc) = match args.as_slice() {
                [doc] => (None, doc),
                [id, doc] => (Some(id.clone()), doc),
                _ => anyhow::bail!("doc put takes [ID] DOC"),
            };
            let body = Source::json_arg(doc).read()?;
            let req = pb::PutDocumentRequest {
                index: index.clone(),
                id,
                params,
                body: body.into(),
            };
            (Rpc::PutDocument(req), View::Json)
        }
        Command::Doc(DocCommand::Get { index, id }) => {
            let req = pb::GetDocumentRequest {
                index: index.clone(),
                id: id.clone(),
                params,
            };
            (Rpc::GetDocument(req), View::Json)
        }
        Command::Doc(DocCommand::Delete { index, id }) => {
            let req = pb::DeleteDocumentRequest {
                index: index.clone(),
                id: id.clone(),
                params,
            };
            (Rpc::DeleteDocument(req), View::Json)
        }
        Command::Bulk { file, index } => {
            let body = Source::file_arg(file).read()?;
            (
                Rpc::Bulk(pb::BulkRequest {
                    index: index.clone(),
                    params,
                    body: body.into(),
                }),
                View::Bulk,
            )
        }
        Command::Search {
            index,
            query,
            size,
            from,
        } => {
            let input = query
                .as_deref()
                .map(|q| Source::json_arg(q).read())
                .transpose()?;
            let body = search_body(input.as_deref(), *size, *from)?;
            let req = pb::SearchRequest {
                index: Some(index.clone()),
                params,
                body: body.into(),
            };
            (Rpc::Search(req), View::Search)
        }
        Command::Remote(cmd) => ccr::plan_remote(cmd, params)?,
        Command::Ccr(cmd) => ccr::plan_ccr(cmd, params)?,
    };
    Ok(Call { rpc, view })
}

/// Sends `rpc` and returns the answer, or the gRPC status the server (or the channel)
/// failed it with.
pub async fn execute(client: &mut AdminClient<Channel>, rpc: Rpc) -> Result<Reply, Status> {
    macro_rules! send {
        ($method:ident, $req:expr) => {{
            let resp = client.$method($req).await?.into_inner();
            Reply {
                status: resp.status,
                body: resp.body,
            }
        }};
    }
    Ok(match rpc {
        Rpc::Health(r) => send!(health, r),
        Rpc::ClusterInfo(r) => send!(cluster_info, r),
        Rpc::CreateIndex(r) => send!(create_index, r),
        Rpc::DeleteIndex(r) => send!(delete_index, r),
        Rpc::GetIndex(r) => send!(get_index, r),
        Rpc::ListIndices(r) => send!(list_indices, r),
        Rpc::PutDocument(r) => send!(put_document, r),
        Rpc::GetDocument(r) => send!(get_document, r),
        Rpc::DeleteDocument(r) => send!(delete_document, r),
        Rpc::Bulk(r) => send!(bulk, r),
        Rpc::Search(r) => send!(search, r),
        Rpc::PutClusterSettings(r) => send!(put_cluster_settings, r),
        Rpc::RemoteInfo(r) => send!(remote_info, r),
        Rpc::PutFollow(r) => send!(put_follow, r),
        Rpc::PauseFollow(r) => send!(pause_follow, r),
        Rpc::ResumeFollow(r) => send!(resume_follow, r),
        Rpc::Unfollow(r) => send!(unfollow, r),
        Rpc::PromoteFollower(r) => send!(promote_follower, r),
        Rpc::ForgetFollower(r) => send!(forget_follower, r),
        Rpc::FollowInfo(r) => send!(follow_info, r),
        Rpc::FollowStats(r) => send!(follow_stats, r),
        Rpc::CcrStats(r) => send!(ccr_stats, r),
        Rpc::PutAutoFollowPattern(r) => send!(put_auto_follow_pattern, r),
        Rpc::GetAutoFollowPattern(r) => send!(get_auto_follow_pattern, r),
        Rpc::DeleteAutoFollowPattern(r) => send!(delete_auto_follow_pattern, r),
        Rpc::PauseAutoFollowPattern(r) => send!(pause_auto_follow_pattern, r),
        Rpc::ResumeAutoFollowPattern(r) => send!(resume_auto_follow_pattern, r),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn params() -> HashMap<String, String> {
        HashMap::from([("refresh".to_owned(), "true".to_owned())])
    }

    #[test]
    fn doc_put_without_id_lets_the_server_choose() {
        let cmd = Command::Doc(DocCommand::Put {
            index: "logs".into(),
            args: vec![r#"{"a":1}"#.into()],
        });
        let call = plan(&cmd, params()).expect("plans");
        let Rpc::PutDocument(req) = call.rpc else {
            panic!("wrong rpc: {:?}", call.rpc)
        };
        assert_eq!(req.id, None);
        assert_eq!(req.body.as_ref(), br#"{"a":1}"#);
        assert_eq!(req.params, params());
    }

    #[test]
    fn doc_put_with_id() {
        let cmd = Command::Doc(DocCommand::Put {
            index: "logs".into(),
            args: vec!["7".into(), "{}".into()],
        });
        let Rpc::PutDocument(req) = plan(&cmd, HashMap::new()).expect("plans").rpc else {
            panic!("wrong rpc")
        };
        assert_eq!(req.id.as_deref(), Some("7"));
    }

    #[test]
    fn search_wraps_a_bare_query_and_targets_the_index() {
        let cmd = Command::Search {
            index: "logs".into(),
            query: Some(r#"{"term":{"a":1}}"#.into()),
            size: None,
            from: None,
        };
        let call = plan(&cmd, HashMap::new()).expect("plans");
        assert_eq!(call.view, View::Search);
        let Rpc::Search(req) = call.rpc else {
            panic!("wrong rpc")
        };
        assert_eq!(req.index.as_deref(), Some("logs"));
        let body: Value = serde_json::from_slice(&req.body).expect("json body");
        assert_eq!(body, json!({"query": {"term": {"a": 1}}}));
    }

    #[test]
    fn index_create_with_flags_builds_settings() {
        let cmd = Command::Index(IndexCommand::Create {
            name: "logs".into(),
            shards: Some(2),
            replicas: None,
            body: None,
        });
        let Rpc::CreateIndex(req) = plan(&cmd, HashMap::new()).expect("plans").rpc else {
            panic!("wrong rpc")
        };
        let body: Value = serde_json::from_slice(&req.body).expect("json body");
        assert_eq!(body, json!({"settings": {"number_of_shards": 2}}));
    }

    #[test]
    fn plain_commands_map_to_their_rpcs() {
        let list = plan(&Command::Index(IndexCommand::List), HashMap::new()).expect("plans");
        assert_eq!(
            list.rpc,
            Rpc::ListIndices(pb::ListIndicesRequest {
                params: HashMap::new()
            })
        );
        assert_eq!(list.view, View::IndexList);
        let health = plan(&Command::Health { index: None }, HashMap::new()).expect("plans");
        assert_eq!(health.view, View::Health);
        let del = plan(
            &Command::Doc(DocCommand::Delete {
                index: "i".into(),
                id: "1".into(),
            }),
            HashMap::new(),
        );
        assert!(
            matches!(del.expect("plans").rpc, Rpc::DeleteDocument(r) if r.index == "i" && r.id == "1")
        );
    }

    #[test]
    fn unreadable_input_fails_before_any_call() {
        let cmd = Command::Bulk {
            file: "/nonexistent/bulk.ndjson".into(),
            index: None,
        };
        assert!(plan(&cmd, HashMap::new()).is_err());
    }
}
