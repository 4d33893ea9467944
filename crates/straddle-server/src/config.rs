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
    /// Webhook delivery: retries, timeout, disabling, allowed hosts.
    pub webhooks: WebhookSettings,
}

/// How webhooks are delivered.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Waits before each retry of a failed delivery (the first attempt is at once).
    pub retry_schedule: Vec<Duration>,
    /// How long an endpoint has to answer.
    pub timeout: Duration,
    /// An endpoint failing for this long without a success is disabled.
    pub disable_after: Duration,
    /// Hosts production servers may send to although they are internal.
    pub allow_hosts: Vec<String>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            retry_schedule: parse_durations("5s,5m,30m,2h,5h,10h,10h").unwrap_or_default(),
            timeout: Duration::from_secs(15),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            allow_hosts: vec![],
        }
    }
}

/// Parses a comma-separated list of durations such as `1s,2s,5m,2h,1d,500ms`.
pub fn parse_durations(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(parse_duration)
        .collect()
}

/// Parses one duration: a whole number and a unit (`ms`, `s`, `m`, `h`, `d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (ms, s, m, h or d)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{text:?} has an unknown unit (ms, s, m, h or d)")),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
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
            webhooks: WebhookSettings::default(),
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
