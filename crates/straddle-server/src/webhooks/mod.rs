//! Webhooks: events written in the transaction of the change they describe
//! (`events`, a transactional outbox), endpoints per account (`routes` →
//! `service` → `repo`), Standard Webhooks signing (`signing`), the address
//! checks that keep production servers from calling internal networks
//! (`safety`), and the worker that delivers them (`delivery`).

pub mod delivery;
pub mod events;
pub mod repo;
pub mod routes;
pub mod safety;
pub mod service;
pub mod signing;
