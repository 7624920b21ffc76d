//! The `cluster.remote.<alias>.*` settings of `PUT /_cluster/settings` (and the CCR node
//! settings of [`crate::recovery::KEYS`], validated there): parsing a request
//! body into flat changes, recognizing keys, applying changes (`null` removes, a `*` key
//! with `null` removes every match), validating the merged result with ES's messages,
//! turning it into one [`RemoteConfig`] per alias, and rendering settings with the
//! credentials redacted.
//!
//! All of it is pure: no I/O, so a rejected update is decided before anything is stored.
//! Transient settings override persistent ones key by key, as in ES. Deliberately not
//! here: storing settings (the catalog, the node's memory) or connecting (`registry`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::RemoteError;

/// What GET shows instead of a stored secret (ES's redaction marker).
pub const REDACTED: &str = "::es_redacted::";
/// `cluster.remote.<alias>.proxy_socket_connections` when unset.
pub const DEFAULT_PROXY_SOCKET_CONNECTIONS: u32 = 18;
/// `cluster.remote.<alias>.node_connections` when unset (`cluster.remote.connections_per_cluster`).
pub const DEFAULT_NODE_CONNECTIONS: u32 = 3;

const PREFIX: &str = "cluster.remote.";
/// Every per-alias setting Ferry accepts.
const SUFFIXES: &[&str] = &[
    "seeds",
    "mode",
    "proxy_address",
    "proxy_socket_connections",
    "node_connections",
    "server_name",
    "skip_unavailable",
    "credentials",
];
const SNIFF_ONLY: &[&str] = &["seeds", "node_connections"];
const PROXY_ONLY: &[&str] = &["proxy_address", "proxy_socket_connections", "server_name"];

/// Settings by flat key; values are strings, or lists of strings (`seeds`).
pub type FlatSettings = BTreeMap<String, Value>;
/// Changes in request order: `Some` sets, `None` removes (the key may hold `*`).
pub type Changes = Vec<(String, Option<Value>)>;

/// Where a setting lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Stored in the catalog; survives a full restart.
    Persistent,
    /// In the node's memory; lost on a restart.
    Transient,
}

impl Scope {
    /// `persistent` / `transient`, as in the request and response bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Persistent => "persistent",
            Scope::Transient => "transient",
        }
    }
}

/// A parsed `PUT /_cluster/settings` body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsUpdate {
    /// Changes to the persistent settings.
    pub persistent: Changes,
    /// Changes to the transient settings.
    pub transient: Changes,
}

/// How a remote cluster is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Through a list of seed nodes.
    Sniff,
    /// Through one address (a load balancer or SNI proxy).
    Proxy,
}

impl Mode {
    /// `sniff` / `proxy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sniff => "sniff",
            Mode::Proxy => "proxy",
        }
    }
}

/// The validated settings of one remote-cluster alias.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// The alias (`cluster.remote.<alias>.*`).
    pub alias: String,
    /// Sniff (default) or proxy.
    pub mode: Mode,
    /// `host:port` seeds, in order (sniff).
    pub seeds: Vec<String>,
    /// `host:port` of the proxy (proxy).
    pub proxy_address: Option<String>,
    /// Sockets to the proxy (default 18).
    pub proxy_socket_connections: u32,
    /// Gateway nodes to connect to (default 3).
    pub node_connections: u32,
    /// TLS SNI name for the proxy.
    pub server_name: Option<String>,
    /// Whether cross-cluster search may skip this remote (default false, as in 8.11).
    pub skip_unavailable: bool,
    /// An API key of the remote cluster; never shown, logged or printed by `Debug`.
    pub credentials: Option<String>,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("alias", &self.alias)
            .field("mode", &self.mode)
            .field("seeds", &self.seeds)
            .field("proxy_address", &self.proxy_address)
            .field("skip_unavailable", &self.skip_unavailable)
            .field("credentials", &self.credentials.as_ref().map(|_| REDACTED))
            .finish_non_exhaustive()
    }
}

