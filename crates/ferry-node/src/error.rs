//! The Elasticsearch error body, and the one place engine and catalog errors become it.
//!
//! Every REST and gRPC failure is an [`ApiError`]: a status, an ES type name, a reason and
//! optional extra fields (`index`, `index_uuid`, `resource.id`, ...), rendered as
//! `{"error": {"root_cause": [...], "type", "reason", ...}, "status": N}`.

use serde_json::{Map, Value, json};

/// An error answer in the Elasticsearch shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// ES error type, e.g. `index_not_found_exception`.
    pub kind: String,
    /// Human-readable reason.
    pub reason: String,
    /// Extra fields shown beside `type` and `reason` (e.g. `index`, `index_uuid`); boxed
    /// so `Result<_, ApiError>` stays small.
    pub extra: Box<Map<String, Value>>,
}

impl ApiError {
    /// A new error with no extra fields.
    pub fn new(status: u16, kind: &str, reason: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.to_owned(),
            reason: reason.into(),
            extra: Box::default(),
        }
    }

    /// Adds an extra field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// 400 `illegal_argument_exception`.
    pub fn illegal_argument(reason: impl Into<String>) -> Self {
        Self::new(400, "illegal_argument_exception", reason)
    }

    /// 400 `parsing_exception`.
    pub fn parsing(reason: impl Into<String>) -> Self {
        Self::new(400, "parsing_exception", reason)
    }

    /// 404 `index_not_found_exception` for `index`.
    pub fn index_not_found(index: &str) -> Self {
        Self::new(
            404,
            "index_not_found_exception",
            format!("no such index [{index}]"),
        )
        .with("resource.type", "index_or_alias")
        .with("resource.id", index)
        .with("index_uuid", "_na_")
        .with("index", index)
    }

    /// 400 `illegal_argument_exception` for a capability that is not built yet.
    pub fn not_supported(what: &str) -> Self {
        Self::illegal_argument(format!("{what} is not supported yet"))
    }

    /// 400 `x_content_parse_exception` (malformed JSON or an unexpected value in a body).
    pub fn x_content_parse(reason: impl Into<String>) -> Self {
        Self::new(400, "x_content_parse_exception", reason)
    }

    /// 400 `parse_exception` (ES's `ElasticsearchParseException`: "request body is required").
    pub fn parse(reason: impl Into<String>) -> Self {
        Self::new(400, "parse_exception", reason)
    }

    /// 400 `action_request_validation_exception` listing every failed check, numbered as
    /// ES numbers them: `Validation Failed: 1: a;2: b;`.
    pub fn validation<S: AsRef<str>>(errors: &[S]) -> Self {
        let mut reason = String::from("Validation Failed: ");
        for (i, e) in errors.iter().enumerate() {
            reason.push_str(&format!("{}: {};", i + 1, e.as_ref()));
        }
        Self::new(400, "action_request_validation_exception", reason)
    }

    /// 400 `invalid_index_name_exception`: `Invalid index name [x], <reason>`.
    pub fn invalid_index_name(index: &str, reason: &str) -> Self {
        Self::new(
            400,
            "invalid_index_name_exception",
            format!("Invalid index name [{index}], {reason}"),
        )
        .with("index_uuid", "_na_")
        .with("index", index)
    }

    /// 400 `resource_already_exists_exception`: `index [x/uuid] already exists`.
    pub fn index_already_exists(index: &str, uuid: &str) -> Self {
        Self::new(
            400,
            "resource_already_exists_exception",
            format!("index [{index}/{uuid}] already exists"),
        )
        .with("index_uuid", uuid)
        .with("index", index)
    }

    /// 400 `index_closed_exception` (reason `closed`) for a read or write on a closed index.
    pub fn index_closed(index: &str, uuid: &str) -> Self {
        Self::new(400, "index_closed_exception", "closed")
            .with("index_uuid", uuid)
            .with("index", index)
    }

    /// 503 `no_shard_available_action_exception`: the index's shards are not available.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self::new(503, "no_shard_available_action_exception", reason)
    }

    /// 500 `exception`: a failure of this node (storage, catalog), never of the input.
    pub fn internal(reason: impl Into<String>) -> Self {
        Self::new(500, "exception", reason)
    }

    /// Adds `index_uuid` and `index` (what ES attaches to shard-level failures).
    pub fn for_index(self, index: &str, uuid: &str) -> Self {
        if self.extra.contains_key("index") {
            return self;
        }
        self.with("index_uuid", uuid).with("index", index)
    }

    /// The cause object without `root_cause`: what `_bulk` items carry under `error`.
    pub fn item_object(&self) -> Value {
        let mut cause = Map::new();
        cause.insert("type".into(), json!(self.kind));
        cause.insert("reason".into(), json!(self.reason));
        cause.extend((*self.extra).clone());
        Value::Object(cause)
    }

    /// The error object with `root_cause` (what error bodies and `_mget` items carry).
    pub fn error_object(&self) -> Value {
        let mut cause = Map::new();
        cause.insert("type".into(), json!(self.kind));
        cause.insert("reason".into(), json!(self.reason));
        cause.extend((*self.extra).clone());
        let mut top = cause.clone();
        top.insert("root_cause".into(), json!([Value::Object(cause)]));
        // root_cause first, as ES prints it.
        let mut ordered = Map::new();
        ordered.insert(
            "root_cause".into(),
            top.remove("root_cause").unwrap_or_default(),
        );
        ordered.extend(top);
        Value::Object(ordered)
    }

    /// The whole response body: `{"error": {...}, "status": N}`.
    pub fn body(&self) -> Value {
        json!({ "error": self.error_object(), "status": self.status })
    }
}

