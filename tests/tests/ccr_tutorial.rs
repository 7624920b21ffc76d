//! Elasticsearch's cross-cluster replication tutorial (`shared/seeds/004_…`), call by call
//! and in its order, against two real single-node clusters on the tutorial's own ports:
//! `us-cluster` (HTTP 9200, transport 9300) and `japan-cluster` (HTTP 8200, transport
//! 8300), as `cargo xtask dev-cluster --ccr` starts them. Every request body is the
//! tutorial's text, sent as it is written there.
//!
//! Where the tutorial's text lost the follower index name (`POST //_ccr/pause_follow`:
//! its `<follower_index>` placeholder was eaten by the page), the test uses the index the
//! tutorial follows, `products-copy`; for `/my_index/_close` likewise.

use std::time::Duration;

use anyhow::Result;
use ferry_tests::{Method, TestNode, wait_until};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(120);

const REMOTE: &str = r#"{
"persistent" : {
"cluster" : {
"remote" : {
"us-cluster" : {
"seeds" : [
"127.0.0.1:9300"
]
}
}
}
}
}"#;

const PRODUCTS: &str = r#"{
"settings" : {
"index" : {
"number_of_shards" : 1,
"number_of_replicas" : 0,
"soft_deletes" : {
"enabled" : true
}
}
},
"mappings" : {
"_doc" : {
"properties" : {
"name" : {
"type" : "keyword"
}
}
}
}
}"#;

const FOLLOW: &str = r#"{
"remote_cluster" : "us-cluster",
"leader_index" : "products"
}"#;

const BEATS: &str = r#"{
"remote_cluster" : "us-cluster",
"leader_index_patterns" :
[
"metricbeat-*",
"packetbeat-*"
],
"follow_index_pattern" : "{{leader_index}}-copy"
}"#;

const PRODUCT: &str = r#"{
"name" : "My cool new product"
}"#;

async fn cluster(name: &str, http: u16, transport: u16) -> Result<TestNode> {
    ferry_tests::install_crypto_provider();
    TestNode::builder()
        .arg("--cluster-name")
        .arg(name)
        .http_port(http)
        .transport_port(transport)
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ccr_tutorial_runs_verbatim() -> Result<()> {
    let us = cluster("us-cluster", 9200, 9300).await?;
    let japan = cluster("japan-cluster", 8200, 8300).await?;

    // 2. On japan-cluster, define how us-cluster is reached.
    japan
        .send_raw(Method::PUT, "/_cluster/settings", REMOTE)
        .await?
        .assert_status(200);
    wait_until(WAIT, "us-cluster connected", || async {
        match japan.get("/_remote/info").await {
            Ok(r) => r.body["us-cluster"]["connected"] == json!(true),
            Err(_) => false,
        }
    })
    .await?;

    // 3. On us-cluster, create the index to replicate.
    let r = us.send_raw(Method::PUT, "/products", PRODUCTS).await?;
    r.assert_status(200);
    assert_eq!(r.body["acknowledged"], json!(true));

    // 4. On japan-cluster, start replication, then the auto-follow pattern.
    let r = japan
        .send_raw(Method::PUT, "/products-copy/_ccr/follow", FOLLOW)
        .await?;
    r.assert_status(200);
    let r = japan
        .send_raw(Method::PUT, "/_ccr/auto_follow/beats", BEATS)
        .await?;
    r.assert_status(200);
    assert_eq!(r.body, json!({"acknowledged": true}));

    // 5. A document posted on us-cluster is found on japan-cluster.
    let r = us.send_raw(Method::POST, "/products/_doc", PRODUCT).await?;
    assert_eq!(r.status, 201, "{r}");
    let id = r.body["_id"].clone();
    wait_until(WAIT, "the product is replicated", || async {
        let _ = japan.post_empty("/products-copy/_refresh").await;
        match japan.get("/products-copy/_search").await {
            Ok(r) => r.body["hits"]["total"]["value"] == json!(1),
            Err(_) => false,
        }
    })
    .await?;
    let r = japan.get("/products-copy/_search").await?;
    let hit = &r.body["hits"]["hits"][0];
    assert_eq!(hit["_index"], json!("products-copy"));
    assert_eq!(hit["_id"], id);
    assert_eq!(hit["_source"], json!({"name": "My cool new product"}));

    // The `beats` pattern follows a metricbeat index created after it.
    us.put("/metricbeat-2019.03.27", &json!({}))
        .await?
        .assert_status(200);
    us.put(
        "/metricbeat-2019.03.27/_doc/1?refresh=true",
        &json!({"system": {"cpu": 0.5}}),
    )
    .await?;
    wait_until(WAIT, "metricbeat index auto-followed", || async {
        let _ = japan
            .post_empty("/metricbeat-2019.03.27-copy/_refresh")
            .await;
        match japan.get("/metricbeat-2019.03.27-copy/_count").await {
            Ok(r) => r.body["count"] == json!(1),
            Err(_) => false,
        }
    })
    .await?;

    // Administration calls, in the tutorial's order.
    let r = japan.get("/_ccr/stats").await?;
    r.assert_status(200);
    assert_eq!(
        r.body["auto_follow_stats"]["number_of_successful_follow_indices"],
        json!(1),
        "{r}"
    );
    let followers: Vec<&str> = r.body["follow_stats"]["indices"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["index"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(followers, ["metricbeat-2019.03.27-copy", "products-copy"]);
    japan
        .post_empty("/products-copy/_ccr/pause_follow")
        .await?
        .assert_status(200);
    japan
        .send_raw(Method::POST, "/products-copy/_ccr/resume_follow", "{\n}")
        .await?
        .assert_status(200);
    let r = japan.post_empty("/products-copy/_ccr/unfollow").await?;
    assert_eq!(r.status, 400, "{r}");
    assert_eq!(
        r.body["error"]["reason"],
        json!(
            "cannot convert the follower index [products-copy] to a non-follower, because it has not been paused"
        )
    );
    let r = japan.get("/products-copy/_ccr/stats").await?;
    r.assert_status(200);
    assert_eq!(r.body["indices"][0]["index"], json!("products-copy"));
    japan
        .delete("/_ccr/auto_follow/beats")
        .await?
        .assert_status(200);
    let r = japan.get("/_ccr/auto_follow/").await?;
    assert_eq!(r.body, json!({"patterns": []}), "{r}");
    let r = japan.get("/_ccr/auto_follow/beats").await?;
    assert_eq!(r.status, 404, "{r}");

    // Converting the follower into a regular index: pause, close, unfollow, open.
    japan
        .post_empty("/products-copy/_ccr/pause_follow")
        .await?
        .assert_status(200);
    japan
        .post_empty("/products-copy/_close")
        .await?
        .assert_status(200);
    japan
        .post_empty("/products-copy/_ccr/unfollow")
        .await?
        .assert_status(200);
    japan
        .post_empty("/products-copy/_open")
        .await?
        .assert_status(200);
    let r = japan
        .send_raw(Method::POST, "/products-copy/_doc", PRODUCT)
        .await?;
    assert_eq!(r.status, 201, "{r}");
    Ok(())
}
