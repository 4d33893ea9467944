//! The hosted Bridge widget: its page and the widget's own API, which only a
//! bridge token opens, for one paykey per session.

use reqwest::Method;
use serde_json::{json, Value};

use crate::bridge::customer;
use crate::helpers::{spawn_app, spawn_app_with, Options, Reply, TestApp};

/// A bridge token for `customer_id` with extra initialize fields.
async fn bridge_token(app: &TestApp, customer_id: &str, extra: Value) -> String {
    let mut body = json!({"customer_id": customer_id});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let reply = app.post("/v1/bridge/initialize", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.data()["bridge_token"].as_str().unwrap().to_string()
}

/// A call to the widget API with `token` as the bearer.
async fn widget(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Reply {
    app.send_as(token, method, &format!("/widget/api/{path}"), body, &[])
        .await
}

fn manual_body() -> Value {
    json!({"routing_number": "026009593", "account_number": "004417253381", "account_type": "savings"})
}

fn sign_in_body(institution_id: &str, password: &str) -> Value {
    json!({"institution_id": institution_id, "username": "user_good", "password": password})
}

fn open_banking_body(account_id: &str) -> Value {
    json!({"institution_id": "first_platypus", "account_id": account_id,
           "username": "user_good", "password": "pass_good"})
}

/// Asserts a refused token with its machine code.
fn assert_token_problem(reply: &Reply, code: &str) {
    reply.assert_error(401, "authentication_error");
    assert_eq!(
        reply.body["error"]["items"],
        json!([{"reference": "bridge_token", "detail": code}]),
        "{}",
        reply.body
    );
}

async fn paykeys_of(app: &TestApp, customer_id: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/v1/paykeys?customer_id={customer_id}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.data().as_array().unwrap().clone()
}

#[tokio::test]
async fn widget_page_is_served_at_the_root_framed_only_by_the_declared_parent() {
    let app = spawn_app().await;
    let page = app
        .http
        .get(format!(
            "{}/?parentOriginURL=app.example.com%3A8443&parentOriginProtocol=https&allowManualEntry=true",
            app.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(
        policy.ends_with("frame-ancestors https://app.example.com:8443"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("/widget/assets/widget.js"));
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "no inline code"
    );

    let script = app
        .http
        .get(format!("{}/widget/assets/widget.js", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(script.headers()["x-content-type-options"], "nosniff");

    let missing = app
        .http
        .get(format!("{}/widget/assets/nothing.js", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn widget_page_without_a_well_formed_parent_cannot_be_framed() {
    let app = spawn_app().await;
    for query in [
        "",
        "?parentOriginURL=evil.com%20https%3A%2F%2Fx.com&parentOriginProtocol=https",
        "?parentOriginURL=example.com&parentOriginProtocol=javascript",
    ] {
        let page = app
            .http
            .get(format!("{}/{query}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 400, "{query}");
        let policy = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(policy.ends_with("frame-ancestors 'none'"), "{policy}");
    }
    app.stop().await;
}

#[tokio::test]
async fn session_describes_the_platform_to_the_bridge_token_alone() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let token = bridge_token(&app, &customer_id, json!({})).await;
    let reply = widget(&app, &token, Method::GET, "session", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["response_type"], "object");
    assert_eq!(reply.data()["account_name"], "Test Platform");
    assert_eq!(reply.data()["environment"], "sandbox");
    assert_eq!(reply.data()["open_banking"], true);
    assert!(reply.data()["expires_at"].as_i64().unwrap() > 0);

    let banks = widget(&app, &token, Method::GET, "institutions", None).await;
    let names: Vec<&str> = banks
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"First Platypus Bank"), "{names:?}");

    // The platform's API key is not a bridge token.
    let key = app.api_key.clone();
    assert_token_problem(
        &widget(&app, &key, Method::GET, "session", None).await,
        "invalid_token",
    );
    app.stop().await;
}

#[tokio::test]
async fn bridge_token_opens_nothing_on_the_platform_api() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let token = bridge_token(&app, &customer_id, json!({})).await;
    for (method, path) in [
        (Method::GET, "/v1/customers"),
        (Method::GET, &format!("/v1/customers/{customer_id}") as &str),
        (Method::GET, "/v1/paykeys"),
    ] {
        app.send_as(&token, method, path, None, &[])
            .await
            .assert_error(401, "authentication_error");
    }
    let mut body = manual_body();
    body["customer_id"] = json!(customer_id);
    app.send_as(
        &token,
        Method::POST,
        "/v1/bridge/bank_account",
        Some(&body),
        &[],
    )
    .await
    .assert_error(401, "authentication_error");
    assert!(paykeys_of(&app, &customer_id).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn missing_forged_and_unknown_tokens_are_invalid() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let token = bridge_token(&app, &customer_id, json!({})).await;

    let anonymous = app
        .http
        .get(format!("{}/widget/api/session", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["items"][0]["detail"], "invalid_token");

    let (head, rest) = token.rsplit_once('.').unwrap();
    let forged_signature = format!("{head}.{}", rest.chars().rev().collect::<String>());
    for bad in ["not-a-jwt", forged_signature.as_str()] {
        assert_token_problem(
            &widget(&app, bad, Method::GET, "session", None).await,
            "invalid_token",
        );
    }

    // A genuine token whose session row is gone names no session.
    sqlx::query("DELETE FROM bridge_session")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert_token_problem(
        &widget(&app, &token, Method::GET, "session", None).await,
        "invalid_token",
    );
    app.stop().await;
}

#[tokio::test]
async fn tokens_expire_after_four_hours_by_the_server_clock() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let token = bridge_token(&app, &customer_id, json!({})).await;
    app.clock.advance(chrono::Duration::seconds(4 * 3600 - 1));
    let reply = widget(&app, &token, Method::GET, "session", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    app.clock.advance(chrono::Duration::seconds(1));
    assert_token_problem(
        &widget(&app, &token, Method::GET, "session", None).await,
        "expired_token",
    );
    assert_token_problem(
        &widget(
            &app,
            &token,
            Method::POST,
            "bank_account",
            Some(&manual_body()),
        )
        .await,
        "expired_token",
    );
    assert!(paykeys_of(&app, &customer_id).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn manual_entry_validates_like_the_api_and_keeps_the_session_open() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let token = bridge_token(&app, &customer_id, json!({})).await;
    let cases = [
        (
            json!({"routing_number": "026009594", "account_number": "004417253381", "account_type": "checking"}),
            vec!["routing_number"],
        ),
        (
            json!({"routing_number": "02600959", "account_number": "12", "account_type": "checking"}),
            vec!["routing_number", "account_number"],
        ),
        (
            json!({"routing_number": "026009593", "account_number": "0044172533810000000", "account_type": "checking"}),
            vec!["account_number"],
        ),
        (
            json!({"routing_number": "026009593", "account_number": "004417253381", "account_type": "brokerage"}),
            vec!["account_type"],
        ),
        (
            json!({"routing_number": "026009593", "account_number": "004417253381"}),
            vec!["account_type"],
        ),
    ];
    for (body, references) in cases {
        let reply = widget(&app, &token, Method::POST, "bank_account", Some(&body)).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.references(), references, "{body}");
    }
    let reply = widget(
        &app,
        &token,
        Method::POST,
        "bank_account",
        Some(&manual_body()),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    app.stop().await;
}

#[tokio::test]
async fn manual_entry_links_one_paykey_with_the_session_config_and_external_id() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let token = bridge_token(
        &app,
        &customer_id,
        json!({"external_id": "acme-widget-1", "config": {"sandbox_outcome": "review"}}),
    )
    .await;
    let reply = widget(
        &app,
        &token,
        Method::POST,
        "bank_account",
        Some(&manual_body()),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["response_type"], "object");
    assert!(reply.body["meta"]["api_request_id"].is_string());
    let paykey = reply.data();
    assert_eq!(paykey["source"], "bank_account");
    assert_eq!(paykey["customer_id"], customer_id.as_str());
    assert_eq!(paykey["external_id"], "acme-widget-1");
    assert_eq!(paykey["status"], "review");
    assert_eq!(
        paykey["config"],
        json!({"processing_method": "inline", "sandbox_outcome": "review"})
    );
    assert_eq!(paykey["label"], "BANK OF AMERICA, N.A. - *3381");
    assert_eq!(
        paykey["bank_data"],
        json!({"routing_number": "026009593", "account_number": "******3381", "account_type": "savings"})
    );

    let fetched = app
        .get(&format!("/v1/paykeys/{}", paykey["id"].as_str().unwrap()))
        .await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.data()["external_id"], "acme-widget-1");

    for (method, path, body) in [
        (Method::GET, "session", None),
        (Method::POST, "bank_account", Some(manual_body())),
        (
            Method::POST,
            "open_banking/paykey",
            Some(open_banking_body("plaid_checking")),
        ),
    ] {
        assert_token_problem(
            &widget(&app, &token, method, path, body.as_ref()).await,
            "used_token",
        );
    }
    assert_eq!(paykeys_of(&app, &customer_id).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn background_processing_from_the_session_config_is_honoured() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Alberta Bobbeth Charleson").await;
    let token = bridge_token(
        &app,
        &customer_id,
        json!({"config": {"processing_method": "background"}}),
    )
    .await;
    let reply = widget(
        &app,
        &token,
        Method::POST,
        "open_banking/paykey",
        Some(&open_banking_body("plaid_checking")),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.data()["status"], "pending");
    assert_eq!(reply.data()["status_details"]["reason"], "validating");
    app.stop().await;
}

#[tokio::test]
async fn concurrent_links_in_one_session_create_one_paykey() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let token = bridge_token(&app, &customer_id, json!({})).await;
    let body = manual_body();
    let attempts = (0..8).map(|_| widget(&app, &token, Method::POST, "bank_account", Some(&body)));
    let replies = futures::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1);
    for reply in replies.iter().filter(|r| r.status != 201) {
        assert_token_problem(reply, "used_token");
    }
    assert_eq!(paykeys_of(&app, &customer_id).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn open_banking_signs_in_with_the_test_credentials_only() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let token = bridge_token(&app, &customer_id, json!({})).await;
    let path = "open_banking/accounts";

    let wrong = widget(
        &app,
        &token,
        Method::POST,
        path,
        Some(&sign_in_body("first_platypus", "pass_bad")),
    )
    .await;
    wrong.assert_error(422, "validation_error");
    assert_eq!(wrong.references(), ["credentials"]);

    let unknown = widget(
        &app,
        &token,
        Method::POST,
        path,
        Some(&sign_in_body("no_such_bank", "pass_good")),
    )
    .await;
    unknown.assert_error(404, "invalid_request_error");
    assert_eq!(unknown.references(), ["institution_id"]);

    let accounts = widget(
        &app,
        &token,
        Method::POST,
        path,
        Some(&sign_in_body("first_platypus", "pass_good")),
    )
    .await;
    assert_eq!(accounts.status, 200, "{}", accounts.body);
    assert_eq!(
        accounts.data()[0],
        json!({"id": "plaid_checking", "name": "Plaid Checking", "account_type": "checking",
               "mask": "9606", "balance_cents": 10000})
    );

    let mut link = open_banking_body("plaid_checking");
    link["password"] = json!("pass_bad");
    widget(
        &app,
        &token,
        Method::POST,
        "open_banking/paykey",
        Some(&link),
    )
    .await
    .assert_error(422, "validation_error");
    assert!(paykeys_of(&app, &customer_id).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn open_banking_paykeys_come_from_straddle_and_match_the_customer_name() {
    let app = spawn_app().await;
    for (name, account, status) in [
        ("Alberta Bobbeth Charleson", "plaid_checking", "active"),
        ("Jordan Charleson", "plaid_checking", "review"),
        ("Ron Swanson", "plaid_saving", "rejected"),
    ] {
        let customer_id = customer(&app, name).await;
        let token = bridge_token(&app, &customer_id, json!({"external_id": "ob-1"})).await;
        let reply = widget(
            &app,
            &token,
            Method::POST,
            "open_banking/paykey",
            Some(&open_banking_body(account)),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let paykey = reply.data();
        assert_eq!(paykey["status"], status, "{name}: {paykey}");
        assert_eq!(paykey["source"], "straddle");
        assert_eq!(paykey["institution_name"], "FIRST PLATYPUS BANK");
        assert_eq!(paykey["external_id"], "ob-1");
        assert_eq!(paykey["bank_data"]["routing_number"], "011401533");
        assert!(paykey["balance"]["account_balance"].as_i64().unwrap() > 0);
    }
    let customer_id = customer(&app, "Alberta Bobbeth Charleson").await;
    let token = bridge_token(&app, &customer_id, json!({})).await;
    let reply = widget(
        &app,
        &token,
        Method::POST,
        "open_banking/paykey",
        Some(&open_banking_body("plaid_saving")),
    )
    .await;
    assert_eq!(reply.data()["label"], "FIRST PLATYPUS BANK - *9614");
    let review = app
        .get(&format!(
            "/v1/paykeys/{}/review",
            reply.data()["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        review.data()["verification_details"]["breakdown"]["name_match"]["decision"],
        "accept",
        "{}",
        review.body
    );
    app.stop().await;
}

#[tokio::test]
async fn a_production_server_offers_no_test_banks() {
    let app = spawn_app_with(Options {
        production: true,
        ..Options::default()
    })
    .await;
    let customer_id = customer(&app, "Alberta Bobbeth Charleson").await;
    let token = bridge_token(&app, &customer_id, json!({})).await;
    let session = widget(&app, &token, Method::GET, "session", None).await;
    assert_eq!(session.data()["environment"], "production");
    assert_eq!(session.data()["open_banking"], false);
    let banks = widget(&app, &token, Method::GET, "institutions", None).await;
    assert_eq!(banks.data(), &json!([]));
    widget(
        &app,
        &token,
        Method::POST,
        "open_banking/paykey",
        Some(&open_banking_body("plaid_checking")),
    )
    .await
    .assert_error(404, "invalid_request_error");
    let manual = widget(
        &app,
        &token,
        Method::POST,
        "bank_account",
        Some(&manual_body()),
    )
    .await;
    assert_eq!(manual.status, 201, "{}", manual.body);
    app.stop().await;
}
