//! Calls the [`Node`] method behind each routed action.
//!
//! This is the only place that knows which node method answers which route; it adds
//! nothing of its own beyond fixed parameters (`_create` means `op_type=create`).

use bytes::Bytes;

use super::routes::{Action, PathParams};
use crate::error::ApiError;
use crate::node::{ApiResponse, BulkResponse, CatOutput, Node};
use crate::params::Params;

/// What an action answered.
#[derive(Debug)]
pub enum Reply {
    /// A JSON body with a status.
    Json(ApiResponse),
    /// `_bulk`'s typed answer (serialized without a JSON tree).
    Bulk(BulkResponse),
    /// A `_cat` table, rendered.
    Cat(CatOutput),
}

/// `GET /_cat`.
const CAT_HELP: &str = "=^.^=\n/_cat/shards\n/_cat/shards/{index}\n/_cat/nodes\n/_cat/indices\n/_cat/indices/{index}\n/_cat/count\n/_cat/count/{index}\n/_cat/health\n";

fn need<'a>(v: Option<&'a str>, what: &str) -> Result<&'a str, ApiError> {
    v.ok_or_else(|| ApiError::illegal_argument(format!("{what} is missing")))
}

/// Runs `action`.
pub async fn call(
    node: &Node,
    action: Action,
    pp: PathParams,
    params: &Params,
    body: Bytes,
) -> Result<Reply, ApiError> {
    let index = pp.index.as_deref();
    let id = pp.id.as_deref();
    let r = match action {
        Action::Info => node.info().await,
        Action::Health => node.cluster_health(index, params).await,
        Action::Refresh => node.refresh(index, params).await,
        Action::ForceMerge => node.force_merge(index, params).await,
        Action::GetMapping => node.get_mapping(index, params).await,
        Action::PutMapping => node.put_mapping(need(index, "index")?, body, params).await,
        Action::GetSettings => node.get_settings(index, pp.name.as_deref(), params).await,
        Action::PutSettings => node.put_settings(index, body, params).await,
        Action::Close => node.close_index(need(index, "index")?, params).await,
        Action::Open => node.open_index(need(index, "index")?, params).await,
        Action::CreateIndex => node.create_index(need(index, "index")?, body, params).await,
        Action::DeleteIndex => node.delete_index(need(index, "index")?, params).await,
        Action::GetIndex => node.get_index(need(index, "index")?, params).await,
        Action::IndexExists => node.index_exists(need(index, "index")?, params).await,
        Action::IndexDocAuto => {
            node.index_doc(need(index, "index")?, None, body, params)
                .await
        }
        Action::IndexDoc => {
            node.index_doc(need(index, "index")?, Some(need(id, "id")?), body, params)
                .await
        }
        Action::CreateDoc => {
            let mut p = params.clone();
            p.0.insert("op_type".into(), "create".into());
            node.index_doc(need(index, "index")?, Some(need(id, "id")?), body, &p)
                .await
        }
        Action::GetDoc => {
            node.get_doc(need(index, "index")?, need(id, "id")?, params)
                .await
        }
        Action::DeleteDoc => {
            node.delete_doc(need(index, "index")?, need(id, "id")?, params)
                .await
        }
        Action::UpdateDoc => {
            node.update_doc(need(index, "index")?, need(id, "id")?, body, params)
                .await
        }
        Action::GetSource => {
            node.get_source(need(index, "index")?, need(id, "id")?, params)
                .await
        }
        Action::Mget => node.mget(index, body, params).await,
        Action::Bulk => return Ok(Reply::Bulk(node.bulk_typed(index, body, params).await?)),
        Action::Search => node.search(index, body, params).await,
        Action::Count => node.count(index, body, params).await,
        Action::GetClusterSettings => node.get_cluster_settings(params).await,
        Action::PutClusterSettings => node.put_cluster_settings(body, params).await,
        Action::RemoteInfo => node.remote_info().await,
        Action::PutFollow => node.put_follow(need(index, "index")?, body, params).await,
        Action::PauseFollow => node.pause_follow(need(index, "index")?).await,
        Action::ResumeFollow => node.resume_follow(need(index, "index")?, body).await,
        Action::FollowStats => node.follow_stats(need(index, "index")?, params).await,
        Action::Unfollow => node.unfollow(need(index, "index")?).await,
        Action::Promote => node.promote(need(index, "index")?).await,
        Action::ForgetFollower => {
            node.forget_follower(need(index, "index")?, body, params)
                .await
        }
        Action::FollowInfo => node.follow_info(need(index, "index")?, params).await,
        Action::CcrStats => node.ccr_stats(params).await,
        Action::PutAutoFollow => {
            node.put_auto_follow(need(pp.name.as_deref(), "name")?, body)
                .await
        }
        Action::GetAutoFollow => node.get_auto_follow(pp.name.as_deref()).await,
        Action::DeleteAutoFollow => {
            node.delete_auto_follow(need(pp.name.as_deref(), "name")?)
                .await
        }
        Action::PauseAutoFollow => {
            node.set_auto_follow_active(need(pp.name.as_deref(), "name")?, false)
                .await
        }
        Action::ResumeAutoFollow => {
            node.set_auto_follow_active(need(pp.name.as_deref(), "name")?, true)
                .await
        }
        Action::CatHelp => return Ok(Reply::Cat(CatOutput::Text(CAT_HELP.to_owned()))),
        Action::Cat(kind) => {
            return Ok(Reply::Cat(
                node.cat(kind, index, params).await?.render(params)?,
            ));
        }
    };
    r.map(Reply::Json)
}
