//! Webhooks: events from every change, signed deliveries checked with an
//! independent Standard Webhooks implementation, retries, rotation,
//! disabling, address checks in production, accounts, and several instances.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::Duration as Span;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::bridge::{customer, f2_body};
use crate::cluster::{spawn_cluster, ClusterOptions};
use crate::helpers::{customer_body, spawn_app, spawn_app_with, Options, TestApp};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// How the receiver answers its next request.
#[derive(Clone, Debug)]
pub enum Answer {
    Status(u16),
    Hang(Duration),
    Redirect(String),
}

/// A local webhook receiver that records requests and answers as planned
/// (200 once the plan is used up, or `fallback`).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    plan: Arc<Mutex<VecDeque<Answer>>>,
    fallback: Arc<Mutex<u16>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let receiver = Receiver {
            url: String::new(),
            got: Arc::default(),
            plan: Arc::default(),
            fallback: Arc::new(Mutex::new(200)),
        };
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move { state.answer(headers, body).await }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, ..receiver }
    }

    async fn answer(&self, headers: HeaderMap, body: String) -> Response {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        self.got.lock().unwrap().push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            content_type: header("content-type"),
            body,
        });
        let next = self.plan.lock().unwrap().pop_front();
        match next {
            Some(Answer::Status(code)) => StatusCode::from_u16(code).unwrap().into_response(),
            Some(Answer::Hang(wait)) => {
                tokio::time::sleep(wait).await;
                StatusCode::OK.into_response()
            }
            Some(Answer::Redirect(to)) => (StatusCode::FOUND, [("location", to)]).into_response(),
            None => StatusCode::from_u16(*self.fallback.lock().unwrap())
                .unwrap()
                .into_response(),
        }
    }

    pub fn plan(&self, answers: impl IntoIterator<Item = Answer>) {
        self.plan.lock().unwrap().extend(answers);
    }

    pub fn always(&self, status: u16) {
        *self.fallback.lock().unwrap() = status;
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (bounded) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {n} webhooks, got {:?}", self.received());
    }

    /// Waits for `n` requests, then a little longer to see no more come.
    pub async fn exactly(&self, n: usize) -> Vec<Received> {
        self.wait_for(n).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let got = self.received();
        assert_eq!(got.len(), n, "unexpected extra webhooks: {got:#?}");
        got
    }
}

/// Standard Webhooks verification written from the specification, not with
/// the server's code: some `v1,` signature in the header must be the
/// base64 HMAC-SHA256 of `id.timestamp.body` under the decoded secret.
pub fn signed_by(secret: &str, received: &Received) -> bool {
    let key = B64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", received.id, received.timestamp, received.body).as_bytes());
    let expected = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    received.signature.split(' ').any(|sig| sig == expected)
}

