//! Cluster-wide settings of `PUT /_cluster/settings` that must survive a restart: one row
//! per flat key (`cluster.remote.leader.seeds`) in `cluster_settings`, value stored as JSON.
//!
//! A change set is applied in one transaction, so a failure leaves the stored settings as
//! they were. Only the `persistent` scope is stored: transient settings live in the
//! node's memory. Deliberately not here: validating keys or values (ferry-replication's
//! `remote` module does), or merging with transient settings.

use std::collections::BTreeMap;

use serde_json::Value;
use sqlx::Row;

use crate::catalog::{Catalog, on_pool};
use crate::error::CatalogError;
use crate::sql::sql;

/// The one scope the catalog stores (transient settings are in memory only).
pub const PERSISTENT: &str = "persistent";

fn check_scope(op: &'static str, scope: &str) -> Result<(), CatalogError> {
    if scope == PERSISTENT {
        Ok(())
    } else {
        Err(CatalogError::query(
            op,
            format!("settings scope [{scope}] is not stored in the catalog"),
        ))
    }
}

impl Catalog {
    /// Every stored setting of `scope`, by flat key (ordered byte-wise).
    pub async fn get_cluster_settings(
        &self,
        scope: &str,
    ) -> Result<BTreeMap<String, Value>, CatalogError> {
        const OP: &str = "reading cluster settings";
        check_scope(OP, scope)?;
        let statement = sql(
            self.dialect,
            "SELECT setting_key, setting_value FROM cluster_settings WHERE scope = ?",
        );
        let rows: Vec<(String, String)> = on_pool!(self, |pool| {
            let rows = sqlx::query(statement)
                .bind(scope)
                .fetch_all(pool)
                .await
                .map_err(|e| CatalogError::query(OP, e))?;
            rows.iter()
                .map(|row| -> Result<(String, String), sqlx::Error> {
                    Ok((row.try_get("setting_key")?, row.try_get("setting_value")?))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CatalogError::query(OP, e))?
        });
        rows.into_iter()
            .map(|(key, text)| {
                let value = serde_json::from_str(&text).map_err(|e| {
                    CatalogError::query(OP, format!("stored value of [{key}] is not JSON: {e}"))
                })?;
                Ok((key, value))
            })
            .collect()
    }

    /// Applies `changes` to `scope` in one transaction: `Some(value)` sets the key,
    /// `None` removes it (removing a missing key is not an error). All or nothing.
    pub async fn put_cluster_settings(
        &self,
        scope: &str,
        changes: &[(String, Option<Value>)],
    ) -> Result<(), CatalogError> {
        const OP: &str = "writing cluster settings";
        check_scope(OP, scope)?;
        let mut encoded = Vec::with_capacity(changes.len());
        for (key, value) in changes {
            let text = value
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| CatalogError::query(OP, e))?;
            encoded.push((key.as_str(), text));
        }
        let delete = sql(
            self.dialect,
            "DELETE FROM cluster_settings WHERE scope = ? AND setting_key = ?",
        );
        let insert = sql(
            self.dialect,
            "INSERT INTO cluster_settings (scope, setting_key, setting_value) VALUES (?, ?, ?)",
        );
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(|e| CatalogError::query(OP, e))?;
            for (key, text) in &encoded {
                sqlx::query(sqlx::AssertSqlSafe(delete.0.clone()))
                    .bind(scope)
                    .bind(*key)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| CatalogError::query(OP, e))?;
                if let Some(text) = text {
                    sqlx::query(sqlx::AssertSqlSafe(insert.0.clone()))
                        .bind(scope)
                        .bind(*key)
                        .bind(text.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| CatalogError::query(OP, e))?;
                }
            }
            tx.commit().await.map_err(|e| CatalogError::query(OP, e))
        })
    }
}
