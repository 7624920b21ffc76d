//! The catalog repository suite, run unchanged against SQLite, MariaDB and PostgreSQL:
//! every backend must give the same answers to the same calls.

#[macro_use]
mod common;

use anyhow::{Result, ensure};
use ferry_catalog::{Catalog, CatalogError, DbConfig, IndexRecord, IndexState};
use serde_json::json;

fn index(name: &str) -> IndexRecord {
    IndexRecord {
        uuid: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        settings: json!({"index": {"number_of_shards": "1", "number_of_replicas": "0"}}),
        mappings: json!({"properties": {"title": {"type": "text"}}}),
        state: IndexState::Open,
        settings_version: 1,
        mapping_version: 1,
        created_at_millis: 1_700_000_000_123,
    }
}

/// Connecting twice applies nothing the second time, keeps the data, and records the
/// schema version and this release.
async fn migrations_are_idempotent(config: DbConfig) -> Result<()> {
    let first = Catalog::connect(&config).await?;
    ensure!(first.dialect() == config.dialect());
    first.ping().await?;
    let a = index("kept");
    first.create_index(&a).await?;
    let version = first.schema_version().await?;
    ensure!(version >= 1, "schema version {version}");
    first.close().await;

    let second = Catalog::connect(&config).await?;
    ensure!(second.schema_version().await? == version);
    ensure!(second.release().await? == env!("CARGO_PKG_VERSION"));
    ensure!(second.get_index("kept").await? == Some(a));
    second.close().await;
    Ok(())
}

/// The identity is created once; later calls return it even with another name.
async fn ensure_cluster_is_stable(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    let first = catalog.ensure_cluster("alpha").await?;
    ensure!(first.name == "alpha");
    ensure!(uuid::Uuid::parse_str(&first.uuid).is_ok(), "{}", first.uuid);
    ensure!(first.created_at_millis > 1_600_000_000_000);
    let again = catalog.ensure_cluster("beta").await?;
    ensure!(again == first, "{again:?} != {first:?}");
    catalog.close().await;
    Ok(())
}

/// Two nodes connecting to an empty catalog at once both migrate safely, and their racing
/// `ensure_cluster` calls agree on one identity.
async fn concurrent_connect_and_ensure_cluster_agree(config: DbConfig) -> Result<()> {
    let (a, b) = tokio::join!(Catalog::connect(&config), Catalog::connect(&config));
    let (a, b) = (a?, b?);
    let (x, y, z, w) = tokio::join!(
        a.ensure_cluster("one"),
        b.ensure_cluster("two"),
        a.ensure_cluster("three"),
        b.ensure_cluster("four"),
    );
    let (x, y, z, w) = (x?, y?, z?, w?);
    ensure!(x == y && y == z && z == w, "{x:?} {y:?} {z:?} {w:?}");
    a.close().await;
    b.close().await;
    Ok(())
}

/// Settings and mappings come back exactly, key order included; both look-ups agree.
async fn index_round_trip(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    let mut record = index("books");
    record.settings = json!({
        "index": {"z_last": 1, "a_first": "x", "refresh_interval": "1s"},
        "analysis": {"analyzer": {"ü": {"type": "standard", "stopwords": ["a", "l'été"]}}}
    });
    record.mappings = json!({
        "properties": {"zeta": {"type": "keyword"}, "alpha": {"type": "long"}},
        "_meta": {"big": 9_007_199_254_740_993_u64, "neg": -1.5, "none": null, "t": true}
    });
    record.settings_version = 7;
    record.mapping_version = u64::try_from(i64::MAX)?;
    catalog.create_index(&record).await?;

    let by_name = catalog.get_index("books").await?;
    ensure!(by_name.as_ref() == Some(&record), "{by_name:?}");
    let got = by_name.expect("checked above");
    ensure!(
        serde_json::to_string(&got.settings)? == serde_json::to_string(&record.settings)?,
        "key order lost: {}",
        got.settings
    );
    ensure!(serde_json::to_string(&got.mappings)? == serde_json::to_string(&record.mappings)?);
    ensure!(catalog.get_index_by_uuid(&record.uuid).await? == Some(record.clone()));
    ensure!(
        catalog.get_index("Books").await?.is_none(),
        "names are case-sensitive"
    );
    ensure!(catalog.get_index("missing").await?.is_none());
    ensure!(catalog.get_index_by_uuid("no-such-uuid").await?.is_none());
    catalog.close().await;
    Ok(())
}

