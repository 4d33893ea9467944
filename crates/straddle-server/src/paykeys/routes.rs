//! HTTP handlers for `/v1/paykeys` and the sandbox return simulation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use straddle_types::paykey::{
    Paykey, PaykeyCancelRequest, PaykeyListQuery, PaykeyReview, PaykeyReviewDecisionRequest,
    PaykeySource, PaykeyStatus, PaykeySummary, PaykeyUnblockRequest, SimulateReturnRequest,
};
use straddle_types::{ArrayResponse, ErrorResponse, ObjectResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{repo, service, to_summary, to_wire, Reveal};
use crate::config::Environment;
use crate::error::ApiError;
use crate::http::extract::{JsonBody, OptionalBody, PathId, QueryParams};
use crate::http::paging::{parse_list, Paging};
use crate::http::Caller;
use crate::state::AppState;

/// The paykey routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
        .routes(routes!(unmasked))
        .routes(routes!(reveal))
        .routes(routes!(cancel))
        .routes(routes!(refresh_balance))
        .routes(routes!(review, decide_review))
        .routes(routes!(refresh_review))
        .routes(routes!(unblock))
        .routes(routes!(simulate_return))
}

/// List paykeys.
#[utoipa::path(get, path = "/v1/paykeys", operation_id = "paykeys.list", tag = "paykeys", params(PaykeyListQuery),
    responses((status = 200, body = ArrayResponse<PaykeySummary>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<PaykeyListQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page_number, query.page_size)?;
    let statuses: Vec<PaykeyStatus> = parse_list("status", query.status.as_deref())?;
    let sources: Vec<PaykeySource> = parse_list("source", query.source.as_deref())?;
    let mut reader = state.db.reader().await?;
    let (records, total) = repo::list(
        &mut reader.conn(),
        &state.sealer,
        caller.account_id(),
        &query,
        &statuses,
        &sources,
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

/// Get a paykey (token and account number masked).
#[utoipa::path(get, path = "/v1/paykeys/{id}", operation_id = "paykeys.retrieve", tag = "paykeys", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Paykey>)))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let mut reader = state.db.reader().await?;
    let record = repo::get(&mut reader.conn(), &state.sealer, caller.account_id(), id).await?;
    caller.object(StatusCode::OK, to_wire(&record, Reveal::Masked))
}

/// Get a paykey with its full token and account number (accounts allowed to unmask only).
#[utoipa::path(get, path = "/v1/paykeys/{id}/unmasked", operation_id = "paykeys.list_unmasked", tag = "paykeys", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Paykey>)))]
async fn unmasked(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    caller.require_unmask()?;
    let mut reader = state.db.reader().await?;
    let record = repo::get(&mut reader.conn(), &state.sealer, caller.account_id(), id).await?;
    let mut paykey = to_wire(&record, Reveal::Everything);
    paykey.unblock_eligible = None;
    caller.object(StatusCode::OK, paykey)
}

/// Get a paykey with its full token.
#[utoipa::path(get, path = "/v1/paykeys/{id}/reveal", operation_id = "paykeys.reveal", tag = "paykeys", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Paykey>)))]
async fn reveal(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let mut reader = state.db.reader().await?;
    let record = repo::get(&mut reader.conn(), &state.sealer, caller.account_id(), id).await?;
    let mut paykey = to_wire(&record, Reveal::Token);
    paykey.unblock_eligible = None;
    caller.object(StatusCode::OK, paykey)
}

/// Cancel a paykey (it becomes `inactive`).
#[utoipa::path(put, path = "/v1/paykeys/{id}/cancel", operation_id = "paykeys.cancel", tag = "paykeys", request_body = PaykeyCancelRequest,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Paykey>), (status = 422, body = ErrorResponse)))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    body: JsonBody<PaykeyCancelRequest>,
) -> Result<Response, ApiError> {
    let reason = body.value.reason;
    let command = service::CancelPaykey {
        account_id: caller.account_id(),
        id,
        reason,
    };
    caller
        .execute(&state, &body.raw, StatusCode::OK, command)
        .await
}

