//! Operating several instances on one database: secrets that cannot
//! silently diverge, rotation of both secrets under load, the global rate
//! limit, `/ready` and `/metrics`. Instances are in-process servers on one
//! fresh database (several share an SQLite file too; the rate limit is
//! measured with 1–3 instances on PostgreSQL, 1 on SQLite).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use straddle_server::config::Config;
use straddle_server::security::crypto::Sealer;
use straddle_server::security::secrets::{
    self, SecretEnv, ENV_DATA_KEY, ENV_JWT_SECRET, ENV_PREVIOUS_DATA_KEYS, ENV_PREVIOUS_JWT_SECRETS,
};
use straddle_server::{admin, AppState, Application, Clock, ManualClock};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::cluster::default_instances;
use crate::helpers::{customer_body, drop_database, fresh_database};

/// One running instance.
struct Node {
    base_url: String,
    metrics_url: Option<String>,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Starts an instance on `database_url` with these secret sources.
async fn start(
    database_url: &str,
    secrets_file: &Path,
    env: SecretEnv,
    clock: &ManualClock,
    tweak: impl FnOnce(&mut Config),
) -> anyhow::Result<Node> {
    let mut config = Config::new(database_url.to_string(), secrets_file.to_path_buf());
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.rate_limit_per_second = 0;
    config.secret_env = env;
    tweak(&mut config);
    let app = Application::build(config, Arc::new(clock.clone())).await?;
    let base_url = format!("http://{}", app.local_addr().unwrap());
    let metrics_url = app.metrics_addr().map(|a| format!("http://{a}/metrics"));
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Ok(Node {
        base_url,
        metrics_url,
        state,
        shutdown: Some(tx),
        server: Some(server),
    })
}

impl Node {
    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
        self.state.db.close().await;
    }

    /// A platform account and its key, signed with this instance's secret.
    async fn platform(&self) -> (Uuid, String) {
        let created = admin::bootstrap(
            &self.state.pipeline,
            &self.state.secrets,
            "Ops Platform",
            self.state.config.environment,
            false,
        )
        .await
        .unwrap();
        (created.account.id, created.api_key.0)
    }
}

/// The secrets file's current signing secret and data key (base64).
fn file_values(path: &Path) -> (String, String) {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let active = file["active_data_key"].as_str().unwrap();
    (
        file["jwt_key"].as_str().unwrap().to_string(),
        file["data_keys"][active].as_str().unwrap().to_string(),
    )
}

fn env(pairs: &[(&'static str, &str)]) -> SecretEnv {
    SecretEnv::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string())))
}

/// A path no process can create a file at.
fn unwritable_secrets_path() -> PathBuf {
    PathBuf::from("/proc/straddle-no-such-dir/secrets.json")
}

