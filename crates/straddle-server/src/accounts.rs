//! Platform and embedded accounts, and their API keys. API keys are HS256
//! JWTs naming their account, environment and key id; only the key id and a
//! SHA-256 hash of the key are stored.

use std::fmt;

use crate::storage::sql::Conn;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Environment;
use crate::error::ApiError;
use crate::write::pipeline::{Command, WriteContext};

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
#[derive(Clone, Debug, Serialize, Deserialize)]
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
    hex::encode(Sha256::digest(key.as_bytes()))
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

/// Whether the database has any account.
async fn any_account(conn: &mut Conn<'_>) -> Result<bool, ApiError> {
    Ok(conn
        .fetch_optional("SELECT account_id FROM account LIMIT 1", vec![])
        .await?
        .is_some())
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

/// The lock that serialises first-start bootstraps across instances.
const BOOTSTRAP_LOCK: i64 = 0x5354_5241_4444_4c45;

/// A new platform account with its first API key.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The platform account.
    pub account: Account,
    /// Its key id.
    pub key_id: Uuid,
    /// The key, shown once.
    pub api_key: ApiKey,
}

/// Creates a platform account and its first API key; with `only_if_empty`,
/// only when the database has no account yet (`None` otherwise).
pub struct Bootstrap {
    /// Account name.
    pub name: String,
    /// Environment its keys work in.
    pub environment: Environment,
    /// Whether it may call the unmasked endpoints.
    pub allow_unmask: bool,
    /// The API-key signing secret.
    pub signing_key: Vec<u8>,
    /// Create nothing when an account exists.
    pub only_if_empty: bool,
}

impl fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bootstrap")
            .field("name", &self.name)
            .field("only_if_empty", &self.only_if_empty)
            .finish_non_exhaustive()
    }
}

impl Command for Bootstrap {
    type Output = Option<Bootstrapped>;

    async fn run(
        self,
        tx: &mut Conn<'_>,
        cx: &WriteContext,
    ) -> Result<Option<Bootstrapped>, ApiError> {
        if self.only_if_empty {
            tx.lock(BOOTSTRAP_LOCK).await?;
            if any_account(tx).await? {
                return Ok(None);
            }
        }
        let stamp = cx.now.to_canonical();
        let account = create_account(
            tx,
            &self.name,
            None,
            self.environment,
            self.allow_unmask,
            &stamp,
        )
        .await?;
        let (key_id, api_key) = create_key(tx, &self.signing_key, &account, cx.now.0).await?;
        Ok(Some(Bootstrapped {
            account,
            key_id,
            api_key,
        }))
    }
}

/// Creates a platform account, or an embedded account of `parent_id`.
#[derive(Debug)]
pub struct CreateAccount {
    /// Account name.
    pub name: String,
    /// The platform owning an embedded account.
    pub parent_id: Option<Uuid>,
    /// Environment its keys work in.
    pub environment: Environment,
    /// Whether it may call the unmasked endpoints.
    pub allow_unmask: bool,
}

impl Command for CreateAccount {
    type Output = Account;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Account, ApiError> {
        let stamp = cx.now.to_canonical();
        create_account(
            tx,
            &self.name,
            self.parent_id,
            self.environment,
            self.allow_unmask,
            &stamp,
        )
        .await
    }
}

/// Issues another API key for an existing account.
pub struct IssueApiKey {
    /// The account the key acts as.
    pub account_id: Uuid,
    /// The API-key signing secret.
    pub signing_key: Vec<u8>,
}

impl fmt::Debug for IssueApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssueApiKey")
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl Command for IssueApiKey {
    type Output = (Uuid, ApiKey);

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<(Uuid, ApiKey), ApiError> {
        let account = find_account(tx, self.account_id)
            .await?
            .ok_or_else(|| ApiError::not_found("account", "account", self.account_id))?;
        create_key(tx, &self.signing_key, &account, cx.now.0).await
    }
}

/// Revokes an API key; `false` when there is no such key.
#[derive(Debug)]
pub struct RevokeApiKey {
    /// The key id.
    pub key_id: Uuid,
}

impl Command for RevokeApiKey {
    type Output = bool;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<bool, ApiError> {
        revoke_key(tx, self.key_id, &cx.now.to_canonical()).await
    }
}
