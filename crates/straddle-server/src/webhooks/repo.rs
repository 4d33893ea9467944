//! SQL of webhook endpoints, events, deliveries and attempts. Secrets and
//! event bodies are sealed at rest.

use straddle_types::webhook::{
    DeliveryStatus, Event, EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint,
    WebhookSecret,
};
use straddle_types::Timestamp;
use uuid::Uuid;

use crate::error::ApiError;
use crate::security::crypto::Sealer;
use crate::storage::query::{parse_enum, parse_time, parse_uuid, Filter, Page};
use crate::storage::sql::{Conn, Row};

/// An endpoint as stored, secrets opened.
#[derive(Clone, Debug)]
pub struct EndpointRecord {
    /// Id.
    pub id: Uuid,
    /// Owning account.
    pub account_id: Uuid,
    /// Target URL.
    pub url: String,
    /// Subscribed types; `None` for all.
    pub events: Option<Vec<EventType>>,
    /// Free text.
    pub description: Option<String>,
    /// Gets nothing while set.
    pub disabled: bool,
    /// The current secret.
    pub secret: WebhookSecret,
    /// The secret before the last rotation and until when it still signs.
    pub previous: Option<(WebhookSecret, Timestamp)>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl EndpointRecord {
    /// The wire form (secret included: only the owning account reads it).
    pub fn to_wire(&self) -> WebhookEndpoint {
        WebhookEndpoint {
            id: self.id,
            url: self.url.clone(),
            events: self.events.clone(),
            description: self.description.clone(),
            disabled: self.disabled,
            secret: self.secret.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// The secrets that sign a request sent at `now`.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<WebhookSecret> {
        let mut secrets = vec![self.secret.clone()];
        if let Some((previous, until)) = &self.previous {
            if *until > now {
                secrets.push(previous.clone());
            }
        }
        secrets
    }
}

const COLUMNS: &str = "endpoint_id, account_id, url, events, description, disabled, sealed_secret, sealed_previous_secret, previous_secret_expires_at, created_at, updated_at";

fn context(id: Uuid) -> String {
    format!("webhook_endpoint:{id}")
}

fn previous_context(id: Uuid) -> String {
    format!("webhook_endpoint:{id}:previous")
}

fn events_text(events: &Option<Vec<EventType>>) -> Result<Option<String>, ApiError> {
    Ok(events.as_ref().map(serde_json::to_string).transpose()?)
}

/// Stores a new endpoint.
pub async fn insert(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    record: &EndpointRecord,
) -> Result<(), ApiError> {
    let sql = format!("INSERT INTO webhook_endpoint ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, $9)");
    conn.execute(
        &sql,
        crate::args![
            record.id.to_string(),
            record.account_id.to_string(),
            &record.url,
            events_text(&record.events)?,
            record.description.clone(),
            i64::from(record.disabled),
            sealer.seal(record.secret.0.as_bytes(), &context(record.id))?,
            record.created_at.to_canonical(),
            record.updated_at.to_canonical(),
        ],
    )
    .await?;
    Ok(())
}

/// Saves an endpoint's settings and secrets. A re-enabled endpoint starts
/// its failure period afresh.
pub async fn save(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    record: &EndpointRecord,
) -> Result<(), ApiError> {
    let (previous, until) = match &record.previous {
        Some((secret, until)) => (
            Some(sealer.seal(secret.0.as_bytes(), &previous_context(record.id))?),
            Some(until.to_canonical()),
        ),
        None => (None, None),
    };
    conn.execute(
        "UPDATE webhook_endpoint SET url = $1, events = $2, description = $3, disabled = $4, sealed_secret = $5, sealed_previous_secret = $6, previous_secret_expires_at = $7, updated_at = $8, failing_since = CASE WHEN $4 = 0 THEN NULL ELSE failing_since END WHERE endpoint_id = $9",
        crate::args![
            &record.url,
            events_text(&record.events)?,
            record.description.clone(),
            i64::from(record.disabled),
            sealer.seal(record.secret.0.as_bytes(), &context(record.id))?,
            previous,
            until,
            record.updated_at.to_canonical(),
            record.id.to_string(),
        ],
    )
    .await?;
    Ok(())
}

/// An endpoint of `account_id`, or 404.
pub async fn get(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    account_id: Uuid,
    id: Uuid,
) -> Result<EndpointRecord, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_endpoint WHERE endpoint_id = $1 AND account_id = $2"
    );
    let row = conn
        .fetch_optional(&sql, crate::args![id.to_string(), account_id.to_string()])
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint", "id", id))?;
    from_row(&row, sealer)
}

