//! The lexer of the `query_string` syntax: operators (`AND`, `&&`, `+`, `-`, `!`, ...),
//! terms with `\` escapes and `*`/`?` wildcards, quoted phrases, `[a TO b]` and
//! `{a TO b}` ranges, `>=x` comparisons, `/regex/`, `^boost` and `~slop`.

use crate::{IndexError, Result};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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

pub(super) fn fail(text: &str, why: impl std::fmt::Display) -> IndexError {
    IndexError::Parsing(format!("Failed to parse query [{text}]: {why}"))
}

const SPECIAL: &[char] = &['(', ')', ':', '^', '~', '"', '[', ']', '{', '}', '/'];

pub(super) fn lex(text: &str) -> Result<Vec<Tok>> {
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
