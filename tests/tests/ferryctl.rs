//! `ferryctl` against real nodes over gRPC: `health`, `index create|list|get|delete`,
//! `doc put|get|delete`, `bulk <file>`, `search <index> <query-json>`, `--output json|table`,
//! failures that exit non-zero with `error:` on stderr, and the remote-cluster and CCR
//! commands between a `us-cluster` leader node and a `japan-cluster` follower node.
//!
//! The CLI's JSON layout is its own; the tests check its *content* (the document, the index
//! name, the hit) and cross-check every change through the REST API.

use anyhow::Result;
use ferry_tests::es::{cat_rows, contains_value};
use ferry_tests::ops::{count, create_index};
use ferry_tests::{CtlOutput, Ferryctl, TestNode, wait_until};
use serde_json::{Value, json};

#[track_caller]
fn assert_failed_with_error(out: &ferry_tests::CtlOutput) {
    assert!(!out.success(), "expected a failure: {out}");
    assert!(
        out.stderr.contains("error:"),
        "a failure must print `error:` on stderr: {out}"
    );
}

#[tokio::test]
async fn health_in_json_and_table() -> Result<()> {
    let node = TestNode::start().await?;
    let ctl = node.ctl()?;
    let v = ctl.json(&["health"])?;
    assert!(
        v.to_string().to_lowercase().contains("green"),
        "health of an empty node is green: {v}"
    );
    let out = ctl.run(&["--output", "table", "health"])?;
    out.assert_success();
    assert!(out.stdout.to_lowercase().contains("green"), "{out}");
    Ok(())
}

#[tokio::test]
async fn index_create_list_get_delete() -> Result<()> {
    let node = TestNode::start().await?;
    let ctl = node.ctl()?;
    ctl.run(&["index", "create", "books"])?.assert_success();
    node.head("/books").await?.assert_status(200);

    let list = ctl.json(&["index", "list"])?;
    assert!(
        contains_value(&list, &json!("books")),
        "index list lacks books: {list}"
    );
    let out = ctl.run(&["--output", "table", "index", "list"])?;
    out.assert_success();
    assert!(out.stdout.contains("books"), "{out}");

    let got = ctl.json(&["index", "get", "books"])?;
    assert!(
        contains_value(&got, &json!("books")),
        "index get lacks the name: {got}"
    );

    assert_failed_with_error(&ctl.run(&["index", "create", "books"])?);
    assert_failed_with_error(&ctl.run(&["index", "create", "Bad"])?);
    node.head("/Bad").await?.assert_status(404);

    ctl.run(&["index", "delete", "books"])?.assert_success();
    node.head("/books").await?.assert_status(404);
    assert_failed_with_error(&ctl.run(&["index", "get", "books"])?);
    assert_failed_with_error(&ctl.run(&["index", "delete", "books"])?);
    let list = ctl.json(&["index", "list"])?;
    assert!(
        !contains_value(&list, &json!("books")),
        "deleted index still listed: {list}"
    );
    Ok(())
}

#[tokio::test]
async fn doc_put_get_delete() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "books",
        json!({"settings": {"number_of_replicas": 0}}),
    )
    .await?;
    let ctl = node.ctl()?;
    let source = json!({"title": "ferry tales", "pages": 321});
    ctl.run(&["doc", "put", "books", "1", &source.to_string()])?
        .assert_success();
    let r = node.get("/books/_doc/1").await?;
    r.assert_status(200);
    assert_eq!(r.body["_source"], source, "{r}");

    let got = ctl.json(&["doc", "get", "books", "1"])?;
    assert!(
        contains_value(&got, &source),
        "doc get does not show the source: {got}"
    );

    assert_failed_with_error(&ctl.run(&["doc", "put", "books", "2", "{not json"])?);
    assert_failed_with_error(&ctl.run(&["doc", "put", "missing-index-Bad", "1", "{}"])?);
    node.get("/books/_doc/2").await?.assert_status(404);

    ctl.run(&["doc", "delete", "books", "1"])?.assert_success();
    node.get("/books/_doc/1").await?.assert_status(404);
    Ok(())
}

