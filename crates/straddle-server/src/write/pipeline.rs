//! The write pipeline. Every write is a named [`Command`] value carrying all
//! of its inputs; the pipeline runs it in one transaction with a small
//! [`WriteContext`] (time, environment, sealer, settings), never with the
//! providers or the app state, so no network call can happen inside a
//! transaction. For API requests the pipeline adds idempotency and renders
//! the response. Once started, a write runs to its commit or rollback on a
//! task of its own, whatever happens to the client that asked for it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde::Serialize;
use straddle_types::{ObjectResponse, ResponseMetadata, ResponseType, Timestamp};
use tracing::Instrument;

pub use super::idempotency::Stored as Written;
use super::idempotency::{self, IdempotencyKey};
use crate::clock::Clock;
use crate::config::Environment;
use crate::error::ApiError;
use crate::security::crypto::Sealer;
use crate::storage::db::Db;
use crate::storage::sql::Conn;

/// What a command may use besides its transaction.
#[derive(Debug)]
pub struct WriteContext {
    /// The time the write happens at.
    pub now: Timestamp,
    /// Sandbox or production.
    pub environment: Environment,
    /// Encryption at rest.
    pub sealer: Arc<Sealer>,
    background_delay: chrono::Duration,
}

impl WriteContext {
    /// When background work started now becomes due.
    pub fn background_due(&self) -> Timestamp {
        Timestamp(self.now.0 + self.background_delay)
    }
}

/// One write: a value holding its inputs, run inside a transaction.
pub trait Command: Send + 'static {
    /// What the write produces (the response's `data` for API writes).
    type Output: Send + 'static;

    /// Applies the write. An `Err` rolls back everything it did.
    fn run(
        self,
        tx: &mut Conn<'_>,
        cx: &WriteContext,
    ) -> impl Future<Output = Result<Self::Output, ApiError>> + Send;
}

/// What the pipeline needs to know about an API write request.
#[derive(Debug)]
pub struct WriteRequest {
    /// The envelope's `meta`.
    pub meta: ResponseMetadata,
    /// The success status.
    pub status: StatusCode,
    /// The request's `Idempotency-Key`, if it sent one.
    pub key: Option<IdempotencyKey>,
}

