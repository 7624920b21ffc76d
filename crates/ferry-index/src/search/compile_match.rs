//! Compiling `match`, `match_phrase`, `match_phrase_prefix`, `term` and `terms` on one
//! leaf field: analyzed for text, exact for keyword, numeric, date and boolean fields.

use std::ops::Bound as RangeBound;

use serde_json::Value;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, PhrasePrefixQuery, PhraseQuery, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::IndexRecordOption;

use super::analysis::analyze;
use super::compile::{Compiler, Q, boosted, constant, empty, value_text};
use super::compile_multiterm::regex_escape;
use super::dsl::{MinimumShouldMatch, Operator};
use crate::mapping::{Indexed, LeafKind, LeafMapping, Scalar};
use crate::{IndexError, Result};

fn ia(msg: impl Into<String>) -> IndexError {
    IndexError::IllegalArgument(msg.into())
}

fn phrase_or_term(terms: Vec<(usize, Term)>, slop: u32) -> Q {
    if terms.len() == 1 {
        let (_, t) = terms.into_iter().next().expect("one term");
        return Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs));
    }
    Box::new(PhraseQuery::new_with_offset_and_slop(terms, slop))
}

impl Compiler<'_> {
    /// A text query over the tokens of `text`.
    pub(crate) fn text_tokens_query(
        &self,
        path: &str,
        text: &str,
        operator: Operator,
        msm: Option<&MinimumShouldMatch>,
        zero_terms_all: bool,
    ) -> Q {
        let tokens = analyze(text);
        if tokens.is_empty() {
            return if zero_terms_all {
                Box::new(AllQuery)
            } else {
                empty()
            };
        }
        let Some(tf) = self.text_field(path) else {
            return empty();
        };
        let mut clauses: Vec<Q> = tokens
            .iter()
            .map(|(_, t)| {
                Box::new(TermQuery::new(
                    self.text_term(&tf, t),
                    IndexRecordOption::WithFreqs,
                )) as Q
            })
            .collect();
        if clauses.len() == 1 {
            return clauses.pop().expect("one clause");
        }
        match operator {
            Operator::And => Box::new(BooleanQuery::intersection(clauses)),
            Operator::Or => {
                let n = clauses.len();
                let required = msm.map_or(1, |m| m.calc(n)).max(1);
                if required > n {
                    return empty();
                }
                Box::new(BooleanQuery::union_with_minimum_required_clauses(
                    clauses, required,
                ))
            }
        }
    }

    /// `match` on one leaf (no query boost applied).
    pub(crate) fn match_leaf(
        &self,
        path: &str,
        leaf: &LeafMapping,
        query: &Value,
        operator: Operator,
        msm: Option<&MinimumShouldMatch>,
        zero_terms_all: bool,
    ) -> Result<Q> {
        let q = if leaf.kind == LeafKind::Text {
            self.text_tokens_query(path, &value_text(query), operator, msm, zero_terms_all)
        } else {
            self.exact(path, leaf, query)?
        };
        Ok(boosted(q, leaf.boost))
    }

    pub(crate) fn phrase_leaf(
        &self,
        path: &str,
        leaf: &LeafMapping,
        query: &Value,
        slop: u32,
        zero_terms_all: bool,
    ) -> Result<Q> {
        if leaf.kind != LeafKind::Text {
            return Ok(boosted(self.exact(path, leaf, query)?, leaf.boost));
        }
        let tokens = analyze(&value_text(query));
        if tokens.is_empty() {
            return Ok(if zero_terms_all {
                Box::new(AllQuery)
            } else {
                empty()
            });
        }
        let Some(tf) = self.text_field(path) else {
            return Ok(empty());
        };
        let terms = tokens
            .iter()
            .map(|(pos, t)| (*pos, self.text_term(&tf, t)))
            .collect();
        Ok(boosted(phrase_or_term(terms, slop), leaf.boost))
    }

    pub(crate) fn phrase_prefix_leaf(
        &self,
        path: &str,
        leaf: &LeafMapping,
        query: &str,
        slop: u32,
        max_expansions: u32,
    ) -> Result<Q> {
        if slop > 0 {
            return Err(ia("[match_phrase_prefix] slop is not supported yet"));
        }
        if leaf.kind != LeafKind::Text {
            return self.pattern_leaf("prefix", path, leaf, query, false);
        }
        let tokens = analyze(query);
        let Some((_, last)) = tokens.last() else {
            return Ok(empty());
        };
        if tokens.len() == 1 {
            return self.pattern_leaf("prefix", path, leaf, last, false);
        }
        let Some(tf) = self.text_field(path) else {
            return Ok(empty());
        };
        let terms = tokens
            .iter()
            .map(|(pos, t)| (*pos, self.text_term(&tf, t)))
            .collect();
        let mut q = PhrasePrefixQuery::new_with_offset(terms);
        q.set_max_expansions(max_expansions);
        Ok(boosted(Box::new(q), leaf.boost))
    }

    /// An exact-value query on a non-text leaf (or an unanalyzed text term).
    pub(crate) fn exact(&self, path: &str, leaf: &LeafMapping, value: &Value) -> Result<Q> {
        let scalar = Scalar::from_json(value)
            .ok_or_else(|| ia(format!("[{path}] query value must be a scalar")))?;
        match leaf.kind {
            LeafKind::Text => {
                let Some(tf) = self.text_field(path) else {
                    return Ok(empty());
                };
                let text = scalar.to_text();
                Ok(Box::new(TermQuery::new(
                    self.text_term(&tf, &text),
                    IndexRecordOption::WithFreqs,
                )))
            }
            LeafKind::Keyword => match leaf.convert_query(scalar) {
                Ok(Some(Indexed::Str(s))) => Ok(Box::new(TermQuery::new(
                    self.kw_term(path, &s),
                    IndexRecordOption::Basic,
                ))),
                _ => Ok(empty()),
            },
            LeafKind::Date => {
                let (lo, hi) = self.date_point(path, leaf, value)?;
                let lower = RangeBound::Included(self.num_term_i64(path, lo));
                let upper = RangeBound::Included(self.num_term_i64(path, hi));
                Ok(constant(Box::new(RangeQuery::new(lower, upper)), 1.0))
            }
            _ => {
                let term = match leaf.convert_query(scalar) {
                    Ok(Some(Indexed::I64(n))) => self.num_term_i64(path, n),
                    Ok(Some(Indexed::F64(f))) => self.num_term_f64(path, f),
                    Ok(_) => return Ok(empty()),
                    Err(cause) => return Err(ia(format!("failed to create query: {cause}"))),
                };
                Ok(constant(
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                    1.0,
                ))
            }
        }
    }

    /// A date query value: the millisecond range it covers (`2015-01-01` is the whole day).
    pub(crate) fn date_point(
        &self,
        path: &str,
        leaf: &LeafMapping,
        value: &Value,
    ) -> Result<(i64, i64)> {
        let text = value_text(value);
        let fmt = leaf.format();
        let parse = |up| {
            fmt.parse_math(&text, up, 0, self.now_millis)
                .map_err(|e| ia(format!("failed to create query on [{path}]: {e}")))
        };
        Ok((parse(false)?, parse(true)?))
    }

    pub(crate) fn term_leaf(
        &self,
        path: &str,
        leaf: &LeafMapping,
        value: &Value,
        ci: bool,
        boost: f32,
    ) -> Result<Q> {
        let boost = boost * leaf.boost;
        if ci && matches!(leaf.kind, LeafKind::Text | LeafKind::Keyword) {
            let mut pattern = String::new();
            regex_escape(&value_text(value), &mut pattern);
            return self
                .regex_on(path, leaf, &pattern, true)
                .map(|q| constant(q, boost));
        }
        let q = self.exact(path, leaf, value)?;
        Ok(if leaf.kind.is_numeric_like() {
            constant(q, boost)
        } else {
            boosted(q, boost)
        })
    }

    pub(crate) fn terms_leaf(
        &self,
        path: &str,
        leaf: &LeafMapping,
        values: &[Value],
        boost: f32,
    ) -> Result<Q> {
        let mut terms = Vec::with_capacity(values.len());
        let mut ranges: Vec<Q> = Vec::new();
        for v in values {
            let scalar =
                Scalar::from_json(v).ok_or_else(|| ia("[terms] values must be scalars"))?;
            match leaf.kind {
                LeafKind::Text => {
                    if let Some(tf) = self.text_field(path) {
                        terms.push(self.text_term(&tf, &scalar.to_text()));
                    }
                }
                LeafKind::Keyword => {
                    if let Ok(Some(Indexed::Str(s))) = leaf.convert_query(scalar) {
                        terms.push(self.kw_term(path, &s));
                    }
                }
                LeafKind::Date => ranges.push(self.exact(path, leaf, v)?),
                _ => match leaf.convert_query(scalar) {
                    Ok(Some(Indexed::I64(n))) => terms.push(self.num_term_i64(path, n)),
                    Ok(Some(Indexed::F64(f))) => terms.push(self.num_term_f64(path, f)),
                    Ok(_) => {}
                    Err(cause) => return Err(ia(format!("failed to create query: {cause}"))),
                },
            }
        }
        let mut q: Q = Box::new(TermSetQuery::new(terms));
        if !ranges.is_empty() {
            ranges.push(q);
            q = Box::new(BooleanQuery::union(ranges));
        }
        Ok(constant(q, boost * leaf.boost))
    }
}
