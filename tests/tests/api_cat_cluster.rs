//! Cluster-level endpoints as Elasticsearch answers them: `GET /`, `_cluster/health` (fields,
//! per index, `wait_for_status` and its 408 timeout), `_cat/indices|nodes|shards|health` as
//! text (with and without `?v`) and `?format=json`, and Ferry's `/_health/live`,
//! `/_health/ready` and Prometheus `/metrics`.

use anyhow::Result;
use ferry_tests::TestNode;
use ferry_tests::es::cat_rows;
use ferry_tests::ops::{count, create_index, index_settings};
use serde_json::{Value, json};

async fn named_node() -> Result<TestNode> {
    TestNode::builder()
        .args(["--cluster-name", "test-cluster", "--node-name", "node-a"])
        .start()
        .await
}

#[tokio::test]
async fn root_info() -> Result<()> {
    let node = named_node().await?;
    let r = node.get("/").await?;
    r.assert_status(200);
    let b = &r.body;
    assert_eq!(b["name"], json!("node-a"), "{r}");
    assert_eq!(b["cluster_name"], json!("test-cluster"), "{r}");
    let uuid = b["cluster_uuid"].as_str().unwrap_or_default();
    assert!(
        !uuid.is_empty() && uuid != "_na_",
        "cluster_uuid must be set: {r}"
    );
    let number = b["version"]["number"].as_str().unwrap_or_default();
    let parts: Vec<&str> = number.split(['.', '-']).take(3).collect();
    assert!(
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())),
        "version.number must be MAJOR.MINOR.PATCH: {r}"
    );
    assert_eq!(b["version"]["distribution"], json!("ferry"), "{r}");
    assert!(
        b["version"]["build_hash"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "{r}"
    );
    assert!(b["tagline"].as_str().is_some_and(|t| !t.is_empty()), "{r}");

    node.head("/").await?.assert_status(200);
    let pretty = node.get("/?pretty").await?;
    pretty.assert_status(200);
    assert!(
        pretty.text.trim_end().contains('\n'),
        "?pretty must pretty-print: {pretty}"
    );
    assert_eq!(pretty.body, r.body, "?pretty changes only the layout");
    Ok(())
}

/// Every answer carries `X-Elastic-Product: Elasticsearch` (ES 7.14+ official clients
/// refuse a server without it): successes, HEAD, `_cat` text, ES errors and routing errors.
#[tokio::test]
async fn every_answer_carries_the_elastic_product_header() -> Result<()> {
    let node = TestNode::start().await?;
    let product = |r: &ferry_tests::Resp| r.header("x-elastic-product").map(str::to_owned);
    let elasticsearch = Some("Elasticsearch".to_owned());

    let r = node.get("/").await?;
    r.assert_status(200);
    assert_eq!(product(&r), elasticsearch, "GET /: {r}");
    let r = node.head("/").await?;
    r.assert_status(200);
    assert_eq!(product(&r), elasticsearch, "HEAD /: {r}");
    let r = node.get("/_cat/health").await?;
    r.assert_status(200);
    assert_eq!(product(&r), elasticsearch, "_cat text: {r}");

    let r = node.get("/no-such-index/_doc/1").await?;
    r.assert_status(404);
    assert_eq!(r.error_type(), Some("index_not_found_exception"), "{r}");
    assert_eq!(product(&r), elasticsearch, "an error answer: {r}");
    let r = node.get("/_no_such_endpoint/at/all").await?;
    r.assert_status(400);
    assert_eq!(product(&r), elasticsearch, "no handler: {r}");
    Ok(())
}

