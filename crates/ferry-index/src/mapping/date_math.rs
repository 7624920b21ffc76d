//! Calendar arithmetic and date math for `date` fields: days ↔ civil dates (proleptic
//! Gregorian, any year), `+1M`/`-2d` steps (months clamp to the last day, as java-time),
//! and `/d` rounding (down, or up to the unit's last millisecond), in a fixed UTC offset.
//!
//! No time-zone database: offsets only.

/// Milliseconds per day.
pub(crate) const MS_PER_DAY: i64 = 86_400_000;

/// Dates beyond ±100 million years are refused (keeps every step within i64).
const MAX_YEARS: i64 = 100_000_000;
const MAX_ABS_MILLIS: i64 = MAX_YEARS * 366 * MS_PER_DAY;

fn in_range(t: i64) -> Result<i64, String> {
    if t.abs() > MAX_ABS_MILLIS {
        Err("date is out of the supported range".into())
    } else {
        Ok(t)
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(super) fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(super) fn days_in_month(y: i64, m: u32) -> u32 {
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

pub(super) fn apply_math(
    mut t: i64,
    math: &str,
    round_up: bool,
    offset_secs: i32,
) -> Result<i64, String> {
    let b = math.as_bytes();
    let mut i = 0;
    t = in_range(t)?;
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
        t = in_range(add_units(t, n, unit, offset_secs)?)?;
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
    let total = (y * 12 + i64::from(m) - 1)
        .checked_add(months)
        .ok_or("date math overflow")?;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    if ny.abs() > MAX_YEARS {
        return Err("date is out of the supported range".into());
    }
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

    #[test]
    fn huge_dates_fail_instead_of_overflowing() {
        assert!(apply_math(0, "+99999999999y", false, 0).is_err());
        assert!(apply_math(i64::MAX, "/d", true, 0).is_err());
        assert!(apply_math(0, "+9223372036854775807s", false, 0).is_err());
        assert_eq!(apply_math(0, "+1d-1h", false, 0), Ok(23 * 3_600_000));
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 59, 365, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
