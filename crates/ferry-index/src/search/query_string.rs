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
use crate::{IndexError, Result};

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

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Colon,
    Plus,
    Minus,
    Not,
    And,
    Or,
    Caret(f32),
    Tilde(Option<f32>),
    Quoted(String),
    /// Unescaped text, wildcard-syntax pattern (escapes kept), and whether it has wildcards.
    Term(String, String, bool),
    Range(Option<(String, bool)>, Option<(String, bool)>),
    Regex(String),
}

fn fail(text: &str, why: impl std::fmt::Display) -> IndexError {
    IndexError::Parsing(format!("Failed to parse query [{text}]: {why}"))
}

const SPECIAL: &[char] = &['(', ')', ':', '^', '~', '"', '[', ']', '{', '}', '/'];

fn lex(text: &str) -> Result<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        match c {
            '(' => toks.push(Tok::LParen),
            ')' => toks.push(Tok::RParen),
            ':' => toks.push(Tok::Colon),
            '+' => toks.push(Tok::Plus),
            '-' => toks.push(Tok::Minus),
            '!' => toks.push(Tok::Not),
            '&' if next == Some('&') => {
                toks.push(Tok::And);
                i += 1;
            }
            '|' if next == Some('|') => {
                toks.push(Tok::Or);
                i += 1;
            }
            '^' | '~' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                    j += 1;
                }
                let num: String = chars[start..j].iter().collect();
                let val = if num.is_empty() {
                    None
                } else {
                    Some(
                        num.parse::<f32>()
                            .map_err(|_| fail(text, format!("bad number [{num}]")))?,
                    )
                };
                if c == '^' {
                    toks.push(Tok::Caret(
                        val.ok_or_else(|| fail(text, "missing boost after ^"))?,
                    ));
                } else {
                    toks.push(Tok::Tilde(val));
                }
                i = j;
                continue;
            }
            '"' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(fail(text, "unterminated quote")),
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(&e) = chars.get(j + 1) {
                                s.push(e);
                            }
                            j += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            j += 1;
                        }
                    }
                }
                toks.push(Tok::Quoted(s));
                i = j + 1;
                continue;
            }
            '/' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(fail(text, "unterminated regular expression")),
                        Some('/') => break,
                        Some('\\') if chars.get(j + 1) == Some(&'/') => {
                            s.push('/');
                            j += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            j += 1;
                        }
                    }
                }
                toks.push(Tok::Regex(s));
                i = j + 1;
                continue;
            }
            '[' | '{' => {
                let close = if c == '[' { ']' } else { '}' };
                let mut j = i + 1;
                let mut in_quote = false;
                while j < chars.len() {
                    match chars[j] {
                        '"' => in_quote = !in_quote,
                        '\\' => j += 1,
                        ']' | '}' if !in_quote => break,
                        _ => {}
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(fail(
                        text,
                        format!("unterminated range, expected [{close}]"),
                    ));
                }
                let inner: String = chars[i + 1..j].iter().collect();
                toks.push(lex_range(text, &inner, c == '[', chars[j] == ']')?);
                i = j + 1;
                continue;
            }
            '>' | '<' => {
                let inclusive = next == Some('=');
                let start = if inclusive { i + 2 } else { i + 1 };
                let (raw, _, _, end) = read_term(&chars, start);
                if raw.is_empty() {
                    return Err(fail(text, format!("missing value after [{c}]")));
                }
                toks.push(if c == '>' {
                    Tok::Range(Some((raw, inclusive)), None)
                } else {
                    Tok::Range(None, Some((raw, inclusive)))
                });
                i = end;
                continue;
            }
            _ => {
                let (raw, pattern, wildcard, end) = read_term(&chars, i);
                if end == i {
                    return Err(fail(text, format!("unexpected character [{c}]")));
                }
                let escaped = pattern.contains('\\');
                match raw.as_str() {
                    "AND" if !escaped => toks.push(Tok::And),
                    "OR" if !escaped => toks.push(Tok::Or),
                    "NOT" if !escaped => toks.push(Tok::Not),
                    _ => toks.push(Tok::Term(raw, pattern, wildcard)),
                }
                i = end;
                continue;
            }
        }
        i += 1;
    }
    Ok(toks)
}

/// Reads a bare term from `start`: (unescaped text, pattern with escapes, has wildcard, end).
fn read_term(chars: &[char], start: usize) -> (String, String, bool, usize) {
    let (mut raw, mut pattern, mut wildcard) = (String::new(), String::new(), false);
    let mut j = start;
    while j < chars.len() {
        let ch = chars[j];
        if ch == '\\' {
            if let Some(&e) = chars.get(j + 1) {
                raw.push(e);
                pattern.push('\\');
                pattern.push(e);
            }
            j += 2;
            continue;
        }
        if ch.is_whitespace() || SPECIAL.contains(&ch) {
            break;
        }
        if (ch == '&' || ch == '|') && chars.get(j + 1) == Some(&ch) {
            break;
        }
        if ch == '*' || ch == '?' {
            wildcard = true;
        }
        raw.push(ch);
        pattern.push(ch);
        j += 1;
    }
    (raw, pattern, wildcard, j)
}

fn lex_range(text: &str, inner: &str, lower_incl: bool, upper_incl: bool) -> Result<Tok> {
    let parts: Vec<&str> = inner.split_whitespace().collect();
    let to = parts
        .iter()
        .position(|p| *p == "TO")
        .ok_or_else(|| fail(text, "range needs [TO]"))?;
    let side = |words: &[&str], incl: bool| -> Option<(String, bool)> {
        let joined = words.join(" ");
        let v = joined.trim_matches('"').replace("\\", "");
        (v != "*" && !v.is_empty()).then_some((v, incl))
    };
    if to == 0 || to == parts.len() - 1 {
        return Err(fail(text, "range needs a value on both sides of [TO]"));
    }
    Ok(Tok::Range(
        side(&parts[..to], lower_incl),
        side(&parts[to + 1..], upper_incl),
    ))
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
