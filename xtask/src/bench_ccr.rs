//! `cargo xtask bench` (CCR part): Ferry's cross-cluster replication under the W1 workload.
//!
//! Two `ferryd` processes on this machine, clusters `bench-leader` and `bench-follower`,
//! each with its own data dir under `target/bench/` and free ports. The follower names the
//! leader as remote cluster `leader`; `w1` on the leader is followed by `w1-follower`, and
//! for the bootstrap a second follower `w1-boot` is created from the populated leader.
//! The measured steps are [`crate::bench::scenario`]'s, the same as PostgreSQL's.
//!
//! The bench does not trust the nodes: every bulk item must succeed, the follower must
//! reach the leader's highest acknowledged `_seq_no` with exactly the documents written,
//! and a `fatal_exception` in the follow stats ends the run. Deliberately not here: the
//! scenario's clocks (`scenario`) and the printed comparison (`compare`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::bench::corpus::{self, Doc};
use crate::bench::cpu::{CpuPair, process_cpu};
use crate::bench::scenario::{self, Bootstrap, Dest, Figures, Plan, Replication};
use crate::bench::{check_bulk, http_client, send};
use crate::ferryd::{self, Ferryd, Identity, Output};

const READY_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the follower may take to have everything (generous: a slow build must finish).
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the follower may take to connect to the leader.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Between follow-stats polls.
const POLL: Duration = Duration::from_millis(2);

/// The remote-cluster alias of the leader on the follower.
const REMOTE: &str = "leader";
const BASELINE: &str = "w1-baseline";
const FOLLOWER: &str = "w1-follower";
const BOOT: &str = "w1-boot";

/// A `_bulk` body and what it holds.
pub(crate) struct FerryBatch {
    body: Vec<u8>,
    docs: usize,
    /// Into the followed index: its `_seq_no`s count towards what the follower must reach.
    followed: bool,
}

/// The two clusters as seen over HTTP.
struct FerryPair {
    client: reqwest::Client,
    leader: String,
    follower: String,
    /// The highest `_seq_no` the leader acknowledged in the followed index.
    max_seq_no: AtomicI64,
    /// The two `ferryd` processes (leader, follower), for their CPU time.
    pids: (u32, u32),
}

/// Starts both clusters under `bench_dir`, runs the scenario, stops them.
pub(crate) async fn run(bin: &Path, bench_dir: &Path, plan: &Plan) -> anyhow::Result<Figures> {
    // Under target/, not /tmp: /tmp may be tmpfs, where fsync costs nothing.
    let tmp = tempfile::Builder::new()
        .prefix("ccr-")
        .tempdir_in(bench_dir)
        .context("cannot create a temp dir")?;
    let client = http_client()?;
    let mut leader = start(bin, tmp.path(), "bench-leader", "leader-1")?;
    let mut follower = start(bin, tmp.path(), "bench-follower", "follower-1")?;
    for node in [&mut leader, &mut follower] {
        node.wait_ready(&client, READY_TIMEOUT).await?;
    }
    eprintln!(
        "xtask bench: Ferry: leader {} (pid {}), follower {} (pid {})",
        leader.base_url,
        leader.pid(),
        follower.base_url,
        follower.pid()
    );
    let pair = Arc::new(FerryPair {
        client,
        leader: leader.base_url.clone(),
        follower: follower.base_url.clone(),
        max_seq_no: AtomicI64::new(-1),
        pids: (leader.pid(), follower.pid()),
    });
    let figures = async {
        pair.connect(&leader.transport.to_string()).await?;
        pair.create_leader_indices().await?;
        scenario::run(pair.clone(), plan, "Ferry").await
    }
    .await;
    let figures = match figures {
        Ok(f) => f,
        Err(e) => bail!(
            "{e:#}\n(leader){}\n(follower){}",
            leader.output_tail(),
            follower.output_tail()
        ),
    };
    for node in [&mut leader, &mut follower] {
        node.terminate()?;
    }
    for (name, node) in [("leader", &mut leader), ("follower", &mut follower)] {
        let status = node.wait_exit(STOP_TIMEOUT).await?;
        ensure!(
            status.success(),
            "the {name} ferryd did not exit cleanly on SIGTERM ({status}){}",
            node.output_tail()
        );
    }
    Ok(figures)
}

