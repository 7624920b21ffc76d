//! Date formats and date math of `date` fields, the way Elasticsearch's java-time formats
//! read them.
//!
//! A format is a `||`-separated list of alternatives: named formats
//! (`strict_date_optional_time`, `epoch_millis`, `basic_date`, ...) or java-time patterns
//! (`yyyy-MM-dd HH:mm:ss`, `dd/MM/yyyy`, `[` `]` optional sections, `'T'` literals). Values
//! become epoch milliseconds (UTC), the precision of an ES `date` field. Range bounds also
//! take date math (`now-1d/d`, `2020-01-01||+1M`) and round up for `gt`/`lte` as ES does.
//!
//! Not done here: formatting dates back to strings (responses carry the source and epoch
//! millis sort values), named time zones (only offsets like `+01:00`), locales other than
//! English month and weekday names, `date_nanos` precision.

use std::sync::LazyLock;

use super::date_math::apply_math;
use super::date_pattern::{
    Item, Parts, compile_pattern, parse_items, parse_offset, relax_fractions,
};

/// The format of a `date` field without `format`.
pub(crate) const DEFAULT_DATE_FORMAT: &str = "strict_date_optional_time||epoch_millis";

/// The format ES gives a dynamically detected `yyyy/MM/dd` date.
pub(crate) const SLASH_DATE_FORMAT: &str = "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis";

static DEFAULT: LazyLock<DateFormat> = LazyLock::new(|| {
    DateFormat::parse(DEFAULT_DATE_FORMAT).expect("the default date format is valid")
});

static SLASH: LazyLock<DateFormat> =
    LazyLock::new(|| DateFormat::parse(SLASH_DATE_FORMAT).expect("the slash date format is valid"));

/// A parsed `format` of a date field.
#[derive(Debug, Clone)]
pub(crate) struct DateFormat {
    raw: String,
    alts: Vec<Alt>,
}

impl PartialEq for DateFormat {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

#[derive(Debug, Clone)]
enum Alt {
    EpochMillis,
    EpochSecond,
    Pattern(Vec<Item>),
}

impl DateFormat {
    /// The default `strict_date_optional_time||epoch_millis`.
    pub(crate) fn default_format() -> &'static DateFormat {
        &DEFAULT
    }

    /// The format dynamic mapping gives `yyyy/MM/dd` dates.
    pub(crate) fn slash_format() -> &'static DateFormat {
        &SLASH
    }

    /// Parses a `format` string; the error is the reason ES would give.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let mut alts = Vec::new();
        for part in raw.split("||") {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("Invalid format: [{raw}]: empty format"));
            }
            alts.push(
                compile_named(part)
                    .unwrap_or_else(|| compile_pattern(part).map(Alt::Pattern))
                    .map_err(|e| format!("Invalid format: [{raw}]: {e}"))?,
            );
        }
        Ok(Self {
            raw: raw.to_string(),
            alts,
        })
    }

    /// The format as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.raw
    }

    /// Epoch milliseconds of `s`, or `None` when no alternative reads it.
    pub(crate) fn parse_millis(&self, s: &str) -> Option<i64> {
        self.parse_with(s, false, 0)
    }

    fn parse_with(&self, s: &str, round_up: bool, default_offset: i32) -> Option<i64> {
        self.alts.iter().find_map(|alt| match alt {
            Alt::EpochMillis => parse_epoch(s, 1),
            Alt::EpochSecond => parse_epoch(s, 1000),
            Alt::Pattern(items) => {
                let mut parts = Parts::default();
                let end = parse_items(items, s.as_bytes(), 0, &mut parts)?;
                (end == s.len())
                    .then(|| parts.to_millis(round_up, default_offset))
                    .flatten()
            }
        })
    }

    /// A range bound or query value: a date in this format, or date math (`now-1d/d`,
    /// `2020-01-01||+1M/M`). `round_up` is true for `gt` and `lte` (ES rounds those to the
    /// last millisecond of the unit, and fills missing time components with their maximum).
    pub(crate) fn parse_math(
        &self,
        s: &str,
        round_up: bool,
        offset_secs: i32,
        now_millis: i64,
    ) -> Result<i64, String> {
        let fail = || {
            format!(
                "failed to parse date field [{s}] with format [{}]",
                self.raw
            )
        };
        let (anchor, math) = if let Some(rest) = s.strip_prefix("now") {
            (now_millis, rest)
        } else if let Some(idx) = s.find("||") {
            let anchor = self
                .parse_with(&s[..idx], false, offset_secs)
                .ok_or_else(fail)?;
            (anchor, &s[idx + 2..])
        } else {
            return self.parse_with(s, round_up, offset_secs).ok_or_else(fail);
        };
        apply_math(anchor, math, round_up, offset_secs)
            .map_err(|e| format!("failed to parse date field [{s}]: {e}"))
    }
}

