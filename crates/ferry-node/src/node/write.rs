//! The write path shared by single-document requests and `_bulk`: one `prepare` and one
//! `execute` per index and batch, with the dynamic-mapping step between them, and ES's
//! write-response body.
//!
//! The order of a batch is kept: result `i` answers operation `i`. This module does not
//! parse requests; `docs` and `bulk` build the operations.

use ferry_index::{RefreshPolicy, WriteOp, WriteOutcome, WriteResult};
use serde_json::{Map, Value, json};

use super::Node;
use super::entry::IndexEntry;
use crate::error::ApiError;

impl Node {
    /// Executes `ops` (with their routing) against one index, in order.
    pub(super) async fn write_ops(
        &self,
        e: &IndexEntry,
        ops: Vec<(WriteOp, Option<String>)>,
        policy: RefreshPolicy,
    ) -> Vec<Result<WriteOutcome, ApiError>> {
        let n = ops.len();
        let handle = match e.handle() {
            Ok(h) => h,
            Err(err) => return vec![Err(err); n],
        };
        let batch = handle.prepare(ops);
        let update = batch.mapping_update().cloned();
        if let Some(update) = update
            && let Err(err) = self.apply_dynamic_mapping(e, &handle, &update).await
        {
            return vec![Err(err); n];
        }
        let mut out: Vec<Result<WriteOutcome, ApiError>> = handle
            .execute(batch, policy)
            .await
            .into_iter()
            .map(|r| r.map_err(|err| ApiError::from(err).for_index(&e.name, &e.uuid)))
            .collect();
        if out.len() != n {
            tracing::error!(index = %e.name, expected = n, got = out.len(), "engine answered a batch with the wrong number of results");
            out.resize_with(n, || {
                Err(ApiError::internal(
                    "the engine did not answer this operation",
                ))
            });
        }
        out
    }
}

/// The HTTP status of a successful write.
pub fn write_status(result: WriteResult) -> u16 {
    match result {
        WriteResult::Created => 201,
        WriteResult::NotFound => 404,
        _ => 200,
    }
}

/// `(total, successful)` of `_shards`: a noop touches no copy; otherwise the primary
/// answered and the (unassignable on one node) replicas count in `total`, as ES shows.
pub fn shard_counts(result: WriteResult, copies: u32) -> (u32, u32) {
    if result == WriteResult::Noop {
        (0, 0)
    } else {
        (copies, 1)
    }
}

/// ES's write response body, in ES's field order.
pub fn write_body(
    index: &str,
    o: &WriteOutcome,
    copies: u32,
    forced_refresh: bool,
) -> Map<String, Value> {
    let (total, successful) = shard_counts(o.result, copies);
    let mut m = Map::new();
    m.insert("_index".into(), json!(index));
    m.insert("_type".into(), json!("_doc"));
    m.insert("_id".into(), json!(o.id));
    m.insert("_version".into(), json!(o.version));
    m.insert("result".into(), json!(o.result.as_str()));
    if forced_refresh && o.result != WriteResult::Noop {
        m.insert("forced_refresh".into(), json!(true));
    }
    m.insert(
        "_shards".into(),
        json!({ "total": total, "successful": successful, "failed": 0 }),
    );
    m.insert("_seq_no".into(), json!(o.seq_no));
    m.insert("_primary_term".into(), json!(o.primary_term));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(result: WriteResult) -> WriteOutcome {
        WriteOutcome {
            id: "1".into(),
            shard: 0,
            result,
            seq_no: 4,
            primary_term: 1,
            version: 2,
            source: None,
        }
    }

    #[test]
    fn write_body_has_elasticsearch_fields_in_order() {
        let body = write_body("logs", &outcome(WriteResult::Created), 2, false);
        let keys: Vec<&str> = body.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "_index",
                "_type",
                "_id",
                "_version",
                "result",
                "_shards",
                "_seq_no",
                "_primary_term"
            ]
        );
        assert_eq!(
            body["_shards"],
            json!({"total": 2, "successful": 1, "failed": 0})
        );
        assert_eq!(body["result"], "created");
        let noop = write_body("logs", &outcome(WriteResult::Noop), 2, true);
        assert_eq!(
            noop["_shards"],
            json!({"total": 0, "successful": 0, "failed": 0})
        );
        assert!(noop.get("forced_refresh").is_none());
        assert_eq!(
            write_body("l", &outcome(WriteResult::Updated), 1, true)["forced_refresh"],
            true
        );
        assert_eq!(write_status(WriteResult::Created), 201);
        assert_eq!(write_status(WriteResult::NotFound), 404);
        assert_eq!(write_status(WriteResult::Noop), 200);
    }
}
