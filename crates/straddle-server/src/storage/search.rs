//! `search_text` answered by an index: a case-insensitive substring match
//! over a few columns cannot use a B-tree, so each backend gets its own
//! trigram index, created after the migrations (their SQL is shared by
//! both backends and neither index is portable):
//! - SQLite: a contentless FTS5 table with the trigram tokenizer, keeping
//!   rowids only (`detail=none`, a quarter of the size with positions): it
//!   finds the rows holding a term's trigrams, and [`add_sqlite_functions`]'s
//!   `holds_text` keeps those that hold the term itself. The FTS5 tables
//!   live in a file of their own beside the database ([`search_path`]),
//!   kept by an indexer thread ([`index_queued`]), so that merging their
//!   segments never holds up the writer: a merge step copies a whole
//!   term's list of rows, and a trigram every row holds made one step of
//!   a large merge take 20-90 ms. Triggers queue each inserted, changed or
//!   deleted row in `search_queue` in the write's own transaction, and a
//!   search also checks the rows queued past what the index holds: a
//!   committed row is always searchable;
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
/// (then sorts them) instead of scanning the account in sort order: as
/// many as a list counts exactly (`EXACT_COUNT_LIMIT`). A list with fewer
/// matches is counted on every request, and a scan counts them by reading
/// the whole account (a term with 2,529 matches among a million paykeys:
/// 615 ms scanned, 10 ms read by rowid); larger lists reuse their count,
/// and a scan fills their page at once.
const RARE_MATCHES: u64 = crate::storage::query::EXACT_COUNT_LIMIT;

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
                // Rows queued past what the index holds are candidates too.
                let (query, term) = (format!("${param}"), format!("${}", param + 1));
                let (columns, table) = (self.columns.join(", "), self.table);
                let fts = self.fts_table();
                let limit = RARE_MATCHES + 1;
                let matching = format!(
                    "SELECT rowid FROM {SEARCH_SCHEMA}.{fts} WHERE {fts} MATCH {query} LIMIT {limit}"
                );
                let queued = format!(
                    "SELECT row_id FROM search_queue WHERE seq > \
                     (SELECT through FROM {SEARCH_SCHEMA}.indexed) AND searched = '{table}'"
                );
                SearchPlan {
                    condition: format!("holds_text({term}, {columns})"),
                    values: vec![trigram_query(text), text.to_lowercase()],
                    candidates: Some(Candidates {
                        with: format!("WITH candidate(id) AS MATERIALIZED ({matching})"),
                        condition: format!(
                            "((SELECT COUNT(*) FROM candidate) <= {RARE_MATCHES} \
                             AND (rowid IN (SELECT id FROM candidate) OR rowid IN ({queued})) \
                             AND holds_text({term}, {columns}))"
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

    /// Creates the triggers that queue this table's inserted, changed and
    /// deleted rows for the indexer (`changed`: the index may hold the row).
    fn sqlite_queue_triggers(&self) -> String {
        let (table, columns) = (self.table, self.columns.join(", "));
        let queue = |row: &str, changed: u8| {
            format!(
                "INSERT INTO search_queue (searched, row_id, changed) VALUES ('{table}', {row}.rowid, {changed})"
            )
        };
        format!(
            "CREATE TRIGGER IF NOT EXISTS search_queue_{table}_insert AFTER INSERT ON {table} BEGIN {}; END;
             CREATE TRIGGER IF NOT EXISTS search_queue_{table}_update AFTER UPDATE OF {columns} ON {table} BEGIN {}; END;
             CREATE TRIGGER IF NOT EXISTS search_queue_{table}_delete AFTER DELETE ON {table} BEGIN {}; END;",
            queue("new", 0),
            queue("new", 1),
            queue("old", 1),
        )
    }

    /// Drops what earlier layouts kept in the database itself: the FTS
    /// table and the triggers that filled it or queued its rows.
    fn sqlite_drop_outdated(&self) -> String {
        let fts = self.fts_table();
        let triggers = [
            "insert",
            "update",
            "delete",
            "queue_insert",
            "queue_update",
            "queue_delete",
        ]
        .map(|name| format!("DROP TRIGGER IF EXISTS main.{fts}_{name};"))
        .join(" ");
        format!("{triggers} DROP TABLE IF EXISTS main.{fts};")
    }

    /// Queues every row of this table (a search table being built).
    fn sqlite_queue_all(&self) -> String {
        format!(
            "INSERT INTO search_queue (searched, row_id, changed) SELECT '{table}', rowid, 0 FROM {table}",
            table = self.table
        )
    }

    /// Indexes the rows whose rowids are in the JSON array `?1` (those
    /// still in the table), from the indexer's connection.
    fn sqlite_index_rows(&self) -> String {
        let (fts, table, columns) = (self.fts_table(), self.table, self.columns.join(", "));
        format!(
            "INSERT INTO {SEARCH_SCHEMA}.{fts} (rowid, {columns}) SELECT rowid, {columns} FROM main.{table}
             WHERE rowid IN (SELECT value FROM json_each(?1))"
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

/// The schema name the search file is attached under.
pub const SEARCH_SCHEMA: &str = "search";

/// The search file of the SQLite database at `database`: its path with
/// `-search` added, beside SQLite's own `-wal` and `-shm`.
pub fn search_path(database: &std::path::Path) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-search");
    name.into()
}

/// Attaches the search file to `conn` (read-only when `conn` is).
pub fn attach(conn: &rusqlite::Connection, search: &std::path::Path) -> rusqlite::Result<()> {
    let path = search.to_string_lossy();
    conn.execute(
        &format!("ATTACH DATABASE ?1 AS {SEARCH_SCHEMA}"),
        [path.as_ref()],
    )?;
    Ok(())
}

/// The queue (its `seq` never reused), and how far the writer has
/// forgotten it (one row).
const SQLITE_QUEUE: &str = "CREATE TABLE IF NOT EXISTS search_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, searched TEXT NOT NULL, row_id INTEGER NOT NULL,
    changed INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS search_forgotten (through INTEGER NOT NULL);
    INSERT INTO search_forgotten (through) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM search_forgotten);
    DROP TABLE IF EXISTS search_pending;";

/// How far the writer has forgotten the queue, and the last `seq` it gave.
const QUEUE_STATE: &str = "SELECT (SELECT through FROM search_forgotten),
    COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'search_queue'), 0)";

/// The search file's own table: how far into `search_queue` its index
/// holds every row (one row).
const SEARCH_TABLES: &str = "CREATE TABLE IF NOT EXISTS search.indexed (through INTEGER NOT NULL);";

/// Durable and in WAL mode like the database: the writer forgets queued
/// rows once the indexer says they are indexed, so what it said must last.
const SEARCH_PRAGMAS: &str = "PRAGMA search.journal_mode = WAL; PRAGMA search.synchronous = FULL;";

/// Creates SQLite's queue, triggers and search file, and queues every row
/// of a table whose index is missing or of another layout (indexed in the
/// background; searches check queued rows meanwhile). A search file that
/// holds less than the database forgot or more than it queued (a copy of
/// another time, or of another database) is built again too. Runs on the writer's
/// connection before it starts, while the caller holds the migration lock.
/// Returns how far the index holds every queued row.
pub fn ensure_sqlite(
    conn: &mut rusqlite::Connection,
    search: &std::path::Path,
) -> rusqlite::Result<i64> {
    attach(conn, search)?;
    conn.execute_batch(SEARCH_PRAGMAS)?;
    // First the database: queue the rows of every index to be built, so
    // that a crash before the search file has its tables builds them again.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(SQLITE_QUEUE)?;
    let (forgotten, queued): (i64, i64) =
        tx.query_row(QUEUE_STATE, [], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let has_indexed: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM search.sqlite_master WHERE name = 'indexed')",
        [],
        |row| row.get(0),
    )?;
    let indexed: Option<i64> = if has_indexed {
        tx.query_row("SELECT through FROM search.indexed", [], |row| row.get(0))
            .optional()?
    } else {
        None
    };
    let foreign = indexed.is_some_and(|through| through < forgotten || through > queued);
    if foreign {
        tracing::warn!("the search file does not match the database; building it again");
    }
    // A new or rebuilt index holds nothing the queue still has.
    let through = indexed.filter(|_| !foreign).unwrap_or(forgotten);
    let mut build = Vec::new();
    for searchable in ALL {
        tx.execute_batch(&searchable.sqlite_drop_outdated())?;
        tx.execute_batch(&searchable.sqlite_queue_triggers())?;
        let current: Option<String> = tx
            .query_row(
                "SELECT sql FROM search.sqlite_master WHERE type = 'table' AND name = ?1",
                [searchable.fts_table()],
                |row| row.get(0),
            )
            .optional()?;
        // The whole argument list, so a layout that adds to it (as
        // `detail='none'` did) is told apart from the one it extends.
        if foreign || !current.is_some_and(|sql| sql.ends_with(&searchable.fts_arguments())) {
            tx.execute_batch(&searchable.sqlite_queue_all())?;
            build.push(searchable);
        }
    }
    tx.commit()?;
    let tx = conn.transaction()?;
    tx.execute_batch(SEARCH_TABLES)?;
    if indexed != Some(through) {
        tx.execute("DELETE FROM search.indexed", [])?;
        tx.execute(
            "INSERT INTO search.indexed (through) VALUES (?1)",
            [through],
        )?;
    }
    for searchable in build {
        let fts = searchable.fts_table();
        tracing::info!(
            table = searchable.table,
            "building the search index in the background"
        );
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS search.{fts}; CREATE VIRTUAL TABLE search.{fts} USING fts5{};",
            searchable.fts_arguments()
        ))?;
    }
    tx.commit()?;
    conn.execute_batch(&format!("DETACH DATABASE {SEARCH_SCHEMA}"))?;
    Ok(through)
}

