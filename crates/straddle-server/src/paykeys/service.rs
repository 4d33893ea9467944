//! Paykey write commands: linking and every state change. Each change is
//! decided from the paykey as read in its transaction and saved only if it
//! is still at that version, so concurrent changes apply in some serial
//! order and none is lost.

use crate::storage::sql::Conn;
use straddle_types::customer::{CustomerStatus, ProcessingMethod};
use straddle_types::paykey::{
    AccountType, Balance, BalanceStatus, Paykey, PaykeyConfig, PaykeyReviewDecision, PaykeySource,
    PaykeyStatus, StatusReason, StatusSource,
};
use straddle_types::{Metadata, Timestamp};
use uuid::Uuid;

use super::verify::{details, validating, verify};
use super::{new_token, repo, to_wire, PaykeyDetails, PaykeyRecord, PaykeySecret, Reveal};
use crate::customers;
use crate::error::ApiError;
use crate::jobs::queue::{self, Job, JobKind};
use crate::webhooks::events;
use crate::write::pipeline::{Command, WriteContext};
use straddle_types::webhook::EventType;

/// Emits the paykey's event: full token, masked bank data.
async fn announce(
    tx: &mut Conn<'_>,
    cx: &WriteContext,
    event_type: EventType,
    record: &PaykeyRecord,
) -> Result<(), ApiError> {
    let paykey = to_wire(record, Reveal::Token);
    events::paykey(tx, cx, event_type, record.account_id, &paykey).await
}

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
                crate::storage::query::enum_text(&status)
            ),
        ));
    }
    Ok(name)
}

/// Creates a paykey and runs (or schedules) its verification; answers
/// with the full token.
#[derive(Debug)]
pub struct LinkPaykey {
    /// The acting account.
    pub account_id: Uuid,
    /// What to link.
    pub request: LinkRequest,
}

