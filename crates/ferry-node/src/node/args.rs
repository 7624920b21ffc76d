//! Typed URL parameters beyond what [`Params`] offers: longs, time values, `refresh`,
//! `wait_for_active_shards`, `version_type`, and the write-request checks ES runs before
//! touching anything.
//!
//! Every failure is the ES error with ES's wording. Nothing here performs a request.

use std::time::Duration;

use ferry_index::{Conditions, RefreshPolicy, VersionType};

use crate::error::ApiError;
use crate::params::Params;

/// ES's longest document id, in bytes.
pub const MAX_ID_BYTES: usize = 512;

/// A signed long parameter (`if_seq_no`, `version`), ES's message on failure.
pub fn long(params: &Params, key: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(key)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::illegal_argument(format!(
                    "Failed to parse long parameter [{key}] with value [{v}]"
                ))
            })
        })
        .transpose()
}

/// An int parameter (`from`, `size`), ES's message on failure.
pub fn int(params: &Params, key: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(key)
        .map(|v| {
            v.parse::<i32>().map(i64::from).map_err(|_| {
                ApiError::illegal_argument(format!(
                    "Failed to parse int parameter [{key}] with value [{v}]"
                ))
            })
        })
        .transpose()
}

/// Parses an ES time value (`30s`, `500ms`, `1m`, `2h`, `1d`, `-1`).
pub fn parse_time(value: &str, setting: &str) -> Result<Duration, ApiError> {
    let v = value.trim();
    let bad = || {
        ApiError::parse(format!(
            "failed to parse setting [{setting}] with value [{value}] as a time value: unit is missing or unrecognized"
        ))
    };
    if v == "-1" || v == "0" {
        return Ok(Duration::ZERO);
    }
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "nanos" => n / 1e9,
        "micros" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// A time parameter with a default.
pub fn time(params: &Params, key: &str, default: Duration) -> Result<Duration, ApiError> {
    params.get(key).map_or(Ok(default), |v| parse_time(v, key))
}

/// `wait_for_active_shards` (ES's `ActiveShardCount`): how many copies of each shard must
/// be active before a create or a follow answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveShards {
    /// Absent or `default`: the call's own default.
    Default,
    /// `all`: the primary and every replica.
    All,
    /// A number of copies (`0` waits for none).
    Count(u32),
}

impl ActiveShards {
    /// Parses `wait_for_active_shards` with ES's messages.
    pub fn from_params(params: &Params) -> Result<Self, ApiError> {
        match params.get("wait_for_active_shards") {
            None | Some("default") => Ok(Self::Default),
            Some("all") => Ok(Self::All),
            Some(v) => match v.parse::<i32>() {
                Ok(n) => u32::try_from(n).map(Self::Count).map_err(|_| {
                    ApiError::illegal_argument("cannot set active shard count to negative value")
                }),
                Err(_) => Err(ApiError::illegal_argument(format!(
                    "cannot parse ActiveShardCount[{v}]"
                ))),
            },
        }
    }

    /// The copies per shard this asks for, given the index's replicas and the call's
    /// default.
    pub fn copies(self, replicas: u32, default: u32) -> u32 {
        match self {
            Self::Default => default,
            Self::All => replicas.saturating_add(1),
            Self::Count(n) => n,
        }
    }
}

/// `refresh`: absent/`false` → none, `""`/`true` → immediate, `wait_for`.
pub fn refresh(params: &Params) -> Result<RefreshPolicy, ApiError> {
    refresh_value(params.get("refresh"))
}

/// Parses a `refresh` value.
pub fn refresh_value(v: Option<&str>) -> Result<RefreshPolicy, ApiError> {
    match v {
        None | Some("false") => Ok(RefreshPolicy::None),
        Some("" | "true") => Ok(RefreshPolicy::Immediate),
        Some("wait_for") => Ok(RefreshPolicy::WaitFor),
        Some(other) => Err(ApiError::illegal_argument(format!(
            "Unknown value for refresh: [{other}]."
        ))),
    }
}

/// Parses `version_type`.
pub fn version_type(v: Option<&str>) -> Result<VersionType, ApiError> {
    match v {
        None | Some("internal") => Ok(VersionType::Internal),
        Some("external") => Ok(VersionType::External),
        Some("external_gte") => Ok(VersionType::ExternalGte),
        Some("force") => Err(ApiError::illegal_argument(
            "version type [force] may no longer be used",
        )),
        Some(other) => Err(ApiError::illegal_argument(format!(
            "No version type match [{other}]"
        ))),
    }
}

