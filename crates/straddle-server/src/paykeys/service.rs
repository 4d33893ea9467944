//! Paykey operations: linking and every state change, each inside one
//! write transaction.

use crate::sql::Conn;
use straddle_types::customer::{CustomerStatus, ProcessingMethod};
use straddle_types::paykey::{
    AccountType, Balance, BalanceStatus, Paykey, PaykeyConfig, PaykeyReviewDecision, PaykeySource,
    PaykeyStatus, StatusReason, StatusSource,
};
use straddle_types::{Metadata, Timestamp};
use uuid::Uuid;

use super::verify::{details, validating, verify};
use super::{new_token, repo, to_wire, PaykeyDetails, PaykeyRecord, PaykeySecret, Reveal};
use crate::app::AppState;
use crate::customers;
use crate::error::ApiError;

/// Bank account data gathered before the write: typed in, or from a provider.
#[derive(Clone)]
pub struct LinkedBank {
    /// The bank's name.
    pub institution_name: Option<String>,
    /// Routing number.
    pub routing_number: String,
    /// Account number or TAN.
    pub account_number: String,
    /// Checking or savings.
    pub account_type: AccountType,
    /// Owner names (provider sources).
    pub owner_names: Vec<String>,
    /// Balance in cents (provider sources).
    pub balance_cents: Option<i64>,
    /// The processor token (provider sources).
    pub provider_token: Option<String>,
}

impl std::fmt::Debug for LinkedBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkedBank(***)")
    }
}

/// Everything a link request asks for.
#[derive(Clone, Debug)]
pub struct LinkRequest {
    /// Where the data came from.
    pub source: PaykeySource,
    /// The customer.
    pub customer_id: Uuid,
    /// The bank account.
    pub bank: LinkedBank,
    /// Processing options.
    pub config: Option<PaykeyConfig>,
    /// Integrator id.
    pub external_id: Option<String>,
    /// Integrator metadata.
    pub metadata: Option<Metadata>,
}

/// Effective config: defaults filled in.
pub fn effective_config(config: Option<PaykeyConfig>) -> PaykeyConfig {
    let config = config.unwrap_or_default();
    PaykeyConfig {
        processing_method: Some(config.processing_method.unwrap_or_default()),
        sandbox_outcome: Some(config.sandbox_outcome.unwrap_or_default()),
    }
}