impl From<ferry_index::IndexError> for ApiError {
    fn from(e: ferry_index::IndexError) -> Self {
        Self::new(e.status(), e.es_type(), e.to_string())
    }
}

impl From<ferry_catalog::CatalogError> for ApiError {
    fn from(e: ferry_catalog::CatalogError) -> Self {
        // Conflicts are mapped where the index name is known; anything reaching this is a
        // failure of the catalog itself, not of the request.
        Self::internal(format!("catalog error: {e}"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]: {}", self.status, self.kind, self.reason)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_elasticsearch_shape() {
        let body = ApiError::index_not_found("missing").body();
        assert_eq!(body["status"], 404);
        assert_eq!(body["error"]["type"], "index_not_found_exception");
        assert_eq!(
            body["error"]["root_cause"][0]["type"],
            "index_not_found_exception"
        );
        assert_eq!(body["error"]["root_cause"][0]["index"], "missing");
        assert_eq!(body["error"]["reason"], "no such index [missing]");
    }

    #[test]
    fn validation_errors_are_numbered_like_elasticsearch() {
        let e = ApiError::validation(&["index is missing", "id is missing"]);
        assert_eq!(e.kind, "action_request_validation_exception");
        assert_eq!(
            e.reason,
            "Validation Failed: 1: index is missing;2: id is missing;"
        );
    }

    #[test]
    fn item_object_has_no_root_cause_and_keeps_extras() {
        let e = ApiError::index_closed("logs", "abc");
        let o = e.item_object();
        assert!(o.get("root_cause").is_none());
        assert_eq!(o["type"], "index_closed_exception");
        assert_eq!(o["reason"], "closed");
        assert_eq!(o["index_uuid"], "abc");
        let obj = e.error_object();
        let keys: Vec<&str> = obj
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys[..3], ["root_cause", "type", "reason"]);
    }

    #[test]
    fn a_write_into_a_follower_is_a_403_status_exception() {
        let e = ApiError::from(ferry_index::IndexError::FollowerWrite);
        assert_eq!((e.status, e.kind.as_str()), (403, "status_exception"));
        assert_eq!(
            e.item_object(),
            json!({
                "type": "status_exception",
                "reason": "a following engine does not accept operations without an assigned sequence number"
            })
        );
        assert_eq!(e.body()["status"], 403);
    }

    #[test]
    fn already_exists_names_index_and_uuid() {
        let e = ApiError::index_already_exists("x", "u1");
        assert_eq!(e.reason, "index [x/u1] already exists");
        assert_eq!(e.extra["index_uuid"], "u1");
    }
}
