//! The live Quiltt client against a local fake of Quiltt's partner endpoints.

use std::time::{Duration, Instant};

use serde_json::json;
use straddle_providers::{
    LiveConfig, LiveProvider, ProviderError, Providers, QuilttConfig, QUILTT_TOKEN,
};
use straddle_types::paykey::AccountType;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Fixture F6: base64 of `acct_19FixtureAcct001:9f2c0e77b1d448a0`.
const TOKEN: &str = "YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA=";
const NUMBERS_PATH: &str = "/v1/accounts/acct_19FixtureAcct001/ach_numbers";
const INTROSPECT_PATH: &str = "/v1/introspect/processor_token";

fn live(server: &MockServer, timeout: Duration) -> Providers {
    let config = LiveConfig {
        plaid: None,
        quiltt: Some(QuilttConfig {
            base_url: format!("{}/", server.uri()),
        }),
        timeout,
    };
    Providers::Live(LiveProvider::new(config).expect("client builds"))
}

async fn mount_numbers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(NUMBERS_PATH))
        .and(header("Authorization", format!("Basic {TOKEN}").as_str()))
        .respond_with(response)
        .mount(server)
        .await;
}

fn numbers() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "account_id": "acct_19FixtureAcct001", "number": "8810000457", "routing": "091000019"
    }))
}

async fn mount_introspection(server: &MockServer, account_type: &str) {
    Mock::given(method("POST"))
        .and(path(INTROSPECT_PATH))
        .and(header("Authorization", format!("Basic {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token": TOKEN,
            "account": {"id": "acct_19FixtureAcct001", "type": account_type},
            "environment": {"id": "env_1", "mode": "SANDBOX"},
            "issuer": "QUILTT", "processor": "STRADDLE", "expiresAt": "2026-01-06T00:00:00Z"
        })))
        .mount(server)
        .await;
}

#[tokio::test]
async fn quiltt_account_reads_the_ach_numbers_with_the_token_as_basic_auth() {
    let server = MockServer::start().await;
    mount_numbers(&server, numbers()).await;
    mount_introspection(&server, "SPENDING").await;

    let linked = live(&server, Duration::from_secs(5))
        .quiltt_account(TOKEN)
        .await
        .unwrap();

    assert_eq!(linked.routing_number, "091000019");
    assert_eq!(linked.account_number.expose(), "8810000457");
    assert_eq!(linked.account_type, AccountType::Checking);
    assert_eq!(
        linked.institution_name.as_deref(),
        Some("WELLS FARGO BANK, N.A.")
    );
    assert!(linked.owner_names.is_empty());
    assert_eq!(linked.balance_cents, None);
}

#[tokio::test]
async fn a_savings_account_type_comes_from_introspection() {
    let server = MockServer::start().await;
    mount_numbers(&server, numbers()).await;
    mount_introspection(&server, "SAVINGS").await;

    let linked = live(&server, Duration::from_secs(5))
        .quiltt_account(TOKEN)
        .await
        .unwrap();

    assert_eq!(linked.account_type, AccountType::Savings);
}

#[tokio::test]
async fn without_introspection_the_account_defaults_to_checking() {
    let server = MockServer::start().await;
    mount_numbers(&server, numbers()).await;

    let linked = live(&server, Duration::from_secs(5))
        .quiltt_account(TOKEN)
        .await
        .unwrap();

    assert_eq!(linked.account_type, AccountType::Checking);
}

#[tokio::test]
async fn a_202_means_the_numbers_are_not_ready_yet() {
    let server = MockServer::start().await;
    mount_numbers(&server, ResponseTemplate::new(202)).await;

    let err = live(&server, Duration::from_secs(5))
        .quiltt_account(TOKEN)
        .await
        .unwrap_err();

    assert_eq!(
        err,
        ProviderError::Unavailable("account numbers are not ready yet; retry".into())
    );
}

#[tokio::test]
async fn token_rejections_are_refusals() {
    for status in [401, 403, 404, 422] {
        let server = MockServer::start().await;
        let body = json!({"message": "Invalid processor token", "instance": "x"});
        mount_numbers(&server, ResponseTemplate::new(status).set_body_json(body)).await;

        let err = live(&server, Duration::from_secs(5))
            .quiltt_account(TOKEN)
            .await
            .unwrap_err();

        assert_eq!(
            err,
            ProviderError::Refused {
                reference: QUILTT_TOKEN,
                detail: format!(
                    "Quiltt refused the processor token: Invalid processor token (HTTP {status})."
                ),
            },
            "HTTP {status}"
        );
    }
}

#[tokio::test]
async fn a_quiltt_500_is_unavailable() {
    let server = MockServer::start().await;
    mount_numbers(&server, ResponseTemplate::new(500)).await;

    let err = live(&server, Duration::from_secs(5))
        .quiltt_account(TOKEN)
        .await
        .unwrap_err();

    assert_eq!(
        err,
        ProviderError::Unavailable("Quiltt answered HTTP 500".into())
    );
}

#[tokio::test]
async fn a_slow_quiltt_times_out_as_unavailable() {
    let server = MockServer::start().await;
    mount_numbers(&server, numbers().set_delay(Duration::from_secs(3))).await;
    let started = Instant::now();

    let err = live(&server, Duration::from_millis(200))
        .quiltt_account(TOKEN)
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::Unavailable("Quiltt timed out".into()));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_malformed_token_is_refused_without_calling_quiltt() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let providers = live(&server, Duration::from_secs(5));

    for token in [
        "processor-sandbox-123abc",
        "bm8tY29sb24=",
        "YWNjdC8uLi94OnNlY3JldA==",
    ] {
        let err = providers.quiltt_account(token).await.unwrap_err();
        assert_eq!(err.reference(), Some(QUILTT_TOKEN), "{token}");
    }
}

#[tokio::test]
async fn quiltt_balance_is_unknown_to_a_processor_token_holder() {
    let server = MockServer::start().await;
    let providers = live(&server, Duration::from_secs(5));

    let err = providers.quiltt_balance(TOKEN).await.unwrap_err();

    assert!(
        matches!(err, ProviderError::Unavailable(ref m) if m.contains("balances")),
        "{err:?}"
    );
    let err = providers.quiltt_balance("not-a-token").await.unwrap_err();
    assert_eq!(err.reference(), Some(QUILTT_TOKEN));
}
