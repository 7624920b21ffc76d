//! Tests of mapping parsing, merging and dynamic mapping.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::IndexError;

fn parse(v: Value) -> Mapping {
    Mapping::from_es_json(&v).unwrap()
}

fn err(v: Value) -> IndexError {
    Mapping::from_es_json(&v).unwrap_err()
}

#[test]
fn typeless_and_typed_forms_are_the_same() {
    let props = json!({"title": {"type": "text"}, "n": {"type": "long"}});
    let a = parse(json!({"properties": props}));
    let b = parse(json!({"_doc": {"properties": props}}));
    assert_eq!(a, b);
    assert_eq!(
        a.to_es_json(),
        json!({"properties": {"n": {"type": "long"}, "title": {"type": "text"}}})
    );
    assert!(parse(json!({})).is_empty());
    assert!(parse(json!({"_doc": {}})).is_empty());
    assert_eq!(parse(json!({})).to_es_json(), json!({}));
}

#[test]
fn every_supported_type_round_trips() {
    let body = json!({
        "dynamic": "strict",
        "_meta": {"owner": "me"},
        "properties": {
            "b": {"type": "boolean"},
            "by": {"type": "byte"},
            "d": {"type": "date", "format": "yyyy-MM-dd"},
            "db": {"type": "double"},
            "f": {"type": "float"},
            "i": {"type": "integer", "null_value": 0},
            "k": {"type": "keyword", "ignore_above": 10, "doc_values": true},
            "l": {"type": "long", "coerce": false},
            "o": {"properties": {"inner": {"type": "keyword"}}},
            "s": {"type": "short"},
            "t": {"type": "text", "analyzer": "standard", "fields": {"raw": {"type": "keyword", "ignore_above": 256}}},
            "e": {"type": "object", "enabled": false}
        }
    });
    let m = parse(body.clone());
    let out = m.to_es_json();
    assert_eq!(Mapping::from_es_json(&out).unwrap(), m);
    assert_eq!(out["properties"]["t"], body["properties"]["t"]);
    assert_eq!(
        out["properties"]["o"],
        json!({"properties": {"inner": {"type": "keyword"}}})
    );
    assert_eq!(
        out["properties"]["e"],
        json!({"type": "object", "enabled": false})
    );
    assert_eq!(out["dynamic"], json!("strict"));
    assert_eq!(out["_meta"], json!({"owner": "me"}));
    assert_eq!(m.leaf("t.raw").unwrap().kind, LeafKind::Keyword);
    assert_eq!(m.leaf("o.inner").unwrap().kind, LeafKind::Keyword);
    assert!(m.leaf("o").is_none());
}

#[test]
fn dotted_property_names_become_objects() {
    let m = parse(
        json!({"properties": {"user.name": {"type": "keyword"}, "user.age": {"type": "long"}}}),
    );
    assert_eq!(
        m.to_es_json(),
        json!({"properties": {"user": {"properties": {"age": {"type": "long"}, "name": {"type": "keyword"}}}}})
    );
}

