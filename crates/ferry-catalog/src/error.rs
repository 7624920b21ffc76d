//! The one error type of the catalog crate, and the redaction every message passes through.
//!
//! Every variant carries plain text that was built here, never a foreign error that could
//! print connection options: the catalog password cannot reach a log line through it.
//! Deliberately not here: mapping to REST or gRPC errors (ferry-node does that).

use thiserror::Error;

/// What can go wrong in the catalog. No message ever contains the catalog password.
#[derive(Debug, Error)]
pub enum CatalogError {
    /// `db.yml` or `FERRY_DB` is malformed or incomplete; the message names the key.
    #[error("invalid catalog configuration: {0}")]
    Config(String),
    /// The database could not be opened or reached.
    #[error("cannot connect to the catalog at {target}: {reason}")]
    Connect {
        /// Where we tried to connect (`mysql://user@host:port/db`, never the password).
        target: String,
        /// What the driver or the server said.
        reason: String,
    },
    /// The schema migrations could not be applied or do not match this release.
    #[error("catalog schema migration failed at {target}: {reason}")]
    Migrate {
        /// The catalog being migrated.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// An index with this name exists already (reported by the unique constraint).
    #[error("index [{0}] already exists")]
    AlreadyExists(String),
    /// The entry named here does not exist.
    #[error("{0} not found in the catalog")]
    NotFound(String),
    /// A statement failed, or a stored row could not be read back.
    #[error("catalog query failed while {op}: {reason}")]
    Query {
        /// What the catalog was doing (`creating index`, `listing indices`...).
        op: &'static str,
        /// What went wrong.
        reason: String,
    },
}

impl CatalogError {
    /// A failed statement, described by what the catalog was doing.
    pub(crate) fn query(op: &'static str, error: impl std::fmt::Display) -> Self {
        CatalogError::Query {
            op,
            reason: error.to_string(),
        }
    }
}

/// Replaces every occurrence of `secret` in `message` by `***`.
///
/// A second line of defence: messages are built so that they never hold the password,
/// but a driver or server could echo it back one day.
pub(crate) fn redact(message: String, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if !secret.is_empty() && message.contains(secret) => {
            message.replace(secret, "***")
        }
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_every_occurrence() {
        let out = redact("a hunter2 b hunter2".to_owned(), Some("hunter2"));
        assert_eq!(out, "a *** b ***");
    }

    #[test]
    fn redact_leaves_messages_without_secret() {
        assert_eq!(redact("plain".to_owned(), Some("x1")), "plain");
        assert_eq!(redact("plain".to_owned(), Some("")), "plain");
        assert_eq!(redact("plain".to_owned(), None), "plain");
    }
}
