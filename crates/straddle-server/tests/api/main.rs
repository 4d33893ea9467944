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
mod operations;
mod openapi;
mod outages;
mod paykeys;
mod sdk;
mod widget;
