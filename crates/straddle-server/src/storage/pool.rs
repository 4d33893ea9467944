//! PostgreSQL connections kept between requests.
//!
//! sqlx's pool tests every connection given back to it with a round trip
//! to the server (sqlx-core's `return_to_pool` pings): one of a
//! `bank_account` write's six round trips, and one of a read's two. The
//! test guards against a statement cut off half-way, but each statement
//! already begins by reading whatever an earlier one left unread
//! (sqlx-postgres `wait_until_ready`). So a connection that no statement
//! lost waits here, untested, for the next request; one that was lost
//! goes back through the pool, which tests it and closes it. Kept
//! connections follow the pool's idle timeout and maximum lifetime.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::storage::sql::Conn;

/// The connections between requests, in front of sqlx's pool.
///
/// A request holds one of the pool's `max_connections` permits while it
/// holds a connection, and a connection is kept here before its permit is
/// given back. So there are never more kept connections than free permits,
/// and a request that finds none kept holds a permit the pool has a
/// connection for: it never waits in the pool for one kept here.
#[derive(Debug)]
pub struct PgConnections {
    pool: AnyPool,
    /// The most recently kept last.
    idle: Mutex<Vec<Kept>>,
    permits: Arc<Semaphore>,
}

/// A connection waiting for a request.
#[derive(Debug)]
struct Kept {
    conn: PoolConnection<Any>,
    /// When it was first taken from the pool.
    since: Instant,
    /// When it was kept.
    at: Instant,
}

impl PgConnections {
    /// Keeps connections of `pool`.
    pub fn new(pool: AnyPool) -> Arc<Self> {
        let permits = Arc::new(Semaphore::new(pool.options().get_max_connections() as usize));
        Arc::new(PgConnections {
            pool,
            idle: Mutex::new(Vec::new()),
            permits,
        })
    }

    /// A kept connection, else one from the pool, in the order requests
    /// asked; `PoolTimedOut` after the pool's acquire timeout.
    pub async fn take(self: &Arc<Self>) -> Result<PgConn, sqlx::Error> {
        let wait = self.pool.options().get_acquire_timeout();
        let ((conn, since), permit) = tokio::time::timeout(wait, async {
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| sqlx::Error::PoolClosed)?;
            let conn = match self.pop() {
                Some(kept) => (kept.conn, kept.since),
                None => (self.pool.acquire().await?, Instant::now()),
            };
            Ok::<_, sqlx::Error>((conn, permit))
        })
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
        Ok(PgConn {
            conn: Some(conn),
            since,
            lost: false,
            home: self.clone(),
            _permit: permit,
        })
    }

    /// Connections waiting here.
    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    /// Closes the pool: gives every kept connection back to it, so that
    /// closing does not wait for them, and waits for the rest.
    pub async fn close(&self) {
        let closing = self.pool.close();
        self.lock().clear();
        closing.await;
    }

    /// The most recently kept connection, after closing those kept for
    /// longer than the idle timeout.
    fn pop(&self) -> Option<Kept> {
        let mut idle = self.lock();
        if let Some(timeout) = self.pool.options().get_idle_timeout() {
            let stale = idle.iter().take_while(|k| k.at.elapsed() > timeout).count();
            idle.drain(..stale).for_each(close);
        }
        idle.pop()
    }

    /// Keeps `conn`, unless it is past the pool's maximum lifetime (then it
    /// is closed) or the pool is closing (then it goes back to the pool,
    /// which closes it). The closing check is under the lock that
    /// [`PgConnections::close`] takes after marking the pool closed, so no
    /// connection is kept past a close.
    fn keep(&self, conn: PoolConnection<Any>, since: Instant) {
        let kept = Kept {
            conn,
            since,
            at: Instant::now(),
        };
        let too_old = self
            .pool
            .options()
            .get_max_lifetime()
            .is_some_and(|max| since.elapsed() > max);
        if too_old {
            return close(kept);
        }
        let mut idle = self.lock();
        if self.pool.is_closed() {
            return;
        }
        idle.push(kept);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Kept>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection taken from [`PgConnections`]; kept for the next request
/// when dropped, unless a statement lost it.
#[derive(Debug)]
pub struct PgConn {
    conn: Option<PoolConnection<Any>>,
    /// When it was first taken from the pool.
    since: Instant,
    lost: bool,
    home: Arc<PgConnections>,
    /// Given back after the connection (fields drop after `Drop::drop`).
    _permit: OwnedSemaphorePermit,
}

impl PgConn {
    /// The connection, for repository calls.
    pub fn conn(&mut self) -> Conn<'_> {
        let (conn, lost) = self.parts();
        Conn::Sqlx(conn, lost)
    }

    /// The connection and its lost flag, for starting a transaction on it.
    pub fn parts(&mut self) -> (&mut AnyConnection, &mut bool) {
        let conn = self
            .conn
            .as_mut()
            .expect("a connection leaves only when dropped");
        (conn, &mut self.lost)
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.lost {
                self.home.keep(conn, self.since);
            }
        }
    }
}

/// Closes a kept connection (gracefully, on a task of sqlx's own) and
/// frees its place in the pool.
fn close(mut kept: Kept) {
    kept.conn.close_on_drop();
}

/// Whether `error` means the connection is gone: anything but an error the
/// server reported, or one that ended the session (connection class 08,
/// administrator or crash shutdown 57P0x, idle-in-transaction timeout).
pub fn loses_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "25P03"
        }),
        _ => true,
    }
}

/// Marks the connection lost when `result` is an error that lost it.
pub fn note<T>(lost: &mut bool, result: &Result<T, sqlx::Error>) {
    if let Err(error) = result {
        *lost |= loses_connection(error);
    }
}
