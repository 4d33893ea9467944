//! Webhooks through the `straddle` binary: deliveries that survive `kill -9`
//! of the server mid-delivery, the `webhook-endpoints` commands, and
//! `straddle webhooks listen` verifying and forwarding events.

mod support;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use straddle_sdk::webhooks::Webhook;
use support::Process;

const BIN: &str = env!("CARGO_BIN_EXE_straddle");

fn scratch() -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("straddle-cli-hooks-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = support::fresh_db::fresh_postgres()
        .unwrap_or_else(|| format!("sqlite://{}/straddle.db", dir.display()));
    (dir, url)
}

/// `straddle serve` with a 2 s webhook timeout and 1 s retries; its URL.
fn serve(dir: &Path, database_url: &str) -> (Process, String) {
    support::serve_with(
        dir,
        database_url,
        &[
            ("STRADDLE_WEBHOOK_TIMEOUT", "2s"),
            ("STRADDLE_WEBHOOK_RETRY_SCHEDULE", "1s,1s,1s"),
        ],
    )
}

fn api_key(dir: &Path, database_url: &str) -> String {
    let created = support::admin(dir, &["bootstrap", "--database-url", database_url]);
    created["api_key"].as_str().unwrap().to_string()
}

/// Runs an API command; its JSON output.
fn straddle(url: &str, key: &str, args: &[&str]) -> Value {
    let output = Command::new(BIN)
        .args(args)
        .env("STRADDLE_BASE_URL", url)
        .env("STRADDLE_API_KEY", key)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn create_customer(url: &str, key: &str, email: &str) -> Value {
    straddle(
        url,
        key,
        &[
            "customers",
            "create",
            "--name",
            "Ron Swanson",
            "--type",
            "individual",
            "--email",
            email,
            "--phone",
            "+12128675309",
            "--device.ip-address",
            "203.0.113.7",
        ],
    )
}

#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A local receiver: records requests, answers 200 after the planned hangs.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    hangs: Arc<Mutex<VecDeque<Duration>>>,
}

