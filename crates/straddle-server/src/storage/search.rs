//! `search_text` answered by an index: a case-insensitive substring match
//! over a few columns cannot use a B-tree, so each backend gets its own
//! trigram index, created after the migrations (their SQL is shared by
//! both backends and neither index is portable):
//! - SQLite: a contentless FTS5 table with the trigram tokenizer, keeping
//!   rowids only (`detail=none`, a quarter of the size with positions): it
//!   finds the rows holding a term's trigrams, and [`add_sqlite_functions`]'s
//!   `holds_text` keeps those that hold the term itself. Triggers queue each inserted or changed row in
//!   `search_pending`, and the writer indexes the queue once per group
//!   commit, in the same transaction
//!   ([`index_pending`]): a committed row is always searchable, and FTS5
//!   writes one segment per batch instead of one per write (it flushes at
//!   every savepoint, and each write in a batch has its own);
//! - PostgreSQL: a `pg_trgm` GIN index on the lower-cased columns joined by
//!   a separator. Without the extension, search still works, by scanning.
//!
//! Terms shorter than a trigram cannot use either index and scan.

use rusqlite::OptionalExtension;
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

/// How a search is answered.
#[derive(Debug)]
pub struct SearchPlan {
    /// The `WHERE` condition that scans for the term (and re-checks rows).
    pub condition: String,
    /// Its parameters, in order (with the candidates' query, if any).
    pub values: Vec<String>,
    /// SQLite, a term the trigram index can answer: its candidates, for
    /// reading the matches by rowid when there are few.
    pub candidates: Option<Candidates>,
}

/// A term's candidate rows from the FTS5 table, at most
/// [`RARE_MATCHES`]` + 1` of them.
#[derive(Debug)]
pub struct Candidates {
    /// `WITH candidate(id) AS …`: a statement's prefix naming them.
    pub with: String,
    /// The condition keeping the candidates that hold the term, if there
    /// are at most [`RARE_MATCHES`] (otherwise none).
    pub condition: String,
    /// `SELECT COUNT(*) AS n …` of them.
    pub count_sql: String,
}

impl Candidates {
    /// Whether `count` candidates are too many to read by rowid.
    pub fn too_many(count: u64) -> bool {
        count > RARE_MATCHES
    }
}

/// Most matches for which SQLite reads rows from the FTS table's matches
/// (then sorts them) instead of scanning the account in sort order.
const RARE_MATCHES: u64 = 1000;

