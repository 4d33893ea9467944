//! Quiltt partner endpoints (spec §E.2), authenticated with the processor
//! token as HTTP Basic: `GET /v1/accounts/{id}/ach_numbers` for the numbers
//! and `POST /v1/introspect/processor_token` for the account type.

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;
use straddle_types::paykey::AccountType;

use super::{join, transport_error, QuilttConfig};
use crate::account::{AccountNumber, LinkedAccount};
use crate::error::{ProviderError, QUILTT_TOKEN};
use crate::quiltt_token::{self, NOT_READY};
use crate::routing;

#[derive(Deserialize)]
struct AchNumbers {
    number: String,
    routing: String,
}

#[derive(Deserialize)]
struct Introspection {
    account: IntrospectedAccount,
}

#[derive(Deserialize)]
struct IntrospectedAccount {
    /// Usually `SPENDING` or `SAVINGS`.
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// A Quiltt client; it holds no secret (the token is the credential).
#[derive(Clone, Debug)]
pub(super) struct QuilttClient {
    http: reqwest::Client,
    config: QuilttConfig,
}

impl QuilttClient {
    pub(super) fn new(http: reqwest::Client, config: QuilttConfig) -> Self {
        Self { http, config }
    }

    /// Numbers and account type side by side; only the numbers are required.
    pub(super) async fn account(&self, token: &str) -> Result<LinkedAccount, ProviderError> {
        let account_id = quiltt_token::account_id(token)?;
        let (numbers, account_type) = tokio::join!(
            self.ach_numbers(&account_id, token),
            self.account_type(token)
        );
        let numbers = numbers?;
        Ok(LinkedAccount {
            institution_name: routing::institution_name(&numbers.routing).map(str::to_owned),
            routing_number: numbers.routing,
            account_number: AccountNumber::new(numbers.number),
            account_type: account_type.unwrap_or(AccountType::Checking),
            owner_names: Vec::new(),
            balance_cents: None,
        })
    }

    /// Quiltt only pushes balances by webhook to the API-secret holder, so a
    /// processor-token holder cannot read one.
    pub(super) fn balance(&self, token: &str) -> Result<i64, ProviderError> {
        quiltt_token::account_id(token)?;
        Err(ProviderError::unavailable(
            "Quiltt does not report balances to processor-token holders",
        ))
    }

    async fn ach_numbers(
        &self,
        account_id: &str,
        token: &str,
    ) -> Result<AchNumbers, ProviderError> {
        let path = format!("/v1/accounts/{account_id}/ach_numbers");
        let request = self.http.get(join(&self.config.base_url, &path));
        let response = authorized(request, token)?
            .send()
            .await
            .map_err(|err| transport_error("Quiltt", &err))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| transport_error("Quiltt", &err))?;
        if status == StatusCode::ACCEPTED {
            return Err(ProviderError::unavailable(NOT_READY));
        }
        if !status.is_success() {
            return Err(quiltt_error(status, &bytes));
        }
        serde_json::from_slice(&bytes)
            .map_err(|_| ProviderError::unavailable("Quiltt sent a malformed ach_numbers answer"))
    }

    /// `SAVINGS` → savings, anything else → checking; `None` when Quiltt
    /// cannot tell (the caller then defaults to checking).
    async fn account_type(&self, token: &str) -> Option<AccountType> {
        let request = self.http.post(join(
            &self.config.base_url,
            "/v1/introspect/processor_token",
        ));
        let response = authorized(request, token).ok()?.send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let answer: Introspection = response.json().await.ok()?;
        let kind = answer.account.kind?;
        Some(if kind.eq_ignore_ascii_case("SAVINGS") {
            AccountType::Savings
        } else {
            AccountType::Checking
        })
    }
}

/// Adds `Authorization: Basic <token>` (the token already is the base64 of
/// `id:secret`), marked sensitive so it never shows in `Debug` output.
fn authorized(request: RequestBuilder, token: &str) -> Result<RequestBuilder, ProviderError> {
    let mut value = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
        ProviderError::refused(QUILTT_TOKEN, "This is not a Quiltt processor token.")
    })?;
    value.set_sensitive(true);
    Ok(request
        .header(AUTHORIZATION, value)
        .header(ACCEPT, "application/json"))
}

/// 401/403/404/422 mean Quiltt does not accept the token for this account;
/// anything else (5xx, 429, 400, …) is treated as an outage.
fn quiltt_error(status: StatusCode, bytes: &[u8]) -> ProviderError {
    let refusal = matches!(
        status,
        StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND
            | StatusCode::UNPROCESSABLE_ENTITY
    );
    if !refusal {
        return ProviderError::unavailable(format!("Quiltt answered HTTP {}", status.as_u16()));
    }
    let detail = match error_message(bytes) {
        Some(message) => format!(
            "Quiltt refused the processor token: {} (HTTP {}).",
            message.trim_end_matches('.'),
            status.as_u16()
        ),
        None => format!(
            "Quiltt refused the processor token (HTTP {}).",
            status.as_u16()
        ),
    };
    ProviderError::refused(QUILTT_TOKEN, detail)
}

/// The `message` (or `error`) string of a Quiltt error body, if any.
fn error_message(bytes: &[u8]) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    ["message", "error"]
        .iter()
        .find_map(|key| body.get(key)?.as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_statuses_are_refusals_quoting_the_message() {
        let err = quiltt_error(StatusCode::UNAUTHORIZED, br#"{"message":"Token expired."}"#);
        assert_eq!(
            err,
            ProviderError::Refused {
                reference: QUILTT_TOKEN,
                detail: "Quiltt refused the processor token: Token expired (HTTP 401).".into()
            }
        );
        for status in [
            StatusCode::FORBIDDEN,
            StatusCode::NOT_FOUND,
            StatusCode::UNPROCESSABLE_ENTITY,
        ] {
            assert_eq!(quiltt_error(status, b"").reference(), Some(QUILTT_TOKEN));
        }
    }

    #[test]
    fn other_statuses_are_outages() {
        for status in [
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::SERVICE_UNAVAILABLE,
        ] {
            assert!(matches!(
                quiltt_error(status, b"{}"),
                ProviderError::Unavailable(_)
            ));
        }
    }
}