#[test]
fn bad_mappings_use_es_wording() {
    let e = err(json!({"properties": {"f": {"type": "strange"}}}));
    assert!(
        matches!(&e, IndexError::MapperParsing(m) if m == "No handler for type [strange] declared on field [f]"),
        "{e}"
    );
    let e = err(json!({"properties": {"o": {"properties": {"f": {"type": "x"}}}}}));
    assert_eq!(
        e.to_string(),
        "No handler for type [x] declared on field [o.f]"
    );
    let e = err(json!({"properties": {"f": {"type": "keyword", "foo": 1}}}));
    assert_eq!(
        e.to_string(),
        "unknown parameter [foo] on mapper [f] of type [keyword]"
    );
    let e = err(json!({"properties": {"f": {"index": true}}}));
    assert_eq!(e.to_string(), "No type specified for field [f]");
    let e = err(json!({"properties": {"f": {"type": "half_float"}}}));
    assert!(e.to_string().contains("not supported yet"));
    let e = err(json!({"properties": {"f": {"type": "text", "analyzer": "english"}}}));
    assert!(e.to_string().contains("not supported yet"));
    let e = err(json!({"properties": {"f": {"type": "keyword", "copy_to": "g"}}}));
    assert!(e.to_string().contains("[copy_to] is not supported yet"));
    let e = err(json!({"properties": {"d": {"type": "date", "format": "yyyy-qq"}}}));
    assert!(matches!(e, IndexError::MapperParsing(_)));
    let e = err(json!({"properties": {"l": {"type": "long", "null_value": "abc"}}}));
    assert!(matches!(e, IndexError::MapperParsing(_)));
    let e = err(json!({"foo": "bar", "properties": {}}));
    assert!(
        e.to_string()
            .starts_with("Root mapping definition has unsupported parameters:")
    );
    assert!(matches!(
        err(json!({"_source": {"enabled": false}})),
        IndexError::MapperParsing(_)
    ));
    assert!(matches!(
        err(json!({"dynamic_templates": [{"x": {}}]})),
        IndexError::MapperParsing(_)
    ));
    assert!(matches!(err(json!([1])), IndexError::MapperParsing(_)));
    assert!(matches!(
        err(json!({"properties": {"": {"type": "long"}}})),
        IndexError::MapperParsing(_)
    ));
}

#[test]
fn merge_is_additive_and_refuses_type_changes() {
    let mut m = parse(json!({"properties": {"price": {"type": "long"}}}));
    let add = parse(json!({"properties": {"title": {"type": "text"}}}));
    assert!(m.merge(&add).unwrap());
    assert!(!m.merge(&add).unwrap());
    assert!(m.leaf("title").is_some() && m.leaf("price").is_some());
    let before = m.clone();
    let conflict =
        parse(json!({"properties": {"price": {"type": "text"}, "other": {"type": "long"}}}));
    let e = m.merge(&conflict).unwrap_err();
    assert!(
        matches!(&e, IndexError::IllegalArgument(msg) if msg == "mapper [price] cannot be changed from type [long] to [text]"),
        "{e}"
    );
    assert_eq!(m, before, "a failed merge changes nothing");
    // Objects and leaves do not mix.
    let e = m
        .merge(&parse(
            json!({"properties": {"price": {"properties": {"x": {"type": "long"}}}}}),
        ))
        .unwrap_err();
    assert!(matches!(e, IndexError::IllegalArgument(_)));
    // Updatable parameters change; others conflict.
    let mut k = parse(json!({"properties": {"k": {"type": "keyword", "ignore_above": 5}}}));
    assert!(
        k.merge(&parse(
            json!({"properties": {"k": {"type": "keyword", "ignore_above": 9}}})
        ))
        .unwrap()
    );
    assert_eq!(k.leaf("k").unwrap().ignore_above, Some(9));
    let e = k
        .merge(&parse(
            json!({"properties": {"k": {"type": "keyword", "index": false}}}),
        ))
        .unwrap_err();
    assert!(e.to_string().contains("Cannot update parameter [index]"));
    // Multi-fields are added.
    let mut t = parse(json!({"properties": {"t": {"type": "text"}}}));
    assert!(
        t.merge(&parse(
            json!({"properties": {"t": {"type": "text", "fields": {"k": {"type": "keyword"}}}}})
        ))
        .unwrap()
    );
    assert_eq!(t.leaf("t.k").unwrap().kind, LeafKind::Keyword);
}

fn update(m: &Mapping, doc: Value) -> Option<Value> {
    m.dynamic_update("1", &doc).unwrap().map(|u| u.to_es_json())
}

