//! Converting JSON values to what each field type indexes, and the type dynamic mapping
//! gives a new value.
//!
//! Numeric fields coerce strings ("12") and truncate fractions for integer types unless
//! `coerce: false`; integer types check their range; `float` rounds to f32 precision;
//! booleans index as 0/1 and dates as epoch milliseconds; keywords over `ignore_above`
//! are not indexed. Nothing here walks documents.

use std::borrow::Cow;

use serde_json::Value;

use super::date::detect_dynamic_date;
use super::{DateFormat, LeafKind, LeafMapping, Mapping};

/// One JSON scalar of a document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

/// What a scalar indexes as under its field type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Indexed<'a> {
    /// text / keyword.
    Str(Cow<'a, str>),
    /// Integer types, booleans (0/1), dates (epoch millis).
    I64(i64),
    /// double / float (float already rounded to f32 precision).
    F64(f64),
}

impl<'a> Scalar<'a> {
    /// The scalar of a JSON value (`None` for null, arrays and objects).
    pub(crate) fn from_json(v: &'a Value) -> Option<Self> {
        Some(match v {
            Value::String(s) => Self::Str(s),
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Self::I64(i)
                } else if let Some(u) = n.as_u64() {
                    Self::U64(u)
                } else {
                    Self::F64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            _ => return None,
        })
    }

    /// The value as text (numbers as JSON writes them).
    pub(crate) fn to_text(self) -> Cow<'a, str> {
        match self {
            Self::Str(s) => Cow::Borrowed(s),
            Self::I64(n) => Cow::Owned(n.to_string()),
            Self::U64(n) => Cow::Owned(n.to_string()),
            Self::F64(f) => Cow::Owned(
                serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string()),
            ),
            Self::Bool(true) => Cow::Borrowed("true"),
            Self::Bool(false) => Cow::Borrowed("false"),
        }
    }
}

fn int_range(kind: LeafKind) -> (i64, i64, &'static str) {
    match kind {
        LeafKind::Byte => (i64::from(i8::MIN), i64::from(i8::MAX), "a byte"),
        LeafKind::Short => (i64::from(i16::MIN), i64::from(i16::MAX), "a short"),
        LeafKind::Integer => (i64::from(i32::MIN), i64::from(i32::MAX), "an integer"),
        _ => (i64::MIN, i64::MAX, "a long"),
    }
}

fn not_numeric(b: bool) -> String {
    let token = if b { "VALUE_TRUE" } else { "VALUE_FALSE" };
    format!("Current token ({token}) not numeric, can not use numeric value accessors")
}

