//! The `query_string` syntax (and `?q=`), the common subset of Lucene's classic query
//! parser: `field:value`, bare terms over the default fields, `AND`/`OR`/`NOT`/`&&`/`||`/
//! `!`, `+`/`-`, quoted phrases (`"a b"~2`), ranges (`[a TO b]`, `{a TO *}`, `>=5`),
//! parentheses (also `field:(a b)`), wildcards (`qu?ck*`), `/regex/`, `^boost`,
//! `field:*` and `_exists_:field`. Clauses combine by Lucene's rules, which depend on the
//! default operator. Fuzzy terms (`foo~`) are refused as not supported yet.
//!
//! This module only parses; fields and types are resolved when compiling against the
//! mapping.

use super::dsl::{MinimumShouldMatch, Operator};
use super::query_string_lex::{Tok, fail, lex};
use crate::Result;

/// How a clause takes part in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QsOccur {
    Must,
    Should,
    MustNot,
}

/// A parsed query string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QsNode {
    Group(Vec<(QsOccur, QsNode)>),
    Term {
        field: Option<String>,
        text: String,
    },
    /// Pattern in wildcard syntax (`*`, `?`, `\` escapes).
    Wildcard {
        field: Option<String>,
        pattern: String,
    },
    Phrase {
        field: Option<String>,
        text: String,
        slop: Option<u32>,
    },
    Range {
        field: Option<String>,
        lower: Option<(String, bool)>,
        upper: Option<(String, bool)>,
    },
    Regexp {
        field: Option<String>,
        pattern: String,
    },
    Exists {
        field: String,
    },
    MatchAll,
    Boost(Box<QsNode>, f32),
}

/// A `query_string` query: the parsed text and its options.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QsQuery {
    pub(crate) tree: QsNode,
    /// Default fields with boosts (`default_field` / `fields`); empty means every field.
    pub(crate) fields: Vec<(String, f32)>,
    pub(crate) default_operator: Operator,
    /// `lenient`; unset means lenient exactly when searching every field.
    pub(crate) lenient: Option<bool>,
    pub(crate) phrase_slop: u32,
    pub(crate) tie_breaker: f32,
    pub(crate) msm: Option<MinimumShouldMatch>,
    pub(crate) allow_leading_wildcard: bool,
    pub(crate) time_zone: Option<i32>,
    pub(crate) boost: f32,
}

impl Default for QsQuery {
    fn default() -> Self {
        Self {
            tree: QsNode::Group(Vec::new()),
            fields: Vec::new(),
            default_operator: Operator::Or,
            lenient: None,
            phrase_slop: 0,
            tie_breaker: 0.0,
            msm: None,
            allow_leading_wildcard: true,
            time_zone: None,
            boost: 1.0,
        }
    }
}

