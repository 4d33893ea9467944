//! HTTP integration tests: the real server, real storage, real HTTP.

mod auth;
mod bridge;
mod conventions;
mod customers;
mod helpers;
mod idempotency;
mod outages;
mod paykeys;
mod sdk;
mod widget;
