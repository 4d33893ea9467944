//! The shared state every handler and background job can reach. A leaf of
//! the module graph: it names infrastructure, never features or HTTP.

use std::sync::Arc;

use straddle_providers::Providers;

use crate::clock::Clock;
use crate::config::Config;
use crate::security::crypto::Sealer;
use crate::security::guard::Guard;
use crate::security::keys::KeyVerifier;
use crate::security::secrets::{Secrets, SigningKey};
use crate::storage::db::Db;
use crate::write::pipeline::Pipeline;

/// Everything a request handler can reach, behind one reference count:
/// every request clones it several times (each middleware and extractor).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// Storage, for reads.
    pub db: Db,
    /// Runs write commands.
    pub pipeline: Pipeline,
    /// The current time.
    pub clock: Arc<dyn Clock>,
    /// API key verification, account cache and rate limits.
    pub keys: Arc<KeyVerifier>,
    /// Encryption at rest.
    pub sealer: Arc<Sealer>,
    /// Server configuration.
    pub config: Arc<Config>,
    /// Plaid and Quiltt (sandbox or live).
    pub providers: Arc<Providers>,
    /// HS256 key of bridge tokens (distinct from the API-key key).
    pub bridge_key: Arc<SigningKey>,
    /// Limits of the unauthenticated paths and the refused-request tallies.
    pub guard: Arc<Guard>,
    /// The resolved secrets (readiness compares them with the database's).
    pub secrets: Arc<Secrets>,
}
