//! The five Bridge endpoints, fixtures F1–F10 of the spec.

use base64::Engine;
use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{customer_body, spawn_app, spawn_app_with, Options, TestApp};

/// A verified customer named `name`; returns its id.
pub async fn customer(app: &TestApp, name: &str) -> String {
    let email = format!("{}@example.com", uuid::Uuid::now_v7());
    app.create_customer(&customer_body(name, &email)).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn f2_body(customer_id: &str) -> Value {
    json!({"customer_id": customer_id, "routing_number": "026009593", "account_number": "004417253381",
           "account_type": "checking", "external_id": "acme-pk-77", "metadata": {"plan": "gold"}})
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

fn is_full_token(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts[0].len() == 8
        && parts[1] == "02"
        && parts[2].len() == 7
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn f1_initialize_returns_a_four_hour_hs256_bridge_token() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let reply = app
        .send(
            Method::POST,
            "/v1/bridge/initialize",
            Some(&json!({"customer_id": customer_id, "config": {"sandbox_outcome": "standard"}, "external_id": "pk-1"})),
            &[("Idempotency-Key", "init-7f3c91a2b4")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let token = reply.data()["bridge_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    let claims = claims(token);
    assert_eq!(
        claims["http://schemas.microsoft.com/ws/2008/06/identity/claims/role"],
        "straddle-bridge"
    );
    assert_eq!(
        claims["http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationmethod"],
        "straddle-bridge"
    );
    assert_eq!(claims["customer_id"], customer_id.as_str());
    assert_eq!(claims["environment"], "sandbox");
    assert_eq!(claims["account_name"], "Test Platform");
    assert_eq!(claims["sandbox_outcome"], "standard");
    assert_eq!(claims["external_id"], "pk-1");
    assert_eq!(claims["iss"], "straddle-bridge");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        4 * 3600
    );
    assert_eq!(
        uuid::Uuid::parse_str(claims["bridge_token_id"].as_str().unwrap())
            .unwrap()
            .get_version_num(),
        7
    );
    // A bridge token is not an API key.
    app.send_as(token, Method::GET, "/v1/customers", None, &[])
        .await
        .assert_error(401, "authentication_error");
    app.stop().await;
}

#[tokio::test]
async fn f10_unknown_customers_are_404_and_missing_auth_is_401() {
    let app = spawn_app().await;
    let body = json!({"customer_id": "019b8dda-3333-7444-8555-666677778888"});
    let reply = app.post("/v1/bridge/initialize", &body).await;
    reply.assert_error(404, "invalid_request_error");
    assert_eq!(reply.references(), ["customer_id"]);
    assert_eq!(reply.body["error"]["title"], "Resource Not Found");
    let anonymous = app
        .http
        .post(format!("{}/v1/bridge/initialize", app.base_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let mut bank = f2_body("019b8dda-3333-7444-8555-666677778888");
    bank["routing_number"] = json!("026009593");
    app.post("/v1/bridge/bank_account", &bank)
        .await
        .assert_error(404, "invalid_request_error");
    app.stop().await;
}

#[tokio::test]
async fn rejected_and_inactive_customers_cannot_link() {
    let app = spawn_app().await;
    let mut body = customer_body("Rejected Person", "rejected@example.com");
    body["config"] = json!({"sandbox_outcome": "rejected"});
    let rejected = app.create_customer(&body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post("/v1/bridge/initialize", &json!({"customer_id": rejected}))
        .await
        .assert_error(422, "validation_error");
    let reply = app
        .post("/v1/bridge/bank_account", &f2_body(&rejected))
        .await;
    reply.assert_error(422, "validation_error");
    assert_eq!(reply.references(), ["customer_id"]);
    app.post(
        "/v1/bridge/plaid",
        &json!({"customer_id": rejected, "plaid_token": "processor-sandbox-1"}),
    )
    .await
    .assert_error(422, "validation_error");
    app.stop().await;
}

#[tokio::test]
async fn f2_bank_account_inline_is_active_with_label_and_masked_data() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Leslie Knope").await;
    let reply = app
        .post("/v1/bridge/bank_account", &f2_body(&customer_id))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let paykey = reply.data();
    assert!(
        is_full_token(paykey["paykey"].as_str().unwrap()),
        "{}",
        paykey["paykey"]
    );
    assert_eq!(paykey["customer_id"], customer_id.as_str());
    assert_eq!(paykey["label"], "BANK OF AMERICA, N.A. - *3381");
    assert_eq!(paykey["source"], "bank_account");
    assert_eq!(paykey["institution_name"], "BANK OF AMERICA, N.A.");
    assert_eq!(paykey["status"], "active");
    assert_eq!(
        paykey["status_details"]["message"],
        "Bank account successfully validated."
    );
    assert_eq!(paykey["status_details"]["reason"], "ok");
    assert_eq!(paykey["status_details"]["source"], "system");
    assert_eq!(
        paykey["bank_data"],
        json!({"routing_number": "026009593", "account_number": "******3381", "account_type": "checking"})
    );
    assert_eq!(
        paykey["config"],
        json!({"processing_method": "inline", "sandbox_outcome": "standard"})
    );
    assert_eq!(paykey["external_id"], "acme-pk-77");
    assert_eq!(paykey["metadata"], json!({"plan": "gold"}));
    assert!(paykey.get("balance").is_none() && paykey.get("unblock_eligible").is_none());

    let token = paykey["paykey"].as_str().unwrap();
    let fetched = app
        .get(&format!("/v1/paykeys/{}", paykey["id"].as_str().unwrap()))
        .await;
    let masked = format!("{}***.02.******{}", &token[..3], &token[token.len() - 3..]);
    assert_eq!(fetched.data()["paykey"], masked.as_str());
    assert_eq!(fetched.data()["label"], paykey["label"]);
    app.stop().await;
}

#[tokio::test]
async fn unknown_routing_numbers_link_without_an_institution() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ann Perkins").await;
    let mut body = f2_body(&customer_id);
    body["routing_number"] = json!("111000009");
    body["account_number"] = json!("12345678");
    let reply = app.post("/v1/bridge/bank_account", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.data()["label"], "BANK ACCOUNT - *5678");
    assert!(reply.data().get("institution_name").is_none());
    app.stop().await;
}

#[tokio::test]
async fn f3_review_outcome_then_a_manual_decision() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Tom Haverford").await;
    let body = json!({"customer_id": customer_id, "routing_number": "121000248", "account_number": "7730019921",
                      "account_type": "savings", "config": {"sandbox_outcome": "review"}});
    let reply = app.post("/v1/bridge/bank_account", &body).await;
    let paykey = reply.data();
    assert_eq!(paykey["status"], "review");
    assert_eq!(paykey["label"], "WELLS FARGO BANK, N.A. - *9921");
    assert_eq!(paykey["status_details"]["reason"], "require_review");
    assert_eq!(paykey["status_details"]["source"], "watchtower");
    assert_eq!(
        paykey["status_details"]["message"],
        "Paykey requires manual review."
    );
    let path = format!("/v1/paykeys/{}/review", paykey["id"].as_str().unwrap());
    let decided = app
        .send(
            Method::PATCH,
            &path,
            Some(&json!({"status": "active"})),
            &[],
        )
        .await;
    assert_eq!(decided.status, 200);
    assert_eq!(decided.data()["status"], "active");
    assert_eq!(decided.data()["status_details"]["source"], "user_action");
    app.stop().await;
}

#[tokio::test]
async fn f4_plaid_background_is_pending_then_final_with_a_balance() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Alberta Charleson").await;
    let child = app.embedded_account().await.to_string();
    // The customer lives in the embedded account, as in F4.
    let created = app
        .send(
            Method::POST,
            "/v1/customers",
            Some(&customer_body("Alberta Charleson", "alberta@example.com")),
            &[("Straddle-Account-Id", child.as_str())],
        )
        .await;
    let child_customer = created.data()["id"].as_str().unwrap().to_string();
    let body = json!({"customer_id": child_customer, "plaid_token": "processor-sandbox-4c1f0e8a-2b7d-4f3e-9a61-7d2e5b8c0f94",
                      "config": {"processing_method": "background", "sandbox_outcome": "active"}});
    let header = [("Straddle-Account-Id", child.as_str())];
    let reply = app
        .send(Method::POST, "/v1/bridge/plaid", Some(&body), &header)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let paykey = reply.data();
    assert_eq!(paykey["status"], "pending");
    assert_eq!(paykey["status_details"]["reason"], "validating");
    assert_eq!(
        paykey["status_details"]["message"],
        "Verifying account ownership."
    );
    assert_eq!(paykey["label"], "FIRST PLATYPUS BANK - *9606");
    assert_eq!(paykey["source"], "plaid");
    assert_eq!(
        paykey["bank_data"],
        json!({"routing_number": "011401533", "account_number": "******9606", "account_type": "checking"})
    );
    assert_eq!(paykey["balance"], json!({"status": "pending"}));
    // Not in the platform's own scope.
    let path = format!("/v1/paykeys/{}", paykey["id"].as_str().unwrap());
    app.get(&path)
        .await
        .assert_error(404, "invalid_request_error");
    let _ = customer_id;

    app.clock.advance(Duration::seconds(4));
    let mut done = Value::Null;
    for _ in 0..100 {
        let reply = app.send(Method::GET, &path, None, &header).await;
        if reply.data()["balance"]["status"] == "completed" {
            done = reply.data().clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done["status"], "active", "{done}");
    assert_eq!(done["status_details"]["reason"], "ok");
    assert_eq!(done["balance"]["account_balance"], 10000);
    app.stop().await;
}

#[tokio::test]
async fn f5_tan_links_with_source_tan() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "April Ludgate").await;
    let body = json!({"customer_id": customer_id, "routing_number": "322271627", "tan": "9847310022651", "account_type": "checking"});
    let reply = app.post("/v1/bridge/tan", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.data()["source"], "tan");
    assert_eq!(reply.data()["label"], "JPMORGAN CHASE BANK, NA - *2651");
    assert_eq!(reply.data()["bank_data"]["account_number"], "******2651");
    assert_eq!(reply.data()["status"], "active");
    let bad = app.post("/v1/bridge/tan", &json!({"customer_id": customer_id, "routing_number": "322271627", "tan": "12ab", "account_type": "checking"})).await;
    bad.assert_error(400, "validation_error");
    assert_eq!(bad.references(), ["tan"]);
    app.stop().await;
}

#[tokio::test]
async fn f6_quiltt_with_a_rejected_outcome_and_the_alias_field() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Andy Dwyer").await;
    let token = "YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA=";
    let reply = app.post("/v1/bridge/quiltt", &json!({"customer_id": customer_id, "quiltt_token": token, "config": {"sandbox_outcome": "rejected"}})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let paykey = reply.data();
    assert_eq!(paykey["source"], "quiltt");
    assert_eq!(paykey["label"], "MX BANK - *0457");
    assert_eq!(paykey["status"], "rejected");
    assert_eq!(paykey["status_details"]["reason"], "failed_verification");
    assert_eq!(paykey["bank_data"]["routing_number"], "091000019");
    let alias = app
        .post(
            "/v1/bridge/quiltt",
            &json!({"customer_id": customer_id, "quiltt_processor_token": token}),
        )
        .await;
    assert_eq!(alias.status, 201, "{}", alias.body);
    let missing = app
        .post("/v1/bridge/quiltt", &json!({"customer_id": customer_id}))
        .await;
    missing.assert_error(400, "validation_error");
    assert_eq!(missing.references(), ["quiltt_token"]);
    app.stop().await;
}

#[tokio::test]
async fn f7_typed_input_is_validated_field_by_field() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Jerry Gergich").await;
    let body = json!({"customer_id": customer_id, "routing_number": "021000022", "account_number": "55512", "account_type": "checking",
                      "metadata": {"this_key_is_definitely_longer_than_forty_chars": "x"}});
    let reply = app.post("/v1/bridge/bank_account", &body).await;
    reply.assert_error(400, "validation_error");
    assert_eq!(reply.references(), ["routing_number", "metadata"]);
    assert_eq!(
        reply.body["error"]["items"][0]["detail"],
        "Routing number check digit is invalid."
    );

    let body = json!({"customer_id": customer_id, "routing_number": "12345", "account_number": "12-34", "account_type": "checking"});
    assert_eq!(
        app.post("/v1/bridge/bank_account", &body)
            .await
            .references(),
        ["routing_number", "account_number"]
    );
    let body =
        json!({"customer_id": "nope", "routing_number": 26009593, "account_type": "money_market"});
    let mut references = app
        .post("/v1/bridge/bank_account", &body)
        .await
        .references();
    references.sort();
    assert_eq!(
        references,
        [
            "account_number",
            "account_type",
            "customer_id",
            "routing_number"
        ]
    );
    let body = json!({"customer_id": customer_id, "routing_number": "026009593", "account_number": "12345678", "account_type": "checking", "config": {"sandbox_outcome": "approved"}});
    assert_eq!(
        app.post("/v1/bridge/bank_account", &body)
            .await
            .references(),
        ["config.sandbox_outcome"]
    );
    app.stop().await;
}

#[tokio::test]
async fn f8_f9_idempotency_on_every_bridge_endpoint() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Donna Meagle").await;
    let plaid = json!({"customer_id": customer_id, "plaid_token": "processor-sandbox-4c1f0e8a"});
    app.send(
        Method::POST,
        "/v1/bridge/plaid",
        Some(&plaid),
        &[("Idempotency-Key", "abc123")],
    )
    .await
    .assert_error(400, "invalid_request_error");
    let bodies = [
        (
            "/v1/bridge/initialize",
            json!({"customer_id": customer_id}),
            200,
        ),
        ("/v1/bridge/bank_account", f2_body(&customer_id), 201),
        ("/v1/bridge/plaid", plaid, 201),
        (
            "/v1/bridge/tan",
            json!({"customer_id": customer_id, "routing_number": "322271627", "tan": "9847310022651", "account_type": "checking"}),
            201,
        ),
        (
            "/v1/bridge/quiltt",
            json!({"customer_id": customer_id, "quiltt_token": "YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA="}),
            201,
        ),
    ];
    for (i, (path, body, status)) in bodies.iter().enumerate() {
        let key = format!("pk-bank-00000000{i}");
        let header = [("Idempotency-Key", key.as_str())];
        let first = app.send(Method::POST, path, Some(body), &header).await;
        let again = app.send(Method::POST, path, Some(body), &header).await;
        assert_eq!(first.status.as_u16(), *status, "{path}: {}", first.body);
        assert_eq!(again.status.as_u16(), *status);
        assert_eq!(first.body, again.body, "{path} replays the same body");
        assert_eq!(again.headers["idempotent-replayed"], "true");
        let mut changed = body.clone();
        changed["external_id"] = json!("different");
        let conflict = app.send(Method::POST, path, Some(&changed), &header).await;
        conflict.assert_error(409, "invalid_request_error");
        assert_eq!(conflict.headers["x-should-retry"], "false");
    }
    assert_eq!(
        app.get("/v1/paykeys").await.body["meta"]["total_items"],
        4,
        "one paykey per link endpoint"
    );
    app.stop().await;
}

