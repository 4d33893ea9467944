//! `Idempotency-Key` for every mutating endpoint, as one mechanism. The key
//! row is inserted in the same transaction as the request's effect and
//! updated with its response before commit, so either both exist or neither
//! does. A retry with the same key and request replays the stored response;
//! the same key with a different request is 409. Keys live 24 hours.

use crate::sql::Conn;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use chrono::Duration;
use serde::Serialize;
use sha2::{Digest, Sha256};
use straddle_types::{ObjectResponse, ResponseMetadata, ResponseType, Timestamp};

use crate::accounts::hex;
use crate::app::AppState;
use crate::auth::Principal;
use crate::context::{json_response, RequestContext};
use crate::db::WriteFn;
use crate::error::{item, ApiError};

/// How long a key is remembered.
pub const RETENTION_HOURS: i64 = 24;

/// What identifies one mutating request for idempotency.
#[derive(Clone, Debug)]
pub struct Mutation {
    scope_hash: Option<String>,
    fingerprint: String,
}

impl Mutation {
    /// Checks the `Idempotency-Key` header value, if sent (10–40 characters).
    pub fn new(
        idempotency_key: Option<&HeaderValue>,
        principal: &Principal,
        environment: &str,
        method: &Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Mutation, ApiError> {
        let Some(value) = idempotency_key else {
            return Ok(Mutation {
                scope_hash: None,
                fingerprint: String::new(),
            });
        };
        let fingerprint = sha256(&[method.as_str(), path, &body.to_string()]);
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
        let scope = sha256(&[
            environment,
            &principal.authenticated.id.to_string(),
            &principal.acting.id.to_string(),
            key,
        ]);
        Ok(Mutation {
            scope_hash: Some(scope),
            fingerprint,
        })
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
    hex(&hasher.finalize())
}

/// What a mutation's transaction produced.
enum Done<T> {
    /// The effect's result, not stored (no Idempotency-Key).
    Fresh(T),
    /// A response stored under an Idempotency-Key (new or replayed).
    Stored(Stored),
}

/// The object envelope around `data`, as JSON text.
fn render<T: Serialize>(meta: ResponseMetadata, data: T) -> Result<String, ApiError> {
    Ok(serde_json::to_string(&ObjectResponse {
        meta,
        response_type: ResponseType::Object,
        data,
    })?)
}

/// A response kept for replay.
struct Stored {
    status: u16,
    body: String,
    replayed: bool,
}

impl AppState {
    /// Runs `work` as an idempotent mutation and answers with `status` and
    /// the object envelope around its result.
    pub async fn mutate<T: Serialize + Send + 'static>(
        &self,
        context: &RequestContext,
        mutation: Mutation,
        status: StatusCode,
        work: WriteFn<T>,
    ) -> Result<Response, ApiError> {
        let meta = context.meta();
        let now = self.clock.now();
        let created_at = Timestamp(now).to_canonical();
        let expires_at = Timestamp(now + Duration::hours(RETENTION_HOURS)).to_canonical();
        let Mutation {
            scope_hash,
            fingerprint,
        } = mutation.clone();
        let outcome = self
            .db
            .write(Box::new(move |conn: &mut Conn<'_>| {
                Box::pin(async move {
                    if let Some(scope) = &scope_hash {
                        if let Some(stored) = lookup(conn, scope, &fingerprint, &created_at).await? {
                            return Ok(Done::Stored(stored));
                        }
                        let inserted = conn
                            .insert_unique(
                                "INSERT INTO idempotency_key (scope_hash, fingerprint, status_code, body, created_at, expires_at) VALUES ($1, $2, 0, '', $3, $4)",
                                crate::args![scope, &fingerprint, &created_at, &expires_at],
                            )
                            .await?;
                        if !inserted {
                            return Err(ApiError::IdempotencyInProgress);
                        }
                    }
                    let data = work(conn).await?;
                    let Some(scope) = &scope_hash else {
                        // Nothing to store: the body is rendered after the
                        // commit, off the writer's serial path.
                        return Ok(Done::Fresh(data));
                    };
                    let body = render(meta, data)?;
                    conn.execute("UPDATE idempotency_key SET status_code = $1, body = $2 WHERE scope_hash = $3", crate::args![i64::from(status.as_u16()), &body, scope])
                        .await?;
                    Ok(Done::Stored(Stored { status: status.as_u16(), body, replayed: false }))
                })
            }))
            .await;
        let stored = match (outcome, &mutation.scope_hash) {
            // Another instance committed the same key first: replay its answer.
            (Err(ApiError::IdempotencyInProgress), Some(scope)) => {
                let mut reader = self.db.reader().await?;
                let now = Timestamp(self.clock.now()).to_canonical();
                lookup(&mut reader.conn(), scope, &mutation.fingerprint, &now)
                    .await?
                    .ok_or(ApiError::IdempotencyInProgress)?
            }
            (outcome, _) => match outcome? {
                Done::Stored(stored) => stored,
                Done::Fresh(data) => Stored {
                    status: status.as_u16(),
                    body: render(context.meta(), data)?,
                    replayed: false,
                },
            },
        };
        let mut response = json_response(
            StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK),
            stored.body,
        );
        if stored.replayed {
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        Ok(response)
    }
}

/// A stored response for `scope`, if one is live; 409 if it belongs to a
/// different request or is still being written.
async fn lookup(
    conn: &mut Conn<'_>,
    scope: &str,
    fingerprint: &str,
    now: &str,
) -> Result<Option<Stored>, ApiError> {
    conn.execute(
        "DELETE FROM idempotency_key WHERE scope_hash = $1 AND expires_at <= $2",
        crate::args![scope, now],
    )
    .await?;
    let Some(row) = conn
        .fetch_optional(
            "SELECT fingerprint, status_code, body FROM idempotency_key WHERE scope_hash = $1",
            crate::args![scope],
        )
        .await?
    else {
        return Ok(None);
    };
    if row.text("fingerprint")? != fingerprint {
        return Err(ApiError::IdempotencyMismatch);
    }
    let status: i64 = row.int("status_code")?;
    if status == 0 {
        return Err(ApiError::IdempotencyInProgress);
    }
    Ok(Some(Stored {
        status: status as u16,
        body: row.text("body")?,
        replayed: true,
    }))
}

/// Deletes expired keys; returns how many.
pub async fn purge_expired(conn: &mut Conn<'_>, now: &str) -> Result<u64, ApiError> {
    let result = conn
        .execute(
            "DELETE FROM idempotency_key WHERE expires_at <= $1",
            crate::args![now],
        )
        .await?;
    Ok(result)
}
