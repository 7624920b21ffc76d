//! The cluster identity: one row in `cluster`, created by whichever node first finds the
//! catalog empty.
//!
//! Get-or-create is safe under concurrency without dialect-specific upserts: the row has
//! a fixed primary key, so of two concurrent inserts one wins and the other reads the
//! winner's row. Deliberately not here: deciding what to do when the stored name differs
//! from the configured one (the node compares and reports).

use sqlx::Row;

use crate::catalog::{Catalog, now_millis, on_pool};
use crate::error::CatalogError;
use crate::sql::sql;
use crate::types::ClusterIdentity;

impl Catalog {
    /// The cluster identity, creating it with `name`, a fresh UUID and the current time
    /// if the catalog has none. An existing identity is returned unchanged, whatever `name`.
    pub async fn ensure_cluster(&self, name: &str) -> Result<ClusterIdentity, CatalogError> {
        if let Some(identity) = self.cluster().await? {
            return Ok(identity);
        }
        let created = ClusterIdentity {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            created_at_millis: now_millis(),
        };
        let statement = sql(
            self.dialect,
            "INSERT INTO cluster (id, uuid, name, created_at) VALUES (1, ?, ?, ?)",
        );
        let inserted = on_pool!(self, |pool| sqlx::query(statement)
            .bind(created.uuid.as_str())
            .bind(created.name.as_str())
            .bind(created.created_at_millis)
            .execute(pool)
            .await
            .map(drop));
        match inserted {
            Ok(()) => {
                tracing::info!(cluster_uuid = %created.uuid, cluster = %created.name, "cluster identity created");
                Ok(created)
            }
            // Another node created it between our read and our insert: theirs stands.
            Err(e)
                if e.as_database_error()
                    .is_some_and(|db| db.is_unique_violation()) =>
            {
                self.cluster().await?.ok_or_else(|| {
                    CatalogError::query(
                        "creating the cluster identity",
                        "the identity row vanished after a concurrent insert",
                    )
                })
            }
            Err(e) => Err(CatalogError::query("creating the cluster identity", e)),
        }
    }

    /// The stored cluster identity, if any.
    async fn cluster(&self) -> Result<Option<ClusterIdentity>, CatalogError> {
        const OP: &str = "reading the cluster identity";
        let statement = sql(
            self.dialect,
            "SELECT uuid, name, created_at FROM cluster WHERE id = 1",
        );
        on_pool!(self, |pool| {
            let row = sqlx::query(statement)
                .fetch_optional(pool)
                .await
                .map_err(|e| CatalogError::query(OP, e))?;
            row.map(|row| -> Result<ClusterIdentity, sqlx::Error> {
                Ok(ClusterIdentity {
                    uuid: row.try_get("uuid")?,
                    name: row.try_get("name")?,
                    created_at_millis: row.try_get("created_at")?,
                })
            })
            .transpose()
            .map_err(|e| CatalogError::query(OP, e))
        })
    }
}
