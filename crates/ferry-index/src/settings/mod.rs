//! Index settings: parsing ES settings bodies (flat `index.x`, nested `{"index": {..}}`
//! or bare `{"x": ..}`, string or number values), validation with ES's messages,
//! defaults, which settings are dynamic, and rendering them as `GET _settings` does.
//!
//! Only the settings the engine acts on are accepted; any other key is refused as ES
//! refuses an unknown setting (never silently ignored). This module does not store
//! settings (the catalog does) and does not apply them to running shards (the index
//! does).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::{IndexError, Result};

mod time;

use time::{format_time, parse_time};

const SHARDS: &str = "index.number_of_shards";
const REPLICAS: &str = "index.number_of_replicas";
const REFRESH: &str = "index.refresh_interval";
const SOFT_DELETES: &str = "index.soft_deletes.enabled";
const LEASE_PERIOD: &str = "index.soft_deletes.retention_lease.period";
/// Set by CCR on a follower index; internal: `PUT _settings` never changes it.
const FOLLOWING: &str = "index.xpack.ccr.following_index";
/// Ferry's: a follower copies its leader's search segments instead of indexing; set by
/// put-follow (its `settings` may say `false`), static, internal to `PUT _settings`.
const COPY_SEGMENTS: &str = "index.ferry.ccr.copy_segments";

/// Every setting the engine accepts.
const KNOWN: [&str; 7] = [
    SHARDS,
    REPLICAS,
    REFRESH,
    SOFT_DELETES,
    LEASE_PERIOD,
    FOLLOWING,
    COPY_SEGMENTS,
];
/// Settings only a dedicated API changes (ES's `InternalIndex` settings).
const INTERNAL: [&str; 2] = [FOLLOWING, COPY_SEGMENTS];
/// Settings that `PUT /<index>/_settings` may change on an open index.
const DYNAMIC: [&str; 3] = [REPLICAS, REFRESH, LEASE_PERIOD];

fn unknown(key: &str) -> IndexError {
    illegal(format!(
        "unknown setting [{key}] please check that any required plugins are installed, \
         or check the breaking changes documentation for removed settings"
    ))
}

/// Most shards an index may have (ES's limit).
pub const MAX_SHARDS: u32 = 1024;

/// The settings of one index that the engine acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSettings {
    /// `index.number_of_shards` (default 1, fixed at creation).
    pub number_of_shards: u32,
    /// `index.number_of_replicas` (default 1; 0 allowed).
    pub number_of_replicas: u32,
    /// `index.refresh_interval` (default 1s; `None` for `-1`, i.e. no scheduled refresh).
    pub refresh_interval: Option<Duration>,
    /// `index.soft_deletes.retention_lease.period` (default 12h).
    pub retention_lease_period: Duration,
    /// `index.xpack.ccr.following_index` (default false): a CCR follower, which refuses
    /// client writes. Set by the follow API, cleared by unfollow; static otherwise.
    pub following_index: bool,
    /// `index.ferry.ccr.copy_segments` (default false): while following, the shards'
    /// search indices are copies of the leader's segments, installed as the leader
    /// commits them, rather than indexed here. Read when a shard opens.
    pub copy_segments: bool,
}

impl IndexSettings {
    /// The name of [`IndexSettings::copy_segments`], for the follow API that sets it.
    pub const COPY_SEGMENTS: &'static str = COPY_SEGMENTS;
}

impl Default for IndexSettings {
    fn default() -> Self {
        Self {
            number_of_shards: 1,
            number_of_replicas: 1,
            refresh_interval: Some(Duration::from_secs(1)),
            retention_lease_period: Duration::from_secs(12 * 3600),
            following_index: false,
            copy_segments: false,
        }
    }
}

fn illegal(msg: impl Into<String>) -> IndexError {
    IndexError::IllegalArgument(msg.into())
}

