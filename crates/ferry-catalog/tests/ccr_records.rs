//! The CCR-records repository, run unchanged against SQLite, MariaDB and PostgreSQL:
//! put/get/replace/delete, byte-wise names, kinds kept apart, refused kinds and names,
//! a corrupt stored value, values of a few hundred KB, concurrent upserts of one record,
//! and records surviving reconnecting.

#[macro_use]
mod common;

use anyhow::{Context, Result, bail, ensure};
use ferry_catalog::{CCR_AUTO_FOLLOW, CCR_FOLLOW, Catalog, DbConfig, Dialect};
use serde_json::{Value, json};
use sqlx::{ConnectOptions, Connection, Executor};

/// Runs `statement` on the test database over a connection of its own, bypassing the
/// catalog API (to plant rows the API would never write).
async fn raw_execute(config: &DbConfig, statement: &'static str) -> Result<()> {
    match config.dialect() {
        Dialect::Sqlite => {
            let path = config.path().context("sqlite path")?;
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .connect()
                .await?;
            conn.execute(statement).await?;
            conn.close().await?;
        }
        Dialect::Mysql => {
            let mut conn = sqlx::mysql::MySqlConnectOptions::new()
                .host(config.host().context("host")?)
                .port(config.port().context("port")?)
                .username(config.username().context("username")?)
                .database(config.database().context("database")?)
                .ssl_mode(sqlx::mysql::MySqlSslMode::Disabled)
                .connect()
                .await?;
            conn.execute(statement).await?;
            conn.close().await?;
        }
        Dialect::Postgres => {
            let mut conn = sqlx::postgres::PgConnectOptions::new_without_pgpass()
                .host(config.host().context("host")?)
                .port(config.port().context("port")?)
                .username(config.username().context("username")?)
                .database(config.database().context("database")?)
                .ssl_mode(sqlx::postgres::PgSslMode::Disable)
                .connect()
                .await?;
            conn.execute(statement).await?;
            conn.close().await?;
        }
    }
    Ok(())
}

fn follow_record(leader: &str) -> Value {
    json!({
        "remote_cluster": "leader",
        "leader_index": leader,
        "parameters": {"max_read_request_operation_count": 5120, "read_poll_timeout": "1m"},
        "paused": false
    })
}

/// Records come back as stored; putting again replaces; delete says whether it removed
/// something; the records survive reconnecting.
async fn records_round_trip(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    ensure!(catalog.get_ccr_records(CCR_FOLLOW).await?.is_empty());
    catalog
        .put_ccr_record(CCR_FOLLOW, "logs-follower", &follow_record("logs"))
        .await?;
    catalog
        .put_ccr_record(CCR_FOLLOW, "metrics-follower", &follow_record("metrics"))
        .await?;
    let got = catalog.get_ccr_records(CCR_FOLLOW).await?;
    ensure!(got.len() == 2, "{got:?}");
    ensure!(got["logs-follower"] == follow_record("logs"));
    ensure!(got["metrics-follower"] == follow_record("metrics"));

    let mut paused = follow_record("logs");
    paused["paused"] = json!(true);
    catalog
        .put_ccr_record(CCR_FOLLOW, "logs-follower", &paused)
        .await?;
    let got = catalog.get_ccr_records(CCR_FOLLOW).await?;
    ensure!(got.len() == 2, "{got:?}");
    ensure!(got["logs-follower"] == paused, "{got:?}");

    ensure!(
        catalog
            .delete_ccr_record(CCR_FOLLOW, "metrics-follower")
            .await?
    );
    ensure!(
        !catalog
            .delete_ccr_record(CCR_FOLLOW, "metrics-follower")
            .await?
    );
    ensure!(!catalog.delete_ccr_record(CCR_FOLLOW, "never-put").await?);
    let got = catalog.get_ccr_records(CCR_FOLLOW).await?;
    ensure!(got.keys().eq(["logs-follower"]), "{got:?}");
    catalog.close().await;

    let again = Catalog::connect(&config).await?;
    ensure!(again.get_ccr_records(CCR_FOLLOW).await? == got);
    again.close().await;
    Ok(())
}

