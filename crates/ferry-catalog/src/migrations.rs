//! The versioned schema migrations of each dialect, embedded in the binary and turned
//! into a sqlx [`Migrator`] at runtime (the `migrate!` macro would need sqlx's `macros`
//! feature, which compiles the drivers twice).
//!
//! Files live in `migrations/<dialect>/NNNN_name.sql`; add a new file and a line in
//! [`sources`] for each schema change, never edit an applied one (its checksum is checked).
//! Deliberately not here: running them under the lock (see `connect`).

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::config::Dialect;

/// `(version, description, sql)` of every migration of one dialect, oldest first.
type Source = (i64, &'static str, &'static str);

const SQLITE: &[Source] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "cluster_settings",
        include_str!("../migrations/sqlite/0002_cluster_settings.sql"),
    ),
    (3, "ccr", include_str!("../migrations/sqlite/0003_ccr.sql")),
];
const MYSQL: &[Source] = &[
    (1, "init", include_str!("../migrations/mysql/0001_init.sql")),
    (
        2,
        "cluster_settings",
        include_str!("../migrations/mysql/0002_cluster_settings.sql"),
    ),
    (3, "ccr", include_str!("../migrations/mysql/0003_ccr.sql")),
];
const POSTGRES: &[Source] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "cluster_settings",
        include_str!("../migrations/postgres/0002_cluster_settings.sql"),
    ),
    (
        3,
        "ccr",
        include_str!("../migrations/postgres/0003_ccr.sql"),
    ),
];

fn sources(dialect: Dialect) -> &'static [Source] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Mysql => MYSQL,
        Dialect::Postgres => POSTGRES,
    }
}

/// The schema version this release brings: the newest migration of the dialect.
pub(crate) fn latest_version(dialect: Dialect) -> i64 {
    sources(dialect)
        .iter()
        .map(|(v, _, _)| *v)
        .max()
        .unwrap_or(0)
}

/// A migrator for `dialect`, without its own locking: the caller holds the lock on the
/// connection it migrates, so it can record the schema version under the same lock.
pub(crate) fn migrator(dialect: Dialect) -> Migrator {
    let migrations = sources(dialect)
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.set_locking(false);
    migrator
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_has_the_same_versions_in_order() {
        let versions = |d| sources(d).iter().map(|(v, _, _)| *v).collect::<Vec<_>>();
        let sqlite = versions(Dialect::Sqlite);
        assert_eq!(sqlite, versions(Dialect::Mysql));
        assert_eq!(sqlite, versions(Dialect::Postgres));
        assert!(sqlite.windows(2).all(|w| w[0] < w[1]), "{sqlite:?}");
        assert_eq!(
            latest_version(Dialect::Sqlite),
            *sqlite.last().expect("one")
        );
    }

    #[test]
    fn migrator_holds_every_migration() {
        for d in [Dialect::Sqlite, Dialect::Mysql, Dialect::Postgres] {
            let m = migrator(d);
            assert_eq!(m.iter().count(), sources(d).len());
            assert!(m.iter().all(|m| !m.sql.as_str().trim().is_empty()));
        }
    }
}
