//! Runs `ferryctl remote ...` and `ferryctl ccr ...` against the in-process mock admin
//! server: each command reaches its own rpc with the intended names, query parameters and
//! body, tables render from the Elasticsearch answers, and errors exit 1 with one
//! `error: <type>: <reason>` line.
//!
//! The real behaviour (remote connections, following) is tested against two ferryd
//! processes in the workspace `tests/tests/ferryctl.rs`.

mod mock;

use serde_json::{Value, json};

use crate::mock::{ferryctl, start_mock, stdout_json, text};

/// Runs a command that must succeed and returns its JSON output.
fn ok_json(addr: std::net::SocketAddr, args: &[&str]) -> Value {
    let mut all = vec!["-o", "json"];
    all.extend_from_slice(args);
    let out = ferryctl(addr, &all);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
    stdout_json(&out)
}

#[test]
fn remote_set_and_remove_are_cluster_settings_updates() {
    let addr = start_mock();
    let set = ok_json(
        addr,
        &[
            "remote",
            "set",
            "leader",
            "--seeds",
            "127.0.0.1:9300,127.0.0.1:9301",
            "--skip-unavailable",
            "--transient",
        ],
    );
    assert_eq!(set["rpc"], "PutClusterSettings");
    assert_eq!(
        set["received"],
        json!({"transient": {
            "cluster.remote.leader.proxy_address": null,
            "cluster.remote.leader.server_name": null,
            "cluster.remote.leader.proxy_socket_connections": null,
            "cluster.remote.leader.mode": "sniff",
            "cluster.remote.leader.seeds": ["127.0.0.1:9300", "127.0.0.1:9301"],
            "cluster.remote.leader.skip_unavailable": true,
        }})
    );
    let remove = ok_json(addr, &["remote", "remove", "leader"]);
    assert_eq!(
        remove["received"],
        json!({"persistent": {"cluster.remote.leader.*": null}})
    );
}

