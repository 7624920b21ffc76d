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

/// The format of a `date` field without `format`.
pub(crate) const DEFAULT_DATE_FORMAT: &str = "strict_date_optional_time||epoch_millis";

/// The format ES gives a dynamically detected `yyyy/MM/dd` date.
pub(crate) const SLASH_DATE_FORMAT: &str = "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis";

static DEFAULT: LazyLock<DateFormat> = LazyLock::new(|| {
    DateFormat::parse(DEFAULT_DATE_FORMAT).expect("the default date format is valid")
});

static SLASH: LazyLock<DateFormat> =
    LazyLock::new(|| DateFormat::parse(SLASH_DATE_FORMAT).expect("the slash date format is valid"));

const MS_PER_DAY: i64 = 86_400_000;

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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comp {
    Year,
    Year2,
    Month,
    Day,
    DayOfYear,
    Hour,
    Hour12,
    Minute,
    Second,
}

#[derive(Debug, Clone)]
enum Item {
    Num { comp: Comp, min: usize, max: usize },
    Fraction { min: usize, max: usize },
    MonthName,
    WeekdayName,
    AmPm,
    Offset,
    ZoneName,
    Lit(char),
    Opt(Vec<Item>),
}

/// Date components read from a string.
#[derive(Debug, Clone, Copy, Default)]
struct Parts {
    year: Option<i64>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: Option<u32>,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: Option<u32>,
    second: Option<u32>,
    nanos: Option<u32>,
    offset_secs: Option<i32>,
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

/// Milliseconds since the epoch, now.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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

/// Named ISO formats take 1 to 9 fraction digits.
fn relax_fractions(items: &mut [Item]) {
    for item in items {
        match item {
            Item::Fraction { min, .. } => *min = 1,
            Item::Opt(inner) => relax_fractions(inner),
            _ => {}
        }
    }
}

fn compile_pattern(p: &str) -> Result<Vec<Item>, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let top = stack
            .last_mut()
            .expect("the stack always has the root sequence");
        if c == '\'' {
            let mut j = i + 1;
            if chars.get(j) == Some(&'\'') {
                top.push(Item::Lit('\''));
                i += 2;
                continue;
            }
            while j < chars.len() && chars[j] != '\'' {
                top.push(Item::Lit(chars[j]));
                j += 1;
            }
            if j == chars.len() {
                return Err("Pattern ends with an incomplete string literal".into());
            }
            i = j + 1;
            continue;
        }
        if c == '[' {
            stack.push(Vec::new());
            i += 1;
            continue;
        }
        if c == ']' {
            if stack.len() == 1 {
                return Err("Pattern invalid as it contains ] without previous [".into());
            }
            let inner = stack.pop().expect("checked above");
            stack
                .last_mut()
                .expect("the root sequence stays")
                .push(Item::Opt(inner));
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            top.push(Item::Lit(c));
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        let num = |comp, min: usize, max: usize| Item::Num { comp, min, max };
        let item = match c {
            'y' | 'u' | 'Y' if n == 2 => num(Comp::Year2, 2, 2),
            'y' | 'u' | 'Y' => num(Comp::Year, n, 9),
            'M' | 'L' if n >= 4 || n == 3 => Item::MonthName,
            'M' | 'L' => num(Comp::Month, n, 2),
            'd' => num(Comp::Day, n, 2),
            'D' => num(Comp::DayOfYear, n, 3),
            'H' | 'k' => num(Comp::Hour, n, 2),
            'h' | 'K' => num(Comp::Hour12, n, 2),
            'm' => num(Comp::Minute, n, 2),
            's' => num(Comp::Second, n, 2),
            'S' | 'n' => Item::Fraction { min: n, max: n },
            'a' => Item::AmPm,
            'E' => Item::WeekdayName,
            'Z' | 'X' | 'x' => Item::Offset,
            'z' | 'V' | 'O' => Item::ZoneName,
            'G' | 'Q' | 'q' | 'w' | 'W' | 'e' | 'c' | 'F' | 'N' | 'A' | 'B' | 'g' => {
                return Err(format!("pattern letter [{c}] is not supported yet"));
            }
            _ => return Err(format!("Unknown pattern letter: {c}")),
        };
        top.push(item);
        i += n;
    }
    if stack.len() != 1 {
        return Err("Pattern invalid as it contains [ without matching ]".into());
    }
    let mut items = stack.pop().expect("one sequence left");
    fix_adjacent_widths(&mut items);
    Ok(items)
}

