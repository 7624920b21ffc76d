//! `cargo xtask bench`: workload W1 of issue 2 against a release `ferryd`, then the
//! cross-cluster replication figures of issue 3 beside PostgreSQL's logical replication
//! (`bench_ccr`, `bench_pg`, `scenario`, `compare`); `--only w1,ccr,pg` picks parts.
//!
//! W1: N synthetic ~300-byte documents (`corpus.rs`), `_bulk` of 1,000 from 2 concurrent
//! clients into one index refreshed every second; durable-ingest throughput; HTTP search
//! latency (term, two-term AND) at N documents; the process's RSS idle and after.
//!
//! The bench does not trust the server: every bulk answer must say `errors: false` with one
//! successful item per document, the index must reach exactly N documents, and every
//! search must return the number of hits the generator counted. A wrong answer fails the
//! bench rather than producing a fast figure. It never asserts on time: it reports.

pub(crate) mod compare;
pub(crate) mod corpus;
pub(crate) mod cpu;
pub(crate) mod pg_server;
mod replication;
pub(crate) mod report;
pub(crate) mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::ferryd::{self, Ferryd, Output};
use corpus::{CATEGORIES, Corpus, INDEX, TAGS};
use report::{Latency, Report};

const READY_TIMEOUT: Duration = Duration::from_secs(120);
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(90);
/// Time the node sits idle before its idle RSS is read.
const IDLE_SETTLE: Duration = Duration::from_secs(2);
/// Untimed searches before each timed series.
const WARM_UP: usize = 100;
/// ES's default `track_total_hits`: totals above it may be reported as a lower bound.
const TRACK_TOTAL_HITS_DEFAULT: u64 = 10_000;

/// One part of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// Workload W1 on one node
    W1,
    /// Ferry's cross-cluster replication, leader and follower clusters
    Ccr,
    /// PostgreSQL logical replication, the same scenario
    Pg,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run only these parts, comma-separated (default: w1, then ccr, then pg)
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
    /// Documents to index (W1 is 100,000)
    #[arg(long, default_value_t = 100_000)]
    docs: usize,
    /// Documents per _bulk request
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Concurrent bulk clients
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Timed requests per search query kind
    #[arg(long, default_value_t = 1_000)]
    searches: usize,
    /// Seed of the document generator
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also write the JSON report here
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the node's data directory (under target/bench/) after the run
    #[arg(long)]
    keep: bool,
    /// Bench this ferryd binary instead of building the workspace's release one
    #[arg(long, value_name = "PATH")]
    ferryd: Option<PathBuf>,
    /// Alternating single-node / end-to-end rounds; each figure is their median (ccr, pg)
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Idle single-write lag probes (ccr, pg)
    #[arg(long, default_value_t = 200)]
    probes: usize,
    /// Seconds of ingest at half the leader's maximum while lag is probed (ccr, pg)
    #[arg(long, default_value_t = 20)]
    load_secs: u64,
    /// PostgreSQL server binaries (default: the newest /usr/lib/postgresql/<v>/bin)
    #[arg(long, value_name = "DIR")]
    pg_bin: Option<PathBuf>,
}

