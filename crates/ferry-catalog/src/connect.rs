//! Opening the catalog: connect options built field by field from [`DbConfig`] (never a
//! URL holding the password), the schema migrations run under the migration lock, the
//! schema version and release recorded, then the connection pool.
//!
//! Locks, each held on the connection that migrates while the version is recorded too:
//! PostgreSQL uses sqlx's advisory lock; MySQL/MariaDB a `GET_LOCK` taken here (sqlx's
//! does not work on MariaDB); SQLite, which has no session lock, an exclusive file lock on
//! `<file>.migrate-lock` beside the database.
//! Deliberately not here: the queries of the repository (see `cluster` and `indices`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::migrate::{Migrate, MigrateError};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};
use tracing::info;

use crate::config::{DbConfig, Dialect};
use crate::error::{CatalogError, redact};
use crate::migrations;
use crate::sql::sql;

/// The Ferry release recorded in `catalog_meta` when this binary migrates the schema.
pub(crate) const RELEASE: &str = env!("CARGO_PKG_VERSION");

/// How long a pool waits for a free or new connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a node waits for another one's MySQL migration lock.
const MYSQL_LOCK_TIMEOUT_SECS: i64 = 300;
/// How long SQLite waits on another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of the configured dialect.
#[derive(Clone)]
pub(crate) enum DbPool {
    Sqlite(SqlitePool),
    Mysql(MySqlPool),
    Postgres(PgPool),
}

/// Connects, migrates and returns the pool.
pub(crate) async fn open(config: &DbConfig) -> Result<DbPool, CatalogError> {
    let pool = match config.dialect() {
        Dialect::Sqlite => DbPool::Sqlite(open_sqlite(config).await?),
        Dialect::Mysql => DbPool::Mysql(open_mysql(config).await?),
        Dialect::Postgres => DbPool::Postgres(open_postgres(config).await?),
    };
    info!(target_db = %config, dialect = %config.dialect(), "catalog connected");
    Ok(pool)
}

/// Runs the migrations on `$conn` (whose migration lock the caller holds) and records the
/// schema version and release in `catalog_meta` when they changed. A macro, not a generic
/// function, because each expansion works on one concrete connection type.
macro_rules! migrate_and_record {
    ($conn:expr, $config:expr) => {{
        let conn = $conn;
        let config: &DbConfig = $config;
        let dialect = config.dialect();
        migrations::migrator(dialect)
            .run(&mut *conn)
            .await
            .map_err(|e| migrate_error(config, e))?;
        let latest = migrations::latest_version(dialect).to_string();
        let recorded: Option<String> = sqlx::query_scalar(
            "SELECT meta_value FROM catalog_meta WHERE meta_key = 'schema_version'",
        )
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| meta_error(config, e))?;
        if recorded.as_deref() != Some(latest.as_str()) {
            let mut tx = conn.begin().await.map_err(|e| meta_error(config, e))?;
            sqlx::query("DELETE FROM catalog_meta WHERE meta_key IN ('schema_version', 'release')")
                .execute(&mut *tx)
                .await
                .map_err(|e| meta_error(config, e))?;
            sqlx::query(sql(
                dialect,
                "INSERT INTO catalog_meta (meta_key, meta_value) \
                 VALUES ('schema_version', ?), ('release', ?)",
            ))
            .bind(&latest)
            .bind(RELEASE)
            .execute(&mut *tx)
            .await
            .map_err(|e| meta_error(config, e))?;
            tx.commit().await.map_err(|e| meta_error(config, e))?;
            info!(
                target_db = %config,
                from = recorded.as_deref().unwrap_or("none"),
                to = %latest,
                release = RELEASE,
                "catalog schema migrated"
            );
        }
    }};
}

