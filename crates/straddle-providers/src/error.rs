//! Errors a provider call can end in, and how the server should answer them.

/// Request field that carries a Plaid processor token (`/v1/bridge/plaid`).
pub const PLAID_TOKEN: &str = "plaid_token";

/// Request field that carries a Quiltt processor token (`/v1/bridge/quiltt`).
pub const QUILTT_TOKEN: &str = "quiltt_token";

/// Why a provider call failed.
///
/// Details never contain the token itself; they may quote the provider's own
/// error code and message, which are meant for the integrator.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider says the token is invalid, unknown, expired or otherwise
    /// unusable. The server answers `422 validation_error` with an item whose
    /// `reference` is `reference`.
    #[error("{reference} was refused by the provider: {detail}")]
    Refused {
        /// The request field at fault: [`PLAID_TOKEN`] or [`QUILTT_TOKEN`].
        reference: &'static str,
        /// Human-readable reason.
        detail: String,
    },
    /// The token is fine but the account cannot back a paykey (for example a
    /// Plaid subtype other than checking or savings). The server answers
    /// `422 validation_error` naming `reference`.
    #[error("{reference} names an unsupported account: {detail}")]
    UnsupportedAccount {
        /// The request field at fault: [`PLAID_TOKEN`] or [`QUILTT_TOKEN`].
        reference: &'static str,
        /// Human-readable reason.
        detail: String,
    },
    /// The provider could not be reached or answered something unusable
    /// (outage, 5xx, timeout, malformed answer, missing configuration). The
    /// server answers `502 api_error` and keeps this text in its logs only.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
}

impl ProviderError {
    /// The request field a `422` should name, or `None` for [`Self::Unavailable`].
    pub fn reference(&self) -> Option<&'static str> {
        match self {
            Self::Refused { reference, .. } | Self::UnsupportedAccount { reference, .. } => {
                Some(reference)
            }
            Self::Unavailable(_) => None,
        }
    }

    pub(crate) fn refused(reference: &'static str, detail: impl Into<String>) -> Self {
        Self::Refused {
            reference,
            detail: detail.into(),
        }
    }

    pub(crate) fn unsupported(reference: &'static str, detail: impl Into<String>) -> Self {
        Self::UnsupportedAccount {
            reference,
            detail: detail.into(),
        }
    }

    pub(crate) fn unavailable(detail: impl Into<String>) -> Self {
        Self::Unavailable(detail.into())
    }
}

/// The HTTP client for the live providers could not be built (for example
/// the TLS backend failed to initialise).
#[derive(Debug, thiserror::Error)]
#[error("could not build the provider HTTP client")]
pub struct BuildError(#[source] pub(crate) reqwest::Error);
