//! Per-request options: the four header parameters and overrides of the
//! client's timeout and retry count.

use std::time::Duration;

/// Options of one call. Every field is optional; `None` (or
/// `RequestOptions::default()`) sends no extra header and keeps the client's
/// settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// `Correlation-Id`: your identifier to trace a series of requests.
    pub correlation_id: Option<String>,
    /// `Idempotency-Key` (10–40 characters) for a mutating call. When
    /// absent, the SDK generates one; either way every retry reuses it.
    pub idempotency_key: Option<String>,
    /// `Request-Id`: your identifier to trace this request.
    pub request_id: Option<String>,
    /// `Straddle-Account-Id`: for platforms, the embedded account to act for.
    pub straddle_account_id: Option<String>,
    /// Timeout of each attempt, instead of the client's.
    pub timeout: Option<Duration>,
    /// Number of retries, instead of the client's.
    pub max_retries: Option<u32>,
}
