//! Remote clusters between two real `ferryd` processes: `PUT /_cluster/settings` defines
//! the other cluster under an alias, the connection task handshakes with it over the
//! transport port, `GET /_remote/info` reports it, and the connection follows the remote
//! going away and coming back. Each test's doc comment says what it proves.

use std::time::Duration;

use anyhow::Result;
use ferry_tests::es::assert_es_error_mentions;
use ferry_tests::{Http, wait_until};
use serde_json::{Value, json};

/// A generous hang guard for connection state changes (never a speed check).
const WAIT: Duration = Duration::from_secs(60);

async fn remote_info(http: &Http) -> Value {
    match http.get("/_remote/info").await {
        Ok(r) if r.status == 200 => r.body,
        _ => Value::Null,
    }
}

async fn wait_connected(http: &Http, alias: &str, connected: bool) -> Result<()> {
    wait_until(WAIT, &format!("{alias} connected={connected}"), || async {
        let info = remote_info(http).await;
        info[alias]["connected"] == json!(connected)
            && info[alias]["num_nodes_connected"] == json!(u32::from(connected))
    })
    .await
}

/// A remote defined through the settings API connects by itself; `/_remote/info` shows
/// ES's fields and only a redacted marker for the credentials, which no GET ever echoes;
/// killing the remote shows `connected: false`, restarting it reconnects without any
/// call; `null` removes the alias.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_connects_follows_the_remote_and_is_removed_by_null() -> Result<()> {
    let mut us = ferry_tests::ccr::cluster_node("us-cluster").await?;
    let japan = ferry_tests::ccr::cluster_node("japan-cluster").await?;
    let seed = format!("127.0.0.1:{}", us.transport_port());

    let put = japan
        .put(
            "/_cluster/settings",
            &json!({"persistent": {"cluster": {"remote": {"leader": {
                "seeds": [seed], "credentials": "api-key-secret-123"}}}}}),
        )
        .await?;
    put.assert_status(200);
    assert_eq!(put.body["acknowledged"], json!(true));
    assert_eq!(
        put.body["persistent"]["cluster"]["remote"]["leader"]["seeds"],
        json!([seed])
    );
    assert_eq!(put.body["transient"], json!({}));
    assert!(!put.text.contains("api-key-secret-123"), "{}", put.text);

    wait_connected(&japan, "leader", true).await?;
    let mut info = remote_info(&japan).await;
    // Ferry's fields: the identity the handshake pinned (the uuid is the catalog's).
    let leader = info["leader"].as_object_mut().expect("an alias entry");
    assert_eq!(leader.remove("cluster_name"), Some(json!("us-cluster")));
    let uuid = leader.remove("cluster_uuid").expect("a pinned uuid");
    assert!(uuid.as_str().is_some_and(|u| u.len() >= 20), "{uuid}");
    assert_eq!(
        info["leader"],
        json!({
            "connected": true,
            "mode": "sniff",
            "seeds": [seed],
            "num_nodes_connected": 1,
            "max_connections_per_cluster": 3,
            "initial_connect_timeout": "30s",
            "skip_unavailable": false,
            "cluster_credentials": "::es_redacted::"
        })
    );
    for path in [
        "/_cluster/settings",
        "/_cluster/settings?flat_settings=true",
        "/_remote/info",
    ] {
        let got = japan.get(path).await?;
        got.assert_status(200);
        assert!(
            !got.text.contains("api-key-secret-123"),
            "{path}: {}",
            got.text
        );
    }
    let flat = japan.get("/_cluster/settings?flat_settings=true").await?;
    assert_eq!(
        flat.body["persistent"]["cluster.remote.leader.credentials"],
        json!("::es_redacted::")
    );

    us.kill9().await?;
    wait_connected(&japan, "leader", false).await?;
    us.restart().await?;
    wait_connected(&japan, "leader", true).await?;

    let removed = japan
        .put(
            "/_cluster/settings",
            &json!({"persistent": {"cluster.remote.leader.*": null}}),
        )
        .await?;
    removed.assert_status(200);
    assert_eq!(remote_info(&japan).await, json!({}));
    let settings = japan.get("/_cluster/settings").await?;
    assert_eq!(settings.body, json!({"persistent": {}, "transient": {}}));
    Ok(())
}

/// Persistent remote settings survive a restart of the node (they are in the catalog)
/// and reconnect by themselves; transient ones are gone after it, as in ES.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_settings_survive_a_restart_and_transient_ones_do_not() -> Result<()> {
    let us = ferry_tests::ccr::cluster_node("us-cluster").await?;
    let mut japan = ferry_tests::ccr::cluster_node("japan-cluster").await?;
    let seed = format!("127.0.0.1:{}", us.transport_port());
    japan
        .put(
            "/_cluster/settings",
            &json!({
                "persistent": {"cluster.remote.kept.seeds": [seed], "cluster.remote.kept.skip_unavailable": true},
                "transient": {"cluster.remote.gone.seeds": [seed]}
            }),
        )
        .await?
        .assert_status(200);
    wait_connected(&japan, "kept", true).await?;
    wait_connected(&japan, "gone", true).await?;

    japan.restart().await?;
    wait_connected(&japan, "kept", true).await?;
    let info = remote_info(&japan).await;
    assert_eq!(info["kept"]["skip_unavailable"], json!(true));
    assert!(info.get("gone").is_none(), "{info}");
    let settings = japan.get("/_cluster/settings").await?;
    assert_eq!(settings.body["transient"], json!({}));
    assert_eq!(
        settings.body["persistent"]["cluster"]["remote"]["kept"]["skip_unavailable"],
        json!("true")
    );
    Ok(())
}

/// Bad settings are refused with ES's error types and messages, and a rejected request
/// changes nothing, even when part of it was valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_settings_are_refused_and_change_nothing() -> Result<()> {
    let japan = ferry_tests::ccr::cluster_node("japan-cluster").await?;
    let cases = [
        (
            json!({"persistent": {"cluster.remote.a.seeds": ["127.0.0.1:x"]}}),
            "failed to parse port",
        ),
        (
            json!({"persistent": {"cluster.remote.a.mode": "proxy", "cluster.remote.a.seeds": ["h:1"]}}),
            "cannot be used with the configured \"cluster.remote.a.mode\" [required=SNIFF, configured=PROXY]",
        ),
        (
            json!({"persistent": {"cluster.remote.ok.seeds": ["h:1"], "indices.bogus": "1"}}),
            "persistent setting [indices.bogus], not recognized",
        ),
        (
            json!({"transient": {"cluster.remote.a.b.seeds": ["h:1"]}}),
            "transient setting [cluster.remote.a.b.seeds], not recognized",
        ),
    ];
    for (body, message) in cases {
        let resp = japan.put("/_cluster/settings", &body).await?;
        assert_es_error_mentions(&resp, 400, &["illegal_argument_exception"], message);
    }
    let settings = japan.get("/_cluster/settings").await?;
    assert_eq!(settings.body, json!({"persistent": {}, "transient": {}}));
    assert_eq!(remote_info(&japan).await, json!({}));
    let defaults = japan
        .get("/_cluster/settings?include_defaults=true")
        .await?;
    assert_es_error_mentions(
        &defaults,
        400,
        &["illegal_argument_exception"],
        "not supported yet",
    );
    Ok(())
}
