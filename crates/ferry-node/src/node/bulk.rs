//! `POST [/<index>]/_bulk`: the ingest hot path.
//!
//! The body is parsed and validated whole first (any malformed line or invalid item
//! parameter is one 400 and nothing is written). Items are then grouped per index and
//! each group is one `prepare`/`execute` batch; groups run concurrently. Sources are
//! `Bytes` slices of the body, ids are the only per-document allocation, and the response
//! is serialized straight from the outcomes ([`BulkResponse`] implements `Serialize`)
//! rather than through a `serde_json::Value` tree.

use std::borrow::Cow;
use std::time::Instant;

use bytes::Bytes;
use ferry_index::{
    DeleteOp, IndexOp, RefreshPolicy, SourceFilter, UpdateOp, VersionType, WriteOp, WriteOutcome,
};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value, json};

use super::args::{self, RawConditions, WriteKind};
use super::body::{self, UpdateBody};
use super::docs::{has_source_params, precheck_source, source_filter};
use super::ndjson::{self, BulkAction};
use super::write::{shard_counts, write_status};
use super::{ApiResponse, ApiResult, Node};
use crate::error::ApiError;
use crate::params::Params;

/// The id an item answers with when it failed before the engine named it.
#[derive(Debug, Clone)]
enum ItemId {
    /// A slice of the request body (a JSON string without escapes).
    Body(Bytes),
    /// A generated auto id.
    Auto([u8; super::autoid::AUTO_ID_LEN]),
    /// An id that needed unescaping.
    Owned(String),
}

impl ItemId {
    fn as_str(&self) -> &str {
        match self {
            Self::Body(b) => std::str::from_utf8(b).unwrap_or(""),
            Self::Auto(a) => std::str::from_utf8(a).unwrap_or(""),
            Self::Owned(s) => s,
        }
    }
}

/// One item's answer.
#[derive(Debug)]
struct ItemResult {
    action: BulkAction,
    group: usize,
    id: ItemId,
    result: Result<WriteOutcome, ApiError>,
    /// For updates asked for `_source`: what the `get` of the answer carries.
    get: Option<SourceFilter>,
}

/// The answer of `_bulk`, serialized in ES's shape without an intermediate JSON tree.
#[derive(Debug)]
pub struct BulkResponse {
    took: u64,
    errors: bool,
    forced_refresh: bool,
    /// (index name, copies per shard) of each group.
    groups: Vec<(String, u32)>,
    items: Vec<ItemResult>,
}

/// An item parsed and validated, waiting for its group's batch.
struct Pending {
    action: BulkAction,
    group: usize,
    id: ItemId,
    op: Option<(WriteOp, Option<String>)>,
    /// A per-item failure found before execution.
    failed: Option<ApiError>,
    get: Option<SourceFilter>,
    /// Whether this item may create its missing index.
    creates: Creates,
}

/// Whether an item may create its missing index. An index op may if its source is a JSON
/// object, which is checked only when no earlier item of its group already may (one
/// parse per group, not per document).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Creates {
    Yes,
    No,
    IfSourceIsObject,
}

impl Node {
    /// `POST [/<index>]/_bulk` with an NDJSON body.
    pub async fn bulk(&self, index: Option<&str>, body: Bytes, params: &Params) -> ApiResult {
        let resp = self.bulk_typed(index, body, params).await?;
        let body = serde_json::to_value(&resp).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(ApiResponse::ok(body))
    }

