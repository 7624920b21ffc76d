//! Helpers of the cross-cluster replication tests: a node per cluster, a remote alias
//! connected and waited for, and the exact document state of an index (`_seq_no`,
//! `_version`, `_source` per id) to compare a follower with its leader.
//!
//! Deliberately not here: any expectation of a particular test (they assert themselves).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{Http, TestNode, wait_until};

/// A hang guard for replication to converge; never a speed check.
pub const CCR_WAIT: Duration = Duration::from_secs(120);

/// `(seq_no, version, source)` of one document.
pub type DocState = (i64, i64, Value);

/// Starts one single-node cluster named `cluster`.
pub async fn cluster_node(cluster: &str) -> Result<TestNode> {
    crate::install_crypto_provider();
    TestNode::builder()
        .arg("--cluster-name")
        .arg(cluster)
        .start()
        .await
}

/// Defines remote `alias` on `follower` pointing at `leader`'s transport port
/// (persistent) and waits until it is connected.
pub async fn add_remote(follower: &Http, alias: &str, leader: &TestNode) -> Result<()> {
    let seed = format!("127.0.0.1:{}", leader.transport_port());
    let r = follower
        .put(
            "/_cluster/settings",
            &json!({"persistent": {"cluster": {"remote": {alias: {"seeds": [seed]}}}}}),
        )
        .await?;
    if r.status != 200 {
        bail!("defining remote [{alias}] failed: {r}");
    }
    wait_until(CCR_WAIT, "remote connected", || async {
        match follower.get("/_remote/info").await {
            Ok(r) => r.body[alias]["connected"] == json!(true),
            Err(_) => false,
        }
    })
    .await
}

/// Every id of `index` (sorted), paging a match_all sorted on the keyword field `k`,
/// which the tests' documents carry with their id.
pub async fn ids(http: &Http, index: &str) -> Result<Vec<String>> {
    http.post_empty(&format!("/{index}/_refresh")).await?;
    let mut out = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let mut body = json!({"size": 1000, "sort": [{"k": "asc"}], "_source": false,
            "query": {"match_all": {}}});
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let r = http.post(&format!("/{index}/_search"), &body).await?;
        if r.status != 200 {
            bail!("paging {index} failed: {r}");
        }
        let hits = r.body["hits"]["hits"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if hits.is_empty() {
            return Ok(out);
        }
        for h in &hits {
            out.push(h["_id"].as_str().context("hit without _id")?.to_owned());
        }
        after = hits.last().map(|h| h["sort"].clone());
    }
}

/// The state of `ids` in `index` by `_mget` (1,000 at a time); absent ids are `None`.
pub async fn states(
    http: &Http,
    index: &str,
    ids: &[String],
) -> Result<BTreeMap<String, Option<DocState>>> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(1000) {
        let r = http
            .post(&format!("/{index}/_mget"), &json!({ "ids": chunk }))
            .await?;
        if r.status != 200 {
            bail!("mget on {index} failed: {r}");
        }
        for d in r.body["docs"].as_array().context("mget without docs")? {
            let id = d["_id"]
                .as_str()
                .context("mget doc without _id")?
                .to_owned();
            let state = (d["found"] == json!(true)).then(|| {
                (
                    d["_seq_no"].as_i64().unwrap_or(-2),
                    d["_version"].as_i64().unwrap_or(-2),
                    d["_source"].clone(),
                )
            });
            out.insert(id, state);
        }
    }
    Ok(out)
}

/// Whether `follower` holds exactly `leader`'s documents (ids, `_seq_no`, `_version`,
/// `_source`); on a difference, a description of the first few.
pub async fn same_documents(
    leader: &Http,
    leader_index: &str,
    follower: &Http,
    follower_index: &str,
) -> Result<Option<String>> {
    let leader_ids = ids(leader, leader_index).await?;
    let follower_ids = ids(follower, follower_index).await?;
    if leader_ids != follower_ids {
        let missing: Vec<_> = leader_ids
            .iter()
            .filter(|i| follower_ids.binary_search(i).is_err())
            .take(5)
            .collect();
        let extra: Vec<_> = follower_ids
            .iter()
            .filter(|i| leader_ids.binary_search(i).is_err())
            .take(5)
            .collect();
        return Ok(Some(format!(
            "ids differ: leader {} follower {}; missing {missing:?} extra {extra:?}",
            leader_ids.len(),
            follower_ids.len()
        )));
    }
    let a = states(leader, leader_index, &leader_ids).await?;
    let b = states(follower, follower_index, &leader_ids).await?;
    let diffs: Vec<String> = a
        .iter()
        .filter(|(id, s)| b.get(*id) != Some(s))
        .take(5)
        .map(|(id, s)| format!("{id}: leader {s:?} follower {:?}", b.get(id)))
        .collect();
    Ok((!diffs.is_empty()).then(|| diffs.join("; ")))
}

/// Waits until [`same_documents`] finds no difference; fails with the last one.
pub async fn converge(
    leader: &Http,
    leader_index: &str,
    follower: &Http,
    follower_index: &str,
) -> Result<()> {
    let last = std::sync::Mutex::new(String::new());
    let note = |d: String| {
        *last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = d;
    };
    let ok = wait_until(CCR_WAIT, "follower matches leader", || async {
        match same_documents(leader, leader_index, follower, follower_index).await {
            Ok(None) => true,
            Ok(Some(d)) => {
                note(d);
                false
            }
            Err(e) => {
                note(e.to_string());
                false
            }
        }
    })
    .await;
    let last = last
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    ok.with_context(|| format!("last difference: {last}"))
}

/// `n` bulk index actions for ids `{prefix}{from..from+n}` with `k` = id and `n` = i.
pub fn bulk_lines(prefix: &str, from: usize, n: usize) -> Vec<Value> {
    (from..from + n)
        .flat_map(|i| {
            let id = format!("{prefix}{i:06}");
            [
                json!({"index": {"_id": id}}),
                json!({"k": id, "n": i, "text": format!("document number {i}")}),
            ]
        })
        .collect()
}

/// Sends `lines` to `path` and fails unless every item succeeded.
pub async fn bulk_ok(http: &Http, path: &str, lines: &[Value]) -> Result<()> {
    let r = http.bulk(path, lines).await?;
    if r.status != 200 || r.body["errors"] != json!(false) {
        bail!("bulk failed: {}", &r.text[..r.text.len().min(2000)]);
    }
    Ok(())
}

/// The first shard stats entry of follower `index`, from `GET /<index>/_ccr/stats`.
pub async fn shard_stats(http: &Http, index: &str) -> Result<Value> {
    let r = http.get(&format!("/{index}/_ccr/stats")).await?;
    if r.status != 200 {
        bail!("follow stats of {index} failed: {r}");
    }
    Ok(r.body["indices"][0]["shards"][0].clone())
}
