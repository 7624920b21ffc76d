//! Unit tests of the remote-cluster settings: recognition, ES's validation messages,
//! merging, removal and redaction.

use serde_json::json;

use super::*;

fn body(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

fn err(v: Value) -> String {
    let update = parse_update(&body(v));
    match update {
        Err(e) => e.to_string(),
        Ok(u) => {
            let (p, _) = apply(&FlatSettings::new(), &u.persistent);
            let (t, _) = apply(&FlatSettings::new(), &u.transient);
            remotes(&p, &t).expect_err("must be refused").to_string()
        }
    }
}

fn configured(v: Value) -> BTreeMap<String, RemoteConfig> {
    let u = parse_update(&body(v)).expect("parses");
    let (p, _) = apply(&FlatSettings::new(), &u.persistent);
    let (t, _) = apply(&FlatSettings::new(), &u.transient);
    remotes(&p, &t).expect("valid")
}

#[test]
fn nested_and_flat_keys_parse_to_the_same_changes() {
    let nested = parse_update(&body(json!({"persistent": {"cluster": {"remote": {
        "leader": {"seeds": ["127.0.0.1:9300"], "skip_unavailable": true}}}}})))
    .expect("nested");
    let flat = parse_update(&body(json!({"persistent": {
        "cluster.remote.leader.seeds": "127.0.0.1:9300",
        "cluster.remote.leader.skip_unavailable": "true"}})))
    .expect("flat");
    assert_eq!(nested, flat);
    assert_eq!(
        nested.persistent[0],
        (
            "cluster.remote.leader.seeds".to_owned(),
            Some(json!(["127.0.0.1:9300"]))
        )
    );
    assert!(nested.transient.is_empty());
}

#[test]
fn sniff_defaults_and_proxy_fields() {
    let r = configured(json!({"persistent": {"cluster.remote.a.seeds": ["h:1", "h:2"]}}));
    let a = &r["a"];
    assert_eq!(a.mode, Mode::Sniff);
    assert_eq!(a.seeds, ["h:1", "h:2"]);
    assert_eq!(a.node_connections, 3);
    assert!(!a.skip_unavailable);
    assert_eq!(a.addresses(), ["h:1", "h:2"]);

    let r = configured(json!({"transient": {"cluster.remote.p": {
        "mode": "proxy", "proxy_address": "lb:9400", "proxy_socket_connections": 4,
        "server_name": "x.example"}}}));
    let p = &r["p"];
    assert_eq!(p.mode, Mode::Proxy);
    assert_eq!(p.addresses(), ["lb:9400"]);
    assert_eq!(p.proxy_socket_connections, 4);
    assert_eq!(p.server_name.as_deref(), Some("x.example"));
}

#[test]
fn unknown_keys_name_their_scope() {
    assert_eq!(
        err(json!({"persistent": {"cluster.routing.allocation.enable": "all"}})),
        "persistent setting [cluster.routing.allocation.enable], not recognized"
    );
    assert_eq!(
        err(json!({"transient": {"cluster.remote.a.bogus": "1"}})),
        "transient setting [cluster.remote.a.bogus], not recognized"
    );
    assert_eq!(
        err(json!({"persistent": {"cluster.remote.a:b.seeds": "h:1"}})),
        "persistent setting [cluster.remote.a:b.seeds], not recognized",
        "aliases follow ES's [-\\w]+"
    );
    assert_eq!(
        err(json!({"persistent": {"cluster.remote..seeds": "h:1"}})),
        "persistent setting [cluster.remote..seeds], not recognized"
    );
    assert!(err(json!({"other": {}})).contains("unknown field [other]"));
    assert!(err(json!({})).contains("no settings to update"));
}

#[test]
fn es_validation_messages() {
    assert_eq!(
        err(json!({"persistent": {"cluster.remote.a.seeds": ["h:x"]}})),
        "failed to parse port"
    );
    assert_eq!(
        err(json!({"persistent": {"cluster.remote.a.seeds": ["nohost"]}})),
        "remote hosts need to be configured as [host:port], found [nohost] instead"
    );
    assert_eq!(
        err(json!({"persistent": {"cluster.remote.a.seeds": ["h:0"]}})),
        "port number must be > 0 but was: [0]"
    );
    assert_eq!(
        err(json!({"persistent": {"cluster.remote.a": {"mode": "proxy", "seeds": ["h:1"]}}})),
        "Setting \"cluster.remote.a.seeds\" cannot be used with the configured \
         \"cluster.remote.a.mode\" [required=SNIFF, configured=PROXY]"
    );
    assert_eq!(
        err(
            json!({"persistent": {"cluster.remote.a": {"seeds": ["h:1"], "proxy_address": "h:2"}}})
        ),
        "Setting \"cluster.remote.a.proxy_address\" cannot be used with the configured \
         \"cluster.remote.a.mode\" [required=PROXY, configured=SNIFF]"
    );
    assert_eq!(
        err(
            json!({"persistent": {"cluster.remote.a": {"seeds": ["h:1"], "skip_unavailable": "maybe"}}})
        ),
        "Failed to parse value [maybe] as only [true] or [false] are allowed."
    );
    assert_eq!(
        err(json!({"persistent": {"cluster.remote.a": {"seeds": ["h:1"], "node_connections": 0}}})),
        "Failed to parse value [0] for setting [cluster.remote.a.node_connections] must be >= 1"
    );
    assert_eq!(
        err(json!({"persistent": {"cluster.remote.a.skip_unavailable": true}})),
        "Cannot configure setting [cluster.remote.a.skip_unavailable] if remote cluster is not enabled."
    );
    assert!(
        err(json!({"persistent": {"cluster.remote.a": {"seeds": ["h:1"], "mode": "fast"}}}))
            .contains("must be one of [sniff, proxy]")
    );
}

#[test]
fn null_removes_and_wildcards_remove_every_match() {
    let u = parse_update(&body(json!({"persistent": {"cluster.remote.a": {
        "seeds": ["h:1"], "skip_unavailable": true, "credentials": "k"}}})))
    .expect("parses");
    let (p, _) = apply(&FlatSettings::new(), &u.persistent);
    assert_eq!(p.len(), 3);
    let u =
        parse_update(&body(json!({"persistent": {"cluster.remote.a.*": null}}))).expect("parses");
    let (after, done) = apply(&p, &u.persistent);
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(done.len(), 3);
    assert!(
        remotes(&after, &FlatSettings::new())
            .expect("valid")
            .is_empty()
    );

    let u = parse_update(&body(
        json!({"persistent": {"cluster.remote.a.seeds": null}}),
    ))
    .expect("parses");
    let (after, _) = apply(&p, &u.persistent);
    assert!(
        remotes(&after, &FlatSettings::new()).is_err(),
        "seeds gone but skip_unavailable left"
    );
}

#[test]
fn transient_overrides_persistent() {
    let mut p = FlatSettings::new();
    p.insert("cluster.remote.a.seeds".into(), json!(["h:1"]));
    let mut t = FlatSettings::new();
    t.insert("cluster.remote.a.seeds".into(), json!(["h:2"]));
    t.insert("cluster.remote.b.seeds".into(), json!(["h:3"]));
    let r = remotes(&p, &t).expect("valid");
    assert_eq!(r["a"].seeds, ["h:2"]);
    assert_eq!(r.len(), 2);
}

#[test]
fn credentials_are_redacted_everywhere() {
    let mut s = FlatSettings::new();
    s.insert("cluster.remote.a.credentials".into(), json!("super-secret"));
    s.insert("cluster.remote.a.seeds".into(), json!(["h:1"]));
    let nested = render(&s, false);
    assert_eq!(
        nested["cluster"]["remote"]["a"]["credentials"],
        json!(REDACTED)
    );
    assert_eq!(nested["cluster"]["remote"]["a"]["seeds"], json!(["h:1"]));
    let flat = render(&s, true);
    assert_eq!(flat["cluster.remote.a.credentials"], json!(REDACTED));
    let changes: Changes = s
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    assert!(
        !render_changes(&changes, true)
            .to_string()
            .contains("super-secret")
    );
    let config = &remotes(&s, &FlatSettings::new()).expect("valid")["a"];
    assert!(!format!("{config:?}").contains("super-secret"));
}

#[test]
fn glob_matches_like_simple_match() {
    assert!(glob_match("cluster.remote.*", "cluster.remote.a.seeds"));
    assert!(glob_match("*.seeds", "cluster.remote.a.seeds"));
    assert!(glob_match("cluster.*.a.*", "cluster.remote.a.mode"));
    assert!(!glob_match("cluster.remote.b.*", "cluster.remote.a.seeds"));
    assert!(glob_match("*", "x"));
}
