//! Index definitions in the `indices` table: create, read, list, delete, and the updates
//! of mappings, settings and state.
//!
//! Duplicate names are refused by the table's unique constraint, never by a racy
//! look-up first. Settings and mappings are stored as JSON text and parsed on read.
//! Deliberately not here: validating names, settings or mappings, or bumping versions
//! (callers pass the new version; the catalog stores what it is given).

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::catalog::{Catalog, on_pool};
use crate::error::CatalogError;
use crate::sql::sql;
use crate::types::{IndexRecord, IndexState};

/// The columns every read selects, in the order `index_from_row` expects them by name.
macro_rules! select_index {
    ($($tail:literal)?) => {
        concat!(
            "SELECT uuid, name, settings, mappings, state, settings_version, mapping_version, ",
            "created_at FROM indices",
            $(" ", $tail)?
        )
    };
}

impl Catalog {
    /// Stores a new index definition. A name already taken gives
    /// [`CatalogError::AlreadyExists`], decided by the unique constraint.
    pub async fn create_index(&self, index: &IndexRecord) -> Result<(), CatalogError> {
        const OP: &str = "creating an index";
        let settings = to_json(OP, &index.settings)?;
        let mappings = to_json(OP, &index.mappings)?;
        let settings_version = version_to_db(OP, index.settings_version)?;
        let mapping_version = version_to_db(OP, index.mapping_version)?;
        let statement = sql(
            self.dialect,
            "INSERT INTO indices (uuid, name, settings, mappings, state, settings_version, \
             mapping_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        );
        let result = on_pool!(self, |pool| sqlx::query(statement)
            .bind(index.uuid.as_str())
            .bind(index.name.as_str())
            .bind(settings)
            .bind(mappings)
            .bind(index.state.as_str())
            .bind(settings_version)
            .bind(mapping_version)
            .bind(index.created_at_millis)
            .execute(pool)
            .await
            .map(drop));
        result.map_err(|e| match e.as_database_error() {
            Some(db) if db.is_unique_violation() && is_name_conflict(db) => {
                CatalogError::AlreadyExists(index.name.clone())
            }
            Some(db) if db.is_unique_violation() => CatalogError::query(
                OP,
                format!("an index with uuid {} already exists", index.uuid),
            ),
            _ => CatalogError::query(OP, e),
        })
    }

    /// The index called `name`, if any.
    pub async fn get_index(&self, name: &str) -> Result<Option<IndexRecord>, CatalogError> {
        const OP: &str = "reading an index by name";
        let statement = sql(self.dialect, select_index!("WHERE name = ?"));
        on_pool!(self, |pool| {
            let row = sqlx::query(statement)
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(|e| CatalogError::query(OP, e))?;
            row.as_ref().map(index_from_row).transpose()
        })
    }

    /// The index with this uuid, if any.
    pub async fn get_index_by_uuid(&self, uuid: &str) -> Result<Option<IndexRecord>, CatalogError> {
        const OP: &str = "reading an index by uuid";
        let statement = sql(self.dialect, select_index!("WHERE uuid = ?"));
        on_pool!(self, |pool| {
            let row = sqlx::query(statement)
                .bind(uuid)
                .fetch_optional(pool)
                .await
                .map_err(|e| CatalogError::query(OP, e))?;
            row.as_ref().map(index_from_row).transpose()
        })
    }

    /// Every index, ordered by name (byte-wise on every dialect).
    pub async fn list_indices(&self) -> Result<Vec<IndexRecord>, CatalogError> {
        const OP: &str = "listing indices";
        let statement = sql(self.dialect, select_index!("ORDER BY name"));
        on_pool!(self, |pool| {
            let rows = sqlx::query(statement)
                .fetch_all(pool)
                .await
                .map_err(|e| CatalogError::query(OP, e))?;
            rows.iter().map(index_from_row).collect()
        })
    }

    /// Removes the index definition; `false` when there was none.
    pub async fn delete_index(&self, uuid: &str) -> Result<bool, CatalogError> {
        let statement = sql(self.dialect, "DELETE FROM indices WHERE uuid = ?");
        let deleted = on_pool!(self, |pool| sqlx::query(statement)
            .bind(uuid)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(|e| CatalogError::query("deleting an index", e))?;
        Ok(deleted > 0)
    }

    /// Replaces the mappings and their version.
    pub async fn update_mappings(
        &self,
        uuid: &str,
        mappings: &serde_json::Value,
        mapping_version: u64,
    ) -> Result<(), CatalogError> {
        const OP: &str = "updating mappings";
        let json = to_json(OP, mappings)?;
        let version = version_to_db(OP, mapping_version)?;
        let statement = sql(
            self.dialect,
            "UPDATE indices SET mappings = ?, mapping_version = ? WHERE uuid = ?",
        );
        let matched = on_pool!(self, |pool| sqlx::query(statement)
            .bind(json)
            .bind(version)
            .bind(uuid)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(|e| CatalogError::query(OP, e))?;
        found(matched, uuid)
    }

    /// Replaces the settings and their version.
    pub async fn update_settings(
        &self,
        uuid: &str,
        settings: &serde_json::Value,
        settings_version: u64,
    ) -> Result<(), CatalogError> {
        const OP: &str = "updating settings";
        let json = to_json(OP, settings)?;
        let version = version_to_db(OP, settings_version)?;
        let statement = sql(
            self.dialect,
            "UPDATE indices SET settings = ?, settings_version = ? WHERE uuid = ?",
        );
        let matched = on_pool!(self, |pool| sqlx::query(statement)
            .bind(json)
            .bind(version)
            .bind(uuid)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(|e| CatalogError::query(OP, e))?;
        found(matched, uuid)
    }

    /// Opens or closes the index.
    pub async fn set_index_state(&self, uuid: &str, state: IndexState) -> Result<(), CatalogError> {
        let statement = sql(self.dialect, "UPDATE indices SET state = ? WHERE uuid = ?");
        let matched = on_pool!(self, |pool| sqlx::query(statement)
            .bind(state.as_str())
            .bind(uuid)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(|e| CatalogError::query("changing index state", e))?;
        found(matched, uuid)
    }
}

/// Whether a unique violation is about `indices.name` rather than the uuid key.
/// PostgreSQL names the constraint; SQLite and MySQL/MariaDB name it in the message.
fn is_name_conflict(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.constraint() == Some("indices_name_key")
        || db.message().contains("indices.name")
        || db.message().contains("indices_name_key")
}

/// `Ok` when an UPDATE matched a row (MySQL counts matched rows: sqlx sets FOUND_ROWS).
fn found(matched: u64, uuid: &str) -> Result<(), CatalogError> {
    if matched == 0 {
        Err(CatalogError::NotFound(format!("index with uuid {uuid}")))
    } else {
        Ok(())
    }
}

fn to_json(op: &'static str, value: &serde_json::Value) -> Result<String, CatalogError> {
    serde_json::to_string(value).map_err(|e| CatalogError::query(op, e))
}

fn version_to_db(op: &'static str, version: u64) -> Result<i64, CatalogError> {
    i64::try_from(version).map_err(|_| {
        CatalogError::query(
            op,
            format!("version {version} is larger than the catalog stores"),
        )
    })
}

/// Reads one `indices` row of any dialect.
fn index_from_row<'r, R>(row: &'r R) -> Result<IndexRecord, CatalogError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    const OP: &str = "reading an index";
    let text = |column: &'static str| -> Result<String, CatalogError> {
        row.try_get::<String, _>(column)
            .map_err(|e| CatalogError::query(OP, e))
    };
    let number = |column: &'static str| -> Result<i64, CatalogError> {
        row.try_get::<i64, _>(column)
            .map_err(|e| CatalogError::query(OP, e))
    };
    let name = text("name")?;
    let json = |column: &'static str| -> Result<serde_json::Value, CatalogError> {
        serde_json::from_str(&text(column)?).map_err(|e| {
            CatalogError::query(
                OP,
                format!("stored {column} of index [{name}] are not JSON: {e}"),
            )
        })
    };
    let version = |column: &'static str| -> Result<u64, CatalogError> {
        let value = number(column)?;
        u64::try_from(value).map_err(|_| {
            CatalogError::query(OP, format!("stored {column} of index [{name}] is {value}"))
        })
    };
    Ok(IndexRecord {
        uuid: text("uuid")?,
        settings: json("settings")?,
        mappings: json("mappings")?,
        state: text("state")?.parse()?,
        settings_version: version("settings_version")?,
        mapping_version: version("mapping_version")?,
        created_at_millis: number("created_at")?,
        name,
    })
}
