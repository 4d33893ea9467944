//! The delivery worker. Each tick it picks due deliveries, at most a few
//! per endpoint and never for an endpoint already at its limit, claims them
//! with a lease (a conditional update: on PostgreSQL two instances never
//! both hold one), and sends each on a task of its own, outside any
//! transaction, so a slow endpoint holds up only its own deliveries. The
//! attempt is then recorded and the delivery finished or rescheduled on the
//! retry schedule. Rows are durable, so deliveries survive restarts and
//! `kill -9`: a claim whose instance died lapses with its lease.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use straddle_types::Timestamp;

use super::repo;
use super::safety::Guard;
use super::signing;
use crate::config::WebhookSettings;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::sql::Conn;
use crate::write::pipeline::{Command, WriteContext};

/// How often the worker looks for due deliveries.
const TICK: Duration = Duration::from_millis(20);

/// Most deliveries in flight on one instance.
const MAX_IN_FLIGHT: usize = 256;

/// Most deliveries in flight to one endpoint.
const PER_ENDPOINT: usize = 32;

/// A claim outlasts the request timeout by this much.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Longest error text kept for an attempt.
const MAX_ERROR_LEN: usize = 300;

/// A delivery this instance claimed.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The endpoint.
    pub endpoint_id: String,
    /// The event (`webhook-id`).
    pub event_id: String,
    /// Its type.
    pub event_type: String,
}

/// Runs forever.
pub async fn run(state: AppState) {
    let worker = match Worker::new(state) {
        Ok(worker) => Arc::new(worker),
        Err(err) => {
            tracing::error!(error = %err, "webhook delivery cannot start");
            return;
        }
    };
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(err) = worker.clone().dispatch().await {
            tracing::warn!(error = %err, "webhook delivery failed; retrying");
        }
    }
}

struct Worker {
    state: AppState,
    http: reqwest::Client,
    guard: Guard,
    in_flight: Mutex<HashMap<String, usize>>,
}