/// Fetch the balance again (202; completes in the background).
#[utoipa::path(put, path = "/v1/paykeys/{id}/refresh_balance", operation_id = "paykeys.refresh_balance", tag = "paykeys", params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = ObjectResponse<Paykey>), (status = 422, body = ErrorResponse)))]
async fn refresh_balance(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    OptionalBody(raw): OptionalBody,
) -> Result<Response, ApiError> {
    let command = service::RequestBalanceRefresh {
        account_id: caller.account_id(),
        id,
    };
    caller
        .execute(&state, &raw, StatusCode::ACCEPTED, command)
        .await
}

/// Get a paykey's verification result.
#[utoipa::path(get, path = "/v1/paykeys/{id}/review", operation_id = "paykeys.review.list", tag = "paykeys", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<PaykeyReview>)))]
async fn review(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let mut reader = state.db.reader().await?;
    let record = repo::get(&mut reader.conn(), &state.sealer, caller.account_id(), id).await?;
    let review = PaykeyReview {
        paykey_details: to_wire(&record, Reveal::Masked),
        verification_details: record.details.verification.clone(),
    };
    caller.object(StatusCode::OK, review)
}

/// Decide a paykey in manual review.
#[utoipa::path(patch, path = "/v1/paykeys/{id}/review", operation_id = "paykeys.review.set_verification_decision", tag = "paykeys", request_body = PaykeyReviewDecisionRequest,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Paykey>), (status = 422, body = ErrorResponse)))]
async fn decide_review(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    body: JsonBody<PaykeyReviewDecisionRequest>,
) -> Result<Response, ApiError> {
    let decision = body.value.status;
    let command = service::DecidePaykeyReview {
        account_id: caller.account_id(),
        id,
        decision,
    };
    caller
        .execute(&state, &body.raw, StatusCode::OK, command)
        .await
}

/// Run verification again (202).
#[utoipa::path(put, path = "/v1/paykeys/{id}/refresh_review", operation_id = "paykeys.refresh_review", tag = "paykeys", params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = ObjectResponse<Paykey>), (status = 422, body = ErrorResponse)))]
async fn refresh_review(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    OptionalBody(raw): OptionalBody,
) -> Result<Response, ApiError> {
    let command = service::RefreshPaykeyReview {
        account_id: caller.account_id(),
        id,
    };
    caller
        .execute(&state, &raw, StatusCode::ACCEPTED, command)
        .await
}

/// Reactivate a paykey blocked by an R29 return (once).
#[utoipa::path(patch, path = "/v1/paykeys/{id}/unblock", operation_id = "paykeys.unblock", tag = "paykeys", request_body = PaykeyUnblockRequest,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Paykey>), (status = 422, body = ErrorResponse)))]
async fn unblock(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    body: JsonBody<PaykeyUnblockRequest>,
) -> Result<Response, ApiError> {
    let message = body.value.message;
    let command = service::UnblockPaykey {
        account_id: caller.account_id(),
        id,
        message,
    };
    caller
        .execute(&state, &body.raw, StatusCode::OK, command)
        .await
}

/// Sandbox only: simulate an ACH return (`R29` and others) that blocks the paykey.
#[utoipa::path(post, path = "/v1/sandbox/paykeys/{id}/simulate_return", operation_id = "sandbox.paykeys.simulate_return", tag = "sandbox",
    request_body = SimulateReturnRequest, params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ObjectResponse<Paykey>), (status = 422, body = ErrorResponse)))]
async fn simulate_return(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    body: JsonBody<SimulateReturnRequest>,
) -> Result<Response, ApiError> {
    if state.config.environment != Environment::Sandbox {
        return Err(ApiError::NoRoute);
    }
    let code = body.value.code;
    let command = service::SimulateReturn {
        account_id: caller.account_id(),
        id,
        code,
    };
    caller
        .execute(&state, &body.raw, StatusCode::OK, command)
        .await
}