#[tokio::test]
async fn cluster_health_fields_levels_and_waits() -> Result<()> {
    let node = named_node().await?;
    let health = |path: &'static str| {
        let node = &node;
        async move {
            let r = node.get(path).await?;
            anyhow::Ok(r)
        }
    };
    let r = health("/_cluster/health").await?;
    r.assert_status(200);
    let expect_empty = json!({
        "cluster_name": "test-cluster", "status": "green", "timed_out": false,
        "number_of_nodes": 1, "number_of_data_nodes": 1,
        "active_primary_shards": 0, "active_shards": 0, "relocating_shards": 0,
        "initializing_shards": 0, "unassigned_shards": 0
    });
    for (k, v) in expect_empty.as_object().expect("literal object") {
        assert_eq!(&r.body[k], v, "{k}: {r}");
    }

    create_index(
        &node,
        "a",
        json!({"settings": {"number_of_shards": 2, "number_of_replicas": 0}}),
    )
    .await?;
    let r = health("/_cluster/health?wait_for_status=green").await?;
    r.assert_status(200);
    assert_eq!(r.body["status"], json!("green"), "{r}");
    assert_eq!(r.body["active_primary_shards"], json!(2), "{r}");
    assert_eq!(r.body["active_shards"], json!(2), "{r}");

    // One replica cannot be placed on a single node: yellow, one unassigned shard.
    create_index(
        &node,
        "b",
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 1}}),
    )
    .await?;
    let r = health("/_cluster/health?wait_for_status=yellow").await?;
    r.assert_status(200);
    assert_eq!(r.body["status"], json!("yellow"), "{r}");
    assert_eq!(r.body["timed_out"], json!(false), "{r}");
    assert_eq!(r.body["active_primary_shards"], json!(3), "{r}");
    assert_eq!(r.body["active_shards"], json!(3), "{r}");
    assert_eq!(r.body["unassigned_shards"], json!(1), "{r}");

    let r = health("/_cluster/health/a").await?;
    assert_eq!(
        (
            r.body["status"].clone(),
            r.body["active_primary_shards"].clone()
        ),
        (json!("green"), json!(2)),
        "{r}"
    );
    let r = health("/_cluster/health/b").await?;
    assert_eq!(r.body["status"], json!("yellow"), "{r}");

    // Waiting for green that cannot come times out with 408 and says so.
    let r = health("/_cluster/health?wait_for_status=green&timeout=500ms").await?;
    assert_eq!(r.status, 408, "{r}");
    assert_eq!(r.body["timed_out"], json!(true), "{r}");
    assert_eq!(r.body["status"], json!("yellow"), "{r}");

    node.put("/b/_settings", &json!({"index": {"number_of_replicas": 0}}))
        .await?
        .assert_status(200);
    let r = health("/_cluster/health?wait_for_status=green&timeout=30s").await?;
    r.assert_status(200);
    assert_eq!(r.body["status"], json!("green"), "{r}");
    assert_eq!(r.body["unassigned_shards"], json!(0), "{r}");
    Ok(())
}

/// The row of a `_cat` text table whose `col`-th column is `value`.
fn row_with<'a>(rows: &'a [Vec<String>], col: usize, value: &str) -> &'a Vec<String> {
    rows.iter()
        .find(|r| r.get(col).map(String::as_str) == Some(value))
        .unwrap_or_else(|| panic!("no row with {value}: {rows:?}"))
}

#[tokio::test]
async fn cat_indices_text_and_json() -> Result<()> {
    let node = named_node().await?;
    create_index(
        &node,
        "cats",
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}}),
    )
    .await?;
    create_index(
        &node,
        "dogs",
        json!({"settings": {"number_of_shards": 2, "number_of_replicas": 0}}),
    )
    .await?;
    for i in 0..3 {
        node.put(&format!("/cats/_doc/{i}"), &json!({"i": i}))
            .await?
            .assert_status(201);
    }
    assert_eq!(count(&node, "cats").await?, 3);
    let uuid = index_settings(&node, "cats").await?["uuid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let r = node.get("/_cat/indices").await?;
    r.assert_status(200);
    let rows = cat_rows(&r.text);
    assert_eq!(
        rows.len(),
        2,
        "no header without ?v, one row per index: {r}"
    );
    let cats = row_with(&rows, 2, "cats");
    assert_eq!(
        cats[..8],
        ["green", "open", "cats", uuid.as_str(), "1", "0", "3", "0"],
        "{r}"
    );
    let dogs = row_with(&rows, 2, "dogs");
    assert_eq!(dogs[4..7], ["2", "0", "0"], "{r}");

    let r = node.get("/_cat/indices?v").await?;
    r.assert_status(200);
    let rows = cat_rows(&r.text);
    assert_eq!(rows.len(), 3, "{r}");
    assert_eq!(
        rows[0][..8],
        [
            "health",
            "status",
            "index",
            "uuid",
            "pri",
            "rep",
            "docs.count",
            "docs.deleted"
        ],
        "{r}"
    );
    assert!(
        rows[0].contains(&"store.size".to_owned())
            && rows[0].contains(&"pri.store.size".to_owned()),
        "{r}"
    );

    let r = node.get("/_cat/indices?format=json").await?;
    r.assert_status(200);
    let arr = r
        .body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {r}"));
    let cats = arr
        .iter()
        .find(|o| o["index"] == json!("cats"))
        .unwrap_or_else(|| panic!("no cats: {r}"));
    // _cat JSON values are strings, as in ES.
    for (k, v) in [
        ("health", "green"),
        ("status", "open"),
        ("uuid", uuid.as_str()),
        ("pri", "1"),
        ("rep", "0"),
        ("docs.count", "3"),
        ("docs.deleted", "0"),
    ] {
        assert_eq!(cats[k], json!(v), "{k}: {r}");
    }
    assert!(
        cats["store.size"].is_string() && cats["pri.store.size"].is_string(),
        "{r}"
    );
    Ok(())
}

