//! Several in-process servers sharing one database, one secrets file and one
//! manual clock, as a multi-instance deployment runs them; plus a fake Plaid
//! that counts the calls it receives.
//!
//! On PostgreSQL a cluster has 2 instances (`STRADDLE_TEST_INSTANCES`
//! overrides); on SQLite it has 1, so the same tests run single-instance.
//! Tests address instances by index, taken modulo the cluster size.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use straddle_providers::{LiveConfig, PlaidConfig};
use straddle_server::config::Config;
use straddle_server::security::secrets::Secrets;
use straddle_server::{admin, AppState, Application, ManualClock};
use tokio::sync::oneshot;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{customer_body, drop_database, fresh_database, Reply};

/// Plaid's processor endpoints the server calls.
pub const PLAID_AUTH: &str = "/processor/auth/get";
pub const PLAID_IDENTITY: &str = "/processor/identity/get";
pub const PLAID_BALANCE: &str = "/processor/balance/get";

/// The account holder the fake Plaid reports: a customer of this name matches.
pub const PLAID_OWNER: &str = "Alberta Bobbeth Charleson";

/// How to start a cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Number of instances; `None` picks the backend's default.
    pub instances: Option<usize>,
    /// Base URL of a (fake) Plaid; `None` uses the sandbox provider.
    pub plaid_url: Option<String>,
    /// `Config::background_delay` of every instance. Long by default, so
    /// background work becomes due only when a test advances the clock.
    pub background_delay: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            instances: None,
            plaid_url: None,
            background_delay: Duration::from_secs(600),
        }
    }
}

/// Instances the backend supports: several on PostgreSQL, one on SQLite.
pub fn default_instances() -> usize {
    match std::env::var("STRADDLE_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => std::env::var("STRADDLE_TEST_INSTANCES")
            .ok()
            .and_then(|n| n.parse().ok())
            .filter(|n| *n >= 1)
            .unwrap_or(2),
        _ => 1,
    }
}

/// Running instances over one database, and one platform account's key.
pub struct Cluster {
    pub api_key: String,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    pub database_url: String,
    pub background_delay: Duration,
    instances: Vec<Instance>,
}