/// Names differing only in case, accents or folding are distinct records, and come back
/// in byte-wise order.
async fn names_are_byte_wise(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    let names = [
        "b", "a", "A", "B", "é", "e", "ß", "ss", "a-1", "a_1", " a", "a.b",
    ];
    for (i, name) in names.iter().enumerate() {
        catalog
            .put_ccr_record(CCR_AUTO_FOLLOW, name, &json!({ "n": i }))
            .await?;
    }
    let got = catalog.get_ccr_records(CCR_AUTO_FOLLOW).await?;
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort_unstable();
    let keys: Vec<&str> = got.keys().map(String::as_str).collect();
    ensure!(keys == expected, "{keys:?}");
    for (i, name) in names.iter().enumerate() {
        ensure!(got[*name] == json!({ "n": i }), "{name}: {:?}", got[*name]);
    }
    ensure!(catalog.delete_ccr_record(CCR_AUTO_FOLLOW, "A").await?);
    let got = catalog.get_ccr_records(CCR_AUTO_FOLLOW).await?;
    ensure!(
        got.len() == names.len() - 1 && got.contains_key("a"),
        "{got:?}"
    );
    catalog.close().await;
    Ok(())
}

/// The same name under both kinds is two records; writing or deleting one leaves the
/// other. Unknown kinds are refused on every call and store nothing.
async fn kinds_are_kept_apart(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    catalog
        .put_ccr_record(CCR_FOLLOW, "shared", &json!({"kind": "follow"}))
        .await?;
    catalog
        .put_ccr_record(CCR_AUTO_FOLLOW, "shared", &json!({"kind": "auto"}))
        .await?;
    catalog
        .put_ccr_record(CCR_AUTO_FOLLOW, "shared", &json!({"kind": "auto2"}))
        .await?;
    ensure!(catalog.get_ccr_records(CCR_FOLLOW).await?["shared"] == json!({"kind": "follow"}));
    ensure!(catalog.get_ccr_records(CCR_AUTO_FOLLOW).await?["shared"] == json!({"kind": "auto2"}));
    ensure!(catalog.delete_ccr_record(CCR_FOLLOW, "shared").await?);
    ensure!(catalog.get_ccr_records(CCR_FOLLOW).await?.is_empty());
    ensure!(catalog.get_ccr_records(CCR_AUTO_FOLLOW).await?.len() == 1);

    for bad in ["", "Follow", "auto-follow", "settings"] {
        let put = catalog.put_ccr_record(bad, "shared", &json!(1)).await;
        ensure!(put.is_err(), "put of kind {bad:?} was accepted");
        ensure!(catalog.get_ccr_records(bad).await.is_err(), "get {bad:?}");
        ensure!(
            catalog.delete_ccr_record(bad, "shared").await.is_err(),
            "delete {bad:?}"
        );
    }
    ensure!(catalog.get_ccr_records(CCR_FOLLOW).await?.is_empty());
    ensure!(catalog.get_ccr_records(CCR_AUTO_FOLLOW).await?.len() == 1);
    catalog.close().await;
    Ok(())
}

/// Names every dialect could not store the same way are refused by put, and are "not
/// there" for delete, with nothing written; 255-byte names fit everywhere.
async fn awkward_names(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    catalog.put_ccr_record(CCR_FOLLOW, "a", &json!("a")).await?;
    let long_ascii = "n".repeat(255);
    let long_utf8 = format!("{}x", "é".repeat(127));
    catalog
        .put_ccr_record(CCR_FOLLOW, &long_ascii, &json!("ascii"))
        .await?;
    catalog
        .put_ccr_record(CCR_FOLLOW, &long_utf8, &json!("utf8"))
        .await?;
    for bad in [
        String::new(),
        "a ".to_owned(),
        "a\0".to_owned(),
        "n".repeat(256),
        "é".repeat(128),
    ] {
        let put = catalog
            .put_ccr_record(CCR_FOLLOW, &bad, &json!("bad"))
            .await;
        ensure!(put.is_err(), "name {bad:?} was accepted");
        ensure!(
            !catalog.delete_ccr_record(CCR_FOLLOW, &bad).await?,
            "{bad:?}"
        );
    }
    let got = catalog.get_ccr_records(CCR_FOLLOW).await?;
    ensure!(got.len() == 3, "{:?}", got.keys());
    ensure!(got["a"] == json!("a"));
    ensure!(got[&long_ascii] == json!("ascii"));
    ensure!(got[&long_utf8] == json!("utf8"));
    catalog.close().await;
    Ok(())
}

