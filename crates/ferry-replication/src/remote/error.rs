//! The error type of the remote-cluster module: what a settings update or a connection
//! attempt can fail with, in words an operator reads in the REST answer or the log.
//!
//! Deliberately not here: the REST/gRPC status of each variant (ferry-node maps them).

use thiserror::Error;

/// What can go wrong with remote-cluster settings or connections.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RemoteError {
    /// A key or value of `PUT /_cluster/settings` is not acceptable (ES's
    /// `illegal_argument_exception`); the message is ES's where ES has one.
    #[error("{0}")]
    IllegalArgument(String),
    /// The request body does not have the shape of a settings update (ES's
    /// `x_content_parse_exception`).
    #[error("{0}")]
    Parse(String),
    /// The request fails ES's request validation (`action_request_validation_exception`);
    /// one entry per failed check.
    #[error("Validation Failed: {}", numbered(.0))]
    Validation(Vec<String>),
    /// No seed (or the proxy) answered the handshake for this alias.
    #[error("no seed node left for cluster: [{0}]")]
    NoSeedNodeLeft(String),
}

/// `1: a;2: b;`, as ES numbers validation errors.
fn numbered(errors: &[String]) -> String {
    errors
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{}: {e};", i + 1))
        .collect()
}

impl RemoteError {
    pub(crate) fn illegal(message: impl Into<String>) -> Self {
        RemoteError::IllegalArgument(message.into())
    }
}
