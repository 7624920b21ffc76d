//! Turns answers into text: pretty JSON, or tables for health, index lists, search hits and
//! bulk results (and, in `ccr`, remote clusters and CCR answers); and gRPC failures into
//! one `<type>: <reason>` line.
//!
//! Output is deterministic (key order as the server sent it, no colours, no terminal-width
//! guessing) so scripts and tests can rely on it. Pure functions: nothing here prints.

mod ccr;

use serde_json::{Map, Value};
use tonic::Status;

use crate::call::View;
use crate::cli::Output;

/// Longest `_source` snippet in the search table, in characters.
const SNIPPET_CHARS: usize = 60;

/// The text to print for an answer body, ending in a newline.
pub fn render(view: View, output: Output, body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        // Not JSON (should not happen): show the bytes rather than nothing.
        return with_newline(String::from_utf8_lossy(body).into_owned());
    };
    let table = match (output, view) {
        (Output::Json, _) | (Output::Table, View::Json) => None,
        (Output::Table, View::Health) => health_table(&json),
        (Output::Table, View::IndexList) => index_table(&json),
        (Output::Table, View::Search) => search_table(&json),
        (Output::Table, View::Bulk) => bulk_table(&json),
        (Output::Table, View::RemoteList) => ccr::remote_table(&json),
        (Output::Table, View::FollowInfo) => ccr::follow_info_table(&json),
        (Output::Table, View::FollowStats) => ccr::follow_stats_table(&json),
        (Output::Table, View::AutoFollow) => ccr::auto_follow_table(&json),
    };
    with_newline(table.unwrap_or_else(|| pretty(&json)))
}

/// One line for a failed call: `<es type>: <reason>` from the Elasticsearch error body in
/// the status details, else `<grpc code>: <message>`.
pub fn describe_status(status: &Status) -> String {
    if let Ok(body) = serde_json::from_slice::<Value>(status.details()) {
        let error = &body["error"];
        if let (Some(kind), Some(reason)) = (error["type"].as_str(), error["reason"].as_str()) {
            return format!("{kind}: {reason}");
        }
    }
    format!(
        "{}: {}",
        snake_case(&format!("{:?}", status.code())),
        status.message()
    )
}

/// A table with left-aligned columns two spaces apart and no trailing spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(cell.chars().count()),
            ));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Cluster health: one `field  value` line per scalar field.
fn health_table(json: &Value) -> Option<String> {
    let obj = json.as_object()?;
    let rows: Vec<Vec<String>> = obj
        .iter()
        .filter(|(_, v)| !v.is_object() && !v.is_array())
        .map(|(k, v)| vec![k.clone(), cell(v)])
        .collect();
    Some(table(&["field", "value"], &rows))
}

/// `_cat/indices` rows: columns in the order the server sent them.
fn index_table(json: &Value) -> Option<String> {
    let rows = json.as_array()?;
    if rows.is_empty() {
        return Some("no indices".to_owned());
    }
    let objects: Vec<&Map<String, Value>> =
        rows.iter().map(Value::as_object).collect::<Option<_>>()?;
    let mut columns: Vec<&str> = Vec::new();
    for obj in &objects {
        for key in obj.keys() {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let cells: Vec<Vec<String>> = objects
        .iter()
        .map(|obj| {
            columns
                .iter()
                .map(|c| obj.get(*c).map(cell).unwrap_or_default())
                .collect()
        })
        .collect();
    Some(table(&columns, &cells))
}

/// Search hits: a summary line, then index, id, score and a `_source` snippet per hit.
fn search_table(json: &Value) -> Option<String> {
    let hits = json.get("hits")?;
    let list = hits.get("hits")?.as_array()?;
    let total = match hits.get("total") {
        Some(Value::Object(t)) => {
            let relation = if t.get("relation").and_then(Value::as_str) == Some("gte") {
                "+"
            } else {
                ""
            };
            format!("{}{relation}", t.get("value").map(cell).unwrap_or_default())
        }
        Some(v) => cell(v),
        None => "?".to_owned(),
    };
    let took = json.get("took").map(cell).unwrap_or_else(|| "?".to_owned());
    let mut out = format!("hits: {total}, took: {took}ms\n");
    if list.is_empty() {
        return Some(out);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|hit| {
            let field = |k: &str| {
                hit.get(k)
                    .filter(|v| !v.is_null())
                    .map(cell)
                    .unwrap_or_else(|| "-".to_owned())
            };
            let source = hit
                .get("_source")
                .map(|s| snippet(&s.to_string()))
                .unwrap_or_else(|| "-".to_owned());
            vec![field("_index"), field("_id"), field("_score"), source]
        })
        .collect();
    out.push_str(&table(&["index", "id", "score", "source"], &rows));
    Some(out)
}

/// Bulk: a summary line, then one row per failed item.
fn bulk_table(json: &Value) -> Option<String> {
    let items = json.get("items")?.as_array()?;
    let errors = json.get("errors").and_then(Value::as_bool).unwrap_or(false);
    let took = json.get("took").map(cell).unwrap_or_else(|| "?".to_owned());
    let mut failed = Vec::new();
    for item in items {
        let Some((action, result)) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let Some(error) = result.get("error") else {
            continue;
        };
        let field = |v: Option<&Value>| {
            v.filter(|v| !v.is_null())
                .map(cell)
                .unwrap_or_else(|| "-".to_owned())
        };
        failed.push(vec![
            action.clone(),
            field(result.get("_index")),
            field(result.get("_id")),
            field(result.get("status")),
            field(error.get("type")),
            field(error.get("reason")),
        ]);
    }
    let mut out = format!(
        "items: {}, failed: {}, errors: {errors}, took: {took}ms\n",
        items.len(),
        failed.len()
    );
    if !failed.is_empty() {
        out.push_str(&table(
            &["action", "index", "id", "status", "type", "reason"],
            &failed,
        ));
    }
    Some(out)
}

/// A scalar as a table cell: strings bare, everything else as compact JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn snippet(s: &str) -> String {
    match s.char_indices().nth(SNIPPET_CHARS) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}...", &s[..cut]),
    }
}

fn pretty(json: &Value) -> String {
    serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string())
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// `InvalidArgument` → `invalid_argument`.
fn snake_case(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
