//! HTTP integration tests: the real server, real storage, real HTTP.

mod auth;
mod bridge;
mod cluster;
mod connections;
mod conventions;
mod customers;
mod hardening;
mod helpers;
mod idempotency;
mod instances;
mod openapi;
mod operations;
mod outages;
mod paykeys;
mod pool;
mod sdk;
mod webhooks;
mod widget;