/// Detects a date the way ES dynamic mapping does (`date_detection`): the string needs
/// more than one `-`, `:` or `/` and must parse with `strict_date_optional_time` or
/// `yyyy/MM/dd HH:mm:ss||yyyy/MM/dd`. Returns the format to record (`None` = default).
pub(crate) fn detect_dynamic_date(s: &str) -> Option<Option<&'static str>> {
    let count = |c: char| s.chars().filter(|&x| x == c).count();
    if count(':') < 2 && count('-') < 2 && count('/') < 2 {
        return None;
    }
    if DEFAULT.alts[0..1]
        .iter()
        .any(|alt| matches!(alt, Alt::Pattern(items) if full_match(items, s)))
    {
        return Some(None);
    }
    if SLASH.alts[0..2]
        .iter()
        .any(|alt| matches!(alt, Alt::Pattern(items) if full_match(items, s)))
    {
        return Some(Some(SLASH_DATE_FORMAT));
    }
    None
}

fn full_match(items: &[Item], s: &str) -> bool {
    let mut parts = Parts::default();
    parse_items(items, s.as_bytes(), 0, &mut parts) == Some(s.len())
        && parts.to_millis(false, 0).is_some()
}

/// Parses a `time_zone` parameter: `Z`, `UTC`, `GMT`, `+01:00`, `-0530`, `+01`.
pub(crate) fn parse_time_zone(tz: &str) -> Result<i32, String> {
    let t = tz.trim();
    let rest = ["UTC", "GMT", "Z"]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .unwrap_or(t);
    if rest.is_empty() {
        return Ok(0);
    }
    let mut parts = Parts::default();
    match parse_offset(rest.as_bytes(), 0, &mut parts) {
        Some(end) if end == rest.len() => Ok(parts.offset_secs.unwrap_or(0)),
        _ => Err(format!(
            "time_zone [{tz}] is not supported yet: use an offset like +01:00"
        )),
    }
}

fn parse_epoch(s: &str, unit_ms: i64) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let whole: i64 = int.parse::<i64>().ok()?.checked_mul(unit_ms)?;
    let mut frac_ms = 0i64;
    if !frac.is_empty() {
        let mut padded = frac.to_string();
        while padded.len() < 9 {
            padded.push('0');
        }
        let nanos: i64 = padded.parse().ok()?;
        frac_ms = nanos * unit_ms / 1_000_000_000;
    }
    let v = whole.checked_add(frac_ms)?;
    Some(if neg { -v } else { v })
}

