//! The Straddle Bridge API server as a library: `straddle serve` and the
//! integration tests both build an [`Application`] from a [`Config`].
//!
//! Layers, from the bottom: `storage` and `security` (infrastructure),
//! `state` (what handlers and jobs share), `write` (the pipeline every
//! write command runs through), the features (`customers`, `paykeys`,
//! `bridge`, `widget`, `accounts`, `webhooks`), `jobs` (background work), `http`
//! (extractors, envelopes, middleware) and `app` (router and serving).

pub mod accounts;
pub mod admin;
pub mod app;
pub mod bridge;
pub mod clock;
pub mod config;
pub mod customers;
pub mod error;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod paykeys;
pub mod security;
pub mod seed;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod validation;
pub mod webhooks;
pub mod widget;
pub mod write;

pub use app::Application;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, Environment};
pub use state::AppState;
