//! Authentication of API keys without a database round trip per request:
//! the HS256 signature is checked first (once per key: a key whose
//! signature checked out is remembered by its SHA-256), then the key id is
//! looked up in an in-memory cache (filled on first use, revocations
//! refreshed every few seconds). Also resolves `Straddle-Account-Id` and
//! applies the platform's rate limit.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::accounts::{find_account, key_hash, Account, ApiKeyClaims};
use crate::clock::Clock;
use crate::config::Environment;
use crate::error::ApiError;
use crate::security::rate_limit::RateLimiter;
use crate::security::secrets::Secrets;
use crate::storage::db::Db;
use crate::storage::query::parse_uuid;

/// Who is calling, and for which account.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The account the API key belongs to.
    pub authenticated: Arc<Account>,
    /// The account the request acts for (`Straddle-Account-Id`, else the key's).
    pub acting: Arc<Account>,
    /// The API key's id (bridge sessions die with the key that created them).
    pub key_id: Uuid,
}

impl Principal {
    /// The account whose data this request reads and writes.
    pub fn account_id(&self) -> Uuid {
        self.acting.id
    }
}

struct KeyEntry {
    account_id: Uuid,
    hash: String,
}

/// Verifies API keys against cached key and account records.
pub struct KeyVerifier {
    decoding_key: DecodingKey,
    /// Older signing secrets, accepted until their end (if any).
    previous: Vec<(DecodingKey, Option<DateTime<Utc>>)>,
    clock: Arc<dyn Clock>,
    validation: Validation,
    environment: Environment,
    keys: RwLock<HashMap<Uuid, Arc<KeyEntry>>>,
    /// Claims of keys whose signature checked out, by the key's SHA-256,
    /// with the end of the secret that signed them (if any).
    signed: RwLock<HashMap<String, Signed>>,
    revoked: RwLock<HashSet<Uuid>>,
    accounts: RwLock<HashMap<Uuid, Arc<Account>>>,
    limiter: RateLimiter,
}

/// A key's claims and the end of the secret that signed them (if any).
type Signed = (ApiKeyClaims, Option<DateTime<Utc>>);

/// Most verified keys remembered; the memory starts over when full.
const MAX_SIGNED_KEYS: usize = 10_000;

impl std::fmt::Debug for KeyVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyVerifier(***)")
    }
}

impl KeyVerifier {
    /// A verifier for keys signed with the current signing secret (or a
    /// previous one, until its end), valid in `environment`.
    pub fn new(
        secrets: &Secrets,
        environment: Environment,
        limiter: RateLimiter,
        clock: Arc<dyn Clock>,
    ) -> Self {
        use secrecy::ExposeSecret;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.set_issuer(&["straddle"]);
        KeyVerifier {
            decoding_key: DecodingKey::from_secret(secrets.jwt_key_bytes()),
            previous: secrets
                .previous_jwt_keys
                .iter()
                .map(|p| (DecodingKey::from_secret(p.key.expose_secret()), p.until))
                .collect(),
            clock,
            validation,
            environment,
            keys: RwLock::default(),
            signed: RwLock::default(),
            revoked: RwLock::default(),
            accounts: RwLock::default(),
            limiter,
        }
    }

    /// The key id and the account an API key authenticates, or 401.
    pub async fn verify(&self, db: &Db, api_key: &str) -> Result<(Uuid, Arc<Account>), ApiError> {
        let hash = key_hash(api_key);
        let claims = self.signed_claims(api_key, &hash)?;
        if claims.env != self.environment.as_str() {
            return Err(ApiError::Unauthorized);
        }
        if read(&self.revoked).contains(&claims.kid) {
            return Err(ApiError::Unauthorized);
        }
        let cached = read(&self.keys).get(&claims.kid).cloned();
        let entry = match cached {
            Some(entry) => entry,
            None => self
                .load_key(db, claims.kid)
                .await?
                .ok_or(ApiError::Unauthorized)?,
        };
        if !bool::from(entry.hash.as_bytes().ct_eq(hash.as_bytes()))
            || entry.account_id != claims.sub
        {
            return Err(ApiError::Unauthorized);
        }
        let account = self
            .account(db, entry.account_id)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok((claims.kid, account))
    }

