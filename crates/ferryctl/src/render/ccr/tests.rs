//! Tests of the remote-cluster and CCR tables: exact text from Elasticsearch-shaped bodies,
//! and the JSON fallback for bodies of another shape.

use serde_json::json;

use super::*;
use crate::call::View;
use crate::cli::Output;
use crate::render::render;

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("test JSON encodes")
}

#[test]
fn remote_list_shows_seeds_or_the_proxy_address() {
    let body = json!({
        "leader": {"connected": true, "mode": "sniff", "seeds": ["127.0.0.1:9300", "h:9301"],
                   "num_nodes_connected": 1, "skip_unavailable": false},
        "lb": {"connected": false, "mode": "proxy", "proxy_address": "lb:9400",
               "cluster_name": "eu-cluster"}
    });
    let out = render(View::RemoteList, Output::Table, &bytes(&body));
    assert_eq!(
        out,
        "alias   connected  mode   seeds                  cluster\n\
         leader  true       sniff  127.0.0.1:9300,h:9301  -\n\
         lb      false      proxy  lb:9400                eu-cluster\n"
    );
    assert_eq!(
        render(View::RemoteList, Output::Table, b"{}"),
        "no remote clusters\n"
    );
}

#[test]
fn follow_info_is_one_row_per_follower() {
    let body = json!({"follower_indices": [
        {"follower_index": "copy", "remote_cluster": "leader", "leader_index": "products",
         "status": "active", "parameters": {"max_read_request_operation_count": 5120}},
        {"follower_index": "old", "remote_cluster": "leader", "leader_index": "logs",
         "status": "paused"}
    ]});
    assert_eq!(
        render(View::FollowInfo, Output::Table, &bytes(&body)),
        "follower  remote  leader    status\n\
         copy      leader  products  active\n\
         old       leader  logs      paused\n"
    );
    assert_eq!(
        render(
            View::FollowInfo,
            Output::Table,
            &bytes(&json!({"follower_indices": []}))
        ),
        "no follower indices\n"
    );
}

fn shard(id: u32, leader: i64, follower: i64) -> Value {
    json!({"remote_cluster": "leader", "leader_index": "products", "follower_index": "copy",
           "shard_id": id, "leader_global_checkpoint": leader,
           "follower_global_checkpoint": follower, "read_exceptions": []})
}

#[test]
fn follow_stats_rows_show_checkpoints_lag_and_status() {
    let mut failing = shard(1, 9, 4);
    failing["lag_millis"] = json!(1500);
    failing["fatal_exception"] = json!({"type": "resource_not_found_exception",
                                        "reason": "Operations are no longer available"});
    let mut retrying = shard(2, 3, 3);
    retrying["read_exceptions"] = json!([{"from_seq_no": 4, "retries": 2,
        "exception": {"type": "connect_transport_exception", "reason": "refused"}}]);
    let body = json!({"indices": [
        {"index": "copy", "total_global_checkpoint_lag": 5,
         "shards": [shard(0, 7, 7), failing, retrying]}
    ]});
    assert_eq!(
        render(View::FollowStats, Output::Table, &bytes(&body)),
        "follower  shard  leader_gcp  follower_gcp  lag_ops  lag_millis  status\n\
         copy      0      7           7             0        -           active\n\
         copy      1      9           4             5        1500        fatal: resource_not_found_exception: Operations are no longer available\n\
         copy      2      3           3             0        -           retrying (2): connect_transport_exception: refused\n"
    );
}

#[test]
fn cluster_ccr_stats_add_the_auto_follow_line() {
    let body = json!({
        "auto_follow_stats": {"number_of_failed_follow_indices": 1,
            "number_of_failed_remote_cluster_state_requests": 0,
            "number_of_successful_follow_indices": 3, "recent_auto_follow_errors": []},
        "follow_stats": {"indices": [{"index": "copy", "shards": [shard(0, 2, 1)]}]}
    });
    assert_eq!(
        render(View::FollowStats, Output::Table, &bytes(&body)),
        "auto-follow: 3 followed, 1 failed, 0 failed remote requests\n\
         follower  shard  leader_gcp  follower_gcp  lag_ops  lag_millis  status\n\
         copy      0      2           1             1        -           active\n"
    );
    let empty = json!({"auto_follow_stats": {}, "follow_stats": {"indices": []}});
    assert_eq!(
        render(View::FollowStats, Output::Table, &bytes(&empty)),
        "auto-follow: - followed, - failed, - failed remote requests\nno follower indices\n"
    );
}

#[test]
fn auto_follow_patterns_are_one_row_each() {
    let body = json!({"patterns": [
        {"name": "logs", "pattern": {"active": true, "remote_cluster": "leader",
            "leader_index_patterns": ["logs-*", "metrics-*"],
            "leader_index_exclusion_patterns": [],
            "follow_index_pattern": "{{leader_index}}-copy"}},
        {"name": "all", "pattern": {"active": false, "remote_cluster": "leader",
            "leader_index_patterns": ["*"], "leader_index_exclusion_patterns": ["tmp*"],
            "follow_index_pattern": null}}
    ]});
    assert_eq!(
        render(View::AutoFollow, Output::Table, &bytes(&body)),
        "name  active  remote  patterns          exclusions  follow_pattern\n\
         logs  true    leader  logs-*,metrics-*  -           {{leader_index}}-copy\n\
         all   false   leader  *                 tmp*        -\n"
    );
    assert_eq!(
        render(View::AutoFollow, Output::Table, b"{\"patterns\":[]}"),
        "no auto-follow patterns\n"
    );
}

#[test]
fn unexpected_shapes_fall_back_to_json() {
    for (view, body) in [
        (View::RemoteList, json!([1, 2])),
        (View::RemoteList, json!({"leader": 3})),
        (View::FollowInfo, json!({"acknowledged": true})),
        (
            View::FollowStats,
            json!({"indices": [{"index": "x", "shards": 3}]}),
        ),
        (View::AutoFollow, json!({"patterns": [{"name": "x"}]})),
    ] {
        let out = render(view, Output::Table, &bytes(&body));
        assert_eq!(
            serde_json::from_str::<Value>(&out).expect("JSON fallback"),
            body,
            "{view:?}"
        );
    }
}

#[test]
fn json_output_ignores_the_view() {
    let body = json!({"follower_indices": []});
    let out = render(View::FollowInfo, Output::Json, &bytes(&body));
    assert_eq!(serde_json::from_str::<Value>(&out).expect("JSON"), body);
}