/// Flattens a settings object into `index.`-prefixed dotted keys, in order.
fn flatten(settings: &Value) -> Result<Vec<(String, Value)>> {
    fn walk(prefix: &str, map: &Map<String, Value>, out: &mut Vec<(String, Value)>) {
        for (k, v) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(m) => walk(&key, m, out),
                other => out.push((key, other.clone())),
            }
        }
    }
    let map = match settings {
        Value::Null => return Ok(Vec::new()),
        Value::Object(m) => m,
        other => {
            return Err(illegal(format!(
                "settings must be an object, got [{other}]"
            )));
        }
    };
    let mut flat = Vec::new();
    walk("", map, &mut flat);
    Ok(flat
        .into_iter()
        .map(|(k, v)| {
            if k.starts_with("index.") {
                (k, v)
            } else {
                (format!("index.{k}"), v)
            }
        })
        .collect())
}

/// A setting value as ES prints it in messages (strings without quotes).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_int(key: &str, v: &Value, min: i64, max: i64) -> Result<u32> {
    let raw = text(v);
    let n: i64 = raw
        .trim()
        .parse()
        .map_err(|_| illegal(format!("Failed to parse value [{raw}] for setting [{key}]")))?;
    if n < min {
        return Err(illegal(format!(
            "Failed to parse value [{raw}] for setting [{key}] must be >= {min}"
        )));
    }
    if n > max {
        return Err(illegal(format!(
            "Failed to parse value [{raw}] for setting [{key}] must be <= {max}"
        )));
    }
    u32::try_from(n)
        .map_err(|_| illegal(format!("Failed to parse value [{raw}] for setting [{key}]")))
}

fn parse_bool(v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(illegal(format!(
            "Failed to parse value [{}] as only [true] or [false] are allowed.",
            text(other)
        ))),
    }
}

impl IndexSettings {
    /// Parses the `settings` of a create-index body. Unknown or invalid settings →
    /// `IllegalArgument`; `index.soft_deletes.enabled: false` is refused.
    pub fn from_es_json(settings: &Value) -> Result<Self> {
        let mut s = Self::default();
        for (key, value) in flatten(settings)? {
            s.set(&key, &value)?;
        }
        Ok(s)
    }

    /// Applies a `PUT /<index>/_settings` body (optionally wrapped in `"settings"`);
    /// static settings → `IllegalArgument`, and nothing is changed.
    pub fn update(&self, body: &Value) -> Result<Self> {
        let body = match body {
            Value::Object(m) if m.len() == 1 && m.contains_key("settings") => &m["settings"],
            other => other,
        };
        let flat = flatten(body)?;
        let mut next = self.clone();
        let mut rejected = Vec::new();
        for (key, value) in &flat {
            if !KNOWN.contains(&key.as_str()) {
                return Err(unknown(key));
            }
            if INTERNAL.contains(&key.as_str()) {
                return Err(illegal(format!(
                    "can not update internal setting [{key}]; this setting is managed via a dedicated API"
                )));
            }
            if DYNAMIC.contains(&key.as_str()) {
                next.set(key, value)?;
            } else {
                rejected.push(key.clone());
            }
        }
        if !rejected.is_empty() {
            return Err(illegal(format!(
                "Can't update non dynamic settings [[{}]] for open indices",
                rejected.join(", ")
            )));
        }
        Ok(next)
    }

    /// Sets one flattened key; `null` resets it to the default.
    fn set(&mut self, key: &str, value: &Value) -> Result<()> {
        let default = Self::default();
        let null = value.is_null();
        match key {
            SHARDS => {
                self.number_of_shards = if null {
                    default.number_of_shards
                } else {
                    parse_int(key, value, 1, i64::from(MAX_SHARDS))?
                };
            }
            REPLICAS => {
                self.number_of_replicas = if null {
                    default.number_of_replicas
                } else {
                    parse_int(key, value, 0, i64::from(i32::MAX))?
                };
            }
            REFRESH => {
                self.refresh_interval = if null {
                    default.refresh_interval
                } else {
                    parse_time(key, value)?
                };
            }
            SOFT_DELETES => {
                if !null && !parse_bool(value)? {
                    return Err(illegal(format!(
                        "Creating indices with soft-deletes disabled is no longer supported. \
                         Please do not specify a value for setting [{SOFT_DELETES}]."
                    )));
                }
            }
            LEASE_PERIOD => {
                self.retention_lease_period = if null {
                    default.retention_lease_period
                } else {
                    parse_time(key, value)?.ok_or_else(|| {
                        illegal(format!(
                            "failed to parse value [{}] for setting [{key}], must be >= [0ms]",
                            text(value)
                        ))
                    })?
                };
            }
            FOLLOWING => {
                self.following_index = !null && parse_bool(value)?;
            }
            COPY_SEGMENTS => {
                self.copy_segments = !null && parse_bool(value)?;
            }
            _ => return Err(unknown(key)),
        }
        Ok(())
    }

