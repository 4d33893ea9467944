//! HTTP handlers for `/v1/bridge/*`. Input is checked first; for provider
//! links the `Idempotency-Key` is then reserved, the customer checked (so no
//! provider is asked about an unknown customer) and the provider asked,
//! outside any transaction; then the `LinkPaykey` command writes the paykey.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use straddle_providers::{routing, LinkedAccount, ProviderError};
use straddle_types::paykey::{
    BankAccountLinkRequest, BridgeInitializeRequest, BridgeToken, Paykey, PaykeyConfig,
    PaykeySource, PlaidLinkRequest, QuilttLinkRequest, TanLinkRequest,
};
use straddle_types::{ErrorResponse, Metadata, ObjectResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{check_account_number, check_common, check_typed_routing, session};
use crate::error::{item, ApiError};
use crate::http::extract::JsonBody;
use crate::http::Caller;
use crate::paykeys::service::{linkable_customer, LinkPaykey, LinkRequest, LinkedBank};
use crate::state::AppState;
use crate::storage::db::Db;
use crate::validation::Problems;

/// The Bridge routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(initialize))
        .routes(routes!(bank_account))
        .routes(routes!(plaid))
        .routes(routes!(tan))
        .routes(routes!(quiltt))
}

/// Create a Bridge widget session token.
#[utoipa::path(post, path = "/v1/bridge/initialize", operation_id = "bridge.create_token", tag = "bridge", request_body = BridgeInitializeRequest,
    responses((status = 200, body = ObjectResponse<BridgeToken>), (status = 422, body = ErrorResponse)))]
async fn initialize(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<BridgeInitializeRequest>,
) -> Result<Response, ApiError> {
    let mut problems = Problems::default();
    check_common(&mut problems, body.value.external_id.as_deref(), None);
    problems.finish()?;
    let command = session::InitializeBridge {
        account_id: caller.account_id(),
        account_name: caller.principal.acting.name.clone(),
        api_key_id: caller.principal.key_id,
        request: body.value,
        signing_key: state.bridge_key.clone(),
    };
    caller
        .execute(&state, &body.raw, StatusCode::OK, command)
        .await
}

/// Link a bank account from typed-in routing and account numbers.
#[utoipa::path(post, path = "/v1/bridge/bank_account", operation_id = "bridge.create_bank_account_paykey", tag = "bridge", request_body = BankAccountLinkRequest,
    responses((status = 201, body = ObjectResponse<Paykey>), (status = 422, body = ErrorResponse)))]
async fn bank_account(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<BankAccountLinkRequest>,
) -> Result<Response, ApiError> {
    let request = body.value;
    let typed = Typed {
        source: PaykeySource::BankAccount,
        number_field: "account_number",
        routing_number: request.routing_number,
        number: request.account_number,
        account_type: request.account_type,
    };
    let parts = Parts::new(
        request.customer_id,
        request.config,
        request.external_id,
        request.metadata,
    );
    link_typed(&state, &caller, &body.raw, typed, parts).await
}

/// Link a bank account with a tokenized account number.
#[utoipa::path(post, path = "/v1/bridge/tan", operation_id = "bridge.link.create_tan", tag = "bridge", request_body = TanLinkRequest,
    responses((status = 201, body = ObjectResponse<Paykey>), (status = 422, body = ErrorResponse)))]
async fn tan(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<TanLinkRequest>,
) -> Result<Response, ApiError> {
    let request = body.value;
    let typed = Typed {
        source: PaykeySource::Tan,
        number_field: "tan",
        routing_number: request.routing_number,
        number: request.tan,
        account_type: request.account_type,
    };
    let parts = Parts::new(
        request.customer_id,
        request.config,
        request.external_id,
        request.metadata,
    );
    link_typed(&state, &caller, &body.raw, typed, parts).await
}

/// Numbers a person typed in (`bank_account`, `tan`).
struct Typed {
    source: PaykeySource,
    number_field: &'static str,
    routing_number: String,
    number: String,
    account_type: straddle_types::paykey::AccountType,
}

/// Checks typed-in numbers (ABA check digit, 4–17 digits) and links them.
async fn link_typed(
    state: &AppState,
    caller: &Caller,
    raw: &serde_json::Value,
    typed: Typed,
    parts: Parts,
) -> Result<Response, ApiError> {
    let mut problems = Problems::default();
    check_typed_routing(&mut problems, &typed.routing_number);
    check_account_number(&mut problems, typed.number_field, &typed.number);
    check_common(
        &mut problems,
        parts.external_id.as_deref(),
        parts.metadata.as_ref(),
    );
    problems.finish()?;
    let bank = typed_bank(typed.routing_number, typed.number, typed.account_type);
    let command = parts.link(caller.account_id(), typed.source, bank);
    caller
        .execute(state, raw, StatusCode::CREATED, command)
        .await
}

/// Link a bank account with a Plaid processor token.
#[utoipa::path(post, path = "/v1/bridge/plaid", operation_id = "bridge.create_plaid_paykey", tag = "bridge", request_body = PlaidLinkRequest,
    responses((status = 201, body = ObjectResponse<Paykey>), (status = 422, body = ErrorResponse), (status = 502, body = ErrorResponse)))]
