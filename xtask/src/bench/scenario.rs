//! The replication scenario of issue 3's Speed section, driven the same way for Ferry's
//! cross-cluster replication (`bench_ccr`) and PostgreSQL's logical replication
//! (`bench_pg`) through [`Replication`]:
//!
//! 0. single-node ingest: W1's documents into a leader index/table nobody follows;
//! 1. end-to-end: the same documents into the followed one, first write → the follower has
//!    them all, and the tail after the last leader acknowledgement;
//!
//!    steps 0 and 1 alternate for `rounds` sets (each a new set of ids, so both tables
//!    grow alike), and each figure is the median of its rounds: on a shared 2-core machine
//!    one single-node run moves by ±15% from the next, and a ratio of two single runs
//!    with it; each timed phase starts on a settled machine (what the last one left
//!    running, such as indexing behind its last acknowledgement or merges, has finished);
//! 2. catch-up: pause, ingest a second set, resume, resume → the follower has them all;
//! 3. idle lag: single writes on the leader, acknowledgement → visible on the follower;
//! 4. lag while the leader ingests at half the rate it reached in step 1;
//! 5. bootstrap of a second follower from the now populated leader (side-specific).
//!
//! This module owns the clocks, the bulk clients, the pacing, the probes and the document
//! counts; a side only writes a batch, pauses, resumes and looks at its follower. It never
//! asserts on time. Deliberately not here: starting servers and the printed comparison.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::corpus::{self, Doc};
use super::cpu::{CpuPair, CpuUse, PhaseCpu, machine_cpu};
use super::report::Latency;

/// How long one lag probe may wait for its document on the follower.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// The window in which [`settle`] looks at the machine, and the longest it waits.
const SETTLE_STEP: Duration = Duration::from_millis(250);
const SETTLE_MAX: Duration = Duration::from_secs(15);

/// The scenario's sizes.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Documents per set (W1: 100,000).
    pub docs: usize,
    /// Documents per batch (`_bulk` request / transaction).
    pub batch: usize,
    /// Concurrent ingest clients.
    pub clients: usize,
    /// Seed of the first set; the backlog and load sets use the next seeds.
    pub seed: u64,
    /// Alternating single-node / end-to-end rounds (steps 0 and 1), at least one.
    pub rounds: usize,
    /// Idle lag probes.
    pub probes: usize,
    /// How long the half-load phase ingests.
    pub load: Duration,
    /// Time between lag probes under load.
    pub probe_every: Duration,
}

/// Where a batch goes on the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dest {
    /// The single-node reference: an index/table nobody follows.
    Baseline,
    /// The followed index/table.
    Leader,
}

