//! Test harness: the real server on 127.0.0.1:0 with a manual clock, over a
//! fresh SQLite file or a fresh PostgreSQL database
//! (`STRADDLE_TEST_DATABASE_URL=postgres://…` selects PostgreSQL).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use straddle_server::config::Config;
use straddle_server::security::secrets::Secrets;
use straddle_server::{admin, AppState, Application, ManualClock};
use tokio::sync::oneshot;
use uuid::Uuid;

/// A running server and a sandbox platform account with a key.
pub struct TestApp {
    pub base_url: String,
    pub api_key: String,
    pub account_id: Uuid,
    pub clock: ManualClock,
    pub state: AppState,
    pub http: reqwest::Client,
    pub database_url: String,
    pub secrets_file: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// A response: status, headers and JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads a whole response; panics unless the body is JSON.
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("non-JSON response {status}: {text}"));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `data` of a success envelope.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The error `items[].reference` values.
    pub fn references(&self) -> Vec<String> {
        self.body["error"]["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["reference"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the documented error envelope with `status` and `type`.
    pub fn assert_error(&self, status: u16, error_type: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["response_type"], "error", "body: {}", self.body);
        assert_eq!(self.body["error"]["status"], status);
        assert_eq!(
            self.body["error"]["type"], error_type,
            "body: {}",
            self.body
        );
        assert!(self.body.get("data").is_none());
        assert!(self.body["meta"]["api_request_id"].is_string());
    }
}

/// Options for [`spawn_app_with`].
#[derive(Clone)]
pub struct Options {
    pub rate_limit_per_second: u32,
    pub key_cache_refresh: Duration,
    pub database_url: Option<String>,
    pub secrets_file: Option<PathBuf>,
    pub clock: Option<ManualClock>,
    pub production: bool,
    /// Adjusts the configuration before the server is built.
    pub configure: Option<fn(&mut Config)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rate_limit_per_second: 0,
            key_cache_refresh: Duration::from_secs(2),
            database_url: None,
            secrets_file: None,
            clock: None,
            production: false,
            configure: None,
        }
    }
}

/// A server with default options.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// A fresh database URL for one test.
pub async fn fresh_database() -> (String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("straddle-test-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let secrets = dir.join("secrets.json");
    match std::env::var("STRADDLE_TEST_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            let name = format!("straddle_test_{}", Uuid::now_v7().simple());
            let mut conn = sqlx::PgConnection::connect(&base)
                .await
                .expect("connect to PostgreSQL");
            conn.execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
            let (prefix, _) = base.rsplit_once('/').unwrap();
            (format!("{prefix}/{name}"), secrets)
        }
        _ => (format!("sqlite://{}/straddle.db", dir.display()), secrets),
    }
}

/// Drops a PostgreSQL database made by [`fresh_database`] (SQLite files stay).
pub async fn drop_database(database_url: &str) {
    if let (Ok(base), Some((_, name))) = (
        std::env::var("STRADDLE_TEST_DATABASE_URL"),
        database_url.rsplit_once('/'),
    ) {
        if base.starts_with("postgres") && name.starts_with("straddle_test_") {
            let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
            conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await
                .unwrap();
        }
    }
}