/// Parses query-string text with the given default operator.
pub(crate) fn parse(
    text: &str,
    default_op: Operator,
    allow_leading_wildcard: bool,
) -> Result<QsNode> {
    let toks = lex(text)?;
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        default_op,
        allow_leading_wildcard,
    };
    let node = p.query(None)?;
    if p.pos < p.toks.len() {
        return Err(fail(text, format!("unexpected [{:?}]", p.toks[p.pos])));
    }
    Ok(node)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Conj {
    None,
    And,
    Or,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mods {
    None,
    Req,
    Not,
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Tok>,
    pos: usize,
    default_op: Operator,
    allow_leading_wildcard: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn query(&mut self, field: Option<&str>) -> Result<QsNode> {
        let mut clauses: Vec<(QsOccur, QsNode)> = Vec::new();
        loop {
            match self.peek() {
                None | Some(Tok::RParen) => break,
                _ => {}
            }
            let conj = match self.peek() {
                Some(Tok::And) => Conj::And,
                Some(Tok::Or) => Conj::Or,
                _ => Conj::None,
            };
            if conj != Conj::None {
                if clauses.is_empty() {
                    return Err(fail(self.text, "query cannot start with AND or OR"));
                }
                self.pos += 1;
            }
            let mods = match self.peek() {
                Some(Tok::Plus) => Mods::Req,
                Some(Tok::Minus | Tok::Not) => Mods::Not,
                _ => Mods::None,
            };
            if mods != Mods::None {
                self.pos += 1;
            }
            let node = self.clause(field)?;
            self.add_clause(&mut clauses, conj, mods, node)?;
        }
        Ok(QsNode::Group(clauses))
    }

    /// Lucene's `QueryParserBase.addClause`.
    fn add_clause(
        &self,
        clauses: &mut Vec<(QsOccur, QsNode)>,
        conj: Conj,
        mods: Mods,
        node: QsNode,
    ) -> Result<()> {
        if let Some(last) = clauses.last_mut() {
            if conj == Conj::And && last.0 != QsOccur::MustNot {
                last.0 = QsOccur::Must;
            }
            if self.default_op == Operator::And && conj == Conj::Or && last.0 != QsOccur::MustNot {
                last.0 = QsOccur::Should;
            }
        }
        let prohibited = mods == Mods::Not;
        let required = match self.default_op {
            Operator::Or => mods == Mods::Req || (conj == Conj::And && !prohibited),
            Operator::And => !prohibited && conj != Conj::Or,
        };
        let occur = match (required, prohibited) {
            (true, false) => QsOccur::Must,
            (false, false) => QsOccur::Should,
            (false, true) => QsOccur::MustNot,
            (true, true) => {
                return Err(fail(
                    self.text,
                    "clause cannot be both required and prohibited",
                ));
            }
        };
        clauses.push((occur, node));
        Ok(())
    }

    fn clause(&mut self, field: Option<&str>) -> Result<QsNode> {
        let mut field = field.map(str::to_string);
        if let (Some(Tok::Term(name, _, _)), Some(Tok::Colon)) =
            (self.toks.get(self.pos), self.toks.get(self.pos + 1))
        {
            field = Some(name.clone());
            self.pos += 2;
        }
        let tok = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or_else(|| fail(self.text, "unexpected end of query"))?;
        self.pos += 1;
        let node = match tok {
            Tok::LParen => {
                let inner = self.query(field.as_deref())?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(fail(self.text, "missing [)]"));
                }
                self.pos += 1;
                inner
            }
            Tok::Quoted(text) => {
                let slop = match self.peek() {
                    Some(Tok::Tilde(v)) => {
                        let s = v.unwrap_or(2.0) as u32;
                        self.pos += 1;
                        Some(s)
                    }
                    _ => None,
                };
                QsNode::Phrase { field, text, slop }
            }
            Tok::Range(lower, upper) => QsNode::Range {
                field,
                lower,
                upper,
            },
            Tok::Regex(pattern) => QsNode::Regexp { field, pattern },
            Tok::Term(text, pattern, wildcard) => {
                if matches!(self.peek(), Some(Tok::Tilde(_))) {
                    return Err(fail(self.text, "fuzzy queries are not supported yet"));
                }
                match field.as_deref() {
                    Some("_exists_") => QsNode::Exists { field: text },
                    _ if pattern == "*" => match field {
                        None => QsNode::MatchAll,
                        Some(f) if f == "*" => QsNode::MatchAll,
                        Some(f) => QsNode::Exists { field: f },
                    },
                    _ if wildcard => {
                        if !self.allow_leading_wildcard
                            && (pattern.starts_with('*') || pattern.starts_with('?'))
                        {
                            return Err(fail(
                                self.text,
                                "leading wildcard is not allowed: '*' or '?' not allowed as first character in WildcardQuery",
                            ));
                        }
                        QsNode::Wildcard { field, pattern }
                    }
                    _ => QsNode::Term { field, text },
                }
            }
            other => return Err(fail(self.text, format!("unexpected [{other:?}]"))),
        };
        if let Some(Tok::Caret(b)) = self.peek() {
            let b = *b;
            self.pos += 1;
            return Ok(QsNode::Boost(Box::new(node), b));
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occurs(q: &str, op: Operator) -> Vec<QsOccur> {
        match parse(q, op, true).unwrap() {
            QsNode::Group(c) => c.into_iter().map(|(o, _)| o).collect(),
            other => panic!("not a group: {other:?}"),
        }
    }

    #[test]
    fn clauses_combine_as_in_lucene() {
        use QsOccur::{Must, MustNot, Should};
        assert_eq!(occurs("a b", Operator::Or), [Should, Should]);
        assert_eq!(occurs("a b", Operator::And), [Must, Must]);
        assert_eq!(occurs("a AND b OR c", Operator::Or), [Must, Must, Should]);
        assert_eq!(occurs("a OR b", Operator::And), [Should, Should]);
        assert_eq!(occurs("+a -b c", Operator::Or), [Must, MustNot, Should]);
        assert_eq!(occurs("a && !b", Operator::Or), [Must, MustNot]);
    }

    #[test]
    fn terms_phrases_ranges_and_fields() {
        let g = |q: &str| match parse(q, Operator::Or, true).unwrap() {
            QsNode::Group(mut c) => c.remove(0).1,
            other => other,
        };
        assert_eq!(
            g("title:quick"),
            QsNode::Term {
                field: Some("title".into()),
                text: "quick".into()
            }
        );
        assert_eq!(
            g("a\\:b"),
            QsNode::Term {
                field: None,
                text: "a:b".into()
            }
        );
        assert_eq!(
            g("wi-fi"),
            QsNode::Term {
                field: None,
                text: "wi-fi".into()
            }
        );
        assert_eq!(
            g("\"a b\"~2"),
            QsNode::Phrase {
                field: None,
                text: "a b".into(),
                slop: Some(2)
            }
        );
        assert_eq!(
            g("n:[1 TO *}"),
            QsNode::Range {
                field: Some("n".into()),
                lower: Some(("1".into(), true)),
                upper: None
            }
        );
        assert_eq!(
            g("n:>=5"),
            QsNode::Range {
                field: Some("n".into()),
                lower: Some(("5".into(), true)),
                upper: None
            }
        );
        assert_eq!(
            g("f:qu?ck*"),
            QsNode::Wildcard {
                field: Some("f".into()),
                pattern: "qu?ck*".into()
            }
        );
        assert_eq!(g("f:*"), QsNode::Exists { field: "f".into() });
        assert_eq!(g("*:*"), QsNode::MatchAll);
        assert!(matches!(g("(a b)^2"), QsNode::Boost(_, b) if b == 2.0));
        assert!(matches!(g("t:(a b)"), QsNode::Group(c) if c.len() == 2));
        assert!(parse("*x", Operator::Or, false).is_err());
        for bad in ["a AND", "(a", "\"open", "[1 TO", "AND a", "a~", "f:[1 2]"] {
            assert!(parse(bad, Operator::Or, true).is_err(), "{bad} should fail");
        }
    }
}