    /// The claims of a key signed with the current secret, or with a
    /// previous one whose end has not passed; `hash` is the key's SHA-256.
    fn signed_claims(&self, api_key: &str, hash: &str) -> Result<ApiKeyClaims, ApiError> {
        let now = self.clock.now();
        if let Some((claims, until)) = read(&self.signed).get(hash) {
            if until.is_none_or(|until| now < until) {
                return Ok(claims.clone());
            }
        }
        let (claims, until) = self.decode(api_key, now)?;
        let mut signed = write(&self.signed);
        if signed.len() >= MAX_SIGNED_KEYS {
            signed.clear();
        }
        signed.insert(hash.to_string(), (claims.clone(), until));
        Ok(claims)
    }

    /// Checks the signature: the claims, and the end of the secret that
    /// signed them (`None` for the current one).
    fn decode(&self, api_key: &str, now: DateTime<Utc>) -> Result<Signed, ApiError> {
        let decode = |key: &DecodingKey| {
            jsonwebtoken::decode::<ApiKeyClaims>(api_key, key, &self.validation)
                .map(|data| data.claims)
        };
        if let Ok(claims) = decode(&self.decoding_key) {
            return Ok((claims, None));
        }
        self.previous
            .iter()
            .filter(|(_, until)| until.is_none_or(|until| now < until))
            .find_map(|(key, until)| decode(key).ok().map(|claims| (claims, *until)))
            .ok_or(ApiError::Unauthorized)
    }

    /// An account by id, cached.
    pub async fn account(&self, db: &Db, id: Uuid) -> Result<Option<Arc<Account>>, ApiError> {
        let cached = read(&self.accounts).get(&id).cloned();
        if cached.is_some() {
            return Ok(cached);
        }
        let mut reader = db.reader().await?;
        let Some(account) = find_account(&mut reader.conn(), id).await? else {
            return Ok(None);
        };
        let account = Arc::new(account);
        write(&self.accounts).insert(id, account.clone());
        Ok(Some(account))
    }

    async fn load_key(&self, db: &Db, key_id: Uuid) -> Result<Option<Arc<KeyEntry>>, ApiError> {
        let row = db
            .reader()
            .await?
            .conn()
            .fetch_optional(
                "SELECT account_id, key_hash, revoked_at FROM api_key WHERE key_id = $1",
                crate::args![key_id.to_string()],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        if row.opt_text("revoked_at")?.is_some() {
            write(&self.revoked).insert(key_id);
            return Ok(None);
        }
        let entry = Arc::new(KeyEntry {
            account_id: parse_uuid(&row.text("account_id")?)?,
            hash: row.text("key_hash")?,
        });
        write(&self.keys).insert(key_id, entry.clone());
        Ok(Some(entry))
    }

    /// Reloads the set of revoked key ids.
    pub async fn refresh_revocations(&self, db: &Db) -> Result<(), ApiError> {
        let rows = db
            .reader()
            .await?
            .conn()
            .fetch_all(
                "SELECT key_id FROM api_key WHERE revoked_at IS NOT NULL",
                vec![],
            )
            .await?;
        let revoked: HashSet<Uuid> = rows
            .iter()
            .filter_map(|row| row.text("key_id").ok())
            .filter_map(|id| Uuid::parse_str(&id).ok())
            .collect();
        *write(&self.revoked) = revoked;
        Ok(())
    }

    /// Keeps revocations fresh until the process ends.
    pub fn spawn_refresher(self: Arc<Self>, db: Db, every: Duration) {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                if let Err(err) = self.refresh_revocations(&db).await {
                    tracing::warn!(error = %err, "could not refresh revoked keys");
                }
            }
        });
    }

    /// Admits one request of `platform_id` under the platform's rate limit.
    pub async fn check_rate(&self, db: &Db, platform_id: Uuid) -> Result<(), ApiError> {
        self.limiter.check(db, platform_id).await
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