/// Runs commands against the database.
#[derive(Clone)]
pub struct Pipeline {
    db: Db,
    clock: Arc<dyn Clock>,
    sealer: Arc<Sealer>,
    environment: Environment,
    background_delay: Duration,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline over `db`.
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        sealer: Arc<Sealer>,
        environment: Environment,
        background_delay: Duration,
    ) -> Self {
        Pipeline {
            db,
            clock,
            sealer,
            environment,
            background_delay,
        }
    }

    /// The database the pipeline writes to.
    pub fn db(&self) -> &Db {
        &self.db
    }

    fn context(&self) -> WriteContext {
        WriteContext {
            now: self.clock.timestamp(),
            environment: self.environment,
            sealer: self.sealer.clone(),
            background_delay: chrono::Duration::from_std(self.background_delay).unwrap_or_default(),
        }
    }

    /// Runs `command` in one transaction and returns its output once it is
    /// durably committed (background jobs, administration).
    pub async fn commit<C: Command>(&self, command: C) -> Result<C::Output, ApiError> {
        let pipeline = self.clone();
        detached(async move { pipeline.transact(command).await }).await
    }

    async fn transact<C: Command>(&self, command: C) -> Result<C::Output, ApiError> {
        let cx = self.context();
        self.db
            .write(Box::new(move |tx| {
                Box::pin(async move { command.run(tx, &cx).await })
            }))
            .await
    }

    /// Runs an API write; the response is the object envelope around its
    /// output. With an `Idempotency-Key`, the key is checked and the
    /// response stored in the command's own transaction: a replay answers
    /// from the store, a concurrent duplicate gets 409 without waiting.
    pub async fn respond<C>(&self, request: WriteRequest, command: C) -> Result<Written, ApiError>
    where
        C: Command,
        C::Output: Serialize,
    {
        let pipeline = self.clone();
        detached(async move {
            let WriteRequest { meta, status, key } = request;
            let Some(key) = key else {
                let output = pipeline.transact(command).await?;
                return Ok(Written::fresh(status, render(meta, output)?));
            };
            let cx = pipeline.context();
            pipeline
                .db
                .write(Box::new(move |tx| {
                    Box::pin(async move {
                        if let Some(stored) =
                            idempotency::open(tx, &key, &cx.sealer, cx.now).await?
                        {
                            return Ok(stored);
                        }
                        let body = render(meta, command.run(tx, &cx).await?)?;
                        idempotency::store(tx, &key, &cx.sealer, status, &body, cx.now).await?;
                        Ok(Written::fresh(status, body))
                    })
                }))
                .await
        })
        .await
    }

    /// Like [`Pipeline::respond`], for writes whose inputs come from a data
    /// provider: `prepare` makes the provider calls and yields the command.
    /// With an `Idempotency-Key`, the key is reserved (committed) before
    /// `prepare` runs, so duplicates never call the provider: a concurrent
    /// one gets 409 at once, a later one the stored response. A reservation
    /// whose instance died lapses after [`idempotency::RESERVATION_LEASE`].
    pub async fn respond_after<C, P>(
        &self,
        request: WriteRequest,
        prepare: P,
    ) -> Result<Written, ApiError>
    where
        C: Command,
        C::Output: Serialize,
        P: Future<Output = Result<C, ApiError>> + Send + 'static,
    {
        let pipeline = self.clone();
        detached(async move {
            let WriteRequest { meta, status, key } = request;
            let Some(key) = key else {
                let output = pipeline.transact(prepare.await?).await?;
                return Ok(Written::fresh(status, render(meta, output)?));
            };
            let reserve_key = key.clone();
            let cx = pipeline.context();
            let reserved = pipeline
                .db
                .write(Box::new(move |tx| {
                    Box::pin(async move {
                        idempotency::reserve(tx, &reserve_key, &cx.sealer, cx.now).await
                    })
                }))
                .await?;
            let token = match reserved {
                Ok(stored) => return Ok(stored),
                Err(token) => token,
            };
            let outcome = pipeline
                .finish_reserved(meta, status, &key, &token, prepare)
                .await;
            if outcome.is_err() {
                pipeline.release(key, token).await;
            }
            outcome
        })
        .await
    }

    async fn finish_reserved<C, P>(
        &self,
        meta: ResponseMetadata,
        status: StatusCode,
        key: &IdempotencyKey,
        token: &str,
        prepare: P,
    ) -> Result<Written, ApiError>
    where
        C: Command,
        C::Output: Serialize,
        P: Future<Output = Result<C, ApiError>> + Send + 'static,
    {
        let command = prepare.await?;
        let cx = self.context();
        let (key, token) = (key.clone(), token.to_string());
        self.db
            .write(Box::new(move |tx| {
                Box::pin(async move {
                    let body = render(meta, command.run(tx, &cx).await?)?;
                    idempotency::complete(tx, &key, &cx.sealer, &token, status, &body, cx.now)
                        .await?;
                    Ok(Written::fresh(status, body))
                })
            }))
            .await
    }

    /// Frees a reservation whose request failed, so a retry runs again.
    async fn release(&self, key: IdempotencyKey, token: String) {
        let released = self
            .db
            .write(Box::new(move |tx| {
                Box::pin(async move { idempotency::release(tx, &key, &token).await })
            }))
            .await;
        if let Err(err) = released {
            tracing::warn!(error = %err, "could not release an idempotency reservation; it lapses with its lease");
        }
    }
}

/// Runs `work` on a task of its own, so that it reaches its commit or
/// rollback even when the request that started it is dropped.
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(work.instrument(tracing::Span::current()))
        .await
        .map_err(|err| ApiError::Internal(format!("write task failed: {err}")))?
}

/// The object envelope around `data`, as JSON text.
fn render<T: Serialize>(meta: ResponseMetadata, data: T) -> Result<String, ApiError> {
    Ok(serde_json::to_string(&ObjectResponse {
        meta,
        response_type: ResponseType::Object,
        data,
    })?)
}
