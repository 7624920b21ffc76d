//! The cluster-settings repository, run unchanged against SQLite, MariaDB and PostgreSQL:
//! persistent settings round-trip, `None` removes, a change set is all or nothing, and
//! settings survive reconnecting.

#[macro_use]
mod common;

use anyhow::{Result, ensure};
use ferry_catalog::{Catalog, DbConfig, PERSISTENT};
use serde_json::{Value, json};

fn set(key: &str, value: Value) -> (String, Option<Value>) {
    (key.to_owned(), Some(value))
}

fn unset(key: &str) -> (String, Option<Value>) {
    (key.to_owned(), None)
}

/// Values of every JSON shape the settings use come back as stored, ordered by key;
/// overwriting replaces; `None` removes, and removing a missing key is fine.
async fn settings_round_trip(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    ensure!(catalog.get_cluster_settings(PERSISTENT).await?.is_empty());
    catalog
        .put_cluster_settings(
            PERSISTENT,
            &[
                set("cluster.remote.b.seeds", json!(["127.0.0.1:9300", "h:1"])),
                set("cluster.remote.a.skip_unavailable", json!("true")),
                set("cluster.remote.a.credentials", json!("s3cr3t")),
            ],
        )
        .await?;
    let got = catalog.get_cluster_settings(PERSISTENT).await?;
    let keys: Vec<&str> = got.keys().map(String::as_str).collect();
    ensure!(
        keys == [
            "cluster.remote.a.credentials",
            "cluster.remote.a.skip_unavailable",
            "cluster.remote.b.seeds"
        ],
        "{keys:?}"
    );
    ensure!(got["cluster.remote.b.seeds"] == json!(["127.0.0.1:9300", "h:1"]));

    catalog
        .put_cluster_settings(
            PERSISTENT,
            &[
                set("cluster.remote.a.skip_unavailable", json!("false")),
                unset("cluster.remote.a.credentials"),
                unset("cluster.remote.never.set"),
            ],
        )
        .await?;
    let got = catalog.get_cluster_settings(PERSISTENT).await?;
    ensure!(got.len() == 2, "{got:?}");
    ensure!(got["cluster.remote.a.skip_unavailable"] == json!("false"));
    ensure!(!got.contains_key("cluster.remote.a.credentials"));
    catalog.close().await;

    let again = Catalog::connect(&config).await?;
    ensure!(again.get_cluster_settings(PERSISTENT).await? == got);
    again.close().await;
    Ok(())
}

/// A change set that fails half-way (a key longer than the column allows on the server
/// dialects, an unknown scope everywhere) leaves the stored settings unchanged.
async fn rejected_change_set_changes_nothing(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    catalog
        .put_cluster_settings(PERSISTENT, &[set("cluster.remote.a.seeds", json!(["h:1"]))])
        .await?;
    let before = catalog.get_cluster_settings(PERSISTENT).await?;
    ensure!(
        catalog
            .put_cluster_settings("transient", &[set("x", json!("1"))])
            .await
            .is_err()
    );
    ensure!(catalog.get_cluster_settings("transient").await.is_err());
    if config.dialect() != ferry_catalog::Dialect::Sqlite {
        let too_long = "k".repeat(300);
        let outcome = catalog
            .put_cluster_settings(
                PERSISTENT,
                &[
                    unset("cluster.remote.a.seeds"),
                    set("cluster.remote.z.seeds", json!(["h:2"])),
                    set(&too_long, json!("v")),
                ],
            )
            .await;
        ensure!(outcome.is_err(), "a 300-byte key must not fit");
    }
    ensure!(catalog.get_cluster_settings(PERSISTENT).await? == before);
    catalog.close().await;
    Ok(())
}

suite!(
    sqlite => Sqlite, mysql => Mysql, postgres => Postgres;
    [settings_round_trip, rejected_change_set_changes_nothing]
);