/// One side of the comparison: a leader and its follower, already running.
pub(crate) trait Replication: Send + Sync + 'static {
    /// A batch ready to send, prepared before the clock starts.
    type Batch: Send + Sync + 'static;
    /// Prepares `docs` as one batch for `dest`.
    fn batch(&self, dest: Dest, docs: &[Doc]) -> anyhow::Result<Self::Batch>;
    /// Writes one batch in one request/transaction; returns once the leader acknowledged
    /// it durably, having checked every document was accepted.
    fn write_batch(&self, batch: &Self::Batch) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Removes the single-node reference index/table.
    fn drop_baseline(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Makes the follower follow the (still empty) leader index/table.
    fn start_following(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Waits until the follower holds exactly `docs` searchable documents and has applied
    /// everything the leader acknowledged; fails on more.
    fn wait_follower(&self, docs: u64) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Stops replication; returns once the follower no longer applies anything.
    fn pause(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Restarts replication from where the follower stands.
    fn resume(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Writes one document on the leader, returning at its acknowledgement.
    fn write_probe(
        &self,
        id: &str,
        source: &str,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// One look on the follower: is the document there (by id, no refresh)?
    fn probe_visible(&self, id: &str) -> impl Future<Output = anyhow::Result<bool>> + Send;
    /// Bootstraps a second follower from the leader, which holds `leader_docs` documents.
    fn bootstrap(&self, leader_docs: u64)
    -> impl Future<Output = anyhow::Result<Bootstrap>> + Send;
    /// CPU time the leader and the follower servers used so far, when the side can read it.
    fn cpu(&self) -> Option<CpuPair> {
        None
    }
}

/// A bootstrap (initial copy) of a second follower.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bootstrap {
    /// Documents the leader held.
    pub docs: u64,
    /// Bytes the copy moved, when the follower reports them.
    pub bytes: Option<u64>,
    /// Start → the copy reported done (only when the follower reports it).
    pub copy: Option<Duration>,
    /// Start → the second follower counts all documents.
    pub full: Option<Duration>,
    /// What was missing or refused, said plainly.
    pub notes: Vec<String>,
}

impl Bootstrap {
    /// Copy throughput in MiB/s, only from measured bytes and a measured copy time.
    pub fn mib_per_sec(&self) -> Option<f64> {
        match (self.bytes, self.copy) {
            (Some(b), Some(t)) if t > Duration::ZERO => {
                Some(b as f64 / (1024.0 * 1024.0) / t.as_secs_f64())
            }
            _ => None,
        }
    }

    fn json(&self) -> Value {
        json!({
            "docs": self.docs,
            "bytes": self.bytes,
            "copy_seconds": self.copy.map(|d| d.as_secs_f64()),
            "full_count_seconds": self.full.map(|d| d.as_secs_f64()),
            "mib_per_sec": self.mib_per_sec().map(round1),
            "notes": self.notes,
        })
    }
}

/// Lag while the leader ingests at half its maximum.
#[derive(Debug, Clone)]
pub(crate) struct LoadLag {
    /// The paced rate asked for, docs/s.
    pub target_rate: f64,
    /// The rate the leader actually took, docs/s.
    pub achieved_rate: f64,
    /// Documents written by the paced ingest.
    pub docs: usize,
    /// All probes.
    pub lag: Latency,
    /// The first and the last third of the probes, in probe order.
    pub first_third: Latency,
    pub last_third: Latency,
    /// Last paced acknowledgement → the follower has everything.
    pub drained_after: Duration,
}

/// One round of steps 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Round {
    /// Single-node ingest wall time of one set.
    pub baseline: Duration,
    /// Step 1: the leader's ingest wall time, and first write → follower has all.
    pub leader_ingest: Duration,
    pub replicated: Duration,
    /// Step 1: last leader acknowledgement → follower has all.
    pub tail: Duration,
}

impl Round {
    /// Single-node and end-to-end throughput of a round of `docs` documents, docs/s.
    pub fn rates(&self, docs: usize) -> (f64, f64) {
        (per_sec(docs, self.baseline), per_sec(docs, self.replicated))
    }

    fn json(&self) -> Value {
        json!({
            "single_node_seconds": self.baseline.as_secs_f64(),
            "leader_ingest_seconds": self.leader_ingest.as_secs_f64(),
            "replicated_seconds": self.replicated.as_secs_f64(),
            "tail_ms": ms(self.tail),
        })
    }
}

/// The median of `values` (the upper one of an even count); zero for none.
fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Everything one side measured.
#[derive(Debug, Clone)]
pub(crate) struct Figures {
    /// Documents per set.
    pub docs: usize,
    /// Steps 0 and 1, round by round (the figures are their medians).
    pub rounds: Vec<Round>,
    /// Step 2: ingest while paused, and resume → follower has all.
    pub backlog_ingest: Duration,
    pub catch_up: Duration,
    /// Step 3.
    pub idle_lag: Latency,
    /// Step 4.
    pub load: LoadLag,
    /// Step 5.
    pub bootstrap: Bootstrap,
    /// CPU spent in steps 0–2, when the side reads it.
    pub cpu: PhaseCpu,
}

fn per_sec(n: usize, d: Duration) -> f64 {
    if d.is_zero() {
        return 0.0;
    }
    n as f64 / d.as_secs_f64()
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl Figures {
    fn median_of(&self, field: impl Fn(&Round) -> Duration) -> Duration {
        median(self.rounds.iter().map(field).collect())
    }
    /// Single-node ingest wall time of one set (median of the rounds).
    pub fn baseline(&self) -> Duration {
        self.median_of(|r| r.baseline)
    }
    /// The leader's ingest wall time of one set while followed (median).
    pub fn leader_ingest(&self) -> Duration {
        self.median_of(|r| r.leader_ingest)
    }
    /// First write → follower has all (median).
    pub fn replicated(&self) -> Duration {
        self.median_of(|r| r.replicated)
    }
    /// Last leader acknowledgement → follower has all (median).
    pub fn tail(&self) -> Duration {
        self.median_of(|r| r.tail)
    }
    pub fn baseline_rate(&self) -> f64 {
        per_sec(self.docs, self.baseline())
    }
    pub fn leader_rate(&self) -> f64 {
        per_sec(self.docs, self.leader_ingest())
    }
    pub fn replicated_rate(&self) -> f64 {
        per_sec(self.docs, self.replicated())
    }
    pub fn catch_up_rate(&self) -> f64 {
        per_sec(self.docs, self.catch_up)
    }

    /// The machine-readable figures of one side.
    pub fn json(&self) -> Value {
        let lat = |l: &Latency| {
            json!({ "probes": l.count, "p50_ms": ms(l.p50), "p99_ms": ms(l.p99),
                    "mean_ms": ms(l.mean), "max_ms": ms(l.max) })
        };
        json!({
            "docs_per_set": self.docs,
            "rounds": self.rounds.iter().map(Round::json).collect::<Vec<_>>(),
            "single_node_ingest": { "seconds": self.baseline().as_secs_f64(), "docs_per_sec": self.baseline_rate().round() },
            "end_to_end": {
                "leader_ingest_seconds": self.leader_ingest().as_secs_f64(),
                "leader_docs_per_sec": self.leader_rate().round(),
                "replicated_seconds": self.replicated().as_secs_f64(),
                "replicated_docs_per_sec": self.replicated_rate().round(),
                "tail_ms": ms(self.tail()),
            },
            "catch_up": {
                "backlog_ingest_seconds": self.backlog_ingest.as_secs_f64(),
                "seconds": self.catch_up.as_secs_f64(),
                "docs_per_sec": self.catch_up_rate().round(),
            },
            "idle_lag": lat(&self.idle_lag),
            "lag_at_half_load": {
                "target_docs_per_sec": self.load.target_rate.round(),
                "achieved_docs_per_sec": self.load.achieved_rate.round(),
                "docs": self.load.docs,
                "lag": lat(&self.load.lag),
                "first_third_p50_ms": ms(self.load.first_third.p50),
                "last_third_p50_ms": ms(self.load.last_third.p50),
                "first_third_p99_ms": ms(self.load.first_third.p99),
                "last_third_p99_ms": ms(self.load.last_third.p99),
                "drained_after_ms": ms(self.load.drained_after),
            },
            "bootstrap": self.bootstrap.json(),
            "cpu_seconds": self.cpu.json(),
        })
    }
}

/// One ingest run.
struct Ingested {
    wall: Duration,
    started: Instant,
    last_ack: Instant,
}

/// The batches of `docs` for `dest`, cut at `batch` documents.
fn prepare<R: Replication>(
    side: &R,
    dest: Dest,
    docs: &[Doc],
    batch: usize,
) -> anyhow::Result<Vec<R::Batch>> {
    docs.chunks(batch.max(1))
        .map(|c| side.batch(dest, c))
        .collect()
}

/// Sends every batch through `clients` concurrent writers; with `pace`, batch `i` is not
/// sent before `start + i × pace`.
async fn ingest<R: Replication>(
    side: Arc<R>,
    batches: Vec<R::Batch>,
    clients: usize,
    pace: Option<Duration>,
) -> anyhow::Result<Ingested> {
    let batches = Arc::new(batches);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (side, batches, next) = (side.clone(), batches.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(i) else {
                    return anyhow::Ok(());
                };
                if let Some(p) = pace {
                    let due = started + p.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
                    tokio::time::sleep_until(due.into()).await;
                }
                side.write_batch(batch)
                    .await
                    .with_context(|| format!("batch {i}"))?;
            }
        }));
    }
    for t in tasks {
        t.await.context("an ingest client panicked")??;
    }
    let last_ack = Instant::now();
    Ok(Ingested {
        wall: last_ack - started,
        started,
        last_ack,
    })
}