    /// `_bulk` answering the typed response (the REST face serializes it directly).
    pub async fn bulk_typed(
        &self,
        index: Option<&str>,
        body: Bytes,
        params: &Params,
    ) -> Result<BulkResponse, ApiError> {
        let started = Instant::now();
        args::refuse_unsupported(params, &["pipeline"])?;
        if body.is_empty() {
            return Err(body::body_required());
        }
        let policy = args::refresh(params)?;
        let default_routing = params.get("routing");
        let default_get = if has_source_params(params) {
            Some(source_filter(params))
        } else {
            None
        };
        let require_alias = params.bool("require_alias", false)?;
        let lines = ndjson::parse_bulk(&body)?;

        let mut errors: Vec<String> = Vec::new();
        let mut groups: Vec<(Cow<'_, str>, Vec<usize>)> = Vec::new();
        let mut pending: Vec<Pending> = Vec::with_capacity(lines.len());
        for line in &lines {
            let m = &line.meta;
            if m.pipeline.is_some() {
                return Err(ApiError::not_supported("the [pipeline] parameter"));
            }
            if m.dynamic_templates {
                return Err(ApiError::not_supported(
                    "dynamic_templates in bulk requests",
                ));
            }
            let Some(idx) = m.index.clone().or_else(|| index.map(Cow::Borrowed)) else {
                errors.push("index is missing".into());
                continue;
            };
            let group = match groups.iter().rposition(|(n, _)| *n == idx) {
                Some(g) => g,
                None => {
                    groups.push((idx, Vec::new()));
                    groups.len() - 1
                }
            };
            groups[group].1.push(pending.len());
            let create = match line.action {
                BulkAction::Create => true,
                BulkAction::Index => args::op_type_is_create(m.op_type.as_deref())?,
                _ => false,
            };
            let kind = match line.action {
                _ if create => WriteKind::Create,
                BulkAction::Update => WriteKind::Update,
                BulkAction::Delete => WriteKind::Delete,
                _ => WriteKind::Index,
            };
            let raw = RawConditions {
                if_seq_no: m.if_seq_no,
                if_primary_term: m.if_primary_term,
                version: m.version,
                version_type: args::version_type(m.version_type.as_deref())?,
            };
            let cond = raw.validate(kind, m.id.as_deref(), &mut errors);
            if m.retry_on_conflict.is_some_and(|r| r < 0) {
                errors.push("retry_on_conflict must be greater than or equal to 0".into());
            }
            let id = match &m.id {
                Some(Cow::Borrowed(s)) => ItemId::Body(body.slice_ref(s.as_bytes())),
                Some(Cow::Owned(s)) => ItemId::Owned(s.clone()),
                None if matches!(line.action, BulkAction::Index | BulkAction::Create) => {
                    ItemId::Auto(self.ids.next_bytes())
                }
                None => {
                    errors.push("id is missing".into());
                    ItemId::Owned(String::new())
                }
            };
            let op_id = match &m.id {
                Some(s) => s.clone().into_owned(),
                None => id.as_str().to_owned(),
            };
            let source = line
                .source
                .clone()
                .map(|r| body.slice(r))
                .unwrap_or_default();
            let mut get = None;
            let op = match line.action {
                BulkAction::Index | BulkAction::Create => WriteOp::Index(IndexOp {
                    id: op_id,
                    source,
                    create,
                    cond,
                    // Set by `prepare` from the routing passed beside the op.
                    routing: None,
                }),
                BulkAction::Delete => WriteOp::Delete(DeleteOp { id: op_id, cond }),
                BulkAction::Update => {
                    let upd = UpdateBody::parse(&body, &source)?;
                    get = match (m.source, &upd.source) {
                        (Some(raw), _) => {
                            let v: Value = serde_json::from_str(raw.get())
                                .map_err(|e| body::json_error(&e))?;
                            Some(SourceFilter::from_es_json(&v)?)
                        }
                        (None, Some(v)) => Some(SourceFilter::from_es_json(v)?),
                        (None, None) => default_get.clone(),
                    };
                    WriteOp::Update(UpdateOp {
                        id: op_id,
                        doc: upd.doc,
                        upsert: upd.upsert,
                        doc_as_upsert: upd.doc_as_upsert,
                        detect_noop: upd.detect_noop,
                        cond,
                        routing: None,
                    })
                }
            };
            let creates = match &op {
                WriteOp::Delete(_) if raw.version_type != VersionType::Internal => Creates::Yes,
                WriteOp::Delete(_) => Creates::No,
                WriteOp::Index(_) => Creates::IfSourceIsObject,
                WriteOp::Update(u) if u.upsert.is_some() || u.doc_as_upsert => Creates::Yes,
                WriteOp::Update(_) => Creates::No,
            };
            let mut failed = None;
            if m.require_alias.unwrap_or(require_alias) {
                let name = &groups[group].0;
                let mut e = ApiError::index_not_found(name);
                e.reason =
                    format!("[require_alias] request flag is [true] and [{name}] is not an alias");
                failed = Some(e);
            } else if m.doc_type.as_deref().is_some_and(|t| t != "_doc") {
                failed = Some(ApiError::illegal_argument(format!(
                    "mapping types other than [_doc] are not supported, found [{}]",
                    m.doc_type.as_deref().unwrap_or_default()
                )));
            }
            let routing = m.routing.as_deref().or(default_routing).map(str::to_owned);
            pending.push(Pending {
                action: line.action,
                group,
                id,
                op: Some((op, routing)),
                failed,
                get,
                creates,
            });
        }
        if pending.is_empty() && errors.is_empty() {
            errors.push("no requests added".into());
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(&errors));
        }
        drop(lines);

        // One batch per index, all indices concurrently.
        let mut batches = Vec::with_capacity(groups.len());
        for (g, (name, members)) in groups.iter().enumerate() {
            let mut ops = Vec::with_capacity(members.len());
            let mut positions = Vec::with_capacity(members.len());
            let mut may_create = false;
            for &i in members {
                let p = &mut pending[i];
                if p.failed.is_none() {
                    may_create = may_create
                        || match (p.creates, &p.op) {
                            (Creates::Yes, _) => true,
                            (Creates::IfSourceIsObject, Some((WriteOp::Index(i), _))) => {
                                precheck_source(&i.source).is_ok()
                            }
                            _ => false,
                        };
                    if let Some(op) = p.op.take() {
                        ops.push(op);
                        positions.push(i);
                    }
                }
            }
            batches.push(self.run_group(g, name.to_string(), ops, positions, may_create, policy));
        }
        let done = futures::future::join_all(batches).await;

        let mut results: Vec<Option<Result<WriteOutcome, ApiError>>> =
            (0..pending.len()).map(|_| None).collect();
        let mut group_info: Vec<(String, u32)> =
            groups.iter().map(|(n, _)| (n.to_string(), 1)).collect();
        for (g, copies, positions, outcomes) in done {
            group_info[g].1 = copies;
            for (pos, r) in positions.into_iter().zip(outcomes) {
                results[pos] = Some(r);
            }
        }
        let mut errors = false;
        let items: Vec<ItemResult> = pending
            .into_iter()
            .zip(results)
            .map(|(p, r)| {
                let result = match (p.failed, r) {
                    (Some(e), _) => Err(e),
                    (None, Some(r)) => r,
                    (None, None) => Err(ApiError::internal("the item was not executed")),
                };
                errors |= result.is_err();
                ItemResult {
                    action: p.action,
                    group: p.group,
                    id: p.id,
                    result,
                    get: p.get,
                }
            })
            .collect();
        Ok(BulkResponse {
            took: started.elapsed().as_millis() as u64,
            errors,
            forced_refresh: policy == RefreshPolicy::Immediate,
            groups: group_info,
            items,
        })
    }

