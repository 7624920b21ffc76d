//! Cross-cluster replication metadata that must survive a restart: follower indices
//! ([`CCR_FOLLOW`], keyed by follower index name) and auto-follow patterns
//! ([`CCR_AUTO_FOLLOW`], keyed by pattern name), one row per record in `ccr_records`,
//! value stored as JSON text.
//!
//! A write is one dialect upsert statement (`ON CONFLICT ... DO UPDATE` on SQLite and
//! PostgreSQL, `ON DUPLICATE KEY UPDATE` on MySQL/MariaDB), so it is atomic and two
//! nodes writing the same record never trip over the primary key. Unknown kinds are
//! refused; names are checked so that every dialect stores exactly the same keys (see
//! [`check_name`]). Deliberately not here: what a record holds (ferry-node and
//! ferry-replication own its shape), validating index or pattern names beyond what
//! storage needs, and starting or stopping follow tasks.

use std::collections::BTreeMap;

use serde_json::Value;
use sqlx::Row;

use crate::catalog::{Catalog, now_millis, on_pool};
use crate::config::Dialect;
use crate::error::CatalogError;
use crate::sql::sql;

/// Kind of the record of one follower index; its name is the follower index name.
pub const CCR_FOLLOW: &str = "follow";
/// Kind of the record of one auto-follow pattern; its name is the pattern name.
pub const CCR_AUTO_FOLLOW: &str = "auto_follow";

/// Every kind the `ccr_records` table accepts (its CHECK constraint lists the same).
const KINDS: [&str; 2] = [CCR_FOLLOW, CCR_AUTO_FOLLOW];

/// The longest name the `name` column holds on every dialect, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// The upsert of SQLite and PostgreSQL (`excluded` is the row that was refused).
const UPSERT: &str = "INSERT INTO ccr_records (kind, name, record_value, updated_at) \
     VALUES (?, ?, ?, ?) ON CONFLICT (kind, name) \
     DO UPDATE SET record_value = excluded.record_value, updated_at = excluded.updated_at";

/// The upsert of MySQL/MariaDB. The new value is bound a second time rather than read
/// with `VALUES(col)` (deprecated on MySQL 8) or a row alias (unknown to MariaDB).
const MYSQL_UPSERT: &str = "INSERT INTO ccr_records (kind, name, record_value, updated_at) \
     VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE record_value = ?, updated_at = ?";

fn check_kind(op: &'static str, kind: &str) -> Result<(), CatalogError> {
    if KINDS.contains(&kind) {
        Ok(())
    } else {
        Err(CatalogError::query(
            op,
            format!("unknown CCR record kind [{kind}], expected one of {KINDS:?}"),
        ))
    }
}

/// Why `name` cannot be stored identically on every dialect, if it cannot: empty, longer
/// than the column, holding a NUL (PostgreSQL text cannot), or ending in a space
/// (MySQL/MariaDB `utf8mb4_bin` pads, so `a` and `a ` would be one key there).
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("the record name must not be empty".to_owned())
    } else if name.len() > MAX_NAME_BYTES {
        Some(format!(
            "the record name is too long ({} > {MAX_NAME_BYTES} bytes)",
            name.len()
        ))
    } else if name.contains('\0') {
        Some(format!(
            "the record name [{}] holds a NUL byte",
            name.escape_debug()
        ))
    } else if name.ends_with(' ') {
        Some(format!(
            "the record name [{name}] must not end with a space"
        ))
    } else {
        None
    }
}

/// Refuses a name [`name_problem`] finds fault with.
fn check_name(op: &'static str, name: &str) -> Result<(), CatalogError> {
    match name_problem(name) {
        Some(problem) => Err(CatalogError::query(op, problem)),
        None => Ok(()),
    }
}

