//! The live Plaid client against a local fake of Plaid's processor endpoints.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use straddle_providers::{
    LiveConfig, LiveProvider, PlaidConfig, ProviderError, Providers, PLAID_TOKEN,
};
use straddle_types::paykey::AccountType;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "processor-sandbox-b0e2c4ee-a763-4df5-bfe9-46a46bce993d";

fn live(server: &MockServer, timeout: Duration) -> Providers {
    let config = LiveConfig {
        plaid: Some(PlaidConfig {
            base_url: server.uri(),
            client_id: "client-123".into(),
            secret: "plaid-secret-xyz".into(),
        }),
        quiltt: None,
        timeout,
    };
    Providers::Live(LiveProvider::new(config).expect("client builds"))
}

fn account_base(subtype: &str) -> Value {
    json!({
        "account_id": "vzeNDwK7KQIm4yEog683uElbp9GRLEFXGK98D",
        "balances": {"available": 100.0, "current": 110.0, "limit": null,
                     "iso_currency_code": "USD", "unofficial_currency_code": null},
        "mask": "0000",
        "name": "Plaid Checking",
        "official_name": "Plaid Gold Standard 0% Interest Checking",
        "type": "depository",
        "subtype": subtype
    })
}

fn auth_answer(subtype: &str, routing: &str) -> Value {
    json!({
        "account": account_base(subtype),
        "numbers": {
            "ach": {"account_id": "vzeNDwK7KQIm4yEog683uElbp9GRLEFXGK98D",
                    "account": "9900009606", "routing": routing, "wire_routing": "021000021"},
            "eft": null, "international": null, "bacs": null
        },
        "request_id": "m8MDnv9okwxFNBV"
    })
}

fn identity_answer() -> Value {
    let mut account = account_base("checking");
    account["owners"] = json!([{
        "names": ["Alberta Bobbeth Charleson"],
        "emails": [{"data": "accountholder0@example.com", "primary": true, "type": "primary"}],
        "phone_numbers": [],
        "addresses": []
    }]);
    json!({"account": account, "request_id": "eOPkBl6t33veI2J"})
}

fn plaid_error(code: &str, message: &str) -> Value {
    json!({
        "error_type": "INVALID_INPUT",
        "error_code": code,
        "error_message": message,
        "display_message": null,
        "request_id": "HNTDNrA8F1shFEW"
    })
}

