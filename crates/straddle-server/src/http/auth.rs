//! The authentication middleware of API routes.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::error::ApiError;
use crate::security::keys::Principal;
use crate::state::AppState;

/// Parses `Straddle-Account-Id`: a bare UUID, an `acct_` prefix tolerated.
fn parse_account_header(value: &str) -> Result<Uuid, ApiError> {
    let bare = value.trim().strip_prefix("acct_").unwrap_or(value.trim());
    Uuid::parse_str(bare)
        .map_err(|_| ApiError::invalid_field("Straddle-Account-Id", "Must be a UUID."))
}

/// Middleware for API routes: authenticates, resolves the acting account,
/// applies the rate limit, and stores the [`Principal`] for handlers.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match principal_for(&state, request.headers()).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

async fn principal_for(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    let verifier = &state.keys;
    let (key_id, authenticated) = verifier.verify(&state.db, token).await?;
    verifier
        .check_rate(&state.db, authenticated.platform_id())
        .await?;
    let acting = match headers.get("straddle-account-id") {
        None => authenticated.clone(),
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|_| ApiError::invalid_field("Straddle-Account-Id", "Must be a UUID."))?;
            let id = parse_account_header(text)?;
            if id == authenticated.id {
                authenticated.clone()
            } else {
                let forbidden = || {
                    ApiError::Forbidden(
                        "Straddle-Account-Id is not an embedded account of this platform.".into(),
                    )
                };
                let account = verifier
                    .account(&state.db, id)
                    .await?
                    .ok_or_else(forbidden)?;
                if account.parent_id != Some(authenticated.id) {
                    return Err(forbidden());
                }
                account
            }
        }
    };
    Ok(Principal {
        authenticated,
        acting,
        key_id,
    })
}