impl Worker {
    fn new(state: AppState) -> Result<Worker, reqwest::Error> {
        let settings = &state.config.webhooks;
        let guard = Guard::new(state.config.environment, &settings.allow_hosts);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .user_agent(concat!("straddle-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(guard.resolver())
            .build()?;
        Ok(Worker {
            state,
            http,
            guard,
            in_flight: Mutex::default(),
        })
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims what is due and room allows, and starts sending it.
    async fn dispatch(self: Arc<Self>) -> Result<(), ApiError> {
        let now = self.state.clock.timestamp();
        let room = MAX_IN_FLIGHT.saturating_sub(self.in_flight().values().sum());
        if room == 0 {
            return Ok(());
        }
        let candidates = {
            let mut reader = self.state.db.reader().await?;
            due(&mut reader.conn(), now, room).await?
        };
        let picked: Vec<(String, String)> = {
            let busy = self.in_flight();
            let mut taken: HashMap<&str, usize> = HashMap::new();
            candidates
                .iter()
                .filter(|(endpoint, _)| {
                    let count = taken.entry(endpoint).or_default();
                    *count += 1;
                    busy.get(endpoint).copied().unwrap_or(0) + *count <= PER_ENDPOINT
                })
                .take(room)
                .cloned()
                .collect()
        };
        if picked.is_empty() {
            return Ok(());
        }
        let claimed = self
            .state
            .pipeline
            .commit(ClaimDeliveries {
                instance: self.state.config.instance_id.clone(),
                lease: self.state.config.webhooks.timeout + LEASE_MARGIN,
                picked,
            })
            .await?;
        for delivery in claimed {
            *self
                .in_flight()
                .entry(delivery.endpoint_id.clone())
                .or_default() += 1;
            let worker = self.clone();
            tokio::spawn(async move {
                let endpoint_id = delivery.endpoint_id.clone();
                if let Err(err) = worker.deliver(delivery).await {
                    tracing::warn!(endpoint_id, error = %err, "webhook attempt could not be recorded");
                }
                let mut in_flight = worker.in_flight();
                if let Some(count) = in_flight.get_mut(&endpoint_id) {
                    *count -= 1;
                    if *count == 0 {
                        in_flight.remove(&endpoint_id);
                    }
                }
            });
        }
        Ok(())
    }

    /// Sends one claimed delivery and records the outcome.
    async fn deliver(&self, delivery: Claimed) -> Result<(), ApiError> {
        let state = &self.state;
        let (endpoint, body) = {
            let mut reader = state.db.reader().await?;
            let mut conn = reader.conn();
            let endpoint = repo::get_any(&mut conn, &state.sealer, &delivery.endpoint_id).await?;
            let body = repo::event_body(&mut conn, &state.sealer, &delivery.event_id).await?;
            (endpoint, body)
        };
        let (Some(endpoint), Some(body)) = (endpoint, body) else {
            return self.finish(delivery, None).await;
        };
        if endpoint.disabled {
            return self.finish(delivery, None).await;
        }
        let started = Instant::now();
        let outcome = self.post(&endpoint, &delivery.event_id, body).await;
        let attempt = Attempt {
            status_code: outcome.as_ref().ok().copied(),
            error: outcome.err(),
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        };
        self.finish(delivery, Some(attempt)).await
    }

    /// POSTs the event; the status code, or why there is none.
    async fn post(
        &self,
        endpoint: &repo::EndpointRecord,
        event_id: &str,
        body: String,
    ) -> Result<u16, String> {
        let url = super::safety::parse(&endpoint.url)?;
        self.guard.check_literal(&url)?;
        let now = self.state.clock.timestamp();
        let timestamp = now.0.timestamp();
        let signature =
            signing::signature_header(&endpoint.signing_secrets(now), event_id, timestamp, &body)
                .map_err(|err| err.to_string())?;
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|err| describe(&err))?;
        Ok(response.status().as_u16())
    }

    async fn finish(&self, delivery: Claimed, attempt: Option<Attempt>) -> Result<(), ApiError> {
        self.state
            .pipeline
            .commit(RecordAttempt {
                delivery,
                instance: self.state.config.instance_id.clone(),
                attempt,
                settings: self.state.config.webhooks.clone(),
            })
            .await
    }
}

/// A short reason for a failed request (never the body or headers).
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text.chars().take(MAX_ERROR_LEN).collect()
}

/// Due, unclaimed deliveries, oldest first, at most [`PER_ENDPOINT`] per endpoint.
async fn due(
    conn: &mut Conn<'_>,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<(String, String)>, ApiError> {
    let rows = conn
        .fetch_all(
            "SELECT endpoint_id, event_id FROM (SELECT endpoint_id, event_id, due_at, ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY due_at) AS n FROM webhook_delivery WHERE due_at <= $1 AND (lease_expires_at IS NULL OR lease_expires_at <= $1)) AS due WHERE n <= $2 ORDER BY due_at LIMIT $3",
            crate::args![
                now.to_canonical(),
                PER_ENDPOINT as i64,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((row.text("endpoint_id")?, row.text("event_id")?)))
        .collect()
}

/// Claims the picked deliveries that are still due and unclaimed.
#[derive(Debug)]
pub struct ClaimDeliveries {
    /// The claiming instance.
    pub instance: String,
    /// How long the claim holds.
    pub lease: Duration,
    /// (endpoint id, event id) pairs.
    pub picked: Vec<(String, String)>,
}

impl Command for ClaimDeliveries {
    type Output = Vec<Claimed>;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Vec<Claimed>, ApiError> {
        let now = cx.now.to_canonical();
        let lease = chrono::Duration::from_std(self.lease).unwrap_or_default();
        let until = Timestamp(cx.now.0 + lease).to_canonical();
        let mut claimed = Vec::with_capacity(self.picked.len());
        for (endpoint_id, event_id) in self.picked {
            let row = tx
                .fetch_optional(
                    "UPDATE webhook_delivery SET claimed_by = $1, lease_expires_at = $2 WHERE endpoint_id = $3 AND event_id = $4 AND due_at <= $5 AND (lease_expires_at IS NULL OR lease_expires_at <= $5) RETURNING event_type",
                    crate::args![&self.instance, &until, &endpoint_id, &event_id, &now],
                )
                .await?;
            if let Some(row) = row {
                claimed.push(Claimed {
                    endpoint_id,
                    event_id,
                    event_type: row.text("event_type")?,
                });
            }
        }
        Ok(claimed)
    }
}

/// What one request to an endpoint gave.
#[derive(Debug)]
pub struct Attempt {
    /// The HTTP status, if the endpoint answered.
    pub status_code: Option<u16>,
    /// Why it did not, otherwise.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

impl Attempt {
    fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// Records an attempt and finishes or reschedules its delivery (`attempt:
/// None`: nothing was sent because the endpoint or event is gone or the
/// endpoint is disabled, so the delivery fails). An endpoint failing for
/// longer than its period without a success is disabled.
#[derive(Debug)]
pub struct RecordAttempt {
    /// The delivery.
    pub delivery: Claimed,
    /// The instance that claimed it.
    pub instance: String,
    /// What happened.
    pub attempt: Option<Attempt>,
    /// Retry schedule and disabling period.
    pub settings: WebhookSettings,
}

impl Command for RecordAttempt {
    type Output = ();

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<(), ApiError> {
        let Claimed {
            endpoint_id,
            event_id,
            event_type,
        } = &self.delivery;
        let now = cx.now;
        let Some(attempt) = self.attempt else {
            tx.execute(
                "UPDATE webhook_delivery SET status = 'failed', due_at = NULL, claimed_by = NULL, lease_expires_at = NULL WHERE endpoint_id = $1 AND event_id = $2 AND claimed_by = $3",
                crate::args![endpoint_id, event_id, &self.instance],
            )
            .await?;
            return Ok(());
        };
        tx.execute(
            "INSERT INTO webhook_attempt (attempt_id, endpoint_id, event_id, event_type, status_code, error, duration_ms, attempted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            crate::args![
                uuid::Uuid::now_v7().to_string(),
                endpoint_id,
                event_id,
                event_type,
                attempt.status_code.map(i64::from),
                attempt.error.clone(),
                attempt.duration_ms,
                now.to_canonical(),
            ],
        )
        .await?;
        if attempt.succeeded() {
            tx.execute(
                "UPDATE webhook_delivery SET status = 'succeeded', attempts = attempts + 1, due_at = NULL, claimed_by = NULL, lease_expires_at = NULL WHERE endpoint_id = $1 AND event_id = $2 AND claimed_by = $3",
                crate::args![endpoint_id, event_id, &self.instance],
            )
            .await?;
            tx.execute(
                "UPDATE webhook_endpoint SET failing_since = NULL WHERE endpoint_id = $1 AND failing_since IS NOT NULL",
                crate::args![endpoint_id],
            )
            .await?;
            return Ok(());
        }
        let Some(row) = tx
            .fetch_optional(
                "SELECT attempts FROM webhook_delivery WHERE endpoint_id = $1 AND event_id = $2 AND claimed_by = $3",
                crate::args![endpoint_id, event_id, &self.instance],
            )
            .await?
        else {
            return Ok(());
        };
        let made = usize::try_from(row.int("attempts")?).unwrap_or(0) + 1;
        let next = self
            .settings
            .retry_schedule
            .get(made - 1)
            .and_then(|wait| chrono::Duration::from_std(*wait).ok())
            .map(|wait| Timestamp(now.0 + wait).to_canonical());
        let status = if next.is_some() { "pending" } else { "failed" };
        tx.execute(
            "UPDATE webhook_delivery SET status = $1, attempts = attempts + 1, due_at = $2, claimed_by = NULL, lease_expires_at = NULL WHERE endpoint_id = $3 AND event_id = $4 AND claimed_by = $5",
            crate::args![status, next, endpoint_id, event_id, &self.instance],
        )
        .await?;
        disable_if_failing_too_long(tx, endpoint_id, now, &self.settings).await
    }
}

/// Notes the endpoint's first failure since its last success, and disables
/// it (failing its pending deliveries) once that is older than the period.
async fn disable_if_failing_too_long(
    tx: &mut Conn<'_>,
    endpoint_id: &str,
    now: Timestamp,
    settings: &WebhookSettings,
) -> Result<(), ApiError> {
    tx.execute(
        "UPDATE webhook_endpoint SET failing_since = $1 WHERE endpoint_id = $2 AND failing_since IS NULL",
        crate::args![now.to_canonical(), endpoint_id],
    )
    .await?;
    let period =
        chrono::Duration::from_std(settings.disable_after).unwrap_or(chrono::Duration::MAX);
    let Some(cutoff) = now.0.checked_sub_signed(period) else {
        return Ok(());
    };
    let disabled = tx
        .execute(
            "UPDATE webhook_endpoint SET disabled = 1, updated_at = $1 WHERE endpoint_id = $2 AND disabled = 0 AND failing_since <= $3",
            crate::args![now.to_canonical(), endpoint_id, Timestamp(cutoff).to_canonical()],
        )
        .await?;
    if disabled == 1 {
        tracing::warn!(
            endpoint_id,
            "webhook endpoint disabled after failing for too long"
        );
        tx.execute(
            "UPDATE webhook_delivery SET status = 'failed', due_at = NULL WHERE endpoint_id = $1 AND status = 'pending' AND claimed_by IS NULL",
            crate::args![endpoint_id],
        )
        .await?;
    }
    Ok(())
}