async fn mount_json(server: &MockServer, route: &str, status: u16, body: Value) {
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

#[tokio::test]
async fn plaid_account_combines_auth_identity_balance_and_institution() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/processor/auth/get"))
        .and(header("Plaid-Version", "2020-09-14"))
        .and(body_partial_json(json!({
            "client_id": "client-123", "secret": "plaid-secret-xyz", "processor_token": TOKEN
        })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(auth_answer("checking", "011401533")),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_json(&server, "/processor/identity/get", 200, identity_answer()).await;
    let balance = json!({"account": account_base("checking"), "request_id": "1"});
    mount_json(&server, "/processor/balance/get", 200, balance).await;
    let account = json!({"account": account_base("checking"), "institution_id": "ins_109508"});
    mount_json(&server, "/processor/account/get", 200, account).await;
    Mock::given(method("POST"))
        .and(path("/institutions/get_by_id"))
        .and(body_partial_json(
            json!({"institution_id": "ins_109508", "country_codes": ["US"]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "institution": {"institution_id": "ins_109508", "name": "First Platypus Bank"},
            "request_id": "2"
        })))
        .mount(&server)
        .await;

    let linked = live(&server, Duration::from_secs(5))
        .plaid_account(TOKEN)
        .await
        .unwrap();

    assert_eq!(
        linked.institution_name.as_deref(),
        Some("FIRST PLATYPUS BANK")
    );
    assert_eq!(linked.routing_number, "011401533");
    assert_eq!(linked.account_number.expose(), "9900009606");
    assert_eq!(linked.account_type, AccountType::Checking);
    assert_eq!(
        linked.owner_names,
        vec!["Alberta Bobbeth Charleson".to_owned()]
    );
    assert_eq!(linked.balance_cents, Some(10_000));
}

#[tokio::test]
async fn a_known_routing_number_is_named_without_asking_plaid() {
    let server = MockServer::start().await;
    let mut auth = auth_answer("savings", "021000021");
    auth["account"]["balances"] = json!({"available": null, "current": 12.34});
    mount_json(&server, "/processor/auth/get", 200, auth).await;
    mount_json(&server, "/processor/identity/get", 200, identity_answer()).await;
    mount_json(&server, "/processor/balance/get", 500, json!({})).await;
    Mock::given(method("POST"))
        .and(path("/processor/account/get"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;

    let linked = live(&server, Duration::from_secs(5))
        .plaid_account(TOKEN)
        .await
        .unwrap();

    assert_eq!(
        linked.institution_name.as_deref(),
        Some("JPMORGAN CHASE BANK, NA")
    );
    assert_eq!(linked.account_type, AccountType::Savings);
    // balance/get failed, so the cached balance from auth/get is used.
    assert_eq!(linked.balance_cents, Some(1_234));
}

#[tokio::test]
async fn a_subtype_other_than_checking_or_savings_is_unsupported() {
    let server = MockServer::start().await;
    mount_json(
        &server,
        "/processor/auth/get",
        200,
        auth_answer("cd", "011401533"),
    )
    .await;

    let err = live(&server, Duration::from_secs(5))
        .plaid_account(TOKEN)
        .await
        .unwrap_err();

    assert!(
        matches!(&err, ProviderError::UnsupportedAccount { reference: PLAID_TOKEN, detail } if detail.contains("`cd`")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_plaid_400_refuses_the_token_with_plaids_code() {
    let server = MockServer::start().await;
    let body = plaid_error(
        "INVALID_PROCESSOR_TOKEN",
        "provided processor token is invalid",
    );
    mount_json(&server, "/processor/auth/get", 400, body).await;

    let err = live(&server, Duration::from_secs(5))
        .plaid_account(TOKEN)
        .await
        .unwrap_err();

    assert_eq!(
        err,
        ProviderError::Refused {
            reference: PLAID_TOKEN,
            detail: "Plaid refused the processor token: provided processor token is invalid (INVALID_PROCESSOR_TOKEN).".into(),
        }
    );
}

#[tokio::test]
async fn an_identity_refusal_fails_the_link() {
    let server = MockServer::start().await;
    mount_json(
        &server,
        "/processor/auth/get",
        200,
        auth_answer("checking", "021000021"),
    )
    .await;
    let body = plaid_error("PRODUCTS_NOT_SUPPORTED", "identity is not enabled");
    mount_json(&server, "/processor/identity/get", 400, body).await;
    let balance = json!({"account": account_base("checking")});
    mount_json(&server, "/processor/balance/get", 200, balance).await;

    let err = live(&server, Duration::from_secs(5))
        .plaid_account(TOKEN)
        .await
        .unwrap_err();

    assert_eq!(err.reference(), Some(PLAID_TOKEN));
}

#[tokio::test]
async fn bad_credentials_are_an_outage_not_a_refusal() {
    let server = MockServer::start().await;
    let body = plaid_error("INVALID_API_KEYS", "invalid client_id or secret provided");
    mount_json(&server, "/processor/auth/get", 400, body).await;

    let err = live(&server, Duration::from_secs(5))
        .plaid_account(TOKEN)
        .await
        .unwrap_err();

    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_plaid_500_is_unavailable() {
    let server = MockServer::start().await;
    let body = json!({"error_type": "API_ERROR", "error_code": "INTERNAL_SERVER_ERROR",
                      "error_message": "an unexpected error occurred", "request_id": "x"});
    mount_json(&server, "/processor/auth/get", 500, body).await;

    let err = live(&server, Duration::from_secs(5))
        .plaid_account(TOKEN)
        .await
        .unwrap_err();

    assert_eq!(
        err,
        ProviderError::Unavailable("Plaid answered HTTP 500".into())
    );
}

#[tokio::test]
async fn a_malformed_answer_is_unavailable() {
    let server = MockServer::start().await;
    mount_json(
        &server,
        "/processor/auth/get",
        200,
        json!({"unexpected": true}),
    )
    .await;

    let err = live(&server, Duration::from_secs(5))
        .plaid_account(TOKEN)
        .await
        .unwrap_err();

    assert!(
        matches!(err, ProviderError::Unavailable(ref m) if m.contains("malformed")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_slow_plaid_times_out_as_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/processor/auth/get"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(auth_answer("checking", "011401533"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let started = Instant::now();

    let err = live(&server, Duration::from_millis(200))
        .plaid_account(TOKEN)
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::Unavailable("Plaid timed out".into()));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn plaid_balance_is_in_cents_preferring_available() {
    let server = MockServer::start().await;
    let mut account = account_base("checking");
    account["balances"] = json!({"available": 1234.56, "current": 2000.0});
    mount_json(
        &server,
        "/processor/balance/get",
        200,
        json!({"account": account}),
    )
    .await;

    let cents = live(&server, Duration::from_secs(5))
        .plaid_balance(TOKEN)
        .await
        .unwrap();

    assert_eq!(cents, 123_456);
}

#[tokio::test]
async fn plaid_balance_refusal_and_missing_balance() {
    let server = MockServer::start().await;
    let body = plaid_error(
        "INVALID_PROCESSOR_TOKEN",
        "provided processor token is invalid",
    );
    mount_json(&server, "/processor/balance/get", 400, body).await;
    let err = live(&server, Duration::from_secs(5))
        .plaid_balance(TOKEN)
        .await
        .unwrap_err();
    assert_eq!(err.reference(), Some(PLAID_TOKEN));

    let server = MockServer::start().await;
    let mut account = account_base("checking");
    account["balances"] = json!({"available": null, "current": null});
    mount_json(
        &server,
        "/processor/balance/get",
        200,
        json!({"account": account}),
    )
    .await;
    let err = live(&server, Duration::from_secs(5))
        .plaid_balance(TOKEN)
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)));
}

#[tokio::test]
async fn an_unconfigured_plaid_is_unavailable() {
    let config = LiveConfig {
        plaid: None,
        quiltt: None,
        timeout: Duration::from_secs(1),
    };
    let providers = Providers::Live(LiveProvider::new(config).unwrap());

    let err = providers.plaid_account(TOKEN).await.unwrap_err();

    assert_eq!(
        err,
        ProviderError::Unavailable("Plaid is not configured on this server".into())
    );
}

#[test]
fn debug_of_the_live_provider_hides_the_plaid_secret() {
    let config = LiveConfig {
        plaid: Some(PlaidConfig {
            base_url: "http://127.0.0.1:1".into(),
            client_id: "client-123".into(),
            secret: "plaid-secret-xyz".into(),
        }),
        quiltt: None,
        timeout: Duration::from_secs(1),
    };
    let shown = format!(
        "{:?} {:?}",
        config,
        LiveProvider::new(config.clone()).unwrap()
    );

    assert!(!shown.contains("plaid-secret-xyz"), "{shown}");
    assert!(shown.contains("client-123"), "{shown}");
}
