//! Webhook endpoints, their delivery attempts, and the event types sent to
//! them (Standard Webhooks signing).

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::common::Timestamp;

/// The event types a server emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// A customer was created.
    #[serde(rename = "customer.created.v1")]
    CustomerCreated,
    /// A customer changed (status, review decision, update, delete).
    #[serde(rename = "customer.event.v1")]
    CustomerEvent,
    /// A paykey was created.
    #[serde(rename = "paykey.created.v1")]
    PaykeyCreated,
    /// A paykey changed (status, review decision, cancel, block/unblock, balance).
    #[serde(rename = "paykey.event.v1")]
    PaykeyEvent,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 4] = [
        EventType::CustomerCreated,
        EventType::CustomerEvent,
        EventType::PaykeyCreated,
        EventType::PaykeyEvent,
    ];

    /// The wire name, e.g. `paykey.event.v1`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CustomerCreated => "customer.created.v1",
            EventType::CustomerEvent => "customer.event.v1",
            EventType::PaykeyCreated => "paykey.created.v1",
            EventType::PaykeyEvent => "paykey.event.v1",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every webhook request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// What happened.
    pub event_type: EventType,
    /// Unique per event; also the `webhook-id` header, the same on every retry.
    pub event_id: Uuid,
    /// The account the object belongs to.
    pub account_id: Uuid,
    /// The customer or paykey as the API returns it (masked; a paykey's
    /// full token), with the fields the event type defines.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// The secret that signs an endpoint's requests: `whsec_` + base64.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct WebhookSecret(pub String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A URL that receives events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpoint {
    /// Unique identifier.
    pub id: Uuid,
    /// Where events are POSTed.
    pub url: String,
    /// The event types sent; all when `null`.
    pub events: Option<Vec<EventType>>,
    /// Free text.
    pub description: Option<String>,
    /// A disabled endpoint gets nothing (set by the API, or after failing for days).
    pub disabled: bool,
    /// The current signing secret.
    pub secret: WebhookSecret,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// Body of `POST /v1/webhook_endpoints`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointCreateRequest {
    /// `http` or `https` URL; production servers refuse internal addresses.
    #[schema(pattern = "^https?://[A-Za-z0-9]")]
    pub url: String,
    /// Event types to send; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub events: Option<Vec<EventType>>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// Body of `PATCH /v1/webhook_endpoints/{id}`: only the fields present change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointUpdateRequest {
    /// New URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^https?://[A-Za-z0-9]")]
    pub url: Option<String>,
    /// New event types (`[]` is refused; omit the field to keep them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub events: Option<Vec<EventType>>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Disable or re-enable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// Query of the paged webhook lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookListQuery {
    /// Page, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 2147483647)]
    pub page_number: Option<u32>,
    /// Items per page, 1–1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
}

/// One delivery attempt of an event to an endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookAttempt {
    /// The event (`webhook-id`).
    pub event_id: Uuid,
    /// Its type.
    pub event_type: EventType,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed without a status (timeout, connection refused…).
    pub error: Option<String>,
    /// Whether the endpoint accepted it (2xx).
    pub succeeded: bool,
    /// How long the attempt took.
    pub duration_ms: u64,
    /// When it was made.
    pub attempted_at: Timestamp,
}

/// The state of an event's delivery to one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint accepted it.
    Succeeded,
    /// Every attempt failed, or the endpoint is disabled.
    Failed,
}

/// An event's delivery to one endpoint (the answer of a retry).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookDelivery {
    /// The event.
    pub event_id: Uuid,
    /// Its type.
    pub event_type: EventType,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, if any.
    pub next_attempt_at: Option<Timestamp>,
}
