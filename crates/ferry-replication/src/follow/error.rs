//! Errors of the follow parameters: parse failures and ES-style validation failures.
//!
//! Deliberately not here: errors of a running follow task (those are events the planner
//! receives, see [`super::planner::TaskError`]).

/// What can go wrong turning a follow request body into [`super::FollowParameters`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FollowError {
    /// A value could not be parsed (wrong type, missing unit, negative duration, …).
    #[error("{0}")]
    Parse(String),
    /// One or more values parsed but are out of range, collected like ES's
    /// `ActionRequestValidationException`.
    #[error("{}", render_validation(.0))]
    Validation(Vec<String>),
}

impl FollowError {
    /// The ES error `type` this error is reported with (HTTP 400 for both).
    pub fn es_type(&self) -> &'static str {
        // spec/ccr.md §2: every follow-parameter failure is `illegal_argument_exception`
        // (400), the "Validation Failed: 1: ...;" reason included.
        match self {
            FollowError::Parse(_) | FollowError::Validation(_) => "illegal_argument_exception",
        }
    }
}

/// `Validation Failed: 1: first;2: second;`, as ES renders a validation exception.
fn render_validation(messages: &[String]) -> String {
    let mut out = String::from("Validation Failed: ");
    for (i, m) in messages.iter().enumerate() {
        out.push_str(&format!("{}: {};", i + 1, m));
    }
    out
}
