//! Test harness: a fresh, randomly named database per test on each backend, dropped
//! afterwards, so tests run in parallel and repeatedly.
//!
//! SQLite always runs (a temp dir). MariaDB (127.0.0.1:3306, root, no password) and
//! PostgreSQL (127.0.0.1:5432, postgres, trust) run when reachable; when not, the test
//! fails under `CI=true` and otherwise prints a loud `skipping:` line and passes.
//! `FERRY_TEST_MYSQL_PORT` / `FERRY_TEST_POSTGRES_PORT` move the servers.

#![allow(dead_code, unused_macros)] // each test binary uses part of the harness

/// Expands to one `#[tokio::test]` per case and backend, in a module per backend.
macro_rules! suite {
    ($($backend:ident => $variant:ident),+ ; $cases:tt) => {
        $( suite!(@backend $backend, $variant, $cases); )+
    };
    (@backend $backend:ident, $variant:ident, [$($case:ident),+ $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() -> anyhow::Result<()> {
                    crate::common::run(crate::common::Backend::$variant, super::$case).await
                }
            )+
        }
    };
}

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ferry_catalog::DbConfig;
use sqlx::{ConnectOptions, Connection, Executor};

/// The database servers the suites run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mysql,
    Postgres,
}

/// The MariaDB port: 3306 unless `FERRY_TEST_MYSQL_PORT` says otherwise.
pub fn mysql_port() -> u16 {
    port_from_env("FERRY_TEST_MYSQL_PORT", 3306)
}

/// The PostgreSQL port: 5432 unless `FERRY_TEST_POSTGRES_PORT` says otherwise.
pub fn postgres_port() -> u16 {
    port_from_env("FERRY_TEST_POSTGRES_PORT", 5432)
}

fn port_from_env(var: &str, default: u16) -> u16 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether `CI=true`: unreachable servers fail the test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Installs the ring TLS provider once per process (sqlx uses rustls when `ssl` is on).
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A fresh database that lives for one test.
pub struct TestDb {
    pub backend: Backend,
    pub config: DbConfig,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

/// Runs `body` against a fresh database of `backend` and drops the database afterwards,
/// whether the body failed or not.
pub async fn run<F, Fut>(backend: Backend, body: F) -> Result<()>
where
    F: FnOnce(DbConfig) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    install_tls_provider();
    let Some(db) = TestDb::create(backend).await? else {
        return Ok(());
    };
    let outcome = body(db.config.clone()).await;
    let dropped = db.drop_database().await;
    outcome?;
    dropped
}

impl TestDb {
    /// `Ok(None)` when the server is unreachable outside CI (the skip is printed).
    pub async fn create(backend: Backend) -> Result<Option<TestDb>> {
        let name = format!("ferry_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let config = DbConfig::sqlite(dir.path().join("catalog.db"));
                Ok(Some(TestDb {
                    backend,
                    config,
                    name,
                    _dir: Some(dir),
                }))
            }
            Backend::Mysql | Backend::Postgres => {
                if let Err(reason) = probe(backend).await {
                    return unreachable_server(backend, &reason).map(|()| None);
                }
                admin_execute(backend, &format!("CREATE DATABASE {name}"))
                    .await
                    .with_context(|| format!("creating test database {name} on {backend:?}"))?;
                let config = match backend {
                    Backend::Mysql => DbConfig::from_ferry_db(&format!(
                        "dialect=mysql&host=127.0.0.1&port={}&username=root&database={name}",
                        mysql_port()
                    ))?,
                    _ => DbConfig::from_ferry_db(&format!(
                        "dialect=postgres&host=127.0.0.1&port={}&username=postgres&database={name}",
                        postgres_port()
                    ))?,
                };
                Ok(Some(TestDb {
                    backend,
                    config,
                    name,
                    _dir: None,
                }))
            }
        }
    }

    /// Drops the server database (the SQLite temp dir goes with `self`).
    pub async fn drop_database(self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => Ok(()),
            Backend::Mysql => {
                admin_execute(self.backend, &format!("DROP DATABASE {}", self.name)).await
            }
            Backend::Postgres => {
                admin_execute(
                    self.backend,
                    &format!("DROP DATABASE {} WITH (FORCE)", self.name),
                )
                .await
            }
        }
        .with_context(|| format!("dropping test database {}", self.name))
    }
}

/// A skip outside CI, a failure under `CI=true`.
fn unreachable_server(backend: Backend, reason: &anyhow::Error) -> Result<()> {
    let what = match backend {
        Backend::Mysql => format!("MariaDB/MySQL at 127.0.0.1:{} (user root)", mysql_port()),
        Backend::Postgres => format!(
            "PostgreSQL at 127.0.0.1:{} (user postgres)",
            postgres_port()
        ),
        Backend::Sqlite => "SQLite".to_owned(),
    };
    if in_ci() {
        bail!("CI=true and {what} is unreachable: {reason:#}");
    }
    skip(&format!(
        "{what} is unreachable ({reason:#}); set CI=true to fail instead"
    ));
    Ok(())
}

/// Prints a loud `skipping:` line straight to the process's stderr, which the test
/// harness does not capture, so it shows even for a passing test.
pub fn skip(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n!!!!!!!! skipping: {why}\n");
}

/// Whether the server accepts TCP connections at all.
async fn probe(backend: Backend) -> Result<()> {
    let port = match backend {
        Backend::Mysql => mysql_port(),
        Backend::Postgres => postgres_port(),
        Backend::Sqlite => return Ok(()),
    };
    tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .context("connect timed out")?
    .context("connect failed")?;
    Ok(())
}

/// Runs one statement as the server's admin user, on the server's default database.
async fn admin_execute(backend: Backend, statement: &str) -> Result<()> {
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    let timeout = Duration::from_secs(10);
    match backend {
        Backend::Mysql => {
            let options = sqlx::mysql::MySqlConnectOptions::new()
                .host("127.0.0.1")
                .port(mysql_port())
                .username("root")
                .ssl_mode(sqlx::mysql::MySqlSslMode::Disabled);
            let mut conn = tokio::time::timeout(timeout, options.connect())
                .await
                .context("connect timed out")??;
            conn.execute(statement).await?;
            conn.close().await?;
        }
        Backend::Postgres => {
            let options = sqlx::postgres::PgConnectOptions::new_without_pgpass()
                .host("127.0.0.1")
                .port(postgres_port())
                .username("postgres")
                .database("postgres")
                .ssl_mode(sqlx::postgres::PgSslMode::Disable);
            let mut conn = tokio::time::timeout(timeout, options.connect())
                .await
                .context("connect timed out")??;
            conn.execute(statement).await?;
            conn.close().await?;
        }
        Backend::Sqlite => bail!("sqlite has no admin connection"),
    }
    Ok(())
}
