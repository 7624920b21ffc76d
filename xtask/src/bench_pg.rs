//! `cargo xtask bench` (PostgreSQL part): the same replication scenario on PostgreSQL's
//! logical replication, for the side-by-side figures.
//!
//! Two throwaway instances (`bench::pg_server`): `publisher` and `subscriber`. Both hold
//! `docs(id text primary key, doc jsonb)` with a GIN index on `doc`; the W1 documents go in
//! as JSONB, one autocommit `INSERT … SELECT FROM unnest(…)` per batch of 1,000 (one
//! transaction, acknowledged after its WAL is flushed) from the same number of clients.
//! Publication `bench_pub` on `docs`, subscription `bench_sub`; pause and resume are
//! `ALTER SUBSCRIPTION … DISABLE/ENABLE`; a document is visible when a primary-key lookup
//! on the subscriber finds it; the follower has everything when `count(*)` matches. The
//! bootstrap analogue is a second subscription (database `boot` on the subscriber) with
//! `copy_data = true`, its rate `pg_total_relation_size('docs')` of the publisher over the
//! time until the copied table is committed.
//!
//! Deliberately not here: the instances' life cycle (`pg_server`), the clocks (`scenario`).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::{AssertSqlSafe, Row};

use crate::bench::corpus::Doc;
use crate::bench::pg_server::{Servers, Tools};
use crate::bench::scenario::{self, Bootstrap, Dest, Figures, Plan, Replication};

/// How long the subscriber may take to have everything.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(600);
/// Between polls of the subscriber.
const POLL: Duration = Duration::from_millis(2);

const SCHEMA: &str = "CREATE TABLE docs (id text PRIMARY KEY, doc jsonb NOT NULL);
CREATE INDEX docs_doc_gin ON docs USING gin (doc);";
const BASELINE_SCHEMA: &str =
    "CREATE TABLE docs_baseline (id text PRIMARY KEY, doc jsonb NOT NULL);
CREATE INDEX docs_baseline_doc_gin ON docs_baseline USING gin (doc);";
const INSERT_DOCS: &str =
    "INSERT INTO docs (id, doc) SELECT i, d::jsonb FROM unnest($1::text[], $2::text[]) AS t(i, d)";
const INSERT_BASELINE: &str = "INSERT INTO docs_baseline (id, doc) SELECT i, d::jsonb FROM unnest($1::text[], $2::text[]) AS t(i, d)";

/// The last ids of the most recently acknowledged transactions on `docs`.
#[derive(Default)]
struct Recent(Mutex<VecDeque<String>>);

impl Recent {
    fn push(&self, id: String, keep: usize) {
        let mut q = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        q.push_back(id);
        while q.len() > keep {
            q.pop_front();
        }
    }

    fn snapshot(&self) -> Vec<String> {
        let q = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        q.iter().cloned().collect()
    }
}

/// One batch as two parallel arrays.
pub(crate) struct PgBatch {
    sql: &'static str,
    ids: Vec<String>,
    docs: Vec<String>,
    followed: bool,
}

struct PgPair {
    publisher: PgPool,
    subscriber: PgPool,
    /// Where the subscriber's `boot` database is reached.
    subscriber_opts: PgConnectOptions,
    /// `host=… port=…` of the publisher, for `CREATE SUBSCRIPTION`.
    conninfo: String,
    /// The last id of each of the last [`RECENT`] acknowledged transactions.
    recent: Recent,
}

/// More than the concurrent writers: the last transaction to commit is among the last
/// `clients` acknowledged, since any acknowledged after it was in flight when it committed.
const RECENT: usize = 16;

fn options(port: u16, database: &str) -> PgConnectOptions {
    PgConnectOptions::new_without_pgpass()
        .host("127.0.0.1")
        .port(port)
        .username("postgres")
        .database(database)
        .ssl_mode(PgSslMode::Disable)
        .application_name("xtask-bench")
}

/// The `CREATE SUBSCRIPTION` statement.
fn create_subscription(name: &str, conninfo: &str, copy_data: bool) -> String {
    format!(
        "CREATE SUBSCRIPTION {name} CONNECTION '{}' PUBLICATION bench_pub WITH (copy_data = {copy_data})",
        conninfo.replace('\'', "''")
    )
}

