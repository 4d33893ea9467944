//! The OpenAPI document: self-consistent, named as the official SDKs name
//! the operations, and its declared limits applied by the server. (Full
//! OpenAPI 3.1 validation and the fuzzer run in scripts/fuzz-openapi.sh.)

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::bridge::{customer, f2_body};
use crate::helpers::spawn_app;

/// The served OpenAPI document.
pub async fn document() -> Value {
    let app = spawn_app().await;
    let doc = app
        .http
        .get(format!("{}/openapi.json", app.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.stop().await;
    doc
}

/// Every `$ref` in `value`.
fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target.clone());
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(list) => list.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut all = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((method.clone(), path.clone(), operation));
        }
    }
    all
}

#[tokio::test]
async fn every_reference_resolves_and_every_schema_is_used_under_its_own_name() {
    let doc = document().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut found = vec![];
    refs(&doc, &mut found);
    assert!(found.len() > 100, "{}", found.len());
    for target in &found {
        let pointer = target.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
    }
    // The customer's and the paykey's verification breakdowns differ.
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["VerificationBreakdown"]["properties"]["decision"].is_object());
    let paykey = &schemas["PaykeyVerificationBreakdown"]["properties"];
    assert!(paykey["name_match"].is_object() && paykey["account_validation"].is_object());
    assert!(schemas.get("BTreeMap").is_none());
    assert_eq!(schemas["Metadata"]["maxProperties"], 20);
}

#[tokio::test]
async fn operation_ids_are_unique_and_follow_the_official_sdks() {
    let doc = document().await;
    let ids: Vec<String> = operations(&doc)
        .iter()
        .map(|(method, path, operation)| {
            let id = operation["operationId"].as_str();
            id.unwrap_or_else(|| panic!("{method} {path} has no operationId"))
                .to_string()
        })
        .collect();
    let unique: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), ids.len(), "duplicated: {ids:?}");
    // The method names of straddle==1.0.5 (`bridge.link.create_tan` from 0.5.0).
    for expected in [
        "customers.create",
        "customers.list",
        "customers.retrieve",
        "customers.update",
        "customers.delete",
        "customers.list_unmasked",
        "customers.refresh_review",
        "customers.review.list",
        "customers.review.set_verification_decision",
        "paykeys.list",
        "paykeys.retrieve",
        "paykeys.list_unmasked",
        "paykeys.reveal",
        "paykeys.cancel",
        "paykeys.refresh_balance",
        "paykeys.refresh_review",
        "paykeys.unblock",
        "paykeys.review.list",
        "paykeys.review.set_verification_decision",
        "bridge.create_token",
        "bridge.create_bank_account_paykey",
        "bridge.create_plaid_paykey",
        "bridge.create_quiltt_paykey",
        "bridge.link.create_tan",
    ] {
        assert!(unique.contains(expected), "{expected} missing: {ids:?}");
    }
}

#[tokio::test]
async fn shared_statuses_and_headers_are_documented_on_every_operation() {
    let doc = document().await;
    for (method, path, operation) in operations(&doc) {
        let responses = operation["responses"].as_object().unwrap();
        let mut statuses = vec!["400", "401", "403", "429", "503"];
        if method != "get" {
            statuses.extend(["408", "409", "413"]);
        }
        if path.contains("{id}") {
            statuses.push("404");
        }
        let resolve = |status: &str| {
            let response = responses
                .get(status)
                .unwrap_or_else(|| panic!("{method} {path}: no {status}"));
            match response["$ref"].as_str() {
                Some(target) => doc.pointer(&target[1..]).unwrap().clone(),
                None => response.clone(),
            }
        };
        for status in statuses {
            let response = resolve(status);
            assert!(response["headers"]["Request-Id"].is_object(), "{status}");
            assert!(
                response["content"]["application/json"].is_object(),
                "{status}"
            );
        }
        assert!(resolve("429")["headers"]["Retry-After"].is_object());
        let parameters: Vec<&str> = operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["$ref"].as_str())
            .map(|r| r.rsplit('/').next().unwrap())
            .collect();
        for header in ["Straddle-Account-Id", "Request-Id", "Correlation-Id"] {
            assert!(parameters.contains(&header), "{method} {path}: {header}");
        }
        assert_eq!(parameters.contains(&"Idempotency-Key"), method != "get");
    }
    let list = &doc["paths"]["/v1/paykeys"]["get"]["parameters"];
    let page_number = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page_number")
        .unwrap();
    assert_eq!(page_number["schema"]["minimum"], 1);
    assert_eq!(page_number["schema"]["maximum"], 2_147_483_647);
    let cancel = &doc["paths"]["/v1/paykeys/{id}/cancel"]["put"]["requestBody"];
    assert_eq!(cancel["required"], false);
}

#[tokio::test]
async fn the_declared_limits_are_the_ones_applied() {
    let app = spawn_app().await;
    for list in ["/v1/customers", "/v1/paykeys"] {
        app.get(&format!("{list}?page_number=2147483648"))
            .await
            .assert_error(400, "invalid_request_error");
        let last = app.get(&format!("{list}?page_number=2147483647")).await;
        assert_eq!(last.status, 200, "{}", last.body);
        assert_eq!(last.data(), &json!([]));
    }
    // Cancel's body is optional: none at all cancels with the default reason.
    let customer_id = customer(&app, "Leslie Knope").await;
    let created = app
        .post("/v1/bridge/bank_account", &f2_body(&customer_id))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let path = format!(
        "/v1/paykeys/{}/cancel",
        created.data()["id"].as_str().unwrap()
    );
    let cancelled = app.send(Method::PUT, &path, None, &[]).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.data()["status"], "inactive");
    app.stop().await;
}
