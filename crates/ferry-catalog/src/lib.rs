//! Ferry's catalog database: the cluster identity and index definitions, on an embedded
//! SQLite file (single node) or a shared MySQL/MariaDB or PostgreSQL server (cluster).
//!
//! - [`DbConfig`] parses `db.yml` and the `FERRY_DB` string (spec/cluster.md §2) into one
//!   validated type whose password never shows in `Debug`, `Display`, logs or errors.
//! - [`Catalog::connect`] opens the database and applies this release's versioned
//!   migrations under the migration lock; [`Catalog`] is one repository API for all three
//!   dialects.
//!
//! - [`Catalog::get_cluster_settings`] / [`Catalog::put_cluster_settings`]: the persistent
//!   cluster settings of `PUT /_cluster/settings`, changed in one transaction.
//! - [`Catalog::put_ccr_record`] / [`Catalog::get_ccr_records`] /
//!   [`Catalog::delete_ccr_record`]: CCR follows and auto-follow patterns as JSON records.
//!
//! Deliberately not here: networking, caching, and deciding what the rows mean (the node
//! and cluster crates do); reading environment variables (callers pass `FERRY_DB` in).

mod catalog;
mod ccr;
mod cluster;
mod config;
mod connect;
mod error;
mod ferry_db;
mod indices;
mod migrations;
mod settings;
mod sql;
mod types;

pub use catalog::Catalog;
pub use ccr::{CCR_AUTO_FOLLOW, CCR_FOLLOW};
pub use config::{DbConfig, Dialect};
pub use error::CatalogError;
pub use settings::PERSISTENT;
pub use types::{ClusterIdentity, IndexRecord, IndexState};
