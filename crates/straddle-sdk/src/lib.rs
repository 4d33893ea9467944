//! Async Rust client for the Straddle Bridge API: link bank accounts and turn
//! them into paykeys, manage customers and paykeys.
//!
//! One [`Client`] holds the API key, the base URL and a connection pool; its
//! resource handles mirror the official SDKs:
//!
//! ```no_run
//! use straddle_sdk::types::paykey::{AccountType, BankAccountLinkRequest};
//! use straddle_sdk::Client;
//!
//! # async fn example(customer_id: uuid::Uuid) -> Result<(), straddle_sdk::Error> {
//! let client = Client::new("sk_sandbox_…")?; // or Client::from_env() with STRADDLE_API_KEY
//! let created = client
//!     .bridge()
//!     .link()
//!     .bank_account(
//!         BankAccountLinkRequest {
//!             customer_id,
//!             routing_number: "011000015".into(),
//!             account_number: "123456789".into(),
//!             account_type: AccountType::Checking,
//!             config: None,
//!             external_id: None,
//!             metadata: None,
//!         },
//!         None,
//!     )
//!     .await?;
//! println!("{} is {:?}", created.data.id, created.data.status);
//! # Ok(())
//! # }
//! ```
//!
//! Requests and responses are the shared wire types of [`straddle_types`]
//! (re-exported as [`types`]). Every call retries connection failures, 408,
//! 409, 429 and 5xx responses (twice by default, with exponential backoff and
//! jitter, honouring `x-should-retry`, `retry-after-ms` and `retry-after`),
//! and every mutating call carries an `Idempotency-Key` (generated when the
//! caller gives none) that its retries reuse.

mod client;
mod error;
mod options;
mod pagination;
mod request;
mod resources;
mod response;
mod retry;
pub mod webhooks;

pub use client::{ApiKey, Client, ClientBuilder, Environment, API_KEY_ENV, BASE_URL_ENV};
pub use error::{ApiError, Error, Result};
pub use options::RequestOptions;
pub use resources::{
    Bridge, CustomerReviews, Customers, Link, PaykeyReviews, Paykeys, Sandbox, WebhookEndpoints,
};
pub use response::ApiResponse;
pub use straddle_types as types;
