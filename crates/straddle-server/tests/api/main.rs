//! HTTP integration tests: the real server, real storage, real HTTP.

mod auth;
mod bridge;
mod cluster;
mod conventions;
mod customers;
mod helpers;
mod idempotency;
mod instances;
mod outages;
mod paykeys;
mod sdk;
mod webhooks;
mod widget;