/// A second index with a taken name is refused by the unique constraint, also when both
/// creates race; a version the columns cannot hold is refused before the write.
async fn duplicate_name_is_already_exists(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    catalog.create_index(&index("logs")).await?;
    match catalog.create_index(&index("logs")).await {
        Err(CatalogError::AlreadyExists(name)) => ensure!(name == "logs"),
        other => anyhow::bail!("expected AlreadyExists, got {other:?}"),
    }
    let (race_a, race_b) = (index("race"), index("race"));
    let (first, second) =
        tokio::join!(catalog.create_index(&race_a), catalog.create_index(&race_b));
    let outcomes = [first, second];
    let created = outcomes.iter().filter(|r| r.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|r| matches!(r, Err(CatalogError::AlreadyExists(n)) if n == "race"))
        .count();
    ensure!(created == 1 && refused == 1, "{outcomes:?}");

    let mut too_big = index("too-big");
    too_big.settings_version = u64::MAX;
    ensure!(catalog.create_index(&too_big).await.is_err());
    ensure!(catalog.get_index("too-big").await?.is_none());
    ensure!(catalog.list_indices().await?.len() == 2);
    catalog.close().await;
    Ok(())
}

/// Listing is ordered by name, byte-wise, on every backend.
async fn list_is_ordered_by_name(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    ensure!(catalog.list_indices().await?.is_empty());
    for name in ["b", "a-1", "a", "Z", "a_2"] {
        catalog.create_index(&index(name)).await?;
    }
    let names: Vec<String> = catalog
        .list_indices()
        .await?
        .into_iter()
        .map(|i| i.name)
        .collect();
    ensure!(names == ["Z", "a", "a-1", "a_2", "b"], "{names:?}");
    catalog.close().await;
    Ok(())
}

/// Deleting removes the row once; the name is free again afterwards.
async fn delete_frees_the_name(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    let record = index("gone");
    catalog.create_index(&record).await?;
    ensure!(catalog.delete_index(&record.uuid).await?);
    ensure!(!catalog.delete_index(&record.uuid).await?);
    ensure!(catalog.get_index("gone").await?.is_none());
    ensure!(catalog.get_index_by_uuid(&record.uuid).await?.is_none());
    catalog.create_index(&index("gone")).await?;
    catalog.close().await;
    Ok(())
}

/// Closing and reopening is stored; repeating a change is not "not found"; an unknown
/// uuid is.
async fn state_changes(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    let record = index("toggled");
    catalog.create_index(&record).await?;
    catalog
        .set_index_state(&record.uuid, IndexState::Closed)
        .await?;
    catalog
        .set_index_state(&record.uuid, IndexState::Closed)
        .await?;
    let got = catalog.get_index("toggled").await?.expect("exists");
    ensure!(got.state == IndexState::Closed);
    catalog
        .set_index_state(&record.uuid, IndexState::Open)
        .await?;
    ensure!(catalog.get_index("toggled").await?.expect("exists").state == IndexState::Open);
    match catalog
        .set_index_state("no-such-uuid", IndexState::Closed)
        .await
    {
        Err(CatalogError::NotFound(what)) => ensure!(what.contains("no-such-uuid")),
        other => anyhow::bail!("expected NotFound, got {other:?}"),
    }
    catalog.close().await;
    Ok(())
}

/// Mapping and settings updates replace the document and the version, and nothing else.
async fn mappings_and_settings_update(config: DbConfig) -> Result<()> {
    let catalog = Catalog::connect(&config).await?;
    let record = index("evolving");
    catalog.create_index(&record).await?;
    let mappings = json!({"properties": {"title": {"type": "text"}, "n": {"type": "long"}}});
    catalog.update_mappings(&record.uuid, &mappings, 2).await?;
    catalog.update_mappings(&record.uuid, &mappings, 2).await?;
    let settings = json!({"index": {"number_of_shards": "1", "refresh_interval": "5s"}});
    catalog.update_settings(&record.uuid, &settings, 3).await?;
    let got = catalog.get_index("evolving").await?.expect("exists");
    ensure!(
        got.mappings == mappings && got.mapping_version == 2,
        "{got:?}"
    );
    ensure!(
        got.settings == settings && got.settings_version == 3,
        "{got:?}"
    );
    ensure!(got.state == record.state && got.created_at_millis == record.created_at_millis);
    ensure!(matches!(
        catalog.update_mappings("nope", &mappings, 9).await,
        Err(CatalogError::NotFound(_))
    ));
    ensure!(matches!(
        catalog.update_settings("nope", &settings, 9).await,
        Err(CatalogError::NotFound(_))
    ));
    catalog.close().await;
    Ok(())
}

suite!(
    sqlite => Sqlite, mysql => Mysql, postgres => Postgres;
    [
        migrations_are_idempotent,
        ensure_cluster_is_stable,
        concurrent_connect_and_ensure_cluster_agree,
        index_round_trip,
        duplicate_name_is_already_exists,
        list_is_ordered_by_name,
        delete_frees_the_name,
        state_changes,
        mappings_and_settings_update,
    ]
);
