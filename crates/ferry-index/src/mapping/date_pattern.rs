//! The java-time pattern engine behind date formats: compiling `yyyy-MM-dd'T'HH:mm`
//! (with `[...]` optional sections and `'...'` literals) into items, reading a string
//! with them, and turning the parts read into epoch milliseconds.
//!
//! Supported letters: `y u Y M L d D H k h K m s S n a E Z X x z V O`; others are refused
//! ("Unknown pattern letter" or "not supported yet"). English month and weekday names only.

use super::date_math::{civil_from_days, days_from_civil, days_in_month, is_leap};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Comp {
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
pub(super) enum Item {
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
pub(super) struct Parts {
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
    pub(super) offset_secs: Option<i32>,
}

/// Named ISO formats take 1 to 9 fraction digits.
pub(super) fn relax_fractions(items: &mut [Item]) {
    for item in items {
        match item {
            Item::Fraction { min, .. } => *min = 1,
            Item::Opt(inner) => relax_fractions(inner),
            _ => {}
        }
    }
}

pub(super) fn compile_pattern(p: &str) -> Result<Vec<Item>, String> {
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

pub(super) fn parse_items(
    items: &[Item],
    s: &[u8],
    mut pos: usize,
    parts: &mut Parts,
) -> Option<usize> {
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
pub(super) fn parse_offset(s: &[u8], pos: usize, parts: &mut Parts) -> Option<usize> {
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
    pub(super) fn to_millis(self, round_up: bool, default_offset: i32) -> Option<i64> {
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
