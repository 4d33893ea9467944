//! `straddle bridge …` and `straddle bridge:link …` as the published CLI
//! reference shows them, and every output format.

mod support;

use serde_json::Value;
use support::{Server, SEED_CUSTOMER};

/// The five examples of the published Bridge CLI reference, verbatim.
const SEED_EXAMPLES: [&str; 5] = [
    "straddle bridge initialize \\
  --api-key 'My API Key' \\
  --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e",
    "straddle bridge:link bank-account \\
  --api-key 'My API Key' \\
  --account-number account_number \\
  --account-type checking \\
  --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e \\
  --routing-number xxxxxxxxx",
    "straddle bridge:link plaid \\
  --api-key 'My API Key' \\
  --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e \\
  --plaid-token plaid_token",
    "straddle bridge:link create-tan \\
  --api-key 'My API Key' \\
  --account-type checking \\
  --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e \\
  --routing-number routing_number \\
  --tan tan",
    "straddle bridge:link create-paykey \\
  --api-key 'My API Key' \\
  --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e \\
  --quiltt-token quiltt_token",
];

#[test]
fn every_published_example_runs_verbatim_and_reports_the_servers_401() {
    let server = Server::start();
    for example in SEED_EXAMPLES {
        let run = server.shell(example).fails(3);
        assert!(
            run.stderr.contains("HTTP 401 Unauthorized"),
            "{example}\n{run:?}"
        );
        assert!(run.stderr.contains("  title: Unauthorized\n"), "{run:?}");
        assert!(run.stderr.contains("  detail: "), "{run:?}");
        assert!(run.stderr.contains("  api_request_id: "), "{run:?}");
        assert!(
            run.stderr
                .contains("next: check the API key (--api-key or STRADDLE_API_KEY)"),
            "{run:?}"
        );
    }
}

#[test]
fn the_published_examples_succeed_with_a_real_key_customer_and_tokens() {
    let server = Server::start();
    let customer = server.customer("Alberta Bobbeth Charleson");
    let quiltt = "YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA=";
    let examples = [
        (SEED_EXAMPLES[0].to_string(), "bridge_token"),
        (
            SEED_EXAMPLES[1]
                .replace("account_number", "004417253381")
                .replace("xxxxxxxxx", "026009593"),
            "bank_account",
        ),
        (
            SEED_EXAMPLES[2].replace("plaid_token", "processor-sandbox-chase-1"),
            "plaid",
        ),
        (
            SEED_EXAMPLES[3]
                .replace("routing_number", "322271627")
                .replace("--tan tan", "--tan 9847310022651"),
            "tan",
        ),
        (SEED_EXAMPLES[4].replace("quiltt_token", quiltt), "quiltt"),
    ];
    for (example, expected) in examples {
        let script = example
            .replace("My API Key", &server.key)
            .replace(SEED_CUSTOMER, &customer);
        let envelope = server.shell(&script).ok().json();
        assert_eq!(envelope["response_type"], "object", "{envelope}");
        assert!(envelope["meta"]["api_request_id"].is_string());
        if expected == "bridge_token" {
            assert!(envelope["data"]["bridge_token"].is_string(), "{envelope}");
        } else {
            assert_eq!(envelope["data"]["source"], expected, "{envelope}");
            assert_eq!(envelope["data"]["customer_id"], customer.as_str());
        }
    }
}

#[test]
fn optional_flags_reach_the_api_in_json_and_dotted_form() {
    let server = Server::start();
    let customer = server.customer("Ron Swanson");
    let base = [
        "bridge:link",
        "bank-account",
        "--customer-id",
        &customer,
        "--account-number",
        "004417253381",
        "--account-type",
        "savings",
        "--routing-number",
        "026009593",
        "--external-id",
        "acme-pk-77",
    ];
    let json_form = [
        &base[..],
        &[
            "--config",
            r#"{"sandbox_outcome":"review"}"#,
            "--metadata",
            r#"{"plan":"gold"}"#,
        ],
    ]
    .concat();
    let dotted = [
        &base[..],
        &[
            "--config.sandbox-outcome",
            "review",
            "--metadata",
            "plan=gold",
            "--metadata",
            "tier=2",
        ],
    ]
    .concat();

    for (args, metadata) in [
        (json_form, r#"{"plan":"gold"}"#),
        (dotted, r#"{"plan":"gold","tier":"2"}"#),
    ] {
        let paykey = server.run(&args).ok().json()["data"].clone();
        assert_eq!(paykey["status"], "review", "{paykey}");
        assert_eq!(paykey["config"]["sandbox_outcome"], "review");
        assert_eq!(paykey["bank_data"]["account_type"], "savings");
        assert_eq!(paykey["external_id"], "acme-pk-77");
        assert_eq!(
            paykey["metadata"],
            serde_json::from_str::<Value>(metadata).unwrap()
        );
    }

    let session = server.run(&[
        "bridge",
        "initialize",
        "--customer-id",
        &customer,
        "--config.processing-method",
        "background",
        "--external-id",
        "widget-1",
    ]);
    assert!(session.ok().json()["data"]["bridge_token"].is_string());
    let nested = server.run(&[
        "bridge",
        "link",
        "plaid",
        "--customer-id",
        &customer,
        "--plaid-token",
        "processor-sandbox-1234",
    ]);
    assert_eq!(
        nested.ok().json()["data"]["source"],
        "plaid",
        "`bridge link` is `bridge:link`"
    );
}

#[test]
fn every_output_format_prints_the_whole_envelope() {
    let server = Server::start();
    let customer = server.customer("Ron Swanson");
    let get = |extra: &[&str], env: &[(&str, &str)]| {
        let mut command = support::straddle(&server.url);
        command
            .env("STRADDLE_API_KEY", &server.key)
            .args(["customers", "get", "--id", &customer])
            .args(extra);
        for (name, value) in env {
            command.env(name, value);
        }
        support::Run::from(command.output().unwrap()).ok()
    };

    let json = get(&["--format", "json"], &[]);
    let envelope = json.json();
    assert_eq!(envelope["data"]["id"], customer.as_str());
    assert_eq!(envelope["response_type"], "object");
    assert!(envelope["meta"]["api_request_timestamp"].is_string());
    assert!(
        json.stdout.starts_with("{\n  \""),
        "indented: {}",
        json.stdout
    );

    let line = get(&["--format", "jsonl"], &[]).stdout;
    assert_eq!(line.lines().count(), 1);
    let same_data = |other: Value| assert_eq!(other["data"], envelope["data"]);
    same_data(serde_json::from_str(&line).unwrap());

    let yaml = get(&["--format", "yaml"], &[]).stdout;
    assert!(yaml.contains("response_type: object"), "{yaml}");
    same_data(serde_norway::from_str(&yaml).unwrap());

    let plain = get(&["--format", "pretty"], &[]).stdout;
    assert!(!plain.contains('\x1b'), "no colour when piped");
    same_data(serde_json::from_str(&plain).unwrap());
    let coloured = get(&["--format", "pretty"], &[("CLICOLOR_FORCE", "1")]).stdout;
    assert!(coloured.contains("\x1b[1;34m\"data\"\x1b[0m"), "{coloured}");
    let no_colour = get(
        &["--format", "pretty"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
    )
    .stdout;
    assert!(!no_colour.contains('\x1b'));

    let default = get(&[], &[]).stdout;
    assert!(
        default.starts_with("{\n  \""),
        "json when stdout is not a terminal"
    );
    same_data(serde_json::from_str(&default).unwrap());
}
