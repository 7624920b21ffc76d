//! The `standard` analyzer, close to Elasticsearch's: Unicode word segmentation (the
//! UAX #29 rules that matter for Latin-script text) followed by lowercasing.
//!
//! Kept together: letters and digits (`abc123`), `_`, apostrophes and dots between letters
//! (`don't`, `example.com`), dots, commas and semicolons between digits (`3.14`, `1,000`),
//! combining marks. Split: everything else, and each Han ideograph or Hiragana character
//! is its own token. Tokens are cut at 255 characters as ES's `max_token_length`.
//! No stop words (ES's `standard` has none by default), no stemming.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Name under which the analyzer is registered on every shard index.
pub(crate) const STANDARD: &str = "ferry_standard";

const MAX_TOKEN_CHARS: usize = 255;

/// The tokenizer (lowercasing included).
#[derive(Clone, Default)]
pub(crate) struct StandardTokenizer {
    token: Token,
}

/// Token stream of [`StandardTokenizer`].
pub(crate) struct StandardStream<'a> {
    text: &'a str,
    pos: usize,
    token: &'a mut Token,
}

impl Tokenizer for StandardTokenizer {
    type TokenStream<'a> = StandardStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> StandardStream<'a> {
        self.token.reset();
        StandardStream {
            text,
            pos: 0,
            token: &mut self.token,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    Joiner,
    Ideograph,
    Other,
}

fn is_extend(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A | 0x064B..=0x065F
        | 0x0900..=0x0903 | 0x093A..=0x094F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF
        | 0x200C | 0x200D | 0x20D0..=0x20FF | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F)
}

fn is_ideograph(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x309F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0x20000..=0x2FA1F)
}

fn class(c: char) -> Class {
    if c.is_ascii() {
        return match c {
            'a'..='z' | 'A'..='Z' => Class::Letter,
            '0'..='9' => Class::Digit,
            '_' => Class::Joiner,
            _ => Class::Other,
        };
    }
    if is_ideograph(c) {
        Class::Ideograph
    } else if c.is_alphabetic() || is_extend(c) {
        Class::Letter
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Other
    }
}

fn mid_letter(c: char) -> bool {
    matches!(
        c,
        ':' | '·' | '\u{0387}' | '\u{05F4}' | '\u{2027}' | '\u{FE13}' | '\u{FE55}' | '\u{FF1A}'
    )
}

fn mid_num(c: char) -> bool {
    matches!(
        c,
        ',' | ';'
            | '\u{037E}'
            | '\u{0589}'
            | '\u{060C}'
            | '\u{060D}'
            | '\u{066C}'
            | '\u{07F8}'
            | '\u{2044}'
            | '\u{FE10}'
            | '\u{FE14}'
            | '\u{FE50}'
            | '\u{FE54}'
            | '\u{FF0C}'
            | '\u{FF1B}'
    )
}

fn mid_num_let(c: char) -> bool {
    matches!(
        c,
        '.' | '\'' | '\u{2018}' | '\u{2019}' | '\u{2024}' | '\u{FE52}' | '\u{FF07}' | '\u{FF0E}'
    )
}

impl StandardStream<'_> {
    /// Byte end of the word starting at `start` (whose first char is a word char).
    fn word_end(&self, start: usize) -> usize {
        let mut it = self.text[start..].char_indices().peekable();
        let mut end = start;
        let mut prev = Class::Other;
        let mut chars = 0;
        while let Some((off, c)) = it.next() {
            let cl = class(c);
            match cl {
                Class::Letter | Class::Digit | Class::Joiner => {
                    chars += 1;
                    end = start + off + c.len_utf8();
                    prev = cl;
                    if chars >= MAX_TOKEN_CHARS {
                        break;
                    }
                }
                Class::Other => {
                    let next = it.peek().map(|&(_, n)| class(n));
                    let joins = match (prev, next) {
                        (Class::Letter, Some(Class::Letter)) => mid_letter(c) || mid_num_let(c),
                        (Class::Digit, Some(Class::Digit)) => mid_num(c) || mid_num_let(c),
                        _ => false,
                    };
                    if !joins {
                        break;
                    }
                }
                Class::Ideograph => break,
            }
        }
        end
    }

    fn emit(&mut self, from: usize, to: usize) {
        let word = &self.text[from..to];
        self.token.text.clear();
        if word.is_ascii() {
            self.token.text.push_str(word);
            self.token.text.make_ascii_lowercase();
        } else {
            for c in word.chars() {
                self.token.text.extend(c.to_lowercase());
            }
        }
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.position = self.token.position.wrapping_add(1);
        self.pos = to;
    }
}

impl TokenStream for StandardStream<'_> {
    fn advance(&mut self) -> bool {
        while self.pos < self.text.len() {
            let rest = &self.text[self.pos..];
            let c = rest.chars().next().expect("pos is below the text length");
            let start = self.pos;
            match class(c) {
                Class::Ideograph => {
                    self.emit(start, start + c.len_utf8());
                    return true;
                }
                Class::Letter | Class::Digit | Class::Joiner => {
                    let end = self.word_end(start);
                    if self.text[start..end]
                        .chars()
                        .all(|ch| class(ch) == Class::Joiner)
                    {
                        self.pos = end;
                        continue;
                    }
                    self.emit(start, end);
                    return true;
                }
                Class::Other => self.pos += c.len_utf8(),
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Analyzes `text` into (position, token) pairs, as indexing does.
pub(crate) fn analyze(text: &str) -> Vec<(usize, String)> {
    let mut tokenizer = StandardTokenizer::default();
    let mut stream = tokenizer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        let t = stream.token();
        out.push((t.position, t.text.clone()));
    }
    out
}

/// What `normalize` does for multi-term queries (prefix, wildcard) on text: lowercasing.
pub(crate) fn normalize(text: &str) -> String {
    text.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Vec<String> {
        analyze(s).into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn splits_like_es_standard() {
        assert_eq!(
            tokens("The Quick-Brown fox!"),
            ["the", "quick", "brown", "fox"]
        );
        assert_eq!(tokens("don't stop"), ["don't", "stop"]);
        assert_eq!(
            tokens("pi is 3.14, or 1,000"),
            ["pi", "is", "3.14", "or", "1,000"]
        );
        assert_eq!(tokens("mail me@example.com"), ["mail", "me", "example.com"]);
        assert_eq!(
            tokens("foo_bar abc123 U.S.A."),
            ["foo_bar", "abc123", "u.s.a"]
        );
        assert_eq!(tokens("Ünïcödé ÉTÉ"), ["ünïcödé", "été"]);
        assert_eq!(tokens("日本語 text"), ["日", "本", "語", "text"]);
        assert_eq!(tokens("___ -- ..."), Vec::<String>::new());
        assert_eq!(tokens("end."), ["end"]);
    }

    #[test]
    fn positions_and_offsets() {
        let got = analyze("a  b");
        assert_eq!(got, vec![(0, "a".to_string()), (1, "b".to_string())]);
    }

    #[test]
    fn long_tokens_are_cut() {
        let long = "x".repeat(300);
        let got = tokens(&long);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), 255);
    }
}
