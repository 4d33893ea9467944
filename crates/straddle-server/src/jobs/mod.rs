//! The background worker: claims due jobs (see [`queue`]) and runs each
//! through the write pipeline. Several instances share the work; each job
//! is applied by exactly one of them.

pub mod queue;

use std::time::Duration;

use futures::StreamExt;
use straddle_types::paykey::PaykeySource;
use straddle_types::Timestamp;

use self::queue::{ClaimJobs, Job, JobKind};
use crate::customers::service::CompleteCustomerVerification;
use crate::error::ApiError;
use crate::paykeys::service::{CompleteBalanceRefresh, CompletePaykeyVerification};
use crate::state::AppState;
use crate::storage::sql::Conn;
use crate::write::idempotency::purge_expired;
use crate::write::pipeline::{Command, WriteContext};

/// How often the worker looks for due work.
const TICK: Duration = Duration::from_millis(100);

/// How long a claim holds before another instance may take the job over.
pub const LEASE: Duration = Duration::from_secs(60);

/// Most jobs claimed at once, and most run at the same time.
const CLAIM_LIMIT: i64 = 64;
const CONCURRENCY: usize = 8;

/// How often expired idempotency keys are purged.
const PURGE_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// The one subject of the recurring purge job.
const PURGE_SUBJECT: &str = "all";

/// Runs forever.
pub async fn run(state: AppState) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(err) = run_due(&state).await {
            tracing::warn!(error = %err, "background work failed; retrying");
        }
    }
}

/// Claims due jobs and runs them; returns how many were applied.
pub async fn run_due(state: &AppState) -> Result<usize, ApiError> {
    let now = state.clock.timestamp();
    if !queue::any_due(&mut state.db.reader().await?.conn(), now).await? {
        return Ok(0);
    }
    let jobs = state
        .pipeline
        .commit(ClaimJobs {
            instance: state.config.instance_id.clone(),
            lease: LEASE,
            limit: CLAIM_LIMIT,
        })
        .await?;
    let applied = futures::stream::iter(jobs)
        .map(|job| run_job(state, job))
        .buffer_unordered(CONCURRENCY)
        .filter(|applied| std::future::ready(*applied))
        .count()
        .await;
    Ok(applied)
}

/// Runs one claimed job; `true` when this instance applied it. A failure is
/// logged and the job is claimed again once its lease runs out.
async fn run_job(state: &AppState, job: Job) -> bool {
    let (kind, subject) = (job.kind, job.subject_id.clone());
    let pipeline = &state.pipeline;
    let applied = match job.kind {
        JobKind::CustomerVerification => {
            pipeline.commit(CompleteCustomerVerification { job }).await
        }
        JobKind::PaykeyVerification => pipeline.commit(CompletePaykeyVerification { job }).await,
        JobKind::BalanceRefresh => {
            let cents = fetch_balance(state, &job.subject_id).await;
            pipeline.commit(CompleteBalanceRefresh { job, cents }).await
        }
        JobKind::PurgeIdempotencyKeys => {
            pipeline
                .commit(PurgeIdempotencyKeys {
                    job,
                    next: Timestamp(state.clock.now() + PURGE_EVERY),
                })
                .await
        }
    };
    applied.unwrap_or_else(|err| {
        tracing::warn!(job = ?kind, subject, error = %err, "background job failed");
        false
    })
}

/// Schedules the recurring purge unless it is scheduled already.
pub async fn schedule_recurring(state: &AppState) -> Result<(), ApiError> {
    state
        .pipeline
        .commit(queue::EnsureJob {
            kind: JobKind::PurgeIdempotencyKeys,
            subject: PURGE_SUBJECT.into(),
        })
        .await
}

/// The paykey's balance in cents from its provider, asked outside any
/// transaction; `None` when the provider failed (logged).
async fn fetch_balance(state: &AppState, paykey_id: &str) -> Option<i64> {
    let result = async {
        let id = crate::storage::query::parse_uuid(paykey_id)?;
        let mut reader = state.db.reader().await?;
        let record = crate::paykeys::repo::get_any(&mut reader.conn(), &state.sealer, id)
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
    .await;
    result
        .inspect_err(|err| tracing::warn!(paykey_id, error = %err, "balance refresh failed"))
        .ok()
}

/// The recurring job that deletes expired idempotency keys, then schedules
/// itself again.
#[derive(Debug)]
pub struct PurgeIdempotencyKeys {
    /// The claimed job.
    pub job: Job,
    /// When to run next.
    pub next: Timestamp,
}

impl Command for PurgeIdempotencyKeys {
    type Output = bool;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<bool, ApiError> {
        if !queue::finish(tx, &self.job).await? {
            return Ok(false);
        }
        let purged = purge_expired(tx, cx.now).await?;
        tracing::debug!(purged, "purged expired idempotency keys");
        queue::schedule(tx, self.job.kind, &self.job.subject_id, self.next).await?;
        Ok(true)
    }
}
