//! Tests of the remote-cluster and CCR request bodies: exact JSON for each command shape.

use super::*;

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("output is JSON")
}

fn set(alias: &str) -> RemoteSet {
    RemoteSet {
        alias: alias.into(),
        ..RemoteSet::default()
    }
}

#[test]
fn remote_set_with_seeds_is_sniff_and_clears_proxy_keys() {
    let body = remote_set_body(&RemoteSet {
        seeds: vec!["a:9300".into(), "b:9300".into()],
        skip_unavailable: Some(true),
        credentials: Some("secret".into()),
        ..set("leader")
    })
    .expect("valid");
    assert_eq!(
        json_of(&body),
        json!({"persistent": {
            "cluster.remote.leader.proxy_address": null,
            "cluster.remote.leader.server_name": null,
            "cluster.remote.leader.proxy_socket_connections": null,
            "cluster.remote.leader.mode": "sniff",
            "cluster.remote.leader.seeds": ["a:9300", "b:9300"],
            "cluster.remote.leader.skip_unavailable": true,
            "cluster.remote.leader.credentials": "secret",
        }})
    );
}

#[test]
fn remote_set_with_a_proxy_address_is_proxy_and_transient_when_asked() {
    let body = remote_set_body(&RemoteSet {
        proxy_address: Some("lb:9400".into()),
        proxy_socket_connections: Some(4),
        transient: true,
        ..set("lb")
    })
    .expect("valid");
    assert_eq!(
        json_of(&body),
        json!({"transient": {
            "cluster.remote.lb.seeds": null,
            "cluster.remote.lb.node_connections": null,
            "cluster.remote.lb.mode": "proxy",
            "cluster.remote.lb.proxy_address": "lb:9400",
            "cluster.remote.lb.proxy_socket_connections": 4,
        }})
    );
}

#[test]
fn remote_set_of_a_common_key_leaves_the_mode_alone() {
    let body = remote_set_body(&RemoteSet {
        skip_unavailable: Some(false),
        ..set("leader")
    })
    .expect("valid");
    assert_eq!(
        json_of(&body),
        json!({"persistent": {"cluster.remote.leader.skip_unavailable": false}})
    );
}

#[test]
fn an_explicit_mode_wins_and_the_server_judges_the_mix() {
    let body = remote_set_body(&RemoteSet {
        mode: Some(RemoteMode::Sniff),
        proxy_address: Some("lb:9400".into()),
        ..set("x")
    })
    .expect("valid");
    let json = json_of(&body);
    assert_eq!(json["persistent"]["cluster.remote.x.mode"], json!("sniff"));
    assert_eq!(
        json["persistent"]["cluster.remote.x.proxy_address"],
        json!("lb:9400")
    );
}

#[test]
fn remote_set_without_any_setting_is_refused() {
    let err = remote_set_body(&set("leader")).expect_err("nothing to set");
    assert!(format!("{err:#}").contains("leader"));
}

#[test]
fn remote_remove_clears_every_key_of_the_alias() {
    assert_eq!(
        json_of(&remote_remove_body("leader", false).expect("valid")),
        json!({"persistent": {"cluster.remote.leader.*": null}})
    );
    assert_eq!(
        json_of(&remote_remove_body("leader", true).expect("valid")),
        json!({"transient": {"cluster.remote.leader.*": null}})
    );
}

#[test]
fn follow_parameters_are_split_from_query_parameters_and_typed() {
    let params = HashMap::from([
        ("wait_for_active_shards".to_owned(), "1".to_owned()),
        (
            "max_read_request_operation_count".to_owned(),
            "100".to_owned(),
        ),
        ("max_write_buffer_count".to_owned(), "lots".to_owned()),
        ("read_poll_timeout".to_owned(), "30s".to_owned()),
        ("max_read_request_size".to_owned(), "1mb".to_owned()),
        ("auto_rebootstrap".to_owned(), "true".to_owned()),
    ]);
    let (query, follow) = split_follow_parameters(params);
    assert_eq!(
        query,
        HashMap::from([("wait_for_active_shards".to_owned(), "1".to_owned())])
    );
    assert_eq!(
        Value::Object(follow),
        json!({
            "max_read_request_operation_count": 100,
            "max_write_buffer_count": "lots",
            "read_poll_timeout": "30s",
            "max_read_request_size": "1mb",
            "auto_rebootstrap": true,
        })
    );
}

