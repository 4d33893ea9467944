//! The Straddle Bridge API server as a library: `straddle serve` and the
//! integration tests both build an [`Application`] from a [`Config`].

pub mod accounts;
pub mod admin;
pub mod app;
pub mod auth;
pub mod background;
pub mod bridge;
pub mod clock;
pub mod config;
pub mod context;
pub mod crypto;
pub mod customers;
pub mod db;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod paging;
pub mod paykeys;
pub mod secrets;
pub mod sql;
pub mod store;
pub mod telemetry;
pub mod validation;
pub mod widget;

pub use app::{AppState, Application};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, Environment};
