//! HTTP handlers for `/v1/webhook_endpoints`: extract and check, then read,
//! or run one write command through the pipeline. Embedded accounts reach
//! their own endpoints with `Straddle-Account-Id`, like every other route.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use straddle_types::webhook::{
    WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEndpointCreateRequest,
    WebhookEndpointUpdateRequest, WebhookListQuery,
};
use straddle_types::{ArrayResponse, ErrorResponse, ObjectResponse, SortOrder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::safety::Guard;
use super::{repo, service};
use crate::error::{item, ApiError};
use crate::http::extract::{JsonBody, OptionalBody, PathId, QueryParams};
use crate::http::paging::Paging;
use crate::http::Caller;
use crate::state::AppState;

/// The webhook endpoint routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, update, delete))
        .routes(routes!(rotate_secret))
        .routes(routes!(deliveries))
        .routes(routes!(retry))
}

/// Checks a URL against the server's address policy: 400 naming `url`.
async fn check_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let guard = Guard::new(state.config.environment, &state.config.webhooks.allow_hosts);
    guard
        .check(url)
        .await
        .map(|url| url.to_string())
        .map_err(|problem| ApiError::Validation {
            items: vec![item("url", problem)],
        })
}

/// Create a webhook endpoint.
#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhooks", operation_id = "webhook_endpoints_create",
    request_body = WebhookEndpointCreateRequest,
    responses((status = 201, body = ObjectResponse<WebhookEndpoint>), (status = 400, body = ErrorResponse)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<WebhookEndpointCreateRequest>,
) -> Result<Response, ApiError> {
    let mut request = body.value;
    service::validate(request.events.as_ref(), request.description.as_ref())?;
    request.url = check_url(&state, &request.url).await?;
    let command = service::CreateEndpoint {
        account_id: caller.account_id(),
        request,
    };
    caller
        .execute(&state, &body.raw, StatusCode::CREATED, command)
        .await
}

/// List webhook endpoints, oldest first.
#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhooks", operation_id = "webhook_endpoints_list",
    params(WebhookListQuery),
    responses((status = 200, body = ArrayResponse<WebhookEndpoint>), (status = 400, body = ErrorResponse)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<WebhookListQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page_number, query.page_size)?;
    let mut reader = state.db.reader().await?;
    let (records, total) = repo::list(
        &mut reader.conn(),
        &state.sealer,
        caller.account_id(),
        paging.page(&state.db),
    )
    .await?;
    let items = records.iter().map(repo::EndpointRecord::to_wire).collect();
    caller.array(paging, total, "created_at".into(), SortOrder::Asc, items)
}

/// Get a webhook endpoint, secret included.
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}", tag = "webhooks", operation_id = "webhook_endpoints_get",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ObjectResponse<WebhookEndpoint>), (status = 404, body = ErrorResponse)))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let mut reader = state.db.reader().await?;
    let record = repo::get(&mut reader.conn(), &state.sealer, caller.account_id(), id).await?;
    caller.object(StatusCode::OK, record.to_wire())
}

/// Change a webhook endpoint's URL, event types, description or `disabled`.
#[utoipa::path(patch, path = "/v1/webhook_endpoints/{id}", tag = "webhooks", operation_id = "webhook_endpoints_update",
    request_body = WebhookEndpointUpdateRequest, params(("id" = Uuid, Path)),
    responses((status = 200, body = ObjectResponse<WebhookEndpoint>), (status = 404, body = ErrorResponse)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    body: JsonBody<WebhookEndpointUpdateRequest>,
) -> Result<Response, ApiError> {
    let mut request = body.value;
    service::validate(request.events.as_ref(), request.description.as_ref())?;
    if let Some(url) = &request.url {
        request.url = Some(check_url(&state, url).await?);
    }
    let command = service::UpdateEndpoint {
        account_id: caller.account_id(),
        id,
        request,
    };
    caller
        .execute(&state, &body.raw, StatusCode::OK, command)
        .await
}

/// Delete a webhook endpoint and its delivery history.
#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", tag = "webhooks", operation_id = "webhook_endpoints_delete",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ObjectResponse<WebhookEndpoint>), (status = 404, body = ErrorResponse)))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    OptionalBody(raw): OptionalBody,
) -> Result<Response, ApiError> {
    let command = service::DeleteEndpoint {
        account_id: caller.account_id(),
        id,
    };
    caller.execute(&state, &raw, StatusCode::OK, command).await
}

/// Replace the signing secret; the old one keeps signing alongside for 24 hours.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/rotate_secret", tag = "webhooks",
    operation_id = "webhook_endpoints_rotate_secret", params(("id" = Uuid, Path)),
    responses((status = 200, body = ObjectResponse<WebhookEndpoint>), (status = 404, body = ErrorResponse)))]
async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    OptionalBody(raw): OptionalBody,
) -> Result<Response, ApiError> {
    let command = service::RotateSecret {
        account_id: caller.account_id(),
        id,
    };
    caller.execute(&state, &raw, StatusCode::OK, command).await
}

/// List a webhook endpoint's delivery attempts, newest first.
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}/deliveries", tag = "webhooks",
    operation_id = "webhook_endpoints_deliveries", params(("id" = Uuid, Path), WebhookListQuery),
    responses((status = 200, body = ArrayResponse<WebhookAttempt>), (status = 404, body = ErrorResponse)))]
async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    QueryParams(query): QueryParams<WebhookListQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page_number, query.page_size)?;
    let mut reader = state.db.reader().await?;
    let mut conn = reader.conn();
    repo::get(&mut conn, &state.sealer, caller.account_id(), id).await?;
    let (attempts, total) = repo::attempts(&mut conn, id, paging.page(&state.db)).await?;
    caller.array(
        paging,
        total,
        "attempted_at".into(),
        SortOrder::Desc,
        attempts,
    )
}

/// Send an event to a webhook endpoint again, now; 422 while the endpoint is disabled.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/deliveries/{event_id}/retry", tag = "webhooks",
    operation_id = "webhook_endpoints_retry", params(("id" = Uuid, Path), ("event_id" = Uuid, Path)),
    responses((status = 200, body = ObjectResponse<WebhookDelivery>), (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, event_id)): Path<(String, String)>,
    OptionalBody(raw): OptionalBody,
) -> Result<Response, ApiError> {
    let parse = |reference: &str, text: &str| {
        Uuid::parse_str(text).map_err(|_| ApiError::invalid_field(reference, "Must be a UUID."))
    };
    let command = service::RetryDelivery {
        account_id: caller.account_id(),
        id: parse("id", &id)?,
        event_id: parse("event_id", &event_id)?,
    };
    caller.execute(&state, &raw, StatusCode::OK, command).await
}
