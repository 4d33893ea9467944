//! Database connections shared by requests: a small pool serves many
//! concurrent requests, and a connection handed from one request to the
//! next carries nothing of the first over.

use std::time::Duration;

use sqlx::Connection;
use straddle_server::config::Config;

use crate::bridge::{customer, f2_body};
use crate::helpers::{customer_body, spawn_app_with, Options};

fn two_connections(config: &mut Config) {
    config.db.pool_size = 2;
    config.db.acquire_timeout = Duration::from_secs(3);
}

fn one_connection(config: &mut Config) {
    config.db.pool_size = 1;
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
    let app = spawn_app_with(Options {
        configure: Some(one_connection),
        ..Options::default()
    })
    .await;
    if !app.database_url.starts_with("postgres") {
        eprintln!("PostgreSQL only; skipped on SQLite");
        return app.stop().await;
    }
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
    let app = spawn_app_with(Options {
        configure: Some(one_connection),
        ..Options::default()
    })
    .await;
    if !app.database_url.starts_with("postgres") {
        eprintln!("PostgreSQL only; skipped on SQLite");
        return app.stop().await;
    }
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
