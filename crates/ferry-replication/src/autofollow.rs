//! Auto-follow patterns (ES's `AutoFollowPattern` and the candidate rules of its
//! `AutoFollowCoordinator`), as pure code: parsing and validating `PUT
//! /_ccr/auto_follow/<name>`, rendering a pattern for GET, matching leader indices,
//! naming followers, and deciding, for one remote state, what each active pattern does
//! with each leader index.
//!
//! Deliberately not here: storing patterns, polling the remote, or following (the node
//! does all three).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::follow::FollowParameters;
use crate::remote::state::IndexSummary;

/// The placeholder `follow_index_pattern` substitutes.
pub const LEADER_INDEX_PLACEHOLDER: &str = "{{leader_index}}";

/// One stored pattern (the ES fields plus what has been followed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoFollowPattern {
    /// The remote alias.
    pub remote_cluster: String,
    /// Leader index patterns (`*` wildcards).
    pub leader_index_patterns: Vec<String>,
    /// Leader indices matching one of these are skipped.
    #[serde(default)]
    pub leader_index_exclusion_patterns: Vec<String>,
    /// The follower name, `{{leader_index}}` substituted (`None`: the leader's name).
    #[serde(default)]
    pub follow_index_pattern: Option<String>,
    /// Settings for the followers (put-follow's `settings`).
    #[serde(default)]
    pub settings: Option<Value>,
    /// The follow parameters in ES JSON form (validated when stored).
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// `false` while paused.
    pub active: bool,
    /// Uuids of leader indices already followed (or deliberately skipped).
    #[serde(default)]
    pub followed_leader_index_uuids: BTreeSet<String>,
}

/// ES's name rules for an auto-follow pattern; the messages are ES's.
pub fn validate_name(name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if name.contains(',') {
        errors.push(format!("name [{name}] name must not contain a ','"));
    }
    if name.starts_with('_') {
        errors.push(format!("name [{name}] name must not start with '_'"));
    }
    if name.len() > 255 {
        errors.push(format!("name is too long ({} > 255)", name.len()));
    }
    errors
}

fn strings(body: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| format!("[{key}] must be a list of strings")),
        Some(_) => Err(format!("[{key}] must be a list of strings")),
    }
}

/// The fields `PUT /_ccr/auto_follow/<name>` accepts besides the follow parameters.
const FIELDS: &[&str] = &[
    "remote_cluster",
    "leader_index_patterns",
    "leader_index_exclusion_patterns",
    "follow_index_pattern",
    "settings",
];

/// Why a put was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// ES's `action_request_validation_exception` lines.
    Validation(Vec<String>),
    /// A malformed field (`x_content_parse_exception`).
    Parse(String),
}

/// Parses a put body into an active pattern with nothing followed yet.
pub fn parse(name: &str, body: &Map<String, Value>) -> Result<AutoFollowPattern, PatternError> {
    let params_keys = FollowParameters::default().to_es_json();
    for key in body.keys() {
        if !FIELDS.contains(&key.as_str()) && !params_keys.contains_key(key) {
            return Err(PatternError::Parse(format!(
                "[put_auto_follow_pattern_request] unknown field [{key}]"
            )));
        }
    }
    let mut errors = Vec::new();
    let remote = match body.get("remote_cluster") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => {
            errors.push("[remote_cluster] is missing".to_owned());
            None
        }
    };
    let patterns = strings(body, "leader_index_patterns").map_err(PatternError::Parse)?;
    if patterns.as_ref().is_none_or(Vec::is_empty) {
        errors.push("[leader_index_patterns] is missing".to_owned());
    }
    errors.extend(validate_name(name));
    let exclusions = strings(body, "leader_index_exclusion_patterns")
        .map_err(PatternError::Parse)?
        .unwrap_or_default();
    let follow_index_pattern = match body.get("follow_index_pattern") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(PatternError::Parse(
                "[follow_index_pattern] must be a string".to_owned(),
            ));
        }
    };
    let params = match FollowParameters::from_es_json(body) {
        Ok(p) => Some(p),
        Err(crate::follow::FollowError::Validation(lines)) => {
            errors.extend(lines);
            None
        }
        Err(e) => return Err(PatternError::Parse(e.to_string())),
    };
    if !errors.is_empty() {
        return Err(PatternError::Validation(errors));
    }
    let settings = match body.get("settings") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            return Err(PatternError::Parse(
                "[settings] must be an object".to_owned(),
            ));
        }
    };
    Ok(AutoFollowPattern {
        remote_cluster: remote.unwrap_or_default(),
        leader_index_patterns: patterns.unwrap_or_default(),
        leader_index_exclusion_patterns: exclusions,
        follow_index_pattern,
        settings,
        parameters: params.map(|p| p.to_es_json()).unwrap_or_default(),
        active: true,
        followed_leader_index_uuids: BTreeSet::new(),
    })
}

