//! The hosted Bridge widget (decision 17, spec §B.10): the page the
//! official host components (`@straddlecom/bridge-react`, `bridge-js`) frame
//! at the root of this origin, its embedded assets, and the widget's own
//! backend under `/widget/api/`.
//!
//! The backend is authorised by `Authorization: Bearer <bridge token>` alone
//! (never by an API key, and the token opens nothing else). Every route
//! answers in the API's envelope; a refused token is `401
//! authentication_error` whose single item is
//! `{reference: "bridge_token", detail: "invalid_token" | "expired_token" | "used_token"}`.
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `GET /widget/api/session` | — | `200` account name, environment, expiry, whether bank sign-in is offered |
//! | `GET /widget/api/institutions` | — | `200` the sandbox banks (none in production) |
//! | `POST /widget/api/open_banking/accounts` | `institution_id`, `username`, `password` | `200` the bank's accounts; `422` wrong credentials |
//! | `POST /widget/api/open_banking/paykey` | the same plus `account_id` | `201` paykey, `source: "straddle"` |
//! | `POST /widget/api/bank_account` | `routing_number`, `account_number`, `account_type` | `201` paykey, `source: "bank_account"`; `400` per field |

mod assets;
mod institutions;
mod service;
mod session;
mod types;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use straddle_types::{ObjectResponse, ResponseType};

use crate::error::ApiError;
use crate::http::context::json_response;
use crate::http::extract::JsonBody;
use crate::state::AppState;
use session::WidgetSession;
use types::{ManualEntryRequest, OpenBankingLinkRequest, SignInRequest};

/// The widget page, its assets and its backend; none of them takes an API key.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(assets::page))
        .route("/widget/assets/{file}", get(assets::asset))
        .route("/widget/api/session", get(session_info))
        .route("/widget/api/institutions", get(list_institutions))
        .route("/widget/api/open_banking/accounts", post(sign_in))
        .route("/widget/api/open_banking/paykey", post(link_open_banking))
        .route("/widget/api/bank_account", post(link_bank_account))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
}

async fn session_info(
    State(state): State<AppState>,
    session: WidgetSession,
) -> Result<Response, ApiError> {
    let view = service::describe(&state, &session);
    respond(&session, StatusCode::OK, view)
}

async fn list_institutions(
    State(state): State<AppState>,
    session: WidgetSession,
) -> Result<Response, ApiError> {
    respond(&session, StatusCode::OK, service::institutions(&state))
}

async fn sign_in(
    State(state): State<AppState>,
    session: WidgetSession,
    body: JsonBody<SignInRequest>,
) -> Result<Response, ApiError> {
    let accounts = service::sign_in(&state, &session, &body.value)?;
    respond(&session, StatusCode::OK, accounts)
}

async fn link_open_banking(
    State(state): State<AppState>,
    session: WidgetSession,
    body: JsonBody<OpenBankingLinkRequest>,
) -> Result<Response, ApiError> {
    let paykey = service::link_open_banking(&state, &session, body.value).await?;
    respond(&session, StatusCode::CREATED, paykey)
}

async fn link_bank_account(
    State(state): State<AppState>,
    session: WidgetSession,
    body: JsonBody<ManualEntryRequest>,
) -> Result<Response, ApiError> {
    let paykey = service::link_manual(&state, &session, body.value).await?;
    respond(&session, StatusCode::CREATED, paykey)
}

/// `{meta, response_type: "object", data}`: the shape the host's
/// `onSuccess` receives as `paykeyResponse`.
fn respond<T: Serialize>(
    session: &WidgetSession,
    status: StatusCode,
    data: T,
) -> Result<Response, ApiError> {
    let body = ObjectResponse {
        meta: session.context.meta(),
        response_type: ResponseType::Object,
        data,
    };
    Ok(json_response(status, serde_json::to_string(&body)?))
}
