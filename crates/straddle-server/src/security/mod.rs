//! Secrets and what they protect: API-key verification, encryption at rest,
//! and the secrets file.

pub mod crypto;
pub mod guard;
pub mod keys;
pub mod rate_limit;
pub mod secrets;