/// The customer a paykey or bridge session is for: 404 outside the scope,
/// 422 when rejected or inactive. Returns the customer's name.
pub async fn linkable_customer(
    conn: &mut Conn<'_>,
    account_id: Uuid,
    customer_id: Uuid,
) -> Result<String, ApiError> {
    let (name, status) = customers::repo::name_and_status(conn, account_id, customer_id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer", "customer_id", customer_id))?;
    if matches!(status, CustomerStatus::Rejected | CustomerStatus::Inactive) {
        return Err(ApiError::unprocessable(
            "customer_id",
            format!(
                "The customer is {}; bank accounts cannot be linked.",
                crate::store::enum_text(&status)
            ),
        ));
    }
    Ok(name)
}

/// Creates a paykey and runs (or schedules) its verification. Returns it
/// with the full token.
pub async fn link(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    request: LinkRequest,
) -> Result<Paykey, ApiError> {
    let customer_name = linkable_customer(conn, account_id, request.customer_id).await?;
    let now = state.clock.timestamp();
    let config = effective_config(request.config);
    let bank = request.bank;
    let outcome = verify(
        request.source,
        config,
        state.config.environment,
        &customer_name,
        &bank.owner_names,
        now,
    );
    let background = config.processing_method == Some(ProcessingMethod::Background);
    let balance = bank.balance_cents.map(|cents| match background {
        true => Balance {
            status: BalanceStatus::Pending,
            account_balance: None,
            updated_at: None,
        },
        false => Balance {
            status: BalanceStatus::Completed,
            account_balance: Some(cents),
            updated_at: Some(now),
        },
    });
    let (status, status_details, pending, due_at) = if background {
        (
            PaykeyStatus::Pending,
            validating(now),
            Some((outcome.status, outcome.details)),
            Some(state.background_due(now)),
        )
    } else {
        (outcome.status, outcome.details, None, None)
    };
    let record = PaykeyRecord {
        id: Uuid::now_v7(),
        account_id,
        customer_id: request.customer_id,
        source: request.source,
        status,
        institution_name: bank.institution_name,
        routing_number: bank.routing_number,
        account_type: bank.account_type,
        external_id: request.external_id,
        unblock_eligible: None,
        details: PaykeyDetails {
            config,
            metadata: request.metadata,
            status_details,
            balance,
            verification: outcome.verification,
            pending,
            unblocked_once: false,
            balance_at_link: bank.balance_cents.filter(|_| background),
        },
        secret: PaykeySecret {
            token: new_token(),
            account_number: bank.account_number,
            provider_token: bank.provider_token,
            owner_names: bank.owner_names,
        },
        due_at,
        balance_due_at: None,
        created_at: now,
        updated_at: now,
    };
    repo::insert(conn, &state.sealer, &record).await?;
    Ok(to_wire(&record, Reveal::Token))
}

/// Loads, changes and saves a paykey of `account_id`; returns it masked.
async fn change(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
    apply: impl FnOnce(&mut PaykeyRecord, Timestamp) -> Result<(), ApiError>,
) -> Result<Paykey, ApiError> {
    let mut record = repo::get(conn, &state.sealer, account_id, id).await?;
    let now = state.clock.timestamp();
    apply(&mut record, now)?;
    record.updated_at = now;
    repo::save(conn, &record).await?;
    Ok(to_wire(&record, Reveal::Masked))
}

fn set_status(
    record: &mut PaykeyRecord,
    status: PaykeyStatus,
    details: straddle_types::paykey::StatusDetails,
) {
    record.status = status;
    record.details.status_details = details;
    record.details.pending = None;
    record.due_at = None;
    if status != PaykeyStatus::Blocked {
        record.unblock_eligible = None;
    }
}

fn not_in(record: &PaykeyRecord, action: &str) -> ApiError {
    ApiError::unprocessable(
        "status",
        format!(
            "A paykey that is {} cannot be {action}.",
            crate::store::enum_text(&record.status)
        ),
    )
}

/// Cancels a paykey: `inactive`, blocking new payments.
pub async fn cancel(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
    reason: Option<String>,
) -> Result<Paykey, ApiError> {
    change(conn, state, account_id, id, |record, now| {
        if record.status == PaykeyStatus::Inactive {
            return Err(not_in(record, "cancelled"));
        }
        let message = reason.unwrap_or_else(|| "Paykey cancelled.".into());
        set_status(
            record,
            PaykeyStatus::Inactive,
            details(
                &message,
                StatusReason::UserRequest,
                StatusSource::UserAction,
                now,
            ),
        );
        Ok(())
    })
    .await
}

/// Decides a paykey in manual review.
pub async fn decide_review(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
    decision: PaykeyReviewDecision,
) -> Result<Paykey, ApiError> {
    change(conn, state, account_id, id, |record, now| {
        if record.status != PaykeyStatus::Review {
            return Err(not_in(record, "decided; only paykeys in review can be"));
        }
        let (status, details) = match decision {
            PaykeyReviewDecision::Active => (
                PaykeyStatus::Active,
                details(
                    "Approved in manual review.",
                    StatusReason::Ok,
                    StatusSource::UserAction,
                    now,
                ),
            ),
            PaykeyReviewDecision::Rejected => (
                PaykeyStatus::Rejected,
                details(
                    "Rejected in manual review.",
                    StatusReason::UserRequest,
                    StatusSource::UserAction,
                    now,
                ),
            ),
        };
        set_status(record, status, details);
        Ok(())
    })
    .await
}

/// Runs verification again (allowed from `active`, `review` and `rejected`).
pub async fn refresh_review(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
) -> Result<Paykey, ApiError> {
    let record = repo::get(conn, &state.sealer, account_id, id).await?;
    let customer_name = customers::repo::name_and_status(conn, account_id, record.customer_id)
        .await?
        .map(|(name, _)| name)
        .unwrap_or_default();
    let environment = state.config.environment;
    change(conn, state, account_id, id, |record, now| {
        if !matches!(
            record.status,
            PaykeyStatus::Active | PaykeyStatus::Review | PaykeyStatus::Rejected
        ) {
            return Err(not_in(record, "reviewed again"));
        }
        let outcome = verify(
            record.source,
            record.details.config,
            environment,
            &customer_name,
            &record.secret.owner_names,
            now,
        );
        record.details.verification = outcome.verification;
        set_status(record, outcome.status, outcome.details);
        Ok(())
    })
    .await
}

/// Schedules a balance refresh (provider-linked paykeys only).
pub async fn request_balance(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
) -> Result<Paykey, ApiError> {
    let due = state.background_due(state.clock.timestamp());
    change(conn, state, account_id, id, |record, _| {
        if record.secret.provider_token.is_none() {
            return Err(ApiError::unprocessable(
                "id",
                "Balances are available only for paykeys linked through a data provider.",
            ));
        }
        record.details.balance = Some(Balance {
            status: BalanceStatus::Pending,
            account_balance: None,
            updated_at: None,
        });
        record.balance_due_at = Some(due);
        Ok(())
    })
    .await
}

/// Reactivates a paykey blocked by an R29 return, once.
pub async fn unblock(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
    message: Option<String>,
) -> Result<Paykey, ApiError> {
    change(conn, state, account_id, id, |record, now| {
        if record.status != PaykeyStatus::Blocked || record.unblock_eligible != Some(true) {
            return Err(ApiError::unprocessable(
                "id",
                "This paykey is not eligible to be unblocked.",
            ));
        }
        let message = message.unwrap_or_else(|| "Paykey unblocked.".into());
        set_status(
            record,
            PaykeyStatus::Active,
            details(&message, StatusReason::Ok, StatusSource::UserAction, now),
        );
        record.details.unblocked_once = true;
        Ok(())
    })
    .await
}

/// Sandbox: an ACH return arrives for the paykey and blocks it. Only `R29`
/// (corporate customer advises not authorised) may be unblocked, once.
pub async fn simulate_return(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
    code: String,
) -> Result<Paykey, ApiError> {
    let (reason, message) = match code.as_str() {
        "R29" => (
            StatusReason::OtherNetworkReturn,
            "Corporate customer advises not authorized (R29).",
        ),
        "R01" => (StatusReason::InsufficientFunds, "Insufficient funds (R01)."),
        "R02" => (StatusReason::ClosedBankAccount, "Account closed (R02)."),
        "R03" => (
            StatusReason::InvalidBankAccount,
            "No account / unable to locate account (R03).",
        ),
        "R04" => (
            StatusReason::InvalidBankAccount,
            "Invalid account number (R04).",
        ),
        "R16" => (StatusReason::FrozenBankAccount, "Account frozen (R16)."),
        _ => {
            return Err(ApiError::Validation {
                items: vec![crate::error::item(
                    "code",
                    "Use one of R01, R02, R03, R04, R16, R29.",
                )],
            })
        }
    };
    change(conn, state, account_id, id, |record, now| {
        if record.status != PaykeyStatus::Active {
            return Err(not_in(record, "returned; only active paykeys can be"));
        }
        let mut status_details = details(message, reason, StatusSource::BankDecline, now);
        status_details.code = Some(code.clone());
        set_status(record, PaykeyStatus::Blocked, status_details);
        record.unblock_eligible = Some(code == "R29" && !record.details.unblocked_once);
        Ok(())
    })
    .await
}

/// Applies a due background verification; false when nothing was due.
/// Touches only plain columns, so it never needs the data keys.
pub async fn complete_verification(
    conn: &mut Conn<'_>,
    now: Timestamp,
    id: Uuid,
) -> Result<bool, ApiError> {
    let Some((mut details, Some(due))) = repo::details_and_due(conn, id).await? else {
        return Ok(false);
    };
    let Some((status, mut status_details)) = details.pending.take().filter(|_| due <= now) else {
        return Ok(false);
    };
    status_details.changed_at = now;
    details.status_details = status_details;
    if let Some(cents) = details.balance_at_link.take() {
        details.balance = Some(Balance {
            status: BalanceStatus::Completed,
            account_balance: Some(cents),
            updated_at: Some(now),
        });
    }
    repo::finish_verification(conn, id, status, &details, now).await?;
    Ok(true)
}

/// Stores the result of a balance refresh (`None`: the provider failed).
pub async fn complete_balance(
    conn: &mut Conn<'_>,
    now: Timestamp,
    id: Uuid,
    cents: Option<i64>,
) -> Result<(), ApiError> {
    let Some((mut details, _)) = repo::details_and_due(conn, id).await? else {
        return Ok(());
    };
    details.balance = Some(match cents {
        Some(cents) => Balance {
            status: BalanceStatus::Completed,
            account_balance: Some(cents),
            updated_at: Some(now),
        },
        None => Balance {
            status: BalanceStatus::Failed,
            account_balance: None,
            updated_at: Some(now),
        },
    });
    repo::finish_balance(conn, id, &details, now).await
}