/// Starts both instances under `bench_dir`, runs the scenario, stops and deletes them.
pub(crate) async fn run(
    bench_dir: &Path,
    plan: &Plan,
    pg_bin: Option<&Path>,
) -> anyhow::Result<(Figures, String)> {
    let tools = Tools::find(pg_bin)?;
    let version = tools.version();
    let mut servers = Servers::new(tools, bench_dir)?;
    // Both ports at once: a port released after the first pick can be handed out again.
    let [pub_port, sub_port] = crate::ferryd::free_ports::<2>()?;
    let publisher = servers.create("publisher", pub_port)?;
    let subscriber = servers.create("subscriber", sub_port)?;
    for i in [publisher, subscriber] {
        servers.start(i)?;
    }
    eprintln!(
        "xtask bench: PostgreSQL {version}: publisher on 127.0.0.1:{pub_port}, subscriber on 127.0.0.1:{sub_port}"
    );
    let result = async {
        let pool = |port: u16| {
            PgPoolOptions::new()
                .max_connections(u32::try_from(plan.clients + 2).unwrap_or(u32::MAX))
                .connect_with(options(port, "postgres"))
        };
        let pair = Arc::new(PgPair {
            publisher: pool(pub_port)
                .await
                .context("cannot connect to the publisher")?,
            subscriber: pool(sub_port)
                .await
                .context("cannot connect to the subscriber")?,
            subscriber_opts: options(sub_port, "boot"),
            conninfo: format!("host=127.0.0.1 port={pub_port} user=postgres dbname=postgres"),
            recent: Recent::default(),
        });
        for (pool, schema) in [
            (&pair.publisher, SCHEMA),
            (&pair.publisher, BASELINE_SCHEMA),
            (&pair.subscriber, SCHEMA),
        ] {
            sqlx::raw_sql(schema).execute(pool).await?;
        }
        let figures = scenario::run(pair.clone(), plan, "PostgreSQL").await?;
        pair.publisher.close().await;
        pair.subscriber.close().await;
        anyhow::Ok(figures)
    }
    .await;
    let figures = match result {
        Ok(f) => f,
        Err(e) => bail!(
            "{e:#}\n(publisher){}\n(subscriber){}",
            servers.log_tail(publisher),
            servers.log_tail(subscriber)
        ),
    };
    servers.stop_all()?;
    Ok((figures, version))
}

impl PgPair {
    async fn count(pool: &PgPool) -> anyhow::Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM docs")
            .fetch_one(pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether every id of `ids` is on `pool`.
    async fn all_there(pool: &PgPool, ids: &[String]) -> anyhow::Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM docs WHERE id = ANY($1)")
            .bind(ids)
            .fetch_one(pool)
            .await?;
        Ok(usize::try_from(n).is_ok_and(|n| n == ids.len()))
    }

