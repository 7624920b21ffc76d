//! Pre-flight of a write batch, before anything is proposed: request validation (ES's
//! `Validation Failed` rules), parsing each source once, checking it against the
//! mapping, collecting the fields dynamic mapping must add, and routing each op to
//! its shard (the routing value is also put into the op, to be stored as `_routing`).
//!
//! New fields accumulate across the batch (a later op is checked against the fields an
//! earlier op added), and one bad op fails alone. The caller persists
//! [`PreparedBatch::mapping_update`] (the whole merged mapping) before executing, so a
//! mapping never lags the documents indexed with it. Nothing here writes anything.

use crate::mapping::json::Json;
use crate::versioning::version_type_name;
use crate::{Conditions, IndexError, Mapping, Result, VersionType, WriteOp, routing};

/// Longest document id ES accepts, in bytes.
const MAX_ID_BYTES: usize = 512;

/// One op of a prepared batch.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// Valid: goes to `shard`.
    Ready { shard: u32, op: WriteOp },
    /// Rejected before proposing; this is its answer.
    Failed(IndexError),
}

/// A validated, routed write batch, in input order.
#[derive(Debug)]
pub struct PreparedBatch {
    pub(crate) items: Vec<Prepared>,
    mapping_update: Option<Mapping>,
}

impl PreparedBatch {
    /// The merged mapping (current + fields the batch adds) the caller must persist and
    /// install before executing; `None` when the batch adds no field.
    pub fn mapping_update(&self) -> Option<&Mapping> {
        self.mapping_update.as_ref()
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the batch has no op.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The pre-flight error of op `i`, if it was rejected.
    pub fn error(&self, i: usize) -> Option<&IndexError> {
        match self.items.get(i) {
            Some(Prepared::Failed(e)) => Some(e),
            _ => None,
        }
    }
}

fn invalid(msg: impl std::fmt::Display) -> IndexError {
    IndexError::IllegalArgument(format!("Validation Failed: 1: {msg};"))
}

fn check_id(id: &str, op: &WriteOp) -> Result<()> {
    if id.is_empty() {
        return Err(invalid(match op {
            WriteOp::Index(_) => "if _id is specified it must not be empty",
            _ => "id is missing",
        }));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(invalid(format!(
            "id [{id}] is too long, must be no longer than {MAX_ID_BYTES} bytes but was: {}",
            id.len()
        )));
    }
    Ok(())
}

/// The condition rules shared by index and delete.
fn check_conditions(cond: &Conditions) -> Result<()> {
    match (cond.if_seq_no, cond.if_primary_term) {
        (Some(_), None | Some(0)) => {
            return Err(invalid("ifSeqNo is set, but primary term is [0]"));
        }
        (None, Some(t)) => {
            return Err(invalid(format!(
                "ifSeqNo is unassigned, but primary term is [{t}]"
            )));
        }
        _ => {}
    }
    let external = cond.version_type != VersionType::Internal;
    if cond.if_seq_no.is_some() && (external || cond.version.is_some()) {
        return Err(invalid(
            "compare and write operations can not use versioning",
        ));
    }
    if !external && cond.version.is_some() {
        return Err(invalid(
            "internal versioning can not be used for optimistic concurrency control. \
             Please use `if_seq_no` and `if_primary_term` instead",
        ));
    }
    if external && cond.version.is_none() {
        return Err(invalid(format!(
            "illegal version value [-3] for version type [{}]",
            version_type_name(cond.version_type)
        )));
    }
    Ok(())
}

fn validate(op: &WriteOp) -> Result<()> {
    check_id(op.id(), op)?;
    match op {
        WriteOp::Index(op) => {
            if op.create && op.cond.version_type != VersionType::Internal {
                return Err(invalid(
                    "create operations only support internal versioning. use index instead",
                ));
            }
            if op.create && op.cond.if_seq_no.is_some() {
                return Err(invalid(
                    "create operations do not support compare and set. use index instead",
                ));
            }
            check_conditions(&op.cond)
        }
        WriteOp::Delete(op) => check_conditions(&op.cond),
        WriteOp::Update(op) => {
            if op.cond.version_type != VersionType::Internal || op.cond.version.is_some() {
                return Err(invalid(
                    "internal versioning can not be used for optimistic concurrency control. \
                     Please use `if_seq_no` and `if_primary_term` instead",
                ));
            }
            check_conditions(&op.cond)?;
            if op.doc.is_none() && op.upsert.is_none() {
                return Err(invalid("script or doc is missing"));
            }
            if op.doc_as_upsert && op.doc.is_none() {
                return Err(invalid("doc must be specified if doc_as_upsert is enabled"));
            }
            if (op.upsert.is_some() || op.doc_as_upsert) && op.cond.if_seq_no.is_some() {
                return Err(invalid(
                    "upsert requests don't support `if_seq_no` and `if_primary_term`",
                ));
            }
            Ok(())
        }
    }
}

/// Parses a source as a JSON object, with ES's `document_parsing_exception` wording.
pub(crate) fn parse_source(bytes: &[u8]) -> Result<Json<'_>> {
    match Json::parse(bytes) {
        Ok(v @ Json::Obj(_)) => Ok(v),
        Ok(_) => Err(IndexError::DocumentParsing(
            "[1:1] failed to parse: the document source must be a JSON object".into(),
        )),
        Err(e) => Err(IndexError::DocumentParsing(format!(
            "[{}:{}] failed to parse: {e}",
            e.line(),
            e.column()
        ))),
    }
}

