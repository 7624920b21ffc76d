//! Single-document requests: index, create, get, `_source`, delete, update, `_mget`.
//!
//! Every parameter is validated (ES's checks and wording) before anything is written; a
//! write to a missing index creates it with default settings, as ES's
//! `action.auto_create_index` does, but only once the request is known to be valid.
//! Realtime gets read the engine's document table; nothing here touches search.

use bytes::Bytes;
use ferry_index::{
    DeleteOp, IndexOp, SourceFilter, StoredDoc, UpdateOp, VersionType, WriteOp, WriteResult,
};
use serde_json::{Map, Value, json};

use super::args::{self, RawConditions, WriteKind};
use super::body::{self, UpdateBody};
use super::entry::IndexEntry;
use super::names::validate_index_name;
use super::write::{write_body, write_status};
use super::{ApiResponse, ApiResult, Node};
use crate::error::ApiError;
use crate::params::Params;

/// `_source`, `_source_includes`/`_source_include`, `_source_excludes`/`_source_exclude`.
pub(super) fn source_filter(params: &Params) -> SourceFilter {
    SourceFilter::from_params(
        params.get("_source"),
        params
            .get("_source_includes")
            .or(params.get("_source_include")),
        params
            .get("_source_excludes")
            .or(params.get("_source_exclude")),
    )
}

/// Whether any `_source*` URL parameter was given.
pub(super) fn has_source_params(params: &Params) -> bool {
    [
        "_source",
        "_source_includes",
        "_source_include",
        "_source_excludes",
        "_source_exclude",
    ]
    .iter()
    .any(|k| params.get(k).is_some())
}

/// Refuses `require_alias=true`: this node has no aliases, so the target is never one.
pub(super) fn check_require_alias(params: &Params, index: &str) -> Result<(), ApiError> {
    if params.bool("require_alias", false)? {
        let mut e = ApiError::index_not_found(index);
        e.reason = format!("[require_alias] request flag is [true] and [{index}] is not an alias");
        return Err(e);
    }
    Ok(())
}

/// Checks that `source` is a JSON object before a missing index is created for it.
pub(super) fn precheck_source(source: &[u8]) -> Result<(), ApiError> {
    let first = source.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::new(
            400,
            "document_parsing_exception",
            "failed to parse: the document is not a JSON object",
        ));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(source)
        .map(drop)
        .map_err(|e| {
            ApiError::new(
                400,
                "document_parsing_exception",
                format!("failed to parse: {}", body::json_error(&e).reason),
            )
        })
}

/// The body of a realtime get that found `doc`: `_routing` is the routing the document
/// was stored with (absent when it has none), whatever routing the request gave.
pub(super) fn found_body(
    index: &str,
    doc: &StoredDoc,
    filter: &SourceFilter,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("_index".into(), json!(index));
    m.insert("_type".into(), json!("_doc"));
    m.insert("_id".into(), json!(doc.id));
    m.insert("_version".into(), json!(doc.version));
    m.insert("_seq_no".into(), json!(doc.seq_no));
    m.insert("_primary_term".into(), json!(doc.primary_term));
    if let Some(r) = &doc.routing {
        m.insert("_routing".into(), json!(r));
    }
    m.insert("found".into(), json!(true));
    if let Some(src) = filter.apply(&doc.source) {
        m.insert("_source".into(), src);
    }
    m
}

/// The body of a get that found nothing.
pub(super) fn not_found_body(index: &str, id: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("_index".into(), json!(index));
    m.insert("_type".into(), json!("_doc"));
    m.insert("_id".into(), json!(id));
    m.insert("found".into(), json!(false));
    m
}

