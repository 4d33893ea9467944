//! Bridge widget sessions: an HS256 JWT with the published claim set, and
//! the session row it names (customer, config, external id).

use std::sync::Arc;

use crate::storage::sql::Conn;
use chrono::Duration;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use straddle_types::paykey::{BridgeInitializeRequest, BridgeToken};
use straddle_types::Timestamp;
use uuid::Uuid;

use crate::error::ApiError;
use crate::paykeys::service::{effective_config, linkable_customer};
use crate::security::secrets::SigningKey;
use crate::storage::query::enum_text;
use crate::write::pipeline::{Command, WriteContext};

/// Lifetime of a bridge token.
pub const TOKEN_LIFETIME_HOURS: i64 = 4;

/// The role, authentication method and issuer every bridge token names.
const BRIDGE: &str = "straddle-bridge";

/// The claims of a bridge token.
#[derive(Debug, Serialize, Deserialize)]
pub struct BridgeClaims {
    /// Always `straddle-bridge`.
    #[serde(rename = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")]
    pub role: String,
    /// Always `straddle-bridge`.
    #[serde(
        rename = "http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationmethod"
    )]
    pub authentication_method: String,
    /// The session id.
    pub bridge_token_id: Uuid,
    /// A random id of this token.
    pub straddle_token_id: Uuid,
    /// `sandbox` or `production`.
    pub environment: String,
    /// The customer.
    pub customer_id: Uuid,
    /// The account's display name.
    pub account_name: String,
    /// The configured sandbox outcome.
    pub sandbox_outcome: String,
    /// The configured processing method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_method: Option<String>,
    /// The integrator's id for the paykey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Expiry as a decimal string (as the real service sends it).
    #[serde(rename = "http://schemas.microsoft.com/ws/2008/06/identity/claims/expiration")]
    pub expiration: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expires at (seconds).
    pub exp: i64,
    /// Always `straddle-bridge`.
    pub iss: String,
}

/// Creates a Bridge widget session and returns its signed token.
#[derive(Debug)]
pub struct InitializeBridge {
    /// The acting account.
    pub account_id: Uuid,
    /// Its display name (the token's `account_name`).
    pub account_name: String,
    /// The API key that asked; revoking it ends the session.
    pub api_key_id: Uuid,
    /// The request.
    pub request: BridgeInitializeRequest,
    /// The key bridge tokens are signed with.
    pub signing_key: Arc<SigningKey>,
}

impl Command for InitializeBridge {
    type Output = BridgeToken;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<BridgeToken, ApiError> {
        let InitializeBridge {
            account_id,
            account_name,
            api_key_id,
            request,
            signing_key,
        } = self;
        linkable_customer(tx, account_id, request.customer_id).await?;
        let now = cx.now.0;
        let expires = now + Duration::hours(TOKEN_LIFETIME_HOURS);
        let config = effective_config(request.config);
        let bridge_token_id = Uuid::now_v7();
        tx.execute("INSERT INTO bridge_session (bridge_token_id, account_id, customer_id, config, external_id, created_at, expires_at, api_key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", crate::args![bridge_token_id.to_string(), account_id.to_string(), request.customer_id.to_string(), serde_json::to_string(&config)?, request.external_id.clone(), Timestamp(now).to_canonical(), Timestamp(expires).to_canonical(), api_key_id.to_string()])
        .await?;
        let claims = BridgeClaims {
            role: BRIDGE.into(),
            authentication_method: BRIDGE.into(),
            bridge_token_id,
            straddle_token_id: Uuid::new_v4(),
            environment: cx.environment.as_str().into(),
            customer_id: request.customer_id,
            account_name,
            sandbox_outcome: config
                .sandbox_outcome
                .map(|o| enum_text(&o))
                .unwrap_or_default(),
            processing_method: request
                .config
                .and_then(|c| c.processing_method)
                .map(|m| enum_text(&m)),
            external_id: request.external_id,
            expiration: expires.timestamp().to_string(),
            iat: now.timestamp(),
            exp: expires.timestamp(),
            iss: BRIDGE.into(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(signing_key.expose()),
        )
        .map_err(|e| ApiError::Internal(format!("signing a bridge token: {e}")))?;
        Ok(BridgeToken {
            bridge_token: token,
        })
    }
}

/// The claims of a bridge token signed with `key`, or `None` when it is
/// malformed, forged or not a bridge token. Expiry is left to the caller,
/// whose clock decides.
pub fn decode(key: &SigningKey, token: &str) -> Option<BridgeClaims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.set_issuer(&[BRIDGE]);
    let claims = jsonwebtoken::decode::<BridgeClaims>(
        token,
        &DecodingKey::from_secret(key.expose()),
        &validation,
    )
    .ok()?
    .claims;
    (claims.role == BRIDGE && claims.authentication_method == BRIDGE).then_some(claims)
}