#[tokio::test]
async fn bulk_from_a_file_then_search() -> Result<()> {
    let node = TestNode::start().await?;
    create_index(
        &node,
        "books",
        json!({"settings": {"number_of_replicas": 0}, "mappings": {"properties": {"n": {"type": "long"}, "title": {"type": "text"}}}}),
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("books.ndjson");
    let mut lines = Vec::new();
    for n in 1..=5 {
        lines.push(json!({"index": {"_index": "books", "_id": n.to_string()}}));
        lines.push(json!({"n": n, "title": format!("volume {n}")}));
    }
    std::fs::write(&file, ferry_tests::es::ndjson(&lines))?;
    let path = file.to_str().expect("temp paths are UTF-8 here");
    ctl_ok(&node.ctl()?, &["bulk", path])?;
    assert_eq!(count(&node, "books").await?, 5);

    let ctl = node.ctl()?;
    let hits = ctl.json(&["search", "books", r#"{"query":{"term":{"n":3}}}"#])?;
    assert!(
        contains_value(&hits, &json!({"n": 3, "title": "volume 3"})),
        "search does not show the hit: {hits}"
    );
    assert!(
        !contains_value(&hits, &json!({"n": 4, "title": "volume 4"})),
        "search shows a non-matching doc: {hits}"
    );
    let out = ctl.run(&[
        "--output",
        "table",
        "search",
        "books",
        r#"{"query":{"match":{"title":"volume"}}}"#,
    ])?;
    out.assert_success();
    assert_failed_with_error(&ctl.run(&["search", "books", r#"{"query":{"bogus":{}}}"#])?);
    assert_failed_with_error(&ctl.run(&["bulk", "/nonexistent/file.ndjson"])?);
    Ok(())
}

fn ctl_ok(ctl: &Ferryctl, args: &[&str]) -> Result<()> {
    ctl.run(args)?.assert_success();
    Ok(())
}

#[tokio::test]
async fn an_unreachable_node_is_an_error() -> Result<()> {
    // Bind and drop a port so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let ctl = Ferryctl::new(format!("http://127.0.0.1:{port}"))?;
    assert_failed_with_error(&ctl.run(&["health"])?);
    Ok(())
}

use ferry_tests::ccr::CCR_WAIT;

/// The `us-cluster` leader with `products` (one document), and the `japan-cluster`
/// follower whose remote `leader` (set with `ferryctl remote set`) is connected.
async fn leader_and_follower() -> Result<(TestNode, TestNode)> {
    let us = ferry_tests::ccr::cluster_node("us-cluster").await?;
    let japan = ferry_tests::ccr::cluster_node("japan-cluster").await?;
    let seed = format!("127.0.0.1:{}", us.transport_port());
    let set = japan
        .ctl()?
        .json(&["remote", "set", "leader", "--seeds", &seed])?;
    assert_eq!(set["acknowledged"], json!(true), "{set}");
    let ctl = japan.ctl()?;
    wait_until(CCR_WAIT, "remote leader connected", || {
        let info = ctl.json(&["remote", "list"]);
        async move { info.is_ok_and(|v| v["leader"]["connected"] == json!(true)) }
    })
    .await?;
    // The table names the cluster the handshake pinned.
    let table = ctl.run(&["--output", "table", "remote", "list"])?;
    table.assert_success();
    let row = table.stdout.lines().find(|l| l.starts_with("leader"));
    assert!(
        row.is_some_and(|r| r.trim_end().ends_with("us-cluster")),
        "{table}"
    );
    create_index(
        &us,
        "products",
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}}),
    )
    .await?;
    put_doc(&us, "1").await?;
    Ok((us, japan))
}

async fn put_doc(node: &TestNode, id: &str) -> Result<()> {
    let r = node
        .put(
            &format!("/products/_doc/{id}"),
            &json!({"name": format!("item {id}")}),
        )
        .await?;
    assert_eq!(r.status, 201, "{r}");
    Ok(())
}

/// Waits until `index` on `node` serves document `id`.
async fn arrives(node: &TestNode, index: &str, id: &str) -> Result<()> {
    let path = format!("/{index}/_doc/{id}");
    wait_until(CCR_WAIT, &format!("{path} replicated"), || async {
        node.get(&path)
            .await
            .is_ok_and(|r| r.body["found"] == json!(true))
    })
    .await
}

/// The JSON a successful `--output json` call printed; fails the test otherwise.
#[track_caller]
fn supported(out: &CtlOutput) -> Option<Value> {
    assert!(out.success(), "the call must succeed: {out}");
    Some(serde_json::from_str(out.stdout.trim()).expect("--output json prints JSON"))
}

/// `remote set|list|remove`, `ccr follow`, `ccr stats`, `ccr pause`, `ccr resume` against
/// two real nodes: the follower serves the leader's documents written before and after a
/// pause/resume cycle, the tables show the connection and the shard's checkpoints, and
/// refused calls exit 1 with the Elasticsearch error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ccr_follow_stats_pause_resume_through_ferryctl() -> Result<()> {
    let (us, japan) = leader_and_follower().await?;
    let ctl = japan.ctl()?;
    let seed = format!("127.0.0.1:{}", us.transport_port());

    let settings = japan.get("/_cluster/settings?flat_settings=true").await?;
    assert_eq!(
        settings.body["persistent"]["cluster.remote.leader.seeds"],
        json!([seed]),
        "{settings}"
    );
    let list = ctl.run(&["remote", "list"])?;
    list.assert_success();
    let row = &cat_rows(&list.stdout)[1];
    assert_eq!(
        row[..4],
        ["leader", "true", "sniff", seed.as_str()],
        "{list}"
    );

    let followed = ctl.json(&[
        "ccr",
        "follow",
        "products-copy",
        "--remote",
        "leader",
        "--leader",
        "products",
        "-p",
        "read_poll_timeout=1s",
        "-p",
        "wait_for_active_shards=1",
    ])?;
    assert_eq!(
        followed["index_following_started"],
        json!(true),
        "{followed}"
    );
    arrives(&japan, "products-copy", "1").await?;
    put_doc(&us, "2").await?;
    arrives(&japan, "products-copy", "2").await?;

    let stats = ctl.json(&["ccr", "stats", "products-copy"])?;
    assert_eq!(
        stats["indices"][0]["index"],
        json!("products-copy"),
        "{stats}"
    );
    assert_eq!(
        stats["indices"][0]["shards"][0]["leader_index"],
        json!("products")
    );
    wait_until(CCR_WAIT, "stats table shows the follower caught up", || {
        let out = ctl.run(&["ccr", "stats", "products-copy"]);
        async move {
            out.is_ok_and(|out| {
                let rows = cat_rows(&out.stdout);
                out.success()
                    && rows.len() == 2
                    && rows[1][..5] == ["products-copy", "0", "1", "1", "0"]
                    && rows[1][6] == "active"
            })
        }
    })
    .await?;

    let paused = ctl.json(&["ccr", "pause", "products-copy"])?;
    assert_eq!(paused, json!({"acknowledged": true}));
    // Stats report shard tasks (none while paused, as ES); info shows the status.
    let out = ctl.run(&["ccr", "stats", "products-copy"])?;
    assert_failed_with_error(&out);
    assert!(out.stderr.contains("resource_not_found_exception"), "{out}");
    let out = ctl.run(&["ccr", "info", "products-copy"])?;
    out.assert_success();
    assert_eq!(
        cat_rows(&out.stdout)[1].last().map(String::as_str),
        Some("paused"),
        "{out}"
    );
    put_doc(&us, "3").await?;
    let resumed = ctl.json(&[
        "ccr",
        "resume",
        "products-copy",
        "-p",
        "max_read_request_operation_count=2",
    ])?;
    assert_eq!(resumed, json!({"acknowledged": true}));
    arrives(&japan, "products-copy", "3").await?;

    // Refusals: exit 1 with the Elasticsearch type on stderr, nothing changed.
    let again = ctl.run(&["ccr", "resume", "products-copy"])?;
    assert_failed_with_error(&again);
    assert!(
        again.stderr.contains("illegal_argument_exception"),
        "{again}"
    );
    let unknown = ctl.run(&[
        "ccr", "follow", "other", "--remote", "nope", "--leader", "products",
    ])?;
    assert_failed_with_error(&unknown);
    assert!(
        unknown.stderr.contains("no_such_remote_cluster_exception"),
        "{unknown}"
    );
    japan.head("/other").await?.assert_status(404);
    assert_failed_with_error(&ctl.run(&["ccr", "pause", "no-such-index"])?);

    ctl.run(&["remote", "remove", "leader"])?.assert_success();
    let remotes = ctl.json(&["remote", "list"])?;
    assert!(remotes.get("leader").is_none(), "{remotes}");
    let out = ctl.run(&["remote", "list"])?;
    assert_eq!(out.stdout, "no remote clusters\n", "{out}");
    Ok(())
}

/// `ccr info`, `ccr stats` (cluster), `ccr auto-follow ...`, `ccr promote`, `ccr unfollow`
/// and `ccr forget-follower` against two real nodes: each does what the CCR spec says
/// (checked through ferryctl and REST).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ccr_admin_calls_through_ferryctl() -> Result<()> {
    let (us, japan) = leader_and_follower().await?;
    let ctl = japan.ctl()?;
    let json_run = |args: &[&str]| {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        ctl.run(&all)
    };
    for follower in ["products-copy", "products-promoted"] {
        ctl.run(&[
            "ccr", "follow", follower, "--remote", "leader", "--leader", "products",
        ])?
        .assert_success();
        arrives(&japan, follower, "1").await?;
    }

    if let Some(info) = supported(&json_run(&["ccr", "info", "products-copy"])?) {
        let f = &info["follower_indices"][0];
        for (key, value) in [
            ("follower_index", "products-copy"),
            ("remote_cluster", "leader"),
            ("leader_index", "products"),
            ("status", "active"),
        ] {
            assert_eq!(f[key], json!(value), "{info}");
        }
    }
    if let Some(stats) = supported(&json_run(&["ccr", "stats"])?) {
        assert!(stats.get("auto_follow_stats").is_some(), "{stats}");
        assert!(
            contains_value(&stats["follow_stats"], &json!("products-copy")),
            "{stats}"
        );
    }

    let settings = japan
        .get("/products-copy/_settings?flat_settings=true")
        .await?;
    let uuid = settings.body["products-copy"]["settings"]["index.uuid"]
        .as_str()
        .expect("an index has a uuid")
        .to_owned();
    let forget = us.ctl()?.run(&[
        "--output",
        "json",
        "ccr",
        "forget-follower",
        "products",
        "--follower-cluster",
        "japan-cluster",
        "--follower-index",
        "products-copy",
        "--follower-index-uuid",
        &uuid,
        "--leader-remote-cluster",
        "leader",
    ])?;
    // On the leader, while products-copy still follows (its task re-takes the lease).
    if let Some(shards) = supported(&forget) {
        assert_eq!(shards["_shards"]["total"], json!(1), "{shards}");
        assert_eq!(shards["_shards"]["failed"], json!(0), "{shards}");
    }

    let put = json_run(&[
        "ccr",
        "auto-follow",
        "put",
        "logs",
        "--remote",
        "leader",
        "--pattern",
        "logs-*",
        "--follow-pattern",
        "{{leader_index}}-copy",
    ])?;
    if let Some(ack) = supported(&put) {
        assert_eq!(ack, json!({"acknowledged": true}));
        let active = |v: &Value| v["patterns"][0]["pattern"]["active"].clone();
        let got = ctl.json(&["ccr", "auto-follow", "get", "logs"])?;
        assert_eq!(got["patterns"][0]["name"], json!("logs"), "{got}");
        assert_eq!(
            got["patterns"][0]["pattern"]["remote_cluster"],
            json!("leader")
        );
        assert_eq!(active(&got), json!(true));
        ctl.run(&["ccr", "auto-follow", "pause", "logs"])?
            .assert_success();
        assert_eq!(
            active(&ctl.json(&["ccr", "auto-follow", "get", "logs"])?),
            json!(false)
        );
        ctl.run(&["ccr", "auto-follow", "resume", "logs"])?
            .assert_success();
        assert_eq!(
            active(&ctl.json(&["ccr", "auto-follow", "get", "logs"])?),
            json!(true)
        );
        create_index(
            &us,
            "logs-1",
            json!({"settings": {"number_of_replicas": 0}}),
        )
        .await?;
        wait_until(CCR_WAIT, "auto-follow creates logs-1-copy", || async {
            japan
                .head("/logs-1-copy")
                .await
                .is_ok_and(|r| r.status == 200)
        })
        .await?;
        ctl.run(&["ccr", "auto-follow", "delete", "logs"])?
            .assert_success();
        assert_failed_with_error(&ctl.run(&["ccr", "auto-follow", "get", "logs"])?);
    }

    if supported(&json_run(&["ccr", "promote", "products-promoted"])?).is_some() {
        let r = japan
            .put("/products-promoted/_doc/9", &json!({"name": "local"}))
            .await?;
        assert_eq!(r.status, 201, "a promoted follower takes writes: {r}");
    }

    ctl.run(&["ccr", "pause", "products-copy"])?
        .assert_success();
    japan
        .post_empty("/products-copy/_close")
        .await?
        .assert_status(200);
    if supported(&json_run(&["ccr", "unfollow", "products-copy"])?).is_some() {
        japan
            .post_empty("/products-copy/_open")
            .await?
            .assert_status(200);
        let r = japan
            .put("/products-copy/_doc/9", &json!({"name": "local"}))
            .await?;
        assert_eq!(r.status, 201, "an unfollowed index takes writes: {r}");
    }

    Ok(())
}