impl LeafMapping {
    /// Converts one scalar to what this field indexes. `Ok(None)`: nothing to index
    /// (keyword over `ignore_above`, or a malformed value with `ignore_malformed`).
    /// `Err(cause)`: the value does not fit the type.
    pub(crate) fn convert<'a>(
        &self,
        v: Scalar<'a>,
    ) -> std::result::Result<Option<Indexed<'a>>, String> {
        match self.convert_strict(v, self.coerce) {
            Err(_) if self.ignore_malformed => Ok(None),
            other => other,
        }
    }

    /// Converts a query value: always coerces, never ignores a malformed value. `Ok(None)`
    /// for a keyword over `ignore_above` (it can match nothing).
    pub(crate) fn convert_query<'a>(
        &self,
        v: Scalar<'a>,
    ) -> std::result::Result<Option<Indexed<'a>>, String> {
        self.convert_strict(v, true)
    }

    fn convert_strict<'a>(
        &self,
        v: Scalar<'a>,
        coerce: bool,
    ) -> std::result::Result<Option<Indexed<'a>>, String> {
        let kind = self.kind;
        Ok(Some(match kind {
            LeafKind::Text => Indexed::Str(v.to_text()),
            LeafKind::Keyword => {
                let s = v.to_text();
                if let Some(max) = self.ignore_above
                    && s.len() > max
                    && s.chars().count() > max
                {
                    return Ok(None);
                }
                Indexed::Str(s)
            }
            LeafKind::Long | LeafKind::Integer | LeafKind::Short | LeafKind::Byte => {
                let (min, max, name) = int_range(kind);
                let from_f64 = |f: f64, text: &dyn std::fmt::Display| {
                    if !f.is_finite() || f.trunc() < min as f64 || f.trunc() >= max as f64 + 1.0 {
                        return Err(format!("Value [{text}] is out of range for {name}"));
                    }
                    Ok(f.trunc() as i64)
                };
                let n = match v {
                    Scalar::I64(n) => n,
                    Scalar::U64(n) => i64::try_from(n)
                        .map_err(|_| format!("Value [{n}] is out of range for {name}"))?,
                    Scalar::F64(f) => {
                        if !coerce && f.fract() != 0.0 {
                            return Err(format!("Value [{f}] has a decimal part"));
                        }
                        from_f64(f, &f)?
                    }
                    Scalar::Str(s) => {
                        if !coerce {
                            return Err(format!("Value [{s}] is a string and [coerce] is false"));
                        }
                        match s.parse::<i64>() {
                            Ok(n) => n,
                            Err(_) => match s.parse::<f64>() {
                                Ok(f) if !s.trim().is_empty() => from_f64(f, &s)?,
                                _ => return Err(format!("For input string: \"{s}\"")),
                            },
                        }
                    }
                    Scalar::Bool(b) => return Err(not_numeric(b)),
                };
                if n < min || n > max {
                    return Err(format!("Value [{n}] is out of range for {name}"));
                }
                Indexed::I64(n)
            }
            LeafKind::Double | LeafKind::Float => {
                let f = match v {
                    Scalar::I64(n) => n as f64,
                    Scalar::U64(n) => n as f64,
                    Scalar::F64(f) => f,
                    Scalar::Str(s) => {
                        if !coerce {
                            return Err(format!("Value [{s}] is a string and [coerce] is false"));
                        }
                        s.parse::<f64>()
                            .map_err(|_| format!("For input string: \"{s}\""))?
                    }
                    Scalar::Bool(b) => return Err(not_numeric(b)),
                };
                let f = if kind == LeafKind::Float {
                    f64::from(f as f32)
                } else {
                    f
                };
                if !f.is_finite() {
                    return Err(format!(
                        "[{}] supports only finite values, but got [{}]",
                        kind.name(),
                        v.to_text()
                    ));
                }
                Indexed::F64(f)
            }
            LeafKind::Boolean => match v {
                Scalar::Bool(b) => Indexed::I64(i64::from(b)),
                Scalar::Str("true") => Indexed::I64(1),
                Scalar::Str("false" | "") => Indexed::I64(0),
                other => {
                    return Err(format!(
                        "Failed to parse value [{}] as only [true] or [false] are allowed.",
                        other.to_text()
                    ));
                }
            },
            LeafKind::Date => {
                if let Scalar::Bool(b) = v {
                    return Err(not_numeric(b));
                }
                let text = v.to_text();
                let fmt = self.format();
                let ms = fmt.parse_millis(&text).ok_or_else(|| {
                    format!(
                        "failed to parse date field [{text}] with format [{}]",
                        fmt.as_str()
                    )
                })?;
                Indexed::I64(ms)
            }
        }))
    }
}

impl Mapping {
    /// The field dynamic mapping creates for a new scalar.
    pub(crate) fn infer_leaf(&self, v: Scalar<'_>) -> LeafMapping {
        match v {
            Scalar::Str(s) => {
                if self.date_detection()
                    && let Some(fmt) = detect_dynamic_date(s)
                {
                    let mut leaf = LeafMapping::new(LeafKind::Date);
                    if let Some(f) = fmt {
                        leaf.date_format = Some(DateFormat::slash_format().clone());
                        leaf.params.insert("format".into(), Value::String(f.into()));
                    }
                    return leaf;
                }
                if self.numeric_detection() {
                    if s.parse::<i64>().is_ok() {
                        return LeafMapping::new(LeafKind::Long);
                    }
                    if s.parse::<f64>().is_ok_and(f64::is_finite) {
                        return LeafMapping::new(LeafKind::Float);
                    }
                }
                LeafMapping::dynamic_text()
            }
            Scalar::I64(_) => LeafMapping::new(LeafKind::Long),
            Scalar::U64(_) | Scalar::F64(_) => LeafMapping::new(LeafKind::Float),
            Scalar::Bool(_) => LeafMapping::new(LeafKind::Boolean),
        }
    }
}
