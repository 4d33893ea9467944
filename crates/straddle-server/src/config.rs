//! Server configuration: typed, validated once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use straddle_providers::{LiveConfig, LiveProvider, Providers, SandboxProvider};

use crate::http::server::ConnectionLimits;
use crate::security::guard::GuardLimits;
use crate::security::secrets::SecretEnv;
use crate::storage::db::{sqlite_path, DbOptions};

/// Sandbox or production semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `sandbox_outcome` decides verification results.
    Sandbox,
    /// `sandbox_outcome` is stored but never decides anything.
    Production,
}

impl Environment {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        }
    }

    /// Parses `sandbox` or `production`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sandbox" => Some(Environment::Sandbox),
            "production" => Some(Environment::Production),
            _ => None,
        }
    }
}

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Sandbox or production.
    pub environment: Environment,
    /// Where the JWT signing key and data keys live.
    pub secrets_file: PathBuf,
    /// Secrets given through the environment (they replace the file's).
    pub secret_env: SecretEnv,
    /// Where `/metrics` is served; `None` serves no metrics.
    pub metrics_addr: Option<SocketAddr>,
    /// Delay of `processing_method: background` transitions.
    pub background_delay: Duration,
    /// Requests per second allowed per platform (embedded accounts included); 0 disables.
    pub rate_limit_per_second: u32,
    /// How long the revocation cache may be stale.
    pub key_cache_refresh: Duration,
    /// Real Plaid/Quiltt endpoints; `None` uses the deterministic sandbox provider.
    pub live_providers: Option<LiveConfig>,
    /// Pool size, timeouts and SQLite group commit.
    pub db: DbOptions,
    /// Names this instance: its background-job claims and its PostgreSQL
    /// sessions' `application_name`.
    pub instance_id: String,
    /// Header, body and keep-alive timeouts and the connection limit.
    pub connections: ConnectionLimits,
    /// Limits of the widget API and of the sandbox bank sign-in.
    pub guard: GuardLimits,
}

impl Config {
    /// Defaults for the given database, as `straddle serve` uses them.
    pub fn new(database_url: String, secrets_file: PathBuf) -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url,
            environment: Environment::Sandbox,
            secrets_file,
            secret_env: SecretEnv::from_process(),
            metrics_addr: None,
            background_delay: Duration::from_secs(3),
            rate_limit_per_second: 1000,
            key_cache_refresh: Duration::from_secs(2),
            live_providers: None,
            db: DbOptions::default(),
            instance_id: new_instance_id(),
            connections: ConnectionLimits::default(),
            guard: GuardLimits::default(),
        }
    }

    /// The bank data providers this configuration asks for.
    pub fn providers(&self) -> Result<Providers, straddle_providers::BuildError> {
        Ok(match &self.live_providers {
            Some(live) => Providers::Live(LiveProvider::new(live.clone())?),
            None => Providers::Sandbox(SandboxProvider::new()),
        })
    }
}

/// `straddle-<pid>-<random>`: unique among instances sharing a database.
pub fn new_instance_id() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("straddle-{}-{}", std::process::id(), &random[..8])
}

/// The default data directory: `./data` (override with `STRADDLE_DATA_DIR`).
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("STRADDLE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// The default embedded database URL.
pub fn default_database_url() -> String {
    format!("sqlite://{}/straddle.db", default_data_dir().display())
}

/// Where the secrets file lives for a database: beside an SQLite file, in
/// the data directory otherwise.
pub fn default_secrets_file(database_url: &str) -> PathBuf {
    match sqlite_path(database_url) {
        Some(path) => path
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
            .join("straddle-secrets.json"),
        None => default_data_dir().join("straddle-secrets.json"),
    }
}