#[tokio::test]
async fn cat_nodes_shards_and_health() -> Result<()> {
    let node = named_node().await?;
    create_index(
        &node,
        "dogs",
        json!({"settings": {"number_of_shards": 2, "number_of_replicas": 0}}),
    )
    .await?;
    create_index(
        &node,
        "rep",
        json!({"settings": {"number_of_shards": 1, "number_of_replicas": 1}}),
    )
    .await?;
    node.put("/dogs/_doc/1?refresh=true", &json!({"a": 1}))
        .await?
        .assert_status(201);

    // _cat/nodes
    let r = node.get("/_cat/nodes?v").await?;
    r.assert_status(200);
    let rows = cat_rows(&r.text);
    assert_eq!(rows.len(), 2, "header + one node: {r}");
    assert!(
        rows[0].contains(&"ip".to_owned()) && rows[0].contains(&"name".to_owned()),
        "{r}"
    );
    assert!(
        rows[1].contains(&"127.0.0.1".to_owned()) && rows[1].contains(&"node-a".to_owned()),
        "{r}"
    );
    let r = node.get("/_cat/nodes?format=json").await?;
    let arr = r
        .body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {r}"));
    assert_eq!(arr.len(), 1, "{r}");
    assert_eq!(arr[0]["ip"], json!("127.0.0.1"), "{r}");
    assert_eq!(arr[0]["name"], json!("node-a"), "{r}");
    assert_eq!(
        arr[0]["master"],
        json!("*"),
        "the only node is the elected master: {r}"
    );

    // _cat/shards
    let r = node.get("/_cat/shards?v").await?;
    r.assert_status(200);
    let rows = cat_rows(&r.text);
    assert_eq!(rows[0][..4], ["index", "shard", "prirep", "state"], "{r}");
    let dogs: Vec<&Vec<String>> = rows.iter().filter(|row| row[0] == "dogs").collect();
    assert_eq!(dogs.len(), 2, "{r}");
    for row in &dogs {
        assert_eq!(row[2..4], ["p", "STARTED"], "{r}");
        assert!(row.contains(&"node-a".to_owned()), "{r}");
    }
    let r = node.get("/_cat/shards?format=json").await?;
    let arr = r
        .body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {r}"));
    let mut dog_shards: Vec<(Value, Value, Value)> = arr
        .iter()
        .filter(|o| o["index"] == json!("dogs"))
        .map(|o| (o["shard"].clone(), o["prirep"].clone(), o["state"].clone()))
        .collect();
    dog_shards.sort_by_key(|t| t.0.to_string());
    assert_eq!(
        dog_shards,
        vec![
            (json!("0"), json!("p"), json!("STARTED")),
            (json!("1"), json!("p"), json!("STARTED"))
        ],
        "{r}"
    );
    let docs: u64 = arr
        .iter()
        .filter(|o| o["index"] == json!("dogs"))
        .filter_map(|o| o["docs"].as_str()?.parse::<u64>().ok())
        .sum();
    assert_eq!(docs, 1, "{r}");
    let mut rep: Vec<(Value, Value)> = arr
        .iter()
        .filter(|o| o["index"] == json!("rep"))
        .map(|o| (o["prirep"].clone(), o["state"].clone()))
        .collect();
    rep.sort_by_key(|t| t.0.to_string());
    assert_eq!(
        rep,
        vec![
            (json!("p"), json!("STARTED")),
            (json!("r"), json!("UNASSIGNED"))
        ],
        "{r}"
    );

    // _cat/health
    let r = node.get("/_cat/health?v").await?;
    r.assert_status(200);
    let rows = cat_rows(&r.text);
    assert_eq!(rows.len(), 2, "{r}");
    assert_eq!(
        rows[0][..6],
        [
            "epoch",
            "timestamp",
            "cluster",
            "status",
            "node.total",
            "node.data"
        ],
        "{r}"
    );
    assert_eq!(rows[1][2..6], ["test-cluster", "yellow", "1", "1"], "{r}");
    let r = node.get("/_cat/health?format=json").await?;
    let h = &r.body[0];
    for (k, v) in [
        ("cluster", "test-cluster"),
        ("status", "yellow"),
        ("node.total", "1"),
        ("node.data", "1"),
        ("shards", "3"),
        ("pri", "3"),
        ("relo", "0"),
        ("init", "0"),
        ("unassign", "1"),
    ] {
        assert_eq!(h[k], json!(v), "{k}: {r}");
    }
    assert!(
        h["epoch"]
            .as_str()
            .is_some_and(|e| e.parse::<u64>().is_ok()),
        "{r}"
    );
    Ok(())
}

