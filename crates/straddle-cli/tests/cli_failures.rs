//! How API commands fail: the report on stderr, the documented exit codes,
//! a closed stdout, `--debug`, and `--help` at every level.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use support::{straddle, Run, Server, SEED_CUSTOMER};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk_test_do_not_print_me_0001";

/// Runs `straddle ARGS` with [`KEY`] against `base_url`, without blocking
/// the runtime that serves the fake.
async fn straddle_at(base_url: &str, args: &[&str]) -> Run {
    let mut command = straddle(base_url);
    command.env("STRADDLE_API_KEY", KEY).args(args);
    Run::from(
        tokio::process::Command::from(command)
            .output()
            .await
            .unwrap(),
    )
}

fn error_envelope(status: u16, title: &str) -> serde_json::Value {
    json!({"meta": {"api_request_id": "0191ef49-892c-7460-8a6f-2e3c4d5e6f70", "api_request_timestamp": "2026-02-03T05:10:30.308746Z"},
           "response_type": "error", "error": {"status": status, "type": "api_error", "title": title, "detail": "Details here."}})
}

async fn fake(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

const INITIALIZE: [&str; 4] = ["bridge", "initialize", "--customer-id", SEED_CUSTOMER];

#[test]
fn validation_errors_list_every_field_and_exit_5() {
    let server = Server::start();
    let customer = server.customer("Ron Swanson");
    let run = server.run(&[
        "bridge:link",
        "bank-account",
        "--customer-id",
        &customer,
        "--account-number",
        "12",
        "--account-type",
        "checking",
        "--routing-number",
        "123",
    ]);
    let run = run.fails(5);
    assert!(run.stderr.contains("HTTP 400 Bad Request"), "{run:?}");
    assert!(
        run.stderr.contains("  items:\n    - routing_number: "),
        "{run:?}"
    );
    assert!(run.stderr.contains("    - account_number: "), "{run:?}");
    assert!(run.stderr.contains("  api_request_id: "), "{run:?}");
    assert!(
        run.stderr.contains("next: correct the fields listed above"),
        "{run:?}"
    );
}

#[tokio::test]
async fn bad_flags_are_usage_errors_and_send_nothing() {
    let unreachable = "http://127.0.0.1:1";
    let customer = ["bridge", "initialize", "--customer-id"];
    let cases: [&[&str]; 7] = [
        &[&customer[..], &["not-a-uuid"]].concat(),
        &[&INITIALIZE[..], &["--config", "{oops"]].concat(),
        &[&INITIALIZE[..], &["--config.sandbox-outcome", "maybe"]].concat(),
        &[
            &INITIALIZE[..],
            &["--base-url", "http://x", "--environment", "production"],
        ]
        .concat(),
        &["bridge:link", "plaid", "--customer-id", SEED_CUSTOMER],
        &[
            "bridge:link",
            "create-paykey",
            "--customer-id",
            SEED_CUSTOMER,
            "--quiltt-token",
            "t",
            "--metadata",
            "nokey",
        ],
        &[
            "customers",
            "create",
            "--name",
            "N",
            "--type",
            "individual",
            "--email",
            "e@x.co",
            "--phone",
            "+12128675309",
        ],
    ];
    for args in cases {
        let run = straddle_at(unreachable, args).await.fails(2);
        assert!(!run.stderr.contains("could not reach"), "{run:?}");
    }
    let missing_device = straddle_at(unreachable, cases[6]).await;
    assert!(missing_device
        .stderr
        .contains("--device.ip-address (or --device) is required"));
}

#[tokio::test]
async fn without_an_api_key_the_command_says_where_to_put_one() {
    let mut command = straddle("http://127.0.0.1:1");
    command.args(INITIALIZE);
    let run = Run::from(
        tokio::process::Command::from(command)
            .output()
            .await
            .unwrap(),
    )
    .fails(3);
    assert!(run.stderr.contains("no API key"), "{run:?}");
    assert!(
        run.stderr.contains("--api-key KEY or set STRADDLE_API_KEY"),
        "{run:?}"
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_have_their_own_exit_codes_after_retries() {
    let limited = fake(
        ResponseTemplate::new(429)
            .set_body_json(error_envelope(429, "Too Many Requests"))
            .insert_header("retry-after-ms", "1"),
    )
    .await;
    let run = straddle_at(&limited.uri(), &INITIALIZE).await.fails(7);
    assert!(run.stderr.contains("HTTP 429 Too Many Requests"), "{run:?}");
    assert!(
        run.stderr.contains("  title: Too Many Requests\n"),
        "{run:?}"
    );
    assert!(run
        .stderr
        .contains("  api_request_id: 0191ef49-892c-7460-8a6f-2e3c4d5e6f70"));
    assert_eq!(
        limited.received_requests().await.unwrap().len(),
        3,
        "tried three times"
    );

    let failing = fake(
        ResponseTemplate::new(503)
            .set_body_json(error_envelope(503, "Service Unavailable"))
            .insert_header("x-should-retry", "false"),
    )
    .await;
    let run = straddle_at(&failing.uri(), &INITIALIZE).await.fails(8);
    assert!(
        run.stderr.contains("next: the server failed after retries"),
        "{run:?}"
    );
    assert_eq!(
        failing.received_requests().await.unwrap().len(),
        1,
        "x-should-retry: false"
    );
}

#[tokio::test]
async fn a_response_that_is_not_the_api_exits_1_and_shows_the_body() {
    let proxy =
        fake(ResponseTemplate::new(200).set_body_string("<html>captive portal</html>")).await;
    let run = straddle_at(&proxy.uri(), &INITIALIZE).await.fails(1);
    assert!(
        run.stderr
            .contains("HTTP 200 OK, but the body is not a Straddle API response"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("  body: <html>captive portal</html>"),
        "{run:?}"
    );

    let teapot = fake(ResponseTemplate::new(418).set_body_string("short and stout")).await;
    let run = straddle_at(&teapot.uri(), &INITIALIZE).await.fails(1);
    assert!(
        run.stderr
            .contains("HTTP 418 I'm a teapot\n  body: short and stout\n"),
        "{run:?}"
    );
}

#[tokio::test]
async fn an_unreachable_api_exits_9_and_names_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let run = straddle_at(&url, &INITIALIZE).await.fails(9);
    assert!(run.stderr.contains("could not reach the API"), "{run:?}");
    assert!(run.stderr.contains(&format!("answers at {url}")), "{run:?}");
}

#[tokio::test]
async fn a_closed_stdout_is_not_an_error() {
    let body = json!({"meta": {"api_request_id": "0191ef49-892c-7460-8a6f-2e3c4d5e6f70", "api_request_timestamp": "2026-02-03T05:10:30.308746Z"},
                      "response_type": "object", "data": {"bridge_token": "x.y.z"}});
    let slow = fake(
        ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(Duration::from_millis(300)),
    )
    .await;
    let mut command = straddle(&slow.uri());
    command
        .env("STRADDLE_API_KEY", KEY)
        .args(INITIALIZE)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = tokio::process::Command::from(command).spawn().unwrap();
    drop(child.stdout.take()); // The reader goes away before the response arrives.
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn debug_logs_each_request_without_the_key() {
    let server = fake(
        ResponseTemplate::new(503)
            .set_body_json(error_envelope(503, "Busy"))
            .insert_header("retry-after-ms", "1"),
    )
    .await;
    let mut args = INITIALIZE.to_vec();
    args.extend(["--debug", "--request-id", "req-77"]);
    let run = straddle_at(&server.uri(), &args).await;
    assert_eq!(run.code, 8);
    let sent = run.stderr.matches("sending request").count();
    assert_eq!(sent, 3, "{}", run.stderr);
    assert!(run
        .stderr
        .contains(&format!("url={}/v1/bridge/initialize", server.uri())));
    assert!(run.stderr.contains("method=POST") && run.stderr.contains("status=503"));
    assert!(run.stderr.contains("request_id=\"req-77\"") && run.stderr.contains("retrying"));
    assert!(!run.stderr.contains(KEY), "the key never appears");
    assert!(!run.stderr.contains('\x1b'), "no colour codes in a file");
}

#[test]
fn help_explains_every_level_with_examples() {
    let groups: [&[&str]; 10] = [
        &[],
        &["bridge"],
        &["bridge:link"],
        &["bridge", "link"],
        &["customers"],
        &["customers:review"],
        &["paykeys"],
        &["paykeys:review"],
        &["paykeys", "review"],
        &["sandbox"],
    ];
    for path in groups {
        let run = Run::from(
            straddle("http://127.0.0.1:1")
                .args(path)
                .arg("--help")
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "{path:?}");
        assert!(run.stdout.contains("Usage: straddle"), "{path:?}");
    }
    let leaves: [&[&str]; 25] = [
        &["bridge", "initialize"],
        &["bridge:link", "bank-account"],
        &["bridge:link", "plaid"],
        &["bridge:link", "create-tan"],
        &["bridge:link", "create-paykey"],
        &["customers", "create"],
        &["customers", "update"],
        &["customers", "list"],
        &["customers", "delete"],
        &["customers", "get"],
        &["customers", "unmasked"],
        &["customers:review", "get"],
        &["customers:review", "decision"],
        &["customers:review", "refresh-review"],
        &["paykeys", "list"],
        &["paykeys", "get"],
        &["paykeys", "unmasked"],
        &["paykeys", "reveal"],
        &["paykeys", "cancel"],
        &["paykeys", "update-balance"],
        &["paykeys", "unblock"],
        &["paykeys:review", "get"],
        &["paykeys:review", "decision"],
        &["paykeys:review", "refresh-review"],
        &["sandbox", "simulate-return"],
    ];
    for path in leaves {
        let run = Run::from(
            straddle("http://127.0.0.1:1")
                .args(path)
                .arg("--help")
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "{path:?}");
        let example = format!("Example:\n  straddle {} ", path.join(" "));
        assert!(run.stdout.contains(&example), "{path:?}: {}", run.stdout);
        for flag in [
            "--api-key",
            "--base-url",
            "--environment",
            "--format",
            "--debug",
            "--request-id",
        ] {
            assert!(run.stdout.contains(flag), "{path:?} lacks {flag}");
        }
        let flags = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("      --"))
            .count();
        let examples = run.stdout.matches("Example: --").count();
        assert_eq!(
            flags, examples,
            "{path:?}: every flag has an example\n{}",
            run.stdout
        );
    }
}
