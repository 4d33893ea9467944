//! The API's conventions: envelope, errors, trace headers, OpenAPI, health.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{customer_body, spawn_app};

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_envelope() {
    let app = spawn_app().await;
    app.get("/v1/no_such_thing")
        .await
        .assert_error(404, "invalid_request_error");
    app.send(Method::PATCH, "/v1/customers", None, &[])
        .await
        .assert_error(405, "invalid_request_error");
    app.stop().await;
}

#[tokio::test]
async fn malformed_json_is_a_400_naming_the_body() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}/v1/customers", app.base_url))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["items"][0]["reference"], "body");
    app.stop().await;
}

#[tokio::test]
async fn every_missing_or_mistyped_field_is_named() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/v1/customers",
            &json!({"type": "person", "email": 5, "device": {}, "phone": ["x"]}),
        )
        .await;
    reply.assert_error(400, "invalid_request_error");
    let mut references = reply.references();
    references.sort();
    assert_eq!(
        references,
        ["device.ip_address", "email", "name", "phone", "type"]
    );
    app.stop().await;
}

#[tokio::test]
async fn content_checks_are_validation_errors_with_items() {
    let app = spawn_app().await;
    let mut body = customer_body("Leslie Knope", "leslie@pawnee.com");
    body["phone"] = json!("555-1234");
    body["metadata"] = json!({"this_key_is_definitely_longer_than_forty_chars": "x"});
    let reply = app.post("/v1/customers", &body).await;
    reply.assert_error(400, "validation_error");
    assert_eq!(reply.references(), ["phone", "metadata"]);

    let mut body = customer_body("Leslie Knope", "leslie@pawnee.com");
    body["metadata"] = json!((0..21)
        .map(|i| (format!("k{i}"), json!("v")))
        .collect::<serde_json::Map<_, _>>());
    app.post("/v1/customers", &body)
        .await
        .assert_error(400, "validation_error");
    app.stop().await;
}

#[tokio::test]
async fn unknown_body_fields_are_ignored() {
    let app = spawn_app().await;
    let mut body = customer_body("Ann Perkins", "ann@pawnee.com");
    body["favourite_colour"] = json!("teal");
    let customer = app.create_customer(&body).await;
    assert!(customer.get("favourite_colour").is_none());
    app.stop().await;
}

#[tokio::test]
async fn trace_headers_are_echoed_and_meta_is_present() {
    let app = spawn_app().await;
    let reply = app
        .send(
            Method::GET,
            "/v1/customers",
            None,
            &[("Request-Id", "req-88412"), ("Correlation-Id", "flow-7")],
        )
        .await;
    assert_eq!(reply.headers["request-id"], "req-88412");
    assert_eq!(reply.headers["correlation-id"], "flow-7");
    let id = reply.body["meta"]["api_request_id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert!(reply.body["meta"]["api_request_timestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    app.stop().await;
}

#[tokio::test]
async fn hostile_inputs_never_cause_a_server_error() {
    let app = spawn_app().await;
    let long = "x".repeat(10_000);
    let bodies = [
        json!(null),
        json!([1, 2]),
        json!("text"),
        json!({"name": {"nested": [1]}}),
        json!({"name": long, "type": "individual", "email": "a@b.co", "phone": "+12128675309", "device": {"ip_address": "1.1.1.1"}}),
        json!({"name": "\u{0000}\u{202e}", "type": "business", "email": "a@b.co", "phone": "+12128675309", "device": {"ip_address": "::1"}, "metadata": null, "compliance_profile": {"ein": "12-3456789", "representatives": [{"name": 1}]}}),
    ];
    for body in &bodies {
        let reply = app.post("/v1/customers", body).await;
        assert!(
            reply.status.is_client_error() || reply.status.is_success(),
            "{body} -> {}",
            reply.body
        );
    }
    for path in [
        "/v1/customers/not-a-uuid",
        "/v1/customers?page_size=abc",
        "/v1/customers?page_number=0",
        "/v1/customers?status=nope",
        "/v1/customers?status=",
        "/v1/customers?types=individual,",
        "/v1/paykeys?source=&status=",
        "/v1/paykeys?source=plaid&status=",
        "/v1/customers?created_from=yesterday",
    ] {
        let reply = app.get(path).await;
        reply.assert_error(400, "invalid_request_error");
    }
    app.stop().await;
}

#[tokio::test]
async fn openapi_describes_every_route_and_health_answers() {
    let app = spawn_app().await;
    let spec: serde_json::Value = app
        .http
        .get(format!("{}/openapi.json", app.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = spec["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/v1/customers", &["get", "post"][..]),
        ("/v1/customers/{id}", &["get", "put", "delete"]),
        ("/v1/customers/{id}/unmasked", &["get"]),
        ("/v1/customers/{id}/review", &["get", "patch"]),
        ("/v1/customers/{id}/refresh_review", &["put"]),
        ("/v1/bridge/initialize", &["post"]),
        ("/v1/bridge/bank_account", &["post"]),
        ("/v1/bridge/plaid", &["post"]),
        ("/v1/bridge/tan", &["post"]),
        ("/v1/bridge/quiltt", &["post"]),
        ("/v1/paykeys", &["get"]),
        ("/v1/paykeys/{id}", &["get"]),
        ("/v1/paykeys/{id}/unmasked", &["get"]),
        ("/v1/paykeys/{id}/reveal", &["get"]),
        ("/v1/paykeys/{id}/cancel", &["put"]),
        ("/v1/paykeys/{id}/refresh_balance", &["put"]),
        ("/v1/paykeys/{id}/review", &["get", "patch"]),
        ("/v1/paykeys/{id}/refresh_review", &["put"]),
        ("/v1/paykeys/{id}/unblock", &["patch"]),
        ("/v1/sandbox/paykeys/{id}/simulate_return", &["post"]),
    ] {
        for method in methods {
            assert!(
                paths[path].get(*method).is_some(),
                "{method} {path} missing from OpenAPI"
            );
        }
    }
    let health = app
        .http
        .get(format!("{}/health", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_in_the_envelope() {
    let app = spawn_app().await;
    let mut body = customer_body("Big", "big@pawnee.com");
    body["external_id"] = json!("x".repeat(300 * 1024));
    let reply = app.post("/v1/customers", &body).await;
    reply.assert_error(413, "invalid_request_error");
    app.stop().await;
}