impl Node {
    /// `PUT|POST /<index>/_doc[/<id>]`, `PUT /<index>/_create/<id>` (`op_type` in params).
    pub async fn index_doc(
        &self,
        index: &str,
        id: Option<&str>,
        body: Bytes,
        params: &Params,
    ) -> ApiResult {
        args::refuse_unsupported(params, &["pipeline"])?;
        if body::is_blank(&body) {
            return Err(body::body_required());
        }
        let policy = args::refresh(params)?;
        let create = args::op_type_is_create(params.get("op_type"))? || id.is_none();
        let raw = RawConditions::from_params(params)?;
        let mut errors = Vec::new();
        let cond = raw.validate(
            if create {
                WriteKind::Create
            } else {
                WriteKind::Index
            },
            id,
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(ApiError::validation(&errors));
        }
        check_require_alias(params, index)?;
        if self.entry(index).is_none() {
            precheck_source(&body)?;
        }
        let e = self.entry_for_write(index, true).await?;
        let id = id.map_or_else(|| self.ids.next_id(), str::to_owned);
        let op = WriteOp::Index(IndexOp {
            id,
            source: body,
            create,
            cond,
            // Set by `prepare` from the routing passed beside the op.
            routing: None,
        });
        self.write_one(&e, op, params.get("routing"), policy).await
    }

    /// Runs one write and renders ES's answer.
    async fn write_one(
        &self,
        e: &IndexEntry,
        op: WriteOp,
        routing: Option<&str>,
        policy: ferry_index::RefreshPolicy,
    ) -> ApiResult {
        let result = self
            .write_ops(e, vec![(op, routing.map(str::to_owned))], policy)
            .await
            .pop();
        let outcome =
            result.unwrap_or_else(|| Err(ApiError::internal("the engine did not answer")))?;
        let forced = policy == ferry_index::RefreshPolicy::Immediate;
        let body = write_body(&e.name, &outcome, e.copies(), forced);
        Ok(ApiResponse::with_status(
            write_status(outcome.result),
            Value::Object(body),
        ))
    }

    /// `GET /<index>/_doc/<id>` (and `HEAD`: the same status, no body).
    pub async fn get_doc(&self, index: &str, id: &str, params: &Params) -> ApiResult {
        let (e, doc) = self.realtime_get(index, id, params).await?;
        match doc {
            Some(doc) => Ok(ApiResponse::ok(Value::Object(found_body(
                &e.name,
                &doc,
                &source_filter(params),
            )))),
            None => Ok(ApiResponse::with_status(
                404,
                Value::Object(not_found_body(&e.name, id)),
            )),
        }
    }

    /// `GET /<index>/_source/<id>`: the source alone.
    pub async fn get_source(&self, index: &str, id: &str, params: &Params) -> ApiResult {
        let (e, doc) = self.realtime_get(index, id, params).await?;
        match doc.and_then(|d| source_filter(params).apply(&d.source)) {
            Some(src) => Ok(ApiResponse::ok(src)),
            None => Err(ApiError::new(
                404,
                "resource_not_found_exception",
                format!("Document not found [{}]/[_doc]/[{id}]", e.name),
            )),
        }
    }

    async fn realtime_get(
        &self,
        index: &str,
        id: &str,
        params: &Params,
    ) -> Result<(std::sync::Arc<IndexEntry>, Option<StoredDoc>), ApiError> {
        args::refuse_unsupported(params, &["stored_fields"])?;
        let version = args::long(params, "version")?;
        let vt = args::version_type(params.get("version_type"))?;
        let refresh = params.bool("refresh", false)?;
        params.bool("realtime", true)?;
        let e = self.require(index)?;
        let h = e.handle()?;
        if refresh {
            h.refresh()
                .await
                .map_err(|err| ApiError::from(err).for_index(&e.name, &e.uuid))?;
        }
        let doc = h
            .get(id, params.get("routing"))
            .map_err(|err| ApiError::from(err).for_index(&e.name, &e.uuid))?;
        if let (Some(doc), Some(v)) = (&doc, version) {
            let conflict = match vt {
                VersionType::Internal | VersionType::External => doc.version as i64 != v,
                VersionType::ExternalGte => (doc.version as i64) < v,
            };
            if conflict {
                return Err(ApiError::new(
                    409,
                    "version_conflict_engine_exception",
                    format!(
                        "[{id}]: version conflict, current version [{}] is different than the one provided [{v}]",
                        doc.version
                    ),
                )
                .for_index(&e.name, &e.uuid));
            }
        }
        Ok((e, doc))
    }