fn compile_named(name: &str) -> Option<Result<Alt, String>> {
    let base = name.strip_prefix("strict_").unwrap_or(name);
    let pattern = match base {
        "epoch_millis" => return Some(Ok(Alt::EpochMillis)),
        "epoch_second" => return Some(Ok(Alt::EpochSecond)),
        "date_optional_time" | "date_optional_time_nanos" | "iso8601" => {
            "yyyy[-MM[-dd['T'HH[:mm[:ss[.SSSSSSSSS][,SSSSSSSSS]]][Z]]]]"
        }
        "date" | "year_month_day" => "yyyy-MM-dd",
        "date_time" => "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSZ",
        "date_time_no_millis" => "yyyy-MM-dd'T'HH:mm:ssZ",
        "date_hour" => "yyyy-MM-dd'T'HH",
        "date_hour_minute" => "yyyy-MM-dd'T'HH:mm",
        "date_hour_minute_second" => "yyyy-MM-dd'T'HH:mm:ss",
        "date_hour_minute_second_millis" | "date_hour_minute_second_fraction" => {
            "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSS"
        }
        "year_month" => "yyyy-MM",
        "year" => "yyyy",
        "basic_date" => "yyyyMMdd",
        "basic_date_time" => "yyyyMMdd'T'HHmmss.SSSSSSSSSZ",
        "basic_date_time_no_millis" => "yyyyMMdd'T'HHmmssZ",
        "hour_minute_second" => "HH:mm:ss",
        "hour_minute" => "HH:mm",
        "hour" => "HH",
        "time" => "HH:mm:ss.SSSSSSSSSZ",
        "time_no_millis" => "HH:mm:ssZ",
        "ordinal_date" => "yyyy-DDD",
        _ => return None,
    };
    Some(compile_pattern(pattern).map(|mut items| {
        relax_fractions(&mut items);
        Alt::Pattern(items)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::date_math::MS_PER_DAY;

    fn millis(s: &str) -> Option<i64> {
        DateFormat::default_format().parse_millis(s)
    }

    #[test]
    fn default_format_reads_iso_and_epoch() {
        assert_eq!(millis("1970-01-01"), Some(0));
        assert_eq!(millis("1970-01-02T00:00:00Z"), Some(86_400_000));
        assert_eq!(millis("2015-01-01T12:10:30.123Z"), Some(1_420_114_230_123));
        assert_eq!(millis("2015-01-01T12:10:30+01:00"), Some(1_420_110_630_000));
        assert_eq!(millis("2015-01-01T12:10"), Some(1_420_114_200_000));
        assert_eq!(millis("2015"), Some(1_420_070_400_000));
        assert_eq!(millis("1420070400001"), Some(1_420_070_400_001));
        assert_eq!(millis("-1000"), Some(-1000));
        assert_eq!(millis("2015-02-30"), None);
        assert_eq!(millis("2015-13-01"), None);
        assert_eq!(millis("not a date"), None);
        assert_eq!(millis("2015-01-01T25:00"), None);
    }

    #[test]
    fn custom_patterns() {
        let f = DateFormat::parse("yyyy-MM-dd HH:mm:ss||dd/MM/yyyy").unwrap();
        assert_eq!(f.parse_millis("1970-01-01 00:01:00"), Some(60_000));
        assert_eq!(f.parse_millis("02/01/1970"), Some(86_400_000));
        assert_eq!(f.parse_millis("1970-01-01"), None);
        let basic = DateFormat::parse("basic_date").unwrap();
        assert_eq!(basic.parse_millis("19700102"), Some(86_400_000));
        let names = DateFormat::parse("dd MMM yyyy").unwrap();
        assert_eq!(names.parse_millis("02 Jan 1970"), Some(86_400_000));
        let secs = DateFormat::parse("epoch_second").unwrap();
        assert_eq!(secs.parse_millis("86400"), Some(86_400_000));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(
            DateFormat::parse("yyyy-MM-dd fff")
                .unwrap_err()
                .contains("Unknown pattern letter: f")
        );
        assert!(DateFormat::parse("yyyy[-MM").is_err());
        assert!(DateFormat::parse("").is_err());
    }

    #[test]
    fn date_math_and_rounding() {
        let f = DateFormat::default_format();
        let now = 1_420_114_230_123; // 2015-01-01T12:10:30.123Z
        let day = 1_420_070_400_000; // 2015-01-01T00:00:00Z
        assert_eq!(f.parse_math("now", false, 0, now), Ok(now));
        assert_eq!(f.parse_math("now/d", false, 0, now), Ok(day));
        assert_eq!(
            f.parse_math("now/d", true, 0, now),
            Ok(day + MS_PER_DAY - 1)
        );
        assert_eq!(
            f.parse_math("now-1d/d", false, 0, now),
            Ok(day - MS_PER_DAY)
        );
        assert_eq!(
            f.parse_math("2015-01-01||+1M", false, 0, now),
            Ok(1_422_748_800_000)
        );
        assert_eq!(
            f.parse_math("2015-01-31||+1M", false, 0, now),
            Ok(1_425_081_600_000)
        );
        assert_eq!(
            f.parse_math("2015-01-01||/y", true, 0, now),
            Ok(1_451_606_399_999)
        );
        // lte/gt without math fill the missing time with its maximum.
        assert_eq!(
            f.parse_math("2015-01-01", true, 0, now),
            Ok(day + MS_PER_DAY - 1)
        );
        assert_eq!(
            f.parse_math("2015-01-01", false, 3600, now),
            Ok(day - 3_600_000)
        );
        assert!(f.parse_math("now+1x", false, 0, now).is_err());
        assert!(f.parse_math("garbage", false, 0, now).is_err());
    }

    #[test]
    fn dynamic_detection_follows_es_heuristic() {
        assert_eq!(detect_dynamic_date("2015-01-01"), Some(None));
        assert_eq!(detect_dynamic_date("2015-01-01T10:00:00Z"), Some(None));
        assert_eq!(
            detect_dynamic_date("2015/01/01"),
            Some(Some(SLASH_DATE_FORMAT))
        );
        assert_eq!(detect_dynamic_date("2015"), None);
        assert_eq!(detect_dynamic_date("2015-01"), None);
        assert_eq!(detect_dynamic_date("a-b-c"), None);
    }

    #[test]
    fn time_zones() {
        assert_eq!(parse_time_zone("+01:00"), Ok(3600));
        assert_eq!(parse_time_zone("-0530"), Ok(-19_800));
        assert_eq!(parse_time_zone("UTC"), Ok(0));
        assert!(parse_time_zone("Europe/Paris").is_err());
    }
}