#[test]
fn dynamic_mapping_types_new_fields_like_es() {
    let m = Mapping::default();
    let got = update(
        &m,
        json!({
            "title": "hello world",
            "count": 3,
            "ratio": 1.5,
            "ok": true,
            "when": "2020-01-02T03:04:05Z",
            "day": "2020/01/02",
            "user": {"name": "x", "tags": ["a", "b"]},
            "nums": [1, 2],
            "nothing": null,
            "empty": []
        }),
    )
    .unwrap();
    let text =
        json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}});
    assert_eq!(got["properties"]["title"], text);
    assert_eq!(got["properties"]["count"], json!({"type": "long"}));
    assert_eq!(got["properties"]["ratio"], json!({"type": "float"}));
    assert_eq!(got["properties"]["ok"], json!({"type": "boolean"}));
    assert_eq!(got["properties"]["when"], json!({"type": "date"}));
    assert_eq!(got["properties"]["day"]["type"], json!("date"));
    assert_eq!(got["properties"]["user"]["properties"]["name"], text);
    assert_eq!(got["properties"]["user"]["properties"]["tags"], text);
    assert_eq!(got["properties"]["nums"], json!({"type": "long"}));
    assert!(got["properties"].get("nothing").is_none());
    assert!(got["properties"].get("empty").is_none());
}

#[test]
fn dynamic_update_reports_only_new_fields() {
    let mut m =
        parse(json!({"properties": {"user": {"properties": {"name": {"type": "keyword"}}}}}));
    assert_eq!(update(&m, json!({"user": {"name": "x"}})), None);
    let u = m
        .dynamic_update(
            "1",
            &json!({"user": {"name": "x", "age": 3}, "user.city": "y"}),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        u.to_es_json(),
        json!({"properties": {"user": {"properties": {
            "age": {"type": "long"},
            "city": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
        }}}})
    );
    assert!(m.merge(&u).unwrap());
    assert_eq!(update(&m, json!({"user": {"age": 4, "city": "z"}})), None);
}

#[test]
fn values_are_checked_against_their_types() {
    let m = parse(json!({"properties": {
        "price": {"type": "long"},
        "small": {"type": "byte"},
        "f": {"type": "float"},
        "b": {"type": "boolean"},
        "d": {"type": "date"},
        "strict_n": {"type": "integer", "coerce": false},
        "loose": {"type": "long", "ignore_malformed": true},
        "o": {"properties": {"x": {"type": "keyword"}}}
    }}));
    let e = m.dynamic_update("1", &json!({"price": "abc"})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "failed to parse field [price] of type [long] in document with id '1'. Preview of field's value: 'abc'"
    );
    assert!(matches!(e, IndexError::DocumentParsing(_)));
    assert_eq!(
        update(
            &m,
            json!({"price": "12", "f": "1.5", "b": "true", "d": 1_420_070_400_000i64})
        ),
        None
    );
    assert_eq!(update(&m, json!({"price": 12.7, "d": "2015-01-01"})), None);
    assert!(m.dynamic_update("1", &json!({"small": 300})).is_err());
    assert!(m.dynamic_update("1", &json!({"b": "yes"})).is_err());
    assert!(m.dynamic_update("1", &json!({"d": "yesterday"})).is_err());
    assert!(m.dynamic_update("1", &json!({"strict_n": "12"})).is_err());
    assert!(m.dynamic_update("1", &json!({"price": [1, "x"]})).is_err());
    assert!(m.dynamic_update("1", &json!({"price": {"a": 1}})).is_err());
    assert!(m.dynamic_update("1", &json!({"f": "NaN"})).is_err());
    assert_eq!(update(&m, json!({"loose": "not a number"})), None);
    let e = m.dynamic_update("1", &json!({"o": "scalar"})).unwrap_err();
    assert!(
        e.to_string()
            .contains("tried to parse field [o] as object, but found a concrete value")
    );
    assert!(matches!(
        m.dynamic_update("1", &json!([1, 2])),
        Err(IndexError::DocumentParsing(_))
    ));
    assert!(matches!(
        m.dynamic_update("1", &json!("x")),
        Err(IndexError::DocumentParsing(_))
    ));
    assert!(m.dynamic_update("1", &json!({"_id": "x"})).is_err());
    assert!(m.dynamic_update("1", &json!({"": 1})).is_err());
}

