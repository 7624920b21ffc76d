//! The follow parameters (`max_read_request_operation_count` … `read_poll_timeout`, plus
//! Ferry's `auto_rebootstrap`): ES defaults, parsing from a request body, ES's validation
//! messages, and rendering as `_ccr/info` shows them.
//!
//! Deliberately not here: the other body fields of put-follow / resume-follow
//! (`remote_cluster`, `leader_index`, `settings`, …); [`FollowParameters::from_es_json`]
//! ignores keys it does not own, the request parser handles those.

use serde_json::{Map, Value};

use super::error::FollowError;
use super::units::{ByteSize, TimeValue};

/// The longest `max_retry_delay` accepted (ES's `RETRY_DELAY_MAX`).
pub const RETRY_DELAY_MAX_MILLIS: i64 = 5 * 60 * 1000;

/// The ten ES follow parameters plus Ferry's `auto_rebootstrap`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowParameters {
    /// Operations asked for per read.
    pub max_read_request_operation_count: u32,
    /// Concurrent reads per shard.
    pub max_outstanding_read_requests: u32,
    /// Byte cap of one read response.
    pub max_read_request_size: ByteSize,
    /// Operations per bulk write on the follower.
    pub max_write_request_operation_count: u32,
    /// Byte cap of one bulk write.
    pub max_write_request_size: ByteSize,
    /// Concurrent writes per shard.
    pub max_outstanding_write_requests: u32,
    /// Buffered operations beyond which reads pause.
    pub max_write_buffer_count: u32,
    /// Buffered bytes beyond which reads pause.
    pub max_write_buffer_size: ByteSize,
    /// Cap of the retry back-off.
    pub max_retry_delay: TimeValue,
    /// Long-poll time on the leader once caught up.
    pub read_poll_timeout: TimeValue,
    /// Ferry: re-bootstrap a shard in place when the leader's history no longer has its ops.
    pub auto_rebootstrap: bool,
}

const MB: i64 = 1 << 20;

impl Default for FollowParameters {
    fn default() -> Self {
        Self {
            max_read_request_operation_count: 5120,
            max_outstanding_read_requests: 12,
            max_read_request_size: ByteSize::of(32, MB, "mb"),
            max_write_request_operation_count: 5120,
            max_write_request_size: ByteSize::from_bytes(i64::MAX),
            max_outstanding_write_requests: 9,
            max_write_buffer_count: i32::MAX as u32,
            max_write_buffer_size: ByteSize::of(512, MB, "mb"),
            max_retry_delay: TimeValue::of(500, 1_000_000, "ms"),
            read_poll_timeout: TimeValue::of(1, 60_000_000_000, "m"),
            auto_rebootstrap: false,
        }
    }
}

impl FollowParameters {
    /// Reads the parameters present in `body` (absent ones take their defaults), then
    /// validates them all, reporting every violation at once in ES's order and wording.
    pub fn from_es_json(body: &Map<String, Value>) -> Result<Self, FollowError> {
        let d = Self::default();
        let read_ops = int_field(body, "max_read_request_operation_count")?;
        let read_size = size_field(body, "max_read_request_size")?;
        let read_outstanding = int_field(body, "max_outstanding_read_requests")?;
        let write_ops = int_field(body, "max_write_request_operation_count")?;
        let write_size = size_field(body, "max_write_request_size")?;
        let write_outstanding = int_field(body, "max_outstanding_write_requests")?;
        let buffer_count = int_field(body, "max_write_buffer_count")?;
        let buffer_size = size_field(body, "max_write_buffer_size")?;
        let retry_delay = time_field(body, "max_retry_delay")?;
        let poll_timeout = time_field(body, "read_poll_timeout")?;
        let auto_rebootstrap = bool_field(body, "auto_rebootstrap")?.unwrap_or(false);

        // ES's order: read count, read size, outstanding reads, write count, write size,
        // outstanding writes, buffer count, buffer size, retry delay.
        let mut ordered = Vec::new();
        if read_ops.is_some_and(|v| v < 1) {
            ordered.push("max_read_request_operation_count must be larger than 0".to_owned());
        }
        let size_ok = |s: &Option<ByteSize>| s.as_ref().is_none_or(|s| s.bytes() > 0);
        if !size_ok(&read_size) {
            ordered.push("max_read_request_size must be larger than 0".to_owned());
        }
        for (name, v) in [
            ("max_outstanding_read_requests", read_outstanding),
            ("max_write_request_operation_count", write_ops),
        ] {
            if v.is_some_and(|v| v < 1) {
                ordered.push(format!("{name} must be larger than 0"));
            }
        }
        if !size_ok(&write_size) {
            ordered.push("max_write_request_size must be larger than 0".to_owned());
        }
        for (name, v) in [
            ("max_outstanding_write_requests", write_outstanding),
            ("max_write_buffer_count", buffer_count),
        ] {
            if v.is_some_and(|v| v < 1) {
                ordered.push(format!("{name} must be larger than 0"));
            }
        }
        if !size_ok(&buffer_size) {
            ordered.push("max_write_buffer_size must be larger than 0".to_owned());
        }
        if let Some(delay) = &retry_delay {
            if delay.millis() <= 0 {
                ordered.push(format!(
                    "[max_retry_delay] must be positive but was [{}]",
                    delay.as_str()
                ));
            }
            if delay.millis() > RETRY_DELAY_MAX_MILLIS {
                ordered.push(format!(
                    "[max_retry_delay] must be less than [5m] but was [{}]",
                    delay.as_str()
                ));
            }
        }
        if !ordered.is_empty() {
            return Err(FollowError::Validation(ordered));
        }
        Ok(Self {
            max_read_request_operation_count: as_count(
                read_ops,
                d.max_read_request_operation_count,
            ),
            max_outstanding_read_requests: as_count(
                read_outstanding,
                d.max_outstanding_read_requests,
            ),
            max_read_request_size: read_size.unwrap_or(d.max_read_request_size),
            max_write_request_operation_count: as_count(
                write_ops,
                d.max_write_request_operation_count,
            ),
            max_write_request_size: write_size.unwrap_or(d.max_write_request_size),
            max_outstanding_write_requests: as_count(
                write_outstanding,
                d.max_outstanding_write_requests,
            ),
            max_write_buffer_count: as_count(buffer_count, d.max_write_buffer_count),
            max_write_buffer_size: buffer_size.unwrap_or(d.max_write_buffer_size),
            max_retry_delay: retry_delay.unwrap_or(d.max_retry_delay),
            read_poll_timeout: poll_timeout.unwrap_or(d.read_poll_timeout),
            auto_rebootstrap,
        })
    }

