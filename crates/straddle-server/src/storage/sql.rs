//! The one query interface the repositories use, over either driver: sqlx
//! (PostgreSQL, and SQLite reads) or rusqlite (the SQLite writer thread,
//! where a statement is a function call rather than a round trip to another
//! thread). Values are the portable subset the schema uses: text, 64-bit
//! integers and NULL.

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::{AnyConnection, Row as _};

use crate::error::ApiError;
use crate::storage::pool;

/// A connection the repositories run statements on.
pub enum Conn<'c> {
    /// An sqlx connection to PostgreSQL, and whether a statement lost it
    /// (see [`pool::loses_connection`]).
    Sqlx(&'c mut AnyConnection, &'c mut bool),
    /// The SQLite writer's own connection.
    Sqlite(&'c mut rusqlite::Connection),
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Sqlx(..) => "Conn::Sqlx",
            Conn::Sqlite(_) => "Conn::Sqlite",
        })
    }
}

/// Work that runs inside a write transaction.
pub type WriteFn<T> =
    Box<dyn for<'a, 'c> FnOnce(&'a mut Conn<'c>) -> BoxFuture<'a, Result<T, ApiError>> + Send>;

/// A statement parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// Text.
    Text(String),
    /// A 64-bit integer.
    Int(i64),
    /// NULL in a text column.
    NullText,
    /// NULL in an integer column.
    NullInt,
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(value)
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(value.to_string())
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Self {
        Arg::Text(value.clone())
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Int(value)
    }
}

impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Self {
        value.map_or(Arg::NullText, Arg::Text)
    }
}

impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Self {
        value.map_or(Arg::NullInt, Arg::Int)
    }
}

/// Builds a parameter list: `args![a, b, c]`.
#[macro_export]
macro_rules! args {
    ($($value:expr),* $(,)?) => { vec![$($crate::storage::sql::Arg::from($value)),*] };
}

/// A column value.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Text(String),
    Int(i64),
    Null,
}

/// The column names of a query's rows, shared by all of them.
type Names = Arc<[Box<str>]>;

/// A result row, columns by name. The rows of one query share its names.
#[derive(Clone, Debug)]
pub struct Row {
    names: Names,
    values: Vec<Value>,
}

impl Row {
    fn value(&self, name: &str) -> Result<&Value, ApiError> {
        self.names
            .iter()
            .position(|column| &**column == name)
            .and_then(|index| self.values.get(index))
            .ok_or_else(|| ApiError::Internal(format!("no column {name}")))
    }

    /// A text column that may be NULL.
    pub fn opt_text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.value(name)? {
            Value::Text(text) => Ok(Some(text.clone())),
            Value::Null => Ok(None),
            Value::Int(_) => Err(ApiError::Internal(format!("column {name} is not text"))),
        }
    }

    /// A text column.
    pub fn text(&self, name: &str) -> Result<String, ApiError> {
        self.opt_text(name)?
            .ok_or_else(|| ApiError::Internal(format!("column {name} is NULL")))
    }

    /// An integer column that may be NULL.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.value(name)? {
            Value::Int(value) => Ok(Some(*value)),
            Value::Null => Ok(None),
            Value::Text(_) => Err(ApiError::Internal(format!(
                "column {name} is not an integer"
            ))),
        }
    }

    /// An integer column.
    pub fn int(&self, name: &str) -> Result<i64, ApiError> {
        self.opt_int(name)?
            .ok_or_else(|| ApiError::Internal(format!("column {name} is NULL")))
    }
}

