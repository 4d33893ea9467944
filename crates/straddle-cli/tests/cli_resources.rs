//! `straddle customers …`, `straddle paykeys …`, their reviews and
//! `straddle sandbox …`: every command against the real server.

mod support;

use support::Server;

#[test]
fn every_customer_command_reads_and_changes_customers() {
    let server = Server::start();
    let created = server.run(&[
        "customers",
        "create",
        "--name",
        "Leslie Knope",
        "--type",
        "individual",
        "--email",
        "leslie@pawnee.gov",
        "--phone",
        "+12128675309",
        "--device",
        r#"{"ip_address":"203.0.113.7"}"#,
        "--address.address1",
        "100 Main St",
        "--address.city",
        "Pawnee",
        "--address.state",
        "IN",
        "--address.zip",
        "47998",
        "--compliance-profile.dob",
        "1975-01-18",
        "--compliance-profile.ssn",
        "123-45-6789",
        "--config",
        r#"{"sandbox_outcome":"review"}"#,
        "--external-id",
        "crm-1",
        "--metadata",
        "team=parks",
    ]);
    let customer = created.ok().json()["data"].clone();
    assert_eq!(customer["status"], "review");
    assert_eq!(customer["address"]["city"], "Pawnee");
    assert_eq!(customer["metadata"]["team"], "parks");
    let id = customer["id"].as_str().unwrap();

    let got = server.run(&["customers", "get", "--id", id]).ok().json();
    assert_eq!(got["data"]["email"], "leslie@pawnee.gov");
    assert_ne!(
        got["data"]["compliance_profile"]["ssn"], "123-45-6789",
        "masked"
    );

    let listed = server.run(&[
        "customers",
        "list",
        "--status",
        "review,verified",
        "--types",
        "individual",
        "--sort-by",
        "name",
        "--sort-order",
        "asc",
        "--page-size",
        "10",
    ]);
    let listed = listed.ok().json();
    assert_eq!(listed["response_type"], "array");
    assert_eq!(listed["meta"]["page_size"], 10);
    assert_eq!(listed["data"][0]["id"], id);
    let filtered = server.run(&[
        "customers",
        "list",
        "--external-id",
        "nobody",
        "--created-from",
        "2020-01-01T00:00:00Z",
    ]);
    assert_eq!(filtered.ok().json()["meta"]["total_items"], 0);

    let review = server
        .run(&["customers:review", "get", "--id", id])
        .ok()
        .json();
    assert_eq!(review["data"]["customer_details"]["id"], id);
    let refreshed = server
        .run(&["customers", "review", "refresh-review", "--id", id])
        .ok()
        .json();
    assert_eq!(refreshed["data"]["status"], "review");
    let decided = server.run(&[
        "customers:review",
        "decision",
        "--id",
        id,
        "--status",
        "verified",
    ]);
    assert_eq!(decided.ok().json()["data"]["status"], "verified");

    let updated = server.run(&[
        "customers",
        "update",
        "--id",
        id,
        "--name",
        "Leslie Wyatt",
        "--email",
        "leslie@pawnee.gov",
        "--phone",
        "+12128675300",
        "--device.ip-address",
        "203.0.113.8",
        "--status",
        "verified",
    ]);
    assert_eq!(updated.ok().json()["data"]["name"], "Leslie Wyatt");

    server.run(&["customers", "unmasked", "--id", id]).fails(3);
    let theirs = server.run_as(
        &server.unmask_key,
        &[
            "customers",
            "create",
            "--name",
            "Ann Perkins",
            "--type",
            "individual",
            "--email",
            "ann@pawnee.gov",
            "--phone",
            "+12128675309",
            "--device.ip-address",
            "203.0.113.9",
            "--compliance-profile.ssn",
            "987-65-4321",
            "--compliance-profile.dob",
            "1980-01-01",
        ],
    );
    let theirs = theirs.ok().json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unmasked = server.run_as(
        &server.unmask_key,
        &["customers", "unmasked", "--id", &theirs],
    );
    assert_eq!(
        unmasked.ok().json()["data"]["compliance_profile"]["ssn"],
        "987-65-4321"
    );

    let deleted = server.run(&["customers", "delete", "--id", id]).ok().json();
    assert_eq!(deleted["data"]["id"], id);
    let gone = server.run(&["customers", "get", "--id", id]).fails(4);
    assert!(gone.stderr.contains("HTTP 404 Not Found"), "{gone:?}");
}