    /// Runs one index's batch: `(group, copies, positions, outcomes)`.
    async fn run_group(
        &self,
        group: usize,
        name: String,
        ops: Vec<(WriteOp, Option<String>)>,
        positions: Vec<usize>,
        may_create: bool,
        policy: RefreshPolicy,
    ) -> (usize, u32, Vec<usize>, Vec<Result<WriteOutcome, ApiError>>) {
        if ops.is_empty() {
            return (group, 1, positions, Vec::new());
        }
        match self.entry_for_write(&name, may_create).await {
            Err(e) => {
                let n = ops.len();
                (group, 1, positions, vec![Err(e); n])
            }
            Ok(entry) => {
                let copies = entry.copies();
                let out = self.write_ops(&entry, ops, policy).await;
                (group, copies, positions, out)
            }
        }
    }
}

impl Serialize for BulkResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("took", &self.took)?;
        m.serialize_entry("errors", &self.errors)?;
        m.serialize_entry("items", &Items(self))?;
        m.end()
    }
}

struct Items<'a>(&'a BulkResponse);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.items.len()))?;
        for item in &self.0.items {
            seq.serialize_element(&Item { resp: self.0, item })?;
        }
        seq.end()
    }
}

struct Item<'a> {
    resp: &'a BulkResponse,
    item: &'a ItemResult,
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.item.action.as_str(), &ItemBody(self))?;
        m.end()
    }
}