impl Conn<'_> {
    /// Takes the transaction-scoped lock `key` if no other transaction holds
    /// it, without waiting; `false` when another does. On SQLite every write
    /// transaction already excludes the others, so it always succeeds.
    pub async fn try_lock(&mut self, key: i64) -> Result<bool, ApiError> {
        match self {
            Conn::Sqlx(..) => Ok(self
                .fetch_one(
                    "SELECT CASE WHEN pg_try_advisory_xact_lock($1) THEN 1 ELSE 0 END::BIGINT AS locked",
                    crate::args![key],
                )
                .await?
                .int("locked")?
                == 1),
            Conn::Sqlite(_) => Ok(true),
        }
    }

    /// Takes the transaction-scoped lock `key`, waiting for it (bounded by
    /// the statement timeout). A no-op on SQLite, as for [`Conn::try_lock`].
    pub async fn lock(&mut self, key: i64) -> Result<(), ApiError> {
        if let Conn::Sqlx(..) = self {
            self.fetch_one(
                "SELECT 1::BIGINT AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS held",
                crate::args![key],
            )
            .await?;
        }
        Ok(())
    }

    /// ` FOR UPDATE SKIP LOCKED` on PostgreSQL, where other instances claim
    /// the same rows concurrently; nothing on SQLite's single writer.
    pub fn skip_locked(&self) -> &'static str {
        match self {
            Conn::Sqlx(..) => " FOR UPDATE SKIP LOCKED",
            Conn::Sqlite(_) => "",
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, args: Vec<Arg>) -> Result<u64, ApiError> {
        match self {
            Conn::Sqlx(conn, lost) => {
                Ok(sqlx_execute(conn, lost, sql, args).await?.rows_affected())
            }
            Conn::Sqlite(conn) => {
                Ok(sqlite_execute(conn, sql, &args).map_err(sqlite_error)? as u64)
            }
        }
    }

    /// Runs an `INSERT`; `false` when a unique constraint refused it.
    pub async fn insert_unique(&mut self, sql: &str, args: Vec<Arg>) -> Result<bool, ApiError> {
        match self {
            Conn::Sqlx(conn, lost) => match sqlx_execute(conn, lost, sql, args).await {
                Ok(_) => Ok(true),
                Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(false),
                Err(error) => Err(error.into()),
            },
            Conn::Sqlite(conn) => match sqlite_execute(conn, sql, &args) {
                Ok(_) => Ok(true),
                Err(rusqlite::Error::SqliteFailure(error, _))
                    if error.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Ok(false)
                }
                Err(error) => Err(sqlite_error(error)),
            },
        }
    }

    /// All rows of a query.
    pub async fn fetch_all(&mut self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>, ApiError> {
        match self {
            Conn::Sqlx(conn, lost) => {
                let rows = bind(sqlx::query(sql), args).fetch_all(&mut **conn).await;
                pool::note(lost, &rows);
                let rows = rows?;
                let Some(first) = rows.first() else {
                    return Ok(Vec::new());
                };
                let names = sqlx_names(first);
                rows.iter().map(|row| from_sqlx(row, &names)).collect()
            }
            Conn::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql).map_err(sqlite_error)?;
                bind_numbered(&mut statement, &args).map_err(sqlite_error)?;
                let mut rows = statement.raw_query();
                let mut out = Vec::new();
                let mut names = None;
                while let Some(row) = rows.next().map_err(sqlite_error)? {
                    let names = names.get_or_insert_with(|| sqlite_names(sql, row.as_ref()));
                    out.push(from_rusqlite(row, names)?);
                }
                Ok(out)
            }
        }
    }

    /// The first row of a query, if any.
    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<Option<Row>, ApiError> {
        Ok(self.fetch_all(sql, args).await?.into_iter().next())
    }

    /// Exactly one row.
    pub async fn fetch_one(&mut self, sql: &str, args: Vec<Arg>) -> Result<Row, ApiError> {
        self.fetch_optional(sql, args)
            .await?
            .ok_or_else(|| ApiError::Internal("query returned no row".into()))
    }
}

/// Runs a statement on a PostgreSQL connection, marking the connection
/// lost when the statement's error lost it.
async fn sqlx_execute(
    conn: &mut AnyConnection,
    lost: &mut bool,
    sql: &str,
    args: Vec<Arg>,
) -> Result<sqlx::any::AnyQueryResult, sqlx::Error> {
    let done = bind(sqlx::query(sql), args).execute(conn).await;
    pool::note(lost, &done);
    done
}

/// Runs a statement on a SQLite connection; returns the rows it changed.
fn sqlite_execute(conn: &rusqlite::Connection, sql: &str, args: &[Arg]) -> rusqlite::Result<usize> {
    let mut statement = conn.prepare_cached(sql)?;
    bind_numbered(&mut statement, args)?;
    statement.raw_execute()
}

fn bind<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for arg in args {
        query = match arg {
            Arg::Text(text) => query.bind(text),
            Arg::Int(value) => query.bind(value),
            Arg::NullText => query.bind(None::<String>),
            Arg::NullInt => query.bind(None::<i64>),
        };
    }
    query
}

/// Binds `args[i]` to `$(i+1)` wherever it appears: SQLite numbers named
/// parameters by first appearance, not by the digits in their names.
fn bind_numbered(
    statement: &mut rusqlite::CachedStatement<'_>,
    args: &[Arg],
) -> rusqlite::Result<()> {
    const NAMES: [&str; 20] = [
        "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14",
        "$15", "$16", "$17", "$18", "$19", "$20",
    ];
    for (position, arg) in args.iter().enumerate() {
        let index = match NAMES.get(position) {
            Some(name) => statement.parameter_index(name)?,
            None => statement.parameter_index(&format!("${}", position + 1))?,
        };
        if let Some(index) = index {
            statement.raw_bind_parameter(index, arg)?;
        }
    }
    Ok(())
}

fn sqlx_names(row: &sqlx::any::AnyRow) -> Names {
    use sqlx::Column as _;
    row.columns().iter().map(|c| c.name().into()).collect()
}