impl Command for LinkPaykey {
    type Output = Paykey;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Paykey, ApiError> {
        let LinkPaykey {
            account_id,
            request,
        } = self;
        let customer_name = linkable_customer(tx, account_id, request.customer_id).await?;
        let now = cx.now;
        let config = effective_config(request.config);
        let bank = request.bank;
        let outcome = verify(
            request.source,
            config,
            cx.environment,
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
        let (status, status_details, pending) = if background {
            (
                PaykeyStatus::Pending,
                validating(now),
                Some((outcome.status, outcome.details)),
            )
        } else {
            (outcome.status, outcome.details, None)
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
            version: 0,
            created_at: now,
            updated_at: now,
        };
        repo::insert(tx, &cx.sealer, &record).await?;
        if background {
            let subject = record.id.to_string();
            queue::schedule(
                tx,
                JobKind::PaykeyVerification,
                &subject,
                cx.background_due(),
            )
            .await?;
        }
        announce(tx, cx, EventType::PaykeyCreated, &record).await?;
        Ok(to_wire(&record, Reveal::Token))
    }
}

/// How often a change is decided again when a concurrent one got there first.
const MAX_ATTEMPTS: usize = 8;

/// Reads a paykey of `account_id`, lets `apply` decide the change from what
/// it read, and saves it only if nobody changed the paykey in between;
/// otherwise decides again from the newer state. A pending background
/// verification that the change superseded is dropped with it.
async fn change(
    tx: &mut Conn<'_>,
    cx: &WriteContext,
    account_id: Uuid,
    id: Uuid,
    apply: impl Fn(&mut PaykeyRecord, Timestamp) -> Result<(), ApiError>,
) -> Result<PaykeyRecord, ApiError> {
    for _ in 0..MAX_ATTEMPTS {
        let mut record = repo::get(tx, &cx.sealer, account_id, id).await?;
        let had_pending = record.details.pending.is_some();
        apply(&mut record, cx.now)?;
        record.updated_at = cx.now;
        if repo::save(tx, &record).await? {
            if had_pending && record.details.pending.is_none() {
                queue::cancel(tx, JobKind::PaykeyVerification, &id.to_string()).await?;
            }
            record.version += 1;
            return Ok(record);
        }
    }
    Err(ApiError::Unavailable(
        "the paykey kept changing concurrently".into(),
    ))
}

fn set_status(
    record: &mut PaykeyRecord,
    status: PaykeyStatus,
    details: straddle_types::paykey::StatusDetails,
) {
    record.status = status;
    record.details.status_details = details;
    record.details.pending = None;
    if status != PaykeyStatus::Blocked {
        record.unblock_eligible = None;
    }
}

fn not_in(record: &PaykeyRecord, action: &str) -> ApiError {
    ApiError::unprocessable(
        "status",
        format!(
            "A paykey that is {} cannot be {action}.",
            crate::storage::query::enum_text(&record.status)
        ),
    )
}

/// Cancels a paykey: `inactive`, blocking new payments.
#[derive(Debug)]
pub struct CancelPaykey {
    /// The acting account.
    pub account_id: Uuid,
    /// The paykey.
    pub id: Uuid,
    /// Why, shown in `status_details.message`.
    pub reason: Option<String>,
}

impl Command for CancelPaykey {
    type Output = Paykey;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Paykey, ApiError> {
        let message = self.reason.unwrap_or_else(|| "Paykey cancelled.".into());
        let record = change(tx, cx, self.account_id, self.id, |record, now| {
            if record.status == PaykeyStatus::Inactive {
                return Err(not_in(record, "cancelled"));
            }
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
        .await?;
        announce(tx, cx, EventType::PaykeyEvent, &record).await?;
        Ok(to_wire(&record, Reveal::Masked))
    }
}

/// Decides a paykey in manual review.
#[derive(Debug)]
pub struct DecidePaykeyReview {
    /// The acting account.
    pub account_id: Uuid,
    /// The paykey.
    pub id: Uuid,
    /// Approve or reject.
    pub decision: PaykeyReviewDecision,
}

impl Command for DecidePaykeyReview {
    type Output = Paykey;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Paykey, ApiError> {
        let decision = self.decision;
        let record = change(tx, cx, self.account_id, self.id, |record, now| {
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
        .await?;
        announce(tx, cx, EventType::PaykeyEvent, &record).await?;
        Ok(to_wire(&record, Reveal::Masked))
    }
}

/// Runs verification again (allowed from `active`, `review` and `rejected`).
#[derive(Debug)]
pub struct RefreshPaykeyReview {
    /// The acting account.
    pub account_id: Uuid,
    /// The paykey.
    pub id: Uuid,
}

impl Command for RefreshPaykeyReview {
    type Output = Paykey;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Paykey, ApiError> {
        let current = repo::get(tx, &cx.sealer, self.account_id, self.id).await?;
        let customer_name =
            customers::repo::name_and_status(tx, self.account_id, current.customer_id)
                .await?
                .map(|(name, _)| name)
                .unwrap_or_default();
        let environment = cx.environment;
        let record = change(tx, cx, self.account_id, self.id, |record, now| {
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
        .await?;
        announce(tx, cx, EventType::PaykeyEvent, &record).await?;
        Ok(to_wire(&record, Reveal::Masked))
    }
}

/// Schedules a balance refresh (provider-linked paykeys only); the provider
/// is asked by a background job, outside any transaction.
#[derive(Debug)]
pub struct RequestBalanceRefresh {
    /// The acting account.
    pub account_id: Uuid,
    /// The paykey.
    pub id: Uuid,
}

impl Command for RequestBalanceRefresh {
    type Output = Paykey;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Paykey, ApiError> {
        let record = change(tx, cx, self.account_id, self.id, |record, _| {
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
            Ok(())
        })
        .await?;
        let subject = self.id.to_string();
        queue::schedule(tx, JobKind::BalanceRefresh, &subject, cx.background_due()).await?;
        announce(tx, cx, EventType::PaykeyEvent, &record).await?;
        Ok(to_wire(&record, Reveal::Masked))
    }
}

/// Reactivates a paykey blocked by an R29 return, once.
#[derive(Debug)]
pub struct UnblockPaykey {
    /// The acting account.
    pub account_id: Uuid,
    /// The paykey.
    pub id: Uuid,
    /// Shown in `status_details.message`.
    pub message: Option<String>,
}

impl Command for UnblockPaykey {
    type Output = Paykey;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Paykey, ApiError> {
        let message = self.message.unwrap_or_else(|| "Paykey unblocked.".into());
        let record = change(tx, cx, self.account_id, self.id, |record, now| {
            if record.status != PaykeyStatus::Blocked || record.unblock_eligible != Some(true) {
                return Err(ApiError::unprocessable(
                    "id",
                    "This paykey is not eligible to be unblocked.",
                ));
            }
            set_status(
                record,
                PaykeyStatus::Active,
                details(&message, StatusReason::Ok, StatusSource::UserAction, now),
            );
            record.details.unblocked_once = true;
            Ok(())
        })
        .await?;
        announce(tx, cx, EventType::PaykeyEvent, &record).await?;
        Ok(to_wire(&record, Reveal::Masked))
    }
}

/// Sandbox: an ACH return arrives for the paykey and blocks it. Only `R29`
/// (corporate customer advises not authorised) may be unblocked, once.
#[derive(Debug)]
pub struct SimulateReturn {
    /// The acting account.
    pub account_id: Uuid,
    /// The paykey.
    pub id: Uuid,
    /// The ACH return code.
    pub code: String,
}

impl Command for SimulateReturn {
    type Output = Paykey;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Paykey, ApiError> {
        let code = self.code;
        let (reason, message) = return_reason(&code)?;
        let record = change(tx, cx, self.account_id, self.id, |record, now| {
            if record.status != PaykeyStatus::Active {
                return Err(not_in(record, "returned; only active paykeys can be"));
            }
            let mut status_details = details(message, reason, StatusSource::BankDecline, now);
            status_details.code = Some(code.clone());
            set_status(record, PaykeyStatus::Blocked, status_details);
            record.unblock_eligible = Some(code == "R29" && !record.details.unblocked_once);
            Ok(())
        })
        .await?;
        announce(tx, cx, EventType::PaykeyEvent, &record).await?;
        Ok(to_wire(&record, Reveal::Masked))
    }
}

/// The status reason and message of a simulated ACH return code.
fn return_reason(code: &str) -> Result<(StatusReason, &'static str), ApiError> {
    Ok(match code {
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
    })
}

/// Background job: applies a due verification outcome. Touches only plain
/// columns, so it never needs the data keys. `false` when another instance
/// applied it or a later change superseded it.
#[derive(Debug)]
pub struct CompletePaykeyVerification {
    /// The claimed job.
    pub job: Job,
}

impl Command for CompletePaykeyVerification {
    type Output = bool;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<bool, ApiError> {
        if !queue::finish(tx, &self.job).await? {
            return Ok(false);
        }
        let id = crate::storage::query::parse_uuid(&self.job.subject_id)?;
        let now = cx.now;
        for _ in 0..MAX_ATTEMPTS {
            let Some((mut details, version)) = repo::details_and_version(tx, id).await? else {
                return Ok(false);
            };
            let Some((status, mut status_details)) = details.pending.take() else {
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
            if repo::finish_verification(tx, id, status, &details, now, version).await? {
                return announce_changed(tx, cx, id).await;
            }
        }
        Err(ApiError::Unavailable(
            "the paykey kept changing concurrently".into(),
        ))
    }
}

/// Background job: stores the result of a balance refresh (`cents: None`:
/// the provider failed).
#[derive(Debug)]
pub struct CompleteBalanceRefresh {
    /// The claimed job.
    pub job: Job,
    /// The balance the provider reported.
    pub cents: Option<i64>,
}

impl Command for CompleteBalanceRefresh {
    type Output = bool;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<bool, ApiError> {
        if !queue::finish(tx, &self.job).await? {
            return Ok(false);
        }
        let id = crate::storage::query::parse_uuid(&self.job.subject_id)?;
        let now = cx.now;
        for _ in 0..MAX_ATTEMPTS {
            let Some((mut details, version)) = repo::details_and_version(tx, id).await? else {
                return Ok(false);
            };
            details.balance = Some(match self.cents {
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
            if repo::save_details(tx, id, &details, now, version).await? {
                return announce_changed(tx, cx, id).await;
            }
        }
        Err(ApiError::Unavailable(
            "the paykey kept changing concurrently".into(),
        ))
    }
}

/// Emits `paykey.event.v1` for a paykey a background job just changed.
async fn announce_changed(
    tx: &mut Conn<'_>,
    cx: &WriteContext,
    id: Uuid,
) -> Result<bool, ApiError> {
    if let Some(record) = repo::get_any(tx, &cx.sealer, id).await? {
        announce(tx, cx, EventType::PaykeyEvent, &record).await?;
    }
    Ok(true)
}