struct Instance {
    base_url: String,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the instances on a fresh database and bootstraps one platform
/// account (once, through the first instance).
pub async fn spawn_cluster(options: ClusterOptions) -> Cluster {
    let (database_url, secrets_file) = fresh_database().await;
    // Created before any instance starts: all of them share these keys.
    let secrets = Secrets::load_or_create(&secrets_file).unwrap();
    let clock = ManualClock::new();
    let size = options.instances.unwrap_or_else(default_instances).max(1);
    let mut instances = Vec::with_capacity(size);
    for _ in 0..size {
        instances.push(start_instance(&options, &database_url, &secrets_file, &clock).await);
    }
    let state = &instances[0].state;
    let created = admin::bootstrap(
        &state.pipeline,
        &secrets,
        "Cluster Platform",
        state.config.environment,
        false,
    )
    .await
    .unwrap();
    Cluster {
        api_key: created.api_key.0,
        clock,
        http: reqwest::Client::new(),
        database_url,
        background_delay: options.background_delay,
        instances,
    }
}

async fn start_instance(
    options: &ClusterOptions,
    database_url: &str,
    secrets_file: &std::path::Path,
    clock: &ManualClock,
) -> Instance {
    let mut config = Config::new(database_url.to_string(), secrets_file.to_path_buf());
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.rate_limit_per_second = 0;
    config.background_delay = options.background_delay;
    config.live_providers = options.plaid_url.as_ref().map(|url| LiveConfig {
        plaid: Some(PlaidConfig {
            base_url: url.clone(),
            client_id: "cluster-client".into(),
            secret: "cluster-secret".into(),
        }),
        quiltt: None,
        timeout: Duration::from_secs(20),
    });
    let app = Application::build(config, Arc::new(clock.clone()))
        .await
        .expect("build instance");
    let base_url = format!("http://{}", app.local_addr().unwrap());
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Instance {
        base_url,
        state,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl Cluster {
    /// How many instances run.
    pub fn size(&self) -> usize {
        self.instances.len()
    }

    /// The base URL of instance `i` (modulo the size).
    pub fn base_url(&self, i: usize) -> &str {
        &self.instances[i % self.size()].base_url
    }

    /// A request to instance `i` with the platform key, for callers that
    /// need their own client settings (timeouts).
    pub fn request(&self, i: usize, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url(i)))
            .bearer_auth(&self.api_key)
    }

    /// Sends a request to instance `i` with the platform key plus `headers`.
    pub async fn send(
        &self,
        i: usize,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.request(i, method, path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::read(request.send().await.expect("request")).await
    }

    pub async fn get(&self, i: usize, path: &str) -> Reply {
        self.send(i, Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, i: usize, path: &str, body: &Value) -> Reply {
        self.send(i, Method::POST, path, Some(body), &[]).await
    }

    /// A customer named `name` (verified in the sandbox); returns its id.
    pub async fn customer(&self, name: &str) -> String {
        let mut body = customer_body(name, &format!("{}@example.com", Uuid::now_v7()));
        body["config"] = json!({"sandbox_outcome": "verified"});
        let reply = self.post(0, "/v1/customers", &body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.data()["id"].as_str().unwrap().to_string()
    }

    /// Moves the shared clock past `background_delay`: everything scheduled
    /// so far becomes due on every instance.
    pub fn advance_past_background_delay(&self) {
        let delay = chrono::Duration::from_std(self.background_delay).unwrap();
        self.clock.advance(delay + chrono::Duration::seconds(1));
    }

    /// Stops every instance and drops a PostgreSQL test database.
    pub async fn stop(mut self) {
        for instance in &mut self.instances {
            if let Some(tx) = instance.shutdown.take() {
                let _ = tx.send(());
            }
            if let Some(server) = instance.server.take() {
                server.await.unwrap();
            }
            instance.state.db.close().await;
        }
        drop_database(&self.database_url).await;
    }
}

/// A local Plaid answering the processor endpoints for any token, with the
/// account holder [`PLAID_OWNER`] and a $100.00 balance.
pub struct FakePlaid {
    server: MockServer,
}

impl FakePlaid {
    pub async fn start() -> FakePlaid {
        let server = MockServer::start().await;
        let answers = [
            (PLAID_AUTH, auth_answer()),
            (PLAID_IDENTITY, identity_answer()),
            (
                PLAID_BALANCE,
                json!({"account": account(), "request_id": "b1"}),
            ),
        ];
        for (route, answer) in answers {
            Mock::given(method("POST"))
                .and(path(route))
                .respond_with(ResponseTemplate::new(200).set_body_json(answer))
                .mount(&server)
                .await;
        }
        FakePlaid { server }
    }

    /// For `Config.live_providers`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Makes the next `/processor/auth/get` call answer only after `delay`.
    pub async fn hold_next_auth(&self, delay: Duration) {
        Mock::given(method("POST"))
            .and(path(PLAID_AUTH))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(auth_answer())
                    .set_delay(delay),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// How many calls `route` has received so far.
    pub async fn calls(&self, route: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|request| request.url.path() == route)
            .count()
    }
}

fn account() -> Value {
    json!({
        "account_id": "vzeNDwK7KQIm4yEog683uElbp9GRLEFXGK98D",
        "balances": {"available": 100.0, "current": 110.0, "limit": null,
                     "iso_currency_code": "USD", "unofficial_currency_code": null},
        "mask": "6606", "name": "Plaid Checking", "type": "depository", "subtype": "checking"
    })
}

fn auth_answer() -> Value {
    // A routing number the shipped directory names, so the institution
    // lookup never reaches Plaid.
    json!({
        "account": account(),
        "numbers": {"ach": {"account_id": "vzeNDwK7KQIm4yEog683uElbp9GRLEFXGK98D",
                            "account": "9900009606", "routing": "021000021", "wire_routing": "021000021"}},
        "request_id": "a1"
    })
}

fn identity_answer() -> Value {
    let mut account = account();
    account["owners"] =
        json!([{"names": [PLAID_OWNER], "emails": [], "phone_numbers": [], "addresses": []}]);
    json!({"account": account, "request_id": "i1"})
}