async fn open_sqlite(config: &DbConfig) -> Result<SqlitePool, CatalogError> {
    let path = config
        .path()
        .ok_or_else(|| CatalogError::Config("missing key `path` for dialect sqlite".to_owned()))?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(CatalogError::Connect {
            target: config.to_string(),
            reason: format!("directory {} does not exist", dir.display()),
        });
    }
    {
        let _lock = sqlite_migration_lock(config, path).await?;
        let mut conn = options
            .connect()
            .await
            .map_err(|e| connect_error(config, e))?;
        migrate_and_record!(&mut conn, config);
        conn.close().await.map_err(|e| connect_error(config, e))?;
    }
    SqlitePoolOptions::new()
        .max_connections(config.max_connections())
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| connect_error(config, e))
}

async fn open_mysql(config: &DbConfig) -> Result<MySqlPool, CatalogError> {
    let mut options = MySqlConnectOptions::new()
        .host(config.host().unwrap_or_default())
        .port(config.port().unwrap_or(3306))
        .username(config.username().unwrap_or_default())
        .database(config.database().unwrap_or_default())
        .charset("utf8mb4")
        .ssl_mode(if config.ssl() {
            MySqlSslMode::VerifyIdentity
        } else {
            MySqlSslMode::Disabled
        });
    if let Some(password) = config.password() {
        options = options.password(password);
    }
    {
        let mut conn = options
            .connect()
            .await
            .map_err(|e| connect_error(config, e))?;
        let lock = mysql_lock_name(config.database().unwrap_or_default());
        mysql_lock(&mut conn, config, &lock).await?;
        migrate_and_record!(&mut conn, config);
        sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&lock)
            .execute(&mut conn)
            .await
            .map_err(|e| meta_error(config, e))?;
        conn.close().await.map_err(|e| connect_error(config, e))?;
    }
    MySqlPoolOptions::new()
        .max_connections(config.max_connections())
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| connect_error(config, e))
}

async fn open_postgres(config: &DbConfig) -> Result<PgPool, CatalogError> {
    // `new_without_pgpass` still reads PG* environment variables; every field db.yml can
    // say is set explicitly below, so they only fill the rest (PGSSLROOTCERT, and
    // PGPASSWORD when db.yml gives no password).
    let mut options = PgConnectOptions::new_without_pgpass()
        .host(config.host().unwrap_or_default())
        .port(config.port().unwrap_or(5432))
        .username(config.username().unwrap_or_default())
        .database(config.database().unwrap_or_default())
        .application_name("ferry")
        .ssl_mode(if config.ssl() {
            PgSslMode::VerifyFull
        } else {
            PgSslMode::Disable
        });
    if let Some(password) = config.password() {
        options = options.password(password);
    }
    {
        let mut conn = options
            .connect()
            .await
            .map_err(|e| connect_error(config, e))?;
        conn.lock().await.map_err(|e| migrate_error(config, e))?;
        migrate_and_record!(&mut conn, config);
        conn.unlock().await.map_err(|e| migrate_error(config, e))?;
        conn.close().await.map_err(|e| connect_error(config, e))?;
    }
    PgPoolOptions::new()
        .max_connections(config.max_connections())
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| connect_error(config, e))
}

/// The `GET_LOCK` name of one database's migrations: server-wide, at most 64 characters,
/// and the same in every Ferry build (FNV-1a of the database name).
fn mysql_lock_name(database: &str) -> String {
    let hash = database.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("ferry-catalog-migrate-{hash:016x}")
}

/// Takes the server-wide migration lock on `conn`'s session. sqlx's own MySQL lock calls
/// `GET_LOCK(name, -1)` and ignores the answer, which on MariaDB is NULL (not taken), so
/// Ferry takes it itself with a finite timeout and checks the result.
async fn mysql_lock(
    conn: &mut sqlx::MySqlConnection,
    config: &DbConfig,
    name: &str,
) -> Result<(), CatalogError> {
    let taken: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
        .bind(name)
        .bind(MYSQL_LOCK_TIMEOUT_SECS)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| meta_error(config, e))?;
    match taken {
        Some(1) => Ok(()),
        Some(_) => Err(CatalogError::Migrate {
            target: config.to_string(),
            reason: format!(
                "another node held the migration lock `{name}` for {MYSQL_LOCK_TIMEOUT_SECS}s; \
                 check for a stuck ferry process"
            ),
        }),
        None => Err(CatalogError::Migrate {
            target: config.to_string(),
            reason: format!("the server refused the migration lock `{name}` (GET_LOCK gave NULL)"),
        }),
    }
}

