//! ES time values in settings (`500ms`, `1s`, `30s`, `1m`, `12h`, `1d`, `0`, `-1`): parsing
//! with ES's error messages, and rendering a duration back in the largest whole unit.
//! Fractional values (`1.5s`) are refused, as ES refuses them.

use std::time::Duration;

use serde_json::Value;

use super::{illegal, text};
use crate::Result;

/// Parses an ES time value (`500ms`, `1s`, `30s`, `1m`, `2h`, `1d`, `0`, `-1`).
/// Returns `None` for `-1`.
pub(super) fn parse_time(key: &str, v: &Value) -> Result<Option<Duration>> {
    let raw = text(v);
    let s = raw.trim().to_ascii_lowercase();
    match s.as_str() {
        "-1" => return Ok(None),
        "0" => return Ok(Some(Duration::ZERO)),
        _ => {}
    }
    const UNITS: [(&str, u64); 7] = [
        ("nanos", 1),
        ("micros", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
        ("d", 86_400_000_000_000),
    ];
    let Some((number, nanos_per_unit)) = UNITS
        .iter()
        .find_map(|(suffix, n)| s.strip_suffix(suffix).map(|num| (num.trim(), *n)))
    else {
        return Err(illegal(format!(
            "failed to parse setting [{key}] with value [{raw}] as a time value: unit is missing or unrecognized"
        )));
    };
    match number.parse::<i64>() {
        Ok(n) if n < 0 => Err(illegal(format!(
            "failed to parse value [{raw}] for setting [{key}], must be >= [-1]"
        ))),
        Ok(n) => u64::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(nanos_per_unit))
            .map(|nanos| Some(Duration::from_nanos(nanos)))
            .ok_or_else(|| illegal(format!("failed to parse [{raw}]"))),
        Err(_) if number.parse::<f64>().is_ok() => Err(illegal(format!(
            "failed to parse [{raw}], fractional time values are not supported"
        ))),
        Err(_) => Err(illegal(format!("failed to parse [{raw}]"))),
    }
}

/// Renders a duration the way a user would write it: the largest whole unit.
pub(super) fn format_time(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return if d.is_zero() {
            "0s".into()
        } else {
            format!("{}nanos", d.as_nanos())
        };
    }
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return format!("{}nanos", d.as_nanos());
    }
    for (unit, per) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms.is_multiple_of(per) {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const REFRESH: &str = "index.refresh_interval";

    #[test]
    fn time_values() {
        let t = |s: &str| parse_time(REFRESH, &json!(s));
        assert_eq!(t("1s").unwrap(), Some(Duration::from_secs(1)));
        assert_eq!(t("500ms").unwrap(), Some(Duration::from_millis(500)));
        assert_eq!(t("1m").unwrap(), Some(Duration::from_secs(60)));
        assert_eq!(t("12h").unwrap(), Some(Duration::from_secs(43_200)));
        assert_eq!(t("-1").unwrap(), None);
        assert_eq!(parse_time(REFRESH, &json!(-1)).unwrap(), None);
        assert_eq!(t("0").unwrap(), Some(Duration::ZERO));
        let e = t("abc").unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to parse setting [index.refresh_interval] with value [abc] as a time value: unit is missing or unrecognized"
        );
        assert!(t("1.5s").unwrap_err().to_string().contains("fractional"));
        assert!(t("-2s").is_err());
        assert!(parse_time(REFRESH, &json!(5)).is_err());
        for d in ["1s", "500ms", "30s", "1m", "12h", "2d", "90s"] {
            assert_eq!(format_time(t(d).unwrap().unwrap()), d);
        }
    }
}
