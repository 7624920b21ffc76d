//! URL query parameters, shared by the REST and gRPC faces.
//!
//! gRPC admin calls carry the same `map<string,string>` the REST query string holds, so
//! both faces reach [`crate::node::Node`] with identical input. Typed getters turn a bad
//! value into the ES `illegal_argument_exception` naming the parameter.

use std::collections::HashMap;

use crate::error::ApiError;

/// Query parameters of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A boolean flag: absent → `default`; `""` or `true` → true; `false` → false.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some("" | "true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(ApiError::illegal_argument(format!(
                "Failed to parse value [{v}] as only [true] or [false] are allowed."
            ))),
        }
    }

    /// An unsigned number, absent → `None`.
    pub fn u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::illegal_argument(format!(
                        "Failed to parse int parameter [{key}] with value [{v}]"
                    ))
                })
            })
            .transpose()
    }
}

impl From<HashMap<String, String>> for Params {
    fn from(m: HashMap<String, String>) -> Self {
        Self(m)
    }
}
