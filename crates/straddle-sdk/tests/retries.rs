//! Retries against a local fake that fails first: which failures are
//! retried, how long the SDK waits, and the idempotency key it reuses.

mod fake;

use std::time::{Duration, Instant};

use fake::{
    client, create_request, created, fails_then, failure, header, received, KEY, REQUEST_ID,
};
use straddle_sdk::{Client, Error, RequestOptions};
use uuid::Uuid;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

#[tokio::test]
async fn a_503_then_201_succeeds_and_the_retry_reuses_the_generated_idempotency_key() {
    let server = MockServer::start().await;
    let id = Uuid::now_v7();
    let unavailable = failure(503, "Unavailable").insert_header("retry-after-ms", "10");
    fails_then(&server, "POST", unavailable, created(id)).await;

    let response = client(&server)
        .customers()
        .create(create_request(), None)
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
    assert_eq!(response.data.id, id);
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    let keys: Vec<_> = requests
        .iter()
        .map(|r| header(r, "idempotency-key").expect("every attempt carries a key"))
        .collect();
    assert_eq!(keys[0], keys[1], "the retry reuses the key");
    assert!((10..=40).contains(&keys[0].len()), "{}", keys[0]);
}

#[tokio::test]
async fn each_call_gets_its_own_key_and_a_callers_key_is_sent_unchanged() {
    let server = MockServer::start().await;
    fails_then(
        &server,
        "POST",
        failure(500, "Oops").insert_header("retry-after-ms", "1"),
        created(Uuid::now_v7()),
    )
    .await;
    let client = client(&server);
    let mine = RequestOptions {
        idempotency_key: Some("my-key-0000000001".into()),
        ..Default::default()
    };
    client
        .customers()
        .create(create_request(), Some(mine))
        .await
        .unwrap();
    client
        .customers()
        .create(create_request(), None)
        .await
        .unwrap();

    let keys: Vec<_> = received(&server)
        .await
        .iter()
        .map(|r| header(r, "idempotency-key").unwrap())
        .collect();
    assert_eq!(keys[..2], ["my-key-0000000001", "my-key-0000000001"]);
    assert_ne!(keys[2], "my-key-0000000001");
}

#[tokio::test]
async fn after_two_retries_the_last_api_error_is_returned_with_its_details() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(failure(500, "Internal Error").insert_header("retry-after-ms", "1"))
        .mount(&server)
        .await;

    let error = client(&server)
        .customers()
        .create(create_request(), None)
        .await
        .unwrap_err();

    assert_eq!(received(&server).await.len(), 3, "one try and two retries");
    let Error::Api(api) = error else {
        panic!("expected an API error, got {error:?}")
    };
    assert_eq!(api.status, 500);
    assert_eq!(api.error.unwrap().title, "Internal Error");
    assert_eq!(api.api_request_id.unwrap().to_string(), REQUEST_ID);
}

#[tokio::test]
async fn conflicts_and_rate_limits_are_retried_but_other_client_errors_are_not() {
    for (status, attempts) in [(409, 2), (429, 2), (408, 2), (400, 1), (404, 1), (422, 1)] {
        let server = MockServer::start().await;
        let first = failure(status, "First").insert_header("retry-after-ms", "1");
        fails_then(&server, "POST", first, created(Uuid::now_v7())).await;
        let _ = client(&server)
            .customers()
            .create(create_request(), None)
            .await;
        assert_eq!(received(&server).await.len(), attempts, "status {status}");
    }
}

#[tokio::test]
async fn the_server_can_forbid_or_demand_a_retry_with_x_should_retry() {
    let server = MockServer::start().await;
    let no = failure(503, "Busy").insert_header("x-should-retry", "false");
    fails_then(&server, "POST", no, created(Uuid::now_v7())).await;
    let error = client(&server)
        .customers()
        .create(create_request(), None)
        .await;
    assert_eq!(error.unwrap_err().status().unwrap(), 503);
    assert_eq!(received(&server).await.len(), 1);

    let server = MockServer::start().await;
    let yes = failure(400, "Retry me")
        .insert_header("x-should-retry", "true")
        .insert_header("retry-after-ms", "1");
    fails_then(&server, "POST", yes, created(Uuid::now_v7())).await;
    client(&server)
        .customers()
        .create(create_request(), None)
        .await
        .unwrap();
    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn without_server_hints_retries_back_off_exponentially() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(failure(503, "Unavailable"))
        .mount(&server)
        .await;
    let started = Instant::now();
    let _ = client(&server)
        .customers()
        .create(create_request(), None)
        .await;
    let elapsed = started.elapsed();
    // 0.5 s then 1 s, each shortened by at most a quarter of jitter.
    assert!(elapsed >= Duration::from_millis(1125), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn retry_after_in_seconds_is_honoured() {
    let server = MockServer::start().await;
    let limited = failure(429, "Slow down").insert_header("retry-after", "1");
    fails_then(&server, "POST", limited, created(Uuid::now_v7())).await;
    let started = Instant::now();
    client(&server)
        .customers()
        .create(create_request(), None)
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn max_retries_can_be_set_per_client_and_per_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(failure(503, "Unavailable").insert_header("retry-after-ms", "1"))
        .mount(&server)
        .await;
    let no_retries = RequestOptions {
        max_retries: Some(0),
        ..Default::default()
    };
    let _ = client(&server)
        .customers()
        .create(create_request(), Some(no_retries))
        .await;
    assert_eq!(received(&server).await.len(), 1);

    let five = Client::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .max_retries(5)
        .build()
        .unwrap();
    let _ = five.customers().create(create_request(), None).await;
    assert_eq!(received(&server).await.len(), 1 + 6);
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_reported_as_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client
        .customers()
        .get(Uuid::now_v7(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(1125),
        "it backed off twice"
    );
}

#[tokio::test]
async fn a_slow_response_is_a_timeout_and_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(created(Uuid::now_v7()).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .timeout(Duration::from_millis(100))
        .max_retries(1)
        .build()
        .unwrap();
    let error = client
        .customers()
        .get(Uuid::now_v7(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert_eq!(received(&server).await.len(), 2);
}