/// ES's `Regex.simpleMatch`: `*` matches any run of characters.
pub fn simple_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

impl AutoFollowPattern {
    /// Whether `leader` matches a pattern and no exclusion.
    pub fn matches(&self, leader: &str) -> bool {
        self.leader_index_patterns
            .iter()
            .any(|p| simple_match(p, leader))
            && !self
                .leader_index_exclusion_patterns
                .iter()
                .any(|p| simple_match(p, leader))
    }

    /// The follower index name for `leader`.
    pub fn follower_name(&self, leader: &str) -> String {
        match &self.follow_index_pattern {
            Some(p) => p.replace(LEADER_INDEX_PLACEHOLDER, leader),
            None => leader.to_owned(),
        }
    }

    /// Marks every index of `indices` that matches as followed (a new pattern does not
    /// follow what exists when it is created).
    pub fn mark_existing(&mut self, indices: &[IndexSummary]) {
        for i in indices {
            if self.matches(&i.name) {
                self.followed_leader_index_uuids.insert(i.uuid.clone());
            }
        }
    }

    /// The `pattern` object of `GET /_ccr/auto_follow`.
    pub fn to_es_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("active".into(), json!(self.active));
        m.insert("remote_cluster".into(), json!(self.remote_cluster));
        m.insert(
            "leader_index_patterns".into(),
            json!(self.leader_index_patterns),
        );
        m.insert(
            "leader_index_exclusion_patterns".into(),
            json!(self.leader_index_exclusion_patterns),
        );
        if let Some(p) = &self.follow_index_pattern {
            m.insert("follow_index_pattern".into(), json!(p));
        }
        if let Some(s) = &self.settings {
            m.insert("settings".into(), s.clone());
        }
        m.extend(self.parameters.clone());
        Value::Object(m)
    }
}

/// What to do with one leader index for one pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Put-follow it as `follower`.
    Follow {
        /// The pattern's name.
        pattern: String,
        /// The leader index.
        leader: String,
        /// Its uuid.
        leader_uuid: String,
        /// The follower name.
        follower: String,
    },
    /// Record it as followed without following, with an error to report (ES: soft
    /// deletes disabled).
    RejectAndRecord {
        /// The pattern's name.
        pattern: String,
        /// The leader index.
        leader: String,
        /// Its uuid.
        leader_uuid: String,
        /// The reason.
        reason: String,
    },
    /// Report an error, record nothing (it matches several patterns).
    Reject {
        /// The leader index.
        leader: String,
        /// The reason.
        reason: String,
    },
}

/// The decisions for one remote's `indices` over the active `patterns` (name, pattern)
/// of that remote: candidates are open, matching, not yet followed by the pattern.
pub fn decide(patterns: &[(String, AutoFollowPattern)], indices: &[IndexSummary]) -> Vec<Decision> {
    let mut out = Vec::new();
    for index in indices.iter().filter(|i| i.open) {
        let matching: Vec<&(String, AutoFollowPattern)> = patterns
            .iter()
            .filter(|(_, p)| p.active && p.matches(&index.name))
            .collect();
        let pending: Vec<&&(String, AutoFollowPattern)> = matching
            .iter()
            .filter(|(_, p)| !p.followed_leader_index_uuids.contains(&index.uuid))
            .collect();
        if pending.is_empty() {
            continue;
        }
        if matching.len() > 1 {
            let names: Vec<&str> = matching.iter().map(|(n, _)| n.as_str()).collect();
            out.push(Decision::Reject {
                leader: index.name.clone(),
                reason: format!(
                    "index to follow [{}] for pattern [{}] matches with other patterns {:?}",
                    index.name,
                    names[0],
                    &names[1..]
                ),
            });
            continue;
        }
        let (name, pattern) = pending[0];
        if !index.soft_deletes_enabled {
            out.push(Decision::RejectAndRecord {
                pattern: name.clone(),
                leader: index.name.clone(),
                leader_uuid: index.uuid.clone(),
                reason: format!(
                    "index [{}] cannot be followed, because soft deletes are not enabled",
                    index.name
                ),
            });
            continue;
        }
        out.push(Decision::Follow {
            pattern: name.clone(),
            leader: index.name.clone(),
            leader_uuid: index.uuid.clone(),
            follower: pattern.follower_name(&index.name),
        });
    }
    out
}

