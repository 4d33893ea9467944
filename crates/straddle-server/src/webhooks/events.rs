//! Events, emitted inside the transaction of the change they describe: a
//! committed change always has its event and its deliveries, a rolled-back
//! one never does (a transactional outbox). The event is stored, sealed,
//! only when an endpoint of the account subscribes to its type; one
//! delivery row per such endpoint is due at once.

use serde::Serialize;
use straddle_types::customer::Customer;
use straddle_types::paykey::Paykey;
use straddle_types::webhook::{Event, EventType};
use uuid::Uuid;

use super::repo;
use crate::error::ApiError;
use crate::storage::sql::Conn;
use crate::write::pipeline::WriteContext;

/// The customer fields of `customer.*.v1` events (SDK 1.0.5).
const CUSTOMER_FIELDS: &[&str] = &[
    "id",
    "address",
    "compliance_profile",
    "device",
    "name",
    "type",
    "email",
    "phone",
    "external_id",
    "status",
    "created_at",
    "updated_at",
    "metadata",
];

/// The paykey fields of `paykey.*.v1` events (SDK 1.0.5).
const PAYKEY_FIELDS: &[&str] = &[
    "id",
    "customer_id",
    "label",
    "source",
    "institution_name",
    "status",
    "status_details",
    "expires_at",
    "created_at",
    "updated_at",
    "paykey",
    "bank_data",
    "metadata",
    "balance",
];

/// Emits a customer event; `customer` is the masked customer the API returns.
pub async fn customer(
    tx: &mut Conn<'_>,
    cx: &WriteContext,
    event_type: EventType,
    account_id: Uuid,
    customer: &Customer,
) -> Result<(), ApiError> {
    emit(tx, cx, event_type, account_id, customer, CUSTOMER_FIELDS).await
}

/// Emits a paykey event; `paykey` carries the full token and masked bank data.
pub async fn paykey(
    tx: &mut Conn<'_>,
    cx: &WriteContext,
    event_type: EventType,
    account_id: Uuid,
    paykey: &Paykey,
) -> Result<(), ApiError> {
    emit(tx, cx, event_type, account_id, paykey, PAYKEY_FIELDS).await
}

async fn emit(
    tx: &mut Conn<'_>,
    cx: &WriteContext,
    event_type: EventType,
    account_id: Uuid,
    object: &impl Serialize,
    fields: &[&str],
) -> Result<(), ApiError> {
    let endpoints = repo::subscribed(tx, account_id, event_type).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let mut data = serde_json::to_value(object)?;
    if let Some(map) = data.as_object_mut() {
        map.retain(|key, _| fields.contains(&key.as_str()));
    }
    let event = Event {
        event_type,
        event_id: Uuid::now_v7(),
        account_id,
        data,
    };
    let body = serde_json::to_string(&event)?;
    repo::insert_event(tx, &cx.sealer, &event, &body, cx.now).await?;
    for endpoint in endpoints {
        repo::insert_delivery(tx, endpoint, &event, cx.now).await?;
    }
    Ok(())
}