impl Receiver {
    async fn start(hangs: &[Duration]) -> (Receiver, String) {
        let receiver = Receiver::default();
        receiver.hangs.lock().unwrap().extend(hangs);
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state.got.lock().unwrap().push(Received { headers, body });
                    let hang = state.hangs.lock().unwrap().pop_front();
                    if let Some(hang) = hang {
                        tokio::time::sleep(hang).await;
                    }
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..600 {
            if self.got.lock().unwrap().len() >= n {
                return self.got.lock().unwrap().clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} requests, got {:?}", self.got.lock().unwrap());
    }
}

fn header(received: &Received, name: &str) -> String {
    received.headers[name].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_delivery_cut_by_kill_9_is_made_after_restart_with_the_same_webhook_id() {
    let (dir, database_url) = scratch();
    let key = api_key(&dir, &database_url);
    let (receiver, hook_url) = Receiver::start(&[Duration::from_secs(30)]).await;
    let (server, url) = serve(&dir, &database_url);
    let created = straddle(
        &url,
        &key,
        &[
            "webhook-endpoints",
            "create",
            "--url",
            &hook_url,
            "--events",
            "customer.created.v1",
            "--description",
            "orders",
        ],
    );
    let endpoint = created["data"].clone();
    let id = endpoint["id"].as_str().unwrap().to_string();
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert_eq!(endpoint["events"], json!(["customer.created.v1"]));
    create_customer(&url, &key, "ron@example.com");

    // The first attempt is under way (the receiver holds it): kill -9.
    let first = receiver.wait_for(1).await;
    drop(server);
    let (_restarted, url) = serve(&dir, &database_url);
    let got = receiver.wait_for(2).await;
    assert_eq!(
        header(&got[1], "webhook-id"),
        header(&first[0], "webhook-id")
    );
    let webhook = Webhook::new(&secret).unwrap();
    let mut headers = got[1].headers.clone();
    headers.remove("host");
    let event = webhook.verify(&got[1].body, &headers).unwrap();
    assert_eq!(event.event_type.as_str(), "customer.created.v1");
    assert_eq!(event.data["email"], "ron@example.com");

    // The other commands, on the same endpoint.
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = straddle(
            &url,
            &key,
            &["webhook-endpoints", "deliveries", "--id", &id],
        );
        if listed["data"][0]["status_code"] == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listed["data"][0]["status_code"], 200, "{listed}");
    let event_id = event.event_id.to_string();
    let retried = straddle(
        &url,
        &key,
        &[
            "webhook-endpoints",
            "retry",
            "--id",
            &id,
            "--event-id",
            &event_id,
        ],
    );
    assert_eq!(retried["data"]["status"], "pending");
    let again = receiver.wait_for(3).await;
    assert_eq!(header(&again[2], "webhook-id"), event_id);
    let rotated = straddle(
        &url,
        &key,
        &["webhook-endpoints", "rotate-secret", "--id", &id],
    );
    assert_ne!(rotated["data"]["secret"], secret.as_str());
    let updated = straddle(
        &url,
        &key,
        &[
            "webhook-endpoints",
            "update",
            "--id",
            &id,
            "--disabled",
            "true",
        ],
    );
    assert_eq!(updated["data"]["disabled"], true);
    let got = straddle(&url, &key, &["webhook-endpoints", "get", "--id", &id]);
    assert_eq!(got["data"]["secret"], rotated["data"]["secret"]);
    let page = straddle(
        &url,
        &key,
        &["webhook-endpoints", "list", "--page-size", "10"],
    );
    assert_eq!(page["meta"]["total_items"], 1);
    straddle(&url, &key, &["webhook-endpoints", "delete", "--id", &id]);
    let page = straddle(&url, &key, &["webhook-endpoints", "list"]);
    assert_eq!(page["meta"]["total_items"], 0);
}

#[tokio::test]
async fn listen_shows_verified_events_forwards_them_and_cleans_up() {
    let (dir, database_url) = scratch();
    let key = api_key(&dir, &database_url);
    let (app, app_url) = Receiver::start(&[]).await;
    let (_server, url) = serve(&dir, &database_url);
    let child = Command::new(BIN)
        .args([
            "webhooks",
            "listen",
            "--forward-to",
            &app_url,
            "--events",
            "customer.created.v1",
        ])
        .env("STRADDLE_BASE_URL", &url)
        .env("STRADDLE_API_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut listen = Process(child);
    let mut stderr = BufReader::new(listen.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("Ready"), "{line}");
    let mut secret_line = String::new();
    stderr.read_line(&mut secret_line).unwrap();
    let secret = secret_line
        .trim_end()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    assert!(secret.starts_with("whsec_"), "{secret_line}");

    let customer = create_customer(&url, &key, "leslie@example.com");
    let forwarded = app.wait_for(1).await;
    let mut headers = forwarded[0].headers.clone();
    headers.remove("host");
    let event = Webhook::new(&secret)
        .unwrap()
        .verify(&forwarded[0].body, &headers)
        .unwrap();
    assert_eq!(event.data["id"], customer["data"]["id"]);

    let status = Command::new("kill")
        .args(["-TERM", &listen.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut stdout = String::new();
    listen
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(listen.0.wait().unwrap().success());
    let mut lines = stdout.lines();
    let shown = lines.next().unwrap();
    assert!(
        shown.starts_with(&format!("verified customer.created.v1 {}", event.event_id))
            && shown.ends_with("[200]"),
        "{stdout}"
    );
    let summary: Value = serde_json::from_str(&lines.collect::<Vec<_>>().join("\n")).unwrap();
    assert_eq!(summary["events_received"], 1);
    assert_eq!(summary["endpoint_removed"], true);
    let page = straddle(&url, &key, &["webhook-endpoints", "list"]);
    assert_eq!(page["meta"]["total_items"], 0);
}