/// An endpoint by id in any account (delivery).
pub async fn get_any(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    id: &str,
) -> Result<Option<EndpointRecord>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_endpoint WHERE endpoint_id = $1");
    let row = conn.fetch_optional(&sql, crate::args![id]).await?;
    row.map(|row| from_row(&row, sealer)).transpose()
}

/// Deletes an endpoint with its deliveries and attempts.
pub async fn delete(conn: &mut Conn<'_>, id: Uuid) -> Result<(), ApiError> {
    for table in ["webhook_attempt", "webhook_delivery", "webhook_endpoint"] {
        let sql = format!("DELETE FROM {table} WHERE endpoint_id = $1");
        conn.execute(&sql, crate::args![id.to_string()]).await?;
    }
    Ok(())
}

/// One page of an account's endpoints, oldest first, and the total.
pub async fn list(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    account_id: Uuid,
    page: Page<'_>,
) -> Result<(Vec<EndpointRecord>, u64), ApiError> {
    let (rows, total) = Filter::new("account_id", account_id.to_string())
        .page(
            conn,
            "webhook_endpoint",
            COLUMNS,
            "created_at, endpoint_id",
            page,
        )
        .await?;
    let records = rows
        .iter()
        .map(|row| from_row(row, sealer))
        .collect::<Result<_, _>>()?;
    Ok((records, total))
}

/// The enabled endpoints of `account_id` subscribed to `event_type`.
pub async fn subscribed(
    conn: &mut Conn<'_>,
    account_id: Uuid,
    event_type: EventType,
) -> Result<Vec<Uuid>, ApiError> {
    let rows = conn
        .fetch_all(
            "SELECT endpoint_id, events FROM webhook_endpoint WHERE account_id = $1 AND disabled = 0",
            crate::args![account_id.to_string()],
        )
        .await?;
    let mut endpoints = Vec::new();
    for row in rows {
        let events: Option<Vec<EventType>> = row
            .opt_text("events")?
            .map(|text| serde_json::from_str(&text))
            .transpose()?;
        if events.is_none_or(|events| events.contains(&event_type)) {
            endpoints.push(parse_uuid(&row.text("endpoint_id")?)?);
        }
    }
    Ok(endpoints)
}

/// Stores an event's body, sealed.
pub async fn insert_event(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    event: &Event,
    body: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    let id = event.event_id.to_string();
    conn.execute(
        "INSERT INTO event (event_id, account_id, event_type, sealed_body, created_at) VALUES ($1, $2, $3, $4, $5)",
        crate::args![
            &id,
            event.account_id.to_string(),
            event.event_type.as_str(),
            sealer.seal(body.as_bytes(), &format!("event:{id}"))?,
            now.to_canonical(),
        ],
    )
    .await?;
    Ok(())
}

/// An event's body as it is sent.
pub async fn event_body(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    event_id: &str,
) -> Result<Option<String>, ApiError> {
    let row = conn
        .fetch_optional(
            "SELECT sealed_body FROM event WHERE event_id = $1",
            crate::args![event_id],
        )
        .await?;
    row.map(|row| {
        let body = sealer.open(&row.text("sealed_body")?, &format!("event:{event_id}"))?;
        String::from_utf8(body).map_err(|_| ApiError::Internal("event body is not UTF-8".into()))
    })
    .transpose()
}

/// Schedules an event's first delivery to an endpoint, due now.
pub async fn insert_delivery(
    conn: &mut Conn<'_>,
    endpoint_id: Uuid,
    event: &Event,
    now: Timestamp,
) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO webhook_delivery (endpoint_id, event_id, event_type, status, attempts, due_at, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4)",
        crate::args![
            endpoint_id.to_string(),
            event.event_id.to_string(),
            event.event_type.as_str(),
            now.to_canonical(),
        ],
    )
    .await?;
    Ok(())
}