/// The GIN index's pending list bound. Inserts queue their trigrams in the
/// list, and the insert that finds it full moves all of it into the index
/// before it commits: at the default 4 MB that insert took 50 ms
/// (bank_account at 64 connections, p99.9 38-100 ms); at 256 kB the moves
/// are sixteen times smaller.
const GIN_PENDING: &str = "gin_pending_list_limit=256";

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

    /// How `search_text` = `text` is answered on `conn`'s backend; `param`
    /// numbers the plan's first parameter.
    pub fn plan(&self, conn: &Conn<'_>, text: &str, param: usize) -> SearchPlan {
        let indexed = text.chars().count() >= MIN_INDEXED_CHARS;
        match conn {
            Conn::Sqlite(_) if indexed => {
                // SQLite cannot weigh the FTS table against the account's
                // index, so the list decides: a rare term's candidates are
                // read once and their rows fetched by rowid; a common one is
                // scanned for in sort order, where a page fills at once.
                let (query, term) = (format!("${param}"), format!("${}", param + 1));
                let columns = self.columns.join(", ");
                let fts = self.fts_table();
                let limit = RARE_MATCHES + 1;
                let matching =
                    format!("SELECT rowid FROM {fts} WHERE {fts} MATCH {query} LIMIT {limit}");
                SearchPlan {
                    condition: format!("holds_text({term}, {columns})"),
                    values: vec![trigram_query(text), text.to_lowercase()],
                    candidates: Some(Candidates {
                        with: format!("WITH candidate(id) AS MATERIALIZED ({matching})"),
                        condition: format!(
                            "((SELECT COUNT(*) FROM candidate) <= {RARE_MATCHES} \
                             AND rowid IN (SELECT id FROM candidate) AND holds_text({term}, {columns}))"
                        ),
                        count_sql: format!("SELECT COUNT(*) AS n FROM ({matching})"),
                    }),
                }
            }
            Conn::Sqlx(..) if indexed => SearchPlan {
                condition: format!("{} LIKE ${param} ESCAPE '\\'", self.pg_expression()),
                values: vec![like_pattern(text)],
                candidates: None,
            },
            _ => self.scan(text, param),
        }
    }

    /// `LOWER(column) LIKE %text%` on each column.
    fn scan(&self, text: &str, param: usize) -> SearchPlan {
        SearchPlan {
            condition: like_any(self.columns, &format!("${param}")),
            values: vec![like_pattern(text)],
            candidates: None,
        }
    }

    /// The FTS5 table's argument list, as its SQL in `sqlite_master` ends.
    fn fts_arguments(&self) -> String {
        format!("({}, {FTS_OPTIONS})", self.columns.join(", "))
    }

    /// Creates the FTS5 table and the triggers that queue its rows in
    /// `search_pending`. Idempotent.
    fn sqlite_ddl(&self) -> String {
        let (fts, table) = (self.fts_table(), self.table);
        let (columns, arguments) = (self.columns.join(", "), self.fts_arguments());
        format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5{arguments};
             CREATE TRIGGER IF NOT EXISTS {fts}_queue_insert AFTER INSERT ON {table} BEGIN
                 INSERT OR IGNORE INTO search_pending (searched, row_id) VALUES ('{table}', new.rowid);
             END;
             CREATE TRIGGER IF NOT EXISTS {fts}_queue_update AFTER UPDATE OF {columns} ON {table} BEGIN
                 DELETE FROM {fts} WHERE rowid = old.rowid;
                 INSERT OR IGNORE INTO search_pending (searched, row_id) VALUES ('{table}', new.rowid);
             END;
             CREATE TRIGGER IF NOT EXISTS {fts}_queue_delete AFTER DELETE ON {table} BEGIN
                 DELETE FROM {fts} WHERE rowid = old.rowid;
                 DELETE FROM search_pending WHERE searched = '{table}' AND row_id = old.rowid;
             END;"
        )
    }

    /// Drops an FTS table of an earlier layout (with its own copy of the
    /// columns, kept by per-row triggers), so it is built again.
    fn sqlite_drop_outdated(&self) -> String {
        let fts = self.fts_table();
        format!(
            "DROP TRIGGER IF EXISTS {fts}_insert; DROP TRIGGER IF EXISTS {fts}_update;
             DROP TRIGGER IF EXISTS {fts}_delete; DROP TABLE IF EXISTS {fts};"
        )
    }

    /// Indexes the queued rows of this table (then dequeued by the caller).
    fn sqlite_index_pending(&self) -> String {
        let columns = self.columns.join(", ");
        format!(
            "INSERT INTO {fts} (rowid, {columns}) SELECT rowid, {columns} FROM {table}
             WHERE rowid IN (SELECT row_id FROM search_pending WHERE searched = '{table}')",
            fts = self.fts_table(),
            table = self.table
        )
    }

    /// Merges the FTS table's segments by at most the bound number of
    /// pages, once a level holds enough segments to merge (FTS5's
    /// `usermerge`, 4).
    fn sqlite_merge(&self) -> String {
        let fts = self.fts_table();
        format!("INSERT INTO {fts} ({fts}, rank) VALUES ('merge', ?1)")
    }

    /// Keeps FTS5's own merging at its default: it rarely finds anything
    /// left to merge after the writer's small merges ([`index_pending`]),
    /// but catches up in one step where those fell behind, before any
    /// level piles up to a crisis merge of the whole level.
    fn sqlite_automerge(&self) -> String {
        let fts = self.fts_table();
        format!("INSERT INTO {fts} ({fts}, rank) VALUES ('automerge', 4)")
    }

    /// Queues every row of this table (a search table being built).
    fn sqlite_queue_all(&self) -> String {
        format!(
            "INSERT OR IGNORE INTO search_pending (searched, row_id) SELECT '{table}', rowid FROM {table}",
            table = self.table
        )
    }

    /// The trigram index on PostgreSQL.
    fn pg_index(&self) -> String {
        format!("{}_search", self.table)
    }

    fn pg_ddl(&self) -> String {
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} USING gin (({}) gin_trgm_ops) WITH ({GIN_PENDING})",
            self.pg_index(),
            self.table,
            self.pg_expression()
        )
    }
}