/// A server with the given options; bootstraps a platform account.
pub async fn spawn_app_with(options: Options) -> TestApp {
    let (database_url, secrets_file) = match (&options.database_url, &options.secrets_file) {
        (Some(url), Some(secrets)) => (url.clone(), secrets.clone()),
        _ => fresh_database().await,
    };
    let mut config = Config::new(database_url.clone(), secrets_file.clone());
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.rate_limit_per_second = options.rate_limit_per_second;
    config.key_cache_refresh = options.key_cache_refresh;
    if options.production {
        config.environment = straddle_server::Environment::Production;
    }
    if let Some(configure) = options.configure {
        configure(&mut config);
    }
    let clock = options.clock.clone().unwrap_or_default();
    let app = Application::build(config, Arc::new(clock.clone()))
        .await
        .expect("build app");
    let base_url = format!("http://{}", app.local_addr().unwrap());
    let state = app.state().clone();
    let secrets = Secrets::load_or_create(&secrets_file).unwrap();
    let created = admin::bootstrap(
        &state.pipeline,
        &secrets,
        "Test Platform",
        state.config.environment,
        false,
    )
    .await
    .unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        base_url,
        api_key: created.api_key.0,
        account_id: created.account.id,
        clock,
        state,
        http: reqwest::Client::new(),
        database_url,
        secrets_file,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    /// Sends a request with the platform key plus `headers`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.send_as(&self.api_key, method, path, body, headers)
            .await
    }

    /// Sends a request with `api_key`.
    pub async fn send_as(
        &self,
        api_key: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(api_key);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::read(request.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    /// Creates a customer and returns its `data`.
    pub async fn create_customer(&self, body: &Value) -> Value {
        let reply = self.post("/v1/customers", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.data().clone()
    }

    /// A second platform account with its own key.
    pub async fn other_platform(&self, allow_unmask: bool) -> (Uuid, String) {
        let secrets = Secrets::load_or_create(&self.secrets_file).unwrap();
        let env = self.state.config.environment;
        let created = admin::bootstrap(&self.state.pipeline, &secrets, "Other", env, allow_unmask)
            .await
            .unwrap();
        (created.account.id, created.api_key.0)
    }

    /// An embedded account of this test's platform.
    pub async fn embedded_account(&self) -> Uuid {
        let env = self.state.config.environment;
        admin::create_account(
            &self.state.pipeline,
            "Embedded",
            Some(self.account_id),
            env,
            false,
        )
        .await
        .unwrap()
        .id
    }

    /// Stops the server gracefully and keeps its database (for restarts).
    pub async fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }

    /// Stops the server gracefully and starts another on the same database,
    /// secrets and clock, with the same API key.
    pub async fn restart(mut self) -> TestApp {
        self.shut_down().await;
        let mut restarted = spawn_app_with(Options {
            database_url: Some(self.database_url.clone()),
            secrets_file: Some(self.secrets_file.clone()),
            clock: Some(self.clock.clone()),
            ..Default::default()
        })
        .await;
        restarted.api_key = self.api_key.clone();
        restarted
    }

    /// Stops the server and drops a PostgreSQL test database.
    pub async fn stop(mut self) {
        self.shut_down().await;
        self.state.db.close().await;
        drop_database(&self.database_url).await;
    }

    /// Polls `path` until `check` passes on its body (bounded; not a timing test).
    pub async fn eventually(&self, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            let reply = self.get(path).await;
            if check(reply.data()) {
                return reply.data().clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "condition never held for {path}: {}",
            self.get(path).await.body
        );
    }
}

/// Everything the database holds for customers and paykeys, as text: the
/// SQLite files' bytes, or the PostgreSQL rows.
pub async fn stored_text(app: &TestApp) -> String {
    if let Some(path) = app.database_url.strip_prefix("sqlite://") {
        let mut text = String::new();
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        return text;
    }
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT label || routing_number || details || sealed FROM paykey UNION ALL SELECT name || email || details || sealed_pii FROM customer",
    )
    .fetch_all(&mut sqlx::PgConnection::connect(&app.database_url).await.unwrap())
    .await
    .unwrap();
    rows.into_iter().map(|(row,)| row).collect()
}

/// A valid customer body; `email` makes it unique.
pub fn customer_body(name: &str, email: &str) -> Value {
    json!({
        "name": name,
        "type": "individual",
        "email": email,
        "phone": "+12128675309",
        "device": {"ip_address": "203.0.113.7"},
        "compliance_profile": {"dob": "1980-02-29", "ssn": "123-45-6789"},
        "address": {"address1": "100 Main St", "city": "Pawnee", "state": "IN", "zip": "47998"},
    })
}

/// Warnings and errors logged by every server in this test binary, once
/// [`capture_warnings`] has been called.
static WARNINGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct WarningsWriter;

impl std::io::Write for WarningsWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        WARNINGS.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts recording what the servers (and their database drivers) log at
/// WARN and above.
pub fn capture_warnings() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(|| WarningsWriter)
        .try_init();
}

/// What has been logged at WARN and above since [`capture_warnings`].
pub fn logged_warnings() -> String {
    String::from_utf8_lossy(&WARNINGS.lock().unwrap()).into_owned()
}
