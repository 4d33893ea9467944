//! Background work as rows of the `job` table, claimed by one instance at a
//! time. A command schedules a job in the transaction of the change that
//! needs it; an instance claims due jobs with a lease (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so instances share the work), does any provider
//! call outside a transaction, and finishes the job by deleting its row in
//! the transaction that applies the work. Whoever deletes the row applies
//! the work, so it happens once; a job whose instance died is claimed again
//! once its lease runs out.

use std::time::Duration;

use straddle_types::Timestamp;

use crate::error::ApiError;
use crate::storage::sql::Conn;
use crate::write::pipeline::{Command, WriteContext};

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Applies a customer's background verification outcome.
    CustomerVerification,
    /// Applies a paykey's background verification outcome.
    PaykeyVerification,
    /// Asks the provider for a paykey's balance and stores it.
    BalanceRefresh,
    /// Deletes expired idempotency keys (recurring).
    PurgeIdempotencyKeys,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::CustomerVerification => "customer_verification",
            JobKind::PaykeyVerification => "paykey_verification",
            JobKind::BalanceRefresh => "balance_refresh",
            JobKind::PurgeIdempotencyKeys => "purge_idempotency_keys",
        }
    }

    fn parse(text: &str) -> Option<JobKind> {
        [
            JobKind::CustomerVerification,
            JobKind::PaykeyVerification,
            JobKind::BalanceRefresh,
            JobKind::PurgeIdempotencyKeys,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// A job claimed by this instance.
#[derive(Clone, Debug)]
pub struct Job {
    /// What to do.
    pub kind: JobKind,
    /// The customer or paykey id it is about.
    pub subject_id: String,
    /// The instance holding the claim.
    pub claimed_by: String,
}

/// Schedules `kind` for `subject` at `due`, replacing any earlier schedule
/// (and any claim on it: the work it was for is superseded).
pub async fn schedule(
    tx: &mut Conn<'_>,
    kind: JobKind,
    subject: &str,
    due: Timestamp,
) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO job (kind, subject_id, due_at) VALUES ($1, $2, $3) ON CONFLICT (kind, subject_id) DO UPDATE SET due_at = excluded.due_at, claimed_by = NULL, lease_expires_at = NULL, attempts = 0",
        crate::args![kind.as_str(), subject, due.to_canonical()],
    )
    .await?;
    Ok(())
}

/// Schedules `kind` for `subject` at `due` unless it is scheduled already.
pub async fn ensure(
    tx: &mut Conn<'_>,
    kind: JobKind,
    subject: &str,
    due: Timestamp,
) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO job (kind, subject_id, due_at) VALUES ($1, $2, $3) ON CONFLICT (kind, subject_id) DO NOTHING",
        crate::args![kind.as_str(), subject, due.to_canonical()],
    )
    .await?;
    Ok(())
}

/// Drops a scheduled job (its work no longer applies).
pub async fn cancel(tx: &mut Conn<'_>, kind: JobKind, subject: &str) -> Result<(), ApiError> {
    tx.execute(
        "DELETE FROM job WHERE kind = $1 AND subject_id = $2",
        crate::args![kind.as_str(), subject],
    )
    .await?;
    Ok(())
}

/// Whether any job is due and unclaimed (a cheap read before claiming).
pub async fn any_due(conn: &mut Conn<'_>, now: Timestamp) -> Result<bool, ApiError> {
    Ok(conn
        .fetch_optional(
            "SELECT kind FROM job WHERE due_at <= $1 AND (lease_expires_at IS NULL OR lease_expires_at <= $1) LIMIT 1",
            crate::args![now.to_canonical()],
        )
        .await?
        .is_some())
}

/// How many jobs are due, claimed and late, for the metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Depth {
    /// Due and not under a live lease.
    pub due: i64,
    /// Under a live lease.
    pub claimed: i64,
    /// Due for over a minute and still not under a live lease.
    pub late: i64,
}

/// Counts jobs by state at `now`.
pub async fn depth(db: &crate::storage::db::Db, now: &Timestamp) -> Result<Depth, ApiError> {
    let late_before = Timestamp(now.0 - chrono::Duration::seconds(60)).to_canonical();
    let row = db
        .reader()
        .await?
        .conn()
        .fetch_one(
            "SELECT \
               CAST(COALESCE(SUM(CASE WHEN due_at <= $1 AND (lease_expires_at IS NULL OR lease_expires_at <= $1) THEN 1 ELSE 0 END), 0) AS BIGINT) AS due, \
               CAST(COALESCE(SUM(CASE WHEN lease_expires_at > $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS claimed, \
               CAST(COALESCE(SUM(CASE WHEN due_at <= $2 AND (lease_expires_at IS NULL OR lease_expires_at <= $1) THEN 1 ELSE 0 END), 0) AS BIGINT) AS late \
             FROM job",
            crate::args![now.to_canonical(), late_before],
        )
        .await?;
    Ok(Depth {
        due: row.int("due")?,
        claimed: row.int("claimed")?,
        late: row.int("late")?,
    })
}

/// Finishes a claimed job in the transaction that applies its work:
/// `false` when this instance no longer holds it (its lease ran out and
/// another instance took it, or a new schedule superseded it), and then the
/// work must not be applied.
pub async fn finish(tx: &mut Conn<'_>, job: &Job) -> Result<bool, ApiError> {
    let deleted = tx
        .execute(
            "DELETE FROM job WHERE kind = $1 AND subject_id = $2 AND claimed_by = $3",
            crate::args![job.kind.as_str(), &job.subject_id, &job.claimed_by],
        )
        .await?;
    Ok(deleted == 1)
}

/// Claims up to `limit` due jobs for `instance`, each for `lease`.
#[derive(Debug)]
pub struct ClaimJobs {
    /// The claiming instance.
    pub instance: String,
    /// How long the claim holds.
    pub lease: Duration,
    /// Most jobs claimed at once.
    pub limit: i64,
}

impl Command for ClaimJobs {
    type Output = Vec<Job>;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Vec<Job>, ApiError> {
        let now = cx.now.to_canonical();
        let lease = chrono::Duration::from_std(self.lease).unwrap_or_default();
        let until = Timestamp(cx.now.0 + lease).to_canonical();
        let sql = format!(
            "UPDATE job SET claimed_by = $1, lease_expires_at = $2, attempts = attempts + 1 \
             WHERE (kind, subject_id) IN (SELECT kind, subject_id FROM job \
             WHERE due_at <= $3 AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
             ORDER BY due_at LIMIT $4{}) RETURNING kind, subject_id",
            tx.skip_locked()
        );
        let rows = tx
            .fetch_all(&sql, crate::args![&self.instance, until, now, self.limit])
            .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            let kind = row.text("kind")?;
            let Some(kind) = JobKind::parse(&kind) else {
                tracing::warn!(kind, "skipping a job of an unknown kind");
                continue;
            };
            jobs.push(Job {
                kind,
                subject_id: row.text("subject_id")?,
                claimed_by: self.instance.clone(),
            });
        }
        Ok(jobs)
    }
}

/// Schedules a recurring job, due now, unless it is scheduled already.
#[derive(Debug)]
pub struct EnsureJob {
    /// What to do.
    pub kind: JobKind,
    /// What about.
    pub subject: String,
}

impl Command for EnsureJob {
    type Output = ();

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<(), ApiError> {
        ensure(tx, self.kind, &self.subject, cx.now).await
    }
}
