//! Byte-size strings as Elasticsearch writes them: `100mb`, `512kb`, `2gb`, `1024b`, `1024`.
//!
//! Units are binary (1kb = 1024 bytes), case-insensitive, and a bare number means bytes.
//! Fractions (`1.5gb`, which ES accepts with a deprecation warning) and negative values are
//! refused: a size is a whole number of units.

/// Parses `s` into a number of bytes, or says what is wrong with it.
pub fn parse(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    if num.is_empty() {
        return Err(format!(
            "[{s}] is not a byte size: expected a whole number and a unit like 100mb"
        ));
    }
    let shift = match unit.trim() {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        "t" | "tb" => 40,
        "p" | "pb" => 50,
        other => {
            return Err(format!(
                "[{s}] has an unknown unit [{other}]: use b, kb, mb, gb, tb or pb"
            ));
        }
    };
    let n: u64 = num.parse().map_err(|_| format!("[{s}] is too large"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("[{s}] is too large"))
}

/// Renders bytes the way ES prints sizes: the largest unit that divides evenly.
pub fn render(bytes: u64) -> String {
    const UNITS: [(&str, u32); 5] = [("pb", 50), ("tb", 40), ("gb", 30), ("mb", 20), ("kb", 10)];
    for (name, shift) in UNITS {
        if bytes != 0 && bytes.is_multiple_of(1u64 << shift) {
            return format!("{}{name}", bytes >> shift);
        }
    }
    format!("{bytes}b")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_case_insensitively() {
        assert_eq!(parse("100mb"), Ok(100 * 1024 * 1024));
        assert_eq!(parse("100MB"), Ok(100 * 1024 * 1024));
        assert_eq!(parse("1gb"), Ok(1 << 30));
        assert_eq!(parse("512kb"), Ok(512 * 1024));
        assert_eq!(parse("7b"), Ok(7));
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse(" 2k "), Ok(2048));
    }

    #[test]
    fn refuses_what_is_not_a_size() {
        assert!(parse("").is_err());
        assert!(parse("mb").is_err());
        assert!(parse("1.5gb").is_err());
        assert!(parse("-1mb").is_err());
        assert!(parse("10 parsecs").unwrap_err().contains("unknown unit"));
        assert!(
            parse("99999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
        assert!(parse("20000000pb").unwrap_err().contains("too large"));
    }

    #[test]
    fn renders_the_largest_even_unit() {
        assert_eq!(render(100 * 1024 * 1024), "100mb");
        assert_eq!(render(1536), "1536b");
        assert_eq!(render(2048), "2kb");
        assert_eq!(render(0), "0b");
    }
}