impl Catalog {
    /// Inserts or replaces the record `(kind, name)`; `value` stored as JSON text.
    ///
    /// An unknown `kind`, or a name that is empty, longer than 255 bytes, holds a NUL or
    /// ends with a space, is refused and nothing is written.
    pub async fn put_ccr_record(
        &self,
        kind: &str,
        name: &str,
        value: &Value,
    ) -> Result<(), CatalogError> {
        const OP: &str = "writing a CCR record";
        check_kind(OP, kind)?;
        check_name(OP, name)?;
        let text = serde_json::to_string(value).map_err(|e| CatalogError::query(OP, e))?;
        let now = now_millis();
        let (statement, binds_value_twice) = match self.dialect {
            Dialect::Mysql => (sql(self.dialect, MYSQL_UPSERT), true),
            Dialect::Sqlite | Dialect::Postgres => (sql(self.dialect, UPSERT), false),
        };
        on_pool!(self, |pool| {
            let mut query = sqlx::query(statement)
                .bind(kind)
                .bind(name)
                .bind(text.as_str())
                .bind(now);
            if binds_value_twice {
                query = query.bind(text.as_str()).bind(now);
            }
            query
                .execute(pool)
                .await
                .map(drop)
                .map_err(|e| CatalogError::query(OP, e))
        })
    }

    /// Every record of `kind`, by name (byte-wise order). A stored value that is not
    /// JSON is an error naming the record.
    pub async fn get_ccr_records(
        &self,
        kind: &str,
    ) -> Result<BTreeMap<String, Value>, CatalogError> {
        const OP: &str = "reading CCR records";
        check_kind(OP, kind)?;
        let statement = sql(
            self.dialect,
            "SELECT name, record_value FROM ccr_records WHERE kind = ?",
        );
        let rows: Vec<(String, String)> = on_pool!(self, |pool| {
            let rows = sqlx::query(statement)
                .bind(kind)
                .fetch_all(pool)
                .await
                .map_err(|e| CatalogError::query(OP, e))?;
            rows.iter()
                .map(|row| -> Result<(String, String), sqlx::Error> {
                    Ok((row.try_get("name")?, row.try_get("record_value")?))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CatalogError::query(OP, e))?
        });
        rows.into_iter()
            .map(|(name, text)| {
                let value = serde_json::from_str(&text).map_err(|e| {
                    CatalogError::query(
                        OP,
                        format!("stored value of {kind} record [{name}] is not JSON: {e}"),
                    )
                })?;
                Ok((name, value))
            })
            .collect()
    }

    /// Removes `(kind, name)`; `Ok(false)` when it did not exist. An unknown `kind` is
    /// refused; a name [`Catalog::put_ccr_record`] would refuse was never stored, so it
    /// gives `Ok(false)` without touching the table.
    pub async fn delete_ccr_record(&self, kind: &str, name: &str) -> Result<bool, CatalogError> {
        const OP: &str = "deleting a CCR record";
        check_kind(OP, kind)?;
        if name_problem(name).is_some() {
            return Ok(false);
        }
        let statement = sql(
            self.dialect,
            "DELETE FROM ccr_records WHERE kind = ? AND name = ?",
        );
        on_pool!(self, |pool| sqlx::query(statement)
            .bind(kind)
            .bind(name)
            .execute(pool)
            .await
            .map(|done| done.rows_affected() > 0)
            .map_err(|e| CatalogError::query(OP, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_kinds_pass() {
        assert!(check_kind("t", CCR_FOLLOW).is_ok());
        assert!(check_kind("t", CCR_AUTO_FOLLOW).is_ok());
        for bad in ["", "Follow", "follow ", "auto-follow", "settings"] {
            assert!(check_kind("t", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_that_differ_between_dialects_are_refused() {
        assert_eq!(name_problem("leader-follower"), None);
        assert_eq!(name_problem(&"x".repeat(MAX_NAME_BYTES)), None);
        assert_eq!(name_problem(" a"), None);
        for bad in [
            String::new(),
            "x".repeat(MAX_NAME_BYTES + 1),
            "é".repeat(128),
            "a\0b".to_owned(),
            "a ".to_owned(),
        ] {
            assert!(name_problem(&bad).is_some(), "{bad:?}");
        }
    }
}