impl RemoteConfig {
    /// The addresses to try, in order: the seeds (sniff) or the proxy address (proxy).
    pub fn addresses(&self) -> Vec<String> {
        match self.mode {
            Mode::Sniff => self.seeds.clone(),
            Mode::Proxy => self.proxy_address.iter().cloned().collect(),
        }
    }
}

/// Parses a `PUT /_cluster/settings` body: `persistent` and/or `transient` objects, with
/// nested or flat dotted keys. Keys are recognized here (an unknown one is ES's
/// `<scope> setting [x], not recognized`); values are checked by [`remotes`].
pub fn parse_update(body: &Map<String, Value>) -> Result<SettingsUpdate, RemoteError> {
    let mut update = SettingsUpdate::default();
    for (field, value) in body {
        let scope = match field.as_str() {
            "persistent" => Scope::Persistent,
            "transient" => Scope::Transient,
            other => {
                return Err(RemoteError::Parse(format!(
                    "[cluster_update_settings_request] unknown field [{other}]"
                )));
            }
        };
        let changes = match value {
            Value::Null => Vec::new(),
            Value::Object(settings) => flatten(settings, scope)?,
            _ => {
                return Err(RemoteError::Parse(format!(
                    "[cluster_update_settings_request] failed to parse field [{field}]"
                )));
            }
        };
        match scope {
            Scope::Persistent => update.persistent = changes,
            Scope::Transient => update.transient = changes,
        }
    }
    if update.persistent.is_empty() && update.transient.is_empty() {
        return Err(RemoteError::Validation(vec![
            "no settings to update".to_owned(),
        ]));
    }
    Ok(update)
}

/// Flattens one scope's object into recognized, normalized changes.
fn flatten(settings: &Map<String, Value>, scope: Scope) -> Result<Changes, RemoteError> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            other => out.push((prefix.to_owned(), other.clone())),
        }
    }
    let mut leaves = Vec::new();
    walk("", &Value::Object(settings.clone()), &mut leaves);
    let mut changes = Changes::with_capacity(leaves.len());
    for (key, value) in leaves {
        if value.is_null() {
            if key.contains('*')
                || recognize(&key).is_some()
                || crate::recovery::KEYS.contains(&key.as_str())
            {
                changes.push((key, None));
                continue;
            }
        } else if let Some((_, suffix)) = recognize(&key) {
            let value = normalize(&key, suffix, value)?;
            changes.push((key, Some(value)));
            continue;
        } else if crate::recovery::KEYS.contains(&key.as_str()) {
            let text = match &value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            crate::recovery::parse_value(&key, &text).map_err(RemoteError::illegal)?;
            changes.push((key, Some(Value::String(text))));
            continue;
        }
        return Err(RemoteError::illegal(format!(
            "{} setting [{key}], not recognized",
            scope.as_str()
        )));
    }
    Ok(changes)
}

/// `(alias, suffix)` of a supported key. The alias follows ES's affix pattern `[-\w]+`.
fn recognize(key: &str) -> Option<(&str, &'static str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (alias, suffix) = rest.split_once('.')?;
    let valid_alias = !alias.is_empty()
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let suffix = SUFFIXES.iter().find(|s| **s == suffix)?;
    valid_alias.then_some((alias, *suffix))
}

/// Settings values as ES keeps them: strings, and a list of strings for `seeds`.
fn normalize(key: &str, suffix: &str, value: Value) -> Result<Value, RemoteError> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match (suffix, &value) {
        ("seeds", Value::Array(items)) => items
            .iter()
            .map(|v| scalar(v).map(Value::String))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array)
            .ok_or_else(|| {
                RemoteError::illegal(format!("Failed to parse value for setting [{key}]"))
            }),
        ("seeds", v) => scalar(v)
            .map(|s| Value::Array(vec![Value::String(s)]))
            .ok_or_else(|| {
                RemoteError::illegal(format!("Failed to parse value for setting [{key}]"))
            }),
        (_, v) => scalar(v).map(Value::String).ok_or_else(|| {
            RemoteError::illegal(format!(
                "Failed to parse value [{v}] for setting [{key}]: expected a single value"
            ))
        }),
    }
}

