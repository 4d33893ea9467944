//! HTTP handlers for `/v1/customers`: extract, then read, or run one write
//! command through the pipeline.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use straddle_types::customer::{
    Customer, CustomerCreateRequest, CustomerListQuery, CustomerReview,
    CustomerReviewDecisionRequest, CustomerStatus, CustomerSummary, CustomerType,
    CustomerUpdateRequest,
};
use straddle_types::{ArrayResponse, ErrorResponse, ObjectResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{repo, service, to_summary, to_wire, validate_create, validate_update};
use crate::error::ApiError;
use crate::http::extract::{JsonBody, OptionalBody, PathId, QueryParams};
use crate::http::paging::{parse_list, Paging};
use crate::http::Caller;
use crate::state::AppState;

/// The customer routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, update, delete))
        .routes(routes!(unmasked))
        .routes(routes!(review, decide_review))
        .routes(routes!(refresh_review))
}

/// Create a customer.
#[utoipa::path(post, path = "/v1/customers", operation_id = "customers.create", tag = "customers", request_body = CustomerCreateRequest,
    responses((status = 201, body = ObjectResponse<Customer>)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<CustomerCreateRequest>,
) -> Result<Response, ApiError> {
    validate_create(&body.value)?;
    let request = body.value;
    let command = service::CreateCustomer {
        account_id: caller.account_id(),
        request,
    };
    caller
        .execute(&state, &body.raw, StatusCode::CREATED, command)
        .await
}

/// Replace a customer's details.
#[utoipa::path(put, path = "/v1/customers/{id}", operation_id = "customers.update", tag = "customers", request_body = CustomerUpdateRequest,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Customer>)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    body: JsonBody<CustomerUpdateRequest>,
) -> Result<Response, ApiError> {
    validate_update(&body.value)?;
    let request = body.value;
    let command = service::UpdateCustomer {
        account_id: caller.account_id(),
        id,
        request,
    };
    caller
        .execute(&state, &body.raw, StatusCode::OK, command)
        .await
}

/// Delete a customer permanently.
#[utoipa::path(delete, path = "/v1/customers/{id}", operation_id = "customers.delete", tag = "customers", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Customer>)))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    OptionalBody(raw): OptionalBody,
) -> Result<Response, ApiError> {
    let command = service::DeleteCustomer {
        account_id: caller.account_id(),
        id,
    };
    caller.execute(&state, &raw, StatusCode::OK, command).await
}

/// Get a customer (PII masked).
#[utoipa::path(get, path = "/v1/customers/{id}", operation_id = "customers.retrieve", tag = "customers", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Customer>)))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let mut reader = state.db.reader().await?;
    let record = repo::get(&mut reader.conn(), &state.sealer, caller.account_id(), id).await?;
    caller.object(StatusCode::OK, to_wire(&record, false))
}

/// Get a customer with PII in the clear (accounts allowed to unmask only).
#[utoipa::path(get, path = "/v1/customers/{id}/unmasked", operation_id = "customers.list_unmasked", tag = "customers", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Customer>)))]
async fn unmasked(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    caller.require_unmask()?;
    let mut reader = state.db.reader().await?;
    let record = repo::get(&mut reader.conn(), &state.sealer, caller.account_id(), id).await?;
    caller.object(StatusCode::OK, to_wire(&record, true))
}

/// List customers.
#[utoipa::path(get, path = "/v1/customers", operation_id = "customers.list", tag = "customers", params(CustomerListQuery),
    responses((status = 200, body = ArrayResponse<CustomerSummary>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<CustomerListQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page_number, query.page_size)?;
    let statuses: Vec<CustomerStatus> = parse_list("status", query.status.as_deref())?;
    let types: Vec<CustomerType> = parse_list("types", query.types.as_deref())?;
    let mut reader = state.db.reader().await?;
    let (records, total) = repo::list(
        &mut reader.conn(),
        &state.sealer,
        caller.account_id(),
        &query,
        &statuses,
        &types,
        paging.page(&state.db),
    )
    .await?;
    let sort_by = crate::storage::query::enum_text(&query.sort_by.unwrap_or_default());
    let items = records.iter().map(to_summary).collect();
    caller.array(
        paging,
        total,
        sort_by,
        query.sort_order.unwrap_or_default(),
        items,
    )
}

/// Get a customer's identity verification result.
#[utoipa::path(get, path = "/v1/customers/{id}/review", operation_id = "customers.review.list", tag = "customers", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<CustomerReview>)))]
async fn review(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let mut reader = state.db.reader().await?;
    let record = repo::get(&mut reader.conn(), &state.sealer, caller.account_id(), id).await?;
    caller.object(StatusCode::OK, service::review_of(&record))
}

/// Decide a customer in manual review.
#[utoipa::path(patch, path = "/v1/customers/{id}/review", operation_id = "customers.review.set_verification_decision", tag = "customers",
    request_body = CustomerReviewDecisionRequest, params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Customer>), (status = 422, body = ErrorResponse)))]
async fn decide_review(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    body: JsonBody<CustomerReviewDecisionRequest>,
) -> Result<Response, ApiError> {
    let decision = body.value.status;
    let command = service::DecideCustomerReview {
        account_id: caller.account_id(),
        id,
        decision,
    };
    caller
        .execute(&state, &body.raw, StatusCode::OK, command)
        .await
}

/// Run identity verification again.
#[utoipa::path(put, path = "/v1/customers/{id}/refresh_review", operation_id = "customers.refresh_review", tag = "customers", params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = ObjectResponse<Customer>), (status = 422, body = ErrorResponse)))]
async fn refresh_review(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    OptionalBody(raw): OptionalBody,
) -> Result<Response, ApiError> {
    let command = service::RefreshCustomerReview {
        account_id: caller.account_id(),
        id,
    };
    caller
        .execute(&state, &raw, StatusCode::ACCEPTED, command)
        .await
}