    /// The parameters as `_ccr/info` and the auto-follow API show them, in ES's key order,
    /// sizes and times as ES strings; `auto_rebootstrap` last.
    pub fn to_es_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_owned(), v);
        };
        put(
            "max_read_request_operation_count",
            self.max_read_request_operation_count.into(),
        );
        put(
            "max_read_request_size",
            self.max_read_request_size.as_str().into(),
        );
        put(
            "max_outstanding_read_requests",
            self.max_outstanding_read_requests.into(),
        );
        put(
            "max_write_request_operation_count",
            self.max_write_request_operation_count.into(),
        );
        put(
            "max_write_request_size",
            self.max_write_request_size.as_str().into(),
        );
        put(
            "max_outstanding_write_requests",
            self.max_outstanding_write_requests.into(),
        );
        put("max_write_buffer_count", self.max_write_buffer_count.into());
        put(
            "max_write_buffer_size",
            self.max_write_buffer_size.as_str().into(),
        );
        put("max_retry_delay", self.max_retry_delay.as_str().into());
        put("read_poll_timeout", self.read_poll_timeout.as_str().into());
        put("auto_rebootstrap", self.auto_rebootstrap.into());
        m
    }

    /// Byte sizes as unsigned counts for the planner (validated positive).
    pub(crate) fn bytes_of(size: &ByteSize) -> u64 {
        u64::try_from(size.bytes()).unwrap_or(0)
    }
}

/// A validated (positive, within `int`) count, or the default when absent.
fn as_count(v: Option<i64>, default: u32) -> u32 {
    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(default)
}

/// An integer field (JSON number or numeric string) within Java's `int` range.
fn int_field(body: &Map<String, Value>, name: &str) -> Result<Option<i64>, FollowError> {
    let parsed = match body.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match parsed {
        Some(v) if i64::from(i32::MIN) <= v && v <= i64::from(i32::MAX) => Ok(Some(v)),
        _ => Err(FollowError::Parse(format!(
            "failed to parse field [{name}]: [{}] is not an integer",
            render(body.get(name))
        ))),
    }
}

fn text_field(body: &Map<String, Value>, name: &str) -> Result<Option<String>, FollowError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(FollowError::Parse(format!(
            "failed to parse field [{name}]: [{}] is not a string",
            render(Some(other))
        ))),
    }
}

fn size_field(body: &Map<String, Value>, name: &str) -> Result<Option<ByteSize>, FollowError> {
    text_field(body, name)?
        .map(|t| ByteSize::parse(name, &t))
        .transpose()
}

fn time_field(body: &Map<String, Value>, name: &str) -> Result<Option<TimeValue>, FollowError> {
    text_field(body, name)?
        .map(|t| TimeValue::parse(name, &t))
        .transpose()
}

fn bool_field(body: &Map<String, Value>, name: &str) -> Result<Option<bool>, FollowError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(other) => Err(FollowError::Parse(format!(
            "Failed to parse value [{}] as only [true] or [false] are allowed.",
            render(Some(other))
        ))),
    }
}

fn render(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}
