//! Storage behind one seam. SQL is written once, in a portable subset, and
//! runs through [`Conn`]: sqlx's `Any` driver for PostgreSQL and for SQLite
//! reads, rusqlite for the SQLite writer.
//!
//! Writes go through [`Db::write`]. On SQLite a single writer thread owns the
//! write connection and commits every job waiting in its queue in one
//! transaction (group commit), each job inside its own savepoint so one
//! failure does not undo its neighbours; no caller hears back before the
//! commit is durable. The thread runs statements as plain function calls,
//! so a job costs no hand-offs between threads. On PostgreSQL each job is
//! its own transaction, so several server instances can share the database.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::metrics::METRICS;
use crate::storage::pool::{self, PgConn, PgConnections};
use crate::storage::query::CountCache;
use crate::storage::search;
pub use crate::storage::sql::{Conn, WriteFn};

/// How the server connects: pool size, timeouts, and the name its
/// PostgreSQL sessions carry.
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// Most PostgreSQL connections this instance holds.
    pub pool_size: u32,
    /// Longest wait for a pooled connection before answering 503.
    pub acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout`.
    pub statement_timeout: Duration,
    /// PostgreSQL `idle_in_transaction_session_timeout`.
    pub idle_in_transaction_timeout: Duration,
    /// PostgreSQL `application_name`: identifies this instance in `pg_stat_activity`.
    pub application_name: String,
    /// A PostgreSQL connection unused this long is closed (when the next
    /// one is taken; background work takes one several times a second).
    pub idle_timeout: Duration,
    /// A PostgreSQL connection this old is closed after its request.
    pub max_lifetime: Duration,
    /// SQLite group commit: most writes per transaction (1 turns it off).
    pub max_batch: usize,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            pool_size: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
            idle_in_transaction_timeout: Duration::from_secs(30),
            application_name: "straddle".into(),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
            max_batch: DEFAULT_MAX_BATCH,
        }
    }
}

/// A queued job: runs its work inside the writer's savepoint and says
/// whether it failed (so the writer rolls it back) and how to report the
/// outcome once the batch's commit is known.
type Job = Box<dyn for<'a, 'c> FnOnce(&'a mut Conn<'c>) -> BoxFuture<'a, Ran> + Send>;

/// A job that has run, waiting for its batch to commit.
struct Ran {
    failed: bool,
    report: Box<dyn FnOnce(bool) + Send>,
}

/// Which database is behind the seam.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    /// Embedded SQLite (WAL, group commit).
    Sqlite,
    /// PostgreSQL (shared by several instances).
    Postgres,
}

/// The database handle shared by all requests.
#[derive(Clone, Debug)]
pub struct Db {
    /// sqlx connections: migrations, and on PostgreSQL all reads and writes
    /// (taken through [`PgConnections`]).
    pub pool: AnyPool,
    pg: Option<Arc<PgConnections>>,
    writer: Option<mpsc::Sender<Job>>,
    sqlite_readers: Option<Arc<SqliteReaders>>,
    counts: Arc<CountCache>,
    /// SQLite: how far into the search queue the index holds every row.
    search_indexed: Arc<SearchIndexed>,
    /// Held by every clone; the checkpointer stops once all are gone.
    _alive: Arc<()>,
}

/// Idle read-only SQLite connections, reused across requests.
#[derive(Debug)]
struct SqliteReaders {
    path: PathBuf,
    search: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

/// Most idle SQLite readers kept open.
const MAX_IDLE_READERS: usize = 16;

impl SqliteReaders {
    fn take(&self) -> Result<rusqlite::Connection, ApiError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open_reader(&self.path, &self.search)
                .map_err(|e| ApiError::Internal(format!("database: {e}"))),
        }
    }

    fn give_back(&self, conn: rusqlite::Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// A read-only connection to the database, with its search file attached.
fn open_reader(path: &Path, search: &Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(READER_PRAGMAS)?;
    search::attach(&conn, search)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    unicode_lower(&conn)?;
    search::add_sqlite_functions(&conn)?;
    Ok(conn)
}

/// Readers map the database file into memory (its first 2 GiB, SQLite's
/// built-in maximum): a page is read where the OS caches it rather than
/// copied by a `pread` into the connection's own cache, which every commit
/// empties under WAL and which a search's few hundred scattered rows
/// overflow (`search_text` at a million paykeys: twice the requests/s).
const READER_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA mmap_size = 2147418112;";

/// Replaces SQLite's ASCII-only `lower()` with Unicode lower-casing, so
/// case-insensitive search folds `É` as PostgreSQL's `lower()` does.
fn unicode_lower(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    use rusqlite::types::{Value, ValueRef};
    conn.create_scalar_function(
        "lower",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(text) => Value::Text(search::lower_case(text)),
                ValueRef::Null => Value::Null,
                other => Value::from(other),
            })
        },
    )
}

/// Most jobs a single SQLite transaction takes by default.
pub const DEFAULT_MAX_BATCH: usize = 256;

const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

impl Db {
    /// Connects with default options.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        Db::connect_with(url, &DbOptions::default()).await
    }

    /// Connects, runs migrations, and on SQLite starts the writer thread,
    /// which commits up to `options.max_batch` queued writes per transaction.
    pub async fn connect_with(url: &str, options: &DbOptions) -> Result<Db, sqlx::Error> {
        let max_batch = options.max_batch;
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(sqlx::Error::Configuration(
                "database URL must start with sqlite: or postgres:".into(),
            ));
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let connect_options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let pool_options = match backend {
            Backend::Sqlite => AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(SQLITE_PRAGMAS).await?;
                        Ok(())
                    })
                }),
            Backend::Postgres => {
                let session = format!(
                    "SET application_name = '{}'; SET statement_timeout = {}; SET idle_in_transaction_session_timeout = {};",
                    options.application_name.replace('\'', ""),
                    options.statement_timeout.as_millis(),
                    options.idle_in_transaction_timeout.as_millis(),
                );
                AnyPoolOptions::new()
                    .max_connections(options.pool_size.max(1))
                    .acquire_timeout(options.acquire_timeout)
                    .idle_timeout(options.idle_timeout)
                    .max_lifetime(options.max_lifetime)
                    // A connection that broke while idle fails its request
                    // with 503 and is dropped; no round trip per acquire.
                    .test_before_acquire(false)
                    .after_connect(move |conn, _| {
                        let session = session.clone();
                        Box::pin(async move {
                            conn.execute(session.as_str()).await?;
                            Ok(())
                        })
                    })
            }
        };
        let pool = pool_options.connect_with(connect_options).await?;
        // PostgreSQL's migrator takes an advisory lock; SQLite's takes none,
        // so processes starting at once on one file take turns on a lock file.
        let _migrating = match backend {
            Backend::Sqlite => Some(lock_file(&sqlite_path(&url).unwrap_or_default())?),
            Backend::Postgres => None,
        };
        sqlx::migrate!("./migrations").run(&pool).await?;
        if backend == Backend::Postgres {
            search::ensure_postgres(&pool).await?;
        }
        let alive = Arc::new(());
        let search_indexed = Arc::new(SearchIndexed::default());
        let (writer, sqlite_readers) = match backend {
            Backend::Sqlite => {
                let path = sqlite_path(&url).unwrap_or_default();
                let search_file = search::search_path(&path);
                let mut conn =
                    open_sqlite(&path).map_err(|e| sqlx::Error::Configuration(e.into()))?;
                let through = conn
                    .execute_batch(WRITER_PRAGMAS)
                    .and_then(|()| unicode_lower(&conn))
                    .and_then(|()| search::ensure_sqlite(&mut conn, &search_file))
                    .map_err(|e| sqlx::Error::Configuration(e.into()))?;
                conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                let wal_too_long = Arc::new(WalTooLong::default());
                spawn_checkpointer(&path, Arc::downgrade(&alive), wal_too_long.clone())
                    .map_err(sqlx::Error::Io)?;
                search_indexed.0.store(through, Ordering::Relaxed);
                spawn_indexer(
                    &path,
                    &search_file,
                    Arc::downgrade(&alive),
                    search_indexed.clone(),
                )
                .map_err(sqlx::Error::Io)?;
                let (tx, rx) = mpsc::channel(4096);
                let batch = max_batch.max(1);
                let indexed = search_indexed.clone();
                std::thread::Builder::new()
                    .name("sqlite-writer".into())
                    .spawn(move || run_writer(conn, rx, batch, wal_too_long, indexed))
                    .map_err(sqlx::Error::Io)?;
                let readers = SqliteReaders {
                    path,
                    search: search_file,
                    idle: Mutex::new(Vec::new()),
                };
                (Some(tx), Some(Arc::new(readers)))
            }
            Backend::Postgres => (None, None),
        };
        let pg = (backend == Backend::Postgres).then(|| PgConnections::new(pool.clone()));
        Ok(Db {
            pool,
            pg,
            writer,
            sqlite_readers,
            counts: Arc::default(),
            search_indexed,
            _alive: alive,
        })
    }

    /// Closes the pool once every connection is back from requests.
    pub async fn close(&self) {
        match &self.pg {
            Some(pg) => pg.close().await,
            None => self.pool.close().await,
        }
    }

    /// Open connections not serving a request: idle in the pool or kept
    /// between requests.
    pub fn idle_connections(&self) -> usize {
        self.pool.num_idle() + self.pg.as_ref().map_or(0, |pg| pg.idle())
    }

    /// Whether several instances may share this database (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.writer.is_none()
    }

    /// Whether every migration this build knows has been applied.
    pub async fn migrations_applied(&self) -> Result<bool, ApiError> {
        let latest = sqlx::migrate!("./migrations")
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or_default();
        let row = self
            .reader()
            .await?
            .conn()
            .fetch_optional(
                "SELECT version FROM _sqlx_migrations WHERE version = $1 AND success",
                crate::args![latest],
            )
            .await?;
        Ok(row.is_some())
    }

    /// Waits until the SQLite search index holds every row written so far
    /// (after seeding, say; searches are right before, only slower).
    pub async fn search_caught_up(&self) -> Result<(), ApiError> {
        if self.is_shared() {
            return Ok(());
        }
        let queued = self
            .reader()
            .await?
            .conn()
            .fetch_one(
                "SELECT COALESCE(MAX(seq), 0) AS seq FROM search_queue",
                vec![],
            )
            .await?
            .int("seq")?;
        while self.search_indexed.0.load(Ordering::Relaxed) < queued {
            tokio::time::sleep(INDEX_EVERY).await;
        }
        Ok(())
    }

    /// Recent totals of large lists (see [`CountCache`]).
    pub fn counts(&self) -> &CountCache {
        &self.counts
    }

    /// A connection for reads.
    /// On SQLite a read-only rusqlite connection whose statements run on the
    /// calling thread (reads are short: by key, or one bounded page); on
    /// PostgreSQL a connection from [`PgConnections`].
    pub async fn reader(&self) -> Result<Reader, ApiError> {
        Ok(match (&self.sqlite_readers, &self.pg) {
            (Some(readers), _) => {
                Reader(ReaderConn::Sqlite(Some(readers.take()?), readers.clone()))
            }
            (None, Some(pg)) => Reader(ReaderConn::Postgres(pg.take().await?)),
            (None, None) => unreachable!("a database is SQLite or PostgreSQL"),
        })
    }

    /// Runs `work` in a write transaction and returns once it is durably
    /// committed. An `Err` from `work` rolls back only that work.
    pub async fn write<T: Send + 'static>(&self, work: WriteFn<T>) -> Result<T, ApiError> {
        let Some(writer) = &self.writer else {
            return self.write_postgres(work).await;
        };
        let (reply, outcome) = oneshot::channel::<Result<T, ApiError>>();
        let job: Job = Box::new(move |conn: &mut Conn<'_>| {
            Box::pin(async move {
                let result = work(conn).await;
                let failed = result.is_err();
                let report = Box::new(move |committed: bool| {
                    let result = match result {
                        Ok(_) if !committed => Err(ApiError::Unavailable("commit failed".into())),
                        other => other,
                    };
                    let _ = reply.send(result);
                });
                Ran { failed, report }
            })
        });
        writer
            .send(job)
            .await
            .map_err(|_| ApiError::Internal("writer task stopped".into()))?;
        outcome
            .await
            .map_err(|_| ApiError::Internal("writer task dropped a job".into()))?
    }

    /// A PostgreSQL write: its own transaction, committed or rolled back
    /// before its connection is kept for the next request.
    async fn write_postgres<T>(&self, work: WriteFn<T>) -> Result<T, ApiError> {
        let Some(pg) = &self.pg else {
            return Err(ApiError::Internal("no PostgreSQL connections".into()));
        };
        let started = std::time::Instant::now();
        let mut held = pg.take().await?;
        let (conn, lost) = held.parts();
        let begun = conn.begin().await;
        pool::note(lost, &begun);
        let mut tx = begun?;
        let result = work(&mut Conn::Sqlx(&mut tx, lost)).await;
        let ended = match result {
            Ok(_) => tx.commit().await,
            Err(_) => tx.rollback().await,
        };
        pool::note(lost, &ended);
        if result.is_ok() {
            ended?;
            METRICS.committed(1, started.elapsed());
        }
        result
    }
}

/// The file path of an `sqlite:` URL, without query parameters.
pub fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    Some(PathBuf::from(path))
}

/// Holds an exclusive lock on `<database>.lock` until dropped.
fn lock_file(database: &Path) -> Result<std::fs::File, sqlx::Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(PathBuf::from(name))
        .map_err(sqlx::Error::Io)?;
    file.lock().map_err(sqlx::Error::Io)?;
    Ok(file)
}

/// Adds `mode=rwc` and creates the folder so a fresh data dir just works;
/// the database file is owner-only (see [`owner_only`]).
fn sqlite_url(url: &str) -> Result<String, sqlx::Error> {
    if let Some(parent) = sqlite_path(url).and_then(|p| p.parent().map(|p| p.to_path_buf())) {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(&parent).map_err(sqlx::Error::Io)?;
        }
    }
    if let Some(path) = sqlite_path(url).filter(|p| !p.as_os_str().is_empty()) {
        owner_only(&path).map_err(sqlx::Error::Io)?;
    }
    Ok(if url.contains('?') {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Creates the SQLite database file and its search file with mode 0600
/// when they are missing and restricts existing ones (and their `-wal`,
/// `-shm` and `.lock` files) to 0600. SQLite gives the WAL and
/// shared-memory files it creates later the database file's mode, so they
/// are owner-only too.
fn owner_only(database: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if database.as_os_str() == ":memory:" {
        return Ok(());
    }
    for file in [database.to_path_buf(), search::search_path(database)] {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&file)?;
        for suffix in ["", "-wal", "-shm", ".lock"] {
            let mut name = file.as_os_str().to_owned();
            name.push(suffix);
            match std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600)) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
    }
    Ok(())
}

/// A connection for reads, returned to its pool when dropped.
#[derive(Debug)]
pub struct Reader(ReaderConn);

#[derive(Debug)]
enum ReaderConn {
    /// A PostgreSQL connection.
    Postgres(PgConn),
    /// A read-only SQLite connection (taken out only on drop) and its pool.
    Sqlite(Option<rusqlite::Connection>, Arc<SqliteReaders>),
}

impl Reader {
    /// The connection, for repository calls.
    pub fn conn(&mut self) -> Conn<'_> {
        match &mut self.0 {
            ReaderConn::Postgres(conn) => conn.conn(),
            ReaderConn::Sqlite(Some(conn), _) => Conn::Sqlite(conn),
            ReaderConn::Sqlite(None, _) => {
                unreachable!("a reader's connection leaves only when it is dropped")
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let ReaderConn::Sqlite(conn, readers) = &mut self.0 {
            if let Some(conn) = conn.take() {
                readers.give_back(conn);
            }
        }
    }
}

/// The writer does not checkpoint after commits: a checkpoint (and its
/// fsync of the database file) on the writer's path would stall every
/// write queued behind it. The checkpointer thread does it instead (the
/// writer only finishes one when the WAL grows too long; see
/// [`run_writer`]). The writer keeps 12 MiB of pages cached (the indexes
/// it appends to stay in memory) and its savepoints' journal in memory;
/// the WAL file is cut back to 64 MiB when it is reused, so a restart has
/// little to read.
const WRITER_PRAGMAS: &str = "PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -12288; \
     PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = 67108864;";

/// Distinct statements each SQLite connection keeps prepared.
const STATEMENT_CACHE: usize = 128;

/// How often the checkpointer copies the WAL into the database file. Each
/// checkpoint ends with an fsync of the database file, which the writer's
/// next WAL fsync queues behind on the disk: frequent small checkpoints
/// stall commits less than rare large ones (bank_account at 64
/// connections, 20 s: p99.9 20-23 ms at 100 ms, 27-33 ms at 500 ms).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// WAL length (frames) past which the writer restarts the WAL itself.
const WAL_RESTART_FRAMES: i64 = 8192;

/// Set by the checkpointer when the WAL has grown past
/// [`WAL_RESTART_FRAMES`]: under steady writes its passive checkpoints never
/// catch up with the last frame, and the WAL only starts over once a
/// checkpoint has copied all of it.
#[derive(Debug, Default)]
struct WalTooLong(std::sync::atomic::AtomicBool);

/// A read-write connection to the database with [`SQLITE_PRAGMAS`] (the
/// writer's, the checkpointer's and the indexer's).
fn open_sqlite(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(SQLITE_PRAGMAS)?;
    Ok(conn)
}

/// Starts the thread that checkpoints the WAL in PASSIVE mode, which never
/// waits for the writer or readers. It stops when `alive` can no longer be
/// upgraded.
fn spawn_checkpointer(
    path: &Path,
    alive: std::sync::Weak<()>,
    too_long: Arc<WalTooLong>,
) -> std::io::Result<()> {
    let conn = open_sqlite(path).map_err(std::io::Error::other)?;
    spawn_periodic("sqlite-checkpointer", CHECKPOINT_EVERY, alive, move || {
        match checkpoint(&conn) {
            Ok(frames) if frames > WAL_RESTART_FRAMES => {
                // Copy what came in during that checkpoint too, so the
                // writer's own is left only the last few frames: half of
                // its checkpoints then take ~1 ms instead of 5-16 ms
                // (bank_account, 60 s: p99 10.9-12.5 ms against
                // 12.7-13.4 ms).
                if let Err(err) = checkpoint(&conn) {
                    tracing::warn!(%err, "WAL checkpoint failed; retrying");
                }
                too_long.0.store(true, Ordering::Relaxed)
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "WAL checkpoint failed; retrying"),
        }
        false
    })
}

/// Starts a thread named `name` that calls `work` every `every`, or at
/// once again while it returns `true` (work left), until `alive` can no
/// longer be upgraded.
fn spawn_periodic(
    name: &str,
    every: Duration,
    alive: std::sync::Weak<()>,
    mut work: impl FnMut() -> bool + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut more = false;
            loop {
                if !more {
                    std::thread::sleep(every);
                }
                if alive.upgrade().is_none() {
                    return;
                }
                more = work();
            }
        })?;
    Ok(())
}

/// A passive checkpoint; returns the WAL's length in frames.
fn checkpoint(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

/// How far into the search queue the SQLite search index holds every row:
/// set by the indexer once it has committed, read by the writer (which
/// then forgets those rows) and by [`Db::search_caught_up`].
#[derive(Debug, Default)]
struct SearchIndexed(AtomicI64);

/// How often the indexer looks for queued rows. Each look that finds some
/// writes a segment of the search index; searches check the rows still
/// queued one by one.
const INDEX_EVERY: Duration = Duration::from_millis(50);

/// The indexer reads each queued row once and appends to the index: a
/// small page cache does (SQLite's default, 2 MiB per file, added 4 MiB to
/// the server's RSS under the write benchmark).
const INDEXER_PRAGMAS: &str = "PRAGMA main.cache_size = -256; PRAGMA search.cache_size = -512;";

/// Starts the thread that indexes queued rows into the search file
/// ([`search::index_queued`]). It stops when `alive` can no longer be
/// upgraded.
fn spawn_indexer(
    path: &Path,
    search_file: &Path,
    alive: std::sync::Weak<()>,
    indexed: Arc<SearchIndexed>,
) -> std::io::Result<()> {
    let mut conn = open_sqlite(path)
        .and_then(|conn| search::attach(&conn, search_file).map(|()| conn))
        .and_then(|conn| conn.execute_batch(INDEXER_PRAGMAS).map(|()| conn))
        .map_err(std::io::Error::other)?;
    spawn_periodic(
        "sqlite-indexer",
        INDEX_EVERY,
        alive,
        move || match search::index_queued(&mut conn) {
            Ok((through, left)) => {
                indexed.0.store(through, Ordering::Relaxed);
                left
            }
            Err(err) => {
                tracing::warn!(%err, "search indexing failed; retrying");
                false
            }
        },
    )
}

/// The SQLite writer thread: one transaction per batch of queued jobs, each
/// job in its own savepoint.
///
/// After a batch, when the checkpointer found the WAL too long, the writer
/// copies the few frames written since that checkpoint itself, so that its
/// next transaction starts the WAL over (cut back by `journal_size_limit`).
fn run_writer(
    mut conn: rusqlite::Connection,
    mut jobs: mpsc::Receiver<Job>,
    max_batch: usize,
    wal_too_long: Arc<WalTooLong>,
    search_indexed: Arc<SearchIndexed>,
) {
    let mut forgotten = 0;
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut reports = Vec::with_capacity(batch.len());
        let (size, started) = (batch.len(), std::time::Instant::now());
        let indexed = search_indexed.0.load(Ordering::Relaxed);
        let forget = (indexed > forgotten).then_some(indexed);
        let committed = match run_batch(&mut conn, batch, forget, &mut reports) {
            Ok(()) => {
                METRICS.committed(size, started.elapsed());
                forgotten = forgotten.max(indexed);
                true
            }
            Err(err) => {
                tracing::error!(%err, "group commit failed; the batch is rolled back");
                let _ = conn.execute_batch("ROLLBACK");
                false
            }
        };
        for report in reports {
            report(committed);
        }
        if wal_too_long
            .0
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            if let Err(err) = checkpoint(&conn) {
                tracing::warn!(%err, "WAL checkpoint on the writer failed");
            }
        }
    }
}

/// Runs `batch`, each job in its own savepoint, and forgets the search
/// queue through `forget` (what the indexer has indexed), in one transaction.
fn run_batch(
    conn: &mut rusqlite::Connection,
    batch: Vec<Job>,
    forget: Option<i64>,
    reports: &mut Vec<Box<dyn FnOnce(bool) + Send>>,
) -> Result<(), rusqlite::Error> {
    let run = |conn: &rusqlite::Connection, sql: &str| conn.prepare_cached(sql)?.execute([]);
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for (index, job) in batch.into_iter().enumerate() {
        if index > 0 {
            run(conn, "RELEASE SAVEPOINT job")?;
        }
        run(conn, "SAVEPOINT job")?;
        // The job's statements run synchronously on this thread; its future
        // never waits on anything else.
        let ran = futures::executor::block_on(job(&mut Conn::Sqlite(conn)));
        reports.push(ran.report);
        if ran.failed {
            run(conn, "ROLLBACK TO SAVEPOINT job")?;
        }
    }
    run(conn, "RELEASE SAVEPOINT job")?;
    if let Some(through) = forget {
        search::forget_indexed(conn, through)?;
    }
    conn.execute_batch("COMMIT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_connection_gets_every_pragma() {
        let dir = std::env::temp_dir().join(format!("straddle-pragmas-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = rusqlite::Connection::open(dir.join("p.db")).unwrap();
        conn.execute_batch(SQLITE_PRAGMAS).unwrap();
        conn.execute_batch(WRITER_PRAGMAS).unwrap();
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| format!("{v:?}"))
            .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
        assert_eq!(pragma("synchronous"), "Integer(2)", "FULL");
        assert_eq!(pragma("foreign_keys"), "Integer(1)");
        assert_eq!(pragma("busy_timeout"), "Integer(5000)");
        assert_eq!(
            pragma("wal_autocheckpoint"),
            "Integer(0)",
            "checkpoints happen off the writer's path"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn readers_map_the_database_file() {
        let dir = std::env::temp_dir().join(format!("straddle-mmap-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
            .unwrap();
        let search_file = search::search_path(&path);
        rusqlite::Connection::open(&search_file).unwrap();
        let reader = open_reader(&path, &search_file).unwrap();
        let mapped: i64 = reader
            .query_row("PRAGMA mmap_size", [], |row| row.get(0))
            .unwrap();
        assert!(mapped >= 1 << 30, "{mapped}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// `.cargo/config.toml` builds SQLite so that connections do not share
    /// one page-cache mutex, and allocations take no statistics mutex.
    #[test]
    fn sqlite_is_built_without_process_wide_mutexes_on_the_read_path() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut statement = conn.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
    }
}
