//! [`Catalog`]: the one repository API over the catalog database, whatever its dialect.
//!
//! The pool is an enum of the three sqlx pools; [`on_pool!`] expands a statement once per
//! dialect so each arm is type-checked against its own driver, and statements are written
//! once with `?` placeholders (see `sql`). This file holds connection-level calls; the
//! cluster identity and index definitions have their own files. Deliberately not here:
//! caching, retries, or any decision about what the rows mean.

use std::fmt;

use crate::config::{DbConfig, Dialect};
use crate::connect::{self, DbPool};
use crate::error::CatalogError;

/// Runs `$body` with `$pool` bound to the concrete pool of `$catalog`'s dialect.
macro_rules! on_pool {
    ($catalog:expr, |$pool:ident| $body:expr) => {
        match &$catalog.pool {
            $crate::connect::DbPool::Sqlite($pool) => $body,
            $crate::connect::DbPool::Mysql($pool) => $body,
            $crate::connect::DbPool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// A connected, migrated catalog. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Catalog {
    pub(crate) pool: DbPool,
    pub(crate) dialect: Dialect,
    /// `config.to_string()`: where this catalog lives, without the password.
    target: String,
}

impl Catalog {
    /// Opens the catalog (creating the SQLite file if missing, in WAL mode), applies the
    /// pending migrations of its dialect under the migration lock, and records the schema
    /// version and this release in `catalog_meta` when the schema changed.
    pub async fn connect(config: &DbConfig) -> Result<Catalog, CatalogError> {
        let pool = connect::open(config).await?;
        Ok(Catalog {
            pool,
            dialect: config.dialect(),
            target: config.to_string(),
        })
    }

    /// The SQL dialect of the database.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), CatalogError> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(drop)
            .map_err(|e| CatalogError::query("pinging the catalog", e)))
    }

    /// The Ferry release that last migrated the catalog schema.
    pub async fn release(&self) -> Result<String, CatalogError> {
        self.meta("release")
            .await?
            .ok_or_else(|| CatalogError::NotFound("the release entry of catalog_meta".to_owned()))
    }

    /// The schema version recorded in the catalog (the newest migration applied).
    pub async fn schema_version(&self) -> Result<i64, CatalogError> {
        let value = self.meta("schema_version").await?.ok_or_else(|| {
            CatalogError::NotFound("the schema_version entry of catalog_meta".to_owned())
        })?;
        value.parse().map_err(|_| {
            CatalogError::query(
                "reading the schema version",
                format!("stored schema version `{value}` is not a number"),
            )
        })
    }

    /// Closes every connection of the pool; later calls fail.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    async fn meta(&self, key: &'static str) -> Result<Option<String>, CatalogError> {
        let statement = crate::sql::sql(
            self.dialect,
            "SELECT meta_value FROM catalog_meta WHERE meta_key = ?",
        );
        on_pool!(self, |pool| sqlx::query_scalar::<_, String>(statement)
            .bind(key)
            .fetch_optional(pool)
            .await
            .map_err(|e| CatalogError::query("reading catalog_meta", e)))
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("dialect", &self.dialect)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// The current time as Unix epoch milliseconds.
pub(crate) fn now_millis() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
