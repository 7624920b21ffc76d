//! Compiling the multi-field queries: `multi_match` and `query_string` (`?q=`).
//!
//! Field lists take `^boost` suffixes and `*` patterns; an empty list means every mapped
//! leaf field (then values that do not parse for a field are skipped, as ES's `lenient`
//! default for `*`). Per-field queries combine with `dis_max` (`best_fields`, phrases,
//! `query_string`) or a sum (`most_fields`).

use tantivy::query::{AllQuery, BooleanQuery, DisjunctionMaxQuery, Occur, Query};

use super::analysis::analyze;
use super::compile::{Compiler, Q, boosted, constant, empty, value_text};
use super::dsl::{MultiKind, Operator, QueryNode};
use super::query_string::{QsNode, QsOccur, QsQuery};
use crate::mapping::{LeafKind, LeafMapping};
use crate::source::glob_match;
use crate::{IndexError, Result};

/// Concrete leaf fields of a field list (`[]` = every field), with their boosts.
fn expand<'m>(c: &Compiler<'m>, specs: &[(String, f32)]) -> Vec<(String, &'m LeafMapping, f32)> {
    let all;
    let specs: &[(String, f32)] = if specs.is_empty() {
        all = [("*".to_string(), 1.0)];
        &all
    } else {
        specs
    };
    let mut out: Vec<(String, &'m LeafMapping, f32)> = Vec::new();
    let mut paths = None;
    for (spec, boost) in specs {
        if spec.contains('*') {
            let paths = paths.get_or_insert_with(|| c.mapping.leaf_paths());
            for (p, leaf) in paths.iter() {
                if glob_match(spec, p) && leaf.indexed && !out.iter().any(|(o, _, _)| o == p) {
                    out.push((p.clone(), *leaf, *boost));
                }
            }
        } else if let Some(leaf) = c.mapping.leaf(spec) {
            out.push((spec.clone(), leaf, *boost));
        }
    }
    out
}

fn combine_dis_max(mut qs: Vec<Q>, tie_breaker: f32) -> Q {
    match qs.len() {
        0 => empty(),
        1 => qs.pop().expect("one query"),
        _ => Box::new(DisjunctionMaxQuery::with_tie_breaker(qs, tie_breaker)),
    }
}

impl Compiler<'_> {
    pub(crate) fn multi_match(&self, node: &QueryNode) -> Result<Q> {
        let QueryNode::MultiMatch {
            fields,
            query,
            kind,
            operator,
            msm,
            tie_breaker,
            lenient,
            slop,
            zero_terms_all,
            boost,
        } = node
        else {
            return Ok(empty());
        };
        let lenient = *lenient || fields.is_empty() || fields.iter().any(|(f, _)| f.contains('*'));
        let mut per_field = Vec::new();
        for (path, leaf, field_boost) in expand(self, fields) {
            let q = match kind {
                MultiKind::BestFields | MultiKind::MostFields => {
                    self.match_leaf(&path, leaf, query, *operator, msm.as_ref(), *zero_terms_all)
                }
                MultiKind::Phrase => self.phrase_leaf(&path, leaf, query, *slop, *zero_terms_all),
                MultiKind::PhrasePrefix => {
                    self.phrase_prefix_leaf(&path, leaf, &value_text(query), *slop, 50)
                }
            };
            let q = match q {
                Err(e @ IndexError::IllegalArgument(_)) if !lenient => return Err(e),
                Err(IndexError::IllegalArgument(_)) => continue,
                other => other?,
            };
            per_field.push(boosted(q, field_boost));
        }
        let q = match kind {
            MultiKind::MostFields if per_field.len() > 1 => {
                Box::new(BooleanQuery::union(per_field)) as Q
            }
            _ => combine_dis_max(per_field, tie_breaker.unwrap_or(0.0)),
        };
        Ok(boosted(q, *boost))
    }

    pub(crate) fn query_string(&self, qs: &QsQuery) -> Result<Q> {
        let every_field = qs.fields.is_empty() || qs.fields.iter().all(|(f, _)| f == "*");
        let ctx = QsCtx {
            qs,
            lenient: qs.lenient.unwrap_or(every_field),
        };
        let q = self.qs_node(&qs.tree, &ctx, true)?.unwrap_or_else(empty);
        Ok(boosted(q, qs.boost))
    }

    fn qs_fields(&self, ctx: &QsCtx<'_>, field: Option<&str>) -> Vec<(String, &LeafMapping, f32)> {
        match field {
            Some(f) => expand(self, &[(f.to_string(), 1.0)]),
            None => expand(self, &ctx.qs.fields),
        }
    }

    /// One query-string node; `None` when it produced nothing (Lucene drops the clause).
    fn qs_node(&self, node: &QsNode, ctx: &QsCtx<'_>, top: bool) -> Result<Option<Q>> {
        Ok(match node {
            QsNode::Group(clauses) => {
                let mut out: Vec<(Occur, Q)> = Vec::new();
                for (occur, child) in clauses {
                    if let Some(q) = self.qs_node(child, ctx, false)? {
                        let occur = match occur {
                            QsOccur::Must => Occur::Must,
                            QsOccur::Should => Occur::Should,
                            QsOccur::MustNot => Occur::MustNot,
                        };
                        out.push((occur, q));
                    }
                }
                if out.is_empty() {
                    return Ok(None);
                }
                let shoulds = out.iter().filter(|(o, _)| *o == Occur::Should).count();
                let musts = out.iter().filter(|(o, _)| *o == Occur::Must).count();
                if out.len() == 1 && out[0].0 != Occur::MustNot && !(top && ctx.qs.msm.is_some()) {
                    return Ok(out.pop().map(|(_, q)| q));
                }
                if musts == 0 && shoulds == 0 {
                    out.push((Occur::Must, constant(Box::new(AllQuery), 0.0)));
                }
                let default_min = usize::from(musts == 0 && shoulds > 0);
                let min = match (&ctx.qs.msm, top) {
                    (Some(m), true) => m.calc(shoulds),
                    _ => default_min,
                };
                if min > shoulds {
                    return Ok(Some(empty()));
                }
                Some(Box::new(BooleanQuery::with_minimum_required_clauses(
                    out, min,
                )))
            }
            QsNode::MatchAll => Some(Box::new(AllQuery)),
            QsNode::Exists { field } => Some(constant(self.exists(field), 1.0)),
            QsNode::Boost(inner, b) => self.qs_node(inner, ctx, false)?.map(|q| boosted(q, *b)),
            QsNode::Term { field, text } => {
                self.qs_per_field(ctx, field.as_deref(), |path, leaf| {
                    if leaf.kind == LeafKind::Text {
                        let tokens = analyze(text);
                        if self.text_field(path).is_none() {
                            return Ok(None);
                        }
                        let occur = match ctx.qs.default_operator {
                            Operator::And => Occur::Must,
                            Operator::Or => Occur::Should,
                        };
                        let mut qs: Vec<(Occur, Q)> = tokens
                            .iter()
                            .map(|(_, t)| {
                                let v = serde_json::Value::String(t.clone());
                                self.exact(path, leaf, &v).map(|q| (occur, q))
                            })
                            .collect::<Result<_>>()?;
                        Ok(match qs.len() {
                            0 => None,
                            1 => qs.pop().map(|(_, q)| boosted(q, leaf.boost)),
                            _ => Some(boosted(Box::new(BooleanQuery::new(qs)), leaf.boost)),
                        })
                    } else {
                        let v = serde_json::Value::String(text.clone());
                        self.exact(path, leaf, &v)
                            .map(|q| Some(boosted(q, leaf.boost)))
                    }
                })?
            }
            QsNode::Phrase { field, text, slop } => {
                let slop = slop.unwrap_or(ctx.qs.phrase_slop);
                self.qs_per_field(ctx, field.as_deref(), |path, leaf| {
                    let v = serde_json::Value::String(text.clone());
                    self.phrase_leaf(path, leaf, &v, slop, false).map(Some)
                })?
            }
            QsNode::Wildcard { field, pattern } => {
                self.qs_per_field(ctx, field.as_deref(), |path, leaf| {
                    let p = super::compile_multiterm::normalize_for(leaf, pattern);
                    self.pattern_leaf("wildcard", path, leaf, &p, false)
                        .map(Some)
                })?
            }
            QsNode::Regexp { field, pattern } => {
                self.qs_per_field(ctx, field.as_deref(), |path, leaf| {
                    self.pattern_leaf("regexp", path, leaf, pattern, false)
                        .map(Some)
                })?
            }
            QsNode::Range {
                field,
                lower,
                upper,
            } => {
                let node_for = |path: &str| QueryNode::Range {
                    field: path.to_string(),
                    lower: lower.as_ref().map(|(v, incl)| super::dsl::Bound {
                        value: serde_json::Value::String(v.clone()),
                        inclusive: *incl,
                    }),
                    upper: upper.as_ref().map(|(v, incl)| super::dsl::Bound {
                        value: serde_json::Value::String(v.clone()),
                        inclusive: *incl,
                    }),
                    format: None,
                    time_zone: ctx.qs.time_zone,
                    boost: 1.0,
                };
                self.qs_per_field(ctx, field.as_deref(), |path, _| {
                    self.compile(&node_for(path)).map(Some)
                })?
            }
        })
    }

    /// Runs `f` for each field of a query-string clause and combines with `dis_max`.
    fn qs_per_field(
        &self,
        ctx: &QsCtx<'_>,
        field: Option<&str>,
        f: impl Fn(&str, &LeafMapping) -> Result<Option<Q>>,
    ) -> Result<Option<Q>> {
        let fields = self.qs_fields(ctx, field);
        let lenient = ctx.lenient || field.is_some_and(|f| f.contains('*'));
        let mut out = Vec::new();
        for (path, leaf, boost) in fields {
            match f(&path, leaf) {
                Ok(Some(q)) => out.push(boosted(q, boost)),
                Ok(None) => {}
                Err(IndexError::IllegalArgument(_)) if lenient => {}
                Err(e) => return Err(e),
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        Ok(Some(combine_dis_max(out, ctx.qs.tie_breaker)))
    }
}

struct QsCtx<'a> {
    qs: &'a QsQuery,
    lenient: bool,
}

#[allow(dead_code)]
fn _assert_query_object_safe(_: &dyn Query) {}