    /// The settings as flat `index.*` keys with string values, sorted (ES's order).
    /// Settings left at their defaults are omitted, except the shard and replica counts.
    pub fn to_flat(&self) -> BTreeMap<String, String> {
        let default = Self::default();
        let mut flat = BTreeMap::new();
        flat.insert(SHARDS.to_owned(), self.number_of_shards.to_string());
        flat.insert(REPLICAS.to_owned(), self.number_of_replicas.to_string());
        if self.refresh_interval != default.refresh_interval {
            let v = self
                .refresh_interval
                .map_or_else(|| "-1".to_owned(), format_time);
            flat.insert(REFRESH.to_owned(), v);
        }
        if self.retention_lease_period != default.retention_lease_period {
            flat.insert(
                LEASE_PERIOD.to_owned(),
                format_time(self.retention_lease_period),
            );
        }
        if self.following_index {
            flat.insert(FOLLOWING.to_owned(), "true".to_owned());
        }
        if self.copy_segments {
            flat.insert(COPY_SEGMENTS.to_owned(), "true".to_owned());
        }
        flat
    }

    /// The ES `settings` object as `GET /<index>/_settings` shows it: nested under
    /// `index`, values as strings.
    pub fn to_es_json(&self) -> Value {
        nest(self.to_flat())
    }

    /// [`Self::to_es_json`] plus what the node knows: `uuid`, `provided_name` and
    /// `creation_date` (ms since the epoch, as a string).
    pub fn to_es_json_with(&self, uuid: &str, name: &str, created_millis: u64) -> Value {
        nest(self.to_flat_with(uuid, name, created_millis))
    }

    /// The flat form (`?flat_settings=true`) with `uuid`, `provided_name`, `creation_date`.
    pub fn to_flat_with(
        &self,
        uuid: &str,
        name: &str,
        created_millis: u64,
    ) -> BTreeMap<String, String> {
        let mut flat = self.to_flat();
        flat.insert("index.creation_date".into(), created_millis.to_string());
        flat.insert("index.provided_name".into(), name.to_owned());
        flat.insert("index.uuid".into(), uuid.to_owned());
        flat
    }
}