    /// `DELETE /<index>/_doc/<id>`.
    pub async fn delete_doc(&self, index: &str, id: &str, params: &Params) -> ApiResult {
        let policy = args::refresh(params)?;
        let raw = RawConditions::from_params(params)?;
        let mut errors = Vec::new();
        let cond = raw.validate(WriteKind::Delete, Some(id), &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(&errors));
        }
        // ES creates a missing index for a delete only with external versioning.
        let e = self
            .entry_for_write(index, raw.version_type != VersionType::Internal)
            .await?;
        let op = WriteOp::Delete(DeleteOp {
            id: id.to_owned(),
            cond,
        });
        self.write_one(&e, op, params.get("routing"), policy).await
    }

    /// `POST /<index>/_update/<id>`: `doc` merge, `upsert`, `doc_as_upsert`, `detect_noop`.
    pub async fn update_doc(
        &self,
        index: &str,
        id: &str,
        body: Bytes,
        params: &Params,
    ) -> ApiResult {
        let upd = UpdateBody::parse(&body, &body)?;
        let policy = args::refresh(params)?;
        let raw = RawConditions::from_params(params)?;
        let mut errors = Vec::new();
        let cond = raw.validate(WriteKind::Update, Some(id), &mut errors);
        let retries = params.u64("retry_on_conflict")?.unwrap_or(0);
        if !errors.is_empty() {
            return Err(ApiError::validation(&errors));
        }
        check_require_alias(params, index)?;
        let filter = if has_source_params(params) {
            Some(source_filter(params))
        } else {
            upd.source
                .as_ref()
                .map(SourceFilter::from_es_json)
                .transpose()?
        };
        // An update that cannot insert does not create a missing index: it fails alone.
        if upd.upsert.is_none() && !upd.doc_as_upsert && self.entry(index).is_none() {
            validate_index_name(index)?;
            return Err(ApiError::new(
                404,
                "document_missing_exception",
                format!("[{id}]: document missing"),
            )
            .with("index_uuid", "_na_")
            .with("index", index));
        }
        let e = self.entry_for_write(index, true).await?;
        let op = UpdateOp {
            id: id.to_owned(),
            doc: upd.doc,
            upsert: upd.upsert,
            doc_as_upsert: upd.doc_as_upsert,
            detect_noop: upd.detect_noop,
            cond,
            // Set by `prepare` from the routing passed beside the op.
            routing: None,
        };
        let routing = params.get("routing").map(str::to_owned);
        let mut attempt = 0;
        let outcome = loop {
            let r = self
                .write_ops(
                    &e,
                    vec![(WriteOp::Update(op.clone()), routing.clone())],
                    policy,
                )
                .await
                .pop();
            match r.unwrap_or_else(|| Err(ApiError::internal("the engine did not answer"))) {
                Err(err)
                    if err.status == 409 && attempt < retries && op.cond.if_seq_no.is_none() =>
                {
                    attempt += 1
                }
                other => break other?,
            }
        };
        let forced = policy == ferry_index::RefreshPolicy::Immediate;
        let mut out = write_body(&e.name, &outcome, e.copies(), forced);
        if let (Some(filter), Some(src)) = (filter, &outcome.source) {
            let mut get = Map::new();
            get.insert("_seq_no".into(), json!(outcome.seq_no));
            get.insert("_primary_term".into(), json!(outcome.primary_term));
            get.insert(
                "found".into(),
                json!(outcome.result != WriteResult::Deleted),
            );
            if let Some(v) = filter.apply(src) {
                get.insert("_source".into(), v);
            }
            out.insert("get".into(), Value::Object(get));
        }
        Ok(ApiResponse::with_status(
            write_status(outcome.result),
            Value::Object(out),
        ))
    }

    /// `GET|POST [/<index>]/_mget` with `docs` or `ids`.
    pub async fn mget(&self, index: Option<&str>, body: Bytes, params: &Params) -> ApiResult {
        args::refuse_unsupported(params, &["stored_fields"])?;
        let wanted = parse_mget(&body::required_object(&body)?)?;
        let default_filter = source_filter(params);
        let default_routing = params.get("routing");
        let mut errors = Vec::new();
        if wanted.is_empty() {
            errors.push("no documents to get".to_owned());
        }
        for (i, w) in wanted.iter().enumerate() {
            if w.index.is_none() && index.is_none() {
                errors.push(format!("index is missing for doc {i}"));
            }
            if w.id.is_none() {
                errors.push(format!("id is missing for doc {i}"));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(&errors));
        }
        let refresh = params.bool("refresh", false)?;
        let mut docs = Vec::with_capacity(wanted.len());
        for MgetItem {
            index: idx,
            id,
            routing,
            filter,
        } in wanted
        {
            let idx = idx.or_else(|| index.map(str::to_owned)).unwrap_or_default();
            let id = id.unwrap_or_default();
            let filter = filter.as_ref().unwrap_or(&default_filter);
            let routing = routing.as_deref().or(default_routing);
            let got = async {
                let e = self.require(&idx)?;
                let h = e.handle()?;
                if refresh {
                    h.refresh().await?;
                }
                let doc = h
                    .get(&id, routing)
                    .map_err(|err| ApiError::from(err).for_index(&e.name, &e.uuid))?;
                Ok::<_, ApiError>(doc)
            }
            .await;
            docs.push(match got {
                Ok(Some(doc)) => Value::Object(found_body(&idx, &doc, filter)),
                Ok(None) => Value::Object(not_found_body(&idx, &id)),
                Err(err) => {
                    let mut m = Map::new();
                    m.insert("_index".into(), json!(idx));
                    m.insert("_type".into(), json!("_doc"));
                    m.insert("_id".into(), json!(id));
                    m.insert("error".into(), err.error_object());
                    Value::Object(m)
                }
            });
        }
        Ok(ApiResponse::ok(json!({ "docs": docs })))
    }
}

