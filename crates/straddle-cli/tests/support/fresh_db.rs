//! A fresh PostgreSQL database per test when `STRADDLE_TEST_DATABASE_URL`
//! points at PostgreSQL (so tests never share migrations or data with other
//! runs), else `None`.

use sqlx::{Connection, Executor, PgConnection};

/// Creates `straddle_test_<id>` beside the base database and returns its URL.
pub fn fresh_postgres() -> Option<String> {
    let base = std::env::var("STRADDLE_TEST_DATABASE_URL").ok()?;
    if !base.starts_with("postgres") {
        return None;
    }
    let name = format!("straddle_test_{}", uuid::Uuid::now_v7().simple());
    let statement = format!("CREATE DATABASE {name}");
    run(&base, statement);
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    Some(format!("{prefix}/{name}"))
}

/// Runs one statement on its own thread and runtime, so it works from sync
/// and async tests alike.
fn run(base: &str, statement: String) {
    let base = base.to_string();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let mut conn = PgConnection::connect(&base).await.unwrap();
                conn.execute(statement.as_str()).await.unwrap();
            })
    })
    .join()
    .unwrap();
}