/// Adds `holds_text(term, column…)` to a SQLite connection: whether any
/// non-`NULL` column, lower-cased as `lower()` does, holds `term` (given
/// lower-cased). It keeps the index's candidates that hold the term itself,
/// and costs less than `lower()` and `LIKE` on each column: ASCII text is
/// compared in place, without a lower-cased copy.
pub fn add_sqlite_functions(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    use rusqlite::types::ValueRef;
    conn.create_scalar_function(
        "holds_text",
        -1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let term = ctx.get_raw(0).as_str()?;
            Ok((1..ctx.len()).any(|i| match ctx.get_raw(i) {
                ValueRef::Text(column) => holds(column, term),
                _ => false,
            }))
        },
    )
}

/// Whether `column` lower-cased holds `term` (lower-cased).
fn holds(column: &[u8], term: &str) -> bool {
    if column.is_ascii() {
        // Lower-casing keeps ASCII text ASCII, so a non-ASCII term cannot
        // be in it.
        term.is_ascii()
            && (term.is_empty()
                || column
                    .windows(term.len())
                    .any(|window| window.eq_ignore_ascii_case(term.as_bytes())))
    } else {
        lower_case(column).contains(term)
    }
}

/// Text lower-cased as SQLite's `lower()` does on our connections: Unicode
/// lower-casing, as PostgreSQL's `lower()` (SQLite's own is ASCII-only).
pub fn lower_case(text: &[u8]) -> String {
    String::from_utf8_lossy(text).to_lowercase()
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

/// FTS5 options: trigrams, rowids only (no positions, so no phrase
/// queries), and no copy of the columns (rows are read from their table);
/// rows can still be deleted.
const FTS_OPTIONS: &str = "content='', contentless_delete=1, tokenize='trigram', detail='none'";

/// An FTS5 query for the rows holding every trigram of `text` that a
/// cover of it needs: those at every third character, and the last. Each
/// is a quoted string, so FTS5's operators in `text` are taken literally.
fn trigram_query(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let last = chars.len().saturating_sub(MIN_INDEXED_CHARS);
    let starts = (0..last).step_by(MIN_INDEXED_CHARS).chain([last]);
    let quoted: Vec<String> = starts
        .map(|start| {
            let trigram: String = chars[start..start + MIN_INDEXED_CHARS].iter().collect();
            format!("\"{}\"", trigram.replace('"', "\"\""))
        })
        .collect();
    quoted.join(" AND ")
}

const SQLITE_QUEUE: &str = "CREATE TABLE IF NOT EXISTS search_pending (
    searched TEXT NOT NULL, row_id INTEGER NOT NULL, PRIMARY KEY (searched, row_id)) WITHOUT ROWID";

/// Creates SQLite's search tables, building new or outdated ones from
/// their tables, and indexes anything queued. Runs on the writer's
/// connection before it starts, while the caller holds the migration lock.
pub fn ensure_sqlite(conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(SQLITE_QUEUE)?;
    for searchable in ALL {
        let current: Option<String> = tx
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [searchable.fts_table()],
                |row| row.get(0),
            )
            .optional()?;
        // The whole argument list, so a layout that adds to it (as
        // `detail='none'` did) is told apart from the one it extends.
        let layout = searchable.fts_arguments();
        if !current.as_ref().is_some_and(|sql| sql.ends_with(&layout)) {
            if current.is_some() {
                tracing::info!(
                    table = searchable.table,
                    "rebuilding the search index in its new layout (once; about 15 s for a million rows)"
                );
            }
            tx.execute_batch(&searchable.sqlite_drop_outdated())?;
            tx.execute_batch(&searchable.sqlite_queue_all())?;
        }
        tx.execute_batch(&searchable.sqlite_ddl())?;
        tx.execute_batch(&searchable.sqlite_automerge())?;
    }
    index_pending(&tx)?;
    tx.commit()
}

/// Most pages of merging a batch that indexed `rows` rows does. FTS5's
/// automerge alone does the merging in bursts: 64 pages per level of the
/// index once every 64 pages written, which stalled one batch in a hundred
/// for 5 to 12 ms. A batch's rows fill well under a page of the index each,
/// and a merge copies every page once per level, so a page per row and a
/// few over keep the merging level with the writes.
fn merge_pages(rows: usize) -> i64 {
    (rows + 16) as i64
}