async fn endpoint(app: &TestApp, body: Value) -> Value {
    let reply = app.post("/v1/webhook_endpoints", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.data().clone()
}

fn short_timeout(config: &mut straddle_server::Config) {
    config.webhooks.timeout = Duration::from_secs(1);
}

/// (type, object id) of each event, sorted.
fn kinds(got: &[Received]) -> Vec<(String, String)> {
    let mut kinds: Vec<_> = got
        .iter()
        .map(|r| {
            let event = r.json();
            (
                event["event_type"].as_str().unwrap().to_string(),
                event["data"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    kinds.sort();
    kinds
}

fn pair(event_type: &str, id: &str) -> (String, String) {
    (event_type.to_string(), id.to_string())
}

/// Every field of an event's `data` has the value the API returns.
fn same_values(data: &Value, api: &Value) {
    for (key, value) in data.as_object().unwrap() {
        assert_eq!(value, &api[key], "field {key}");
    }
}

#[tokio::test]
async fn every_change_emits_one_signed_event_of_its_type_and_failed_requests_none() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let hook = endpoint(
        &app,
        json!({"url": receiver.url, "description": "all events"}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert!(B64.decode(&secret[6..]).unwrap().len() >= 24);
    assert_eq!(hook["disabled"], false);
    assert_eq!(hook["events"], Value::Null);

    let mut body = customer_body("Leslie Knope", "leslie@example.com");
    body["config"] = json!({"sandbox_outcome": "review"});
    let c1 = app.create_customer(&body).await;
    let c1_id = c1["id"].as_str().unwrap().to_string();
    let decided = app
        .send(
            Method::PATCH,
            &format!("/v1/customers/{c1_id}/review"),
            Some(&json!({"status": "verified"})),
            &[],
        )
        .await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    let linked = app.post("/v1/bridge/bank_account", &f2_body(&c1_id)).await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    let p1 = linked.data().clone();
    let p1_id = p1["id"].as_str().unwrap().to_string();
    let cancel = format!("/v1/paykeys/{p1_id}/cancel");
    assert_eq!(app.send(Method::PUT, &cancel, None, &[]).await.status, 200);
    // Cancelling twice is refused: the failed request emits nothing.
    app.send(Method::PUT, &cancel, None, &[])
        .await
        .assert_error(422, "validation_error");
    let mut background = f2_body(&c1_id);
    background["config"] = json!({"processing_method": "background"});
    background["external_id"] = json!("pk-bg");
    let p2 = app.post("/v1/bridge/bank_account", &background).await;
    assert_eq!(p2.status, 201, "{}", p2.body);
    let p2_id = p2.data()["id"].as_str().unwrap().to_string();
    assert_eq!(p2.data()["status"], "pending");
    app.clock.advance(Span::seconds(4));
    app.eventually(&format!("/v1/paykeys/{p2_id}"), |p| {
        p["status"] != "pending"
    })
    .await;
    let refreshed = app
        .send(
            Method::PUT,
            &format!("/v1/customers/{c1_id}/refresh_review"),
            None,
            &[],
        )
        .await;
    assert_eq!(refreshed.status, 202, "{}", refreshed.body);
    let c2_id = customer(&app, "Ann Perkins").await;
    let deleted = app
        .send(Method::DELETE, &format!("/v1/customers/{c2_id}"), None, &[])
        .await;
    assert_eq!(deleted.status, 200);

    let got = receiver.exactly(9).await;
    let mut expected = vec![
        pair("customer.created.v1", &c1_id),
        pair("customer.event.v1", &c1_id),
        pair("customer.event.v1", &c1_id),
        pair("paykey.created.v1", &p1_id),
        pair("paykey.event.v1", &p1_id),
        pair("paykey.created.v1", &p2_id),
        pair("paykey.event.v1", &p2_id),
        pair("customer.created.v1", &c2_id),
        pair("customer.event.v1", &c2_id),
    ];
    expected.sort();
    assert_eq!(kinds(&got), expected);
    let ids: BTreeSet<_> = got.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 9, "one event id per change");
    for received in &got {
        assert!(signed_by(&secret, received), "{received:?}");
        assert_eq!(received.content_type, "application/json");
        let event = received.json();
        assert_eq!(event["event_id"], received.id);
        assert_eq!(event["account_id"], app.account_id.to_string());
        assert_eq!(
            event.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["account_id", "data", "event_id", "event_type"]
        );
    }

    let find = |event_type: &str, id: &str| -> Vec<Value> {
        got.iter()
            .map(Received::json)
            .filter(|e| e["event_type"] == event_type && e["data"]["id"] == id)
            .map(|e| e["data"].clone())
            .collect()
    };
    let created = &find("customer.created.v1", &c1_id)[0];
    assert_eq!(created["status"], "review");
    assert_eq!(created["compliance_profile"]["ssn"], "***-**-****");
    assert!(
        created.get("config").is_none(),
        "only the event type's fields"
    );
    same_values(created, &c1);
    let paykey_created = &find("paykey.created.v1", &p1_id)[0];
    same_values(paykey_created, &p1);
    assert_eq!(paykey_created["bank_data"]["account_number"], "******3381");
    let cancelled = &find("paykey.event.v1", &p1_id)[0];
    assert_eq!(cancelled["status"], "inactive");
    let revealed = app.get(&format!("/v1/paykeys/{p1_id}/reveal")).await;
    same_values(cancelled, revealed.data());
    assert_eq!(cancelled["paykey"], p1["paykey"], "the full token");
    let verified = &find("paykey.event.v1", &p2_id)[0];
    let p2_now = app.get(&format!("/v1/paykeys/{p2_id}/reveal")).await;
    same_values(verified, p2_now.data());

    let attempts = app
        .get(&format!(
            "/v1/webhook_endpoints/{}/deliveries",
            hook["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(attempts.body["meta"]["total_items"], 9);
    assert!(attempts
        .data()
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["status_code"] == 200 && a["succeeded"] == true));
    app.stop().await;
}

#[tokio::test]
async fn failures_are_retried_on_schedule_with_the_same_webhook_id() {
    let app = spawn_app_with(Options {
        configure: Some(short_timeout),
        ..Options::default()
    })
    .await;
    let receiver = Receiver::start().await;
    let elsewhere = Receiver::start().await;
    receiver.plan([
        Answer::Redirect(elsewhere.url.clone()),
        Answer::Status(500),
        Answer::Hang(Duration::from_secs(3)),
    ]);
    let hook = endpoint(
        &app,
        json!({"url": receiver.url, "events": ["customer.created.v1"]}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    let deliveries = format!(
        "/v1/webhook_endpoints/{}/deliveries",
        hook["id"].as_str().unwrap()
    );
    customer(&app, "Tom Haverford").await;

    let count = |app: &TestApp| {
        let path = deliveries.clone();
        let http = app.http.clone();
        let (base, key) = (app.base_url.clone(), app.api_key.clone());
        async move {
            let reply: Value = http
                .get(format!("{base}{path}"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            reply
        }
    };
    let wait_attempts = |n: u64| {
        let count = &count;
        let app = &app;
        async move {
            for _ in 0..200 {
                let body = count(app).await;
                if body["meta"]["total_items"] == n {
                    return body;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("never {n} attempts: {}", count(app).await);
        }
    };

    receiver.wait_for(1).await;
    wait_attempts(1).await;
    app.clock.advance(Span::seconds(5));
    receiver.wait_for(2).await;
    wait_attempts(2).await;
    app.clock.advance(Span::minutes(5));
    receiver.wait_for(3).await;
    wait_attempts(3).await;
    app.clock.advance(Span::minutes(30));
    let got = receiver.exactly(4).await;
    let listed = wait_attempts(4).await;

    assert!(
        elsewhere.received().is_empty(),
        "redirects are not followed"
    );
    assert!(
        got.iter().all(|r| r.id == got[0].id),
        "same webhook-id on every retry"
    );
    assert!(got.iter().all(|r| signed_by(&secret, r)));
    let rows = listed["data"].as_array().unwrap();
    assert_eq!(rows[0]["status_code"], 200);
    assert_eq!(rows[0]["succeeded"], true);
    assert_eq!(rows[1]["status_code"], Value::Null);
    assert!(
        rows[1]["error"].as_str().unwrap().contains("timed out"),
        "{}",
        rows[1]
    );
    assert_eq!(rows[2]["status_code"], 500);
    assert_eq!(rows[3]["status_code"], 302);
    assert_eq!(rows[3]["succeeded"], false);
    assert!(rows
        .iter()
        .all(|r| r["event_id"] == got[0].id.as_str() && r["event_type"] == "customer.created.v1"));

    // A manual retry sends the same event again.
    let retry = app
        .post(&format!("{}/{}/retry", deliveries, got[0].id), &json!({}))
        .await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(retry.data()["status"], "pending");
    let again = receiver.wait_for(5).await;
    assert_eq!(again[4].id, got[0].id);
    app.post(
        &format!("{}/{}/retry", deliveries, uuid::Uuid::now_v7()),
        &json!({}),
    )
    .await
    .assert_error(404, "invalid_request_error");
    app.stop().await;
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_for_a_day() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, json!({"url": receiver.url})).await;
    let id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap().to_string();
    let rotated = app
        .post(
            &format!("/v1/webhook_endpoints/{id}/rotate_secret"),
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = rotated.data()["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(
        app.get(&format!("/v1/webhook_endpoints/{id}")).await.data()["secret"],
        new
    );

    customer(&app, "April Ludgate").await;
    let first = receiver.wait_for(1).await[0].clone();
    assert_eq!(first.signature.split(' ').count(), 2);
    assert!(signed_by(&new, &first) && signed_by(&old, &first));

    app.clock.advance(Span::hours(25));
    customer(&app, "Andy Dwyer").await;
    let second = receiver.wait_for(2).await[1].clone();
    assert_eq!(second.signature.split(' ').count(), 1);
    assert!(signed_by(&new, &second) && !signed_by(&old, &second));
    app.stop().await;
}

#[tokio::test]
async fn disabled_endpoints_get_nothing_and_failing_ones_are_disabled_after_five_days() {
    let app = spawn_app().await;
    let live = Receiver::start().await;
    let off = Receiver::start().await;
    let failing = Receiver::start().await;
    failing.always(500);
    endpoint(&app, json!({"url": live.url})).await;
    let off_hook = endpoint(&app, json!({"url": off.url})).await;
    let failing_hook = endpoint(&app, json!({"url": failing.url})).await;
    let off_path = format!("/v1/webhook_endpoints/{}", off_hook["id"].as_str().unwrap());
    let patched = app
        .send(
            Method::PATCH,
            &off_path,
            Some(&json!({"disabled": true})),
            &[],
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.data()["disabled"], true);

    customer(&app, "Chris Traeger").await;
    live.wait_for(1).await;
    failing.wait_for(1).await;
    let failing_path = format!(
        "/v1/webhook_endpoints/{}",
        failing_hook["id"].as_str().unwrap()
    );
    // The first failure is recorded after the receiver has answered; time
    // moves on only once it is, or the failing streak would start 6 days
    // later.
    app.eventually(&format!("{failing_path}/deliveries"), |attempts| {
        attempts.as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    app.clock.advance(Span::days(6));
    failing.wait_for(2).await;
    app.eventually(&failing_path, |e| e["disabled"] == true)
        .await;

    customer(&app, "Ben Wyatt").await;
    live.wait_for(2).await;
    failing.exactly(2).await;
    off.exactly(0).await;
    assert_eq!(
        app.get(&format!("{off_path}/deliveries")).await.body["meta"]["total_items"],
        0
    );
    app.stop().await;
}

fn allow_localhost(config: &mut straddle_server::Config) {
    config.webhooks.allow_hosts = vec!["localhost".into()];
}

#[tokio::test]
async fn production_refuses_internal_addresses_unless_the_operator_allows_them() {
    let app = spawn_app_with(Options {
        production: true,
        configure: Some(allow_localhost),
        ..Options::default()
    })
    .await;
    let receiver = Receiver::start().await;
    for url in [
        receiver.url.clone(),
        "http://169.254.169.254/latest/meta-data".into(),
        "http://10.0.0.8/hook".into(),
        "http://[::1]:9/hook".into(),
    ] {
        let reply = app
            .post("/v1/webhook_endpoints", &json!({"url": url}))
            .await;
        reply.assert_error(400, "validation_error");
        assert_eq!(reply.references(), ["url"]);
    }
    app.post(
        "/v1/webhook_endpoints",
        &json!({"url": "ftp://example.com/x"}),
    )
    .await
    .assert_error(400, "validation_error");
    let allowed = receiver.url.replace("127.0.0.1", "localhost");
    let hook = endpoint(&app, json!({"url": allowed})).await;
    let id = hook["id"].as_str().unwrap();
    app.send(
        Method::PATCH,
        &format!("/v1/webhook_endpoints/{id}"),
        Some(&json!({"url": "http://192.168.0.1/hook"})),
        &[],
    )
    .await
    .assert_error(400, "validation_error");
    customer(&app, "Donna Meagle").await;
    let got = receiver.wait_for(1).await;
    assert!(signed_by(hook["secret"].as_str().unwrap(), &got[0]));
    app.stop().await;
}

#[tokio::test]
async fn endpoints_belong_to_their_account_and_secrets_are_sealed() {
    let app = spawn_app().await;
    let platform = Receiver::start().await;
    let embedded = Receiver::start().await;
    let embedded_id = embedded_account_id(&app).await;
    let acting = embedded_id.to_string();
    let as_embedded = [("Straddle-Account-Id", acting.as_str())];
    let mine = endpoint(&app, json!({"url": platform.url})).await;
    for _ in 0..2 {
        endpoint(
            &app,
            json!({"url": platform.url, "events": ["paykey.event.v1"]}),
        )
        .await;
    }
    let theirs = app
        .send(
            Method::POST,
            "/v1/webhook_endpoints",
            Some(&json!({"url": embedded.url})),
            &as_embedded,
        )
        .await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);

    let page = app
        .get("/v1/webhook_endpoints?page_size=2&page_number=2")
        .await;
    assert_eq!(page.body["meta"]["total_items"], 3);
    assert_eq!(page.body["meta"]["total_pages"], 2);
    assert_eq!(page.data().as_array().unwrap().len(), 1);
    let listed = app
        .send(Method::GET, "/v1/webhook_endpoints", None, &as_embedded)
        .await;
    assert_eq!(listed.body["meta"]["total_items"], 1);
    app.get(&format!(
        "/v1/webhook_endpoints/{}",
        theirs.data()["id"].as_str().unwrap()
    ))
    .await
    .assert_error(404, "invalid_request_error");

    let created = app
        .send(
            Method::POST,
            "/v1/customers",
            Some(&customer_body("Jerry Gergich", "jerry@example.com")),
            &as_embedded,
        )
        .await;
    assert_eq!(created.status, 201);
    let got = embedded.wait_for(1).await;
    assert_eq!(got[0].json()["account_id"], acting);
    assert!(signed_by(
        theirs.data()["secret"].as_str().unwrap(),
        &got[0]
    ));
    platform.exactly(0).await;

    let secret = mine["secret"].as_str().unwrap();
    let mut reader = app.state.db.reader().await.unwrap();
    let rows = reader
        .conn()
        .fetch_all("SELECT sealed_secret FROM webhook_endpoint", vec![])
        .await
        .unwrap();
    for row in rows {
        let sealed = row.text("sealed_secret").unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains(&secret[6..]));
    }
    drop(reader);

    let deleted = app
        .send(
            Method::DELETE,
            &format!("/v1/webhook_endpoints/{}", mine["id"].as_str().unwrap()),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        app.get("/v1/webhook_endpoints").await.body["meta"]["total_items"],
        2
    );
    app.stop().await;
}

async fn embedded_account_id(app: &TestApp) -> uuid::Uuid {
    app.embedded_account().await
}

#[tokio::test]
async fn the_endpoints_are_in_the_openapi_document_with_unique_operation_ids() {
    let doc = crate::openapi::document().await;
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/webhook_endpoints",
        "/v1/webhook_endpoints/{id}",
        "/v1/webhook_endpoints/{id}/rotate_secret",
        "/v1/webhook_endpoints/{id}/deliveries",
        "/v1/webhook_endpoints/{id}/deliveries/{event_id}/retry",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    let ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .filter(|id| id.starts_with("webhook_endpoints"))
        .collect();
    assert_eq!(ids.len(), 8, "{ids:?}");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 8);
}

#[tokio::test]
async fn several_instances_deliver_each_event_once() {
    let cluster = spawn_cluster(ClusterOptions::default()).await;
    let receiver = Receiver::start().await;
    let hook = cluster
        .post(0, "/v1/webhook_endpoints", &json!({"url": receiver.url}))
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let secret = hook.data()["secret"].as_str().unwrap().to_string();
    let total = 30;
    let creations = (0..total).map(|i| {
        let body = customer_body("Craig Middlebrooks", &format!("craig{i}@example.com"));
        let cluster = &cluster;
        async move { cluster.post(i, "/v1/customers", &body).await.status }
    });
    for status in futures::future::join_all(creations).await {
        assert_eq!(status, 201);
    }
    let got = receiver.exactly(total).await;
    let ids: BTreeSet<_> = got.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), total, "each event delivered once");
    assert!(got.iter().all(|r| signed_by(&secret, r)));
    cluster.stop().await;
}

#[tokio::test]
async fn a_slow_endpoint_does_not_delay_the_others() {
    let app = spawn_app().await;
    let slow = Receiver::start().await;
    let fast = Receiver::start().await;
    let changes = 40;
    slow.plan((0..changes).map(|_| Answer::Hang(Duration::from_secs(30))));
    endpoint(&app, json!({"url": slow.url})).await;
    endpoint(&app, json!({"url": fast.url})).await;
    for i in 0..changes {
        let body = customer_body("Jean-Ralphio Saperstein", &format!("jr{i}@example.com"));
        app.create_customer(&body).await;
    }
    // Well within the slow endpoint's hang: its requests hold only its own slots.
    let got = fast.wait_for(changes).await;
    assert_eq!(got.len(), changes);
    assert!(!slow.received().is_empty());
    app.stop().await;
}