/// `current` with `changes` applied, and the concrete changes made (wildcard removals
/// expanded to the keys they matched), in order.
pub fn apply(current: &FlatSettings, changes: &Changes) -> (FlatSettings, Changes) {
    let mut next = current.clone();
    let mut done = Changes::new();
    for (key, value) in changes {
        match value {
            Some(v) => {
                next.insert(key.clone(), v.clone());
                done.push((key.clone(), Some(v.clone())));
            }
            None if key.contains('*') => {
                let matched: Vec<String> = next
                    .keys()
                    .filter(|k| glob_match(key, k))
                    .cloned()
                    .collect();
                for k in matched {
                    next.remove(&k);
                    done.push((k, None));
                }
            }
            None => {
                next.remove(key);
                done.push((key.clone(), None));
            }
        }
    }
    (next, done)
}

/// `*` matches any run of characters (ES's `Regex.simpleMatch`).
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == text;
    }
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The effective remote clusters of the merged settings (transient over persistent),
/// validated with ES's messages. Only enabled remotes are returned: sniff with seeds, or
/// proxy with a proxy address.
pub fn remotes(
    persistent: &FlatSettings,
    transient: &FlatSettings,
) -> Result<BTreeMap<String, RemoteConfig>, RemoteError> {
    let mut merged = persistent.clone();
    merged.extend(transient.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut by_alias: BTreeMap<&str, BTreeMap<&'static str, &Value>> = BTreeMap::new();
    for (key, value) in &merged {
        if let Some((alias, suffix)) = recognize(key) {
            by_alias.entry(alias).or_default().insert(suffix, value);
        }
    }
    let mut out = BTreeMap::new();
    for (alias, keys) in by_alias {
        if let Some(config) = remote_config(alias, &keys)? {
            out.insert(alias.to_owned(), config);
        }
    }
    Ok(out)
}

fn remote_config(
    alias: &str,
    keys: &BTreeMap<&'static str, &Value>,
) -> Result<Option<RemoteConfig>, RemoteError> {
    let key = |suffix: &str| format!("{PREFIX}{alias}.{suffix}");
    let text = |suffix: &str| keys.get(suffix).and_then(|v| v.as_str());
    let mode = match text("mode") {
        None => Mode::Sniff,
        Some(m) if m.eq_ignore_ascii_case("sniff") => Mode::Sniff,
        Some(m) if m.eq_ignore_ascii_case("proxy") => Mode::Proxy,
        Some(other) => {
            return Err(RemoteError::illegal(format!(
                "failed to parse value [{other}] for setting [{}], must be one of [sniff, proxy]",
                key("mode")
            )));
        }
    };
    let seeds: Vec<String> = match keys.get("seeds") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    for seed in &seeds {
        parse_host_port(seed)?;
    }
    let proxy_address = text("proxy_address")
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    if let Some(address) = &proxy_address {
        parse_host_port(address)?;
    }
    let positive = |suffix: &str, default: u32| -> Result<u32, RemoteError> {
        match text(suffix) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => u32::try_from(n).map_err(|_| {
                    RemoteError::illegal(format!(
                        "Failed to parse value [{v}] for setting [{}]",
                        key(suffix)
                    ))
                }),
                Ok(_) => Err(RemoteError::illegal(format!(
                    "Failed to parse value [{v}] for setting [{}] must be >= 1",
                    key(suffix)
                ))),
                Err(_) => Err(RemoteError::illegal(format!(
                    "Failed to parse value [{v}] for setting [{}]",
                    key(suffix)
                ))),
            },
        }
    };
    let proxy_socket_connections =
        positive("proxy_socket_connections", DEFAULT_PROXY_SOCKET_CONNECTIONS)?;
    let node_connections = positive("node_connections", DEFAULT_NODE_CONNECTIONS)?;
    let skip_unavailable = match text("skip_unavailable") {
        None => false,
        Some("true") => true,
        Some("false") => false,
        Some(v) => {
            return Err(RemoteError::illegal(format!(
                "Failed to parse value [{v}] as only [true] or [false] are allowed."
            )));
        }
    };
    let (wrong, required, configured) = match mode {
        Mode::Sniff => (PROXY_ONLY, "PROXY", "SNIFF"),
        Mode::Proxy => (SNIFF_ONLY, "SNIFF", "PROXY"),
    };
    if let Some(suffix) = wrong.iter().find(|s| keys.contains_key(**s)) {
        return Err(RemoteError::illegal(format!(
            "Setting \"{}\" cannot be used with the configured \"{}\" [required={required}, configured={configured}]",
            key(suffix),
            key("mode")
        )));
    }
    let credentials = text("credentials").map(str::to_owned);
    if credentials.as_deref() == Some("") {
        return Err(RemoteError::illegal(format!(
            "setting [{}] must not be empty",
            key("credentials")
        )));
    }
    let enabled = match mode {
        Mode::Sniff => !seeds.is_empty(),
        Mode::Proxy => proxy_address.is_some(),
    };
    if !enabled {
        if let Some(suffix) = ["skip_unavailable", "credentials"]
            .iter()
            .find(|s| keys.contains_key(**s))
        {
            return Err(RemoteError::illegal(format!(
                "Cannot configure setting [{}] if remote cluster is not enabled.",
                key(suffix)
            )));
        }
        return Ok(None);
    }
    Ok(Some(RemoteConfig {
        alias: alias.to_owned(),
        mode,
        seeds,
        proxy_address,
        proxy_socket_connections,
        node_connections,
        server_name: text("server_name")
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        skip_unavailable,
        credentials,
    }))
}

