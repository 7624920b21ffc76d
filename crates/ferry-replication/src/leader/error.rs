//! The errors of the leader-side service, each one Elasticsearch error type.
//!
//! `es_type`, `status` and `metadata` say how the error looks on the wire; turning it
//! into a gRPC status is the embedding server's job (ferry-node maps it through the same
//! function as its admin service), so this module knows nothing of HTTP or JSON bodies.

use ferry_index::IndexError;
use serde_json::{Map, Value, json};

/// Why a leader-side request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LeaderError {
    /// The request is malformed (`action_request_validation_exception`, 400).
    #[error("Validation Failed: {}", numbered(.0))]
    Validation(Vec<String>),
    /// No index of that name (`index_not_found_exception`, 404).
    #[error("no such index [{index}]")]
    IndexNotFound {
        /// The index asked for.
        index: String,
    },
    /// The index is closed (`index_closed_exception`, 400); a follower retries.
    #[error("closed")]
    IndexClosed {
        /// The index name.
        index: String,
        /// The index uuid.
        uuid: String,
    },
    /// The index has no shard of that number (`shard_not_found_exception`, 404).
    #[error("no such shard")]
    ShardNotFound {
        /// The index name.
        index: String,
        /// The shard number asked for.
        shard: u32,
    },
    /// The shard cannot serve now (`no_shard_available_action_exception`, 503); retryable.
    #[error("{0}")]
    Unavailable(String),
    /// The shard's history was replaced (restored, re-created) since the follower last
    /// read it (`illegal_state_exception`, 500); fatal for a follower.
    #[error("unexpected history uuid, expected [{expected}], actual [{actual}]")]
    HistoryUuidMismatch {
        /// What the follower expected.
        expected: String,
        /// What the shard has.
        actual: String,
    },
    /// The shard is not in a state to answer (`illegal_state_exception`, 500).
    #[error("{0}")]
    IllegalState(String),
    /// Operations the follower needs were pruned (`resource_not_found_exception`, 404);
    /// fatal for a follower unless it re-bootstraps.
    #[error(
        "Operations are no longer available for replicating. Existing retention leases \
         [{leases}]; maybe increase the retention lease period setting \
         [index.soft_deletes.retention_lease.period]?"
    )]
    OperationsMissing {
        /// First seq_no of the requested range.
        from: u64,
        /// Last seq_no of the requested range.
        to: u64,
        /// The leases the shard holds, rendered as Elasticsearch does.
        leases: String,
    },
    /// A bootstrap copy session this node does not hold: closed, idle past
    /// `ccr.indices.recovery.recovery_activity_timeout`, or lost in a restart
    /// ([`SESSION_NOT_FOUND`], 404). A follower opens a new session and starts over.
    #[error("session [{0}] not found")]
    SessionNotFound(String),
    /// An error of the shard engine (lease conflicts, invalid arguments, storage).
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// The error type of [`LeaderError::SessionNotFound`]. ES answers an unknown restore
/// session with an `illegal_argument_exception`, which a follower cannot tell from a bad
/// request; Ferry gives it a type of its own so the follower knows to start over.
pub const SESSION_NOT_FOUND: &str = "copy_session_not_found_exception";

fn numbered(errors: &[String]) -> String {
    errors
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{}: {e};", i + 1))
        .collect::<Vec<_>>()
        .join("")
}

impl LeaderError {
    /// The Elasticsearch error type name.
    pub fn es_type(&self) -> &'static str {
        match self {
            Self::Validation(_) => "action_request_validation_exception",
            Self::IndexNotFound { .. } => "index_not_found_exception",
            Self::IndexClosed { .. } => "index_closed_exception",
            Self::ShardNotFound { .. } => "shard_not_found_exception",
            Self::Unavailable(_) => "no_shard_available_action_exception",
            Self::HistoryUuidMismatch { .. } | Self::IllegalState(_) => "illegal_state_exception",
            Self::OperationsMissing { .. } => "resource_not_found_exception",
            Self::SessionNotFound(_) => SESSION_NOT_FOUND,
            Self::Index(e) => e.es_type(),
        }
    }

    /// The HTTP status Elasticsearch answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_) | Self::IndexClosed { .. } => 400,
            Self::IndexNotFound { .. }
            | Self::ShardNotFound { .. }
            | Self::OperationsMissing { .. }
            | Self::SessionNotFound(_) => 404,
            Self::Unavailable(_) => 503,
            Self::HistoryUuidMismatch { .. } | Self::IllegalState(_) => 500,
            Self::Index(e) => e.status(),
        }
    }

    /// Extra fields of the Elasticsearch error object (`index`, `shard`,
    /// `requested_operations_missing`, ...), beside `type` and `reason`.
    pub fn metadata(&self) -> Map<String, Value> {
        let fields = match self {
            Self::IndexNotFound { index } => json!({
                "resource.type": "index_or_alias",
                "resource.id": index,
                "index_uuid": "_na_",
                "index": index,
            }),
            Self::IndexClosed { index, uuid } => json!({ "index_uuid": uuid, "index": index }),
            Self::ShardNotFound { index, shard } => json!({
                "index_uuid": "_na_",
                "shard": shard.to_string(),
                "index": index,
            }),
            Self::OperationsMissing { from, to, .. } => json!({
                "requested_operations_missing": [from.to_string(), to.to_string()],
            }),
            _ => json!({}),
        };
        match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_are_numbered_like_elasticsearch() {
        let e = LeaderError::Validation(vec!["a".into(), "b".into()]);
        assert_eq!(e.to_string(), "Validation Failed: 1: a;2: b;");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn missing_operations_carry_the_range_and_the_es_wording() {
        let e = LeaderError::OperationsMissing {
            from: 7,
            to: 9,
            leases: String::new(),
        };
        assert_eq!(e.es_type(), "resource_not_found_exception");
        assert_eq!(e.status(), 404);
        assert!(e.to_string().starts_with(
            "Operations are no longer available for replicating. Existing retention leases []"
        ));
        assert_eq!(
            e.metadata()["requested_operations_missing"],
            json!(["7", "9"])
        );
    }

    #[test]
    fn an_unknown_copy_session_has_a_type_of_its_own() {
        let e = LeaderError::SessionNotFound("abc".into());
        assert_eq!(e.es_type(), "copy_session_not_found_exception");
        assert_eq!(e.status(), 404);
        assert_eq!(e.to_string(), "session [abc] not found");
    }

    #[test]
    fn engine_errors_keep_their_type() {
        let e = LeaderError::from(IndexError::RetentionLeaseNotFound("x".into()));
        assert_eq!(e.es_type(), "retention_lease_not_found_exception");
        assert_eq!(e.status(), 404);
    }
}
