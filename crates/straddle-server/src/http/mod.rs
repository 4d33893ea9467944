//! The HTTP layer: request context and envelopes, authentication, body and
//! query extraction, paging, and the caller every API handler receives.

pub mod auth;
pub mod caller;
pub mod context;
pub mod extract;
pub mod json;
pub mod paging;
pub mod server;

pub use caller::Caller;