/// ES's `host:port` check (`RemoteConnectionStrategy.parsePort`), with its messages.
fn parse_host_port(address: &str) -> Result<u16, RemoteError> {
    let separator = match address.rfind(':') {
        Some(i) if i + 1 < address.len() && i > 0 => i,
        _ => {
            return Err(RemoteError::illegal(format!(
                "remote hosts need to be configured as [host:port], found [{address}] instead"
            )));
        }
    };
    let port: i64 = address[separator + 1..]
        .parse()
        .map_err(|_| RemoteError::illegal("failed to parse port"))?;
    if port <= 0 {
        return Err(RemoteError::illegal(format!(
            "port number must be > 0 but was: [{port}]"
        )));
    }
    u16::try_from(port).map_err(|_| RemoteError::illegal("failed to parse port"))
}

/// Whether a flat key holds a secret that is never shown.
fn is_secret(key: &str) -> bool {
    recognize(key).is_some_and(|(_, suffix)| suffix == "credentials")
}

/// Settings as GET shows them: nested by default, flat with `flat_settings`, secrets
/// replaced by [`REDACTED`].
pub fn render<'a>(
    settings: impl IntoIterator<Item = (&'a String, &'a Value)>,
    flat: bool,
) -> Value {
    let mut out = Map::new();
    for (key, value) in settings {
        let value = if is_secret(key) {
            Value::String(REDACTED.to_owned())
        } else {
            value.clone()
        };
        if flat {
            out.insert(key.clone(), value);
        } else {
            insert_nested(&mut out, key, value);
        }
    }
    Value::Object(out)
}

/// The settings a PUT set (removals are not shown, as in ES), rendered like [`render`].
pub fn render_changes(changes: &Changes, flat: bool) -> Value {
    let set: Vec<(&String, &Value)> = changes
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
    render(set, flat)
}

fn insert_nested(root: &mut Map<String, Value>, key: &str, value: Value) {
    let mut current = root;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            current.insert(part.to_owned(), value);
            return;
        }
        let next = current
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        current = next.as_object_mut().expect("just made an object");
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
