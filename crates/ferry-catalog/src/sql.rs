//! One SQL text for every dialect: statements are written with `?` placeholders (SQLite,
//! MySQL) and rewritten to `$1, $2, ...` for PostgreSQL.
//!
//! Only placeholders outside quoted literals and identifiers are rewritten. Deliberately
//! not here: any other dialect translation — statements that differ per dialect are
//! written per dialect by their caller.

use std::borrow::Cow;

use sqlx::AssertSqlSafe;

use crate::config::Dialect;

/// `statement` with its placeholders in `dialect`'s syntax. Statements are constants of
/// this crate; values are always bound, never spliced in.
pub(crate) fn sql(dialect: Dialect, statement: &'static str) -> AssertSqlSafe<Cow<'static, str>> {
    match dialect {
        Dialect::Sqlite | Dialect::Mysql => AssertSqlSafe(Cow::Borrowed(statement)),
        Dialect::Postgres => AssertSqlSafe(Cow::Owned(numbered_placeholders(statement))),
    }
}

/// Rewrites each `?` outside `'...'`, `"..."` and `` `...` `` to `$n`, counting from 1.
fn numbered_placeholders(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len() + 8);
    let mut quote: Option<char> = None;
    let mut n = 0;
    for c in statement.chars() {
        match (quote, c) {
            (None, '\'' | '"' | '`') => {
                quote = Some(c);
                out.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_for_postgres_only() {
        let stmt = "UPDATE t SET a = ?, b = ? WHERE c = ?";
        assert_eq!(
            sql(Dialect::Postgres, stmt).0,
            "UPDATE t SET a = $1, b = $2 WHERE c = $3"
        );
        assert_eq!(sql(Dialect::Mysql, stmt).0, stmt);
        assert_eq!(sql(Dialect::Sqlite, stmt).0, stmt);
    }

    #[test]
    fn leaves_quoted_question_marks_alone() {
        let stmt = "SELECT '?', \"a?\" FROM t WHERE x = ? AND y = 'it''s?' AND z = ?";
        assert_eq!(
            numbered_placeholders(stmt),
            "SELECT '?', \"a?\" FROM t WHERE x = $1 AND y = 'it''s?' AND z = $2"
        );
    }
}
