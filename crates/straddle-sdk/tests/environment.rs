//! `STRADDLE_API_KEY` and `STRADDLE_BASE_URL`. One test in its own binary,
//! because it changes the process environment.

use serde_json::json;
use straddle_sdk::{Client, Environment, Error};
use uuid::Uuid;
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn the_key_and_base_url_come_from_the_environment_unless_given() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer sk_from_env"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({})))
        .mount(&server)
        .await;

    std::env::remove_var("STRADDLE_API_KEY");
    std::env::remove_var("STRADDLE_BASE_URL");
    let missing = Client::from_env().unwrap_err();
    assert!(matches!(missing, Error::InvalidArgument(ref m) if m.contains("STRADDLE_API_KEY")));
    assert_eq!(
        Client::new("sk_given").unwrap().base_url(),
        "https://sandbox.straddle.com"
    );

    std::env::set_var("STRADDLE_API_KEY", "sk_from_env");
    std::env::set_var("STRADDLE_BASE_URL", server.uri());
    let client = Client::from_env().unwrap();
    assert_eq!(client.base_url(), server.uri());
    let error = client
        .customers()
        .get(Uuid::now_v7(), None)
        .await
        .unwrap_err();
    assert_eq!(
        error.status().unwrap(),
        404,
        "the env key reached the server"
    );

    let explicit = Client::builder()
        .environment(Environment::Production)
        .build()
        .unwrap();
    assert_eq!(explicit.base_url(), "https://production.straddle.com");
}
