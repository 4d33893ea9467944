//! A local fake of the API (wiremock) and canned bodies for the SDK tests.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use serde_json::{json, Value};
use straddle_sdk::types::customer::{CustomerCreateRequest, CustomerType, Device};
use straddle_sdk::Client;
use uuid::Uuid;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const KEY: &str = "sk_test_fake_server_key";
pub const REQUEST_ID: &str = "0191ef49-892c-7460-8a6f-2e3c4d5e6f70";

pub fn client(server: &MockServer) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .build()
        .unwrap()
}

pub fn meta() -> Value {
    json!({"api_request_id": REQUEST_ID, "api_request_timestamp": "2026-02-03T05:10:30.308746Z"})
}

pub fn customer(id: Uuid) -> Value {
    json!({"id": id, "name": "Ron Swanson", "type": "individual", "email": "ron@pawnee.gov",
           "phone": "+12128675309", "status": "verified",
           "created_at": "2026-02-03T05:10:30.3087460Z", "updated_at": "2026-02-03T05:10:30.3087460Z"})
}

pub fn created(id: Uuid) -> ResponseTemplate {
    ResponseTemplate::new(201)
        .set_body_json(json!({"meta": meta(), "response_type": "object", "data": customer(id)}))
}

pub fn failure(status: u16, title: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "meta": meta(), "response_type": "error",
        "error": {"status": status, "type": "api_error", "title": title, "detail": "Try again."}
    }))
}

pub fn create_request() -> CustomerCreateRequest {
    CustomerCreateRequest {
        name: "Ron Swanson".into(),
        customer_type: CustomerType::Individual,
        email: "ron@pawnee.gov".into(),
        phone: "+12128675309".into(),
        device: Device {
            ip_address: "203.0.113.7".into(),
        },
        address: None,
        compliance_profile: None,
        config: None,
        external_id: None,
        metadata: None,
    }
}

/// Answers `first` once, then `then` for every later request.
pub async fn fails_then(
    server: &MockServer,
    verb: &str,
    first: ResponseTemplate,
    then: ResponseTemplate,
) {
    Mock::given(method(verb))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method(verb))
        .respond_with(then)
        .with_priority(2)
        .mount(server)
        .await;
}

pub fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

pub async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}
