//! A database that goes away: the server answers 503 with `x-should-retry`
//! (never 500) and recovers by itself once the database answers again.

use sqlx::{Connection, Executor};

use crate::helpers::{customer_body, spawn_app};

/// PostgreSQL only: its sessions are killed from outside by `application_name`.
#[tokio::test]
async fn killed_connections_answer_503_then_recover_without_a_restart() {
    let app = spawn_app().await;
    if !app.database_url.starts_with("postgres") {
        eprintln!("PostgreSQL only; skipped on SQLite");
        return app.stop().await;
    }
    // Open a few pooled connections.
    let bodies: Vec<_> = (0..4)
        .map(|i| customer_body("Ann Perkins", &format!("w{i}@example.com")))
        .collect();
    futures::future::join_all(bodies.iter().map(|body| app.create_customer(body))).await;

    let mut admin = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&app.state.config.instance_id)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        !killed.is_empty(),
        "the instance's sessions carry its application_name"
    );

    let mut unavailable = 0;
    let mut recovered = false;
    for attempt in 0..20 {
        let reply = app
            .post(
                "/v1/customers",
                &customer_body("Ann Perkins", &format!("after{attempt}@example.com")),
            )
            .await;
        if reply.status.as_u16() == 201 {
            recovered = true;
            break;
        }
        reply.assert_error(503, "api_error");
        assert_eq!(reply.headers["x-should-retry"], "true");
        unavailable += 1;
    }
    assert!(
        unavailable >= 1,
        "a request on a killed connection answers 503"
    );
    assert!(
        recovered,
        "the pool replaces killed connections without a restart"
    );
    // Reads recover too.
    assert_eq!(app.get("/v1/customers").await.status.as_u16(), 200);
    admin.execute("SELECT 1").await.unwrap();
    app.stop().await;
}