fn start(bin: &Path, dir: &Path, cluster: &str, node: &str) -> anyhow::Result<Ferryd> {
    let [http, transport] = ferryd::free_ports::<2>()?;
    let data = dir.join(cluster);
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let id = Identity {
        cluster_name: cluster,
        node_name: node,
        log_dir: None,
    };
    let out = Output::File(dir.join(format!("{cluster}.out")));
    Ferryd::spawn_as(bin, &data.join("data"), http, transport, out, &id)
}

/// The body of `PUT /_cluster/settings` that names the leader as remote `leader`.
fn remote_settings(seed: &str) -> Value {
    json!({ "persistent": { "cluster": { "remote": { REMOTE: { "seeds": [seed] } } } } })
}

/// The body of `PUT /<f>/_ccr/follow` for the leader's W1 index.
fn follow_body() -> Value {
    json!({
        "remote_cluster": REMOTE,
        "leader_index": corpus::INDEX,
        "settings": { "index": { "number_of_replicas": 0 } },
    })
}

/// The follow stats of `index`'s only shard, if it has a running task.
fn shard_stats(answer: &Value) -> Option<&Value> {
    answer["indices"].get(0)?["shards"].get(0)
}

fn ok_ack(what: &str, (status, answer): (u16, Value)) -> anyhow::Result<()> {
    ensure!(
        status == 200 && answer["acknowledged"] == true,
        "{what} answered {status} {answer}"
    );
    Ok(())
}