    /// What the subscription's workers report, for a timeout message.
    async fn subscription_errors(&self) -> String {
        let q =
            "SELECT subname, apply_error_count, sync_error_count FROM pg_stat_subscription_stats";
        match sqlx::query(q).fetch_all(&self.subscriber).await {
            Ok(rows) => rows
                .iter()
                .map(|r| {
                    format!(
                        "{}: apply errors {}, sync errors {}",
                        r.get::<String, _>(0),
                        r.get::<i64, _>(1),
                        r.get::<i64, _>(2)
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            Err(e) => format!("(cannot read pg_stat_subscription_stats: {e})"),
        }
    }

    fn ack(&self, id: Option<&String>) {
        if let Some(id) = id {
            self.recent.push(id.clone(), RECENT);
        }
    }
}

impl Replication for PgPair {
    type Batch = PgBatch;

    fn batch(&self, dest: Dest, docs: &[Doc]) -> anyhow::Result<PgBatch> {
        Ok(PgBatch {
            sql: match dest {
                Dest::Baseline => INSERT_BASELINE,
                Dest::Leader => INSERT_DOCS,
            },
            ids: docs.iter().map(|d| d.id.clone()).collect(),
            docs: docs.iter().map(|d| d.source.clone()).collect(),
            followed: dest == Dest::Leader,
        })
    }

    async fn write_batch(&self, batch: &PgBatch) -> anyhow::Result<()> {
        let done = sqlx::query(batch.sql)
            .bind(&batch.ids[..])
            .bind(&batch.docs[..])
            .execute(&self.publisher)
            .await?;
        ensure!(
            done.rows_affected() == batch.ids.len() as u64,
            "a batch of {} inserted {} rows",
            batch.ids.len(),
            done.rows_affected()
        );
        if batch.followed {
            self.ack(batch.ids.last());
        }
        Ok(())
    }

    async fn drop_baseline(&self) -> anyhow::Result<()> {
        sqlx::raw_sql("DROP TABLE docs_baseline")
            .execute(&self.publisher)
            .await?;
        Ok(())
    }

    async fn start_following(&self) -> anyhow::Result<()> {
        sqlx::raw_sql("CREATE PUBLICATION bench_pub FOR TABLE docs")
            .execute(&self.publisher)
            .await?;
        let sql = create_subscription("bench_sub", &self.conninfo, true);
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&self.subscriber)
            .await?;
        // The (empty) initial sync must be over before the clock starts.
        let started = Instant::now();
        loop {
            let ready: Option<bool> =
                sqlx::query_scalar("SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel")
                    .fetch_one(&self.subscriber)
                    .await?;
            if ready == Some(true) {
                return Ok(());
            }
            if started.elapsed() > FOLLOW_TIMEOUT {
                bail!("bench_sub not ready: {}", self.subscription_errors().await);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn wait_follower(&self, docs: u64) -> anyhow::Result<()> {
        let started = Instant::now();
        let last = self.recent.snapshot();
        loop {
            // Cheap first: the last transactions are there (applied in commit order).
            if Self::all_there(&self.subscriber, &last).await? {
                let count = Self::count(&self.subscriber).await?;
                ensure!(
                    count <= docs,
                    "the subscriber counts {count} rows, more than the {docs} written"
                );
                if count == docs {
                    return Ok(());
                }
            }
            if started.elapsed() > FOLLOW_TIMEOUT {
                let count = Self::count(&self.subscriber).await?;
                bail!(
                    "the subscriber has {count} of {docs} rows after {FOLLOW_TIMEOUT:?}; {}",
                    self.subscription_errors().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn pause(&self) -> anyhow::Result<()> {
        sqlx::raw_sql("ALTER SUBSCRIPTION bench_sub DISABLE")
            .execute(&self.subscriber)
            .await?;
        let started = Instant::now();
        loop {
            let workers: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_subscription WHERE subname = 'bench_sub' AND pid IS NOT NULL",
            )
            .fetch_one(&self.subscriber)
            .await?;
            if workers == 0 {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("bench_sub still has {workers} workers 60 s after DISABLE");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn resume(&self) -> anyhow::Result<()> {
        sqlx::raw_sql("ALTER SUBSCRIPTION bench_sub ENABLE")
            .execute(&self.subscriber)
            .await?;
        Ok(())
    }

    async fn write_probe(&self, id: &str, source: &str) -> anyhow::Result<()> {
        let done = sqlx::query("INSERT INTO docs (id, doc) VALUES ($1, $2::jsonb)")
            .bind(id)
            .bind(source)
            .execute(&self.publisher)
            .await?;
        ensure!(done.rows_affected() == 1, "probe {id} inserted nothing");
        self.ack(Some(&id.to_owned()));
        Ok(())
    }

    async fn probe_visible(&self, id: &str) -> anyhow::Result<bool> {
        let found: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM docs WHERE id = $1)")
            .bind(id)
            .fetch_one(&self.subscriber)
            .await?;
        Ok(found)
    }

    async fn bootstrap(&self, leader_docs: u64) -> anyhow::Result<Bootstrap> {
        let bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('docs')")
            .fetch_one(&self.publisher)
            .await?;
        sqlx::raw_sql("CREATE DATABASE boot")
            .execute(&self.subscriber)
            .await?;
        let boot = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(self.subscriber_opts.clone())
            .await
            .context("cannot connect to the subscriber's boot database")?;
        sqlx::raw_sql(SCHEMA).execute(&boot).await?;
        let mut b = Bootstrap {
            docs: leader_docs,
            bytes: u64::try_from(bytes).ok(),
            notes: vec![
                "bytes = pg_total_relation_size('docs') on the publisher (heap, TOAST, primary key and GIN index)".into(),
            ],
            ..Bootstrap::default()
        };
        let started = Instant::now();
        let sql = create_subscription("bench_boot", &self.conninfo, true);
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&boot).await?;
        loop {
            // f: copy committed; s, r: synchronized with the apply stream.
            let state: Option<String> =
                sqlx::query_scalar("SELECT srsubstate::text FROM pg_subscription_rel LIMIT 1")
                    .fetch_optional(&boot)
                    .await?;
            if b.copy.is_none() && matches!(state.as_deref(), Some("f" | "s" | "r")) {
                b.copy = Some(started.elapsed());
            }
            if b.copy.is_some() && Self::count(&boot).await? == leader_docs {
                b.full = Some(started.elapsed());
                break;
            }
            if started.elapsed() > FOLLOW_TIMEOUT {
                bail!("the boot subscription did not finish its copy: state {state:?}");
            }
            tokio::time::sleep(POLL).await;
        }
        boot.close().await;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_statement_quotes_its_connection_string() {
        assert_eq!(
            create_subscription("s", "host=h password='x'", true),
            "CREATE SUBSCRIPTION s CONNECTION 'host=h password=''x''' PUBLICATION bench_pub WITH (copy_data = true)"
        );
    }

    #[test]
    fn recent_keeps_the_last_ids() {
        let r = Recent::default();
        for i in 0..5 {
            r.push(format!("id-{i}"), 3);
        }
        assert_eq!(r.snapshot(), ["id-2", "id-3", "id-4"]);
    }
}
