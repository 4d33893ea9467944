//! Plaid processor endpoints (spec §E.1): `/processor/auth/get`,
//! `/processor/identity/get`, `/processor/balance/get`, and for the
//! institution name `/processor/account/get` + `/institutions/get_by_id`.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{join, transport_error, PlaidConfig};
use crate::account::{
    account_type_from_plaid_subtype, dollars_to_cents, AccountNumber, LinkedAccount,
};
use crate::error::{ProviderError, PLAID_TOKEN};
use crate::routing;

/// API version this client speaks.
const PLAID_VERSION: &str = "2020-09-14";

/// Plaid `error_type`s and `error_code`s that say something about our side
/// (credentials, request shape) or Plaid's, not about the token.
const UNAVAILABLE_TYPES: &[&str] = &[
    "API_ERROR",
    "INSTITUTION_ERROR",
    "INVALID_REQUEST",
    "RATE_LIMIT_EXCEEDED",
];
const UNAVAILABLE_CODES: &[&str] = &["INVALID_API_KEYS", "UNAUTHORIZED_ENVIRONMENT"];

#[derive(Serialize)]
struct ProcessorRequest<'a> {
    client_id: &'a str,
    secret: &'a str,
    processor_token: &'a str,
}

#[derive(Serialize)]
struct InstitutionRequest<'a> {
    client_id: &'a str,
    secret: &'a str,
    institution_id: &'a str,
    country_codes: [&'a str; 1],
}

/// Plaid's `AccountBase`, reduced to what we read.
#[derive(Deserialize)]
struct Account {
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    balances: Option<Balances>,
    #[serde(default)]
    owners: Vec<Owner>,
}

#[derive(Deserialize)]
struct Balances {
    available: Option<f64>,
    current: Option<f64>,
}

impl Balances {
    /// Available balance if known, else the current one, in cents.
    fn cents(&self) -> Option<i64> {
        self.available.or(self.current).and_then(dollars_to_cents)
    }
}

#[derive(Deserialize)]
struct Owner {
    #[serde(default)]
    names: Vec<String>,
}

#[derive(Deserialize)]
struct AccountAnswer {
    account: Account,
}

#[derive(Deserialize)]
struct AuthAnswer {
    account: Account,
    numbers: Numbers,
}

#[derive(Deserialize)]
struct Numbers {
    /// A single object for processor tokens (not an array as in `/auth/get`).
    ach: Option<AchNumbers>,
}

#[derive(Deserialize)]
struct AchNumbers {
    account: String,
    routing: String,
}

#[derive(Deserialize)]
struct ProcessorAccountAnswer {
    institution_id: Option<String>,
}

#[derive(Deserialize)]
struct InstitutionAnswer {
    institution: Institution,
}

#[derive(Deserialize)]
struct Institution {
    name: String,
}

/// Plaid's error body.
#[derive(Deserialize)]
struct PlaidErrorBody {
    error_type: String,
    error_code: String,
    error_message: String,
}

/// A Plaid client bound to one set of processor credentials.
#[derive(Clone, Debug)]
pub(super) struct PlaidClient {
    http: reqwest::Client,
    config: PlaidConfig,
}

impl PlaidClient {
    pub(super) fn new(http: reqwest::Client, config: PlaidConfig) -> Self {
        Self { http, config }
    }

    /// Numbers first (they decide whether the token is usable at all), then
    /// owners, balance and institution name side by side.
    pub(super) async fn account(&self, token: &str) -> Result<LinkedAccount, ProviderError> {
        let auth: AuthAnswer = self
            .post("/processor/auth/get", &self.request(token))
            .await?;
        let account_type = supported_type(auth.account.subtype.as_deref())?;
        let ach = auth.numbers.ach.ok_or_else(|| {
            ProviderError::unsupported(PLAID_TOKEN, "Plaid has no ACH numbers for this account.")
        })?;
        let (owners, balance, institution) = tokio::join!(
            self.owner_names(token),
            self.balance(token),
            self.institution_name(token, &ach.routing),
        );
        let fallback_balance = auth.account.balances.as_ref().and_then(Balances::cents);
        Ok(LinkedAccount {
            institution_name: institution,
            routing_number: ach.routing,
            account_number: AccountNumber::new(ach.account),
            account_type,
            owner_names: owners?,
            balance_cents: balance.ok().or(fallback_balance),
        })
    }

    /// Account holders' names from `/processor/identity/get`.
    async fn owner_names(&self, token: &str) -> Result<Vec<String>, ProviderError> {
        let answer: AccountAnswer = self
            .post("/processor/identity/get", &self.request(token))
            .await?;
        Ok(unique_names(answer.account.owners))
    }

    /// Real-time balance in cents (available, else current).
    pub(super) async fn balance(&self, token: &str) -> Result<i64, ProviderError> {
        let answer: AccountAnswer = self
            .post("/processor/balance/get", &self.request(token))
            .await?;
        answer
            .account
            .balances
            .as_ref()
            .and_then(Balances::cents)
            .ok_or_else(|| ProviderError::unavailable("Plaid returned no balance for the account"))
    }

