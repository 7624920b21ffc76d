//! The deterministic write rules of the state machine: concurrency conditions
//! (`if_seq_no`/`if_primary_term`, `op_type=create`, external versions), the version a
//! write gives a document, and the `_update` merge of a partial document.
//!
//! Everything here is pure: the state machine calls it with the document's current row
//! while applying a Raft entry, so the same entry always gives the same answer on every
//! copy and on every replay. The error texts are Elasticsearch's, byte for byte. This
//! module does not read or write storage and does not validate requests (that happens
//! before a write is proposed, in `prepare`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Conditions, IndexError, VersionType};

/// What the document table holds for one id: the live document or its tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DocVersion {
    /// `_seq_no` of the operation that wrote this row (its history entry).
    pub seq_no: u64,
    /// `_primary_term` of that operation.
    pub primary_term: u64,
    /// `_version` after that operation.
    pub version: u64,
    /// The row is a tombstone: the last operation deleted the document.
    pub deleted: bool,
}

impl DocVersion {
    /// The row if it is a live document.
    pub fn live(row: Option<&DocVersion>) -> Option<&DocVersion> {
        row.filter(|r| !r.deleted)
    }
}

/// `version_conflict_engine_exception` with ES's reason: `[id]: version conflict, ...`.
fn conflict(id: &str, explanation: impl std::fmt::Display) -> IndexError {
    IndexError::VersionConflict(format!("[{id}]: version conflict, {explanation}"))
}

