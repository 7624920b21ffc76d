//! ES byte-size (`32mb`) and time-value (`500ms`) strings: parsing with ES's error texts,
//! and rendering back the way ES's `getStringRep()` does.
//!
//! Deliberately not here: human-friendly rendering (`human=true`) or any setting other
//! than the follow parameters.

use super::error::FollowError;

/// A size in bytes plus the text ES shows for it (`32mb`, `9223372036854775807b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteSize {
    bytes: i64,
    rep: String,
}

impl ByteSize {
    /// `size` of `unit_bytes`-sized units, rendered with `suffix`.
    pub(crate) fn of(size: i64, unit_bytes: i64, suffix: &str) -> Self {
        Self {
            bytes: size.saturating_mul(unit_bytes),
            rep: rep_of(size, suffix),
        }
    }

    /// A plain byte count, rendered `<n>b`.
    pub fn from_bytes(bytes: i64) -> Self {
        Self::of(bytes, 1, "b")
    }

    /// The size in bytes (may be `-1` or `0` before validation).
    pub fn bytes(&self) -> i64 {
        self.bytes
    }

    /// The text ES renders (`getStringRep`).
    pub fn as_str(&self) -> &str {
        &self.rep
    }

    /// Parses an ES byte-size string for setting `name`.
    pub fn parse(name: &str, value: &str) -> Result<Self, FollowError> {
        let lower = value.trim().to_ascii_lowercase();
        const UNITS: [(&str, i64, &str); 11] = [
            ("kb", 1 << 10, "kb"),
            ("k", 1 << 10, "kb"),
            ("mb", 1 << 20, "mb"),
            ("m", 1 << 20, "mb"),
            ("gb", 1 << 30, "gb"),
            ("g", 1 << 30, "gb"),
            ("tb", 1 << 40, "tb"),
            ("t", 1 << 40, "tb"),
            ("pb", 1 << 50, "pb"),
            ("p", 1 << 50, "pb"),
            ("b", 1, "b"),
        ];
        let Some((number, unit, suffix)) = UNITS
            .iter()
            .find_map(|(s, u, suffix)| lower.strip_suffix(s).map(|n| (n.trim(), *u, *suffix)))
        else {
            return match lower.as_str() {
                "-1" => Ok(Self {
                    bytes: -1,
                    rep: "-1".into(),
                }),
                "0" => Ok(Self {
                    bytes: 0,
                    rep: "0".into(),
                }),
                _ => Err(FollowError::Parse(format!(
                    "failed to parse setting [{name}] with value [{value}] as a size in bytes: unit is missing or unrecognized"
                ))),
            };
        };
        let size = if let Ok(whole) = number.parse::<i64>() {
            if whole.checked_mul(unit).is_none() {
                return Err(too_large(value));
            }
            Self::of(whole, unit, suffix)
        } else {
            let fractional: f64 = number
                .parse()
                .map_err(|_| FollowError::Parse(format!("failed to parse [{value}]")))?;
            let bytes = fractional * unit as f64;
            if !bytes.is_finite() || bytes >= i64::MAX as f64 {
                return Err(too_large(value));
            }
            Self::from_bytes(bytes as i64)
        };
        if size.bytes < -1 {
            return Err(FollowError::Parse(format!(
                "Values less than -1 bytes are not supported: {value}"
            )));
        }
        Ok(size)
    }
}

fn too_large(value: &str) -> FollowError {
    FollowError::Parse(format!(
        "Values greater than {} bytes are not supported: {value}",
        i64::MAX
    ))
}

/// ES renders non-positive values without a unit.
fn rep_of(size: i64, suffix: &str) -> String {
    if size <= 0 {
        size.to_string()
    } else {
        format!("{size}{suffix}")
    }
}

/// A duration plus the text ES shows for it (`500ms`, `1m`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeValue {
    nanos: i128,
    rep: String,
}

impl TimeValue {
    /// `duration` units of `unit_nanos`, rendered with `suffix`.
    pub(crate) fn of(duration: i64, unit_nanos: i128, suffix: &str) -> Self {
        let rep = if duration < 0 {
            duration.to_string()
        } else {
            format!("{duration}{suffix}")
        };
        Self {
            nanos: i128::from(duration) * unit_nanos,
            rep,
        }
    }

    /// Whole milliseconds (negative for `-1`).
    pub fn millis(&self) -> i64 {
        i64::try_from(self.nanos.div_euclid(1_000_000)).unwrap_or(i64::MAX)
    }

    /// As a std duration; negative values become zero.
    pub fn duration(&self) -> std::time::Duration {
        let nanos = u64::try_from(self.nanos.max(0)).unwrap_or(u64::MAX);
        std::time::Duration::from_nanos(nanos)
    }

    /// The text ES renders (`getStringRep`).
    pub fn as_str(&self) -> &str {
        &self.rep
    }

    /// Parses an ES time-value string for setting `name`.
    pub fn parse(name: &str, value: &str) -> Result<Self, FollowError> {
        let lower = value.trim().to_ascii_lowercase();
        const UNITS: [(&str, i128); 7] = [
            ("nanos", 1),
            ("micros", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
            ("d", 86_400_000_000_000),
        ];
        let Some((number, unit, suffix)) = UNITS
            .iter()
            .find_map(|(s, u)| lower.strip_suffix(s).map(|n| (n.trim(), *u, *s)))
        else {
            return match lower.as_str() {
                "-1" => Ok(Self {
                    nanos: -1_000_000,
                    rep: "-1".into(),
                }),
                "0" => Ok(Self::of(0, 1_000_000, "ms")),
                _ => Err(FollowError::Parse(format!(
                    "failed to parse setting [{name}] with value [{value}] as a time value: unit is missing or unrecognized"
                ))),
            };
        };
        let duration = match number.parse::<i64>() {
            Ok(d) => d,
            Err(_) if number.parse::<f64>().is_ok() => {
                return Err(FollowError::Parse(format!(
                    "failed to parse [{value}], fractional time values are not supported"
                )));
            }
            Err(_) => return Err(FollowError::Parse(format!("failed to parse [{value}]"))),
        };
        if duration < 0 {
            return Err(FollowError::Parse(format!(
                "failed to parse setting [{name}] with value [{value}] as a time value: negative durations are not supported"
            )));
        }
        Ok(Self::of(duration, unit, suffix))
    }
}