#[test]
fn dynamic_settings_are_honoured() {
    let strict = parse(json!({"dynamic": "strict", "properties": {"a": {"type": "long"}}}));
    let e = strict
        .dynamic_update("1", &json!({"a": 1, "b": 2}))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "mapping set to strict, dynamic introduction of [b] within [_doc] is not allowed"
    );
    let off = parse(json!({"dynamic": false, "properties": {"a": {"type": "long"}}}));
    assert_eq!(update(&off, json!({"a": 1, "b": "anything"})), None);
    let nested = parse(json!({"properties": {"o": {"dynamic": "strict", "properties": {}}}}));
    let e = nested
        .dynamic_update("1", &json!({"o": {"z": 1}}))
        .unwrap_err();
    assert!(e.to_string().contains("within [o]"));
    let no_dates = parse(json!({"date_detection": false}));
    assert_eq!(
        update(&no_dates, json!({"d": "2020-01-01"})).unwrap()["properties"]["d"]["type"],
        json!("text")
    );
    let numeric = parse(json!({"numeric_detection": true}));
    assert_eq!(
        update(&numeric, json!({"n": "12"})).unwrap()["properties"]["n"]["type"],
        json!("long")
    );
}

#[test]
fn too_many_fields_are_refused() {
    let mut props = serde_json::Map::new();
    for i in 0..1001 {
        props.insert(format!("f{i}"), json!(i));
    }
    let e = Mapping::default()
        .dynamic_update("1", &Value::Object(props))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Limit of total fields [1000] has been exceeded")
    );
}

fn arb_type() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "keyword", "text", "long", "integer", "double", "float", "boolean", "date",
    ])
}

fn arb_mapping(prefix: &'static str) -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-e]{1,2}", (arb_type(), prop::option::of("[a-c]")), 0..5)
        .prop_map(move |fields| {
            let mut props = serde_json::Map::new();
            for (name, (ty, inner)) in fields {
                let def = match inner {
                    Some(sub) => json!({"properties": {sub: {"type": ty}}}),
                    None => json!({"type": ty}),
                };
                props.insert(format!("{prefix}{name}"), def);
            }
            json!({"properties": props})
        })
}

proptest! {
    /// Merging non-conflicting mappings gives the same result in either order.
    #[test]
    fn merge_commutes_for_disjoint_fields(a in arb_mapping("a_"), b in arb_mapping("b_"), shared in arb_mapping("s_")) {
        let ma = parse(a);
        let mb = parse(b);
        let ms = parse(shared);
        let mut left = ma.clone();
        left.merge(&ms).unwrap();
        left.merge(&mb).unwrap();
        let mut right = mb.clone();
        right.merge(&ms).unwrap();
        right.merge(&ma).unwrap();
        prop_assert_eq!(&left, &right);
        // And the result round-trips through its ES form.
        prop_assert_eq!(Mapping::from_es_json(&left.to_es_json()).unwrap(), left);
    }

    /// Whatever dynamic mapping adds merges cleanly and then validates the same document.
    #[test]
    fn dynamic_updates_merge_and_settle(doc in prop::collection::btree_map("[a-d]", prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[a-z ]{0,8}".prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
    ], 0..6)) {
        let doc = Value::Object(doc.into_iter().collect());
        let mut m = Mapping::default();
        if let Some(u) = m.dynamic_update("1", &doc).unwrap() {
            m.merge(&u).unwrap();
        }
        prop_assert_eq!(m.dynamic_update("1", &doc).unwrap(), None);
    }
}

#[test]
fn a_key_repeated_in_one_object_is_checked_at_each_occurrence() {
    let m = Mapping::default();
    let src = br#"{"a": 1, "a": "x"}"#;
    let doc = super::json::Json::parse(src).unwrap();
    // The first `a` maps a long; the second must then fit it, as the indexer sees both.
    let e = m.dynamic_update_of("1", &doc).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("failed to parse field [a] of type [long]"),
        "{e}"
    );
}