async fn call(
    http: &reqwest::Client,
    key: &str,
    method: reqwest::Method,
    url: String,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = http.request(method, url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Reads customer `id` through `base_url` and asserts it answers 200.
async fn assert_customer_readable(http: &reqwest::Client, key: &str, base_url: &str, id: &str) {
    let (status, body) = call(
        http,
        key,
        reqwest::Method::GET,
        format!("{base_url}/v1/customers/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn create_customer(http: &reqwest::Client, key: &str, base_url: &str) -> String {
    let body = customer_body("Leslie Knope", &format!("{}@example.com", Uuid::now_v7()));
    let (status, reply) = call(
        http,
        key,
        reqwest::Method::POST,
        format!("{base_url}/v1/customers"),
        Some(&body),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    reply["data"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn each_wrong_secrets_setup_is_refused_naming_the_secret_and_where_it_came_from() {
    let (url, file) = fresh_database().await;
    let dir = file.parent().unwrap().to_path_buf();
    let clock = ManualClock::new();
    let first = start(&url, &file, SecretEnv::default(), &clock, |_| {})
        .await
        .unwrap();
    let (_, key) = first.platform().await;
    let http = reqwest::Client::new();
    let customer = create_customer(&http, &key, &first.base_url).await;
    let (jwt, data) = file_values(&file);

    // A fresh secrets file elsewhere (once made silently by `admin bootstrap`).
    let elsewhere = dir.join("elsewhere.json");
    let err = start(&url, &elsewhere, SecretEnv::default(), &clock, |_| {})
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("STRADDLE_JWT_SECRET is not set")
            && err.contains(&elsewhere.display().to_string())
            && err.contains("already has secrets"),
        "{err}"
    );
    assert!(!elsewhere.exists(), "no new secrets were created");

    // Only the signing secret shared: the data key of another file.
    let other = dir.join("other.json");
    secrets::write_new_file(&other).unwrap();
    let err = start(&url, &other, env(&[(ENV_JWT_SECRET, &jwt)]), &clock, |_| {})
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("the data key read from secrets file")
            && err.contains(&other.display().to_string()),
        "{err}"
    );

    // The right data key but another signing secret, both in the environment.
    let (wrong_jwt, _) = secrets::generate();
    let both = env(&[(ENV_JWT_SECRET, &wrong_jwt), (ENV_DATA_KEY, &data)]);
    let err = start(&url, &file, both, &clock, |_| {})
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains(
            "the API-key signing secret read from environment variable STRADDLE_JWT_SECRET"
        ),
        "{err}"
    );

    // The file's values copied into the environment (and an unwritable
    // secrets path): they replace the file's, and reads work both ways.
    let second = start(
        &url,
        &unwritable_secrets_path(),
        env(&[(ENV_JWT_SECRET, &jwt), (ENV_DATA_KEY, &data)]),
        &clock,
        |_| {},
    )
    .await
    .expect("the same secrets through the environment are accepted");
    let get = |base: &str, path: &str| {
        call(
            &http,
            &key,
            reqwest::Method::GET,
            format!("{base}{path}"),
            None,
        )
    };
    let (status, body) = get(&second.base_url, &format!("/v1/customers/{customer}")).await;
    assert_eq!(status, 200, "{body}");
    let theirs = create_customer(&http, &key, &second.base_url).await;
    let (status, body) = get(&first.base_url, &format!("/v1/customers/{theirs}")).await;
    assert_eq!(status, 200, "{body}");
    for node in [&first, &second] {
        let (status, body) = get(&node.base_url, "/v1/customers").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["meta"]["total_items"], 2, "{body}");
    }
    second.stop().await;
    first.stop().await;
    drop_database(&url).await;
}

#[tokio::test]
async fn environment_only_secrets_start_with_an_unwritable_secrets_path() {
    let (url, _) = fresh_database().await;
    let clock = ManualClock::new();
    let err = start(
        &url,
        &unwritable_secrets_path(),
        SecretEnv::default(),
        &clock,
        |_| {},
    )
    .await
    .err()
    .expect("no secrets anywhere and no file can be made");
    assert!(err.to_string().contains("straddle-no-such-dir"), "{err}");
    let (jwt, data) = secrets::generate();
    let node = start(
        &url,
        &unwritable_secrets_path(),
        env(&[(ENV_JWT_SECRET, &jwt), (ENV_DATA_KEY, &data)]),
        &clock,
        |_| {},
    )
    .await
    .expect("starts from the environment alone");
    let (_, key) = node.platform().await;
    let http = reqwest::Client::new();
    let id = create_customer(&http, &key, &node.base_url).await;
    assert_customer_readable(&http, &key, &node.base_url, &id).await;
    node.stop().await;
    drop_database(&url).await;
}

/// Reads and writes against the listed instances until stopped; counts
/// every answer that is not a success.
struct Load {
    stop: Arc<AtomicBool>,
    failures: Arc<RwLock<Vec<String>>>,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    fn start(targets: Arc<RwLock<Vec<(String, String)>>>, customers: Vec<String>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(RwLock::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (s, f, r) = (stop.clone(), failures.clone(), requests.clone());
        let task = tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut created = customers;
            let mut i = 0usize;
            while !s.load(Ordering::Relaxed) {
                let list = targets.read().unwrap().clone();
                for (base, key) in list {
                    i += 1;
                    let id = created[i % created.len()].clone();
                    let checks = [
                        (
                            reqwest::Method::GET,
                            format!("{base}/v1/customers/{id}"),
                            None,
                        ),
                        (
                            reqwest::Method::GET,
                            format!("{base}/v1/customers?page_size=50"),
                            None,
                        ),
                        (
                            reqwest::Method::POST,
                            format!("{base}/v1/customers"),
                            Some(customer_body(
                                "Ann Perkins",
                                &format!("{}@example.com", Uuid::now_v7()),
                            )),
                        ),
                    ];
                    for (method, url, body) in checks {
                        let (status, reply) =
                            call(&http, &key, method, url.clone(), body.as_ref()).await;
                        r.fetch_add(1, Ordering::Relaxed);
                        if !status.is_success() {
                            f.write().unwrap().push(format!("{url}: {status} {reply}"));
                        } else if let Some(new) = reply["data"]["id"].as_str() {
                            if status == 201 {
                                created.push(new.to_string());
                            }
                        }
                    }
                }
            }
        });
        Load {
            stop,
            failures,
            requests,
            task,
        }
    }

    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        let failures = self.failures.read().unwrap().clone();
        (self.requests.load(Ordering::Relaxed), failures)
    }
}

#[tokio::test]
async fn both_secrets_rotate_under_load_with_no_failed_read() {
    let (url, file) = fresh_database().await;
    let clock = ManualClock::new();
    let http = reqwest::Client::new();
    let a = start(&url, &file, SecretEnv::default(), &clock, |_| {})
        .await
        .unwrap();
    let (account, old_key) = a.platform().await;
    let mut customers = Vec::new();
    for _ in 0..10 {
        customers.push(create_customer(&http, &old_key, &a.base_url).await);
    }
    let (old_jwt, old_data) = file_values(&file);
    let (new_jwt, new_data) = secrets::generate();
    let targets = Arc::new(RwLock::new(vec![(a.base_url.clone(), old_key.clone())]));
    let load = Load::start(targets.clone(), customers.clone());

    // 1. Every instance learns the new secrets beside the current ones.
    let b = start(
        &url,
        &unwritable_secrets_path(),
        env(&[
            (ENV_JWT_SECRET, &old_jwt),
            (ENV_DATA_KEY, &old_data),
            (ENV_PREVIOUS_JWT_SECRETS, &new_jwt),
            (ENV_PREVIOUS_DATA_KEYS, &new_data),
        ]),
        &clock,
        |_| {},
    )
    .await
    .unwrap();
    *targets.write().unwrap() = vec![(b.base_url.clone(), old_key.clone())];
    tokio::time::sleep(Duration::from_millis(300)).await; // the load moves on
    a.stop().await;

    // 2. The new ones become current; the old signing secret stays valid for a day.
    let until = (clock.now() + chrono::Duration::days(1)).to_rfc3339();
    let c = start(
        &url,
        &unwritable_secrets_path(),
        env(&[
            (ENV_JWT_SECRET, &new_jwt),
            (ENV_DATA_KEY, &new_data),
            (ENV_PREVIOUS_JWT_SECRETS, &format!("{old_jwt}@{until}")),
            (ENV_PREVIOUS_DATA_KEYS, &old_data),
        ]),
        &clock,
        |_| {},
    )
    .await
    .unwrap();
    // A bridge token signed with the old secret still opens the widget on
    // an instance whose current secret is the new one.
    let (status, reply) = call(
        &http,
        &old_key,
        reqwest::Method::POST,
        format!("{}/v1/bridge/initialize", b.base_url),
        Some(&serde_json::json!({"customer_id": customers[0]})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let bridge_token = reply["data"]["bridge_token"].as_str().unwrap().to_string();
    let session = |base: &str| {
        http.get(format!("{base}/widget/api/session"))
            .bearer_auth(&bridge_token)
            .send()
    };
    assert_eq!(session(&c.base_url).await.unwrap().status(), 200);
    let new_key = admin::create_key(&c.state.pipeline, &c.state.secrets, account)
        .await
        .unwrap()
        .1
         .0;
    *targets.write().unwrap() = vec![
        (b.base_url.clone(), old_key.clone()),
        (c.base_url.clone(), old_key.clone()),
        (b.base_url.clone(), new_key.clone()),
        (c.base_url.clone(), new_key.clone()),
    ];
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 3. The instances with the old current key are replaced, then every
    // ciphertext is rewritten to the new key while the load runs.
    *targets.write().unwrap() = vec![
        (c.base_url.clone(), old_key.clone()),
        (c.base_url.clone(), new_key.clone()),
    ];
    tokio::time::sleep(Duration::from_millis(300)).await; // the load moves on
    b.stop().await;
    let sealer = Arc::new(Sealer::new(&c.state.secrets));
    let rewritten = admin::reencrypt(&c.state.db, &sealer, 7, |_, _| {})
        .await
        .unwrap();
    assert!(rewritten >= 10, "rewrote {rewritten}");
    let (requests, failures) = load.finish().await;
    assert!(requests > 30, "the load ran ({requests} requests)");
    assert!(failures.is_empty(), "failed under rotation: {failures:#?}");
    assert_eq!(
        admin::reencrypt(&c.state.db, &sealer, 7, |_, _| {})
            .await
            .unwrap(),
        0,
        "everything is on the new key; a second run has nothing to do"
    );

    // 4. Without the old data key, and past the old signing secret's end.
    clock.advance(chrono::Duration::days(2));
    let d = start(
        &url,
        &unwritable_secrets_path(),
        env(&[
            (ENV_JWT_SECRET, &new_jwt),
            (ENV_DATA_KEY, &new_data),
            (ENV_PREVIOUS_JWT_SECRETS, &format!("{old_jwt}@{until}")),
        ]),
        &clock,
        |_| {},
    )
    .await
    .unwrap();
    for id in &customers {
        assert_customer_readable(&http, &new_key, &d.base_url, id).await;
    }
    let (status, _) = call(
        &http,
        &old_key,
        reqwest::Method::GET,
        format!("{}/v1/customers", d.base_url),
        None,
    )
    .await;
    assert_eq!(status, 401, "the old secret's end has passed");
    assert_eq!(session(&d.base_url).await.unwrap().status(), 401);
    // An instance still on the old secrets alone is refused now.
    let err = start(&url, &file, SecretEnv::default(), &clock, |_| {})
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("signing secret read from secrets file"),
        "{err}"
    );
    c.stop().await;
    d.stop().await;
    drop_database(&url).await;
}

/// Requests admitted (not 429) when `clients` callers hammer `nodes`
/// for `window`, half of them as an embedded account of the platform.
async fn hammer(nodes: &[Node], key: &str, embedded: Uuid, window: Duration) -> (usize, usize) {
    let admitted = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + window;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let url = format!(
            "{}/v1/customers/{}",
            nodes[i % nodes.len()].base_url,
            Uuid::now_v7()
        );
        let (key, admitted, refused) = (key.to_string(), admitted.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            while Instant::now() < deadline {
                let mut request = http.get(&url).bearer_auth(&key);
                if i % 2 == 1 {
                    request = request.header("Straddle-Account-Id", embedded.to_string());
                }
                let response = request.send().await.unwrap();
                if response.status() == 429 {
                    assert!(response.headers().contains_key("retry-after"));
                    refused.fetch_add(1, Ordering::Relaxed);
                } else {
                    assert_eq!(response.status(), 404);
                    admitted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (
        admitted.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    )
}

#[tokio::test]
async fn the_rate_limit_is_global_across_one_two_and_three_instances() {
    const RATE: u32 = 40;
    let window = Duration::from_secs(3);
    let most = if default_instances() > 1 { 3 } else { 1 };
    for size in 1..=most {
        let (url, file) = fresh_database().await;
        let clock = ManualClock::new();
        let mut nodes = Vec::new();
        for _ in 0..size {
            let node = start(&url, &file, SecretEnv::default(), &clock, |c| {
                c.rate_limit_per_second = RATE;
            })
            .await
            .unwrap();
            nodes.push(node);
        }
        let (platform, key) = nodes[0].platform().await;
        let embedded = admin::create_account(
            &nodes[0].state.pipeline,
            "Embedded",
            Some(platform),
            nodes[0].state.config.environment,
            false,
        )
        .await
        .unwrap()
        .id;
        let (admitted, refused) = hammer(&nodes, &key, embedded, window).await;
        // A full bucket (one second's worth), then the rate.
        let expected = f64::from(RATE) * (1.0 + window.as_secs_f64());
        eprintln!(
            "rate limit {RATE}/s, {size} instance(s), {window:?}: {admitted} admitted ({:.1}/s), {refused} refused; expected about {expected}",
            admitted as f64 / window.as_secs_f64()
        );
        assert!(refused > 0, "the callers asked for more than the limit");
        let ratio = admitted as f64 / expected;
        assert!(
            (0.8..=1.2).contains(&ratio),
            "{size} instances admitted {admitted}, expected about {expected}"
        );
        for node in nodes {
            node.stop().await;
        }
        drop_database(&url).await;
    }
}

async fn ready(http: &reqwest::Client, node: &Node) -> (u16, Value) {
    let response = http
        .get(format!("{}/ready", node.base_url))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `/ready` until it answers `want` (bounded).
async fn ready_becomes(http: &reqwest::Client, node: &Node, want: u16) -> Value {
    for _ in 0..100 {
        let (status, body) = ready(http, node).await;
        if status == want {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "/ready never answered {want}: {:?}",
        ready(http, node).await
    );
}

#[tokio::test]
async fn ready_answers_503_while_secrets_differ_or_a_migration_is_missing_then_recovers() {
    let (url, file) = fresh_database().await;
    let clock = ManualClock::new();
    let node = start(&url, &file, SecretEnv::default(), &clock, |_| {})
        .await
        .unwrap();
    let http = reqwest::Client::new();
    ready_becomes(&http, &node, 200).await;
    let pool = &node.state.db.pool;
    let (saved,): (String,) =
        sqlx::query_as("SELECT check_value FROM secret_check WHERE name = 'data_key'")
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("UPDATE secret_check SET check_value = 'another' WHERE name = 'data_key'")
        .execute(pool)
        .await
        .unwrap();
    let body = ready_becomes(&http, &node, 503).await;
    assert!(
        body["reason"].as_str().unwrap().contains("the data key"),
        "{body}"
    );
    let health = http
        .get(format!("{}/health", node.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "/health stays liveness");
    sqlx::query(&format!(
        "UPDATE secret_check SET check_value = '{saved}' WHERE name = 'data_key'"
    ))
    .execute(pool)
    .await
    .unwrap();
    ready_becomes(&http, &node, 200).await;

    sqlx::query("UPDATE _sqlx_migrations SET success = FALSE WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .execute(pool)
        .await
        .unwrap();
    let body = ready_becomes(&http, &node, 503).await;
    assert!(
        body["reason"].as_str().unwrap().contains("migrations"),
        "{body}"
    );
    sqlx::query("UPDATE _sqlx_migrations SET success = TRUE")
        .execute(pool)
        .await
        .unwrap();
    ready_becomes(&http, &node, 200).await;
    node.stop().await;
    drop_database(&url).await;
}

#[tokio::test]
async fn ready_flips_when_the_postgresql_database_goes_away_then_recovers() {
    use sqlx::{Connection, Executor};
    let Ok(base) = std::env::var("STRADDLE_TEST_DATABASE_URL") else {
        return; // SQLite: the database is a file of this process.
    };
    let (url, file) = fresh_database().await;
    let name = url.rsplit_once('/').unwrap().1.to_string();
    let clock = ManualClock::new();
    let node = start(&url, &file, SecretEnv::default(), &clock, |_| {})
        .await
        .unwrap();
    let http = reqwest::Client::new();
    ready_becomes(&http, &node, 200).await;
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    admin
        .execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false").as_str())
        .await
        .unwrap();
    admin
        .execute(
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
            .as_str(),
        )
        .await
        .unwrap();
    let body = ready_becomes(&http, &node, 503).await;
    assert!(
        body["reason"].as_str().unwrap().contains("database"),
        "{body}"
    );
    admin
        .execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true").as_str())
        .await
        .unwrap();
    ready_becomes(&http, &node, 200).await;
    node.stop().await;
    drop_database(&url).await;
}

#[tokio::test]
async fn metrics_are_served_in_the_prometheus_text_format() {
    let (url, file) = fresh_database().await;
    let clock = ManualClock::new();
    let node = start(&url, &file, SecretEnv::default(), &clock, |c| {
        c.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
        c.rate_limit_per_second = 3;
    })
    .await
    .unwrap();
    let (_, key) = node.platform().await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let body = customer_body("Tom Haverford", &format!("{}@example.com", Uuid::now_v7()));
        let (status, _) = call(
            &http,
            &key,
            reqwest::Method::POST,
            format!("{}/v1/customers", node.base_url),
            Some(&body),
        )
        .await;
        statuses.push(status.as_u16());
    }
    assert!(
        statuses.contains(&201) && statuses.contains(&429),
        "{statuses:?}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await; // the bucket refills
    let unknown = Uuid::now_v7();
    let (status, _) = call(
        &http,
        &key,
        reqwest::Method::GET,
        format!("{}/v1/customers/{unknown}", node.base_url),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let main_port = http
        .get(format!("{}/metrics", node.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(main_port.status(), 404, "metrics only on --metrics-addr");
    let text = http
        .get(node.metrics_url.clone().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |metric: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.last().map(|b| b.count).unwrap_or_default()
                }
                prometheus_parse::Value::Summary(_) => 0.0,
            })
    };
    let created = [
        ("route", "/v1/customers"),
        ("status", "201"),
        ("method", "POST"),
    ];
    assert!(value("straddle_http_requests_total", &created).unwrap() >= 1.0);
    let refused = [("route", "/v1/customers"), ("status", "429")];
    assert!(value("straddle_http_requests_total", &refused).unwrap() >= 1.0);
    assert!(value("straddle_rate_limited_total", &[]).unwrap() >= 1.0);
    let latency = [("route", "/v1/customers"), ("method", "POST")];
    assert!(value("straddle_http_request_duration_seconds", &latency).unwrap() >= 8.0);
    assert!(value("straddle_write_batch_size", &[]).unwrap() >= 1.0);
    assert!(value("straddle_write_commit_seconds", &[]).unwrap() >= 1.0);
    for state in ["due", "claimed", "late"] {
        assert!(
            value("straddle_jobs", &[("state", state)]).is_some(),
            "{text}"
        );
    }
    assert!(value("straddle_db_connections", &[("state", "in_use")]).is_some());
    assert!(value("straddle_db_connections", &[("state", "max")]).unwrap() >= 1.0);
    assert_eq!(value("straddle_ready", &[]), Some(1.0));
    assert!(
        !text.contains(&unknown.to_string()),
        "routes are templates, not raw paths"
    );
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "straddle_http_requests_total"
            && s.labels.get("status") == Some("404")
            && s.labels
                .get("route")
                .is_some_and(|r| r == "/v1/customers/:id")));
    node.stop().await;
    drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_at_once_on_a_new_database_agree_on_one_secrets_file() {
    let (url, file) = fresh_database().await;
    let clock = ManualClock::new();
    // Each on a task of its own: SQLite's migration lock blocks a thread.
    let starting: Vec<_> = (0..3)
        .map(|_| {
            let (url, file, clock) = (url.clone(), file.clone(), clock.clone());
            tokio::spawn(async move {
                start(&url, &file, SecretEnv::default(), &clock, |_| {})
                    .await
                    .expect("every instance starts")
            })
        })
        .collect();
    let mut nodes = Vec::new();
    for node in starting {
        nodes.push(node.await.unwrap());
    }
    let (_, key) = nodes[0].platform().await;
    let http = reqwest::Client::new();
    let id = create_customer(&http, &key, &nodes[1].base_url).await;
    for node in &nodes {
        assert_customer_readable(&http, &key, &node.base_url, &id).await;
    }
    for node in nodes {
        node.stop().await;
    }
    drop_database(&url).await;
}