/// `yyyyMMdd`: a number directly followed by another number has a fixed width.
fn fix_adjacent_widths(items: &mut [Item]) {
    for i in 0..items.len() {
        let next_numeric = matches!(
            items.get(i + 1),
            Some(Item::Num { .. } | Item::Fraction { .. })
        );
        match &mut items[i] {
            Item::Num { min, max, .. } if next_numeric => *max = (*min).max(2).min(*max),
            Item::Opt(inner) => fix_adjacent_widths(inner),
            _ => {}
        }
    }
}

fn parse_items(items: &[Item], s: &[u8], mut pos: usize, parts: &mut Parts) -> Option<usize> {
    for item in items {
        pos = match item {
            Item::Opt(inner) => {
                let saved = *parts;
                match parse_items(inner, s, pos, parts) {
                    Some(p) => p,
                    None => {
                        *parts = saved;
                        pos
                    }
                }
            }
            Item::Lit(c) => {
                let mut buf = [0u8; 4];
                let lit = c.encode_utf8(&mut buf).as_bytes();
                if s[pos..].starts_with(lit) {
                    pos + lit.len()
                } else {
                    return None;
                }
            }
            Item::Num { comp, min, max } => {
                let (v, end) = read_digits(s, pos, *min, *max)?;
                let v32 = u32::try_from(v).ok();
                match comp {
                    Comp::Year => parts.year = Some(v as i64),
                    Comp::Year2 => parts.year = Some(2000 + v as i64),
                    Comp::Month => parts.month = v32,
                    Comp::Day => parts.day = v32,
                    Comp::DayOfYear => parts.day_of_year = v32,
                    Comp::Hour => parts.hour = v32,
                    Comp::Hour12 => parts.hour12 = v32,
                    Comp::Minute => parts.minute = v32,
                    Comp::Second => parts.second = v32,
                }
                end
            }
            Item::Fraction { min, max } => {
                let start = pos;
                let (v, end) = read_digits(s, pos, *min, *max)?;
                let digits = end - start;
                let mut nanos = v;
                for _ in digits..9 {
                    nanos *= 10;
                }
                parts.nanos = u32::try_from(nanos).ok();
                end
            }
            Item::MonthName => {
                let (m, end) = read_name(s, pos, &MONTHS)?;
                parts.month = Some(m + 1);
                end
            }
            Item::WeekdayName => read_name(s, pos, &WEEKDAYS)?.1,
            Item::AmPm => {
                let (v, end) = read_name(s, pos, &["am", "pm"])?;
                parts.pm = Some(v == 1);
                end
            }
            Item::Offset => parse_offset(s, pos, parts)?,
            Item::ZoneName => {
                let (_, end) = read_name(s, pos, &["utc", "gmt", "z"])?;
                parts.offset_secs = Some(0);
                end
            }
        };
    }
    Some(pos)
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Reads a full or three-letter English name, case-insensitively.
fn read_name(s: &[u8], pos: usize, names: &[&str]) -> Option<(u32, usize)> {
    let rest = &s[pos..];
    for (i, name) in names.iter().enumerate() {
        for len in [name.len(), 3.min(name.len())] {
            if rest.len() >= len && rest[..len].eq_ignore_ascii_case(&name.as_bytes()[..len]) {
                return Some((i as u32, pos + len));
            }
        }
    }
    None
}

fn read_digits(s: &[u8], pos: usize, min: usize, max: usize) -> Option<(u64, usize)> {
    let mut end = pos;
    let mut v: u64 = 0;
    while end < s.len() && end - pos < max && s[end].is_ascii_digit() {
        v = v * 10 + u64::from(s[end] - b'0');
        end += 1;
    }
    (end - pos >= min.max(1)).then_some((v, end))
}

/// `Z`, `+HH:mm`, `+HHmm`, `+HH`.
fn parse_offset(s: &[u8], pos: usize, parts: &mut Parts) -> Option<usize> {
    match s.get(pos)? {
        b'Z' | b'z' => {
            parts.offset_secs = Some(0);
            Some(pos + 1)
        }
        sign @ (b'+' | b'-') => {
            let (h, mut end) = read_digits(s, pos + 1, 2, 2)?;
            let mut m = 0;
            if s.get(end) == Some(&b':') {
                let (mm, e) = read_digits(s, end + 1, 2, 2)?;
                m = mm;
                end = e;
            } else if let Some((mm, e)) = read_digits(s, end, 2, 2) {
                m = mm;
                end = e;
            }
            if h > 18 || m > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60) as i32;
            parts.offset_secs = Some(if *sign == b'-' { -secs } else { secs });
            Some(end)
        }
        _ => None,
    }
}