#[test]
fn every_paykey_command_reads_and_changes_paykeys() {
    let server = Server::start();
    let customer = server.customer("Alberta Bobbeth Charleson");
    let paykey = server.bank_paykey(&customer, "review");
    let id = paykey["id"].as_str().unwrap();
    let token = paykey["paykey"].as_str().unwrap();

    let listed = server.run(&[
        "paykeys",
        "list",
        "--customer-id",
        &customer,
        "--status",
        "review",
        "--source",
        "bank_account",
        "--sort-by",
        "created_at",
    ]);
    assert_eq!(listed.ok().json()["data"][0]["id"], id);
    let got = server.run(&["paykeys", "get", "--id", id]).ok().json();
    assert_ne!(got["data"]["paykey"], token, "masked");
    let revealed = server.run(&["paykeys", "reveal", "--id", id]).ok().json();
    assert_eq!(revealed["data"]["paykey"], token);
    server.run(&["paykeys", "unmasked", "--id", id]).fails(3);

    let review = server
        .run(&["paykeys:review", "get", "--id", id])
        .ok()
        .json();
    assert_eq!(review["data"]["paykey_details"]["id"], id);
    let refreshed = server
        .run(&["paykeys", "review", "refresh-review", "--id", id])
        .ok()
        .json();
    assert_eq!(refreshed["data"]["status"], "review");
    let decided = server
        .run(&[
            "paykeys:review",
            "decision",
            "--id",
            id,
            "--status",
            "active",
        ])
        .ok()
        .json();
    assert_eq!(decided["data"]["status"], "active");

    let blocked = server
        .run(&["sandbox", "simulate-return", "--id", id, "--code", "R29"])
        .ok()
        .json();
    assert_eq!(blocked["data"]["status"], "blocked");
    let eligible = server
        .run(&["paykeys", "list", "--unblock-eligible", "true"])
        .ok()
        .json();
    assert_eq!(eligible["meta"]["total_items"], 1);
    let unblocked = server
        .run(&[
            "paykeys",
            "unblock",
            "--id",
            id,
            "--message",
            "Customer confirmed",
        ])
        .ok()
        .json();
    assert_eq!(unblocked["data"]["status"], "active");
    let cancelled = server
        .run(&[
            "paykeys",
            "cancel",
            "--id",
            id,
            "--reason",
            "Customer closed the account",
        ])
        .ok()
        .json();
    assert_eq!(cancelled["data"]["status"], "inactive");
    assert_eq!(
        cancelled["data"]["status_details"]["message"],
        "Customer closed the account"
    );

    let plaid = server.run(&[
        "bridge:link",
        "plaid",
        "--customer-id",
        &customer,
        "--plaid-token",
        "processor-sandbox-chase-1",
    ]);
    let plaid_id = plaid.ok().json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refreshing = server
        .run(&["paykeys", "update-balance", "--id", &plaid_id])
        .ok()
        .json();
    assert_eq!(refreshing["data"]["balance"]["status"], "pending");

    let theirs_customer = server.run_as(
        &server.unmask_key,
        &[
            "customers",
            "create",
            "--name",
            "R S",
            "--type",
            "individual",
            "--email",
            "rs@example.com",
            "--phone",
            "+12128675309",
            "--device.ip-address",
            "203.0.113.7",
        ],
    );
    let theirs_customer = theirs_customer.ok().json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = server.run_as(
        &server.unmask_key,
        &[
            "bridge:link",
            "bank-account",
            "--customer-id",
            &theirs_customer,
            "--account-number",
            "004417253381",
            "--account-type",
            "checking",
            "--routing-number",
            "026009593",
        ],
    );
    let theirs = theirs.ok().json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unmasked = server
        .run_as(
            &server.unmask_key,
            &["paykeys", "unmasked", "--id", &theirs],
        )
        .ok()
        .json();
    assert_eq!(
        unmasked["data"]["bank_data"]["account_number"],
        "004417253381"
    );
}

#[test]
fn header_flags_scope_the_account_and_make_writes_idempotent() {
    let server = Server::start();
    let child = server.embedded_account();
    let create = |key: &str, email: &str| {
        server.run(&[
            "customers",
            "create",
            "--name",
            "Tom Haverford",
            "--type",
            "individual",
            "--email",
            email,
            "--phone",
            "+12128675309",
            "--device.ip-address",
            "203.0.113.7",
            "--straddle-account-id",
            &child,
            "--idempotency-key",
            key,
            "--request-id",
            "req-1",
            "--correlation-id",
            "flow-1",
        ])
    };
    let first = create("tom-create-0001", "tom@pawnee.com").ok().json();
    let id = first["data"]["id"].as_str().unwrap();
    let replay = create("tom-create-0001", "tom@pawnee.com").ok().json();
    assert_eq!(
        replay["data"]["id"], id,
        "the same key replays the first response"
    );

    let conflict = create("tom-create-0001", "tommy@pawnee.com").fails(6);
    assert!(
        conflict.stderr.contains("HTTP 409 Conflict"),
        "{conflict:?}"
    );
    assert!(
        conflict
            .stderr
            .contains("next: use a new --idempotency-key"),
        "{conflict:?}"
    );

    server
        .run(&[
            "customers",
            "get",
            "--id",
            id,
            "--straddle-account-id",
            &child,
        ])
        .ok();
    server.run(&["customers", "get", "--id", id]).fails(4);
}
