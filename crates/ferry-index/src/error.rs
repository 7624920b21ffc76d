//! The one error type of the shard engine.
//!
//! Each variant corresponds to one Elasticsearch error type, so the REST layer can map
//! it to an error body in one place (`ferry-node`'s `error` module). This module does not
//! know about HTTP; `es_type` and `status` are the only hints it gives.

/// Elasticsearch's reason for a client write into a following index (its
/// `FollowingEngine` rejects any operation that arrives without a leader seq_no).
pub const FOLLOWER_WRITE_REASON: &str =
    "a following engine does not accept operations without an assigned sequence number";

/// Errors of the shard engine: mapping, query DSL, versioning, storage and consensus.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IndexError {
    /// A mapping definition is invalid (`mapper_parsing_exception`, 400).
    #[error("{0}")]
    MapperParsing(String),
    /// A document does not fit the mapping or is not a JSON object
    /// (`document_parsing_exception`, 400).
    #[error("{0}")]
    DocumentParsing(String),
    /// A query or search body is malformed or uses an unknown clause
    /// (`parsing_exception`, 400).
    #[error("{0}")]
    Parsing(String),
    /// A request parameter or setting is invalid (`illegal_argument_exception`, 400).
    #[error("{0}")]
    IllegalArgument(String),
    /// A conditional write lost (`version_conflict_engine_exception`, 409).
    #[error("{0}")]
    VersionConflict(String),
    /// `_update` of a document that does not exist and no upsert was given
    /// (`document_missing_exception`, 404).
    #[error("{0}")]
    DocumentMissing(String),
    /// Adding a retention lease whose id is already held
    /// (`retention_lease_already_exists_exception`, 400).
    #[error("{0}")]
    RetentionLeaseAlreadyExists(String),
    /// Renewing or removing a retention lease that is not held
    /// (`retention_lease_not_found_exception`, 404).
    #[error("{0}")]
    RetentionLeaseNotFound(String),
    /// A client write (index, update, delete) into a CCR following index, which only
    /// accepts the leader's operations (`status_exception`, 403).
    #[error("{FOLLOWER_WRITE_REASON}")]
    FollowerWrite,
    /// The shard is shutting down or its Raft group has no leader
    /// (`no_shard_available_action_exception`, 503).
    #[error("{0}")]
    Unavailable(String),
    /// Local storage failed: disk, redb, tantivy (500; never caused by input).
    #[error("storage error: {0}")]
    Storage(String),
}

impl IndexError {
    /// The Elasticsearch error type name of this error.
    pub fn es_type(&self) -> &'static str {
        match self {
            Self::MapperParsing(_) => "mapper_parsing_exception",
            Self::DocumentParsing(_) => "document_parsing_exception",
            Self::Parsing(_) => "parsing_exception",
            Self::IllegalArgument(_) => "illegal_argument_exception",
            Self::VersionConflict(_) => "version_conflict_engine_exception",
            Self::DocumentMissing(_) => "document_missing_exception",
            Self::RetentionLeaseAlreadyExists(_) => "retention_lease_already_exists_exception",
            Self::RetentionLeaseNotFound(_) => "retention_lease_not_found_exception",
            Self::FollowerWrite => "status_exception",
            Self::Unavailable(_) => "no_shard_available_action_exception",
            Self::Storage(_) => "exception",
        }
    }

    /// The HTTP status Elasticsearch answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            Self::VersionConflict(_) => 409,
            Self::DocumentMissing(_) | Self::RetentionLeaseNotFound(_) => 404,
            Self::FollowerWrite => 403,
            Self::Unavailable(_) => 503,
            Self::Storage(_) => 500,
            _ => 400,
        }
    }

    /// Wraps any displayable storage-layer error.
    pub fn storage(e: impl std::fmt::Display) -> Self {
        Self::Storage(e.to_string())
    }
}

/// Result alias of this crate.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;