/// One document `_mget` asks for.
#[derive(Debug, Default)]
struct MgetItem {
    index: Option<String>,
    id: Option<String>,
    routing: Option<String>,
    filter: Option<SourceFilter>,
}

/// The `docs` or `ids` of an `_mget` body.
fn parse_mget(body: &Map<String, Value>) -> Result<Vec<MgetItem>, ApiError> {
    let mut wanted = Vec::new();
    for (k, v) in body {
        match (k.as_str(), v) {
            ("docs", Value::Array(docs)) => {
                for d in docs {
                    let Value::Object(d) = d else {
                        return Err(ApiError::parsing(
                            "docs array element should include an object",
                        ));
                    };
                    let mut item = MgetItem::default();
                    for (dk, dv) in d {
                        match dk.as_str() {
                            "_index" => item.index = scalar_text(dv),
                            "_id" => item.id = scalar_text(dv),
                            "routing" | "_routing" => item.routing = scalar_text(dv),
                            "_source" => item.filter = Some(SourceFilter::from_es_json(dv)?),
                            "_type" => {}
                            "stored_fields" => {
                                return Err(ApiError::not_supported("stored_fields in _mget"));
                            }
                            other => {
                                return Err(ApiError::parsing(format!(
                                    "unknown key [{other}] in [docs]"
                                )));
                            }
                        }
                    }
                    wanted.push(item);
                }
            }
            ("ids", Value::Array(ids)) => {
                wanted.extend(ids.iter().map(|id| MgetItem {
                    id: scalar_text(id),
                    ..MgetItem::default()
                }));
            }
            (other, v) => {
                return Err(ApiError::parsing(format!(
                    "unknown parameter [{other}] in request body or parameter is of the wrong type[{}] ",
                    body::token_of(v)
                )));
            }
        }
    }
    Ok(wanted)
}

/// A string or number as text (ids may be given as numbers).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