/// A stored value that is not JSON makes reading its kind an error naming the record,
/// never a panic; the other kind still reads, and deleting the record heals it.
async fn corrupt_value_is_an_error(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    catalog
        .put_ccr_record(CCR_FOLLOW, "good", &json!({"ok": true}))
        .await?;
    catalog
        .put_ccr_record(CCR_AUTO_FOLLOW, "pattern", &json!({"ok": true}))
        .await?;
    raw_execute(
        &config,
        "INSERT INTO ccr_records (kind, name, record_value, updated_at) \
         VALUES ('follow', 'broken', '{\"unterminated', 0)",
    )
    .await?;
    match catalog.get_ccr_records(CCR_FOLLOW).await {
        Ok(got) => bail!("a corrupt value was read as {got:?}"),
        Err(e) => ensure!(e.to_string().contains("[broken]"), "{e}"),
    }
    ensure!(catalog.get_ccr_records(CCR_AUTO_FOLLOW).await?.len() == 1);
    ensure!(catalog.delete_ccr_record(CCR_FOLLOW, "broken").await?);
    ensure!(
        catalog
            .get_ccr_records(CCR_FOLLOW)
            .await?
            .keys()
            .eq(["good"])
    );
    catalog.close().await;
    Ok(())
}

/// A record listing thousands of followed index UUIDs (well over 200 KB of JSON)
/// round-trips and is replaced by another large one.
async fn large_values_round_trip(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    let uuids =
        |n: usize| -> Vec<String> { (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect() };
    let first = json!({"leader_index_patterns": ["logs-*"], "followed": uuids(6000)});
    ensure!(serde_json::to_string(&first)?.len() > 200_000);
    catalog
        .put_ccr_record(CCR_AUTO_FOLLOW, "big", &first)
        .await?;
    ensure!(catalog.get_ccr_records(CCR_AUTO_FOLLOW).await?["big"] == first);
    let second = json!({"leader_index_patterns": ["logs-*"], "followed": uuids(7000)});
    catalog
        .put_ccr_record(CCR_AUTO_FOLLOW, "big", &second)
        .await?;
    let got = catalog.get_ccr_records(CCR_AUTO_FOLLOW).await?;
    ensure!(got.len() == 1 && got["big"] == second);
    catalog.close().await;
    Ok(())
}

/// Many writers upserting one new record at once all succeed (no duplicate-key race),
/// and one of their values is what remains.
async fn concurrent_upserts_of_one_record(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let catalog = catalog.clone();
            tokio::spawn(async move {
                catalog
                    .put_ccr_record(CCR_FOLLOW, "contended", &json!({ "writer": i }))
                    .await
            })
        })
        .collect();
    for writer in writers {
        writer.await??;
    }
    let got = catalog.get_ccr_records(CCR_FOLLOW).await?;
    ensure!(got.len() == 1, "{got:?}");
    let possible: Vec<Value> = (0..16).map(|i| json!({ "writer": i })).collect();
    ensure!(possible.contains(&got["contended"]), "{got:?}");
    catalog.close().await;
    Ok(())
}

suite!(
    sqlite => Sqlite, mysql => Mysql, postgres => Postgres;
    [
        records_round_trip,
        names_are_byte_wise,
        kinds_are_kept_apart,
        awkward_names,
        corrupt_value_is_an_error,
        large_values_round_trip,
        concurrent_upserts_of_one_record,
    ]
);