/// Checks `if_seq_no`/`if_primary_term` and external versions against `current`
/// (a tombstone counts as "no document" for the seq_no check but keeps its version).
pub(crate) fn check_conditions(
    id: &str,
    current: Option<&DocVersion>,
    cond: &Conditions,
) -> Result<(), IndexError> {
    if let Some(if_seq_no) = cond.if_seq_no {
        let if_term = cond.if_primary_term.unwrap_or(0);
        let required = format!("required seqNo [{if_seq_no}], primary term [{if_term}]. ");
        match DocVersion::live(current) {
            None => return Err(conflict(id, format!("{required}but no document was found"))),
            Some(c) if c.seq_no != if_seq_no || c.primary_term != if_term => {
                return Err(conflict(
                    id,
                    format!(
                        "{required}current document has seqNo [{}] and primary term [{}]",
                        c.seq_no, c.primary_term
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    match cond.version_type {
        VersionType::Internal => Ok(()),
        VersionType::External | VersionType::ExternalGte => {
            let Some(given) = cond.version else {
                return Err(IndexError::IllegalArgument(format!(
                    "Validation Failed: 1: illegal version value [-3] for version type [{}];",
                    version_type_name(cond.version_type)
                )));
            };
            let Some(cur) = current else { return Ok(()) };
            let gte = cond.version_type == VersionType::ExternalGte;
            if gte && cur.version > given {
                Err(conflict(
                    id,
                    format!(
                        "current version [{}] is higher than the one provided [{given}]",
                        cur.version
                    ),
                ))
            } else if !gte && cur.version >= given {
                Err(conflict(
                    id,
                    format!(
                        "current version [{}] is higher or equal to the one provided [{given}]",
                        cur.version
                    ),
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// ES's upper-case name of a version type, as its validation messages print it.
pub(crate) fn version_type_name(t: VersionType) -> &'static str {
    match t {
        VersionType::Internal => "INTERNAL",
        VersionType::External => "EXTERNAL",
        VersionType::ExternalGte => "EXTERNAL_GTE",
    }
}

/// The version a successful write gets: the next internal version (continuing from a
/// tombstone, so a re-created id does not restart at 1), or the external one given.
pub(crate) fn next_version(current: Option<&DocVersion>, cond: &Conditions) -> u64 {
    match (cond.version_type, cond.version) {
        (VersionType::External | VersionType::ExternalGte, Some(v)) => v,
        _ => current.map_or(1, |c| c.version + 1),
    }
}

/// Rules of `index` / `create`: returns the version the document gets.
pub(crate) fn index_version(
    id: &str,
    current: Option<&DocVersion>,
    create: bool,
    cond: &Conditions,
) -> Result<u64, IndexError> {
    check_conditions(id, current, cond)?;
    if create && let Some(live) = DocVersion::live(current) {
        return Err(conflict(
            id,
            format!(
                "document already exists (current version [{}])",
                live.version
            ),
        ));
    }
    Ok(next_version(current, cond))
}

/// Rules of `delete` (a missing document is not an error: the caller answers
/// `not_found`): returns the version the tombstone gets.
pub(crate) fn delete_version(
    id: &str,
    current: Option<&DocVersion>,
    cond: &Conditions,
) -> Result<u64, IndexError> {
    check_conditions(id, current, cond)?;
    Ok(next_version(current, cond))
}

/// Merges `changes` into `target` as ES's `XContentHelper.update` does: objects merge
/// recursively, any other value replaces. Returns whether anything changed; with
/// `check_unequal` false every replaced value counts as a change (no noop detection).
pub(crate) fn merge_source(
    target: &mut Map<String, Value>,
    changes: Map<String, Value>,
    check_unequal: bool,
) -> bool {
    let mut modified = false;
    for (key, new) in changes {
        match target.get_mut(&key) {
            None => {
                target.insert(key, new);
                modified = true;
            }
            Some(Value::Object(old)) if new.is_object() => {
                let Value::Object(new) = new else { continue };
                let child = merge_source(old, new, check_unequal && !modified);
                modified |= child;
            }
            Some(old) => {
                let changed = !check_unequal || modified || *old != new;
                *old = new;
                modified |= changed;
            }
        }
    }
    modified
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn row(seq_no: u64, term: u64, version: u64, deleted: bool) -> DocVersion {
        DocVersion {
            seq_no,
            primary_term: term,
            version,
            deleted,
        }
    }

    fn seq(if_seq_no: u64, term: u64) -> Conditions {
        Conditions {
            if_seq_no: Some(if_seq_no),
            if_primary_term: Some(term),
            ..Default::default()
        }
    }

    fn external(v: u64, gte: bool) -> Conditions {
        Conditions {
            version: Some(v),
            version_type: if gte {
                VersionType::ExternalGte
            } else {
                VersionType::External
            },
            ..Default::default()
        }
    }

    #[test]
    fn if_seq_no_mismatch_has_the_es_reason() {
        let cur = row(6, 1, 3, false);
        let e = index_version("1", Some(&cur), false, &seq(5, 1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[1]: version conflict, required seqNo [5], primary term [1]. current document has seqNo [6] and primary term [1]"
        );
        assert_eq!(
            index_version("1", Some(&cur), false, &seq(6, 1)).unwrap(),
            4
        );
    }

    #[test]
    fn if_seq_no_on_missing_or_deleted_document_conflicts() {
        for cur in [None, Some(row(2, 1, 2, true))] {
            let e = delete_version("x", cur.as_ref(), &seq(2, 1)).unwrap_err();
            assert_eq!(
                e.to_string(),
                "[x]: version conflict, required seqNo [2], primary term [1]. but no document was found"
            );
        }
    }

    #[test]
    fn create_on_live_document_conflicts_but_not_on_tombstone() {
        let live = row(0, 1, 1, false);
        let e = index_version("1", Some(&live), true, &Conditions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[1]: version conflict, document already exists (current version [1])"
        );
        assert_eq!(e.status(), 409);
        let tomb = row(1, 1, 2, true);
        assert_eq!(
            index_version("1", Some(&tomb), true, &Conditions::default()).unwrap(),
            3
        );
    }

    #[test]
    fn external_versions() {
        let cur = row(0, 1, 2, false);
        let e = index_version("1", Some(&cur), false, &external(1, false)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[1]: version conflict, current version [2] is higher or equal to the one provided [1]"
        );
        assert!(index_version("1", Some(&cur), false, &external(2, false)).is_err());
        assert_eq!(
            index_version("1", Some(&cur), false, &external(2, true)).unwrap(),
            2
        );
        let e = index_version("1", Some(&cur), false, &external(1, true)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[1]: version conflict, current version [2] is higher than the one provided [1]"
        );
        assert_eq!(
            index_version("1", None, false, &external(7, false)).unwrap(),
            7
        );
    }

    #[test]
    fn merge_objects_recursively_and_replace_other_values() {
        let mut target = json!({"a": 1, "o": {"x": 1, "y": [1]}, "k": "v"});
        let changes = json!({"o": {"y": [2], "z": true}, "n": null});
        let Value::Object(t) = &mut target else {
            unreachable!()
        };
        let Value::Object(c) = changes else {
            unreachable!()
        };
        assert!(merge_source(t, c, true));
        assert_eq!(
            target,
            json!({"a": 1, "o": {"x": 1, "y": [2], "z": true}, "k": "v", "n": null})
        );
        // key order: existing keys keep their place, new keys are appended.
        let keys: Vec<_> = target.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["a", "o", "k", "n"]);
    }

    #[test]
    fn merge_detects_noop() {
        let mut t = json!({"a": 1, "o": {"x": "y"}})
            .as_object()
            .unwrap()
            .clone();
        let c = json!({"o": {"x": "y"}, "a": 1})
            .as_object()
            .unwrap()
            .clone();
        assert!(!merge_source(&mut t, c.clone(), true));
        assert!(merge_source(&mut t, c, false));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0i64..5).prop_map(|n| json!(n)),
            "[a-c]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop::collection::btree_map("[a-d]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        })
    }

    fn arb_object() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map("[a-d]", arb_json(), 0..4).prop_map(|m| m.into_iter().collect())
    }

    fn arb_row() -> impl Strategy<Value = Option<DocVersion>> {
        prop::option::of(
            (0u64..10, 1u64..3, 1u64..10, any::<bool>()).prop_map(|(s, t, v, d)| row(s, t, v, d)),
        )
    }

    proptest! {
        #[test]
        fn merging_twice_changes_nothing_more(mut t in arb_object(), c in arb_object()) {
            merge_source(&mut t, c.clone(), true);
            let once = t.clone();
            prop_assert!(!merge_source(&mut t, c, true));
            prop_assert_eq!(t, once);
        }

        #[test]
        fn merged_document_contains_every_changed_leaf(mut t in arb_object(), c in arb_object()) {
            merge_source(&mut t, c.clone(), true);
            fn contains(t: &Map<String, Value>, c: &Map<String, Value>) -> bool {
                c.iter().all(|(k, v)| match (t.get(k), v) {
                    (Some(Value::Object(a)), Value::Object(b)) => contains(a, b),
                    (Some(a), b) => a == b,
                    (None, _) => false,
                })
            }
            prop_assert!(contains(&t, &c));
        }

        #[test]
        fn internal_versions_always_grow(cur in arb_row(), create in any::<bool>()) {
            if let Ok(v) = index_version("1", cur.as_ref(), create, &Conditions::default()) {
                prop_assert!(v > cur.map_or(0, |c| c.version));
            }
            let v = delete_version("1", cur.as_ref(), &Conditions::default()).unwrap();
            prop_assert_eq!(v, cur.map_or(1, |c| c.version + 1));
        }

        #[test]
        fn external_accepts_exactly_greater_versions(cur in arb_row(), given in 1u64..12, gte in any::<bool>()) {
            let r = index_version("1", cur.as_ref(), false, &external(given, gte));
            let ok = match cur {
                None => true,
                Some(c) if gte => given >= c.version,
                Some(c) => given > c.version,
            };
            prop_assert_eq!(r.is_ok(), ok);
            if ok { prop_assert_eq!(r.unwrap(), given); }
        }

        #[test]
        fn if_seq_no_accepts_exactly_the_live_row(cur in arb_row(), s in 0u64..10, t in 1u64..3) {
            let r = index_version("1", cur.as_ref(), false, &seq(s, t));
            let ok = matches!(cur, Some(c) if !c.deleted && c.seq_no == s && c.primary_term == t);
            prop_assert_eq!(r.is_ok(), ok);
        }
    }
}