    /// The shipped routing directory first; otherwise Plaid's institution
    /// record, upper-cased like the directory. Best effort: `None` on failure.
    async fn institution_name(&self, token: &str, routing_number: &str) -> Option<String> {
        if let Some(name) = routing::institution_name(routing_number) {
            return Some(name.to_owned());
        }
        let account: ProcessorAccountAnswer = self
            .post("/processor/account/get", &self.request(token))
            .await
            .ok()?;
        let request = InstitutionRequest {
            client_id: &self.config.client_id,
            secret: &self.config.secret,
            institution_id: &account.institution_id?,
            country_codes: ["US"],
        };
        let answer: InstitutionAnswer =
            self.post("/institutions/get_by_id", &request).await.ok()?;
        Some(answer.institution.name.to_uppercase())
    }

    fn request<'a>(&'a self, token: &'a str) -> ProcessorRequest<'a> {
        ProcessorRequest {
            client_id: &self.config.client_id,
            secret: &self.config.secret,
            processor_token: token,
        }
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ProviderError> {
        let response = self
            .http
            .post(join(&self.config.base_url, path))
            .header("Plaid-Version", PLAID_VERSION)
            .json(body)
            .send()
            .await
            .map_err(|err| transport_error("Plaid", &err))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| transport_error("Plaid", &err))?;
        if !status.is_success() {
            return Err(plaid_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|_| {
            ProviderError::unavailable(format!("Plaid sent a malformed {path} answer"))
        })
    }
}

/// Only checking and savings accounts can back a paykey.
fn supported_type(
    subtype: Option<&str>,
) -> Result<straddle_types::paykey::AccountType, ProviderError> {
    let subtype = subtype.unwrap_or("unknown");
    account_type_from_plaid_subtype(subtype).ok_or_else(|| {
        ProviderError::unsupported(
            PLAID_TOKEN,
            format!(
                "Account subtype `{subtype}` is not supported; link a checking or savings account."
            ),
        )
    })
}

/// Every owner name once, in Plaid's order.
fn unique_names(owners: Vec<Owner>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in owners.into_iter().flat_map(|owner| owner.names) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Classifies a non-2xx Plaid answer: token problems are refusals, the
/// rest (5xx, rate limits, our credentials, bodies we cannot read) are outages.
fn plaid_error(status: StatusCode, bytes: &[u8]) -> ProviderError {
    let body = serde_json::from_slice::<PlaidErrorBody>(bytes).ok();
    let Some(body) = body.filter(|_| status.is_client_error()) else {
        return ProviderError::unavailable(format!("Plaid answered HTTP {}", status.as_u16()));
    };
    let ours_or_theirs = status == StatusCode::TOO_MANY_REQUESTS
        || UNAVAILABLE_TYPES.contains(&body.error_type.as_str())
        || UNAVAILABLE_CODES.contains(&body.error_code.as_str());
    if ours_or_theirs {
        return ProviderError::unavailable(format!(
            "Plaid error {} ({}): {}",
            body.error_code, body.error_type, body.error_message
        ));
    }
    ProviderError::refused(
        PLAID_TOKEN,
        format!(
            "Plaid refused the processor token: {} ({}).",
            body.error_message.trim_end_matches('.'),
            body.error_code
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_body(error_type: &str, error_code: &str) -> Vec<u8> {
        serde_json::json!({
            "error_type": error_type,
            "error_code": error_code,
            "error_message": "something went wrong",
            "display_message": null,
            "request_id": "abc"
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn token_errors_are_refusals() {
        let body = error_body("INVALID_INPUT", "INVALID_PROCESSOR_TOKEN");
        let err = plaid_error(StatusCode::BAD_REQUEST, &body);
        assert_eq!(
            err,
            ProviderError::Refused {
                reference: PLAID_TOKEN,
                detail: "Plaid refused the processor token: something went wrong (INVALID_PROCESSOR_TOKEN).".into()
            }
        );
        let body = error_body("ITEM_ERROR", "ITEM_LOGIN_REQUIRED");
        assert!(matches!(
            plaid_error(StatusCode::BAD_REQUEST, &body),
            ProviderError::Refused { .. }
        ));
    }

    #[test]
    fn credential_rate_limit_and_server_errors_are_outages() {
        let cases = [
            (
                StatusCode::BAD_REQUEST,
                error_body("INVALID_INPUT", "INVALID_API_KEYS"),
            ),
            (
                StatusCode::TOO_MANY_REQUESTS,
                error_body("RATE_LIMIT_EXCEEDED", "RATE_LIMIT"),
            ),
            (
                StatusCode::BAD_REQUEST,
                error_body("INSTITUTION_ERROR", "INSTITUTION_DOWN"),
            ),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                error_body("API_ERROR", "INTERNAL_SERVER_ERROR"),
            ),
            (StatusCode::NOT_FOUND, b"404 page not found".to_vec()),
        ];
        for (status, body) in cases {
            assert!(
                matches!(plaid_error(status, &body), ProviderError::Unavailable(_)),
                "{status}"
            );
        }
    }

    #[test]
    fn owners_are_flattened_without_duplicates() {
        let owners = vec![
            Owner {
                names: vec!["Alberta Bobbeth Charleson".into(), "Jo Doe".into()],
            },
            Owner {
                names: vec!["Jo Doe".into()],
            },
        ];
        assert_eq!(
            unique_names(owners),
            vec!["Alberta Bobbeth Charleson", "Jo Doe"]
        );
    }
}