/// The sources of an op that the mapping must accept.
fn sources(op: &WriteOp) -> Vec<&[u8]> {
    match op {
        WriteOp::Index(op) => vec![&op.source[..]],
        WriteOp::Delete(_) => Vec::new(),
        WriteOp::Update(op) => op
            .doc
            .iter()
            .chain(op.upsert.iter())
            .map(|b| &b[..])
            .collect(),
    }
}

/// Validates, parses, maps and routes `ops` against `mapping` for an index of `shards`
/// shards. Each op's routing value picks its shard and becomes the `_routing` stored
/// with the document it writes (replacing whatever the op carried).
pub(crate) fn prepare(
    mapping: &Mapping,
    shards: u32,
    ops: Vec<(WriteOp, Option<String>)>,
) -> PreparedBatch {
    let mut merged: Option<Mapping> = None;
    let mut items = Vec::with_capacity(ops.len());
    for (mut op, routing_value) in ops {
        let checked = validate(&op).and_then(|()| {
            let mut added: Option<Mapping> = None;
            for source in sources(&op) {
                let value = parse_source(source)?;
                let current = added.as_ref().or(merged.as_ref()).unwrap_or(mapping);
                if let Some(new_fields) = current.dynamic_update_of(op.id(), &value)? {
                    let mut next = current.clone();
                    next.merge(&new_fields)?;
                    added = Some(next);
                }
            }
            Ok(added)
        });
        match checked {
            Ok(added) => {
                if added.is_some() {
                    merged = added;
                }
                let shard = routing::shard_for(op.id(), routing_value.as_deref(), shards);
                op.set_routing(routing_value);
                items.push(Prepared::Ready { shard, op });
            }
            Err(e) => items.push(Prepared::Failed(e)),
        }
    }
    PreparedBatch {
        items,
        mapping_update: merged,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{DeleteOp, IndexOp, UpdateOp};

    fn index(id: &str, source: &str) -> WriteOp {
        WriteOp::Index(IndexOp {
            id: id.into(),
            source: Bytes::copy_from_slice(source.as_bytes()),
            create: false,
            cond: Conditions::default(),
            routing: None,
        })
    }

    fn failed(b: &PreparedBatch) -> Vec<usize> {
        (0..b.len()).filter(|i| b.error(*i).is_some()).collect()
    }

    #[test]
    fn a_bad_op_fails_alone() {
        let ops = vec![
            (index("1", r#"{"a":1}"#), None),
            (index("2", r#"{"a":"#), None),
            (index("3", "[1,2]"), None),
            (index("", "{}"), None),
            (index("5", "{}"), Some("r".to_owned())),
        ];
        let b = prepare(&Mapping::default(), 3, ops);
        assert_eq!(failed(&b), [1, 2, 3]);
        assert_eq!(b.error(1).unwrap().es_type(), "document_parsing_exception");
        assert!(
            b.error(1).unwrap().to_string().starts_with("[1:"),
            "{}",
            b.error(1).unwrap()
        );
        assert_eq!(b.error(3).unwrap().es_type(), "illegal_argument_exception");
        let Prepared::Ready { shard, op } = &b.items[4] else {
            panic!("op 5 is ready")
        };
        assert_eq!(*shard, routing::shard_for("x", Some("r"), 3));
        assert_eq!(op.routing(), Some("r"), "the routing is kept in the op");
        let Prepared::Ready { op, .. } = &b.items[0] else {
            panic!("op 1 is ready")
        };
        assert_eq!(op.routing(), None);
    }

    #[test]
    fn request_validation_rules() {
        let cond = |s: Option<u64>, t: Option<u64>, v: Option<u64>, vt| Conditions {
            if_seq_no: s,
            if_primary_term: t,
            version: v,
            version_type: vt,
        };
        let del = |c| {
            WriteOp::Delete(DeleteOp {
                id: "1".into(),
                cond: c,
            })
        };
        let bad = [
            del(cond(Some(1), None, None, VersionType::Internal)),
            del(cond(None, Some(1), None, VersionType::Internal)),
            del(cond(None, None, Some(3), VersionType::Internal)),
            del(cond(None, None, None, VersionType::External)),
            del(cond(Some(1), Some(1), Some(2), VersionType::External)),
            WriteOp::Update(UpdateOp {
                id: "1".into(),
                doc: None,
                upsert: None,
                doc_as_upsert: false,
                detect_noop: true,
                cond: Conditions::default(),
                routing: None,
            }),
        ];
        for op in bad {
            assert!(validate(&op).is_err(), "{op:?}");
        }
        assert!(validate(&del(cond(Some(1), Some(1), None, VersionType::Internal))).is_ok());
        assert!(validate(&del(cond(None, None, Some(5), VersionType::ExternalGte))).is_ok());
        let long = "x".repeat(513);
        let e = validate(&index(&long, "{}")).unwrap_err();
        assert!(e.to_string().contains("is too long"), "{e}");
    }
}
