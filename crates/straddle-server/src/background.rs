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
    let mut reader = state.db.reader().await?;
    let due = customers::repo::due(&mut reader.conn(), now, 100).await?;
    drop(reader);
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
/// (asking the provider outside any transaction); returns how many. A
/// paykey that cannot be processed is logged and marked failed, so it never
/// blocks the others.
pub async fn complete_paykeys(state: &AppState) -> Result<usize, ApiError> {
    let now = state.clock.timestamp();
    let mut reader = state.db.reader().await?;
    let verifications =
        paykeys::repo::due(&mut reader.conn(), DueColumn::Verification, now, 100).await?;
    let balances = paykeys::repo::due(&mut reader.conn(), DueColumn::Balance, now, 20).await?;
    drop(reader);
    let mut done = 0;
    if !verifications.is_empty() {
        done += state
            .db
            .write(Box::new(move |conn| {
                Box::pin(async move {
                    let mut done = 0;
                    for id in verifications {
                        done += usize::from(
                            paykeys::service::complete_verification(conn, now, id).await?,
                        );
                    }
                    Ok(done)
                })
            }))
            .await?;
    }
    for id in balances {
        let cents = match fetch_balance(state, id).await {
            Ok(cents) => Some(cents),
            Err(err) => {
                tracing::warn!(paykey_id = %id, error = %err, "balance refresh failed");
                None
            }
        };
        state
            .db
            .write(Box::new(move |conn| {
                Box::pin(
                    async move { paykeys::service::complete_balance(conn, now, id, cents).await },
                )
            }))
            .await?;
        done += 1;
    }
    Ok(done)
}

/// Asks the paykey's provider for its balance in cents.
async fn fetch_balance(state: &AppState, id: uuid::Uuid) -> Result<i64, ApiError> {
    let mut reader = state.db.reader().await?;
    let record = paykeys::repo::get_any(&mut reader.conn(), &state.sealer, id)
        .await?
        .ok_or_else(|| ApiError::Internal("paykey vanished".into()))?;
    drop(reader);
    let token = record
        .secret
        .provider_token
        .ok_or_else(|| ApiError::Internal("paykey has no provider token".into()))?;
    let balance = match record.source {
        PaykeySource::Quiltt => state.providers.quiltt_balance(&token).await,
        _ => state.providers.plaid_balance(&token).await,
    };
    balance.map_err(|err| ApiError::Upstream(err.to_string()))
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