fn version_type_name(t: VersionType) -> &'static str {
    match t {
        VersionType::Internal => "INTERNAL",
        VersionType::External => "EXTERNAL",
        VersionType::ExternalGte => "EXTERNAL_GTE",
    }
}

/// The raw concurrency inputs of one write, before validation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawConditions {
    /// `if_seq_no`.
    pub if_seq_no: Option<i64>,
    /// `if_primary_term`.
    pub if_primary_term: Option<i64>,
    /// `version`.
    pub version: Option<i64>,
    /// `version_type`.
    pub version_type: VersionType,
}

/// What kind of write the checks are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// index (`op_type=index`).
    Index,
    /// create (`op_type=create`, `_create`, auto ids).
    Create,
    /// delete.
    Delete,
    /// update (`version` not allowed).
    Update,
}

impl RawConditions {
    /// From URL parameters.
    pub fn from_params(params: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            if_seq_no: long(params, "if_seq_no")?,
            if_primary_term: long(params, "if_primary_term")?,
            version: long(params, "version")?,
            version_type: version_type(params.get("version_type"))?,
        })
    }

    /// ES's validation of a write's id and concurrency parameters; pushes every failed
    /// check's message onto `errors` and answers the engine's conditions.
    pub fn validate(
        &self,
        kind: WriteKind,
        id: Option<&str>,
        errors: &mut Vec<String>,
    ) -> Conditions {
        if id == Some("") {
            errors.push("if _id is specified it must not be empty".into());
        }
        if let Some(id) = id
            && id.len() > MAX_ID_BYTES
        {
            errors.push(format!(
                "id [{id}] is too long, must be no longer than {MAX_ID_BYTES} bytes but was: {}",
                id.len()
            ));
        }
        let external = self.version_type != VersionType::Internal;
        match kind {
            WriteKind::Create => {
                if external {
                    errors.push(
                        "create operations only support internal versioning. use index instead"
                            .into(),
                    );
                }
                if self.if_seq_no.is_some() || self.if_primary_term.is_some() {
                    errors.push(
                        "create operations do not support compare and set. use index instead"
                            .into(),
                    );
                }
            }
            WriteKind::Update => {
                if self.version.is_some() || external {
                    errors.push(
                        "can't provide version in update request. Please use [if_seq_no] and [if_primary_term]".into(),
                    );
                }
            }
            WriteKind::Index | WriteKind::Delete => {}
        }
        if self.version.is_some() && !external && kind != WriteKind::Update {
            errors.push(
                "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead"
                    .into(),
            );
        }
        if external && kind != WriteKind::Create {
            match self.version {
                None => errors.push(format!(
                    "illegal version value [-3] for version type [{}]",
                    version_type_name(self.version_type)
                )),
                Some(v) if v < 0 => errors.push(format!(
                    "illegal version value [{v}] for version type [{}]",
                    version_type_name(self.version_type)
                )),
                Some(_) => {}
            }
        }
        if (self.if_seq_no.is_some() || self.if_primary_term.is_some()) && self.version.is_some() {
            errors.push("compare and write operations can not use versioning".into());
        }
        match (self.if_seq_no, self.if_primary_term) {
            (Some(s), _) if s < 0 => {
                errors.push(format!("sequence number must be non negative. got [{s}]."))
            }
            (Some(_), None | Some(0)) => {
                errors.push("ifSeqNo is set, but primary term is [0]".into())
            }
            (None, Some(t)) if t != 0 => {
                errors.push(format!("ifSeqNo is unassigned, but primary term is [{t}]"))
            }
            (_, Some(t)) if t < 0 => {
                errors.push(format!("primary term must be non negative. got [{t}]"))
            }
            _ => {}
        }
        Conditions {
            if_seq_no: self.if_seq_no.and_then(|v| u64::try_from(v).ok()),
            if_primary_term: self.if_primary_term.and_then(|v| u64::try_from(v).ok()),
            version: self.version.and_then(|v| u64::try_from(v).ok()),
            version_type: self.version_type,
        }
    }
}

/// `op_type` of an index request: `Ok(true)` for create.
pub fn op_type_is_create(v: Option<&str>) -> Result<bool, ApiError> {
    match v {
        None | Some("index") => Ok(false),
        Some("create") => Ok(true),
        Some(other) => Err(ApiError::illegal_argument(format!(
            "opType must be 'create' or 'index', found: [{other}]"
        ))),
    }
}

