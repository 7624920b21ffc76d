//! Durability faults against a real `ferryd`: `kill -9` and restart on the same data dir,
//! SIGTERM and restart; and the process as it starts (it re-executes itself once with its
//! allocator's tunables). Each test's doc comment says what it proves.
//!
//! "Acknowledged" means the client got a 2xx answer; a write that was in flight when the
//! process died may or may not be there, and the tests only speak about acknowledged ones.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use ferry_tests::ops::{count, create_index};
use ferry_tests::{Http, Resp, TestNode, wait_until};
use serde_json::{Value, json};

/// What an acknowledged write left: `_seq_no`, `_primary_term`, `_version`, source.
#[derive(Debug, Clone, PartialEq)]
struct Acked {
    seq_no: u64,
    term: u64,
    version: u64,
    source: Value,
}

#[track_caller]
fn acked(resp: &Resp, source: Value) -> Acked {
    let b = &resp.body;
    let field = |k: &str| b[k].as_u64().unwrap_or_else(|| panic!("no {k} in {resp}"));
    Acked {
        seq_no: field("_seq_no"),
        term: field("_primary_term"),
        version: field("_version"),
        source,
    }
}

/// Checks every expected document (None = deleted) with realtime GETs.
async fn verify(
    http: &Http,
    index: &str,
    expected: &BTreeMap<String, Option<Acked>>,
) -> Result<()> {
    let mut problems = Vec::new();
    for (id, want) in expected {
        let r = http.get(&format!("/{index}/_doc/{id}")).await?;
        match want {
            None if r.status == 404 => {}
            None => problems.push(format!("{id}: deleted before the crash but found: {r}")),
            Some(w) => {
                if r.status != 200 {
                    problems.push(format!("{id}: acknowledged but missing: {r}"));
                    continue;
                }
                let got = acked(&r, r.body["_source"].clone());
                if &got != w {
                    problems.push(format!("{id}: expected {w:?}, got {got:?}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} document(s) differ after restart:\n{}",
        problems.len(),
        problems.join("\n")
    );
    Ok(())
}

async fn durable_index(node: &TestNode, name: &str) -> Result<()> {
    create_index(
        node,
        name,
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": {"properties": {"title": {"type": "text"}, "i": {"type": "long"}}}}),
    )
    .await?;
    Ok(())
}

/// Proves: no acknowledged single-document write — index, overwrite, partial update or
/// delete — is lost when the process is SIGKILLed with no chance to flush, and every
/// document keeps the `_seq_no`, `_primary_term` and `_version` it was acknowledged with,
/// across two crashes in a row; sequence numbers continue densely after each restart, and
/// the search index is rebuilt to match.
#[tokio::test]
async fn acknowledged_single_writes_survive_kill9() -> Result<()> {
    let mut node = TestNode::start().await?;
    durable_index(&node, "dur").await?;
    let mut expected: BTreeMap<String, Option<Acked>> = BTreeMap::new();
    let mut last_seq = 0;
    for i in 0..60u64 {
        let doc = json!({"i": i, "title": format!("document {i}")});
        let r = node.put(&format!("/dur/_doc/{i}"), &doc).await?;
        r.assert_status(201);
        let a = acked(&r, doc);
        last_seq = a.seq_no;
        expected.insert(i.to_string(), Some(a));
    }
    for i in 0..10u64 {
        let doc = json!({"i": i, "title": format!("overwritten {i}")});
        let r = node.put(&format!("/dur/_doc/{i}"), &doc).await?;
        r.assert_status(200);
        let a = acked(&r, doc);
        last_seq = a.seq_no;
        expected.insert(i.to_string(), Some(a));
    }
    for i in 10..15u64 {
        let r = node
            .post(
                &format!("/dur/_update/{i}"),
                &json!({"doc": {"extra": true}}),
            )
            .await?;
        r.assert_status(200);
        let a = acked(
            &r,
            json!({"i": i, "title": format!("document {i}"), "extra": true}),
        );
        last_seq = a.seq_no;
        expected.insert(i.to_string(), Some(a));
    }
    for i in 15..20u64 {
        let r = node.delete(&format!("/dur/_doc/{i}")).await?;
        r.assert_status(200);
        last_seq = r.body["_seq_no"]
            .as_u64()
            .unwrap_or_else(|| panic!("no _seq_no: {r}"));
        expected.insert(i.to_string(), None);
    }
    let live = expected.values().filter(|v| v.is_some()).count() as u64;

    for round in 0..2 {
        node.kill9().await?;
        node.restart().await?;
        verify(&node, "dur", &expected).await?;
        assert_eq!(
            count(&node, "dur").await?,
            live + round,
            "search must see every live document after recovery"
        );
        let doc = json!({"i": 1000 + round, "title": "after restart"});
        let r = node.put(&format!("/dur/_doc/new{round}"), &doc).await?;
        r.assert_status(201);
        let a = acked(&r, doc);
        assert_eq!(
            a.seq_no,
            last_seq + 1,
            "sequence numbers continue densely after a crash: {r}"
        );
        let prev_term = expected
            .values()
            .flatten()
            .map(|a| a.term)
            .max()
            .unwrap_or(1);
        assert!(
            a.term >= prev_term,
            "the primary term never goes backwards: {r}"
        );
        last_seq = a.seq_no;
        expected.insert(format!("new{round}"), Some(a));
    }
    Ok(())
}

/// Proves: every document of acknowledged `_bulk` requests survives `kill -9` with the
/// `_seq_no`, `_primary_term` and `_version` its bulk item reported, even though no refresh
/// or flush was ever requested, and the recovered search index counts all of them.
#[tokio::test]
async fn acknowledged_bulk_writes_survive_kill9() -> Result<()> {
    let mut node = TestNode::start().await?;
    durable_index(&node, "bulkdur").await?;
    let mut expected = BTreeMap::new();
    for batch in 0..4u64 {
        let mut lines = Vec::new();
        let mut sources = Vec::new();
        for j in 0..250u64 {
            let i = batch * 250 + j;
            let doc = json!({"i": i, "title": format!("bulk document {i}")});
            lines.push(json!({"index": {"_index": "bulkdur", "_id": format!("b{i}")}}));
            lines.push(doc.clone());
            sources.push((format!("b{i}"), doc));
        }
        let r = node.bulk("/_bulk", &lines).await?;
        r.assert_status(200);
        assert_eq!(r.body["errors"], json!(false), "{r}");
        let items = r.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items: {r}"));
        for (item, (id, doc)) in items.iter().zip(sources) {
            let it = &item["index"];
            let a = Acked {
                seq_no: it["_seq_no"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no _seq_no in {it}")),
                term: it["_primary_term"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no _primary_term in {it}")),
                version: it["_version"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no _version in {it}")),
                source: doc,
            };
            expected.insert(id, Some(a));
        }
    }
    node.kill9().await?;
    node.restart().await?;
    verify(&node, "bulkdur", &expected).await?;
    assert_eq!(count(&node, "bulkdur").await?, 1000);
    let r = node
        .post(
            "/bulkdur/_search",
            &json!({"query": {"match_phrase": {"title": "bulk document 777"}}}),
        )
        .await?;
    assert_eq!(ferry_tests::es::hit_ids(&r), ["b777"], "{r}");
    Ok(())
}

/// Proves: when the process is SIGKILLed while two clients are writing (single documents
/// and bulks, concurrently), every write that was acknowledged before the kill is present
/// after restart with its acknowledged `_seq_no`, `_primary_term` and `_version`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_concurrent_ingest_loses_nothing_acknowledged() -> Result<()> {
    let mut node = TestNode::start().await?;
    durable_index(&node, "live").await?;
    let acks: Arc<Mutex<BTreeMap<String, Option<Acked>>>> = Arc::default();
    let unexpected: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    let single = {
        let (http, acks, unexpected, stop) = (
            node.http().clone(),
            acks.clone(),
            unexpected.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let doc = json!({"i": i, "title": "single"});
                match http.put(&format!("/live/_doc/s{i}"), &doc).await {
                    Ok(r) if r.status == 201 => {
                        acks.lock()
                            .expect("not poisoned")
                            .insert(format!("s{i}"), Some(acked(&r, doc)));
                    }
                    Ok(r) => {
                        unexpected
                            .lock()
                            .expect("not poisoned")
                            .push(format!("{r}"));
                        break;
                    }
                    Err(_) => break,
                }
                i += 1;
            }
        })
    };
    let bulk = {
        let (http, acks, unexpected, stop) = (
            node.http().clone(),
            acks.clone(),
            unexpected.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut batch = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut lines = Vec::new();
                let mut docs = Vec::new();
                for j in 0..20u64 {
                    let id = format!("b{batch}-{j}");
                    let doc = json!({"i": j, "title": "bulk"});
                    lines.push(json!({"index": {"_index": "live", "_id": id}}));
                    lines.push(doc.clone());
                    docs.push((id, doc));
                }
                match http.bulk("/_bulk", &lines).await {
                    Ok(r) if r.status == 200 && r.body["errors"] == json!(false) => {
                        let mut acks = acks.lock().expect("not poisoned");
                        for (item, (id, doc)) in
                            r.body["items"].as_array().into_iter().flatten().zip(docs)
                        {
                            let it = &item["index"];
                            let a = Acked {
                                seq_no: it["_seq_no"].as_u64().unwrap_or(u64::MAX),
                                term: it["_primary_term"].as_u64().unwrap_or(u64::MAX),
                                version: it["_version"].as_u64().unwrap_or(u64::MAX),
                                source: doc,
                            };
                            acks.insert(id, Some(a));
                        }
                    }
                    Ok(r) => {
                        unexpected
                            .lock()
                            .expect("not poisoned")
                            .push(format!("{r}"));
                        break;
                    }
                    Err(_) => break,
                }
                batch += 1;
            }
        })
    };

    let progress = acks.clone();
    wait_until(Duration::from_secs(120), "300 acknowledged writes", || {
        let n = progress.lock().expect("not poisoned").len();
        async move { n >= 300 }
    })
    .await?;
    node.kill9().await?;
    stop.store(true, Ordering::Relaxed);
    single.await?;
    bulk.await?;
    let unexpected = unexpected.lock().expect("not poisoned").clone();
    assert!(
        unexpected.is_empty(),
        "writes failed before the kill: {unexpected:?}"
    );

    node.restart().await?;
    let expected = acks.lock().expect("not poisoned").clone();
    assert!(
        expected.values().flatten().all(|a| a.seq_no != u64::MAX),
        "a bulk item lacked metadata"
    );
    verify(&node, "live", &expected).await?;
    Ok(())
}

/// Proves: index definitions — uuid, settings, typed and typeless mappings, dynamic
/// mapping updates, explicit `_mapping` and `_settings` updates, the closed state — survive
/// both a graceful restart and a `kill -9` right after they were acknowledged.
#[tokio::test]
async fn index_definitions_and_mappings_survive_restarts() -> Result<()> {
    let mut node = TestNode::start().await?;
    create_index(
        &node,
        "typed",
        json!({"settings": {"number_of_shards": 2, "number_of_replicas": 0, "refresh_interval": "5s"},
               "mappings": {"_doc": {"properties": {"title": {"type": "text"}, "n": {"type": "integer"}}}}}),
    )
    .await?;
    create_index(&node, "dyn", json!({"settings": {"number_of_replicas": 0}})).await?;
    create_index(
        &node,
        "closed",
        json!({"settings": {"number_of_replicas": 0}}),
    )
    .await?;
    node.put(
        "/dyn/_doc/1",
        &json!({"name": "x", "count": 3, "at": "2024-05-01T00:00:00Z"}),
    )
    .await?
    .assert_status(201);
    node.put("/closed/_doc/1", &json!({"k": "v"}))
        .await?
        .assert_status(201);
    node.put(
        "/typed/_mapping",
        &json!({"properties": {"tag": {"type": "keyword"}}}),
    )
    .await?
    .assert_status(200);
    node.put(
        "/typed/_settings",
        &json!({"index": {"refresh_interval": "2s"}}),
    )
    .await?
    .assert_status(200);
    node.post_empty("/closed/_close").await?.assert_status(200);

    let snapshot = |node: &TestNode| {
        let http = node.http().clone();
        async move {
            let r = http.get("/typed,dyn").await?;
            r.assert_status(200);
            anyhow::Ok(r.body)
        }
    };
    let before = snapshot(&node).await?;
    assert_eq!(
        before["typed"]["mappings"]["properties"]["tag"],
        json!({"type": "keyword"})
    );
    assert_eq!(
        before["typed"]["settings"]["index"]["refresh_interval"],
        json!("2s")
    );

    let status = node.sigterm().await?;
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    node.restart().await?;
    assert_eq!(
        snapshot(&node).await?,
        before,
        "index definitions changed across a graceful restart"
    );
    let r = node.get("/closed/_doc/1").await?;
    ferry_tests::es::assert_es_error(&r, 400, &["index_closed_exception"]);

    // Acknowledged definition changes survive a crash straight after.
    node.put(
        "/typed/_mapping",
        &json!({"properties": {"late": {"type": "long"}}}),
    )
    .await?
    .assert_status(200);
    create_index(
        &node,
        "late",
        json!({"mappings": {"properties": {"z": {"type": "keyword"}}}}),
    )
    .await?;
    node.post_empty("/closed/_open").await?.assert_status(200);
    node.kill9().await?;
    node.restart().await?;
    let after = snapshot(&node).await?;
    assert_eq!(
        after["typed"]["mappings"]["properties"]["late"],
        json!({"type": "long"}),
        "{after}"
    );
    assert_eq!(
        after["typed"]["settings"]["index"]["uuid"],
        before["typed"]["settings"]["index"]["uuid"]
    );
    let late = node.get("/late/_mapping").await?;
    assert_eq!(
        late.body["late"]["mappings"]["properties"]["z"],
        json!({"type": "keyword"}),
        "{late}"
    );
    let r = node.get("/closed/_doc/1").await?;
    r.assert_status(200);
    assert_eq!(r.body["_source"], json!({"k": "v"}), "{r}");
    Ok(())
}

/// Proves: SIGTERM is a graceful shutdown — the process exits 0 — and the restarted node
/// keeps every document, its cluster identity (`cluster_uuid`), a search index that sees
/// everything, and writes its logs to the per-node log directory.
#[tokio::test]
async fn sigterm_exits_zero_and_restarts_clean() -> Result<()> {
    let mut node = TestNode::start().await?;
    durable_index(&node, "graceful").await?;
    let uuid = node.get("/").await?.body["cluster_uuid"].clone();
    let mut expected = BTreeMap::new();
    for i in 0..25u64 {
        let doc = json!({"i": i, "title": "graceful"});
        let r = node.put(&format!("/graceful/_doc/{i}"), &doc).await?;
        r.assert_status(201);
        expected.insert(i.to_string(), Some(acked(&r, doc)));
    }
    let status = node.sigterm().await?;
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM must exit 0, got {status}\n{}",
        node.logs()
    );

    let logs: Vec<_> = std::fs::read_dir(node.log_dir())?
        .filter_map(|e| e.ok())
        .collect();
    assert!(
        logs.iter()
            .any(|e| e.metadata().is_ok_and(|m| m.is_file() && m.len() > 0)),
        "ferryd wrote nothing to its log directory {}",
        node.log_dir().display()
    );

    node.restart().await?;
    assert_eq!(
        node.get("/").await?.body["cluster_uuid"],
        uuid,
        "cluster identity changed across a restart"
    );
    verify(&node, "graceful", &expected).await?;
    // Search sees every document after restart without an explicit refresh being needed
    // to recover (refresh here only publishes, the data must already be there).
    assert_eq!(count(&node, "graceful").await?, 25);
    let status = node.sigterm().await?;
    assert_eq!(
        status.code(),
        Some(0),
        "the second SIGTERM must exit 0 too, got {status}"
    );
    Ok(())
}

/// The `GLIBC_TUNABLES` the running process `pid` has, from `/proc/<pid>/environ`.
fn tunables_of(pid: u32) -> Result<Option<String>> {
    let environ = std::fs::read(format!("/proc/{pid}/environ"))?;
    Ok(environ
        .split(|b| *b == 0)
        .filter_map(|kv| kv.strip_prefix(b"GLIBC_TUNABLES="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .next())
}

/// `ferryd` runs with glibc's trim and mmap thresholds raised (it re-executes itself once
/// at start, keeping its pid and arguments: the pid the test spawned is the serving
/// process), and an operator's own malloc tunables are left as they are.
#[tokio::test]
async fn ferryd_runs_with_malloc_tunables_unless_the_operator_set_some() -> Result<()> {
    let node = TestNode::start().await?;
    let pid = node.pid().expect("a running node has a pid");
    // glibc (2.36) cuts the string it parsed at the first ':' in place, so the process's
    // environment shows the first tunable only (`ld.so --list-tunables` shows both apply).
    let tunables = tunables_of(pid)?.unwrap_or_default();
    assert!(
        tunables.starts_with("glibc.malloc.trim_threshold=134217728"),
        "GLIBC_TUNABLES of the serving process: {tunables:?}"
    );
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))?;
    assert!(
        cmdline.contains(&node.http_port().to_string()),
        "arguments kept: {cmdline:?}"
    );
    assert_eq!(node.http().get("/").await?.status, 200);

    let own = "glibc.malloc.arena_max=2";
    let node = TestNode::builder()
        .env("GLIBC_TUNABLES", own)
        .start()
        .await?;
    let pid = node.pid().expect("a running node has a pid");
    assert_eq!(tunables_of(pid)?.as_deref(), Some(own));
    Ok(())
}
