//! The records the catalog stores: the cluster identity and index definitions.
//!
//! Plain data; how they map to rows lives with the queries. Deliberately not here:
//! validation of index names, settings or mappings (ferry-node and ferry-index own those).

use std::fmt;
use std::str::FromStr;

use crate::error::CatalogError;

/// The cluster's permanent identity, created once in an empty catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterIdentity {
    /// Cluster UUID (`cluster_uuid` in ES answers).
    pub uuid: String,
    /// Cluster name, as given when the catalog was first used.
    pub name: String,
    /// When the cluster was created, Unix epoch milliseconds.
    pub created_at_millis: i64,
}

/// Whether an index serves requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexState {
    /// Serves reads and writes.
    Open,
    /// Kept on disk, refuses reads and writes.
    Closed,
}

impl IndexState {
    /// The stored spelling: `open` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexState::Open => "open",
            IndexState::Closed => "closed",
        }
    }
}

impl fmt::Display for IndexState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IndexState {
    type Err = CatalogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(IndexState::Open),
            "closed" => Ok(IndexState::Closed),
            other => Err(CatalogError::query(
                "reading index state",
                format!("unknown index state `{other}`"),
            )),
        }
    }
}

/// One index definition.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRecord {
    /// Permanent index UUID (primary key).
    pub uuid: String,
    /// Index name, unique in the cluster.
    pub name: String,
    /// `settings` as a JSON object, key order kept.
    pub settings: serde_json::Value,
    /// `mappings` as a JSON object, key order kept.
    pub mappings: serde_json::Value,
    /// Open or closed.
    pub state: IndexState,
    /// Bumped on every settings change (CCR ships it with operations).
    pub settings_version: u64,
    /// Bumped on every mapping change (CCR ships it with operations).
    pub mapping_version: u64,
    /// When the index was created, Unix epoch milliseconds.
    pub created_at_millis: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_refuses_unknown() {
        for s in [IndexState::Open, IndexState::Closed] {
            assert_eq!(s.as_str().parse::<IndexState>().expect("known"), s);
        }
        assert!("frozen".parse::<IndexState>().is_err());
    }
}
