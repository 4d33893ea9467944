//! Real HTTP clients for Plaid's processor endpoints and Quiltt's partner
//! endpoints (spec §E.1, §E.2).

mod plaid;
mod quiltt;

use std::fmt;
use std::time::Duration;

use crate::account::LinkedAccount;
use crate::error::{BuildError, ProviderError};

use self::plaid::PlaidClient;
use self::quiltt::QuilttClient;

/// Plaid's sandbox host.
pub const PLAID_SANDBOX_URL: &str = "https://sandbox.plaid.com";
/// Plaid's production host.
pub const PLAID_PRODUCTION_URL: &str = "https://production.plaid.com";
/// Quiltt's REST API host (sandbox and production share it).
pub const QUILTT_URL: &str = "https://api.quiltt.io";
/// Per-request timeout used when the configuration does not choose one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Credentials for Plaid's processor endpoints.
#[derive(Clone)]
pub struct PlaidConfig {
    /// Base URL, e.g. [`PLAID_SANDBOX_URL`] (no trailing path).
    pub base_url: String,
    /// The processor's Plaid `client_id`.
    pub client_id: String,
    /// The processor's Plaid `secret` (never shown by `Debug`).
    pub secret: String,
}

impl fmt::Debug for PlaidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlaidConfig")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("secret", &"***")
            .finish()
    }
}

/// Where Quiltt's API lives. Quiltt calls authenticate with the processor
/// token itself, so there is no secret to configure.
#[derive(Clone, Debug)]
pub struct QuilttConfig {
    /// Base URL, e.g. [`QUILTT_URL`].
    pub base_url: String,
}

/// Configuration of the live providers. A provider left as `None` answers
/// every call with [`ProviderError::Unavailable`].
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Plaid credentials, if Plaid tokens are accepted.
    pub plaid: Option<PlaidConfig>,
    /// Quiltt endpoint, if Quiltt tokens are accepted.
    pub quiltt: Option<QuilttConfig>,
    /// Timeout of each HTTP request (connect, send and read the answer).
    pub timeout: Duration,
}

/// Plaid and Quiltt over HTTP.
#[derive(Clone, Debug)]
pub struct LiveProvider {
    plaid: Option<PlaidClient>,
    quiltt: Option<QuilttClient>,
}

impl LiveProvider {
    /// Builds the HTTP clients; performs no request.
    pub fn new(config: LiveConfig) -> Result<Self, BuildError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(BuildError)?;
        Ok(Self {
            plaid: config.plaid.map(|c| PlaidClient::new(http.clone(), c)),
            quiltt: config.quiltt.map(|c| QuilttClient::new(http, c)),
        })
    }

    /// Account numbers, owners and balance behind a Plaid processor token.
    pub async fn plaid_account(&self, token: &str) -> Result<LinkedAccount, ProviderError> {
        self.plaid()?.account(token).await
    }

    /// Current balance in cents behind a Plaid processor token.
    pub async fn plaid_balance(&self, token: &str) -> Result<i64, ProviderError> {
        self.plaid()?.balance(token).await
    }

    /// Account numbers behind a Quiltt processor token. Quiltt gives
    /// processor-token holders no owners and no balance, so `owner_names` is
    /// empty and `balance_cents` is `None`.
    pub async fn quiltt_account(&self, token: &str) -> Result<LinkedAccount, ProviderError> {
        self.quiltt()?.account(token).await
    }

    /// Always fails: Quiltt does not report balances to processor-token
    /// holders (spec §E.2). A malformed token is still [`ProviderError::Refused`].
    pub async fn quiltt_balance(&self, token: &str) -> Result<i64, ProviderError> {
        self.quiltt()?.balance(token)
    }

    fn plaid(&self) -> Result<&PlaidClient, ProviderError> {
        self.plaid
            .as_ref()
            .ok_or_else(|| ProviderError::unavailable("Plaid is not configured on this server"))
    }

    fn quiltt(&self) -> Result<&QuilttClient, ProviderError> {
        self.quiltt
            .as_ref()
            .ok_or_else(|| ProviderError::unavailable("Quiltt is not configured on this server"))
    }
}

/// Turns a transport failure into [`ProviderError::Unavailable`] without
/// quoting the URL (Quiltt URLs carry the account id).
fn transport_error(provider: &str, err: &reqwest::Error) -> ProviderError {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not be reached"
    } else {
        "request failed"
    };
    ProviderError::unavailable(format!("{provider} {what}"))
}

/// `base` and `path` joined with exactly one `/`.
fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}
