//! Compiling the query tree against one shard: its mapping decides how each field is
//! queried, its schema and text slots give the tantivy fields.
//!
//! ES semantics kept: `match` analyzes text fields and is an exact term on keyword,
//! numeric, date and boolean fields; `term` never analyzes; numeric, date, range, terms,
//! ids, exists, prefix and wildcard queries score a constant (their boost), text and
//! keyword terms score BM25; a field missing from the mapping matches nothing; a value
//! that does not parse for its field fails the search (unless `lenient`). Multi-field
//! queries live in [`super::compile_multi`], field queries in [`super::compile_match`]
//! and [`super::compile_multiterm`].

use serde_json::Value;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, Occur,
    Query, RegexQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use super::compile_multiterm::wildcard_to_regex;
use super::dsl::{MinimumShouldMatch, QueryNode};
use super::schema::{Fields, TextSlots, TextTarget};
use crate::mapping::{LeafMapping, Mapping, Scalar};
use crate::{IndexError, Result};

pub(crate) type Q = Box<dyn Query>;

/// Compiles queries for one shard.
pub(crate) struct Compiler<'a> {
    pub(crate) mapping: &'a Mapping,
    pub(crate) fields: &'a Fields,
    pub(crate) slots: &'a TextSlots,
    pub(crate) now_millis: i64,
}

pub(crate) fn empty() -> Q {
    Box::new(EmptyQuery)
}

pub(crate) fn boosted(q: Q, boost: f32) -> Q {
    if boost == 1.0 {
        q
    } else {
        Box::new(BoostQuery::new(q, boost))
    }
}

pub(crate) fn constant(q: Q, score: f32) -> Q {
    Box::new(ConstScoreQuery::new(q, score))
}

fn ia(msg: impl Into<String>) -> IndexError {
    IndexError::IllegalArgument(msg.into())
}

/// Where a text field's terms are.
pub(crate) enum TextField<'p> {
    Slot(Field),
    Json(&'p str),
}

/// The text of a query value.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => Scalar::from_json(other).map_or_else(String::new, |s| s.to_text().into_owned()),
    }
}