/// A small W1-shaped document for lag probes.
pub(crate) fn probe_source(id: &str) -> String {
    json!({
        "id": id, "title": "lag probe", "body": "one document written alone",
        "category": corpus::category(0), "price": 1.0, "quantity": 1, "in_stock": true,
        "created_at": "2024-01-01T00:00:00Z", "tags": [corpus::tag(0), corpus::tag(1)],
    })
    .to_string()
}

/// Writes `id` on the leader, then looks for it on the follower back to back until it is
/// there; the lag is leader acknowledgement → first answer that has it.
async fn probe<R: Replication>(side: &R, id: &str) -> anyhow::Result<Duration> {
    side.write_probe(id, &probe_source(id)).await?;
    let acked = Instant::now();
    loop {
        if side.probe_visible(id).await? {
            return Ok(acked.elapsed());
        }
        if acked.elapsed() > PROBE_TIMEOUT {
            bail!("probe {id} not visible on the follower {PROBE_TIMEOUT:?} after its ack");
        }
        tokio::task::yield_now().await;
    }
}

/// The first and the last third of `lags` (probe order).
pub(crate) fn thirds(lags: &[Duration]) -> (Latency, Latency) {
    let third = (lags.len() / 3).max(1).min(lags.len());
    let first = Latency::from(lags[..third].to_vec());
    let last = Latency::from(lags[lags.len() - third..].to_vec());
    (first, last)
}

