//! Storage behind one seam. SQL is written once, in a portable subset, and
//! runs through sqlx's `Any` driver on SQLite or PostgreSQL.
//!
//! Writes go through [`Db::write`]. On SQLite a single writer task owns the
//! write connection and commits every job waiting in its queue in one
//! transaction (group commit), each job inside its own savepoint so one
//! failure does not undo its neighbours; no caller hears back before the
//! commit is durable. On PostgreSQL each job is its own transaction, so
//! several server instances can share the database.

use std::str::FromStr;

use futures::future::BoxFuture;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// Work that runs inside a write transaction.
pub type WriteFn<T> =
    Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, ApiError>> + Send>;

/// A queued job: runs its work inside the writer's savepoint and says
/// whether it failed (so the writer rolls it back) and how to report the
/// outcome once the batch's commit is known.
type Job = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Ran> + Send>;

/// A job that has run, waiting for its batch to commit.
struct Ran {
    failed: bool,
    report: Box<dyn FnOnce(bool) + Send>,
}

/// Which database is behind the seam.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (WAL, group commit).
    Sqlite,
    /// PostgreSQL (shared by several instances).
    Postgres,
}

/// The database handle shared by all requests.
#[derive(Clone, Debug)]
pub struct Db {
    /// Connections for reads (and, on PostgreSQL, writes).
    pub pool: AnyPool,
    backend: Backend,
    writer: Option<mpsc::Sender<Job>>,
}

/// Most jobs a single SQLite transaction takes by default.
pub const DEFAULT_MAX_BATCH: usize = 256;

const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

impl Db {
    /// Connects with the default group-commit batch size.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        Db::connect_with_batch(url, DEFAULT_MAX_BATCH).await
    }

    /// Connects, runs migrations, and on SQLite starts the writer task,
    /// which commits up to `max_batch` queued writes per transaction
    /// (1 turns group commit off).
    pub async fn connect_with_batch(url: &str, max_batch: usize) -> Result<Db, sqlx::Error> {
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
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let pool_options = match backend {
            Backend::Sqlite => AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(SQLITE_PRAGMAS).await?;
                        Ok(())
                    })
                }),
            Backend::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool = pool_options.connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let writer = match backend {
            Backend::Sqlite => {
                let mut conn = AnyConnection::connect_with(&options).await?;
                conn.execute(SQLITE_PRAGMAS).await?;
                let (tx, rx) = mpsc::channel(4096);
                tokio::spawn(run_writer(conn, rx, max_batch.max(1)));
                Some(tx)
            }
            Backend::Postgres => None,
        };
        Ok(Db {
            pool,
            backend,
            writer,
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `work` in a write transaction and returns once it is durably
    /// committed. An `Err` from `work` rolls back only that work.
    pub async fn write<T: Send + 'static>(&self, work: WriteFn<T>) -> Result<T, ApiError> {
        let Some(writer) = &self.writer else {
            let mut tx = self.pool.begin().await?;
            let result = work(&mut tx).await;
            if result.is_ok() {
                tx.commit().await?;
            }
            return result;
        };
        let (reply, outcome) = oneshot::channel::<Result<T, ApiError>>();
        let job: Job = Box::new(move |conn: &mut AnyConnection| {
            Box::pin(async move {
                let result = work(conn).await;
                let failed = result.is_err();
                let report = Box::new(move |committed: bool| {
                    let result = match result {
                        Ok(_) if !committed => Err(ApiError::Internal("commit failed".into())),
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
}

/// Adds `mode=rwc` and creates the folder so a fresh data dir just works.
fn sqlite_url(url: &str) -> Result<String, sqlx::Error> {
    if let Some(parent) =
        crate::config::sqlite_path(url).and_then(|p| p.parent().map(|p| p.to_path_buf()))
    {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(&parent).map_err(sqlx::Error::Io)?;
        }
    }
    Ok(if url.contains('?') {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    })
}

/// The SQLite writer: one transaction per batch of queued jobs, each job in
/// its own savepoint. Savepoint statements ride along with the neighbouring
/// ones (`RELEASE …; SAVEPOINT …`) so a job costs no extra round trips to
/// SQLite's thread.
async fn run_writer(mut conn: AnyConnection, mut jobs: mpsc::Receiver<Job>, max_batch: usize) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut reports = Vec::with_capacity(batch.len());
        let committed = match run_batch(&mut conn, batch, &mut reports).await {
            Ok(()) => true,
            Err(err) => {
                tracing::error!(%err, "group commit failed; the batch is rolled back");
                let _ = conn.execute("ROLLBACK").await;
                false
            }
        };
        for report in reports {
            report(committed);
        }
    }
}

async fn run_batch(
    conn: &mut AnyConnection,
    batch: Vec<Job>,
    reports: &mut Vec<Box<dyn FnOnce(bool) + Send>>,
) -> Result<(), sqlx::Error> {
    conn.execute("BEGIN IMMEDIATE; SAVEPOINT job").await?;
    for (index, job) in batch.into_iter().enumerate() {
        if index > 0 {
            conn.execute("RELEASE SAVEPOINT job; SAVEPOINT job").await?;
        }
        let ran = job(conn).await;
        reports.push(ran.report);
        if ran.failed {
            conn.execute("ROLLBACK TO SAVEPOINT job").await?;
        }
    }
    conn.execute("RELEASE SAVEPOINT job; COMMIT").await?;
    Ok(())
}
