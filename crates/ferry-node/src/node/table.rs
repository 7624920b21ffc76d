//! `_cat` tables: columns, cells, and rendering as ES's text table or JSON array.
//!
//! Rendering follows ES's `RestTable`: `?v` prints the header line, `?h=` selects columns
//! by name or alias (wildcards allowed; the alias typed is what is shown), `?s=` sorts,
//! `?bytes=` fixes the size unit, `?help` lists the columns, `?format=json` answers an
//! array of objects whose values are strings. Numbers are right-aligned. This module does
//! not know what the rows mean; `super::cat` builds them.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::names::simple_match;
use crate::error::ApiError;
use crate::params::Params;

/// One column of a cat table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Full name (`docs.count`).
    pub name: &'static str,
    /// Short names usable in `?h=` and `?s=`.
    pub aliases: &'static [&'static str],
    /// Shown without `?h=`.
    pub default: bool,
    /// Right-aligned (numbers and sizes).
    pub right: bool,
    /// What `?help` says.
    pub desc: &'static str,
}

/// A value of one cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Empty in text, `null` in JSON.
    Null,
    /// Plain text.
    Text(String),
    /// A number.
    Num(i64),
    /// A size in bytes, rendered per `?bytes=`.
    Bytes(u64),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

/// The output of a rendered table.
#[derive(Debug, Clone, PartialEq)]
pub enum CatOutput {
    /// `text/plain` body.
    Text(String),
    /// `?format=json`.
    Json(Value),
}

/// A cat table: its column set and rows (one cell per column, in column order).
#[derive(Debug, Clone, PartialEq)]
pub struct CatTable {
    /// Every column this table knows.
    pub columns: &'static [Column],
    /// Rows, each with `columns.len()` cells.
    pub rows: Vec<Vec<Cell>>,
}

/// `?bytes=` units.
const BYTE_UNITS: [(&str, u64); 6] = [
    ("b", 1),
    ("kb", 1 << 10),
    ("mb", 1 << 20),
    ("gb", 1 << 30),
    ("tb", 1 << 40),
    ("pb", 1 << 50),
];

/// ES's `ByteSizeValue.toString()`: the largest unit ≥ 1, one decimal truncated, `.0` dropped.
pub fn human_bytes(n: u64) -> String {
    let (suffix, unit) = BYTE_UNITS
        .iter()
        .rev()
        .find(|(_, u)| n >= *u)
        .copied()
        .unwrap_or(("b", 1));
    if unit == 1 {
        return format!("{n}b");
    }
    let tenths = (u128::from(n) * 10 / u128::from(unit)) as u64;
    if tenths.is_multiple_of(10) {
        format!("{}{suffix}", tenths / 10)
    } else {
        format!("{}.{}{suffix}", tenths / 10, tenths % 10)
    }
}