async fn plaid(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<PlaidLinkRequest>,
) -> Result<Response, ApiError> {
    let request = body.value;
    let mut problems = Problems::default();
    problems.check(
        !request.plaid_token.trim().is_empty(),
        "plaid_token",
        "Must not be empty.",
    );
    check_common(
        &mut problems,
        request.external_id.as_deref(),
        request.metadata.as_ref(),
    );
    problems.finish()?;
    let parts = Parts::new(
        request.customer_id,
        request.config,
        request.external_id,
        request.metadata,
    );
    let (providers, db, account_id) = (
        state.providers.clone(),
        state.db.clone(),
        caller.account_id(),
    );
    let token = request.plaid_token;
    let prepare = async move {
        precheck_customer(&db, account_id, parts.customer_id).await?;
        let account = providers
            .plaid_account(&token)
            .await
            .map_err(provider_error)?;
        Ok(parts.link(
            account_id,
            PaykeySource::Plaid,
            provider_bank(account, token),
        ))
    };
    caller
        .execute_after(&state, &body.raw, StatusCode::CREATED, prepare)
        .await
}

/// Link a bank account with a Quiltt processor token.
#[utoipa::path(post, path = "/v1/bridge/quiltt", operation_id = "bridge.create_quiltt_paykey", tag = "bridge", request_body = QuilttLinkRequest,
    responses((status = 201, body = ObjectResponse<Paykey>), (status = 422, body = ErrorResponse), (status = 502, body = ErrorResponse)))]
async fn quiltt(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<QuilttLinkRequest>,
) -> Result<Response, ApiError> {
    let request = body.value;
    let mut problems = Problems::default();
    let token = request.quiltt_token.clone().unwrap_or_default();
    problems.check(
        !token.trim().is_empty(),
        "quiltt_token",
        "This field is required.",
    );
    check_common(
        &mut problems,
        request.external_id.as_deref(),
        request.metadata.as_ref(),
    );
    problems.finish()?;
    let parts = Parts::new(
        request.customer_id,
        request.config,
        request.external_id,
        request.metadata,
    );
    let (providers, db, account_id) = (
        state.providers.clone(),
        state.db.clone(),
        caller.account_id(),
    );
    let prepare = async move {
        precheck_customer(&db, account_id, parts.customer_id).await?;
        let account = providers
            .quiltt_account(&token)
            .await
            .map_err(provider_error)?;
        Ok(parts.link(
            account_id,
            PaykeySource::Quiltt,
            provider_bank(account, token),
        ))
    };
    caller
        .execute_after(&state, &body.raw, StatusCode::CREATED, prepare)
        .await
}

/// The request fields every link endpoint shares.
struct Parts {
    customer_id: Uuid,
    config: Option<PaykeyConfig>,
    external_id: Option<String>,
    metadata: Option<Metadata>,
}

impl Parts {
    fn new(
        customer_id: Uuid,
        config: Option<PaykeyConfig>,
        external_id: Option<String>,
        metadata: Option<Metadata>,
    ) -> Self {
        Parts {
            customer_id,
            config,
            external_id,
            metadata,
        }
    }

    /// The command that links `bank` with these fields.
    fn link(self, account_id: Uuid, source: PaykeySource, bank: LinkedBank) -> LinkPaykey {
        LinkPaykey {
            account_id,
            request: LinkRequest {
                source,
                customer_id: self.customer_id,
                bank,
                config: self.config,
                external_id: self.external_id,
                metadata: self.metadata,
            },
        }
    }
}

/// The bank data of typed-in numbers; the routing directory names the bank.
pub fn typed_bank(
    routing_number: String,
    account_number: String,
    account_type: straddle_types::paykey::AccountType,
) -> LinkedBank {
    LinkedBank {
        institution_name: routing::institution_name(&routing_number).map(String::from),
        routing_number,
        account_number,
        account_type,
        owner_names: vec![],
        balance_cents: None,
        provider_token: None,
    }
}

fn provider_bank(account: LinkedAccount, token: String) -> LinkedBank {
    LinkedBank {
        institution_name: account.institution_name,
        routing_number: account.routing_number,
        account_number: account.account_number.expose().to_string(),
        account_type: account.account_type,
        owner_names: account.owner_names,
        balance_cents: account.balance_cents,
        provider_token: Some(token),
    }
}

/// 404/422 for the customer before any provider is asked.
async fn precheck_customer(db: &Db, account_id: Uuid, customer_id: Uuid) -> Result<(), ApiError> {
    let mut reader = db.reader().await?;
    linkable_customer(&mut reader.conn(), account_id, customer_id)
        .await
        .map(|_| ())
}

/// Refused tokens are 422 naming the token field; outages are 502.
pub fn provider_error(error: ProviderError) -> ApiError {
    match error {
        ProviderError::Refused { reference, detail }
        | ProviderError::UnsupportedAccount { reference, detail } => ApiError::Unprocessable {
            detail: "The data provider refused the token.".into(),
            items: vec![item(reference, detail)],
        },
        ProviderError::Unavailable(detail) => ApiError::Upstream(detail),
    }
}
