//! Who a widget request acts for. The bridge token is the only credential:
//! its signature, its expiry (by the server's clock) and its session row
//! (unused so far) are checked before any handler runs, after the request
//! rate of the client's address and of the token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use straddle_types::paykey::PaykeyConfig;
use uuid::Uuid;

use crate::bridge::session::{self, BridgeClaims};
use crate::error::{ApiError, TokenProblem};
use crate::http::context::RequestContext;
use crate::state::AppState;
use crate::storage::query::parse_uuid;

/// A widget request authorised by a live, unused bridge token.
#[derive(Clone, Debug)]
pub struct WidgetSession {
    /// Request id and time.
    pub context: RequestContext,
    /// The session the token names.
    pub bridge_token_id: Uuid,
    /// The account that created the session (the paykey's account).
    pub account_id: Uuid,
    /// The account's display name.
    pub account_name: String,
    /// The customer the paykey is for.
    pub customer_id: Uuid,
    /// The paykey config chosen at `initialize`.
    pub config: PaykeyConfig,
    /// The integrator's id for the paykey.
    pub external_id: Option<String>,
    /// When the token expires (seconds since the epoch).
    pub expires_at: i64,
}

impl FromRequestParts<AppState> for WidgetSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let context = parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("route is missing its middleware".into()))?;
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            state.guard.widget_address(peer.ip())?;
        }
        let token = bearer(&parts.headers).ok_or(ApiError::BridgeToken(TokenProblem::Invalid))?;
        let claims = live_claims(state, token)?;
        state.guard.widget_token(claims.bridge_token_id)?;
        let stored = load(state, claims.bridge_token_id).await?;
        if stored.customer_id != claims.customer_id {
            return Err(ApiError::BridgeToken(TokenProblem::Invalid));
        }
        Ok(WidgetSession {
            context,
            bridge_token_id: claims.bridge_token_id,
            account_id: stored.account_id,
            account_name: claims.account_name,
            customer_id: stored.customer_id,
            config: stored.config,
            external_id: stored.external_id,
            expires_at: claims.exp,
        })
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// The claims of a genuine, unexpired bridge token of this environment.
fn live_claims(state: &AppState, token: &str) -> Result<BridgeClaims, ApiError> {
    let claims = session::decode(&state.bridge_key, token)
        .or_else(|| {
            let previous = state.secrets.previous_bridge_keys(state.clock.now());
            previous.iter().find_map(|key| session::decode(key, token))
        })
        .filter(|claims| claims.environment == state.config.environment.as_str())
        .ok_or(ApiError::BridgeToken(TokenProblem::Invalid))?;
    if claims.exp <= state.clock.now().timestamp() {
        return Err(ApiError::BridgeToken(TokenProblem::Expired));
    }
    Ok(claims)
}

/// The session row as `initialize` stored it.
struct StoredSession {
    account_id: Uuid,
    customer_id: Uuid,
    config: PaykeyConfig,
    external_id: Option<String>,
}

/// Loads an unused session: unknown, or created with an API key revoked
/// since → invalid; with a paykey → used.
async fn load(state: &AppState, bridge_token_id: Uuid) -> Result<StoredSession, ApiError> {
    let row = state.db.reader().await?.conn().fetch_optional("SELECT s.account_id, s.customer_id, s.config, s.external_id, s.paykey_id, k.revoked_at FROM bridge_session s LEFT JOIN api_key k ON k.key_id = s.api_key_id WHERE s.bridge_token_id = $1", crate::args![bridge_token_id.to_string()])
    .await?
    .ok_or(ApiError::BridgeToken(TokenProblem::Invalid))?;
    if row.opt_text("revoked_at")?.is_some() {
        return Err(ApiError::BridgeToken(TokenProblem::Invalid));
    }
    if row.opt_text("paykey_id")?.is_some() {
        return Err(ApiError::BridgeToken(TokenProblem::Used));
    }
    Ok(StoredSession {
        account_id: parse_uuid(&row.text("account_id")?)?,
        customer_id: parse_uuid(&row.text("customer_id")?)?,
        config: serde_json::from_str(&row.text("config")?)?,
        external_id: row.opt_text("external_id")?,
    })
}

/// Marks the session used by `paykey_id`, inside the transaction that
/// created the paykey. A session that already has one refuses, so two
/// concurrent links cannot both commit.
pub async fn claim(
    conn: &mut crate::storage::sql::Conn<'_>,
    bridge_token_id: Uuid,
    paykey_id: Uuid,
) -> Result<(), ApiError> {
    let claimed = conn.execute("UPDATE bridge_session SET paykey_id = $1 WHERE bridge_token_id = $2 AND paykey_id IS NULL", crate::args![paykey_id.to_string(), bridge_token_id.to_string()])
    .await?
    ;
    match claimed {
        1 => Ok(()),
        _ => Err(ApiError::BridgeToken(TokenProblem::Used)),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_a_non_empty_bearer_token_is_read() {
        assert_eq!(bearer(&headers("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
