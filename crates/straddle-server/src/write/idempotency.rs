//! `Idempotency-Key` for every mutating endpoint, as one mechanism. A key
//! names one request (its method, path and body): a retry replays the
//! stored response, the same key with another request is 409, and a
//! duplicate that arrives while the first is still running is 409 with
//! `x-should-retry: true`, at once, never waiting on a lock. Only 2xx
//! responses are stored; keys live 24 hours.
//!
//! A key is taken under a transaction-scoped lock that a second transaction
//! tries without waiting. Writes without provider calls store their
//! response in the transaction of their effect. Writes with provider calls
//! first commit a reservation (status 0 and a token, valid for
//! [`RESERVATION_LEASE`]), call the provider, then complete the reservation
//! in the effect's transaction, conditional on still holding it.
//!
//! Stored responses may carry full tokens (a paykey, a bridge token), so
//! they are sealed with the [`Sealer`] like every other secret at rest.

use axum::http::{HeaderValue, Method, StatusCode};
use chrono::Duration;
use sha2::{Digest, Sha256};
use straddle_types::Timestamp;
use uuid::Uuid;

use crate::error::{item, ApiError};
use crate::security::crypto::Sealer;
use crate::storage::sql::Conn;

/// How long a completed key is remembered.
pub const RETENTION_HOURS: i64 = 24;

/// How long a reservation holds a key for a request that has not finished;
/// after it a retry may proceed (the instance that held it died).
pub const RESERVATION_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// One request's `Idempotency-Key`, scoped to its caller, and the
/// fingerprint of the request it was first used for.
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    scope_hash: String,
    fingerprint: String,
}