/// A reqwest client for talking to a local node: no proxy, no TLS needed.
pub(crate) fn http_client() -> anyhow::Result<reqwest::Client> {
    // reqwest is built without a crypto provider: give it ring (an Err means one is set).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(300))
        .build()
        .context("cannot build an HTTP client")
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    ensure!(
        args.docs > 0 && args.batch > 0 && args.clients > 0 && args.rounds > 0,
        "--docs, --batch, --clients and --rounds must be positive"
    );
    let parts: Vec<Part> = [Part::W1, Part::Ccr, Part::Pg]
        .into_iter()
        .filter(|p| args.only.is_empty() || args.only.contains(p))
        .collect();
    let bin = if parts.iter().any(|p| matches!(p, Part::W1 | Part::Ccr)) {
        Some(match &args.ferryd {
            Some(path) => path.clone(),
            None => ferryd::build(true)?,
        })
    } else {
        None
    };
    let bench_dir = ferryd::target_dir().join("bench");
    std::fs::create_dir_all(&bench_dir)
        .with_context(|| format!("cannot create {}", bench_dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    if let (true, Some(bin)) = (parts.contains(&Part::W1), &bin) {
        run_w1(&rt, bin, &bench_dir, &args)?;
    }
    if !parts.iter().any(|p| matches!(p, Part::Ccr | Part::Pg)) {
        return Ok(ExitCode::SUCCESS);
    }
    replication::run(
        &rt,
        bin.as_deref(),
        &bench_dir,
        &args,
        parts.contains(&Part::Ccr),
        parts.contains(&Part::Pg),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `fut`; Ctrl-C drops it, so its guards stop the servers it started.
pub(crate) fn interruptible<T>(
    rt: &tokio::runtime::Runtime,
    fut: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    rt.block_on(async {
        tokio::select! {
            r = fut => r,
            _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        }
    })
}

/// Workload W1: one node, `target/bench/w1.json`.
fn run_w1(
    rt: &tokio::runtime::Runtime,
    bin: &std::path::Path,
    bench_dir: &std::path::Path,
    args: &Args,
) -> anyhow::Result<()> {
    eprintln!(
        "xtask bench: generating {} documents (seed {})",
        args.docs, args.seed
    );
    let corpus = corpus::generate(args.docs, args.batch, args.seed)?;
    // Under target/, not /tmp: /tmp may be tmpfs, where fsync costs nothing.
    let tmp = tempfile::Builder::new()
        .prefix("w1-")
        .tempdir_in(bench_dir)
        .context("cannot create a temp dir")?;
    let report = interruptible(rt, bench(bin, tmp.path(), &corpus, args))?;

    println!("{}", report.table());
    let json = serde_json::to_string_pretty(&report.json())?;
    let default_out = bench_dir.join("w1.json");
    for path in std::iter::once(&default_out).chain(args.out.as_ref()) {
        std::fs::write(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("xtask bench: wrote {}", path.display());
    }
    if args.keep {
        eprintln!("xtask bench: kept the data dir {}", tmp.keep().display());
    }
    Ok(())
}

async fn bench(
    bin: &std::path::Path,
    dir: &std::path::Path,
    corpus: &Corpus,
    args: &Args,
) -> anyhow::Result<Report> {
    let client = http_client()?;
    let [http_port, transport_port] = ferryd::free_ports::<2>()?;
    let data_dir = dir.join("data");
    let mut node = Ferryd::spawn(
        bin,
        &data_dir,
        http_port,
        transport_port,
        Output::File(dir.join("ferryd.out")),
    )?;
    node.wait_ready(&client, READY_TIMEOUT).await?;
    eprintln!(
        "xtask bench: ferryd ready at {} (pid {})",
        node.base_url,
        node.pid()
    );
    tokio::time::sleep(IDLE_SETTLE).await;
    let (idle_rss, _) = node.memory_kib()?;

    let result = measure(&node, &client, corpus, args).await;
    let result = match result {
        Ok(r) => r,
        Err(e) => bail!("{e:#}{}", node.output_tail()),
    };
    let (after_rss, peak_rss) = node.memory_kib()?;

    let stop_started = Instant::now();
    node.terminate()?;
    let status = node.wait_exit(STOP_TIMEOUT).await?;
    ensure!(
        status.success(),
        "ferryd did not exit cleanly on SIGTERM ({status}){}",
        node.output_tail()
    );
    Ok(Report {
        docs: corpus.docs,
        batch: args.batch,
        clients: args.clients,
        seed: args.seed,
        avg_doc_bytes: corpus.source_bytes as f64 / corpus.docs as f64,
        ingest: result.ingest,
        bulk: result.bulk,
        visible_after: result.visible_after,
        term: result.term,
        and: result.and,
        idle_rss_kib: idle_rss,
        after_rss_kib: after_rss,
        peak_rss_kib: peak_rss,
        stop: stop_started.elapsed(),
    })
}

struct Measured {
    ingest: Duration,
    bulk: Latency,
    visible_after: Duration,
    term: Latency,
    and: Latency,
}

async fn measure(
    node: &Ferryd,
    client: &reqwest::Client,
    corpus: &Corpus,
    args: &Args,
) -> anyhow::Result<Measured> {
    let base = node.base_url.as_str();
    let created = send(
        client
            .put(format!("{base}/{INDEX}"))
            .json(&corpus::index_body()),
    )
    .await?;
    ensure!(
        created.0 == 200 && created.1["acknowledged"] == true,
        "create index answered {} {}",
        created.0,
        created.1
    );

    eprintln!(
        "xtask bench: ingesting {} documents, {} per bulk, {} clients",
        corpus.docs, args.batch, args.clients
    );
    let (ingest, bulk) = ingest(client, base, corpus, args.clients).await?;
    eprintln!("xtask bench: ingested in {ingest:.2?}; waiting until all are searchable");
    let visible_after = wait_visible(client, base, corpus.docs as u64).await?;

    verify_counts(client, base, corpus).await?;
    eprintln!(
        "xtask bench: {} timed term queries, {} timed two-term AND queries",
        args.searches, args.searches
    );
    let term = searches(client, base, corpus, args.searches, false).await?;
    let and = searches(client, base, corpus, args.searches, true).await?;
    Ok(Measured {
        ingest,
        bulk,
        visible_after,
        term,
        and,
    })
}

/// Sends one request; returns status and JSON body (Null when the body is not JSON).
pub(crate) async fn send(req: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
    let resp = req.send().await.context("request failed")?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.context("reading a response failed")?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// All batches through `clients` concurrent senders; returns the wall time and per-bulk latency.
async fn ingest(
    client: &reqwest::Client,
    base: &str,
    corpus: &Corpus,
    clients: usize,
) -> anyhow::Result<(Duration, Latency)> {
    let batches = Arc::new((corpus.batches.clone(), corpus.batch_docs.clone()));
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{base}/_bulk");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, batches, next, url) =
            (client.clone(), batches.clone(), next.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = batches.0.get(i) else {
                    return anyhow::Ok(times);
                };
                let t = Instant::now();
                let req = client
                    .post(&url)
                    .header("content-type", "application/x-ndjson")
                    .body(body.clone());
                let (status, answer) = send(req).await?;
                times.push(t.elapsed());
                check_bulk(i, status, &answer, batches.1[i])?;
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.context("a bulk client panicked")??);
    }
    Ok((started.elapsed(), Latency::from(all)))
}

/// Checks a `_bulk` answer: 200, `errors: false`, one successful item per document.
pub(crate) fn check_bulk(
    batch: usize,
    status: u16,
    answer: &Value,
    docs: usize,
) -> anyhow::Result<()> {
    ensure!(status == 200, "bulk {batch} answered {status}: {answer}");
    let items = answer["items"]
        .as_array()
        .with_context(|| format!("bulk {batch} has no items: {answer}"))?;
    ensure!(
        items.len() == docs,
        "bulk {batch}: {} items for {docs} documents",
        items.len()
    );
    if answer["errors"] != false {
        let first = items
            .iter()
            .find(|i| i["index"]["error"].is_object())
            .unwrap_or(&Value::Null);
        bail!(
            "bulk {batch} answered errors={}; first failed item: {first}",
            answer["errors"]
        );
    }
    for item in items {
        let s = item["index"]["status"].as_u64();
        ensure!(
            matches!(s, Some(200 | 201)),
            "bulk {batch}: item without success status: {item}"
        );
    }
    Ok(())
}

/// Waits, without forcing a refresh, until `_count` reaches `docs` (refresh_interval 1s).
async fn wait_visible(client: &reqwest::Client, base: &str, docs: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let (status, answer) = send(client.get(format!("{base}/{INDEX}/_count"))).await?;
        ensure!(status == 200, "_count answered {status}: {answer}");
        let count = answer["count"]
            .as_u64()
            .with_context(|| format!("_count without count: {answer}"))?;
        ensure!(
            count <= docs,
            "_count says {count} documents, more than the {docs} indexed"
        );
        if count == docs {
            return Ok(started.elapsed());
        }
        if started.elapsed() > VISIBLE_TIMEOUT {
            bail!(
                "only {count} of {docs} documents searchable {VISIBLE_TIMEOUT:?} after ingest (refresh_interval 1s)"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn term_query(cat: usize) -> Value {
    json!({ "query": { "term": { "category": corpus::category(cat) } } })
}

fn and_query(cat: usize, tag: usize) -> Value {
    json!({ "query": { "bool": { "must": [
        { "term": { "category": corpus::category(cat) } },
        { "term": { "tags": corpus::tag(tag) } }
    ] } } })
}

/// Exact totals for every category and every (category, tag) pair.
async fn verify_counts(
    client: &reqwest::Client,
    base: &str,
    corpus: &Corpus,
) -> anyhow::Result<()> {
    let url = format!("{base}/{INDEX}/_search");
    let exact = |mut q: Value| {
        q["track_total_hits"] = json!(true);
        q["size"] = json!(0);
        q
    };
    for cat in 0..CATEGORIES {
        let (status, answer) = send(client.post(&url).json(&exact(term_query(cat)))).await?;
        check_total(
            status,
            &answer,
            corpus.category_counts[cat],
            true,
            &format!("term category=cat-{cat}"),
        )?;
        for tag in 0..TAGS {
            let (status, answer) =
                send(client.post(&url).json(&exact(and_query(cat, tag)))).await?;
            let what = format!("category=cat-{cat} AND tags={}", corpus::tag(tag));
            check_total(status, &answer, corpus.pair_counts[cat][tag], true, &what)?;
        }
    }
    Ok(())
}

/// Checks `hits.total` and the page against the generator's count. `exact`: the query asked
/// `track_total_hits: true, size: 0`; otherwise ES defaults apply (size 10, totals exact up
/// to 10,000 and possibly a lower bound above).
fn check_total(
    status: u16,
    answer: &Value,
    expected: u64,
    exact: bool,
    what: &str,
) -> anyhow::Result<()> {
    ensure!(status == 200, "{what}: search answered {status}: {answer}");
    let total = &answer["hits"]["total"];
    let value = total["value"]
        .as_u64()
        .with_context(|| format!("{what}: no hits.total.value in {answer}"))?;
    let ok = match total["relation"].as_str() {
        Some("eq") => value == expected,
        Some("gte") if !exact => {
            (TRACK_TOTAL_HITS_DEFAULT.min(expected)..=expected).contains(&value)
        }
        _ => false,
    };
    ensure!(
        ok,
        "{what}: expected {expected} hits, server says {value} ({})",
        total["relation"]
    );
    let page = answer["hits"]["hits"]
        .as_array()
        .with_context(|| format!("{what}: no hits.hits in {answer}"))?;
    let want = if exact { 0 } else { expected.min(10) };
    ensure!(
        page.len() as u64 == want,
        "{what}: expected {want} hits on the page, got {}",
        page.len()
    );
    Ok(())
}

/// `n` timed searches (after a warm-up), cycling through every value; each answer checked.
async fn searches(
    client: &reqwest::Client,
    base: &str,
    corpus: &Corpus,
    n: usize,
    and: bool,
) -> anyhow::Result<Latency> {
    let url = format!("{base}/{INDEX}/_search");
    let mut times = Vec::with_capacity(n);
    for i in 0..WARM_UP + n {
        let (cat, tag) = (i % CATEGORIES, (i / CATEGORIES) % TAGS);
        let (query, expected) = if and {
            (and_query(cat, tag), corpus.pair_counts[cat][tag])
        } else {
            (term_query(cat), corpus.category_counts[cat])
        };
        let body = serde_json::to_vec(&query)?;
        let t = Instant::now();
        let resp = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .context("search failed")?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .context("reading a search answer failed")?;
        let took = t.elapsed();
        let answer: Value =
            serde_json::from_slice(&bytes).context("a search answer is not JSON")?;
        check_total(status, &answer, expected, false, &format!("search {i}"))?;
        if i >= WARM_UP {
            times.push(took);
        }
    }
    Ok(Latency::from(times))
}
