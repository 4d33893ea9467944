//! The client, how it is built, and the secret it carries.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::resources::{Bridge, Customers, Paykeys, Sandbox, WebhookEndpoints};

/// Environment variable read for the API key when none is given.
pub const API_KEY_ENV: &str = "STRADDLE_API_KEY";
/// Environment variable read for the base URL when neither a base URL nor an
/// environment is given.
pub const BASE_URL_ENV: &str = "STRADDLE_BASE_URL";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pooled connections are dropped before the server closes idle ones
/// (after 10 s by default), so a request never races that close.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_RETRIES: u32 = 2;

/// A Straddle environment and its published base URL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Environment {
    /// `https://sandbox.straddle.com` (the default).
    #[default]
    Sandbox,
    /// `https://production.straddle.com`.
    Production,
}

impl Environment {
    /// The base URL the official SDKs use for this environment.
    pub fn base_url(self) -> &'static str {
        match self {
            Environment::Sandbox => "https://sandbox.straddle.com",
            Environment::Production => "https://production.straddle.com",
        }
    }
}

/// A secret API key. `Debug` prints `ApiKey(***)`, and the value is wiped
/// from memory when dropped.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(SecretString::from(key.into()))
    }

    /// The key itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        ApiKey::new(key)
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        ApiKey::new(key)
    }
}

/// Where requests go: a named environment or an explicit base URL.
#[derive(Clone, Debug)]
enum Target {
    Environment(Environment),
    BaseUrl(String),
}

/// Builds a [`Client`]. Unset values come from the environment:
/// [`API_KEY_ENV`] for the key, then [`BASE_URL_ENV`] for the base URL
/// (when neither [`ClientBuilder::environment`] nor
/// [`ClientBuilder::base_url`] was called), else the sandbox.
#[derive(Debug)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    target: Option<Target>,
    timeout: Duration,
    max_retries: u32,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            api_key: None,
            target: None,
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
        }
    }
}

impl ClientBuilder {
    /// The secret API key sent as `Authorization: Bearer …`.
    pub fn api_key(mut self, api_key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    /// Talk to a named environment (replaces any base URL set before).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.target = Some(Target::Environment(environment));
        self
    }

    /// Talk to this base URL, e.g. a self-hosted server
    /// (replaces any environment set before).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.target = Some(Target::BaseUrl(base_url.into()));
        self
    }

    /// Time allowed for one attempt of a request, response body included
    /// (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many times a failed request is retried (default 2).
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Builds the client; fails when no API key is known or the base URL is
    /// not an http(s) URL.
    pub fn build(self) -> Result<Client> {
        let api_key = match self.api_key {
            Some(key) => key,
            None => env_var(API_KEY_ENV).map(ApiKey::new).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "no API key: pass one to the client or set {API_KEY_ENV}"
                ))
            })?,
        };
        let base_url = resolve_base_url(self.target)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .user_agent(concat!("straddle-sdk-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| {
                Error::InvalidArgument(format!("cannot build the HTTP client: {err}"))
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                api_key,
                timeout: self.timeout,
                max_retries: self.max_retries,
            }),
        })
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn resolve_base_url(target: Option<Target>) -> Result<String> {
    let url = match target {
        Some(Target::BaseUrl(url)) => url,
        Some(Target::Environment(environment)) => environment.base_url().to_string(),
        None => env_var(BASE_URL_ENV).unwrap_or_else(|| Environment::Sandbox.base_url().into()),
    };
    let parsed = reqwest::Url::parse(&url)
        .map_err(|err| Error::InvalidArgument(format!("invalid base URL {url:?}: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::InvalidArgument(format!(
            "invalid base URL {url:?}: expected http:// or https://"
        )));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// The Straddle API client. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) api_key: ApiKey,
    pub(crate) timeout: Duration,
    pub(crate) max_retries: u32,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &self.inner.api_key)
            .field("timeout", &self.inner.timeout)
            .field("max_retries", &self.inner.max_retries)
            .finish()
    }
}

impl Client {
    /// A client for `api_key`, on [`BASE_URL_ENV`] if set, else the sandbox.
    pub fn new(api_key: impl Into<ApiKey>) -> Result<Client> {
        Client::builder().api_key(api_key).build()
    }

    /// A client configured entirely from [`API_KEY_ENV`] and [`BASE_URL_ENV`].
    pub fn from_env() -> Result<Client> {
        Client::builder().build()
    }

    /// Starts a [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Bridge: widget sessions and paykey creation.
    pub fn bridge(&self) -> Bridge<'_> {
        Bridge::new(self)
    }

    /// Customers.
    pub fn customers(&self) -> Customers<'_> {
        Customers::new(self)
    }

    /// Paykeys.
    pub fn paykeys(&self) -> Paykeys<'_> {
        Paykeys::new(self)
    }

    /// Sandbox-only simulations.
    pub fn sandbox(&self) -> Sandbox<'_> {
        Sandbox::new(self)
    }

    /// Webhook endpoints (verify what they receive with [`crate::webhooks::Webhook`]).
    pub fn webhook_endpoints(&self) -> WebhookEndpoints<'_> {
        WebhookEndpoints::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_api_key() {
        let client = Client::builder()
            .api_key("sk_super_secret_value")
            .base_url("http://127.0.0.1:1")
            .build()
            .unwrap();
        let printed = format!("{client:?} {:?}", ApiKey::new("sk_super_secret_value"));
        assert!(!printed.contains("sk_super_secret_value"), "{printed}");
        assert!(printed.contains("ApiKey(***)"));
    }

    #[test]
    fn an_explicit_target_wins_and_the_last_one_set_counts() {
        let url = |target| resolve_base_url(Some(target)).unwrap();
        assert_eq!(
            url(Target::Environment(Environment::Production)),
            "https://production.straddle.com"
        );
        assert_eq!(
            url(Target::BaseUrl("http://localhost:8080/".into())),
            "http://localhost:8080"
        );
        let builder = Client::builder()
            .base_url("http://localhost:1")
            .environment(Environment::Sandbox);
        assert!(matches!(
            builder.target,
            Some(Target::Environment(Environment::Sandbox))
        ));
    }

    #[test]
    fn a_base_url_must_be_http() {
        for bad in ["localhost:8080", "ftp://example.com", "not a url"] {
            let error = resolve_base_url(Some(Target::BaseUrl(bad.into()))).unwrap_err();
            assert!(matches!(error, Error::InvalidArgument(_)), "{bad}");
        }
    }
}