fn from_sqlx(row: &sqlx::any::AnyRow, names: &Names) -> Result<Row, ApiError> {
    let mut values = Vec::with_capacity(row.len());
    for index in 0..row.len() {
        values.push(match row.try_get::<Option<String>, _>(index) {
            Ok(Some(text)) => Value::Text(text),
            Ok(None) => Value::Null,
            Err(_) => row
                .try_get::<Option<i64>, _>(index)?
                .map_or(Value::Null, Value::Int),
        });
    }
    Ok(Row {
        names: names.clone(),
        values,
    })
}

/// Most statements whose column names a thread keeps (see [`sqlite_names`]).
const KEPT_NAMES: usize = 256;

thread_local! {
    /// Column names by statement text, built once per thread and statement.
    static SQLITE_NAMES: std::cell::RefCell<std::collections::HashMap<Box<str>, Names>> =
        Default::default();
}

/// The column names of `sql`'s rows. Reads run on every worker thread, so
/// each keeps its own map instead of sharing a locked one.
fn sqlite_names(sql: &str, statement: &rusqlite::Statement<'_>) -> Names {
    SQLITE_NAMES.with_borrow_mut(|kept| {
        if let Some(names) = kept.get(sql) {
            return names.clone();
        }
        if kept.len() >= KEPT_NAMES {
            kept.clear();
        }
        let names: Names = statement
            .column_names()
            .into_iter()
            .map(Box::from)
            .collect();
        kept.insert(sql.into(), names.clone());
        names
    })
}

fn from_rusqlite(row: &rusqlite::Row<'_>, names: &Names) -> Result<Row, ApiError> {
    use rusqlite::types::ValueRef;
    let mut values = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let value = match row.get_ref(index).map_err(sqlite_error)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(value) => Value::Int(value),
            // `from_utf8` checks ASCII a word at a time; `from_utf8_lossy`
            // walks it in chunks.
            ValueRef::Text(text) => Value::Text(match std::str::from_utf8(text) {
                Ok(text) => text.to_owned(),
                Err(_) => String::from_utf8_lossy(text).into_owned(),
            }),
            ValueRef::Real(_) | ValueRef::Blob(_) => {
                return Err(ApiError::Internal(format!(
                    "column {name} has an unsupported type"
                )));
            }
        };
        values.push(value);
    }
    Ok(Row {
        names: names.clone(),
        values,
    })
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Arg::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Arg::Int(value) => ToSqlOutput::Borrowed(ValueRef::Integer(*value)),
            Arg::NullText | Arg::NullInt => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

/// A busy or locked database is 503 (another process holds the write
/// lock past the busy timeout); anything else is a bug.
pub fn sqlite_error(error: rusqlite::Error) -> ApiError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            ApiError::Unavailable(format!("database: {error}"))
        }
        _ => ApiError::Internal(format!("database: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_parameters_bind_by_their_number_not_their_order() {
        let mut connection = rusqlite::Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE t (a TEXT, b BIGINT)")
            .unwrap();
        let mut conn = Conn::Sqlite(&mut connection);
        futures::executor::block_on(async {
            conn.execute("INSERT INTO t (b, a) VALUES ($2, $1)", crate::args!["x", 7])
                .await
                .unwrap();
            let row = conn
                .fetch_one(
                    "SELECT a, b FROM t WHERE b = $2 AND a = $1",
                    crate::args!["x", 7],
                )
                .await
                .unwrap();
            assert_eq!(
                (row.text("a").unwrap(), row.int("b").unwrap()),
                ("x".to_string(), 7)
            );
            let absent = conn
                .fetch_optional("SELECT a FROM t WHERE a = $1", crate::args![None::<String>])
                .await
                .unwrap();
            assert!(absent.is_none());
        });
    }

    #[test]
    fn rows_find_their_columns_by_name_across_many_statements() {
        let mut connection = rusqlite::Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE t (a TEXT, b BIGINT); INSERT INTO t VALUES ('x', 7)")
            .unwrap();
        let mut conn = Conn::Sqlite(&mut connection);
        futures::executor::block_on(async {
            // More distinct statements than a thread keeps names for, each
            // naming its columns differently, twice over.
            for round in 0..2 {
                for n in 0..KEPT_NAMES + 10 {
                    let sql = format!("SELECT b + {n} AS sum_{n}, a AS text_{n} FROM t");
                    let rows = conn.fetch_all(&sql, vec![]).await.unwrap();
                    let row = &rows[0];
                    assert_eq!(
                        row.int(&format!("sum_{n}")).unwrap(),
                        7 + n as i64,
                        "{round}"
                    );
                    assert_eq!(row.text(&format!("text_{n}")).unwrap(), "x");
                    assert!(row.int("b").is_err(), "renamed columns only");
                }
            }
        });
    }
}