/// Drops followed uuids that the remote no longer has.
pub fn prune_followed(pattern: &mut AutoFollowPattern, indices: &[IndexSummary]) -> bool {
    let live: BTreeSet<&str> = indices.iter().map(|i| i.uuid.as_str()).collect();
    let before = pattern.followed_leader_index_uuids.len();
    pattern
        .followed_leader_index_uuids
        .retain(|u| live.contains(u.as_str()));
    before != pattern.followed_leader_index_uuids.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(name: &str, uuid: &str) -> IndexSummary {
        IndexSummary {
            name: name.into(),
            uuid: uuid.into(),
            open: true,
            soft_deletes_enabled: true,
            following: false,
        }
    }

    fn beats() -> AutoFollowPattern {
        let body = json!({"remote_cluster": "us-cluster",
            "leader_index_patterns": ["metricbeat-*", "packetbeat-*"],
            "follow_index_pattern": "{{leader_index}}-copy"});
        parse("beats", body.as_object().expect("object")).expect("valid")
    }

    #[test]
    fn the_tutorial_pattern_parses_renders_and_names_followers() {
        let p = beats();
        assert!(p.matches("metricbeat-2019.03.27"));
        assert!(!p.matches("products"));
        assert_eq!(p.follower_name("metricbeat-1"), "metricbeat-1-copy");
        let shown = p.to_es_json();
        assert_eq!(shown["active"], json!(true));
        assert_eq!(
            shown["follow_index_pattern"],
            json!("{{leader_index}}-copy")
        );
        assert_eq!(shown["max_read_request_operation_count"], json!(5120));
    }

    #[test]
    fn validation_reports_every_problem_in_es_words() {
        let body = json!({"max_outstanding_read_requests": 0});
        let err = parse("_bad,name", body.as_object().expect("object")).expect_err("invalid");
        let PatternError::Validation(lines) = err else {
            panic!("expected validation, got {err:?}");
        };
        assert_eq!(
            lines,
            vec![
                "[remote_cluster] is missing",
                "[leader_index_patterns] is missing",
                "name [_bad,name] name must not contain a ','",
                "name [_bad,name] name must not start with '_'",
                "max_outstanding_read_requests must be larger than 0",
            ]
        );
        let body = json!({"remote_cluster": "r", "leader_index_patterns": ["a"], "bogus": 1});
        assert!(matches!(
            parse("p", body.as_object().expect("object")),
            Err(PatternError::Parse(m)) if m.contains("unknown field [bogus]")
        ));
    }

    #[test]
    fn existing_indices_are_skipped_and_new_ones_followed_once() {
        let mut p = beats();
        p.mark_existing(&[index("metricbeat-old", "u0"), index("products", "u9")]);
        assert_eq!(p.followed_leader_index_uuids.len(), 1);
        let patterns = vec![("beats".to_owned(), p)];
        let state = [index("metricbeat-old", "u0"), index("metricbeat-new", "u1")];
        assert_eq!(
            decide(&patterns, &state),
            vec![Decision::Follow {
                pattern: "beats".into(),
                leader: "metricbeat-new".into(),
                leader_uuid: "u1".into(),
                follower: "metricbeat-new-copy".into(),
            }]
        );
    }

    #[test]
    fn exclusions_paused_patterns_closed_indices_and_overlaps() {
        let mut p = beats();
        p.leader_index_exclusion_patterns = vec!["*-copy".into()];
        assert!(!p.matches("metricbeat-1-copy"));
        let mut paused = p.clone();
        paused.active = false;
        let mut closed = index("metricbeat-2", "u2");
        closed.open = false;
        assert!(decide(&[("b".into(), paused)], &[index("metricbeat-1", "u1")]).is_empty());
        assert!(decide(&[("b".into(), p.clone())], &[closed]).is_empty());
        let both = vec![("a".to_owned(), p.clone()), ("b".to_owned(), p)];
        assert!(matches!(
            decide(&both, &[index("metricbeat-3", "u3")]).as_slice(),
            [Decision::Reject { .. }]
        ));
    }

    #[test]
    fn simple_match_follows_es() {
        assert!(simple_match("*", "x"));
        assert!(simple_match("a*c", "abc"));
        assert!(simple_match("a*b*c", "a-b-c"));
        assert!(!simple_match("a*c", "ab"));
        assert!(simple_match("abc", "abc"));
        assert!(!simple_match("ab*", "a"));
    }

    #[test]
    fn followed_uuids_of_deleted_leaders_are_pruned() {
        let mut p = beats();
        p.followed_leader_index_uuids.insert("gone".into());
        p.followed_leader_index_uuids.insert("u1".into());
        assert!(prune_followed(&mut p, &[index("metricbeat-1", "u1")]));
        assert_eq!(p.followed_leader_index_uuids.len(), 1);
    }
}