/// Indexes every queued row, merges a few of the index's segments, and
/// empties the queue: run by the SQLite writer once per batch, after the
/// last write's savepoint is released.
pub fn index_pending(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let queued: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM search_pending)")?
        .query_row([], |row| row.get(0))?;
    if queued {
        for searchable in ALL {
            let indexed = conn
                .prepare_cached(&searchable.sqlite_index_pending())?
                .execute([])?;
            if indexed > 0 {
                conn.prepare_cached(&searchable.sqlite_merge())?
                    .execute([merge_pages(indexed)])?;
            }
        }
        conn.prepare_cached("DELETE FROM search_pending")?
            .execute([])?;
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
        // An index made before the bound: set it once (it locks the index).
        let options: String = sqlx::query_scalar(
            "SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = to_regclass($1)",
        )
        .bind(searchable.pg_index())
        .fetch_one(&mut *tx)
        .await?;
        if !options.split(',').any(|option| option == GIN_PENDING) {
            let bound = format!("ALTER INDEX {} SET ({GIN_PENDING})", searchable.pg_index());
            tx.execute(bound.as_str()).await?;
        }
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(conn: &rusqlite::Connection, term: &str) -> Vec<i64> {
        let sql = "SELECT rowid FROM customer_search WHERE customer_search MATCH ?1 ORDER BY rowid";
        let mut statement = conn.prepare(sql).unwrap();
        let rows = statement.query_map([trigram_query(term)], |row| row.get(0));
        rows.unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn holds_folds_case_as_lower_does() {
        assert!(holds(b"BANK OF AMERICA - *6789", "of am"));
        assert!(holds(b"pk-678789", "678"));
        assert!(!holds(b"pk-678-789", "6789"));
        assert!(holds("Émile Zoë".as_bytes(), "émile z"));
        assert!(holds("Émile Zoë".as_bytes(), "mile"));
        assert!(!holds(b"Emile", "émile"), "no accent folding, as lower()");
        assert!(holds(b"anything", ""));
    }

    #[test]
    fn a_term_is_covered_by_every_third_trigram_and_the_last() {
        assert_eq!(trigram_query("abc"), r#""abc""#);
        assert_eq!(trigram_query("6789"), r#""678" AND "789""#);
        assert_eq!(trigram_query("abcdefg"), r#""abc" AND "def" AND "efg""#);
        assert_eq!(trigram_query("abcdef"), r#""abc" AND "def""#);
        assert_eq!(trigram_query("Zoë a\"b"), r#""Zoë" AND " a""" AND "a""b""#);
    }

    /// The searched tables, with just their searched columns.
    const SEARCHED_TABLES: &str =
        "CREATE TABLE customer (name TEXT, email TEXT, phone TEXT, external_id TEXT);
         CREATE TABLE paykey (label TEXT, institution_name TEXT, external_id TEXT, routing_number TEXT);";

    /// A database whose search tables have the earlier layout: their own
    /// copy of the columns, kept by per-row triggers.
    fn earlier_layout() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(SEARCHED_TABLES).unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE customer_search USING fts5(name, email, phone, external_id, tokenize = 'trigram');
             CREATE TRIGGER customer_search_insert AFTER INSERT ON customer BEGIN
                 INSERT INTO customer_search (rowid, name, email, phone, external_id)
                 VALUES (new.rowid, new.name, new.email, new.phone, new.external_id);
             END;
             INSERT INTO customer (name, email) VALUES ('Leslie Knope', 'leslie@pawnee.com');",
        )
        .unwrap();
        conn
    }

    /// How the customers' search table was created.
    fn customer_search_sql(conn: &rusqlite::Connection) -> String {
        let sql = "SELECT sql FROM sqlite_master WHERE name = 'customer_search'";
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn an_index_of_another_layout_is_rebuilt_with_this_one() {
        let positions = "content='', contentless_delete=1, tokenize='trigram'";
        let extended = format!("{FTS_OPTIONS}, prefix='2'");
        for options in [positions, &extended] {
            let mut conn = rusqlite::Connection::open_in_memory().unwrap();
            conn.execute_batch(SEARCHED_TABLES).unwrap();
            conn.execute_batch(&format!(
                "CREATE VIRTUAL TABLE customer_search USING fts5(name, email, phone, external_id, {options});
                 INSERT INTO customer (name, email) VALUES ('Leslie Knope', 'leslie@pawnee.com');"
            ))
            .unwrap();
            ensure_sqlite(&mut conn).unwrap();
            let sql = customer_search_sql(&conn);
            assert!(
                sql.ends_with(&format!("{FTS_OPTIONS})")),
                "{options}: {sql}"
            );
            assert_eq!(matches(&conn, "knope"), [1], "{options}");
        }
    }

    #[test]
    fn an_earlier_layout_is_rebuilt_and_writes_are_indexed_at_the_end_of_their_batch() {
        let mut conn = earlier_layout();
        ensure_sqlite(&mut conn).unwrap();
        assert_eq!(matches(&conn, "knope"), [1], "existing rows are indexed");
        let sql = customer_search_sql(&conn);
        assert!(sql.contains(FTS_OPTIONS), "{sql}");

        // One batch: each write in its own savepoint, one rolled back.
        conn.execute_batch(
            "BEGIN;
             SAVEPOINT job; INSERT INTO customer (name) VALUES ('Ann Perkins'); RELEASE job;
             SAVEPOINT job; UPDATE customer SET name = 'Ann Meagle' WHERE rowid = 2; RELEASE job;
             SAVEPOINT job; INSERT INTO customer (name) VALUES ('Ben Wyatt'); ROLLBACK TO job; RELEASE job;
             SAVEPOINT job; UPDATE customer SET name = 'Leslie Wyatt' WHERE rowid = 1; RELEASE job;
             SAVEPOINT job; INSERT INTO customer (name) VALUES ('Ron Swanson'); DELETE FROM customer WHERE name = 'Ron Swanson'; RELEASE job;",
        )
        .unwrap();
        assert!(
            matches(&conn, "meagle").is_empty(),
            "not before the batch ends"
        );
        index_pending(&conn).unwrap();
        conn.execute_batch("COMMIT").unwrap();

        assert_eq!(matches(&conn, "meagle"), [2]);
        assert!(matches(&conn, "perkins").is_empty());
        assert!(matches(&conn, "wyatt").contains(&1));
        assert!(matches(&conn, "knope").is_empty());
        assert!(matches(&conn, "swanson").is_empty());
        assert!(matches(&conn, "ben").is_empty());
        let queued: i64 = conn
            .query_row("SELECT COUNT(*) FROM search_pending", [], |r| r.get(0))
            .unwrap();
        assert_eq!(queued, 0);

        conn.execute("DELETE FROM customer WHERE rowid = 2", [])
            .unwrap();
        assert!(
            matches(&conn, "meagle").is_empty(),
            "deleted rows leave at once"
        );
    }

    /// Segments of an FTS table (its `_idx` table has rows per segment).
    fn segments(conn: &rusqlite::Connection, fts: &str) -> i64 {
        let sql = format!("SELECT COUNT(DISTINCT segid) FROM {fts}_idx");
        conn.query_row(&sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn the_writer_merges_the_index_a_little_every_batch_beside_fts5s_bursts() {
        let mut conn = earlier_layout();
        ensure_sqlite(&mut conn).unwrap();
        let automerge: i64 = conn
            .query_row(
                "SELECT v FROM customer_search_config WHERE k = 'automerge'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(automerge, 4, "FTS5's own merging stays at its default");

        // Small batches, as under load: each writes a segment of its own.
        for batch in 0..600 {
            conn.execute_batch("BEGIN").unwrap();
            for n in 0..3 {
                conn.execute(
                    "INSERT INTO customer (name) VALUES (?1)",
                    [format!("Customer {batch}-{n} Pawnee")],
                )
                .unwrap();
            }
            index_pending(&conn).unwrap();
            conn.execute_batch("COMMIT").unwrap();
        }
        let kept = segments(&conn, "customer_search");
        assert!(
            kept <= 8,
            "{kept} segments for 600 batches: merged as they come (FTS5 alone lets 16 pile up)"
        );
        assert_eq!(matches(&conn, "pawnee").len(), 1801, "and Leslie's email");
        assert_eq!(matches(&conn, "r 599-2 p").len(), 1);
    }
}
