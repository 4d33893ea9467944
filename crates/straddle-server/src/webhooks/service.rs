//! Webhook endpoint write commands. URLs are checked (and in production
//! resolved) by the handler before a command runs, outside any transaction.

use straddle_types::webhook::{
    WebhookDelivery, WebhookEndpoint, WebhookEndpointCreateRequest, WebhookEndpointUpdateRequest,
};
use straddle_types::Timestamp;
use uuid::Uuid;

use super::repo::{self, EndpointRecord};
use super::signing;
use crate::error::{item, ApiError};
use crate::storage::sql::Conn;
use crate::write::pipeline::{Command, WriteContext};

/// How long the secret before a rotation keeps signing.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// Longest description.
const MAX_DESCRIPTION: usize = 500;

/// Checks what a create or update request sets besides the URL.
pub fn validate(
    events: Option<&Vec<straddle_types::webhook::EventType>>,
    description: Option<&String>,
) -> Result<(), ApiError> {
    let mut items = vec![];
    if events.is_some_and(Vec::is_empty) {
        items.push(item(
            "events",
            "Name at least one event type, or leave the field out for all.",
        ));
    }
    if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        items.push(item(
            "description",
            format!("Must be at most {MAX_DESCRIPTION} characters."),
        ));
    }
    if items.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation { items })
    }
}

/// Creates an endpoint with a new secret.
#[derive(Debug)]
pub struct CreateEndpoint {
    /// The acting account.
    pub account_id: Uuid,
    /// The checked request.
    pub request: WebhookEndpointCreateRequest,
}

impl Command for CreateEndpoint {
    type Output = WebhookEndpoint;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<WebhookEndpoint, ApiError> {
        let mut events = self.request.events;
        if let Some(events) = events.as_mut() {
            events.dedup();
        }
        let record = EndpointRecord {
            id: Uuid::now_v7(),
            account_id: self.account_id,
            url: self.request.url,
            events,
            description: self.request.description,
            disabled: false,
            secret: signing::new_secret(),
            previous: None,
            created_at: cx.now,
            updated_at: cx.now,
        };
        repo::insert(tx, &cx.sealer, &record).await?;
        Ok(record.to_wire())
    }
}

/// Changes the fields an update request names.
#[derive(Debug)]
pub struct UpdateEndpoint {
    /// The acting account.
    pub account_id: Uuid,
    /// The endpoint.
    pub id: Uuid,
    /// The checked request.
    pub request: WebhookEndpointUpdateRequest,
}

impl Command for UpdateEndpoint {
    type Output = WebhookEndpoint;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<WebhookEndpoint, ApiError> {
        let mut record = repo::get(tx, &cx.sealer, self.account_id, self.id).await?;
        let request = self.request;
        if let Some(url) = request.url {
            record.url = url;
        }
        if let Some(events) = request.events {
            record.events = Some(events);
        }
        if let Some(description) = request.description {
            record.description = Some(description);
        }
        if let Some(disabled) = request.disabled {
            record.disabled = disabled;
        }
        record.updated_at = cx.now;
        repo::save(tx, &cx.sealer, &record).await?;
        Ok(record.to_wire())
    }
}

/// Deletes an endpoint and its delivery history; answers with it as it was.
#[derive(Debug)]
pub struct DeleteEndpoint {
    /// The acting account.
    pub account_id: Uuid,
    /// The endpoint.
    pub id: Uuid,
}

impl Command for DeleteEndpoint {
    type Output = WebhookEndpoint;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<WebhookEndpoint, ApiError> {
        let record = repo::get(tx, &cx.sealer, self.account_id, self.id).await?;
        repo::delete(tx, self.id).await?;
        Ok(record.to_wire())
    }
}

/// Replaces the secret; the old one signs alongside for [`ROTATION_OVERLAP`].
#[derive(Debug)]
pub struct RotateSecret {
    /// The acting account.
    pub account_id: Uuid,
    /// The endpoint.
    pub id: Uuid,
}

impl Command for RotateSecret {
    type Output = WebhookEndpoint;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<WebhookEndpoint, ApiError> {
        let mut record = repo::get(tx, &cx.sealer, self.account_id, self.id).await?;
        let previous = std::mem::replace(&mut record.secret, signing::new_secret());
        record.previous = Some((previous, Timestamp(cx.now.0 + ROTATION_OVERLAP)));
        record.updated_at = cx.now;
        repo::save(tx, &cx.sealer, &record).await?;
        Ok(record.to_wire())
    }
}

/// Sends an event to an endpoint again, at once.
#[derive(Debug)]
pub struct RetryDelivery {
    /// The acting account.
    pub account_id: Uuid,
    /// The endpoint.
    pub id: Uuid,
    /// The event.
    pub event_id: Uuid,
}

impl Command for RetryDelivery {
    type Output = WebhookDelivery;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<WebhookDelivery, ApiError> {
        let endpoint = repo::get(tx, &cx.sealer, self.account_id, self.id).await?;
        if endpoint.disabled {
            return Err(ApiError::unprocessable(
                "id",
                "The endpoint is disabled; enable it before retrying.",
            ));
        }
        if !repo::reschedule(tx, self.id, self.event_id, cx.now).await? {
            return Err(ApiError::not_found("delivery", "event_id", self.event_id));
        }
        repo::delivery(tx, self.id, self.event_id)
            .await?
            .ok_or_else(|| ApiError::Internal("rescheduled delivery vanished".into()))
    }
}