impl Compiler<'_> {
    /// Compiles one query.
    pub(crate) fn compile(&self, node: &QueryNode) -> Result<Q> {
        Ok(match node {
            QueryNode::MatchAll { boost } => boosted(Box::new(AllQuery), *boost),
            QueryNode::MatchNone => empty(),
            QueryNode::Match {
                field,
                query,
                operator,
                msm,
                lenient,
                zero_terms_all,
                boost,
            } => match self.leaf(field)? {
                Some(leaf) => {
                    let q = self.match_leaf(
                        field,
                        leaf,
                        query,
                        *operator,
                        msm.as_ref(),
                        *zero_terms_all,
                    );
                    boosted(self.lenient(q, *lenient)?, *boost)
                }
                None => empty(),
            },
            QueryNode::MatchPhrase {
                field,
                query,
                slop,
                zero_terms_all,
                boost,
            } => match self.leaf(field)? {
                Some(leaf) => boosted(
                    self.phrase_leaf(field, leaf, query, *slop, *zero_terms_all)?,
                    *boost,
                ),
                None => empty(),
            },
            QueryNode::MatchPhrasePrefix {
                field,
                query,
                slop,
                max_expansions,
                boost,
            } => match self.leaf(field)? {
                Some(leaf) => boosted(
                    self.phrase_prefix_leaf(field, leaf, query, *slop, *max_expansions)?,
                    *boost,
                ),
                None => empty(),
            },
            QueryNode::MultiMatch { .. } => self.multi_match(node)?,
            QueryNode::QueryString(qs) => self.query_string(qs)?,
            QueryNode::Term {
                field,
                value,
                case_insensitive,
                boost,
            } => match self.leaf(field)? {
                Some(leaf) => self.term_leaf(field, leaf, value, *case_insensitive, *boost)?,
                None => empty(),
            },
            QueryNode::Terms {
                field,
                values,
                boost,
            } => match self.leaf(field)? {
                Some(leaf) => self.terms_leaf(field, leaf, values, *boost)?,
                None => empty(),
            },
            QueryNode::Range {
                field,
                lower,
                upper,
                format,
                time_zone,
                boost,
            } => match self.leaf(field)? {
                Some(leaf) => {
                    let q = self.range_leaf(
                        field,
                        leaf,
                        lower.as_ref(),
                        upper.as_ref(),
                        format.as_deref(),
                        time_zone.unwrap_or(0),
                    )?;
                    constant(q, *boost)
                }
                None => empty(),
            },
            QueryNode::Exists { field, boost } => constant(self.exists(field), *boost),
            QueryNode::Ids { values, boost } => {
                let terms = values
                    .iter()
                    .map(|id| Term::from_field_text(self.fields.id, id));
                constant(Box::new(TermSetQuery::new(terms)), *boost)
            }
            QueryNode::Prefix {
                field,
                value,
                case_insensitive,
                boost,
            } => self.pattern_query("prefix", field, value, *case_insensitive, *boost)?,
            QueryNode::Wildcard {
                field,
                value,
                case_insensitive,
                boost,
            } => self.pattern_query("wildcard", field, value, *case_insensitive, *boost)?,
            QueryNode::Regexp {
                field,
                value,
                case_insensitive,
                boost,
            } => self.pattern_query("regexp", field, value, *case_insensitive, *boost)?,
            QueryNode::Bool {
                must,
                should,
                must_not,
                filter,
                msm,
                boost,
            } => self.bool_query(must, should, must_not, filter, msm.as_ref(), *boost)?,
            QueryNode::ConstantScore { filter, boost } => constant(self.compile(filter)?, *boost),
            QueryNode::DisMax {
                queries,
                tie_breaker,
                boost,
            } => {
                let qs = queries
                    .iter()
                    .map(|q| self.compile(q))
                    .collect::<Result<Vec<_>>>()?;
                boosted(
                    Box::new(DisjunctionMaxQuery::with_tie_breaker(qs, *tie_breaker)),
                    *boost,
                )
            }
        })
    }

    /// A lenient query swallows value errors (the field then matches nothing).
    pub(crate) fn lenient(&self, q: Result<Q>, lenient: bool) -> Result<Q> {
        match q {
            Err(IndexError::IllegalArgument(_)) if lenient => Ok(empty()),
            other => other,
        }
    }

    /// The searchable leaf at `path` (`None`: unmapped or an object, matching nothing).
    pub(crate) fn leaf(&self, path: &str) -> Result<Option<&LeafMapping>> {
        match self.mapping.leaf(path) {
            Some(l) if !l.indexed => Err(ia(format!(
                "Cannot search on field [{path}] since it is not indexed."
            ))),
            other => Ok(other),
        }
    }

    pub(crate) fn text_field<'p>(&self, path: &'p str) -> Option<TextField<'p>> {
        match self.slots.lookup(path)? {
            TextTarget::Slot(i) => Some(TextField::Slot(self.fields.slots[i])),
            TextTarget::Overflow => Some(TextField::Json(path)),
        }
    }

    pub(crate) fn text_term(&self, tf: &TextField<'_>, token: &str) -> Term {
        match tf {
            TextField::Slot(f) => Term::from_field_text(*f, token),
            TextField::Json(path) => {
                let mut t = Term::from_field_json_path(self.fields.txt, path, true);
                t.append_type_and_str(token);
                t
            }
        }
    }

    pub(crate) fn kw_term(&self, path: &str, value: &str) -> Term {
        let mut t = Term::from_field_json_path(self.fields.kw, path, true);
        t.append_type_and_str(value);
        t
    }

    pub(crate) fn num_term_i64(&self, path: &str, v: i64) -> Term {
        let mut t = Term::from_field_json_path(self.fields.num, path, true);
        t.append_type_and_fast_value(v);
        t
    }

    /// An f64 term, normalised as tantivy indexes JSON numbers (integral values as i64).
    pub(crate) fn num_term_f64(&self, path: &str, v: f64) -> Term {
        if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
            return self.num_term_i64(path, v as i64);
        }
        let mut t = Term::from_field_json_path(self.fields.num, path, true);
        t.append_type_and_fast_value(v);
        t
    }

    /// `exists` on a path (or a `*` pattern): documents with a value there or below.
    pub(crate) fn exists(&self, path: &str) -> Q {
        if path.contains('*') {
            let pattern = wildcard_to_regex(path);
            return match RegexQuery::from_pattern(&pattern, self.fields.names) {
                Ok(q) => Box::new(q),
                Err(_) => empty(),
            };
        }
        Box::new(TermQuery::new(
            Term::from_field_text(self.fields.names, path),
            IndexRecordOption::Basic,
        ))
    }

    pub(crate) fn bool_query(
        &self,
        must: &[QueryNode],
        should: &[QueryNode],
        must_not: &[QueryNode],
        filter: &[QueryNode],
        msm: Option<&MinimumShouldMatch>,
        boost: f32,
    ) -> Result<Q> {
        if must.is_empty() && should.is_empty() && must_not.is_empty() && filter.is_empty() {
            return Ok(boosted(Box::new(AllQuery), boost));
        }
        let mut clauses: Vec<(Occur, Q)> = Vec::new();
        for q in must {
            clauses.push((Occur::Must, self.compile(q)?));
        }
        for q in filter {
            clauses.push((Occur::Must, constant(self.compile(q)?, 0.0)));
        }
        for q in should {
            clauses.push((Occur::Should, self.compile(q)?));
        }
        for q in must_not {
            clauses.push((Occur::MustNot, self.compile(q)?));
        }
        let required = must.len() + filter.len();
        if required == 0 && should.is_empty() {
            clauses.push((Occur::Must, constant(Box::new(AllQuery), 0.0)));
        }
        let default_msm = usize::from(required == 0 && !should.is_empty());
        let min = msm.map_or(default_msm, |m| m.calc(should.len()));
        if min > should.len() {
            return Ok(empty());
        }
        Ok(boosted(
            Box::new(BooleanQuery::with_minimum_required_clauses(clauses, min)),
            boost,
        ))
    }
}