/// Turns sorted dotted keys into nested objects.
fn nest(flat: BTreeMap<String, String>) -> Value {
    let mut root = Map::new();
    for (key, value) in flat {
        let mut node = &mut root;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.insert(part.to_owned(), Value::String(value.clone()));
            } else {
                let child = node.entry(part.to_owned()).or_insert_with(|| json!({}));
                let Value::Object(child) = child else { break };
                node = child;
            }
        }
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_nested_and_bare_forms_with_numbers_or_strings() {
        let want = IndexSettings {
            number_of_shards: 2,
            number_of_replicas: 0,
            ..Default::default()
        };
        for body in [
            json!({"index.number_of_shards": "2", "index.number_of_replicas": 0}),
            json!({"index": {"number_of_shards": 2, "number_of_replicas": "0"}}),
            json!({"number_of_shards": 2, "number_of_replicas": 0}),
        ] {
            assert_eq!(IndexSettings::from_es_json(&body).unwrap(), want, "{body}");
        }
        assert_eq!(
            IndexSettings::from_es_json(&json!({})).unwrap(),
            IndexSettings::default()
        );
        assert_eq!(
            IndexSettings::from_es_json(&Value::Null).unwrap(),
            IndexSettings::default()
        );
    }

    #[test]
    fn shard_count_bounds() {
        let e = IndexSettings::from_es_json(&json!({"number_of_shards": 0})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Failed to parse value [0] for setting [index.number_of_shards] must be >= 1"
        );
        assert!(IndexSettings::from_es_json(&json!({"number_of_shards": 1025})).is_err());
        assert!(IndexSettings::from_es_json(&json!({"number_of_shards": "x"})).is_err());
        assert!(IndexSettings::from_es_json(&json!({"number_of_shards": 1.5})).is_err());
        assert!(IndexSettings::from_es_json(&json!({"number_of_replicas": -1})).is_err());
    }

    #[test]
    fn soft_deletes_must_stay_enabled() {
        assert!(IndexSettings::from_es_json(&json!({"index.soft_deletes.enabled": true})).is_ok());
        assert!(IndexSettings::from_es_json(&json!({"soft_deletes": {"enabled": "true"}})).is_ok());
        let e =
            IndexSettings::from_es_json(&json!({"index": {"soft_deletes": {"enabled": false}}}))
                .unwrap_err();
        assert_eq!(e.es_type(), "illegal_argument_exception");
        let s = IndexSettings::from_es_json(
            &json!({"index.soft_deletes.retention_lease.period": "1h"}),
        )
        .unwrap();
        assert_eq!(s.retention_lease_period, Duration::from_secs(3600));
        assert!(
            IndexSettings::from_es_json(&json!({"soft_deletes.retention_lease.period": "-1"}))
                .is_err()
        );
    }

    #[test]
    fn unknown_settings_are_refused() {
        let e = IndexSettings::from_es_json(&json!({"index": {"foo": 1}})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown setting [index.foo] please check that any required plugins are installed, or check the breaking changes documentation for removed settings"
        );
    }

    #[test]
    fn update_allows_only_dynamic_settings() {
        let s = IndexSettings::default();
        let u = s
            .update(&json!({"index": {"refresh_interval": "-1", "number_of_replicas": 0}}))
            .unwrap();
        assert_eq!(u.refresh_interval, None);
        assert_eq!(u.number_of_replicas, 0);
        let u2 = u
            .update(&json!({"settings": {"index.refresh_interval": null}}))
            .unwrap();
        assert_eq!(u2.refresh_interval, Some(Duration::from_secs(1)));
        let e = s.update(&json!({"index.number_of_shards": 3})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Can't update non dynamic settings [[index.number_of_shards]] for open indices"
        );
        assert!(s.update(&json!({"index.bogus": 3})).is_err());
    }

    #[test]
    fn rendering_matches_es() {
        let s =
            IndexSettings::from_es_json(&json!({"number_of_shards": 3, "refresh_interval": "30s"}))
                .unwrap();
        assert_eq!(
            s.to_es_json(),
            json!({"index": {"number_of_replicas": "1", "number_of_shards": "3", "refresh_interval": "30s"}})
        );
        let v = s.to_es_json_with("u-1", "logs", 42);
        assert_eq!(v["index"]["uuid"], "u-1");
        assert_eq!(v["index"]["provided_name"], "logs");
        assert_eq!(v["index"]["creation_date"], "42");
        let keys: Vec<_> = v["index"].as_object().unwrap().keys().cloned().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        // What GET shows parses back to the same settings.
        let back = IndexSettings::from_es_json(&s.to_es_json()).unwrap();
        assert_eq!(back, s);
        let off = IndexSettings {
            refresh_interval: None,
            ..Default::default()
        };
        assert_eq!(off.to_es_json()["index"]["refresh_interval"], "-1");
    }

    #[test]
    fn following_index_parses_renders_and_is_internal() {
        let f = IndexSettings::from_es_json(
            &json!({"index": {"xpack": {"ccr": {"following_index": "true"}}}}),
        )
        .unwrap();
        assert!(f.following_index);
        assert_eq!(
            f.to_es_json()["index"]["xpack"]["ccr"]["following_index"],
            "true"
        );
        assert_eq!(IndexSettings::from_es_json(&f.to_es_json()).unwrap(), f);
        assert!(!IndexSettings::default().to_flat().contains_key(FOLLOWING));
        let e = f
            .update(&json!({"index.xpack.ccr.following_index": false}))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "can not update internal setting [index.xpack.ccr.following_index]; this setting is managed via a dedicated API"
        );
        assert!(
            IndexSettings::from_es_json(&json!({"index.xpack.ccr.following_index": "yes"}))
                .is_err()
        );
    }
}
