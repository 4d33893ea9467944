//! The background worker: applies due `background` verifications and purges
//! expired idempotency keys. Work lives in the database, so it survives
//! restarts, and conditional updates make it safe with several instances.

use std::time::Duration;

use crate::app::AppState;
use crate::customers;
use crate::error::ApiError;
use crate::idempotency::purge_expired;

/// How often the worker looks for due work.
const TICK: Duration = Duration::from_millis(100);

/// Runs forever.
pub async fn run(state: AppState) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        ticker.tick().await;
        ticks += 1;
        if let Err(err) = complete_due(&state).await {
            tracing::warn!(error = %err, "background transitions failed");
        }
        if ticks % 600 == 0 {
            if let Err(err) = purge(&state).await {
                tracing::warn!(error = %err, "purging idempotency keys failed");
            }
        }
    }
}

/// Applies every due background verification; returns how many.
pub async fn complete_due(state: &AppState) -> Result<usize, ApiError> {
    let now = state.clock.timestamp();
    let mut conn = state.db.pool.acquire().await?;
    let due = customers::repo::due(&mut conn, now, 100).await?;
    drop(conn);
    if due.is_empty() {
        return Ok(0);
    }
    state
        .db
        .write(Box::new(move |conn| {
            Box::pin(async move {
                let mut done = 0;
                for id in due {
                    done += usize::from(customers::repo::complete_due(conn, id, now).await?);
                }
                Ok(done)
            })
        }))
        .await
}

async fn purge(state: &AppState) -> Result<u64, ApiError> {
    let now = state.clock.timestamp().to_canonical();
    state.db.write(Box::new(move |conn| Box::pin(async move { purge_expired(conn, &now).await }))).await
}
