//! Platform and embedded accounts, and their API keys. API keys are HS256
//! JWTs naming their account, environment and key id; only the key id and a
//! SHA-256 hash of the key are stored.

use std::fmt;

use crate::sql::Conn;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Environment;
use crate::error::ApiError;

/// An account: a platform, or an embedded account of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Account id.
    pub id: Uuid,
    /// The platform that owns this embedded account, if any.
    pub parent_id: Option<Uuid>,
    /// Display name (the bridge token's `account_name`).
    pub name: String,
    /// Which environment its keys work in.
    pub environment: Environment,
    /// Whether the account may call the `unmasked` endpoints.
    pub allow_unmask: bool,
}

impl Account {
    /// The platform whose rate limit this account's calls count toward.
    pub fn platform_id(&self) -> Uuid {
        self.parent_id.unwrap_or(self.id)
    }
}

/// An API key as shown once to its owner. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(pub String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// The claims inside an API key.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiKeyClaims {
    /// Always `straddle`.
    pub iss: String,
    /// The account id.
    pub sub: Uuid,
    /// The key id (for revocation).
    pub kid: Uuid,
    /// `sandbox` or `production`.
    pub env: String,
    /// Issued at (seconds).
    pub iat: i64,
}

/// SHA-256 of a key, hex.
pub fn key_hash(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates an account.
pub async fn create_account(
    conn: &mut Conn<'_>,
    name: &str,
    parent_id: Option<Uuid>,
    environment: Environment,
    allow_unmask: bool,
    now: &str,
) -> Result<Account, ApiError> {
    if let Some(parent) = parent_id {
        let parent_account = find_account(conn, parent)
            .await?
            .ok_or_else(|| ApiError::not_found("account", "parent", parent))?;
        if parent_account.parent_id.is_some() {
            return Err(ApiError::unprocessable(
                "parent",
                "An embedded account cannot have embedded accounts.",
            ));
        }
    }
    let account = Account {
        id: Uuid::now_v7(),
        parent_id,
        name: name.to_string(),
        environment,
        allow_unmask,
    };
    conn.execute("INSERT INTO account (account_id, parent_id, name, environment, allow_unmask, created_at) VALUES ($1, $2, $3, $4, $5, $6)", crate::args![account.id.to_string(), parent_id.map(|p| p.to_string()), name, environment.as_str(), i64::from(allow_unmask), now])
    .await?;
    Ok(account)
}

/// Loads an account by id.
pub async fn find_account(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<Account>, ApiError> {
    let row = conn.fetch_optional("SELECT account_id, parent_id, name, environment, allow_unmask FROM account WHERE account_id = $1", crate::args![id.to_string()])
        .await?;
    row.map(|row| {
        let parse = |s: String| Uuid::parse_str(&s).map_err(|e| ApiError::Internal(e.to_string()));
        Ok(Account {
            id: parse(row.text("account_id")?)?,
            parent_id: row.opt_text("parent_id")?.map(parse).transpose()?,
            name: row.text("name")?,
            environment: Environment::parse(&row.text("environment")?)
                .ok_or_else(|| ApiError::Internal("bad environment in account row".into()))?,
            allow_unmask: row.int("allow_unmask")? != 0,
        })
    })
    .transpose()
}

/// Number of accounts (to detect an empty database).
pub async fn count_accounts(conn: &mut Conn<'_>) -> Result<i64, ApiError> {
    conn.fetch_one("SELECT COUNT(*) AS n FROM account", vec![])
        .await?
        .int("n")
}

/// Mints and stores a new API key for `account`.
pub async fn create_key(
    conn: &mut Conn<'_>,
    signing_key: &[u8],
    account: &Account,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Uuid, ApiKey), ApiError> {
    let key_id = Uuid::now_v7();
    let claims = ApiKeyClaims {
        iss: "straddle".into(),
        sub: account.id,
        kid: key_id,
        env: account.environment.as_str().into(),
        iat: now.timestamp(),
    };
    let key = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(signing_key),
    )
    .map_err(|e| ApiError::Internal(format!("signing an API key: {e}")))?;
    conn.execute(
        "INSERT INTO api_key (key_id, account_id, key_hash, created_at) VALUES ($1, $2, $3, $4)",
        crate::args![
            key_id.to_string(),
            account.id.to_string(),
            key_hash(&key),
            straddle_types::Timestamp(now).to_canonical()
        ],
    )
    .await?;
    Ok((key_id, ApiKey(key)))
}

/// Revokes a key; returns whether it existed.
pub async fn revoke_key(conn: &mut Conn<'_>, key_id: Uuid, now: &str) -> Result<bool, ApiError> {
    let result = conn
        .execute(
            "UPDATE api_key SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL",
            crate::args![now, key_id.to_string()],
        )
        .await?;
    if result == 1 {
        return Ok(true);
    }
    let exists = conn
        .fetch_optional(
            "SELECT key_id FROM api_key WHERE key_id = $1",
            crate::args![key_id.to_string()],
        )
        .await?;
    Ok(exists.is_some())
}
