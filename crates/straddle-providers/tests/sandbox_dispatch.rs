//! `Providers::Sandbox` answers through the same async API the server uses.

use straddle_providers::{ProviderError, Providers, SandboxProvider, PLAID_TOKEN, QUILTT_TOKEN};

#[tokio::test]
async fn sandbox_providers_answer_the_fixture_tokens() {
    let providers = Providers::Sandbox(SandboxProvider::new());

    let plaid = providers
        .plaid_account("processor-sandbox-4c1f0e8a-2b7d-4f3e-9a61-7d2e5b8c0f94")
        .await
        .unwrap();
    let quiltt = providers
        .quiltt_account("YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA=")
        .await
        .unwrap();

    assert_eq!(
        plaid.institution_name.as_deref(),
        Some("FIRST PLATYPUS BANK")
    );
    assert_eq!(plaid.account_number.last4(), "9606");
    assert_eq!(quiltt.institution_name.as_deref(), Some("MX BANK"));
    assert_eq!(quiltt.account_number.last4(), "0457");
    assert_eq!(
        providers.plaid_balance("processor-sandbox-1").await,
        Ok(10_000)
    );
    assert_eq!(
        providers
            .quiltt_balance("YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA=")
            .await,
        Ok(125_000)
    );
}

#[tokio::test]
async fn sandbox_refusals_name_the_token_field() {
    let providers = Providers::Sandbox(SandboxProvider::new());

    let plaid = providers.plaid_account("processor-sandbox-invalid").await;
    let quiltt = providers.quiltt_account("processor-sandbox-123abc").await;

    assert_eq!(plaid.unwrap_err().reference(), Some(PLAID_TOKEN));
    assert_eq!(quiltt.unwrap_err().reference(), Some(QUILTT_TOKEN));
    assert_eq!(
        providers.plaid_account("processor-sandbox-timeout").await,
        Err(ProviderError::Unavailable("provider timed out".into()))
    );
}
