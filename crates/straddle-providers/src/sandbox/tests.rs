//! Sandbox provider tests: fixtures, documented tokens, determinism.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::*;
use crate::routing::check_digit_valid;

const F4_TOKEN: &str = "processor-sandbox-4c1f0e8a-2b7d-4f3e-9a61-7d2e5b8c0f94";
const F6_TOKEN: &str = "YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA=";

fn quiltt(account_id: &str) -> String {
    STANDARD.encode(format!("{account_id}:9f2c0e77b1d448a0"))
}

#[test]
fn fixture_f4_token_maps_to_first_platypus_checking() {
    let account = SandboxProvider.plaid_account(F4_TOKEN).unwrap();
    assert_eq!(
        account.institution_name.as_deref(),
        Some("FIRST PLATYPUS BANK")
    );
    assert_eq!(account.routing_number, "011401533");
    assert_eq!(account.account_number.expose(), "9900009606");
    assert_eq!(account.account_type, AccountType::Checking);
    assert_eq!(account.balance_cents, Some(10_000));
    assert_eq!(account.owner_names, vec![DEFAULT_OWNER.to_owned()]);
}

#[test]
fn fixture_f6_token_maps_to_mx_bank_checking() {
    let account = SandboxProvider.quiltt_account(F6_TOKEN).unwrap();
    assert_eq!(account.institution_name.as_deref(), Some("MX BANK"));
    assert_eq!(account.routing_number, "091000019");
    assert_eq!(account.account_number.last4(), "0457");
    assert_eq!(account.account_type, AccountType::Checking);
}

#[test]
fn the_same_token_always_gives_the_same_account() {
    for token in [
        F4_TOKEN,
        "processor-sandbox-chase-1",
        "processor-sandbox-x-owner-jo",
    ] {
        assert_eq!(
            SandboxProvider.plaid_account(token),
            SandboxProvider.plaid_account(token)
        );
    }
    assert_eq!(
        SandboxProvider.quiltt_account(F6_TOKEN),
        SandboxProvider.quiltt_account(F6_TOKEN)
    );
}

#[test]
fn keywords_select_the_documented_plaid_accounts() {
    let cases = [
        (
            "processor-sandbox-savings-1",
            "9900009614",
            AccountType::Savings,
            21_000,
        ),
        (
            "processor-sandbox-overdrawn",
            "9900009622",
            AccountType::Checking,
            -2_500,
        ),
        (
            "processor-sandbox-chase-42",
            "4417250011",
            AccountType::Checking,
            250_000,
        ),
        (
            "processor-sandbox-wells",
            "6132094875",
            AccountType::Savings,
            1_234_567,
        ),
        (
            "processor-sandbox-BofA",
            "004417251234",
            AccountType::Checking,
            52_000,
        ),
    ];
    for (token, number, account_type, balance) in cases {
        let account = SandboxProvider.plaid_account(token).unwrap();
        assert_eq!(account.account_number.expose(), number, "{token}");
        assert_eq!(account.account_type, account_type, "{token}");
        assert_eq!(account.balance_cents, Some(balance), "{token}");
        assert_eq!(SandboxProvider.plaid_balance(token), Ok(balance), "{token}");
    }
}

#[test]
fn keywords_select_the_documented_quiltt_accounts() {
    let savings = SandboxProvider
        .quiltt_account(&quiltt("acct_savings1"))
        .unwrap();
    assert_eq!(savings.account_type, AccountType::Savings);
    let chase = SandboxProvider
        .quiltt_account(&quiltt("acct_chase"))
        .unwrap();
    assert_eq!(chase.routing_number, "322271627");
    assert_eq!(SandboxProvider.quiltt_balance(F6_TOKEN), Ok(125_000));
}

#[test]
fn every_sandbox_routing_number_passes_the_checksum() {
    for account in PLAID_ACCOUNTS.iter().chain(QUILTT_ACCOUNTS) {
        assert!(check_digit_valid(account.routing), "{}", account.routing);
    }
}

#[test]
fn invalid_tokens_are_refused_naming_the_token_field() {
    for token in [
        "processor-sandbox-invalid",
        "processor-production-4c1f0e8a",
        "processor-sandbox-",
        "processor-sandbox-a b",
        "access-sandbox-123",
        "",
    ] {
        let err = SandboxProvider.plaid_account(token).unwrap_err();
        assert!(matches!(err, ProviderError::Refused { .. }), "{token}");
        assert_eq!(err.reference(), Some(PLAID_TOKEN), "{token}");
    }
    let err = SandboxProvider
        .quiltt_account(&quiltt("acct_invalid"))
        .unwrap_err();
    assert_eq!(err.reference(), Some(QUILTT_TOKEN));
    let err = SandboxProvider
        .quiltt_account("processor-sandbox-123abc")
        .unwrap_err();
    assert_eq!(err.reference(), Some(QUILTT_TOKEN));
}

