//! Compiling the query tree against one shard: its mapping decides how each field is
//! queried, its schema and text slots give the tantivy fields.
//!
//! ES semantics kept: `match` analyzes text fields and is an exact term on keyword,
//! numeric, date and boolean fields; `term` never analyzes; numeric, date, range, terms,
//! ids, exists, prefix and wildcard queries score a constant (their boost), text and
//! keyword terms score BM25; a field missing from the mapping matches nothing; a value
//! that does not parse for its field fails the search (unless `lenient`). Multi-field
//! queries (`multi_match`, `query_string`) live in [`super::compile_multi`].

use std::ops::Bound as RangeBound;

use serde_json::Value;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, Occur,
    PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, RegexQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use super::analysis::{analyze, normalize};
use super::dsl::{Bound, MinimumShouldMatch, Operator, QueryNode};
use super::schema::{Fields, TextSlots, TextTarget};
use crate::mapping::{Indexed, LeafKind, LeafMapping, Mapping, Scalar};
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

/// Escapes regex meta characters (and control characters) of `s`.
pub(crate) fn regex_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        if c < ' ' {
            out.push_str(&format!("\\x{{{:x}}}", c as u32));
        } else {
            if "\\.+*?()|[]{}^$#&-~\"<>@".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
}

/// Wildcard syntax (`*`, `?`, `\` escapes) to regex syntax.
pub(crate) fn wildcard_to_regex(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => {
                if let Some(n) = chars.next() {
                    regex_escape(&n.to_string(), &mut out);
                }
            }
            _ => regex_escape(&c.to_string(), &mut out),
        }
    }
    out
}

