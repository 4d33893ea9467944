//! Connection timeouts and the connection limit, over raw TCP: what a slow
//! or idle client (or an attacker holding connections open) experiences.

use std::time::{Duration, Instant};

use straddle_server::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app_with, Options, TestApp};

/// Short timeouts so the tests take seconds.
fn short_timeouts(config: &mut Config) {
    config.connections.header_timeout = Duration::from_secs(1);
    config.connections.body_timeout = Duration::from_secs(1);
}

fn at_most_three_connections(config: &mut Config) {
    config.connections.max_connections = 3;
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base_url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or `limit` passes);
/// returns what was read and when the connection closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let remaining = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&received).into_owned(),
                    Some(started.elapsed()),
                )
            }
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), None),
        }
    }
}

#[tokio::test]
async fn headers_sent_a_line_at_a_time_are_cut_off_at_the_header_timeout() {
    let app = spawn_app_with(Options {
        configure: Some(short_timeouts),
        ..Options::default()
    })
    .await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    let mut closed = false;
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if stream
            .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
        {
            closed = true;
            break;
        }
    }
    let elapsed = started.elapsed();
    assert!(
        closed,
        "a slow-loris client kept its connection for {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_body_that_stalls_ends_with_408_in_the_error_envelope() {
    let app = spawn_app_with(Options {
        configure: Some(short_timeouts),
        ..Options::default()
    })
    .await;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        app.api_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // One byte every 200 ms: the server must not wait for all 100.
    let writer = async {
        for _ in 0..100 {
            if stream.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), writer).await;
    let (response, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
    let body: serde_json::Value =
        serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["response_type"], "error");
    assert_eq!(body["error"]["status"], 408);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(closed.is_some(), "the connection stays open after 408");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    app.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(Options {
        configure: Some(short_timeouts),
        ..Options::default()
    })
    .await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (response, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let closed = closed.expect("an idle keep-alive connection stayed open for 5 s");
    assert!(
        closed >= Duration::from_millis(900),
        "closed too soon: {closed:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_and_service_recovers() {
    let app = spawn_app_with(Options {
        configure: Some(at_most_three_connections),
        ..Options::default()
    })
    .await;
    let health = format!("{}/health", app.base_url);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&app).await);
    }
    // The server has seen the three before it sees the fourth.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = connect(&app).await;
    let (_, closed) = read_until_closed(&mut extra, Duration::from_secs(2)).await;
    assert!(closed.is_some(), "a fourth connection was kept open");
    let refused = reqwest::Client::new().get(&health).send().await;
    assert!(refused.is_err(), "served beyond the limit: {refused:?}");

    drop(held);
    let mut recovered = false;
    for _ in 0..50 {
        if let Ok(response) = reqwest::Client::new().get(&health).send().await {
            assert_eq!(response.status(), 200);
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        recovered,
        "the service did not recover once the connections closed"
    );
    app.stop().await;
}