/// Takes an exclusive advisory lock on `<file>.migrate-lock`, waiting for another process
/// that migrates the same file. Released when the returned file is dropped.
async fn sqlite_migration_lock(
    config: &DbConfig,
    db_path: &Path,
) -> Result<std::fs::File, CatalogError> {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".migrate-lock");
    let lock_path = PathBuf::from(name);
    let shown = lock_path.display().to_string();
    let locked = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await;
    match locked {
        Ok(Ok(file)) => Ok(file),
        Ok(Err(e)) => Err(CatalogError::Connect {
            target: config.to_string(),
            reason: format!("cannot lock {shown}: {e}"),
        }),
        Err(e) => Err(CatalogError::Connect {
            target: config.to_string(),
            reason: format!("the task locking {shown} failed: {e}"),
        }),
    }
}

/// A connection failure, with a hint when the server seems to want TLS we did not offer.
pub(crate) fn connect_error(config: &DbConfig, error: sqlx::Error) -> CatalogError {
    let mut reason = error.to_string();
    if !config.ssl() && mentions_tls(&reason) {
        reason.push_str("; if the server requires TLS, set `ssl: true` (ssl=true in FERRY_DB)");
    }
    CatalogError::Connect {
        target: config.to_string(),
        reason: redact(reason, config.password()),
    }
}

fn mentions_tls(reason: &str) -> bool {
    let lower = reason.to_ascii_lowercase();
    ["ssl", "tls", "secure transport", "encryption"]
        .iter()
        .any(|needle| lower.contains(needle))
}

fn migrate_error(config: &DbConfig, error: MigrateError) -> CatalogError {
    let reason = match error {
        MigrateError::VersionMissing(version) => format!(
            "the catalog schema has migration {version}, which ferry {RELEASE} does not know: \
             the catalog was upgraded by a newer release; run the same release on every node"
        ),
        MigrateError::VersionMismatch(version) => format!(
            "migration {version} applied to the catalog differs from the one in ferry {RELEASE}"
        ),
        other => other.to_string(),
    };
    CatalogError::Migrate {
        target: config.to_string(),
        reason: redact(reason, config.password()),
    }
}

fn meta_error(config: &DbConfig, error: sqlx::Error) -> CatalogError {
    CatalogError::Migrate {
        target: config.to_string(),
        reason: redact(
            format!("recording the schema version: {error}"),
            config.password(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_lock_names_are_short_stable_and_per_database() {
        let a = mysql_lock_name("ferry");
        assert_eq!(a, mysql_lock_name("ferry"));
        assert_ne!(a, mysql_lock_name("ferry2"));
        assert!(mysql_lock_name(&"x".repeat(64)).len() <= 64);
        // FNV-1a 64 of "ferry": fixed forever, so every build takes the same lock.
        assert_eq!(a, "ferry-catalog-migrate-893224dff4dcf75b");
    }

    #[test]
    fn tls_hint_only_when_ssl_is_off() {
        let plain =
            DbConfig::from_ferry_db("dialect=mysql&host=h&username=u&password=pw12&database=d")
                .expect("valid");
        let io = || {
            sqlx::Error::Protocol(
                "Connections using insecure transport are prohibited (pw12)".to_owned(),
            )
        };
        let msg = connect_error(&plain, io()).to_string();
        assert!(msg.contains("`ssl: true`"), "{msg}");
        assert!(!msg.contains("pw12"), "{msg}");
        let tls = DbConfig::from_ferry_db(
            "dialect=mysql&host=h&username=u&password=pw12&database=d&ssl=true",
        )
        .expect("valid");
        let msg = connect_error(&tls, io()).to_string();
        assert!(!msg.contains("`ssl: true`"), "{msg}");
    }
}
