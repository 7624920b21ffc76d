//! How index settings look in responses: ES's nested `{"index": {...}}` form with string
//! values, the `flat_settings=true` form, and `GET _settings/<name>` filtering.
//!
//! The engine renders the settings it acts on; this module adds what ES shows beside
//! them (`creation_date`, `provided_name`, `uuid`, `version.created`) and normalizes any
//! flat or nested input into one shape. It does not validate settings.

use serde_json::{Map, Value};

use super::names::simple_match;

/// ES's internal id of the version Ferry reports (8.11.0 → 8110099).
pub const VERSION_CREATED: &str = "8110099";

/// Flattens nested settings into `a.b.c → "value"` pairs (values as strings, arrays kept).
pub fn flatten(v: &Value) -> Map<String, Value> {
    flatten_with(v, |leaf| match leaf {
        Value::String(_) | Value::Array(_) | Value::Null => leaf.clone(),
        other => Value::String(other.to_string()),
    })
}

/// Flattens nested settings into `a.b.c → value` pairs, keeping each value's JSON type.
pub fn flatten_raw(v: &Value) -> Map<String, Value> {
    flatten_with(v, Value::clone)
}

/// The one walk behind [`flatten`] and [`flatten_raw`]; `leaf` renders non-object values.
fn flatten_with(v: &Value, leaf: impl Fn(&Value) -> Value + Copy) -> Map<String, Value> {
    fn walk(
        prefix: &str,
        v: &Value,
        out: &mut Map<String, Value>,
        leaf: impl Fn(&Value) -> Value + Copy,
    ) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out, leaf);
                }
            }
            other => {
                out.insert(prefix.to_owned(), leaf(other));
            }
        }
    }
    let mut out = Map::new();
    walk("", v, &mut out, leaf);
    out
}

/// Nests flat `a.b.c` keys into objects, keeping the order of first appearance.
pub fn unflatten(flat: &Map<String, Value>) -> Value {
    let mut root = Map::new();
    for (key, v) in flat {
        let mut cur = &mut root;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                cur.insert(part.to_owned(), v.clone());
            } else {
                let next = cur
                    .entry(part.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !next.is_object() {
                    *next = Value::Object(Map::new());
                }
                cur = next.as_object_mut().expect("just made an object");
            }
        }
    }
    Value::Object(root)
}

/// What ES shows about an index beside its settings.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// Index name (`provided_name`).
    pub name: &'a str,
    /// Index uuid.
    pub uuid: &'a str,
    /// Creation time, ms since the epoch (`creation_date`).
    pub created_at_millis: i64,
    /// Adds `verified_before_close`.
    pub closed: bool,
    /// `?human`: adds `creation_date_string` and `version.created_string`.
    pub human: bool,
}

/// `2024-01-31T12:00:00.000Z` for milliseconds since the epoch.
pub fn iso_millis(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The flat settings of an index as ES shows them: the engine's settings (every key under
/// `index.`), then `creation_date`, `provided_name`, `uuid`, `version.created`.
pub fn index_settings_flat(engine: &Value, id: &Identity<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in flatten(engine) {
        let k = if k.starts_with("index.") {
            k
        } else {
            format!("index.{k}")
        };
        out.insert(k, v);
    }
    let mut put = |k: &str, v: &str| {
        out.entry(k.to_owned())
            .or_insert_with(|| Value::String(v.to_owned()));
    };
    put("index.creation_date", &id.created_at_millis.to_string());
    if id.human {
        put(
            "index.creation_date_string",
            &iso_millis(id.created_at_millis),
        );
    }
    put("index.provided_name", id.name);
    put("index.uuid", id.uuid);
    put("index.version.created", VERSION_CREATED);
    if id.human {
        put("index.version.created_string", super::health::ES_VERSION);
    }
    if id.closed {
        put("index.verified_before_close", "true");
    }
    out
}

/// Renders flat settings nested (default) or flat (`flat_settings=true`), keeping only keys
/// matching one of `names` (comma list with wildcards) when given.
pub fn render(flat: Map<String, Value>, flat_settings: bool, names: Option<&str>) -> Value {
    let flat: Map<String, Value> = match names {
        None => flat,
        Some(names) => {
            let pats: Vec<&str> = names
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            flat.into_iter()
                .filter(|(k, _)| pats.iter().any(|p| *p == "_all" || simple_match(p, k)))
                .collect()
        }
    };
    if flat_settings {
        Value::Object(flat)
    } else {
        unflatten(&flat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flatten_and_unflatten_round_trip_with_string_values() {
        let nested = json!({"index": {"number_of_shards": 1, "refresh_interval": "1s", "soft_deletes": {"enabled": true}}});
        let flat = flatten(&nested);
        assert_eq!(flat["index.number_of_shards"], "1");
        assert_eq!(flat["index.soft_deletes.enabled"], "true");
        assert_eq!(
            unflatten(&flat),
            json!({"index": {"number_of_shards": "1", "refresh_interval": "1s", "soft_deletes": {"enabled": "true"}}})
        );
    }

    #[test]
    fn index_settings_add_identity_and_filter_by_name() {
        let id = Identity {
            name: "logs",
            uuid: "u1",
            created_at_millis: 1_700_000_000_000,
            closed: false,
            human: true,
        };
        let flat = index_settings_flat(&json!({"number_of_shards": "2"}), &id);
        assert_eq!(flat["index.creation_date"], "1700000000000");
        assert_eq!(
            flat["index.creation_date_string"],
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(flat["index.version.created_string"], "8.11.0");
        assert_eq!(flat["index.number_of_shards"], "2");
        assert_eq!(flat["index.uuid"], "u1");
        assert_eq!(flat["index.version.created"], VERSION_CREATED);
        let shown = render(flat.clone(), false, Some("index.number_*,index.uuid"));
        assert_eq!(
            shown,
            json!({"index": {"number_of_shards": "2", "uuid": "u1"}})
        );
        let flat_shown = render(flat, true, Some("index.uuid"));
        assert_eq!(flat_shown, json!({"index.uuid": "u1"}));
    }
}
