//! `search_text` answered by an index: a case-insensitive substring match
//! over a few columns cannot use a B-tree, so each backend gets its own
//! trigram index, created after the migrations (their SQL is shared by
//! both backends and neither index is portable):
//! - SQLite: an FTS5 table with the trigram tokenizer, kept in step with
//!   its table by triggers, so the write that changes a row changes its
//!   search entry in the same transaction;
//! - PostgreSQL: a `pg_trgm` GIN index on the lower-cased columns joined by
//!   a separator. Without the extension, search still works, by scanning.
//!
//! Terms shorter than a trigram cannot use either index and scan.

use sqlx::{AnyPool, Executor};

use crate::error::ApiError;
use crate::storage::sql::Conn;

/// A table whose rows `search_text` matches on any of `columns`.
#[derive(Debug)]
pub struct Searchable {
    /// The searched table.
    pub table: &'static str,
    /// Its text columns; `NULL`s match nothing.
    pub columns: &'static [&'static str],
}

/// Paykeys: label, institution, external id and routing number.
pub const PAYKEYS: Searchable = Searchable {
    table: "paykey",
    columns: &["label", "institution_name", "external_id", "routing_number"],
};

/// Customers: name, email, phone and external id.
pub const CUSTOMERS: Searchable = Searchable {
    table: "customer",
    columns: &["name", "email", "phone", "external_id"],
};

const ALL: [&Searchable; 2] = [&PAYKEYS, &CUSTOMERS];

/// How a search is answered.
#[derive(Debug)]
pub struct SearchPlan {
    /// The `WHERE` condition.
    pub condition: String,
    /// Its parameter.
    pub value: String,
    /// Rows are fetched from the matches (by rowid) rather than found by
    /// scanning the account in sort order.
    pub by_matches: bool,
}

/// Most matches for which SQLite reads rows from the FTS table's matches
/// (then sorts them) instead of scanning the account in sort order.
const RARE_MATCHES: u64 = 1000;

/// Shortest term a trigram index can answer.
const MIN_INDEXED_CHARS: usize = 3;

/// Keeps a match inside one column on PostgreSQL, where the columns are
/// searched as one string (ASCII unit separator).
const SEPARATOR: &str = "chr(31)";

impl Searchable {
    /// The FTS5 table beside `table` on SQLite.
    fn fts_table(&self) -> String {
        format!("{}_search", self.table)
    }