impl Parts {
    fn to_millis(self, round_up: bool, default_offset: i32) -> Option<i64> {
        let year = self.year.unwrap_or(1970);
        let (month, day) = match self.day_of_year {
            Some(doy) => {
                let first = days_from_civil(year, 1, 1);
                let (_, m, d) = civil_from_days(first + i64::from(doy) - 1);
                if doy == 0 || doy > if is_leap(year) { 366 } else { 365 } {
                    return None;
                }
                (m, d)
            }
            None => (self.month.unwrap_or(1), self.day.unwrap_or(1)),
        };
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let hour = match (self.hour, self.hour12) {
            (Some(h), _) => Some(h),
            (None, Some(h12)) => {
                if !(1..=12).contains(&h12) {
                    return None;
                }
                Some(h12 % 12 + if self.pm == Some(true) { 12 } else { 0 })
            }
            (None, None) => None,
        };
        let fill = |v: Option<u32>, max: u32| v.unwrap_or(if round_up { max } else { 0 });
        let (hour, minute, second) = (fill(hour, 23), fill(self.minute, 59), fill(self.second, 59));
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let millis = match self.nanos {
            Some(n) => i64::from(n / 1_000_000),
            None if round_up => 999,
            None => 0,
        };
        let offset = i64::from(self.offset_secs.unwrap_or(default_offset));
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset;
        secs.checked_mul(1000)?.checked_add(millis)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn apply_math(mut t: i64, math: &str, round_up: bool, offset_secs: i32) -> Result<i64, String> {
    let b = math.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let op = b[i];
        i += 1;
        if op == b'/' {
            let unit = *b.get(i).ok_or("rounding `/` must be followed by a unit")?;
            i += 1;
            t = round_to_unit(t, unit, round_up, offset_secs)?;
            continue;
        }
        if op != b'+' && op != b'-' {
            return Err(format!("operator not supported for date math [{math}]"));
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n: i64 = if start == i {
            1
        } else {
            math[start..i]
                .parse()
                .map_err(|_| format!("number too large in date math [{math}]"))?
        };
        let unit = *b.get(i).ok_or("truncated date math")?;
        i += 1;
        let n = if op == b'-' { -n } else { n };
        t = add_units(t, n, unit, offset_secs)?;
    }
    Ok(t)
}

fn unit_millis(unit: u8) -> Option<i64> {
    Some(match unit {
        b'w' => 7 * MS_PER_DAY,
        b'd' => MS_PER_DAY,
        b'h' | b'H' => 3_600_000,
        b'm' => 60_000,
        b's' => 1000,
        _ => return None,
    })
}

fn add_units(t: i64, n: i64, unit: u8, offset_secs: i32) -> Result<i64, String> {
    if let Some(ms) = unit_millis(unit) {
        return n
            .checked_mul(ms)
            .and_then(|d| t.checked_add(d))
            .ok_or_else(|| "date math overflow".to_string());
    }
    let months = match unit {
        b'M' => n,
        b'y' => n.checked_mul(12).ok_or("date math overflow")?,
        _ => {
            return Err(format!(
                "unit [{}] not supported for date math",
                unit as char
            ));
        }
    };
    let off = i64::from(offset_secs) * 1000;
    let local = t + off;
    let days = local.div_euclid(MS_PER_DAY);
    let in_day = local.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + i64::from(m) - 1 + months;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    let nd = d.min(days_in_month(ny, nm));
    Ok(days_from_civil(ny, nm, nd) * MS_PER_DAY + in_day - off)
}

fn round_to_unit(t: i64, unit: u8, up: bool, offset_secs: i32) -> Result<i64, String> {
    let off = i64::from(offset_secs) * 1000;
    let local = t + off;
    let days = local.div_euclid(MS_PER_DAY);
    let (y, m, _) = civil_from_days(days);
    let (start, next) = match unit {
        b'y' => (days_from_civil(y, 1, 1), days_from_civil(y + 1, 1, 1)),
        b'M' => {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (days_from_civil(y, m, 1), days_from_civil(ny, nm, 1))
        }
        b'w' => {
            // 1970-01-01 was a Thursday; ISO weeks start on Monday.
            let monday = days - (days + 3).rem_euclid(7);
            (monday, monday + 7)
        }
        _ => {
            let ms = unit_millis(unit)
                .ok_or_else(|| format!("unit [{}] not supported for rounding", unit as char))?;
            let start = local.div_euclid(ms) * ms;
            return Ok(if up { start + ms - 1 } else { start } - off);
        }
    };
    let ms = if up {
        next * MS_PER_DAY - 1
    } else {
        start * MS_PER_DAY
    };
    Ok(ms - off)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 59, 365, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn time_zones() {
        assert_eq!(parse_time_zone("+01:00"), Ok(3600));
        assert_eq!(parse_time_zone("-0530"), Ok(-19_800));
        assert_eq!(parse_time_zone("UTC"), Ok(0));
        assert!(parse_time_zone("Europe/Paris").is_err());
    }
}