#[tokio::test]
async fn provider_refusals_are_422_and_outages_502() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Craig Middlebrooks").await;
    let refused = app
        .post(
            "/v1/bridge/plaid",
            &json!({"customer_id": customer_id, "plaid_token": "processor-sandbox-invalid"}),
        )
        .await;
    refused.assert_error(422, "validation_error");
    assert_eq!(refused.references(), ["plaid_token"]);
    let shape = app
        .post(
            "/v1/bridge/plaid",
            &json!({"customer_id": customer_id, "plaid_token": "not-a-processor-token"}),
        )
        .await;
    shape.assert_error(422, "validation_error");
    let outage = app
        .post(
            "/v1/bridge/plaid",
            &json!({"customer_id": customer_id, "plaid_token": "processor-sandbox-timeout"}),
        )
        .await;
    outage.assert_error(502, "api_error");
    assert!(
        !outage.body.to_string().contains("timed out"),
        "5xx bodies carry no internal text"
    );
    let quiltt = app.post("/v1/bridge/quiltt", &json!({"customer_id": customer_id, "quiltt_token": "YWNjdF9zYW5kYm94X2ludmFsaWQ6OWYyYzBlNzdiMWQ0NDhhMA=="})).await;
    quiltt.assert_error(422, "validation_error");
    assert_eq!(quiltt.references(), ["quiltt_token"]);
    app.stop().await;
}