fn phrase_or_term(field: Field, terms: Vec<(usize, Term)>, slop: u32) -> Q {
    if terms.len() == 1 {
        let (_, t) = terms.into_iter().next().expect("one term");
        return Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs));
    }
    let _ = field;
    Box::new(PhraseQuery::new_with_offset_and_slop(terms, slop))
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

    fn text_term(&self, tf: &TextField<'_>, token: &str) -> Term {
        match tf {
            TextField::Slot(f) => Term::from_field_text(*f, token),
            TextField::Json(path) => {
                let mut t = Term::from_field_json_path(self.fields.txt, path, true);
                t.append_type_and_str(token);
                t
            }
        }
    }

    fn text_tantivy_field(&self, tf: &TextField<'_>) -> Field {
        match tf {
            TextField::Slot(f) => *f,
            TextField::Json(_) => self.fields.txt,
        }
    }

    fn kw_term(&self, path: &str, value: &str) -> Term {
        let mut t = Term::from_field_json_path(self.fields.kw, path, true);
        t.append_type_and_str(value);
        t
    }

    fn num_term_i64(&self, path: &str, v: i64) -> Term {
        let mut t = Term::from_field_json_path(self.fields.num, path, true);
        t.append_type_and_fast_value(v);
        t
    }

    /// An f64 term, normalised as tantivy indexes JSON numbers (integral values as i64).
    fn num_term_f64(&self, path: &str, v: f64) -> Term {
        if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
            return self.num_term_i64(path, v as i64);
        }
        let mut t = Term::from_field_json_path(self.fields.num, path, true);
        t.append_type_and_fast_value(v);
        t
    }

    /// A text query over the tokens of `text`.
    fn text_tokens_query(
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
        Ok(boosted(
            phrase_or_term(self.text_tantivy_field(&tf), terms, slop),
            leaf.boost,
        ))
    }

    pub(crate) fn phrase_prefix_leaf(
        &self,
        path: &str,
        leaf: &LeafMapping,
        query: &str,
        slop: u32,
        max_expansions: u32,
    ) -> Result<Q> {
        if leaf.kind != LeafKind::Text {
            let value = Value::String(query.to_string());
            return self.pattern_leaf("prefix", path, leaf, &value_text(&value), false);
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
        let _ = slop;
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
    fn date_point(&self, path: &str, leaf: &LeafMapping, value: &Value) -> Result<(i64, i64)> {
        let text = value_text(value);
        let fmt = leaf.format();
        let parse = |up| {
            fmt.parse_math(&text, up, 0, self.now_millis)
                .map_err(|e| ia(format!("failed to create query on [{path}]: {e}")))
        };
        Ok((parse(false)?, parse(true)?))
    }

    fn term_leaf(
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

    fn terms_leaf(
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

    fn range_leaf(
        &self,
        path: &str,
        leaf: &LeafMapping,
        lower: Option<&Bound>,
        upper: Option<&Bound>,
        format: Option<&str>,
        tz: i32,
    ) -> Result<Q> {
        if lower.is_none() && upper.is_none() {
            return Ok(self.exists(path));
        }
        let num_err = |b: &Bound, cause: String| {
            ia(format!(
                "failed to create query: [{path}] bound [{}]: {cause}",
                b.value
            ))
        };
        match leaf.kind {
            LeafKind::Keyword | LeafKind::Text => {
                let term = |s: &str| -> Option<Term> {
                    match leaf.kind {
                        LeafKind::Keyword => Some(self.kw_term(path, s)),
                        _ => match self.text_field(path)? {
                            TextField::Slot(f) => Some(Term::from_field_text(f, s)),
                            TextField::Json(_) => None,
                        },
                    }
                };
                let mk = |b: Option<&Bound>| -> Result<Option<RangeBound<Term>>> {
                    Ok(match b {
                        None => Some(RangeBound::Unbounded),
                        Some(b) => {
                            let s = value_text(&b.value);
                            term(&s).map(|t| {
                                if b.inclusive {
                                    RangeBound::Included(t)
                                } else {
                                    RangeBound::Excluded(t)
                                }
                            })
                        }
                    })
                };
                match (mk(lower)?, mk(upper)?) {
                    (Some(lo), Some(hi)) => Ok(Box::new(RangeQuery::new(lo, hi))),
                    _ if leaf.kind == LeafKind::Text && self.text_field(path).is_none() => {
                        Ok(empty())
                    }
                    _ => Err(ia(format!(
                        "[range] on text field [{path}] beyond the first 32 text fields is not supported yet"
                    ))),
                }
            }
            LeafKind::Double | LeafKind::Float => {
                let conv = |b: &Bound| -> Result<f64> {
                    let s = Scalar::from_json(&b.value)
                        .ok_or_else(|| num_err(b, "not a scalar".into()))?;
                    match leaf.convert_query(s) {
                        Ok(Some(Indexed::F64(f))) => Ok(f),
                        Ok(_) => Err(num_err(b, "not a number".into())),
                        Err(c) => Err(num_err(b, c)),
                    }
                };
                let mk = |b: Option<&Bound>| -> Result<RangeBound<Term>> {
                    Ok(match b {
                        None => RangeBound::Unbounded,
                        Some(b) => {
                            let mut t = Term::from_field_json_path(self.fields.num, path, true);
                            t.append_type_and_fast_value(conv(b)?);
                            if b.inclusive {
                                RangeBound::Included(t)
                            } else {
                                RangeBound::Excluded(t)
                            }
                        }
                    })
                };
                Ok(Box::new(RangeQuery::new(mk(lower)?, mk(upper)?)))
            }
            _ => {
                // i64 kinds: integers, booleans, dates → inclusive i64 bounds.
                let lo = match lower {
                    None => None,
                    Some(b) => Some(
                        self.int_bound(path, leaf, b, true, format, tz)
                            .map_err(|c| num_err(b, c))?,
                    ),
                };
                let hi = match upper {
                    None => None,
                    Some(b) => Some(
                        self.int_bound(path, leaf, b, false, format, tz)
                            .map_err(|c| num_err(b, c))?,
                    ),
                };
                if let (Some(l), Some(h)) = (lo, hi)
                    && l > h
                {
                    return Ok(empty());
                }
                let mk = |v: Option<i64>| match v {
                    None => RangeBound::Unbounded,
                    Some(v) => RangeBound::Included(self.num_term_i64(path, v)),
                };
                Ok(Box::new(RangeQuery::new(mk(lo), mk(hi))))
            }
        }
    }

    /// An inclusive i64 bound of an integer, boolean or date range.
    fn int_bound(
        &self,
        path: &str,
        leaf: &LeafMapping,
        b: &Bound,
        is_lower: bool,
        format: Option<&str>,
        tz: i32,
    ) -> std::result::Result<i64, String> {
        let _ = path;
        if leaf.kind == LeafKind::Date {
            // gt and lte round up; gte and lt round down (ES date math rounding).
            let round_up = is_lower != b.inclusive;
            let custom;
            let fmt = match format {
                Some(f) => {
                    custom = crate::mapping::DateFormat::parse(f)?;
                    &custom
                }
                None => leaf.format(),
            };
            let ms = fmt.parse_math(&value_text(&b.value), round_up, tz, self.now_millis)?;
            return Ok(match (is_lower, b.inclusive) {
                (true, false) => ms.saturating_add(1),
                (false, false) => ms.saturating_sub(1),
                _ => ms,
            });
        }
        let s = Scalar::from_json(&b.value).ok_or("not a scalar")?;
        if leaf.kind == LeafKind::Boolean {
            return match leaf.convert_query(s)? {
                Some(Indexed::I64(n)) => Ok(match (is_lower, b.inclusive) {
                    (true, false) => n + 1,
                    (false, false) => n - 1,
                    _ => n,
                }),
                _ => Err("not a boolean".into()),
            };
        }
        // Integers: a fractional bound rounds inwards.
        let f = match s {
            Scalar::I64(n) => n as f64,
            Scalar::U64(n) => n as f64,
            Scalar::F64(f) => f,
            Scalar::Str(t) => t
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("For input string: \"{t}\""))?,
            Scalar::Bool(_) => return Err("not a number".into()),
        };
        if let Scalar::I64(n) = s {
            return Ok(match (is_lower, b.inclusive) {
                (true, false) => n.saturating_add(1),
                (false, false) => n.saturating_sub(1),
                _ => n,
            });
        }
        let v = match (is_lower, b.inclusive) {
            (true, true) => f.ceil(),
            (true, false) => f.floor() + 1.0,
            (false, true) => f.floor(),
            (false, false) => f.ceil() - 1.0,
        };
        Ok(v.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
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

    fn pattern_query(
        &self,
        kind: &str,
        field: &str,
        value: &str,
        ci: bool,
        boost: f32,
    ) -> Result<Q> {
        match self.leaf(field)? {
            Some(leaf) => Ok(constant(
                self.pattern_leaf(kind, field, leaf, value, ci)?,
                boost * leaf.boost,
            )),
            None => Ok(empty()),
        }
    }

    /// `prefix`, `wildcard` or `regexp` on one leaf.
    pub(crate) fn pattern_leaf(
        &self,
        kind: &str,
        path: &str,
        leaf: &LeafMapping,
        value: &str,
        ci: bool,
    ) -> Result<Q> {
        if !matches!(leaf.kind, LeafKind::Text | LeafKind::Keyword) {
            return Err(ia(format!(
                "Can only use {kind} queries on keyword and text fields - not on [{path}] which is of type [{}]",
                leaf.kind.name()
            )));
        }
        let pattern = match kind {
            "prefix" => {
                let mut p = String::new();
                regex_escape(value, &mut p);
                p.push_str(".*");
                p
            }
            "wildcard" => wildcard_to_regex(value),
            _ => value.to_string(),
        };
        self.regex_on(path, leaf, &pattern, ci)
    }

    /// A regex over the terms of one leaf (the JSON path prefix is added for `kw`/`txt`).
    fn regex_on(&self, path: &str, leaf: &LeafMapping, pattern: &str, ci: bool) -> Result<Q> {
        let flags = if ci { "(?si:" } else { "(?s:" };
        let (field, full) = match leaf.kind {
            LeafKind::Keyword => (self.fields.kw, json_prefix(path, flags, pattern)),
            _ => match self.text_field(path) {
                None => return Ok(empty()),
                Some(TextField::Slot(f)) => (f, format!("{flags}{pattern})")),
                Some(TextField::Json(p)) => (self.fields.txt, json_prefix(p, flags, pattern)),
            },
        };
        RegexQuery::from_pattern(&full, field)
            .map(|q| Box::new(q) as Q)
            .map_err(|e| {
                ia(format!(
                    "failed to create query: invalid pattern [{pattern}]: {e}"
                ))
            })
    }

    fn bool_query(
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

/// `<path with \x01 separators>\x00s(?flags:pattern)`: a regex over JSON string terms.
fn json_prefix(path: &str, flags: &str, pattern: &str) -> String {
    let mut out = String::new();
    let json_path = path.replace('.', "\u{1}");
    regex_escape(&json_path, &mut out);
    out.push_str("\\x{0}s");
    out.push_str(flags);
    out.push_str(pattern);
    out.push(')');
    out
}

/// Text multi-term queries on text fields see lowercased input (the analyzer's normalizer).
pub(crate) fn normalize_for(leaf: &LeafMapping, value: &str) -> String {
    if leaf.kind == LeafKind::Text {
        normalize(value)
    } else {
        value.to_string()
    }
}
