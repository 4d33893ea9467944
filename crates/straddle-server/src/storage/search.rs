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

    /// A condition matching rows that contain `text` (case-insensitively)
    /// in one of the columns, its parameter numbered `$param`, and that
    /// parameter's value.
    pub fn condition(&self, conn: &Conn<'_>, text: &str, param: usize) -> (String, String) {
        let indexed = text.chars().count() >= MIN_INDEXED_CHARS;
        match conn {
            Conn::Sqlite(_) if indexed => (
                format!(
                    "rowid IN (SELECT rowid FROM {} WHERE {} MATCH ${param})",
                    self.fts_table(),
                    self.fts_table()
                ),
                // One FTS5 phrase: the trigrams of `text`, in order.
                format!("\"{}\"", text.replace('"', "\"\"")),
            ),
            Conn::Sqlx(_) if indexed => (
                format!("{} LIKE ${param} ESCAPE '\\'", self.pg_expression()),
                like_pattern(text),
            ),
            _ => {
                let any: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| format!("LOWER(COALESCE({c}, '')) LIKE ${param} ESCAPE '\\'"))
                    .collect();
                (format!("({})", any.join(" OR ")), like_pattern(text))
            }
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
