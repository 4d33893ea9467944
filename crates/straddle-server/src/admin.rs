//! Operator tasks that run without the HTTP server: accounts and API keys.

use chrono::Utc;
use straddle_types::Timestamp;
use uuid::Uuid;

use crate::accounts::{self, Account, ApiKey};
use crate::config::Environment;
use crate::db::Db;
use crate::error::ApiError;
use crate::secrets::Secrets;

/// A new account with its first API key.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The platform account.
    pub account: Account,
    /// Its key id.
    pub key_id: Uuid,
    /// The key, shown once.
    pub api_key: ApiKey,
}

/// Creates a platform account and an API key for it, in one transaction.
pub async fn bootstrap(
    db: &Db,
    secrets: &Secrets,
    name: &str,
    environment: Environment,
    allow_unmask: bool,
) -> Result<Bootstrapped, ApiError> {
    let signing_key = secrets.jwt_key_bytes().to_vec();
    let name = name.to_string();
    db.write(Box::new(move |conn| {
        Box::pin(async move {
            let now = Utc::now();
            let stamp = Timestamp(now).to_canonical();
            let account =
                accounts::create_account(conn, &name, None, environment, allow_unmask, &stamp)
                    .await?;
            let (key_id, api_key) = accounts::create_key(conn, &signing_key, &account, now).await?;
            Ok(Bootstrapped {
                account,
                key_id,
                api_key,
            })
        })
    }))
    .await
}

/// Creates a platform account, or an embedded account of `parent`.
pub async fn create_account(
    db: &Db,
    name: &str,
    parent: Option<Uuid>,
    environment: Environment,
    allow_unmask: bool,
) -> Result<Account, ApiError> {
    let name = name.to_string();
    db.write(Box::new(move |conn| {
        Box::pin(async move {
            let stamp = Timestamp(Utc::now()).to_canonical();
            accounts::create_account(conn, &name, parent, environment, allow_unmask, &stamp).await
        })
    }))
    .await
}

/// Issues another API key for an existing account.
pub async fn create_key(
    db: &Db,
    secrets: &Secrets,
    account_id: Uuid,
) -> Result<(Uuid, ApiKey), ApiError> {
    let signing_key = secrets.jwt_key_bytes().to_vec();
    db.write(Box::new(move |conn| {
        Box::pin(async move {
            let account = accounts::find_account(conn, account_id)
                .await?
                .ok_or_else(|| ApiError::not_found("account", "account", account_id))?;
            accounts::create_key(conn, &signing_key, &account, Utc::now()).await
        })
    }))
    .await
}

/// Revokes a key; running servers stop accepting it within their refresh interval.
pub async fn revoke_key(db: &Db, key_id: Uuid) -> Result<(), ApiError> {
    let found = db
        .write(Box::new(move |conn| {
            Box::pin(async move {
                let stamp = Timestamp(Utc::now()).to_canonical();
                accounts::revoke_key(conn, key_id, &stamp).await
            })
        }))
        .await?;
    if found {
        Ok(())
    } else {
        Err(ApiError::not_found("API key", "key_id", key_id))
    }
}

/// Whether the database has no accounts yet.
pub async fn is_empty(db: &Db) -> Result<bool, ApiError> {
    let mut reader = db.reader().await?;
    Ok(accounts::count_accounts(&mut reader.conn()).await? == 0)
}