impl FerryPair {
    /// Defines the remote on the follower and waits until it is connected.
    async fn connect(&self, seed: &str) -> anyhow::Result<()> {
        let url = format!("{}/_cluster/settings", self.follower);
        ok_ack(
            "defining the remote cluster",
            send(self.client.put(&url).json(&remote_settings(seed))).await?,
        )?;
        let started = Instant::now();
        loop {
            let (status, info) =
                send(self.client.get(format!("{}/_remote/info", self.follower))).await?;
            if status == 200 && info[REMOTE]["connected"] == true {
                return Ok(());
            }
            if started.elapsed() > CONNECT_TIMEOUT {
                bail!("remote [{REMOTE}] not connected after {CONNECT_TIMEOUT:?}: {status} {info}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn create_leader_indices(&self) -> anyhow::Result<()> {
        for index in [corpus::INDEX, BASELINE] {
            let req = self
                .client
                .put(format!("{}/{index}", self.leader))
                .json(&corpus::index_body());
            ok_ack(&format!("creating [{index}]"), send(req).await?)?;
        }
        Ok(())
    }

    /// `GET /<index>/_ccr/stats` on the follower; a fatal exception fails the bench.
    async fn stats(&self, index: &str) -> anyhow::Result<Value> {
        let url = format!("{}/{index}/_ccr/stats", self.follower);
        let (status, answer) = send(self.client.get(url)).await?;
        ensure!(
            status == 200,
            "{index}/_ccr/stats answered {status} {answer}"
        );
        if let Some(shard) = shard_stats(&answer)
            && let Some(fatal) = shard.get("fatal_exception")
        {
            bail!("follow task of [{index}] stopped: {fatal}");
        }
        Ok(answer)
    }

    /// `_refresh` then `_count` of `index` on the follower.
    async fn follower_count(&self, index: &str) -> anyhow::Result<u64> {
        let base = &self.follower;
        let (status, answer) = send(self.client.post(format!("{base}/{index}/_refresh"))).await?;
        ensure!(status == 200, "{index}/_refresh answered {status} {answer}");
        let (status, answer) = send(self.client.get(format!("{base}/{index}/_count"))).await?;
        ensure!(status == 200, "{index}/_count answered {status} {answer}");
        answer["count"]
            .as_u64()
            .with_context(|| format!("_count without count: {answer}"))
    }

    /// Until `index` has applied up to `seq_no` (follow stats), then until its count is `docs`.
    async fn wait_index(&self, index: &str, seq_no: i64, docs: u64) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut last = Value::Null;
        loop {
            let answer = self.stats(index).await?;
            if let Some(shard) = shard_stats(&answer) {
                let follower = shard["follower_global_checkpoint"].as_i64().unwrap_or(-1);
                let leader = shard["leader_global_checkpoint"].as_i64().unwrap_or(-1);
                if follower >= seq_no && follower == leader {
                    let count = self.follower_count(index).await?;
                    ensure!(
                        count <= docs,
                        "[{index}] counts {count} documents, more than the {docs} written"
                    );
                    if count == docs {
                        return Ok(());
                    }
                }
                last = shard.clone();
            }
            if started.elapsed() > FOLLOW_TIMEOUT {
                bail!(
                    "[{index}] did not reach seq_no {seq_no} and {docs} documents within {FOLLOW_TIMEOUT:?}; last stats {last}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn saw_seq_no(&self, seq_no: Option<i64>) {
        if let Some(s) = seq_no {
            self.max_seq_no.fetch_max(s, Ordering::Relaxed);
        }
    }

    async fn post_ccr(&self, action: &str) -> anyhow::Result<()> {
        let url = format!("{}/{FOLLOWER}/_ccr/{action}", self.follower);
        ok_ack(action, send(self.client.post(url)).await?)
    }

    /// Sets the copy rate unthrottled; `Some(note)` when the node refuses.
    /// Lifts the copy throttle on both clusters (ES throttles both the leader's reads and
    /// the follower's writes with each node's own `max_bytes_per_sec`).
    async fn unthrottle(&self) -> anyhow::Result<Vec<String>> {
        let body = json!({ "transient": { "ccr.indices.recovery.max_bytes_per_sec": "0b" } });
        let mut notes = Vec::new();
        for (side, base) in [("leader", &self.leader), ("follower", &self.follower)] {
            let url = format!("{base}/_cluster/settings");
            let (status, answer) = send(self.client.put(url).json(&body)).await?;
            if status != 200 || answer["acknowledged"] != true {
                notes.push(format!(
                    "{side}: ccr.indices.recovery.max_bytes_per_sec=0b refused ({status} {answer}); default throttle applies"
                ));
            }
        }
        Ok(notes)
    }
}

impl Replication for FerryPair {
    type Batch = FerryBatch;

    fn batch(&self, dest: Dest, docs: &[Doc]) -> anyhow::Result<FerryBatch> {
        let index = match dest {
            Dest::Baseline => BASELINE,
            Dest::Leader => corpus::INDEX,
        };
        Ok(FerryBatch {
            body: corpus::bulk_body(index, docs)?,
            docs: docs.len(),
            followed: dest == Dest::Leader,
        })
    }

    async fn write_batch(&self, batch: &FerryBatch) -> anyhow::Result<()> {
        let req = self
            .client
            .post(format!("{}/_bulk", self.leader))
            .header("content-type", "application/x-ndjson")
            .body(batch.body.clone());
        let (status, answer) = send(req).await?;
        check_bulk(0, status, &answer, batch.docs)?;
        if batch.followed {
            let items = answer["items"].as_array().into_iter().flatten();
            self.saw_seq_no(items.filter_map(|i| i["index"]["_seq_no"].as_i64()).max());
        }
        Ok(())
    }

    async fn drop_baseline(&self) -> anyhow::Result<()> {
        let url = format!("{}/{BASELINE}", self.leader);
        ok_ack(
            "deleting the baseline index",
            send(self.client.delete(url)).await?,
        )
    }

    async fn start_following(&self) -> anyhow::Result<()> {
        let url = format!(
            "{}/{FOLLOWER}/_ccr/follow?wait_for_active_shards=1",
            self.follower
        );
        let (status, answer) = send(self.client.put(url).json(&follow_body())).await?;
        ensure!(
            status == 200 && answer["index_following_started"] == true,
            "put-follow answered {status} {answer}"
        );
        // An empty leader: wait for the task to be reading before the clock starts.
        self.wait_index(FOLLOWER, -1, 0).await
    }

    async fn wait_follower(&self, docs: u64) -> anyhow::Result<()> {
        let seq_no = self.max_seq_no.load(Ordering::Relaxed);
        self.wait_index(FOLLOWER, seq_no, docs).await
    }

    async fn pause(&self) -> anyhow::Result<()> {
        self.post_ccr("pause_follow").await
    }

    async fn resume(&self) -> anyhow::Result<()> {
        self.post_ccr("resume_follow").await
    }

    async fn write_probe(&self, id: &str, source: &str) -> anyhow::Result<()> {
        let url = format!("{}/{}/_doc/{id}?refresh=false", self.leader, corpus::INDEX);
        let req = self
            .client
            .put(url)
            .header("content-type", "application/json")
            .body(source.to_owned());
        let (status, answer) = send(req).await?;
        ensure!(
            matches!(status, 200 | 201),
            "probe {id} answered {status} {answer}"
        );
        self.saw_seq_no(answer["_seq_no"].as_i64());
        Ok(())
    }

    async fn probe_visible(&self, id: &str) -> anyhow::Result<bool> {
        let url = format!("{}/{FOLLOWER}/_doc/{id}", self.follower);
        let (status, answer) = send(self.client.get(url)).await?;
        match status {
            200 if answer["found"] == true => Ok(true),
            404 => Ok(false),
            _ => bail!("GET {FOLLOWER}/_doc/{id} answered {status} {answer}"),
        }
    }

    fn cpu(&self) -> Option<CpuPair> {
        Some(CpuPair {
            leader: process_cpu(self.pids.0)?,
            follower: process_cpu(self.pids.1)?,
        })
    }

    async fn bootstrap(&self, leader_docs: u64) -> anyhow::Result<Bootstrap> {
        let mut b = Bootstrap {
            docs: leader_docs,
            ..Bootstrap::default()
        };
        b.notes.extend(self.unthrottle().await?);
        let started = Instant::now();
        let url = format!("{}/{BOOT}/_ccr/follow", self.follower);
        let (status, answer) = send(self.client.put(url).json(&follow_body())).await?;
        // Answered at once (no wait): the copy's progress is read from the stats below.
        ensure!(
            status == 200 && answer["follow_index_created"] == true,
            "put-follow of [{BOOT}] answered {status} {answer}"
        );
        loop {
            let answer = self.stats(BOOT).await?;
            let shards = answer["indices"][0]["shards"].as_array();
            let boots: Vec<&Value> = shards
                .into_iter()
                .flatten()
                .map(|s| &s["bootstrap"])
                .collect();
            if boots.is_empty() || boots.iter().any(|v| v.is_null()) {
                if started.elapsed() > Duration::from_secs(2) {
                    b.notes.push("follow stats have no `bootstrap` field: bytes unknown, no MiB/s; time to full count reported".into());
                    break;
                }
            } else if let Some(failed) = boots.iter().find(|v| v["state"] == "failed") {
                bail!("bootstrap of [{BOOT}] failed: {failed}");
            } else if boots.iter().all(|v| v["state"] == "done") {
                // The copy phase (shards copy in parallel: the slowest one); restoring the
                // copy re-indexes every document and is counted in `full` instead.
                let copy_millis: Option<u64> = boots
                    .iter()
                    .map(|v| v["copy_millis"].as_u64().filter(|m| *m > 0))
                    .collect::<Option<Vec<u64>>>()
                    .and_then(|v| v.into_iter().max());
                b.copy = Some(copy_millis.map_or_else(|| started.elapsed(), Duration::from_millis));
                if copy_millis.is_none() {
                    b.notes.push(
                        "`bootstrap.copy_millis` absent: copy time includes restoring".into(),
                    );
                }
                let bytes: Option<Vec<u64>> =
                    boots.iter().map(|v| v["bytes_total"].as_u64()).collect();
                b.bytes = bytes.map(|v| v.iter().sum());
                if b.bytes.is_none() {
                    b.notes
                        .push("`bootstrap.bytes_total` absent: bytes unknown".into());
                }
                break;
            }
            if started.elapsed() > FOLLOW_TIMEOUT {
                bail!("[{BOOT}] bootstrap not done within {FOLLOW_TIMEOUT:?}: {answer}");
            }
            tokio::time::sleep(POLL).await;
        }
        let seq_no = self.max_seq_no.load(Ordering::Relaxed);
        self.wait_index(BOOT, seq_no, leader_docs).await?;
        b.full = Some(started.elapsed());
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies_match_the_ccr_spec() {
        assert_eq!(
            remote_settings("127.0.0.1:9300"),
            json!({"persistent":{"cluster":{"remote":{"leader":{"seeds":["127.0.0.1:9300"]}}}}})
        );
        let f = follow_body();
        assert_eq!(f["remote_cluster"], "leader");
        assert_eq!(f["leader_index"], "w1");
    }

    #[test]
    fn shard_stats_is_the_first_shard_of_the_first_index() {
        let answer = json!({"indices":[{"index":"f","shards":[{"shard_id":0,"follower_global_checkpoint":7}]}]});
        assert_eq!(
            shard_stats(&answer).map(|s| &s["follower_global_checkpoint"]),
            Some(&json!(7))
        );
        assert!(shard_stats(&json!({"indices":[{"index":"f","shards":[]}]})).is_none());
        assert!(shard_stats(&json!({"indices":[]})).is_none());
    }
}