#[tokio::test]
async fn liveness_readiness_and_prometheus_metrics() -> Result<()> {
    let node = TestNode::start().await?;
    node.get("/_health/live").await?.assert_status(200);
    node.get("/_health/ready").await?.assert_status(200);
    create_index(&node, "m", json!({"settings": {"number_of_replicas": 0}})).await?;
    node.put("/m/_doc/1?refresh=true", &json!({"a": 1}))
        .await?
        .assert_status(201);
    node.post("/m/_search", &json!({}))
        .await?
        .assert_status(200);

    let r = node.get("/metrics").await?;
    r.assert_status(200);
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("text/plain"),
        "Prometheus text format content type, got {ct:?}"
    );
    let names = parse_prometheus(&r.text)
        .unwrap_or_else(|e| panic!("invalid Prometheus text: {e}\n{}", r.text));
    assert!(
        names.iter().any(|n| n.starts_with("ferry_")),
        "no ferry_ metric in:\n{}",
        r.text
    );
    Ok(())
}

/// Validates Prometheus text exposition format; returns the sample metric names.
fn parse_prometheus(text: &str) -> Result<Vec<String>, String> {
    let valid_name = |n: &str| {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut names = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let words: Vec<&str> = rest.split_whitespace().collect();
            match words.first() {
                Some(&"TYPE") => {
                    let ok = words.len() == 3
                        && valid_name(words[1])
                        && ["counter", "gauge", "histogram", "summary", "untyped"]
                            .contains(&words[2]);
                    if !ok {
                        return Err(format!("line {}: bad TYPE line {line:?}", i + 1));
                    }
                }
                Some(&"HELP") if words.len() >= 2 && valid_name(words[1]) => {}
                Some(&"HELP") => return Err(format!("line {}: bad HELP line {line:?}", i + 1)),
                _ => {}
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| format!("line {}: no value in {line:?}", i + 1))?;
        let name = &line[..name_end];
        if !valid_name(name) {
            return Err(format!("line {}: bad metric name {name:?}", i + 1));
        }
        let mut rest = &line[name_end..];
        if rest.starts_with('{') {
            let mut in_quotes = false;
            let mut escaped = false;
            let mut close = None;
            for (j, c) in rest.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' if in_quotes => escaped = true,
                    '"' => in_quotes = !in_quotes,
                    '}' if !in_quotes => {
                        close = Some(j);
                        break;
                    }
                    _ => {}
                }
            }
            let close =
                close.ok_or_else(|| format!("line {}: unclosed labels in {line:?}", i + 1))?;
            rest = &rest[close + 1..];
        }
        let mut fields = rest.split_whitespace();
        let value = fields
            .next()
            .ok_or_else(|| format!("line {}: no value in {line:?}", i + 1))?;
        let numeric = value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value);
        if !numeric {
            return Err(format!("line {}: value {value:?} is not a number", i + 1));
        }
        if let Some(ts) = fields.next()
            && ts.parse::<i64>().is_err()
        {
            return Err(format!(
                "line {}: timestamp {ts:?} is not an integer",
                i + 1
            ));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

#[test]
fn the_prometheus_checker_can_fail() {
    assert!(parse_prometheus("# TYPE ferry_x counter\nferry_x{a=\"b c\"} 3\n").is_ok());
    assert!(parse_prometheus("ferry_x{a=\"b\"} notanumber\n").is_err());
    assert!(parse_prometheus("9bad 1\n").is_err());
    assert!(parse_prometheus("# TYPE ferry_x sometimes\n").is_err());
}
