//! Hardening: text the databases cannot store, duplicate keys, secrets at
//! rest, limits on the unauthenticated paths, connection timeouts.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::bridge::customer;
use crate::helpers::{customer_body, spawn_app, Reply, TestApp};

/// Sends `body` as raw JSON text (duplicate keys and escapes kept as written).
async fn post_raw(app: &TestApp, path: &str, body: &str) -> Reply {
    let response = app
        .http
        .post(format!("{}{path}", app.base_url))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Reply::read(response).await
}

/// Asserts a 400 whose single item names `reference`.
fn assert_refused(reply: &Reply, reference: &str) {
    reply.assert_error(400, "invalid_request_error");
    assert_eq!(reply.references(), [reference], "{}", reply.body);
}

/// A customer body as JSON text with `field` set to a string holding NUL.
fn with_nul(mut body: Value, field: &str) -> String {
    body[field] = json!("a\u{0}b");
    serde_json::to_string(&body).unwrap()
}

#[tokio::test]
async fn nul_characters_are_refused_naming_the_field_on_every_text_input() {
    let app = spawn_app().await;
    let body = customer_body("Ann Perkins", "ann@pawnee.com");
    for field in ["name", "email", "external_id"] {
        let reply = post_raw(&app, "/v1/customers", &with_nul(body.clone(), field)).await;
        assert_refused(&reply, field);
    }
    let mut nested = body.clone();
    nested["metadata"] = json!({"note": "x\u{0}"});
    let reply = post_raw(&app, "/v1/customers", &nested.to_string()).await;
    assert_refused(&reply, "metadata.note");

    let customer_id = customer(&app, "Ann Perkins").await;
    let paykey = json!({"customer_id": customer_id, "routing_number": "026009593",
        "account_number": "004417253381", "account_type": "checking"});
    let reply = post_raw(
        &app,
        "/v1/bridge/bank_account",
        &with_nul(paykey, "external_id"),
    )
    .await;
    assert_refused(&reply, "external_id");
    let init = json!({"customer_id": customer_id});
    let reply = post_raw(
        &app,
        "/v1/bridge/initialize",
        &with_nul(init, "external_id"),
    )
    .await;
    assert_refused(&reply, "external_id");

    for query in [
        "search_text=a%00b",
        "external_id=%00",
        "search_text=ok&x%00=1",
    ] {
        let reply = app.get(&format!("/v1/customers?{query}")).await;
        reply.assert_error(400, "invalid_request_error");
    }
    assert_refused(
        &app.get("/v1/customers?search_text=a%00b").await,
        "search_text",
    );
    assert_refused(
        &app.get("/v1/paykeys?search_text=a%00b").await,
        "search_text",
    );

    // Nothing was stored, and ordinary text still works.
    let list = app.get("/v1/customers").await;
    assert_eq!(list.data().as_array().unwrap().len(), 1, "{}", list.body);
    app.stop().await;
}

#[tokio::test]
async fn duplicate_object_keys_are_refused() {
    let app = spawn_app().await;
    let reply = post_raw(
        &app,
        "/v1/customers",
        r#"{"name": "A", "name": "B", "type": "individual", "email": "a@b.co", "phone": "+12128675309"}"#,
    )
    .await;
    assert_refused(&reply, "name");
    let reply = post_raw(
        &app,
        "/v1/customers",
        r#"{"name": "A", "type": "individual", "email": "a@b.co", "phone": "+12128675309", "metadata": {"k": "1", "k": "2"}}"#,
    )
    .await;
    assert_refused(&reply, "metadata.k");
    app.stop().await;
}

#[tokio::test]
async fn sensitive_values_sent_with_the_wrong_type_are_not_echoed() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ann Perkins").await;
    let bank = json!({"customer_id": customer_id, "routing_number": "026009593",
        "account_number": 4417253381u64, "account_type": "checking"});
    let tan = json!({"customer_id": customer_id, "routing_number": "026009593",
        "tan": 7725338119u64, "account_type": "checking"});
    let mut person = customer_body("Ann Perkins", "ann2@pawnee.com");
    person["compliance_profile"]["ssn"] = json!(123456789);
    for (path, body, secret) in [
        ("/v1/bridge/bank_account", bank, "4417253381"),
        ("/v1/bridge/tan", tan, "7725338119"),
        ("/v1/customers", person, "123456789"),
    ] {
        let reply = app.post(path, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(
            !reply.body.to_string().contains(secret),
            "{path}: {}",
            reply.body
        );
    }
    app.stop().await;
}