struct ItemBody<'a, 'b>(&'b Item<'a>);

impl Serialize for ItemBody<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Item { resp, item } = self.0;
        let (index, copies) = &resp.groups[item.group];
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("_index", index)?;
        m.serialize_entry("_type", "_doc")?;
        match &item.result {
            Ok(o) => {
                let (total, successful) = shard_counts(o.result, *copies);
                m.serialize_entry("_id", &o.id)?;
                m.serialize_entry("_version", &o.version)?;
                m.serialize_entry("result", o.result.as_str())?;
                if resp.forced_refresh && o.result != ferry_index::WriteResult::Noop {
                    m.serialize_entry("forced_refresh", &true)?;
                }
                m.serialize_entry("_shards", &Shards { total, successful })?;
                m.serialize_entry("_seq_no", &o.seq_no)?;
                m.serialize_entry("_primary_term", &o.primary_term)?;
                if let (Some(filter), Some(src)) = (&item.get, &o.source) {
                    let mut get = Map::new();
                    get.insert("_seq_no".into(), json!(o.seq_no));
                    get.insert("_primary_term".into(), json!(o.primary_term));
                    get.insert("found".into(), json!(true));
                    if let Some(v) = filter.apply(src) {
                        get.insert("_source".into(), v);
                    }
                    m.serialize_entry("get", &get)?;
                }
                m.serialize_entry("status", &write_status(o.result))?;
            }
            Err(e) => {
                m.serialize_entry("_id", item.id.as_str())?;
                m.serialize_entry("status", &e.status)?;
                m.serialize_entry("error", &e.item_object())?;
            }
        }
        m.end()
    }
}

struct Shards {
    total: u32,
    successful: u32,
}

impl Serialize for Shards {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("total", &self.total)?;
        m.serialize_entry("successful", &self.successful)?;
        m.serialize_entry("failed", &0)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_index::WriteResult;

    #[test]
    fn response_serializes_in_elasticsearch_shape() {
        let ok = WriteOutcome {
            id: "1".into(),
            shard: 0,
            result: WriteResult::Created,
            seq_no: 0,
            primary_term: 1,
            version: 1,
            source: None,
        };
        let resp = BulkResponse {
            took: 3,
            errors: true,
            forced_refresh: false,
            groups: vec![("logs".into(), 2)],
            items: vec![
                ItemResult {
                    action: BulkAction::Index,
                    group: 0,
                    id: ItemId::Owned("1".into()),
                    result: Ok(ok),
                    get: None,
                },
                ItemResult {
                    action: BulkAction::Create,
                    group: 0,
                    id: ItemId::Body(Bytes::from_static(b"2")),
                    result: Err(ApiError::new(
                        409,
                        "version_conflict_engine_exception",
                        "[2]: version conflict",
                    )),
                    get: None,
                },
            ],
        };
        let text = serde_json::to_string(&resp).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"took":3,"errors":true,"items":["#,
                r#"{"index":{"_index":"logs","_type":"_doc","_id":"1","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},"#,
                r#"{"create":{"_index":"logs","_type":"_doc","_id":"2","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[2]: version conflict"}}}"#,
                "]}"
            )
        );
    }
}
