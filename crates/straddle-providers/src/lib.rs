//! Bank-data providers behind `/v1/bridge/plaid` and `/v1/bridge/quiltt`
//! (spec §B.4, §B.6, §E; decision 16), plus the routing-number rules
//! (spec §G; decision 10).
//!
//! The server holds one [`Providers`] value: either the deterministic
//! [`SandboxProvider`] (no network; test tokens listed in `SANDBOX.md`) or
//! the [`LiveProvider`] (Plaid's processor endpoints and Quiltt's partner
//! endpoints over HTTP). Every operation answers a [`LinkedAccount`] or a
//! balance in cents, or a [`ProviderError`]:
//!
//! | error | server answer |
//! |---|---|
//! | [`ProviderError::Refused`] | `422 validation_error`, item `reference` = the token field |
//! | [`ProviderError::UnsupportedAccount`] | `422 validation_error`, item `reference` = the token field |
//! | [`ProviderError::Unavailable`] | `502 api_error` (text logged, not returned) |
#![warn(missing_docs)]

mod account;
mod error;
mod live;
mod quiltt_token;
pub mod routing;
pub mod sandbox;

pub use account::{AccountNumber, LinkedAccount};
pub use error::{BuildError, ProviderError, PLAID_TOKEN, QUILTT_TOKEN};
pub use live::{
    LiveConfig, LiveProvider, PlaidConfig, QuilttConfig, DEFAULT_TIMEOUT, PLAID_PRODUCTION_URL,
    PLAID_SANDBOX_URL, QUILTT_URL,
};
pub use sandbox::SandboxProvider;

/// The provider implementation a server runs with.
#[derive(Clone, Debug)]
pub enum Providers {
    /// Deterministic test accounts, no network (sandbox servers).
    Sandbox(SandboxProvider),
    /// Real Plaid and Quiltt over HTTP.
    Live(LiveProvider),
}

impl Providers {
    /// Account numbers, owners and balance behind a Plaid processor token.
    pub async fn plaid_account(&self, token: &str) -> Result<LinkedAccount, ProviderError> {
        match self {
            Self::Sandbox(sandbox) => sandbox.plaid_account(token),
            Self::Live(live) => live.plaid_account(token).await,
        }
    }

    /// Current balance in cents behind a Plaid processor token.
    pub async fn plaid_balance(&self, token: &str) -> Result<i64, ProviderError> {
        match self {
            Self::Sandbox(sandbox) => sandbox.plaid_balance(token),
            Self::Live(live) => live.plaid_balance(token).await,
        }
    }

    /// Account numbers (and, in the sandbox, owners and balance) behind a
    /// Quiltt processor token.
    pub async fn quiltt_account(&self, token: &str) -> Result<LinkedAccount, ProviderError> {
        match self {
            Self::Sandbox(sandbox) => sandbox.quiltt_account(token),
            Self::Live(live) => live.quiltt_account(token).await,
        }
    }

    /// Balance in cents behind a Quiltt processor token; the live provider
    /// cannot know it and answers [`ProviderError::Unavailable`].
    pub async fn quiltt_balance(&self, token: &str) -> Result<i64, ProviderError> {
        match self {
            Self::Sandbox(sandbox) => sandbox.quiltt_balance(token),
            Self::Live(live) => live.quiltt_balance(token).await,
        }
    }
}