#[test]
fn timeout_tokens_are_unavailable_at_once() {
    let timed_out = ProviderError::Unavailable("provider timed out".into());
    let plaid = "processor-sandbox-timeout";
    assert_eq!(SandboxProvider.plaid_account(plaid), Err(timed_out.clone()));
    assert_eq!(SandboxProvider.plaid_balance(plaid), Err(timed_out.clone()));
    let quiltt = quiltt("acct_timeout");
    assert_eq!(
        SandboxProvider.quiltt_account(&quiltt),
        Err(timed_out.clone())
    );
    assert_eq!(SandboxProvider.quiltt_balance(&quiltt), Err(timed_out));
}

#[test]
fn quiltt_notready_token_asks_for_a_retry() {
    let err = SandboxProvider
        .quiltt_account(&quiltt("acct_notready"))
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(ref m) if m.contains("retry")));
}

#[test]
fn unsupported_subtype_is_reported_but_balance_still_answers() {
    let err = SandboxProvider
        .plaid_account("processor-sandbox-unsupported")
        .unwrap_err();
    assert!(matches!(
        err,
        ProviderError::UnsupportedAccount {
            reference: PLAID_TOKEN,
            ..
        }
    ));
    assert_eq!(
        SandboxProvider.plaid_balance("processor-sandbox-unsupported"),
        Ok(100_000)
    );
}

#[test]
fn quiltt_example_tokens_in_sandbox_md_give_the_documented_accounts() {
    let cases = [
        (
            "YWNjdF9zYW5kYm94X3NhdmluZ3M6OWYyYzBlNzdiMWQ0NDhhMA==",
            "1180",
        ),
        (
            "YWNjdF9zYW5kYm94X292ZXJkcmF3bjo5ZjJjMGU3N2IxZDQ0OGEw",
            "2216",
        ),
        ("YWNjdF9zYW5kYm94X2NoYXNlOjlmMmMwZTc3YjFkNDQ4YTA=", "0068"),
        (
            "YWNjdF9zYW5kYm94LW93bmVyLWphbmUtZG9lOjlmMmMwZTc3YjFkNDQ4YTA=",
            "0457",
        ),
    ];
    for (token, last4) in cases {
        let account = SandboxProvider.quiltt_account(token).unwrap();
        assert_eq!(account.account_number.last4(), last4, "{token}");
    }
    let special = [
        "YWNjdF9zYW5kYm94X2ludmFsaWQ6OWYyYzBlNzdiMWQ0NDhhMA==",
        "YWNjdF9zYW5kYm94X3RpbWVvdXQ6OWYyYzBlNzdiMWQ0NDhhMA==",
        "YWNjdF9zYW5kYm94X25vdHJlYWR5OjlmMmMwZTc3YjFkNDQ4YTA=",
    ];
    let outcomes: Vec<_> = special
        .iter()
        .map(|token| SandboxProvider.quiltt_account(token).unwrap_err())
        .collect();
    assert!(matches!(outcomes[0], ProviderError::Refused { .. }));
    assert_eq!(
        outcomes[1],
        ProviderError::Unavailable("provider timed out".into())
    );
    assert_eq!(outcomes[2], ProviderError::Unavailable(NOT_READY.into()));
}

#[test]
fn owner_suffix_sets_the_account_holder() {
    let account = SandboxProvider
        .plaid_account("processor-sandbox-savings-owner-jane-q_doe")
        .unwrap();
    assert_eq!(account.owner_names, vec!["Jane Q Doe".to_owned()]);
    assert_eq!(account.account_type, AccountType::Savings);

    let quiltt = SandboxProvider
        .quiltt_account(&quiltt("acct_1-owner-sam-lee"))
        .unwrap();
    assert_eq!(quiltt.owner_names, vec!["Sam Lee".to_owned()]);
}

#[test]
fn owner_none_gives_no_owners_and_words_after_the_marker_do_not_select() {
    let account = SandboxProvider
        .plaid_account("processor-sandbox-1-owner-none")
        .unwrap();
    assert!(account.owner_names.is_empty());
    let account = SandboxProvider
        .plaid_account("processor-sandbox-1-owner-sally-savings")
        .unwrap();
    assert_eq!(account.account_type, AccountType::Checking);
    assert_eq!(account.owner_names, vec!["Sally Savings".to_owned()]);
}

#[test]
fn an_empty_owner_keeps_the_default_and_none_is_case_insensitive() {
    let account = SandboxProvider
        .plaid_account("processor-sandbox-1-owner-")
        .unwrap();
    assert_eq!(account.owner_names, vec![DEFAULT_OWNER.to_owned()]);
    let account = SandboxProvider
        .plaid_account("processor-sandbox-1-owner-NONE")
        .unwrap();
    assert!(account.owner_names.is_empty());
}