impl CatTable {
    /// A table with no rows yet.
    pub fn new(columns: &'static [Column]) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    /// Renders per `?v`, `?h`, `?s`, `?bytes`, `?help`, `?format`.
    pub fn render(&self, params: &Params) -> Result<CatOutput, ApiError> {
        let unit = match params.get("bytes") {
            None => None,
            Some(u) => Some(BYTE_UNITS.iter().find(|(s, _)| *s == u).map(|(_, n)| *n).ok_or_else(|| {
                ApiError::illegal_argument(format!(
                    "failed to parse setting [bytes] with value [{u}] as a size in bytes: unit is missing or unrecognized"
                ))
            })?),
        };
        if params.bool("help", false)? {
            return Ok(CatOutput::Text(self.help()));
        }
        let display = self.display_columns(params.get("h"));
        let order = self.sorted_rows(params.get("s"))?;
        let text = |cell: &Cell| -> Option<String> {
            match cell {
                Cell::Null => None,
                Cell::Text(s) => Some(s.clone()),
                Cell::Num(n) => Some(n.to_string()),
                Cell::Bytes(b) => Some(match unit {
                    Some(u) => (b / u).to_string(),
                    None => human_bytes(*b),
                }),
            }
        };
        match params.get("format").unwrap_or("text") {
            "json" => {
                let rows = order
                    .iter()
                    .map(|&r| {
                        let mut obj = Map::new();
                        for (col, shown) in &display {
                            let v = text(&self.rows[r][*col]).map_or(Value::Null, Value::String);
                            obj.insert((*shown).to_owned(), v);
                        }
                        Value::Object(obj)
                    })
                    .collect();
                Ok(CatOutput::Json(Value::Array(rows)))
            }
            "text" | "txt" => {
                let verbose = params.bool("v", false)?;
                let cells: Vec<Vec<Option<String>>> = order
                    .iter()
                    .map(|&r| {
                        display
                            .iter()
                            .map(|(c, _)| text(&self.rows[r][*c]))
                            .collect()
                    })
                    .collect();
                let mut widths: Vec<usize> = display
                    .iter()
                    .map(|(_, shown)| if verbose { shown.chars().count() } else { 0 })
                    .collect();
                for row in &cells {
                    for (w, cell) in widths.iter_mut().zip(row) {
                        *w = (*w).max(cell.as_deref().map_or(0, |s| s.chars().count()));
                    }
                }
                let mut out = String::new();
                let mut line = |vals: Vec<&str>| {
                    for (i, v) in vals.iter().enumerate() {
                        let right = self.columns[display[i].0].right;
                        let last = i + 1 == vals.len();
                        if i > 0 {
                            out.push(' ');
                        }
                        let pad = widths[i].saturating_sub(v.chars().count());
                        if right {
                            out.extend(std::iter::repeat_n(' ', pad));
                            out.push_str(v);
                        } else {
                            out.push_str(v);
                            if !last {
                                out.extend(std::iter::repeat_n(' ', pad));
                            }
                        }
                    }
                    out.push('\n');
                };
                if verbose {
                    line(display.iter().map(|(_, s)| *s).collect());
                }
                for row in &cells {
                    line(row.iter().map(|c| c.as_deref().unwrap_or("")).collect());
                }
                Ok(CatOutput::Text(out))
            }
            other => Err(ApiError::illegal_argument(format!(
                "format [{other}] is not supported yet for _cat"
            ))),
        }
    }

    /// `(column index, shown name)` in display order.
    fn display_columns<'p>(&self, h: Option<&'p str>) -> Vec<(usize, &'p str)> {
        let Some(h) = h.filter(|h| !h.trim().is_empty()) else {
            return self
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.default)
                .map(|(i, c)| (i, c.name))
                .collect();
        };
        let mut out = Vec::new();
        for want in h.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            for (i, c) in self.columns.iter().enumerate() {
                let shown = if simple_match(want, c.name) {
                    Some(c.name)
                } else if let Some(alias) = c.aliases.iter().find(|a| simple_match(want, a)) {
                    Some(if want.contains('*') { *alias } else { want })
                } else {
                    None
                };
                if let Some(shown) = shown
                    && !out.iter().any(|&(j, _)| j == i)
                {
                    out.push((i, shown));
                }
            }
        }
        out
    }

    fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name || c.aliases.contains(&name))
    }

    /// Row indices in `?s=` order (stable; ES's order otherwise).
    fn sorted_rows(&self, s: Option<&str>) -> Result<Vec<usize>, ApiError> {
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        let Some(s) = s.filter(|s| !s.trim().is_empty()) else {
            return Ok(order);
        };
        let mut keys: Vec<(usize, bool)> = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (name, desc) = match part.rsplit_once(':') {
                Some((n, "desc")) => (n, true),
                Some((n, "asc")) => (n, false),
                _ => (part, false),
            };
            let col = self.column_index(name).ok_or_else(|| {
                ApiError::illegal_argument(format!("Unable to sort by unknown sort key `{name}`"))
            })?;
            keys.push((col, desc));
        }
        order.sort_by(|&a, &b| {
            for &(col, desc) in &keys {
                let (x, y) = (&self.rows[a][col], &self.rows[b][col]);
                // Empty cells sort last in both directions.
                let o = match (x, y) {
                    (Cell::Null, Cell::Null) => Ordering::Equal,
                    (Cell::Null, _) => Ordering::Greater,
                    (_, Cell::Null) => Ordering::Less,
                    _ if desc => cmp_cells(x, y).reverse(),
                    _ => cmp_cells(x, y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        Ok(order)
    }

    fn help(&self) -> String {
        let w0 = self.columns.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let aliases: Vec<String> = self.columns.iter().map(|c| c.aliases.join(",")).collect();
        let w1 = aliases.iter().map(String::len).max().unwrap_or(0);
        let mut out = String::new();
        for (c, a) in self.columns.iter().zip(&aliases) {
            out.push_str(&format!("{:<w0$} | {:<w1$} | {}\n", c.name, a, c.desc));
        }
        out
    }
}

fn cmp_cells(a: &Cell, b: &Cell) -> Ordering {
    match (a, b) {
        (Cell::Null, Cell::Null) => Ordering::Equal,
        (Cell::Null, _) => Ordering::Greater,
        (_, Cell::Null) => Ordering::Less,
        (Cell::Num(x), Cell::Num(y)) => x.cmp(y),
        (Cell::Bytes(x), Cell::Bytes(y)) => x.cmp(y),
        (Cell::Text(x), Cell::Text(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: &[Column] = &[
        Column {
            name: "index",
            aliases: &["i", "idx"],
            default: true,
            right: false,
            desc: "index name",
        },
        Column {
            name: "docs.count",
            aliases: &["dc"],
            default: true,
            right: true,
            desc: "docs",
        },
        Column {
            name: "store.size",
            aliases: &["ss"],
            default: true,
            right: true,
            desc: "size",
        },
        Column {
            name: "uuid",
            aliases: &["id"],
            default: false,
            right: false,
            desc: "uuid",
        },
    ];

    fn table() -> CatTable {
        let mut t = CatTable::new(COLS);
        t.rows.push(vec![
            "logs".into(),
            Cell::Num(1200),
            Cell::Bytes(1536),
            "u1".into(),
        ]);
        t.rows.push(vec![
            "a".into(),
            Cell::Num(7),
            Cell::Bytes(225),
            "u2".into(),
        ]);
        t.rows
            .push(vec!["closed".into(), Cell::Null, Cell::Null, "u3".into()]);
        t
    }

    fn params(kv: &[(&str, &str)]) -> Params {
        Params(
            kv.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn text(kv: &[(&str, &str)]) -> String {
        match table().render(&params(kv)).unwrap() {
            CatOutput::Text(t) => t,
            CatOutput::Json(_) => panic!("expected text"),
        }
    }

    #[test]
    fn text_table_aligns_numbers_right_and_prints_header_with_v() {
        assert_eq!(
            text(&[("v", "")]),
            "index  docs.count store.size\nlogs         1200      1.5kb\na               7       225b\nclosed                      \n"
        );
        assert_eq!(
            text(&[]),
            "logs   1200 1.5kb\na         7  225b\nclosed           \n"
        );
    }

    #[test]
    fn h_selects_columns_by_name_or_alias_and_s_sorts() {
        assert_eq!(
            text(&[("h", "i,uuid"), ("s", "index")]),
            "a      u2\nclosed u3\nlogs   u1\n"
        );
        assert_eq!(
            text(&[("h", "dc"), ("s", "dc:desc"), ("v", "true")]),
            "  dc\n1200\n   7\n    \n"
        );
        let e = table().render(&params(&[("s", "nope")])).unwrap_err();
        assert_eq!(e.reason, "Unable to sort by unknown sort key `nope`");
    }

    #[test]
    fn json_format_has_string_values_and_null_for_missing() {
        let out = table()
            .render(&params(&[("format", "json"), ("bytes", "b")]))
            .unwrap();
        let CatOutput::Json(v) = out else {
            panic!("expected json")
        };
        assert_eq!(
            v[0],
            serde_json::json!({"index": "logs", "docs.count": "1200", "store.size": "1536"})
        );
        assert_eq!(v[2]["docs.count"], Value::Null);
    }

    #[test]
    fn bytes_render_like_byte_size_value() {
        assert_eq!(human_bytes(0), "0b");
        assert_eq!(human_bytes(1023), "1023b");
        assert_eq!(human_bytes(1024), "1kb");
        assert_eq!(human_bytes(1536), "1.5kb");
        assert_eq!(human_bytes(1024 * 1024 * 10 + 1024 * 1023), "10.9mb");
        assert_eq!(text(&[("h", "ss"), ("bytes", "kb")]), "1\n0\n \n");
        assert!(table().render(&params(&[("bytes", "zz")])).is_err());
    }

    #[test]
    fn help_lists_columns() {
        let h = text(&[("help", "")]);
        assert!(h.starts_with("index      | i,idx | index name\n"), "{h}");
    }
}