/// Most queued rows the indexer takes per transaction.
const INDEX_CHUNK: i64 = 8192;

/// Indexes up to [`INDEX_CHUNK`] queued rows past what the index holds,
/// on the indexer's connection (the database with the search file
/// attached), in one transaction that writes only the search file: it
/// never waits for the writer nor holds it up. Returns how far the index
/// now holds every queued row, and whether rows were left for another call.
pub fn index_queued(conn: &mut rusqlite::Connection) -> rusqlite::Result<(i64, bool)> {
    let tx = conn.transaction()?;
    // Write first, so that a second process's indexer waits here rather
    // than failing to write after it has read.
    let through: i64 = tx.query_row(
        "UPDATE search.indexed SET through = through RETURNING through",
        [],
        |row| row.get(0),
    )?;
    let queued: Vec<(i64, String, i64, bool)> = tx
        .prepare_cached(
            "SELECT seq, searched, row_id, changed FROM search_queue WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?
        .query_map([through, INDEX_CHUNK], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    let Some(last) = queued.last().map(|entry| entry.0) else {
        return Ok((through, false));
    };
    for searchable in ALL {
        let ours = || queued.iter().filter(|entry| entry.1 == searchable.table);
        let changed: std::collections::BTreeSet<i64> = ours()
            .filter(|entry| entry.3)
            .map(|entry| entry.2)
            .collect();
        let rows: std::collections::BTreeSet<i64> = ours().map(|entry| entry.2).collect();
        if rows.is_empty() {
            continue;
        }
        let fts = searchable.fts_table();
        let mut forget =
            tx.prepare_cached(&format!("DELETE FROM search.{fts} WHERE rowid = ?1"))?;
        for row in changed {
            forget.execute([row])?;
        }
        let ids = serde_json::to_string(&rows).unwrap_or_default();
        tx.prepare_cached(&searchable.sqlite_index_rows())?
            .execute([ids])?;
    }
    tx.execute("UPDATE search.indexed SET through = ?1", [last])?;
    tx.commit()?;
    Ok((last, queued.len() as i64 == INDEX_CHUNK))
}

/// Forgets the queued rows the index holds (through `through`): run by the
/// writer in its batch's transaction.
pub fn forget_indexed(conn: &rusqlite::Connection, through: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM search_queue WHERE seq <= ?1")?
        .execute([through])?;
    conn.prepare_cached("UPDATE search_forgotten SET through = ?1")?
        .execute([through])?;
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
        let sql = "SELECT rowid FROM search.customer_search WHERE customer_search MATCH ?1 ORDER BY rowid";
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
         CREATE TABLE paykey (label TEXT, institution_name TEXT, external_id TEXT, routing_number TEXT);
         INSERT INTO customer (name, email) VALUES ('Leslie Knope', 'leslie@pawnee.com');";

    /// A database file with the searched tables and one customer, in a
    /// folder of its own, and the path of its search file.
    fn database(extra_sql: &str) -> (rusqlite::Connection, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("straddle-search-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        conn.execute_batch(SEARCHED_TABLES).unwrap();
        conn.execute_batch(extra_sql).unwrap();
        (conn, search_path(&path))
    }

    /// `ensure_sqlite`, then the connection an indexer would use.
    fn ensure(conn: &mut rusqlite::Connection, search: &std::path::Path) {
        ensure_sqlite(conn, search).unwrap();
        attach(conn, search).unwrap();
        add_sqlite_functions(conn).unwrap();
    }

    /// How the customers' search table was created, in the search file.
    fn customer_search_sql(conn: &rusqlite::Connection) -> String {
        let sql = "SELECT sql FROM search.sqlite_master WHERE name = 'customer_search'";
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn queued(conn: &rusqlite::Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM search_queue", [], |r| r.get(0))
            .unwrap()
    }

    /// The layouts that kept the index in the database: a copy of the
    /// columns kept by per-row triggers, then a contentless table indexed
    /// by the writer from a queue.
    const EARLIER_LAYOUTS: [&str; 2] = [
        "CREATE VIRTUAL TABLE customer_search USING fts5(name, email, phone, external_id, tokenize = 'trigram');
         CREATE TRIGGER customer_search_insert AFTER INSERT ON customer BEGIN
             INSERT INTO customer_search (rowid, name, email, phone, external_id)
             VALUES (new.rowid, new.name, new.email, new.phone, new.external_id);
         END;",
        "CREATE TABLE search_pending (searched TEXT NOT NULL, row_id INTEGER NOT NULL,
             PRIMARY KEY (searched, row_id)) WITHOUT ROWID;
         CREATE VIRTUAL TABLE customer_search USING fts5(name, email, phone, external_id,
             content='', contentless_delete=1, tokenize='trigram', detail='none');
         CREATE TRIGGER customer_search_queue_insert AFTER INSERT ON customer BEGIN
             INSERT OR IGNORE INTO search_pending (searched, row_id) VALUES ('customer', new.rowid);
         END;
         CREATE TRIGGER customer_search_queue_update AFTER UPDATE OF name ON customer BEGIN
             DELETE FROM customer_search WHERE rowid = old.rowid;
             INSERT OR IGNORE INTO search_pending (searched, row_id) VALUES ('customer', new.rowid);
         END;
         CREATE TRIGGER customer_search_queue_delete AFTER DELETE ON customer BEGIN
             DELETE FROM customer_search WHERE rowid = old.rowid;
         END;",
    ];

    #[test]
    fn an_index_kept_in_the_database_by_an_earlier_layout_moves_to_the_search_file() {
        for layout in EARLIER_LAYOUTS {
            let (mut conn, search) = database(layout);
            ensure(&mut conn, &search);
            let left: Vec<String> = conn
                .prepare(
                    "SELECT name FROM main.sqlite_master
                     WHERE name LIKE 'customer_search%' OR name = 'search_pending'",
                )
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(left.is_empty(), "left in the database: {left:?}");
            assert!(customer_search_sql(&conn).ends_with(&format!("{FTS_OPTIONS})")));
            assert!(
                matches(&conn, "knope").is_empty(),
                "built in the background"
            );
            index_queued(&mut conn).unwrap();
            assert_eq!(matches(&conn, "knope"), [1], "existing rows are indexed");
            conn.execute("UPDATE customer SET name = 'Leslie Wyatt'", [])
                .unwrap();
            assert_eq!(
                queued(&conn),
                2,
                "writes are queued, not indexed by the writer"
            );
        }
    }

    #[test]
    fn a_search_file_from_another_time_or_database_is_rebuilt() {
        let (mut conn, search) = database("");
        ensure(&mut conn, &search);
        let (through, _) = index_queued(&mut conn).unwrap();
        forget_indexed(&conn, through).unwrap();
        conn.execute("INSERT INTO customer (name) VALUES ('Ann Perkins')", [])
            .unwrap();
        let (through, _) = index_queued(&mut conn).unwrap();
        forget_indexed(&conn, through).unwrap();
        let detach = |conn: &rusqlite::Connection| conn.execute_batch("DETACH DATABASE search");
        // Older than what the writer forgot; newer than anything queued.
        for stale in [through - 1, through + 100] {
            conn.execute_batch(
                "DELETE FROM search.customer_search; DELETE FROM search.paykey_search;",
            )
            .unwrap();
            conn.execute("UPDATE search.indexed SET through = ?1", [stale])
                .unwrap();
            detach(&conn).unwrap();
            ensure(&mut conn, &search);
            index_queued(&mut conn).unwrap();
            assert_eq!(matches(&conn, "knope"), [1], "{stale}");
            assert_eq!(matches(&conn, "perkins"), [2], "{stale}");
        }
        // A search file that matches is kept.
        let (through, _) = index_queued(&mut conn).unwrap();
        forget_indexed(&conn, through).unwrap();
        detach(&conn).unwrap();
        ensure(&mut conn, &search);
        assert_eq!(queued(&conn), 0, "nothing to build again");
    }

    #[test]
    fn a_search_file_of_another_layout_is_rebuilt_with_this_one() {
        let positions = "content='', contentless_delete=1, tokenize='trigram'";
        let extended = format!("{FTS_OPTIONS}, prefix='2'");
        for options in [positions, &extended] {
            let (conn, search) = database("");
            attach(&conn, &search).unwrap();
            conn.execute_batch(&format!(
                "CREATE VIRTUAL TABLE search.customer_search USING fts5(name, email, phone, external_id, {options});"
            ))
            .unwrap();
            conn.execute_batch("DETACH DATABASE search").unwrap();
            let mut conn = conn;
            ensure(&mut conn, &search);
            let sql = customer_search_sql(&conn);
            assert!(
                sql.ends_with(&format!("{FTS_OPTIONS})")),
                "{options}: {sql}"
            );
            index_queued(&mut conn).unwrap();
            assert_eq!(matches(&conn, "knope"), [1], "{options}");
        }
    }

    #[test]
    fn writes_are_queued_in_their_transaction_and_indexed_by_the_indexer() {
        let (mut conn, search) = database("");
        ensure(&mut conn, &search);
        index_queued(&mut conn).unwrap();
        let (through, _) = index_queued(&mut conn).unwrap();
        forget_indexed(&conn, through).unwrap();
        assert_eq!(queued(&conn), 0);

        // One batch: each write in its own savepoint, one rolled back.
        conn.execute_batch(
            "BEGIN;
             SAVEPOINT job; INSERT INTO customer (name) VALUES ('Ann Perkins'); RELEASE job;
             SAVEPOINT job; UPDATE customer SET name = 'Ann Meagle' WHERE rowid = 2; RELEASE job;
             SAVEPOINT job; INSERT INTO customer (name) VALUES ('Ben Wyatt'); ROLLBACK TO job; RELEASE job;
             SAVEPOINT job; UPDATE customer SET name = 'Leslie Wyatt' WHERE rowid = 1; RELEASE job;
             SAVEPOINT job; INSERT INTO customer (name) VALUES ('Ron Swanson'); DELETE FROM customer WHERE name = 'Ron Swanson'; RELEASE job;
             COMMIT;",
        )
        .unwrap();
        assert_eq!(
            queued(&conn),
            5,
            "queued with the writes, not the rolled-back one"
        );
        assert!(matches(&conn, "meagle").is_empty(), "not indexed yet");
        assert_eq!(matches(&conn, "knope"), [1], "nor forgotten");

        let (through, more) = index_queued(&mut conn).unwrap();
        assert!(!more);
        assert_eq!(matches(&conn, "meagle"), [2]);
        assert!(matches(&conn, "perkins").is_empty());
        assert_eq!(matches(&conn, "wyatt"), [1]);
        assert!(matches(&conn, "knope").is_empty());
        assert!(matches(&conn, "swanson").is_empty());
        assert!(matches(&conn, "ben").is_empty());
        assert_eq!(
            index_queued(&mut conn).unwrap(),
            (through, false),
            "nothing twice"
        );

        forget_indexed(&conn, through).unwrap();
        assert_eq!(queued(&conn), 0);
        conn.execute("DELETE FROM customer WHERE rowid = 2", [])
            .unwrap();
        index_queued(&mut conn).unwrap();
        assert!(matches(&conn, "meagle").is_empty(), "deleted rows leave");
    }

    /// The rowids of customers the SQLite plan for `term` finds among the
    /// rare-term candidates.
    fn planned(conn: &mut rusqlite::Connection, term: &str) -> Vec<i64> {
        let plan = CUSTOMERS.plan(&Conn::Sqlite(conn), term, 1);
        let candidates = plan.candidates.unwrap();
        let sql = format!(
            "{} SELECT rowid FROM customer WHERE {} ORDER BY rowid",
            candidates.with, candidates.condition
        );
        let mut statement = conn.prepare(&sql.replace('$', "?")).unwrap();
        let rows = statement.query_map(rusqlite::params_from_iter(&plan.values), |r| r.get(0));
        rows.unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn a_search_finds_rows_written_before_the_indexer_reached_them() {
        let (mut conn, search) = database("");
        ensure(&mut conn, &search);
        assert_eq!(planned(&mut conn, "knope"), [1], "queued by the build");
        index_queued(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO customer (name) VALUES ('April Ludgate');
             UPDATE customer SET name = 'Leslie Wyatt' WHERE rowid = 1;",
        )
        .unwrap();
        assert_eq!(planned(&mut conn, "ludgate"), [2], "a new row");
        assert_eq!(planned(&mut conn, "wyatt"), [1], "a changed one");
        assert!(
            planned(&mut conn, "knope").is_empty(),
            "not by what it held"
        );
        index_queued(&mut conn).unwrap();
        assert_eq!(planned(&mut conn, "ludgate"), [2]);
        assert_eq!(planned(&mut conn, "wyatt"), [1]);
        assert!(planned(&mut conn, "knope").is_empty());
    }

    #[test]
    fn the_indexer_takes_a_long_queue_a_chunk_at_a_time() {
        let (mut conn, search) = database("");
        ensure(&mut conn, &search);
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO customer (name) SELECT 'Pawnee resident ' || i FROM n",
            [INDEX_CHUNK],
        )
        .unwrap();
        let (first, more) = index_queued(&mut conn).unwrap();
        assert_eq!((first, more), (INDEX_CHUNK, true));
        let (second, more) = index_queued(&mut conn).unwrap();
        assert_eq!((second, more), (INDEX_CHUNK + 1, false));
        assert_eq!(matches(&conn, "pawnee").len() as i64, INDEX_CHUNK + 1);
    }
}