/// Waits until the machine is nearly idle (under a tenth of its CPU busy over
/// [`SETTLE_STEP`]), at most [`SETTLE_MAX`], so what a phase leaves running — indexing
/// behind the last acknowledgement, a scheduled refresh, merges — does not land in the next
/// phase's clock. Without `/proc/stat` it waits one second.
async fn settle() {
    let deadline = Instant::now() + SETTLE_MAX;
    let mut last = machine_cpu();
    if last.is_none() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        return;
    }
    while Instant::now() < deadline {
        tokio::time::sleep(SETTLE_STEP).await;
        let now = machine_cpu();
        if let (Some(a), Some(b)) = (last, now) {
            let busy = b.busy.saturating_sub(a.busy);
            let all = busy + b.idle.saturating_sub(a.idle);
            if busy * 10 < all {
                return;
            }
        }
        last = now;
    }
}

/// Runs steps 0–5 against `side`; `name` prefixes the progress lines.
pub(crate) async fn run<R: Replication>(
    side: Arc<R>,
    plan: &Plan,
    name: &str,
) -> anyhow::Result<Figures> {
    let say = |m: String| eprintln!("xtask bench: {name}: {m}");
    let n = plan.docs;
    let rounds = plan.rounds.max(1);
    let mut cpu = PhaseCpu::default();
    let mut measured = Vec::with_capacity(rounds);
    let mut total = 0u64;
    for r in 0..rounds {
        let round = format!("round {}/{rounds}", r + 1);
        say(format!("{round}: generating 2 × {n} documents"));
        let (baseline, first) = {
            let docs = corpus::documents(r * n, n, plan.seed)?;
            (
                prepare(&*side, Dest::Baseline, &docs, plan.batch)?,
                prepare(&*side, Dest::Leader, &docs, plan.batch)?,
            )
        };
        settle().await;
        say(format!("{round}: single-node ingest of {n} documents"));
        let before = CpuUse::take(side.cpu());
        let base = ingest(side.clone(), baseline, plan.clients, None).await?;
        cpu.single_node
            .add(CpuUse::between(before, CpuUse::take(side.cpu())));
        if r == 0 {
            side.start_following().await?;
        }

        settle().await;
        say(format!(
            "{round}: end-to-end: ingest on the leader while the follower follows"
        ));
        let before = CpuUse::take(side.cpu());
        let a = ingest(side.clone(), first, plan.clients, None).await?;
        let acked = CpuUse::take(side.cpu());
        total += n as u64;
        side.wait_follower(total).await?;
        let complete = Instant::now();
        cpu.end_to_end_ingest.add(CpuUse::between(before, acked));
        cpu.end_to_end_tail
            .add(CpuUse::between(acked, CpuUse::take(side.cpu())));
        let done = Round {
            baseline: base.wall,
            leader_ingest: a.wall,
            replicated: complete - a.started,
            tail: complete.saturating_duration_since(a.last_ack),
        };
        let (single, end_to_end) = done.rates(n);
        say(format!(
            "{round}: single-node {single:.0} docs/s, end-to-end {end_to_end:.0} docs/s ({:.2}×), tail {:.1?}",
            end_to_end / single.max(f64::MIN_POSITIVE),
            done.tail,
        ));
        measured.push(done);
    }
    side.drop_baseline().await?;
    cpu.per_round(rounds);
    let leader_took = median(measured.iter().map(|m| m.leader_ingest).collect());

    say(format!(
        "catch-up: pause, ingest {n} more, resume (leader took a set in {leader_took:.2?})"
    ));
    let backlog = prepare(
        &*side,
        Dest::Leader,
        &corpus::documents(rounds * n, n, plan.seed + 1)?,
        plan.batch,
    )?;
    side.pause().await?;
    let b = ingest(side.clone(), backlog, plan.clients, None).await?;
    total += n as u64;
    let resumed = Instant::now();
    let before = CpuUse::take(side.cpu());
    side.resume().await?;
    side.wait_follower(total).await?;
    let catch_up = resumed.elapsed();
    cpu.catch_up = CpuUse::between(before, CpuUse::take(side.cpu()));

    say(format!("{} idle lag probes", plan.probes));
    let mut idle = Vec::with_capacity(plan.probes);
    for i in 0..plan.probes {
        idle.push(probe(&*side, &format!("probe-idle-{i:05}")).await?);
    }
    total += plan.probes as u64;
    side.wait_follower(total).await?;

    let load = half_load(&side, plan, leader_took, total, &say).await?;
    total += (load.docs + load.lag.count) as u64;

    say(format!(
        "bootstrap of a second follower from {total} documents"
    ));
    let bootstrap = match side.bootstrap(total).await {
        Ok(b) => b,
        Err(e) => Bootstrap {
            docs: total,
            notes: vec![format!("bootstrap failed: {e:#}")],
            ..Bootstrap::default()
        },
    };
    Ok(Figures {
        docs: n,
        rounds: measured,
        backlog_ingest: b.wall,
        catch_up,
        idle_lag: Latency::from(idle),
        load,
        bootstrap,
        cpu,
    })
}