#[tokio::test]
async fn standard_outcome_matches_the_customer_against_account_owners() {
    let app = spawn_app().await;
    for (name, status) in [
        ("Alberta Bobbeth Charleson", "active"),
        ("Bob Charleson", "review"),
        ("Ron Swanson", "rejected"),
    ] {
        let customer_id = customer(&app, name).await;
        let reply = app
            .post(
                "/v1/bridge/plaid",
                &json!({"customer_id": customer_id, "plaid_token": "processor-sandbox-abc"}),
            )
            .await;
        assert_eq!(reply.data()["status"], status, "{name}: {}", reply.body);
        let review = app
            .get(&format!(
                "/v1/paykeys/{}/review",
                reply.data()["id"].as_str().unwrap()
            ))
            .await;
        let name_match = &review.data()["verification_details"]["breakdown"]["name_match"];
        assert_eq!(name_match["customer_name"], name);
        assert_eq!(
            name_match["names_on_account"],
            json!(["Alberta Bobbeth Charleson"])
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn production_servers_ignore_sandbox_outcome() {
    let (url, secrets) = crate::helpers::fresh_database().await;
    let app = spawn_app_with(Options {
        database_url: Some(url),
        secrets_file: Some(secrets),
        production: true,
        ..Default::default()
    })
    .await;
    let customer_id = customer(&app, "Ben Wyatt").await;
    let mut body = f2_body(&customer_id);
    body["config"] = json!({"sandbox_outcome": "rejected"});
    let reply = app.post("/v1/bridge/bank_account", &body).await;
    assert_eq!(reply.data()["status"], "active");
    assert_eq!(
        reply.data()["config"]["sandbox_outcome"],
        "rejected",
        "stored and echoed"
    );
    let id = reply.data()["id"].as_str().unwrap();
    app.send(
        Method::POST,
        &format!("/v1/sandbox/paykeys/{id}/simulate_return"),
        Some(&json!({"code": "R29"})),
        &[],
    )
    .await
    .assert_error(404, "invalid_request_error");
    app.stop().await;
}

#[tokio::test]
async fn account_numbers_are_encrypted_at_rest() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Chris Traeger").await;
    let mut body = f2_body(&customer_id);
    body["account_number"] = json!("73519046285");
    assert_eq!(app.post("/v1/bridge/bank_account", &body).await.status, 201);
    let tan = json!({"customer_id": customer_id, "routing_number": "322271627", "tan": "86420975319", "account_type": "checking"});
    assert_eq!(app.post("/v1/bridge/tan", &tan).await.status, 201);
    let stored = crate::helpers::stored_text(&app).await;
    for secret in ["73519046285", "86420975319", "123-45-6789"] {
        assert!(!stored.contains(secret), "{secret} is stored in the clear");
    }
    assert!(
        stored.contains("******") || stored.contains("v1:d"),
        "the dump saw the paykey rows"
    );
    app.stop().await;
}