    /// The indexed expression on PostgreSQL.
    fn pg_expression(&self) -> String {
        let parts: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("COALESCE({c}, '')"))
            .collect();
        format!("lower({})", parts.join(&format!(" || {SEPARATOR} || ")))
    }

    /// How `search_text` = `text` is best answered on `conn`'s backend;
    /// `param` numbers the condition's one parameter.
    pub async fn plan(
        &self,
        conn: &mut Conn<'_>,
        text: &str,
        param: usize,
    ) -> Result<SearchPlan, ApiError> {
        let indexed = text.chars().count() >= MIN_INDEXED_CHARS;
        Ok(match conn {
            Conn::Sqlite(_) if indexed => {
                // SQLite cannot weigh the FTS table against the account's
                // index, so ask it: a rare term is read from the FTS table,
                // a common one is scanned for in sort order, where a page
                // fills at once.
                let phrase = format!("\"{}\"", text.replace('"', "\"\""));
                let probe = format!(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {fts} WHERE {fts} MATCH $1 LIMIT {limit}) AS probe",
                    fts = self.fts_table(),
                    limit = RARE_MATCHES + 1
                );
                let matches = conn
                    .fetch_one(&probe, crate::args![phrase.clone()])
                    .await?
                    .int("n")?;
                if matches <= RARE_MATCHES as i64 {
                    SearchPlan {
                        condition: format!(
                            "rowid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ${param})",
                            fts = self.fts_table()
                        ),
                        value: phrase,
                        by_matches: true,
                    }
                } else {
                    self.scan(text, param)
                }
            }
            Conn::Sqlx(_) if indexed => SearchPlan {
                condition: format!("{} LIKE ${param} ESCAPE '\\'", self.pg_expression()),
                value: like_pattern(text),
                by_matches: false,
            },
            _ => self.scan(text, param),
        })
    }

    /// `LOWER(column) LIKE %text%` on each column.
    fn scan(&self, text: &str, param: usize) -> SearchPlan {
        SearchPlan {
            condition: like_any(self.columns, &format!("${param}")),
            value: like_pattern(text),
            by_matches: false,
        }
    }

    /// Creates the FTS5 table and its triggers, filling the table when it
    /// is new. Idempotent.
    fn sqlite_ddl(&self) -> String {
        let fts = self.fts_table();
        let table = self.table;
        let columns = self.columns.join(", ");
        let new: Vec<String> = self.columns.iter().map(|c| format!("new.{c}")).collect();
        let new = new.join(", ");
        let set: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{c} = new.{c}"))
            .collect();
        let set = set.join(", ");
        format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({columns}, tokenize = 'trigram');
             CREATE TRIGGER IF NOT EXISTS {fts}_insert AFTER INSERT ON {table} BEGIN
                 INSERT INTO {fts} (rowid, {columns}) VALUES (new.rowid, {new});
             END;
             CREATE TRIGGER IF NOT EXISTS {fts}_update AFTER UPDATE OF {columns} ON {table} BEGIN
                 UPDATE {fts} SET {set} WHERE rowid = old.rowid;
             END;
             CREATE TRIGGER IF NOT EXISTS {fts}_delete AFTER DELETE ON {table} BEGIN
                 DELETE FROM {fts} WHERE rowid = old.rowid;
             END;"
        )
    }

    fn sqlite_fill(&self) -> String {
        let columns = self.columns.join(", ");
        format!(
            "INSERT INTO {} (rowid, {columns}) SELECT rowid, {columns} FROM {}",
            self.fts_table(),
            self.table
        )
    }

    fn pg_ddl(&self) -> String {
        format!(
            "CREATE INDEX IF NOT EXISTS {}_search ON {} USING gin (({}) gin_trgm_ops)",
            self.table,
            self.table,
            self.pg_expression()
        )
    }
}

/// `(LOWER(c1) LIKE p OR …)`: any of `columns` matches the `LIKE`
/// pattern bound to `placeholder` ([`like_pattern`]); `NULL` matches nothing.
pub fn like_any(columns: &[&str], placeholder: &str) -> String {
    let any: Vec<String> = columns
        .iter()
        .map(|c| format!("LOWER(COALESCE({c}, '')) LIKE {placeholder} ESCAPE '\\'"))
        .collect();
    format!("({})", any.join(" OR "))
}

/// `%text%`, lower-cased, with `LIKE`'s wildcards escaped.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Creates SQLite's search tables (filling new ones from their tables).
/// Runs while the caller holds the migration lock.
pub async fn ensure_sqlite(pool: &AnyPool) -> Result<(), sqlx::Error> {
    for searchable in ALL {
        let exists: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1")
                .bind(searchable.fts_table())
                .fetch_optional(pool)
                .await?;
        let mut tx = pool.begin().await?;
        tx.execute(searchable.sqlite_ddl().as_str()).await?;
        if exists.is_none() {
            tx.execute(searchable.sqlite_fill().as_str()).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Creates PostgreSQL's trigram indexes, one instance at a time and
/// without the statement timeout (indexing a large table takes a while,
/// once). Where `pg_trgm` cannot be installed, search scans and a warning
/// says so.
pub async fn ensure_postgres(pool: &AnyPool) -> Result<(), sqlx::Error> {
    /// Advisory lock key: "srch".
    const LOCK: i64 = 0x7372_6368;
    let mut tx = pool.begin().await?;
    tx.execute("SET LOCAL statement_timeout = 0").await?;
    tx.execute(format!("SELECT pg_advisory_xact_lock({LOCK})").as_str())
        .await?;
    if let Err(error) = tx.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm").await {
        tracing::warn!(%error, "pg_trgm is not available: search_text scans instead of using an index");
        return Ok(());
    }
    for searchable in ALL {
        tx.execute(searchable.pg_ddl().as_str()).await?;
    }
    tx.commit().await
}