#[test]
fn remote_list_is_a_table() {
    let addr = start_mock();
    let out = ferryctl(addr, &["remote", "list"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "alias   connected  mode   seeds           cluster\n\
         leader  true       sniff  127.0.0.1:9300  -\n"
    );
}

#[test]
fn follow_sends_follow_parameters_in_the_body_and_the_rest_as_params() {
    let addr = start_mock();
    let echo = ok_json(
        addr,
        &[
            "ccr",
            "follow",
            "products-copy",
            "--remote",
            "leader",
            "--leader",
            "products",
            "-p",
            "wait_for_active_shards=1",
            "-p",
            "max_read_request_operation_count=500",
            "-p",
            "read_poll_timeout=1s",
            "--setting",
            "index.number_of_replicas=0",
        ],
    );
    assert_eq!(echo["rpc"], "PutFollow");
    assert_eq!(echo["target"], "products-copy");
    assert_eq!(echo["params"], json!({"wait_for_active_shards": "1"}));
    assert_eq!(
        echo["received"],
        json!({"remote_cluster": "leader", "leader_index": "products",
               "settings": {"index.number_of_replicas": "0"},
               "max_read_request_operation_count": 500, "read_poll_timeout": "1s"})
    );
}

#[test]
fn resume_reads_a_body_file_and_pause_sends_none() {
    let addr = start_mock();
    let dir = std::env::temp_dir().join(format!("ferryctl-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("params.json");
    std::fs::write(&file, r#"{"max_retry_delay":"2s"}"#).expect("write body");
    let path = file.to_str().expect("utf-8 path");
    let resumed = ok_json(
        addr,
        &[
            "ccr",
            "resume",
            "copy",
            "--body",
            path,
            "-p",
            "max_outstanding_write_requests=3",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(resumed["rpc"], "ResumeFollow");
    assert_eq!(
        resumed["received"],
        json!({"max_retry_delay": "2s", "max_outstanding_write_requests": 3})
    );
    let bare = ok_json(addr, &["ccr", "resume", "copy"]);
    assert_eq!(bare["received"], Value::Null, "no parameters, no body");
    let paused = ok_json(addr, &["ccr", "pause", "copy"]);
    assert_eq!(
        (&paused["rpc"], &paused["target"]),
        (&json!("PauseFollow"), &json!("copy"))
    );
}

#[test]
fn stats_render_one_row_per_shard_with_and_without_an_index() {
    let addr = start_mock();
    let out = ferryctl(addr, &["ccr", "stats", "products-copy"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "follower       shard  leader_gcp  follower_gcp  lag_ops  lag_millis  status\n\
         products-copy  0      12          10            2        -           active\n"
    );
    let all = ferryctl(addr, &["ccr", "stats"]);
    assert_eq!(all.status.code(), Some(0), "stderr: {}", text(&all.stderr));
    assert_eq!(
        text(&all.stdout),
        "auto-follow: 1 followed, 0 failed, 0 failed remote requests\n\
         follower  shard  leader_gcp  follower_gcp  lag_ops  lag_millis  status\n\
         copy      0      12          10            2        -           active\n"
    );
}

#[test]
fn errors_print_the_elasticsearch_type_and_reason_and_exit_one() {
    let addr = start_mock();
    let missing = ferryctl(addr, &["ccr", "stats", "missing"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(missing.stdout.is_empty());
    assert_eq!(
        text(&missing.stderr),
        "error: index_not_found_exception: no such index [missing]\n"
    );
    let promote = ferryctl(addr, &["ccr", "promote", "copy"]);
    assert_eq!(promote.status.code(), Some(1));
    assert_eq!(
        text(&promote.stderr),
        "error: illegal_argument_exception: promote is not supported yet\n"
    );
    let pattern = ferryctl(addr, &["ccr", "auto-follow", "get", "missing"]);
    assert_eq!(pattern.status.code(), Some(1));
    assert_eq!(
        text(&pattern.stderr),
        "error: resource_not_found_exception: auto-follow pattern [missing] is missing\n"
    );
}

#[test]
fn info_and_auto_follow_get_are_tables() {
    let addr = start_mock();
    let info = ferryctl(addr, &["ccr", "info", "copy"]);
    assert_eq!(
        info.status.code(),
        Some(0),
        "stderr: {}",
        text(&info.stderr)
    );
    assert_eq!(
        text(&info.stdout),
        "follower  remote  leader    status\ncopy      leader  products  active\n"
    );
    let patterns = ferryctl(addr, &["ccr", "auto-follow", "get"]);
    assert_eq!(patterns.status.code(), Some(0));
    assert_eq!(
        text(&patterns.stdout),
        "name  active  remote  patterns  exclusions  follow_pattern\n\
         logs  true    leader  logs-*    -           -\n"
    );
}

#[test]
fn auto_follow_put_builds_the_pattern_body() {
    let addr = start_mock();
    let echo = ok_json(
        addr,
        &[
            "ccr",
            "auto-follow",
            "put",
            "logs",
            "--remote",
            "leader",
            "--pattern",
            "logs-*",
            "--pattern",
            "metrics-*",
            "--exclude",
            "logs-tmp*",
            "--follow-pattern",
            "{{leader_index}}-copy",
            "-p",
            "max_write_buffer_count=100",
        ],
    );
    assert_eq!(
        (&echo["rpc"], &echo["target"]),
        (&json!("PutAutoFollowPattern"), &json!("logs"))
    );
    assert_eq!(
        echo["received"],
        json!({"remote_cluster": "leader", "leader_index_patterns": ["logs-*", "metrics-*"],
               "leader_index_exclusion_patterns": ["logs-tmp*"],
               "follow_index_pattern": "{{leader_index}}-copy", "max_write_buffer_count": 100})
    );
}

#[test]
fn every_other_call_reaches_its_own_rpc() {
    let addr = start_mock();
    for (args, rpc, target) in [
        (&["ccr", "unfollow", "copy"][..], "Unfollow", "copy"),
        (
            &["ccr", "auto-follow", "delete", "logs"],
            "DeleteAutoFollowPattern",
            "logs",
        ),
        (
            &["ccr", "auto-follow", "pause", "logs"],
            "PauseAutoFollowPattern",
            "logs",
        ),
        (
            &["ccr", "auto-follow", "resume", "logs"],
            "ResumeAutoFollowPattern",
            "logs",
        ),
    ] {
        let echo = ok_json(addr, args);
        assert_eq!(
            (&echo["rpc"], &echo["target"]),
            (&json!(rpc), &json!(target)),
            "{args:?}"
        );
    }
    let forget = ok_json(
        addr,
        &[
            "ccr",
            "forget-follower",
            "products",
            "--follower-cluster",
            "japan-cluster",
            "--follower-index",
            "products-copy",
            "--follower-index-uuid",
            "u1",
            "--leader-remote-cluster",
            "leader",
            "-p",
            "timeout=10s",
        ],
    );
    assert_eq!(
        (&forget["rpc"], &forget["target"]),
        (&json!("ForgetFollower"), &json!("products"))
    );
    assert_eq!(forget["params"], json!({"timeout": "10s"}));
    assert_eq!(
        forget["received"],
        json!({"follower_cluster": "japan-cluster", "follower_index": "products-copy",
               "follower_index_uuid": "u1", "leader_remote_cluster": "leader"})
    );
}
