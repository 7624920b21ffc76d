//! Parsing of the `FERRY_DB` string (`key=value&key=value`, values percent-decoded) into
//! the same raw form `db.yml` produces. Validation happens in `config`.
//!
//! Errors name keys, never values of `password`; a segment without `=` is reported by its
//! position only, because it may be the tail of a password whose `&` was not encoded.
//! `+` is kept as `+` (not a space), so passwords holding it need no encoding.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::config::RawDbConfig;
use crate::error::{CatalogError, redact};

/// The keys `FERRY_DB` accepts, in the order the error message lists them.
const KEYS: &[&str] = &[
    "dialect",
    "host",
    "port",
    "username",
    "password",
    "database",
    "ssl",
    "path",
    "max_connections",
];

/// Parses a `FERRY_DB` value. Empty values count as absent.
pub(crate) fn parse(value: &str) -> Result<RawDbConfig, CatalogError> {
    let mut raw = RawDbConfig::default();
    let password = password_of(value);
    parse_into(value, &mut raw).map_err(|e| match e {
        CatalogError::Config(msg) => CatalogError::Config(redact(msg, password.as_deref())),
        other => other,
    })?;
    Ok(raw)
}

fn parse_into(value: &str, raw: &mut RawDbConfig) -> Result<(), CatalogError> {
    let mut seen: Vec<&str> = Vec::new();
    for (position, segment) in value.trim().split('&').enumerate() {
        if segment.is_empty() {
            continue;
        }
        let Some((key, encoded)) = segment.split_once('=') else {
            return Err(config(format!(
                "FERRY_DB segment {} has no `=` (write `&` inside a value as %26)",
                position + 1
            )));
        };
        if !KEYS.contains(&key) {
            return Err(unknown_key(key));
        }
        if seen.contains(&key) {
            return Err(config(format!("key `{key}` appears twice in FERRY_DB")));
        }
        seen.push(key);
        let decoded = percent_decode_str(encoded)
            .decode_utf8()
            .map_err(|_| {
                config(format!(
                    "key `{key}` in FERRY_DB is not valid UTF-8 once decoded"
                ))
            })?
            .into_owned();
        if decoded.is_empty() {
            continue;
        }
        set(raw, key, decoded)?;
    }
    Ok(())
}

fn set(raw: &mut RawDbConfig, key: &str, value: String) -> Result<(), CatalogError> {
    match key {
        "dialect" => raw.dialect = Some(value.parse()?),
        "host" => raw.host = Some(value),
        "port" => {
            raw.port = Some(value.trim().parse().map_err(|_| {
                config(format!(
                    "key `port` must be a number from 1 to 65535, got `{}`",
                    shorten(&value)
                ))
            })?)
        }
        "username" => raw.username = Some(value),
        "password" => raw.password = Some(value),
        "database" => raw.database = Some(value),
        "ssl" => {
            raw.ssl = Some(match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(config("key `ssl` must be true or false".to_owned())),
            })
        }
        "path" => raw.path = Some(PathBuf::from(value)),
        "max_connections" => {
            raw.max_connections = Some(value.trim().parse().map_err(|_| {
                config("key `max_connections` must be a positive number".to_owned())
            })?)
        }
        other => return Err(unknown_key(other)),
    }
    Ok(())
}

/// The decoded `password` value, used only to redact it from error messages.
fn password_of(value: &str) -> Option<String> {
    value
        .split('&')
        .filter_map(|segment| segment.strip_prefix("password="))
        .map(|encoded| percent_decode_str(encoded).decode_utf8_lossy().into_owned())
        .find(|p| !p.is_empty())
}

/// At most 32 characters of a user-given key, so a pasted secret is not echoed whole.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(32).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

fn unknown_key(key: &str) -> CatalogError {
    config(format!(
        "unknown key `{}` in FERRY_DB (expected one of: {})",
        shorten(key),
        KEYS.join(", ")
    ))
}

fn config(msg: String) -> CatalogError {
    CatalogError::Config(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let raw = parse(
            "dialect=postgres&host=db1&port=5433&username=ferry&password=p%26w%3Dx+y&database=ferry&ssl=true&max_connections=3",
        )
        .expect("valid");
        assert_eq!(raw.host.as_deref(), Some("db1"));
        assert_eq!(raw.port, Some(5433));
        assert_eq!(raw.password.as_deref(), Some("p&w=x+y"));
        assert_eq!(raw.ssl, Some(true));
        assert_eq!(raw.max_connections, Some(3));
    }

    #[test]
    fn empty_values_and_segments_are_absent() {
        let raw = parse("dialect=sqlite&&path=%2Ftmp%2Fc.db&password=&").expect("valid");
        assert_eq!(raw.password, None);
        assert_eq!(raw.path, Some(PathBuf::from("/tmp/c.db")));
    }

    #[test]
    fn refuses_unknown_and_duplicate_keys() {
        let e = parse("dialect=mysql&pasword=x").err().expect("unknown key");
        assert!(e.to_string().contains("`pasword`"), "{e}");
        let e = parse("host=a&host=b").err().expect("duplicate");
        assert!(e.to_string().contains("twice"), "{e}");
    }

    #[test]
    fn a_segment_without_equals_is_not_echoed() {
        let e = parse("dialect=mysql&password=ab&cdSECRET")
            .err()
            .expect("bad segment");
        let msg = e.to_string();
        assert!(msg.contains("segment 3"), "{msg}");
        assert!(!msg.contains("cdSECRET"), "{msg}");
    }

    #[test]
    fn bad_numbers_and_booleans_name_the_key() {
        let e = parse("port=abc").err().expect("bad port");
        assert!(e.to_string().contains("`port`"), "{e}");
        let e = parse("port=70000").err().expect("port out of range");
        assert!(e.to_string().contains("`port`"), "{e}");
        let e = parse("ssl=maybe").err().expect("bad ssl");
        assert!(e.to_string().contains("`ssl`"), "{e}");
        let e = parse("dialect=oracle").err().expect("bad dialect");
        assert!(e.to_string().contains("oracle"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let e = parse("host=%FF").err().expect("bad utf8");
        assert!(e.to_string().contains("`host`"), "{e}");
    }

    #[test]
    fn errors_are_redacted_of_the_password() {
        // The password leaks into the port by a typo; the error must not show it.
        let e = parse("password=Sup3rS3cret&port=Sup3rS3cret")
            .err()
            .expect("bad port");
        assert!(!e.to_string().contains("Sup3rS3cret"), "{e}");
    }
}
