//! Database connections shared by requests: a small pool serves many
//! concurrent requests, and a connection handed from one request to the
//! next carries nothing of the first over.

use std::time::Duration;

use sqlx::Connection;
use straddle_server::config::Config;
use straddle_server::storage::db::Reader;

use crate::bridge::{customer, f2_body};
use crate::helpers::{customer_body, spawn_app_with, Options, TestApp};

fn two_connections(config: &mut Config) {
    config.db.pool_size = 2;
    config.db.acquire_timeout = Duration::from_secs(3);
}

fn one_connection(config: &mut Config) {
    config.db.pool_size = 1;
}

fn short_idle_timeout(config: &mut Config) {
    config.db.pool_size = 2;
    config.db.idle_timeout = Duration::from_millis(300);
}

fn short_lifetime(config: &mut Config) {
    config.db.pool_size = 1;
    config.db.max_lifetime = Duration::from_millis(300);
}

/// A server configured by `configure` on PostgreSQL; `None` (and a note)
/// on SQLite, where these tests do not apply.
async fn postgres_app(configure: fn(&mut Config)) -> Option<TestApp> {
    let app = spawn_app_with(Options {
        configure: Some(configure),
        ..Options::default()
    })
    .await;
    if app.database_url.starts_with("postgres") {
        return Some(app);
    }
    eprintln!("PostgreSQL only; skipped on SQLite");
    app.stop().await;
    None
}

/// The PostgreSQL session behind a connection the server's reads would get.
async fn backend_pid(app: &TestApp) -> i64 {
    session_of(&mut app.state.db.reader().await.unwrap()).await
}

/// The PostgreSQL session behind `reader`.
async fn session_of(reader: &mut Reader) -> i64 {
    let row = reader
        .conn()
        .fetch_one("SELECT pg_backend_pid()::BIGINT AS pid", vec![])
        .await
        .unwrap();
    row.int("pid").unwrap()
}

/// Waits (up to 5 s) until PostgreSQL no longer has session `pid`.
async fn session_ends(app: &TestApp, pid: i64) -> bool {
    let mut admin = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    for _ in 0..50 {
        let (open,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1")
                .bind(pid as i32)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        if open == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn two_connections_serve_sixty_four_concurrent_requests() {
    let app = spawn_app_with(Options {
        configure: Some(two_connections),
        ..Options::default()
    })
    .await;
    let customer_id = customer(&app, "Leslie Knope").await;
    let created = app
        .post("/v1/bridge/bank_account", &f2_body(&customer_id))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let path = format!("/v1/paykeys/{}", created.data()["id"].as_str().unwrap());
    let body = f2_body(&customer_id);
    // Two rounds: the second starts with both connections between requests.
    for _ in 0..2 {
        let writes = (0..32).map(|_| app.post("/v1/bridge/bank_account", &body));
        let reads = (0..32).map(|_| app.get(&path));
        let (written, read) = tokio::join!(
            futures::future::join_all(writes),
            futures::future::join_all(reads)
        );
        for reply in written {
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
        for reply in read {
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
    }
    app.stop().await;
}

/// PostgreSQL only: the check reads the database over a connection of its own.
#[tokio::test]
async fn a_write_after_a_failed_one_on_the_same_connection_is_committed() {
    let Some(app) = postgres_app(one_connection).await else {
        return;
    };
    let unknown = uuid::Uuid::now_v7().to_string();
    let failed = app
        .post("/v1/bridge/bank_account", &f2_body(&unknown))
        .await;
    failed.assert_error(404, "invalid_request_error");

    let email = format!("{}@example.com", uuid::Uuid::now_v7());
    let created = app
        .create_customer(&customer_body("April Ludgate", &email))
        .await;
    let id = created["id"].as_str().unwrap();
    let mut other = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM customer WHERE customer_id = $1")
        .bind(id)
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert_eq!(
        count, 1,
        "the customer is committed, not left in a transaction the failed write opened"
    );
    other.close().await.unwrap();
    app.stop().await;
}

/// PostgreSQL only: a read whose request went away mid-statement leaves its
/// connection to the next request, which must get its own rows.
#[tokio::test]
async fn a_statement_cut_off_leaves_nothing_for_the_next_on_its_connection() {
    let Some(app) = postgres_app(one_connection).await else {
        return;
    };
    let db = &app.state.db;
    {
        let mut reader = db.reader().await.unwrap();
        let mut conn = reader.conn();
        let cut = tokio::time::timeout(
            Duration::from_millis(100),
            conn.fetch_all("SELECT 'first' AS said FROM pg_sleep(0.5)", vec![]),
        )
        .await;
        assert!(cut.is_err(), "the statement was cut off while it ran");
    }
    for _ in 0..3 {
        let mut reader = db.reader().await.unwrap();
        let row = reader
            .conn()
            .fetch_one("SELECT 'second' AS said", vec![])
            .await
            .unwrap();
        assert_eq!(row.text("said").unwrap(), "second");
    }
    app.stop().await;
}

/// PostgreSQL only. Two sessions are opened; the background workers keep
/// reusing the most recently kept one, so the other idles past the timeout.
#[tokio::test]
async fn a_connection_idle_past_the_idle_timeout_is_closed() {
    let Some(app) = postgres_app(short_idle_timeout).await else {
        return;
    };
    let (first, second) = {
        let db = &app.state.db;
        let (mut a, mut b) = (db.reader().await.unwrap(), db.reader().await.unwrap());
        (session_of(&mut a).await, session_of(&mut b).await)
    };
    assert_ne!(first, second);
    tokio::time::sleep(Duration::from_millis(600)).await;
    backend_pid(&app).await;
    let (first_ended, second_ended) =
        tokio::join!(session_ends(&app, first), session_ends(&app, second));
    assert!(
        first_ended || second_ended,
        "the connection left idle is closed"
    );
    app.stop().await;
}

/// PostgreSQL only: a connection in constant use is still replaced once it
/// is older than the maximum lifetime.
#[tokio::test]
async fn a_connection_past_its_lifetime_is_replaced() {
    let Some(app) = postgres_app(short_lifetime).await else {
        return;
    };
    let first = backend_pid(&app).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut replaced = false;
    for _ in 0..3 {
        replaced |= backend_pid(&app).await != first;
    }
    assert!(replaced, "a new session replaces the old one");
    assert!(session_ends(&app, first).await, "the old session is closed");
    app.stop().await;
}