/// An event's delivery to an endpoint.
pub async fn delivery(
    conn: &mut Conn<'_>,
    endpoint_id: Uuid,
    event_id: Uuid,
) -> Result<Option<WebhookDelivery>, ApiError> {
    let row = conn
        .fetch_optional(
            "SELECT event_id, event_type, status, attempts, due_at FROM webhook_delivery WHERE endpoint_id = $1 AND event_id = $2",
            crate::args![endpoint_id.to_string(), event_id.to_string()],
        )
        .await?;
    row.map(|row| {
        Ok(WebhookDelivery {
            event_id: parse_uuid(&row.text("event_id")?)?,
            event_type: parse_event_type(&row.text("event_type")?)?,
            status: parse_enum::<DeliveryStatus>(&row.text("status")?)?,
            attempts: u32::try_from(row.int("attempts")?).unwrap_or(u32::MAX),
            next_attempt_at: row
                .opt_text("due_at")?
                .map(|t| parse_time(&t))
                .transpose()?,
        })
    })
    .transpose()
}

/// Makes a delivery due at `now` again, whatever its state.
pub async fn reschedule(
    conn: &mut Conn<'_>,
    endpoint_id: Uuid,
    event_id: Uuid,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let changed = conn
        .execute(
            "UPDATE webhook_delivery SET status = 'pending', due_at = $1, claimed_by = NULL, lease_expires_at = NULL WHERE endpoint_id = $2 AND event_id = $3",
            crate::args![now.to_canonical(), endpoint_id.to_string(), event_id.to_string()],
        )
        .await?;
    Ok(changed == 1)
}

/// One page of an endpoint's attempts, newest first, and the total.
pub async fn attempts(
    conn: &mut Conn<'_>,
    endpoint_id: Uuid,
    page: Page<'_>,
) -> Result<(Vec<WebhookAttempt>, u64), ApiError> {
    let (rows, total) = Filter::new("endpoint_id", endpoint_id.to_string())
        .page(
            conn,
            "webhook_attempt",
            "event_id, event_type, status_code, error, duration_ms, attempted_at",
            "attempted_at DESC, attempt_id DESC",
            page,
        )
        .await?;
    let attempts = rows
        .iter()
        .map(|row| {
            let status_code = row
                .opt_int("status_code")?
                .and_then(|c| u16::try_from(c).ok());
            Ok(WebhookAttempt {
                event_id: parse_uuid(&row.text("event_id")?)?,
                event_type: parse_event_type(&row.text("event_type")?)?,
                status_code,
                error: row.opt_text("error")?,
                succeeded: status_code.is_some_and(|c| (200..300).contains(&c)),
                duration_ms: u64::try_from(row.int("duration_ms")?).unwrap_or(0),
                attempted_at: parse_time(&row.text("attempted_at")?)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok((attempts, total))
}

fn parse_event_type(text: &str) -> Result<EventType, ApiError> {
    EventType::parse(text)
        .ok_or_else(|| ApiError::Internal(format!("unknown stored event type {text}")))
}

fn from_row(row: &Row, sealer: &Sealer) -> Result<EndpointRecord, ApiError> {
    let id = parse_uuid(&row.text("endpoint_id")?)?;
    let open = |sealed: &str, context: &str| -> Result<WebhookSecret, ApiError> {
        let bytes = sealer.open(sealed, context)?;
        String::from_utf8(bytes)
            .map(WebhookSecret)
            .map_err(|_| ApiError::Internal("stored webhook secret is not UTF-8".into()))
    };
    let previous = match (
        row.opt_text("sealed_previous_secret")?,
        row.opt_text("previous_secret_expires_at")?,
    ) {
        (Some(sealed), Some(until)) => {
            Some((open(&sealed, &previous_context(id))?, parse_time(&until)?))
        }
        _ => None,
    };
    Ok(EndpointRecord {
        id,
        account_id: parse_uuid(&row.text("account_id")?)?,
        url: row.text("url")?,
        events: row
            .opt_text("events")?
            .map(|text| serde_json::from_str(&text))
            .transpose()?,
        description: row.opt_text("description")?,
        disabled: row.int("disabled")? != 0,
        secret: open(&row.text("sealed_secret")?, &context(id))?,
        previous,
        created_at: parse_time(&row.text("created_at")?)?,
        updated_at: parse_time(&row.text("updated_at")?)?,
    })
}