#[test]
fn follow_body_from_flags() {
    let follow = Map::from_iter([("read_poll_timeout".to_owned(), json!("1s"))]);
    let body = follow_body(
        None,
        Some("leader"),
        Some("products"),
        &[("index.number_of_replicas".into(), "0".into())],
        follow,
    )
    .expect("valid");
    assert_eq!(
        json_of(&body),
        json!({"remote_cluster": "leader", "leader_index": "products",
               "settings": {"index.number_of_replicas": "0"}, "read_poll_timeout": "1s"})
    );
}

#[test]
fn flags_override_a_follow_body_and_keep_its_other_keys() {
    let input = br#"{"remote_cluster":"old","leader_index":"l","settings":{"a":"1"},
                     "max_retry_delay":"1s"}"#
        .to_vec();
    let body = follow_body(
        Some(input),
        Some("new"),
        None,
        &[("b".into(), "2".into())],
        Map::new(),
    )
    .expect("valid");
    assert_eq!(
        json_of(&body),
        json!({"remote_cluster": "new", "leader_index": "l", "settings": {"a": "1", "b": "2"},
               "max_retry_delay": "1s"})
    );
}

#[test]
fn follow_body_refuses_input_it_cannot_edit() {
    assert!(follow_body(Some(b"[1]".to_vec()), None, None, &[], Map::new()).is_err());
    assert!(follow_body(Some(b"{nope".to_vec()), None, None, &[], Map::new()).is_err());
    let bad_settings = br#"{"settings": 3}"#.to_vec();
    assert!(
        follow_body(
            Some(bad_settings),
            None,
            None,
            &[("a".into(), "b".into())],
            Map::new()
        )
        .is_err()
    );
}

#[test]
fn resume_body_is_empty_without_parameters() {
    assert!(resume_body(None, Map::new()).expect("valid").is_empty());
    assert!(
        resume_body(Some(b"  \n".to_vec()), Map::new())
            .expect("valid")
            .is_empty()
    );
    let follow = Map::from_iter([("max_outstanding_read_requests".to_owned(), json!(2))]);
    assert_eq!(
        json_of(&resume_body(None, follow).expect("valid")),
        json!({"max_outstanding_read_requests": 2})
    );
}

#[test]
fn auto_follow_body_from_flags() {
    let patterns = vec!["logs-*".to_owned(), "metrics-*".to_owned()];
    let exclusions = vec!["logs-tmp*".to_owned()];
    let fields = AutoFollowFields {
        remote: Some("leader"),
        patterns: &patterns,
        exclusions: &exclusions,
        follow_pattern: Some("{{leader_index}}-copy"),
        settings: &[],
    };
    let follow = Map::from_iter([("max_retry_delay".to_owned(), json!("2s"))]);
    let body = auto_follow_body(None, &fields, follow).expect("valid");
    assert_eq!(
        json_of(&body),
        json!({"remote_cluster": "leader", "leader_index_patterns": ["logs-*", "metrics-*"],
               "leader_index_exclusion_patterns": ["logs-tmp*"],
               "follow_index_pattern": "{{leader_index}}-copy", "max_retry_delay": "2s"})
    );
}

#[test]
fn auto_follow_body_keeps_the_body_patterns_without_flags() {
    let input = br#"{"remote_cluster":"r","leader_index_patterns":["a*"]}"#.to_vec();
    let body =
        auto_follow_body(Some(input), &AutoFollowFields::default(), Map::new()).expect("valid");
    assert_eq!(
        json_of(&body),
        json!({"remote_cluster": "r", "leader_index_patterns": ["a*"]})
    );
}

#[test]
fn forget_follower_body_has_the_four_lease_fields() {
    let body = forget_follower_body(&ForgetFollower {
        leader: "products".into(),
        follower_cluster: "japan".into(),
        follower_index: "copy".into(),
        follower_index_uuid: "u1".into(),
        leader_remote_cluster: "leader".into(),
    })
    .expect("valid");
    assert_eq!(
        json_of(&body),
        json!({"follower_cluster": "japan", "follower_index": "copy",
               "follower_index_uuid": "u1", "leader_remote_cluster": "leader"})
    );
}
