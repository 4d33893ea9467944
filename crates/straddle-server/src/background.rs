//! The background worker: applies due `background` verifications and purges
//! expired idempotency keys. Work lives in the database, so it survives
//! restarts, and conditional updates make it safe with several instances.

use std::time::Duration;

use crate::app::AppState;
use straddle_types::paykey::PaykeySource;

use crate::error::ApiError;
use crate::idempotency::purge_expired;
use crate::paykeys::repo::DueColumn;
use crate::{customers, paykeys};

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
            tracing::warn!(error = %err, "background customer verifications failed");
        }
        if let Err(err) = complete_paykeys(&state).await {
            tracing::warn!(error = %err, "background paykey work failed");
        }
        if ticks.is_multiple_of(600) {
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

/// Applies due paykey verifications, then runs due balance refreshes
/// (asking the provider outside any transaction); returns how many.
pub async fn complete_paykeys(state: &AppState) -> Result<usize, ApiError> {
    let now = state.clock.timestamp();
    let mut conn = state.db.pool.acquire().await?;
    let verifications = paykeys::repo::due(&mut conn, DueColumn::Verification, now, 100).await?;
    let balances = paykeys::repo::due(&mut conn, DueColumn::Balance, now, 20).await?;
    let mut done = 0;
    if !verifications.is_empty() {
        let work_state = state.clone();
        done += state
            .db
            .write(Box::new(move |conn| {
                Box::pin(async move {
                    let mut done = 0;
                    for id in verifications {
                        done += usize::from(
                            paykeys::service::complete_verification(conn, &work_state, id).await?,
                        );
                    }
                    Ok(done)
                })
            }))
            .await?;
    }
    for id in balances {
        let Some(record) = paykeys::repo::get_any(&mut conn, &state.sealer, id).await? else {
            continue;
        };
        let Some(token) = record.secret.provider_token.clone() else {
            continue;
        };
        let balance = match record.source {
            PaykeySource::Quiltt => state.providers.quiltt_balance(&token).await,
            _ => state.providers.plaid_balance(&token).await,
        };
        if let Err(err) = &balance {
            tracing::warn!(paykey_id = %id, error = %err, "balance refresh failed");
        }
        let cents = balance.ok();
        let work_state = state.clone();
        state
            .db
            .write(Box::new(move |conn| {
                Box::pin(async move {
                    paykeys::service::complete_balance(conn, &work_state, id, cents).await
                })
            }))
            .await?;
        done += 1;
    }
    Ok(done)
}

async fn purge(state: &AppState) -> Result<u64, ApiError> {
    let now = state.clock.timestamp().to_canonical();
    state
        .db
        .write(Box::new(move |conn| {
            Box::pin(async move { purge_expired(conn, &now).await })
        }))
        .await
}
