//! API keys, embedded accounts and rate limits.

use std::time::Duration;

use reqwest::Method;
use straddle_server::security::secrets::Secrets;
use straddle_server::{admin, Environment};

use crate::helpers::{customer_body, spawn_app, spawn_app_with, Options};

#[tokio::test]
async fn missing_malformed_and_forged_keys_are_401() {
    let app = spawn_app().await;
    let no_key = app
        .http
        .get(format!("{}/v1/customers", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), 401);
    let body: serde_json::Value = no_key.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    app.send_as("not-a-jwt", Method::GET, "/v1/customers", None, &[])
        .await
        .assert_error(401, "authentication_error");
    // A well-formed key signed by another server's secret.
    let (other_url, other_secrets) = crate::helpers::fresh_database().await;
    let other = spawn_app_with(Options {
        database_url: Some(other_url),
        secrets_file: Some(other_secrets),
        ..Default::default()
    })
    .await;
    app.send_as(&other.api_key, Method::GET, "/v1/customers", None, &[])
        .await
        .assert_error(401, "authentication_error");
    other.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn revoked_keys_stop_working_within_the_refresh_interval() {
    let app = spawn_app_with(Options {
        key_cache_refresh: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    let secrets = Secrets::load_or_create(&app.secrets_file).unwrap();
    let (key_id, key) = admin::create_key(&app.state.pipeline, &secrets, app.account_id)
        .await
        .unwrap();
    assert_eq!(
        app.send_as(&key.0, Method::GET, "/v1/customers", None, &[])
            .await
            .status,
        200
    );
    admin::revoke_key(&app.state.pipeline, key_id)
        .await
        .unwrap();
    let mut refused = false;
    for _ in 0..50 {
        if app
            .send_as(&key.0, Method::GET, "/v1/customers", None, &[])
            .await
            .status
            == 401
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "revoked key still accepted");
    assert_eq!(
        app.get("/v1/customers").await.status,
        200,
        "other keys keep working"
    );
    app.stop().await;
}

#[tokio::test]
async fn keys_of_the_other_environment_are_refused() {
    let app = spawn_app().await;
    let secrets = Secrets::load_or_create(&app.secrets_file).unwrap();
    let production = admin::bootstrap(
        &app.state.pipeline,
        &secrets,
        "Prod",
        Environment::Production,
        false,
    )
    .await
    .unwrap();
    app.send_as(
        &production.api_key.0,
        Method::GET,
        "/v1/customers",
        None,
        &[],
    )
    .await
    .assert_error(401, "authentication_error");
    app.stop().await;
}

#[tokio::test]
async fn embedded_accounts_are_reached_only_through_their_platform() {
    let app = spawn_app().await;
    let child = app.embedded_account().await.to_string();
    let header = [("Straddle-Account-Id", child.as_str())];
    let created = app
        .send(
            Method::POST,
            "/v1/customers",
            Some(&customer_body("Tom Haverford", "tom@pawnee.com")),
            &header,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let path = format!("/v1/customers/{}", created.data()["id"].as_str().unwrap());

    assert_eq!(
        app.send(Method::GET, &path, None, &header).await.status,
        200
    );
    let prefixed = format!("acct_{child}");
    assert_eq!(
        app.send(
            Method::GET,
            &path,
            None,
            &[("Straddle-Account-Id", prefixed.as_str())]
        )
        .await
        .status,
        200
    );
    app.get(&path)
        .await
        .assert_error(404, "invalid_request_error");

    let (_, other_key) = app.other_platform(false).await;
    app.send_as(&other_key, Method::GET, &path, None, &header)
        .await
        .assert_error(403, "authentication_error");
    app.send_as(&other_key, Method::GET, &path, None, &[])
        .await
        .assert_error(404, "invalid_request_error");
    app.send(
        Method::GET,
        "/v1/customers",
        None,
        &[("Straddle-Account-Id", "not-a-uuid")],
    )
    .await
    .assert_error(400, "invalid_request_error");
    let listed = app.get("/v1/customers").await;
    assert_eq!(
        listed.body["meta"]["total_items"], 0,
        "platform list must not show the child's customers"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_rate_limit_covers_a_platform_and_its_embedded_accounts() {
    let app = spawn_app_with(Options {
        rate_limit_per_second: 5,
        ..Default::default()
    })
    .await;
    let child = app.embedded_account().await.to_string();
    let mut limited = None;
    for i in 0..12 {
        let headers: &[(&str, &str)] = if i % 2 == 0 {
            &[]
        } else {
            &[("Straddle-Account-Id", child.as_str())]
        };
        let reply = app.send(Method::GET, "/v1/customers", None, headers).await;
        if reply.status == 429 {
            limited = Some(reply);
            break;
        }
    }
    let reply = limited.expect("no 429 after 12 quick requests at 5/s");
    reply.assert_error(429, "invalid_request_error");
    let retry_after: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let (_, other_key) = app.other_platform(false).await;
    assert_eq!(
        app.send_as(&other_key, Method::GET, "/v1/customers", None, &[])
            .await
            .status,
        200,
        "other platforms unaffected"
    );
    app.stop().await;
}