/// Step 4: paced ingest at half the step-1 leader rate, a probe every `probe_every`.
async fn half_load<R: Replication>(
    side: &Arc<R>,
    plan: &Plan,
    first_ingest: Duration,
    before: u64,
    say: &impl Fn(String),
) -> anyhow::Result<LoadLag> {
    let target_rate = per_sec(plan.docs, first_ingest) / 2.0;
    let wanted = (target_rate * plan.load.as_secs_f64()).ceil() as usize;
    let docs = wanted.div_ceil(plan.batch.max(1)).max(1) * plan.batch.max(1);
    say(format!(
        "lag at half load: {docs} documents at {target_rate:.0} docs/s, a probe every {:?}",
        plan.probe_every
    ));
    let batches = prepare(
        &**side,
        Dest::Leader,
        &corpus::documents((plan.rounds.max(1) + 1) * plan.docs, docs, plan.seed + 2)?,
        plan.batch,
    )?;
    let pace = Duration::from_secs_f64(plan.batch as f64 / target_rate.max(1.0));
    let writer = tokio::spawn(ingest(side.clone(), batches, plan.clients, Some(pace)));
    let started = Instant::now();
    let mut lags = Vec::new();
    while !writer.is_finished() {
        let due = started + plan.probe_every.saturating_mul(lags.len() as u32);
        tokio::time::sleep_until(due.into()).await;
        if writer.is_finished() {
            break;
        }
        let id = format!("probe-load-{:05}", lags.len());
        lags.push(probe(&**side, &id).await?);
    }
    let ingested = writer.await.context("the paced ingest panicked")??;
    side.wait_follower(before + (docs + lags.len()) as u64)
        .await?;
    let drained_after = ingested.last_ack.elapsed();
    let (first_third, last_third) = thirds(&lags);
    Ok(LoadLag {
        target_rate,
        achieved_rate: per_sec(docs, ingested.wall),
        docs,
        lag: Latency::from(lags),
        first_third,
        last_third,
        drained_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirds_are_the_two_ends_in_probe_order() {
        let lags: Vec<Duration> = [5, 1, 2, 9, 9, 9, 3, 30, 4]
            .into_iter()
            .map(Duration::from_millis)
            .collect();
        let (first, last) = thirds(&lags);
        assert_eq!(
            (first.p50, first.p99),
            (Duration::from_millis(2), Duration::from_millis(5))
        );
        assert_eq!(
            (last.p50, last.p99),
            (Duration::from_millis(4), Duration::from_millis(30))
        );
        let one = [Duration::from_millis(7)];
        let (first, last) = thirds(&one);
        assert_eq!((first.p50, last.p99), (one[0], one[0]));
        let (first, last) = thirds(&[]);
        assert_eq!((first.p99, last.p99), (Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn round_figures_are_medians() {
        let ms = Duration::from_millis;
        assert_eq!(median(vec![ms(30), ms(10), ms(20)]), ms(20));
        assert_eq!(median(vec![ms(10), ms(40)]), ms(40), "the upper of two");
        assert_eq!(median(vec![ms(7)]), ms(7));
        assert_eq!(median(Vec::new()), Duration::ZERO);
    }

    #[test]
    fn bootstrap_rate_needs_measured_bytes_and_time() {
        let mut b = Bootstrap {
            bytes: Some(200 * 1024 * 1024),
            copy: Some(Duration::from_secs(2)),
            ..Bootstrap::default()
        };
        assert_eq!(b.mib_per_sec(), Some(100.0));
        b.bytes = None;
        assert_eq!(b.mib_per_sec(), None, "unknown bytes give no figure");
        b.bytes = Some(1);
        b.copy = None;
        assert_eq!(b.mib_per_sec(), None, "no copy time gives no figure");
    }

    #[test]
    fn probe_documents_are_w1_shaped_json() {
        let v: Value = serde_json::from_str(&probe_source("p-1")).expect("JSON");
        assert_eq!(v["id"], "p-1");
        assert_eq!(v["category"], "cat-0");
        assert_eq!(v["tags"], json!(["tag-00", "tag-01"]));
    }
}