/// Refuses the parameters that are accepted by ES's endpoints but not supported here.
pub fn refuse_unsupported(params: &Params, keys: &[&str]) -> Result<(), ApiError> {
    for &k in keys {
        if params.get(k).is_some() {
            return Err(ApiError::not_supported(&format!("the [{k}] parameter")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kv: &[(&str, &str)]) -> Params {
        Params(
            kv.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn check(kv: &[(&str, &str)], kind: WriteKind) -> Vec<String> {
        let mut errors = Vec::new();
        RawConditions::from_params(&p(kv))
            .unwrap()
            .validate(kind, Some("1"), &mut errors);
        errors
    }

    #[test]
    fn active_shard_counts_are_parsed_like_elasticsearch() {
        let parse = |v: Option<&str>| {
            let kv: Vec<_> = v
                .map(|v| ("wait_for_active_shards", v))
                .into_iter()
                .collect();
            ActiveShards::from_params(&p(&kv))
        };
        let copies = |v| parse(v).map(|w| w.copies(2, 7)).map_err(|e| e.reason);
        assert_eq!(copies(None), Ok(7));
        assert_eq!(copies(Some("default")), Ok(7));
        assert_eq!(copies(Some("all")), Ok(3));
        assert_eq!(copies(Some("0")), Ok(0));
        assert_eq!(copies(Some("2")), Ok(2));
        assert_eq!(
            copies(Some("-1")),
            Err("cannot set active shard count to negative value".to_owned())
        );
        assert_eq!(
            copies(Some("one")),
            Err("cannot parse ActiveShardCount[one]".to_owned())
        );
    }

    #[test]
    fn concurrency_parameters_are_validated_like_elasticsearch() {
        assert!(
            check(
                &[("if_seq_no", "1"), ("if_primary_term", "1")],
                WriteKind::Index
            )
            .is_empty()
        );
        assert_eq!(
            check(&[("if_seq_no", "1")], WriteKind::Index),
            ["ifSeqNo is set, but primary term is [0]"]
        );
        assert_eq!(
            check(&[("if_primary_term", "2")], WriteKind::Index),
            ["ifSeqNo is unassigned, but primary term is [2]"]
        );
        assert!(
            check(&[("version", "3")], WriteKind::Index)[0]
                .starts_with("internal versioning can not be used")
        );
        assert!(
            check(
                &[("version", "3"), ("version_type", "external")],
                WriteKind::Index
            )
            .is_empty()
        );
        assert_eq!(
            check(&[("version_type", "external")], WriteKind::Index),
            ["illegal version value [-3] for version type [EXTERNAL]"]
        );
        assert_eq!(
            check(
                &[("version", "3"), ("version_type", "external")],
                WriteKind::Create
            ),
            ["create operations only support internal versioning. use index instead"]
        );
        let mut errors = Vec::new();
        let long_id = "x".repeat(513);
        RawConditions::default().validate(WriteKind::Index, Some(&long_id), &mut errors);
        assert!(errors[0].ends_with("must be no longer than 512 bytes but was: 513"));
        assert!(
            RawConditions::from_params(&p(&[("if_seq_no", "x")]))
                .unwrap_err()
                .reason
                .contains("[if_seq_no]")
        );
        assert!(RawConditions::from_params(&p(&[("version_type", "force")])).is_err());
    }

    #[test]
    fn refresh_and_op_type_values() {
        assert_eq!(
            refresh(&p(&[("refresh", "")])).unwrap(),
            RefreshPolicy::Immediate
        );
        assert_eq!(
            refresh(&p(&[("refresh", "wait_for")])).unwrap(),
            RefreshPolicy::WaitFor
        );
        assert_eq!(refresh(&p(&[])).unwrap(), RefreshPolicy::None);
        assert_eq!(
            refresh(&p(&[("refresh", "x")])).unwrap_err().reason,
            "Unknown value for refresh: [x]."
        );
        assert!(op_type_is_create(Some("create")).unwrap());
        assert!(op_type_is_create(Some("upsert")).is_err());
    }

    #[test]
    fn time_values() {
        assert_eq!(
            parse_time("30s", "timeout").unwrap(),
            Duration::from_secs(30)
        );
        assert_eq!(
            parse_time("500ms", "timeout").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            parse_time("2m", "timeout").unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(parse_time("-1", "timeout").unwrap(), Duration::ZERO);
        let e = parse_time("abc", "timeout").unwrap_err();
        assert_eq!(e.kind, "parse_exception");
        assert!(parse_time("10", "timeout").is_err());
        assert_eq!(
            int(&p(&[("size", "x")]), "size").unwrap_err().reason,
            "Failed to parse int parameter [size] with value [x]"
        );
    }
}