impl IdempotencyKey {
    /// The key of a request, if it sent one (10–40 characters), scoped to
    /// the authenticated and the acting account.
    pub fn from_header(
        header: Option<&HeaderValue>,
        (authenticated_id, acting_id): (Uuid, Uuid),
        environment: &str,
        method: &Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Option<IdempotencyKey>, ApiError> {
        let Some(value) = header else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .map_err(|_| bad_key("The Idempotency-Key header must be printable text."))?;
        let length = key.chars().count();
        if !(10..=40).contains(&length) {
            return Err(ApiError::InvalidRequest {
                title: "Invalid Idempotency-Key".into(),
                detail: "The Idempotency-Key header must be between 10 and 40 characters long."
                    .into(),
                items: vec![item(
                    "Idempotency-Key",
                    format!("Length {length} is outside 10-40."),
                )],
            });
        }
        Ok(Some(IdempotencyKey {
            scope_hash: sha256(&[
                environment,
                &authenticated_id.to_string(),
                &acting_id.to_string(),
                key,
            ]),
            fingerprint: sha256(&[method.as_str(), path, &body.to_string()]),
        }))
    }

    /// The id of the lock that serialises requests with this key.
    fn lock_id(&self) -> i64 {
        let prefix = u64::from_str_radix(&self.scope_hash[..16], 16).unwrap_or_default();
        i64::from_ne_bytes(prefix.to_ne_bytes())
    }

    /// The sealing context of this key's stored response: a sealed body
    /// cannot be replayed under another key.
    fn seal_context(&self) -> String {
        format!("idempotency:{}", self.scope_hash)
    }

    fn seal(&self, sealer: &Sealer, body: &str) -> Result<String, ApiError> {
        sealer.seal(body.as_bytes(), &self.seal_context())
    }

    /// The stored body in clear. Bodies stored before sealing began are
    /// JSON text and are returned as they are.
    fn unseal(&self, sealer: &Sealer, stored: String) -> Result<String, ApiError> {
        if stored.starts_with('{') {
            return Ok(stored);
        }
        String::from_utf8(sealer.open(&stored, &self.seal_context())?)
            .map_err(|_| ApiError::Internal("stored response is not text".into()))
    }
}

fn bad_key(detail: &str) -> ApiError {
    ApiError::InvalidRequest {
        title: "Invalid Idempotency-Key".into(),
        detail: detail.into(),
        items: vec![item("Idempotency-Key", detail)],
    }
}

fn sha256(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// A response to send: fresh, or replayed from the store.
#[derive(Debug)]
pub struct Stored {
    /// HTTP status.
    pub status: u16,
    /// The JSON envelope.
    pub body: String,
    /// Whether it answers an earlier request.
    pub replayed: bool,
}

impl Stored {
    /// A response produced by this request.
    pub fn fresh(status: StatusCode, body: String) -> Stored {
        Stored {
            status: status.as_u16(),
            body,
            replayed: false,
        }
    }
}

/// Takes `key` for this transaction: the stored response to replay, or
/// `None` to go ahead. 409 when another request holds the key or it was
/// used for a different request.
pub async fn open(
    tx: &mut Conn<'_>,
    key: &IdempotencyKey,
    sealer: &Sealer,
    now: Timestamp,
) -> Result<Option<Stored>, ApiError> {
    if !tx.try_lock(key.lock_id()).await? {
        return Err(ApiError::IdempotencyInProgress);
    }
    let Some(row) = tx
        .fetch_optional(
            "SELECT fingerprint, status_code, body, expires_at FROM idempotency_key WHERE scope_hash = $1",
            crate::args![&key.scope_hash],
        )
        .await?
    else {
        return Ok(None);
    };
    if row.text("expires_at")? <= now.to_canonical() {
        // A completed key past retention, or a reservation whose lease ran out.
        tx.execute(
            "DELETE FROM idempotency_key WHERE scope_hash = $1",
            crate::args![&key.scope_hash],
        )
        .await?;
        return Ok(None);
    }
    if row.text("fingerprint")? != key.fingerprint {
        return Err(ApiError::IdempotencyMismatch);
    }
    match row.int("status_code")? {
        0 => Err(ApiError::IdempotencyInProgress),
        status => Ok(Some(Stored {
            status: status as u16,
            body: key.unseal(sealer, row.text("body")?)?,
            replayed: true,
        })),
    }
}

/// Stores the response of a request that took `key` with [`open`], in the
/// transaction of its effect.
pub async fn store(
    tx: &mut Conn<'_>,
    key: &IdempotencyKey,
    sealer: &Sealer,
    status: StatusCode,
    body: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO idempotency_key (scope_hash, fingerprint, status_code, body, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        crate::args![
            &key.scope_hash,
            &key.fingerprint,
            i64::from(status.as_u16()),
            key.seal(sealer, body)?,
            now.to_canonical(),
            retained_until(now)
        ],
    )
    .await?;
    Ok(())
}

/// Reserves `key` in a transaction of its own: `Ok(stored)` to replay, or
/// `Err(token)` naming the new reservation.
pub async fn reserve(
    tx: &mut Conn<'_>,
    key: &IdempotencyKey,
    sealer: &Sealer,
    now: Timestamp,
) -> Result<Result<Stored, String>, ApiError> {
    if let Some(stored) = open(tx, key, sealer, now).await? {
        return Ok(Ok(stored));
    }
    let token = Uuid::new_v4().to_string();
    let lease = chrono::Duration::from_std(RESERVATION_LEASE).unwrap_or_default();
    tx.execute(
        "INSERT INTO idempotency_key (scope_hash, fingerprint, status_code, body, created_at, expires_at, reservation) VALUES ($1, $2, 0, '', $3, $4, $5)",
        crate::args![
            &key.scope_hash,
            &key.fingerprint,
            now.to_canonical(),
            Timestamp(now.0 + lease).to_canonical(),
            &token
        ],
    )
    .await?;
    Ok(Err(token))
}

/// Stores the response of a reserved request in its effect's transaction;
/// 409 (rolling the effect back) when the reservation lapsed and another
/// request took the key over.
pub async fn complete(
    tx: &mut Conn<'_>,
    key: &IdempotencyKey,
    sealer: &Sealer,
    token: &str,
    status: StatusCode,
    body: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    let completed = tx
        .execute(
            "UPDATE idempotency_key SET status_code = $1, body = $2, expires_at = $3, reservation = NULL WHERE scope_hash = $4 AND reservation = $5",
            crate::args![
                i64::from(status.as_u16()),
                key.seal(sealer, body)?,
                retained_until(now),
                &key.scope_hash,
                token
            ],
        )
        .await?;
    match completed {
        1 => Ok(()),
        _ => Err(ApiError::IdempotencyInProgress),
    }
}

/// Frees the reservation `token` of a request that failed.
pub async fn release(tx: &mut Conn<'_>, key: &IdempotencyKey, token: &str) -> Result<(), ApiError> {
    tx.execute(
        "DELETE FROM idempotency_key WHERE scope_hash = $1 AND reservation = $2",
        crate::args![&key.scope_hash, token],
    )
    .await?;
    Ok(())
}

fn retained_until(now: Timestamp) -> String {
    Timestamp(now.0 + Duration::hours(RETENTION_HOURS)).to_canonical()
}

/// Deletes expired keys and lapsed reservations; returns how many.
pub async fn purge_expired(tx: &mut Conn<'_>, now: Timestamp) -> Result<u64, ApiError> {
    tx.execute(
        "DELETE FROM idempotency_key WHERE expires_at <= $1",
        crate::args![now.to_canonical()],
    )
    .await
}
