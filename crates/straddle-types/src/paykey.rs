//! Paykeys: the tokens pay-by-bank payments are made with, and the Bridge
//! requests that create them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Kind of bank account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    /// Checking account.
    Checking,
    /// Savings account.
    Savings,
}

use std::collections::BTreeMap;

use utoipa::IntoParams;
use uuid::Uuid;

use crate::common::{lenient_metadata, Metadata, Timestamp};
use crate::customer::{Decision, ProcessingMethod};
use crate::envelope::SortOrder;

/// Sandbox-only: the verification result to simulate for a paykey.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaykeySandboxOutcome {
    /// Run the simulated checks.
    #[default]
    Standard,
    /// Activate.
    Active,
    /// Reject.
    Rejected,
    /// Send to manual review.
    Review,
}

/// How a paykey's verification is processed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaykeyConfig {
    /// When verification runs (default `inline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_method: Option<ProcessingMethod>,
    /// Sandbox outcome (default `standard`); ignored in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_outcome: Option<PaykeySandboxOutcome>,
}

/// Where a paykey's bank data came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaykeySource {
    /// Typed in (`/v1/bridge/bank_account`).
    BankAccount,
    /// The Bridge widget's open-banking flow.
    Straddle,
    /// MX.
    Mx,
    /// A Plaid processor token.
    Plaid,
    /// A tokenized account number.
    Tan,
    /// A Quiltt processor token.
    Quiltt,
}

/// Lifecycle status of a paykey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaykeyStatus {
    /// Verification has not finished.
    Pending,
    /// Usable for payments.
    Active,
    /// Cancelled.
    Inactive,
    /// Verification failed.
    Rejected,
    /// Waiting for a manual decision.
    Review,
    /// Blocked after a return or for risk.
    Blocked,
}

/// Why a status was set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum StatusReason {
    InsufficientFunds,
    ClosedBankAccount,
    InvalidBankAccount,
    InvalidRouting,
    Disputed,
    PaymentStopped,
    OwnerDeceased,
    FrozenBankAccount,
    RiskReview,
    Fraudulent,
    DuplicateEntry,
    InvalidPaykey,
    PaymentBlocked,
    AmountTooLarge,
    TooManyAttempts,
    InternalSystemError,
    UserRequest,
    Ok,
    OtherNetworkReturn,
    PayoutRefused,
    CancelRequest,
    FailedVerification,
    RequireReview,
    BlockedBySystem,
    WatchtowerReview,
    Validating,
    AutoHold,
}

/// Who set a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusSource {
    /// Risk and verification.
    Watchtower,
    /// The receiving bank.
    BankDecline,
    /// The account holder.
    CustomerDispute,
    /// An API call.
    UserAction,
    /// The service itself.
    System,
}

/// Details of the current status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusDetails {
    /// Human-readable explanation.
    pub message: String,
    /// Machine-readable reason.
    pub reason: StatusReason,
    /// Who set the status.
    pub source: StatusSource,
    /// When the status last changed.
    pub changed_at: Timestamp,
    /// A network code, such as an ACH return code (`R29`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Bank account details; the account number is masked except on `unmasked`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BankData {
    /// Nine-digit ABA routing number.
    pub routing_number: String,
    /// Account number (`******1234` unless unmasked).
    pub account_number: String,
    /// Checking or savings.
    pub account_type: AccountType,
}

impl std::fmt::Debug for BankData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankData")
            .field("routing_number", &self.routing_number)
            .field("account_number", &"***")
            .field("account_type", &self.account_type)
            .finish()
    }
}

/// Progress of a balance check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BalanceStatus {
    /// Being fetched.
    Pending,
    /// Fetched.
    Completed,
    /// The provider could not answer.
    Failed,
}

/// The account balance, for paykeys linked through a data provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    /// Progress of the last check.
    pub status: BalanceStatus,
    /// Balance in cents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_balance: Option<i64>,
    /// When the balance was fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

/// A paykey.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Paykey {
    /// Unique identifier.
    pub id: Uuid,
    /// The token payments are made with (full on creation, `reveal` and
    /// `unmasked`; masked elsewhere).
    pub paykey: String,
    /// The customer who owns the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<Uuid>,
    /// Display label, `"<INSTITUTION> - *1234"`.
    pub label: String,
    /// Where the bank data came from.
    pub source: PaykeySource,
    /// The bank's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_name: Option<String>,
    /// Lifecycle status.
    pub status: PaykeyStatus,
    /// Details of the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_details: Option<StatusDetails>,
    /// Expiry, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Bank account details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_data: Option<BankData>,
    /// Balance, for provider-linked paykeys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Balance>,
    /// Effective processing options.
    pub config: PaykeyConfig,
    /// Your identifier for this paykey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Your key/value pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Present when blocked: whether `unblock` may reactivate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unblock_eligible: Option<bool>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A paykey in a list (no balance, no metadata).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PaykeySummary {
    /// Unique identifier.
    pub id: Uuid,
    /// Masked token.
    pub paykey: String,
    /// The customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<Uuid>,
    /// Display label.
    pub label: String,
    /// Where the bank data came from.
    pub source: PaykeySource,
    /// The bank's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_name: Option<String>,
    /// Lifecycle status.
    pub status: PaykeyStatus,
    /// Details of the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_details: Option<StatusDetails>,
    /// Expiry, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Bank account details (masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_data: Option<BankData>,
    /// Effective processing options.
    pub config: PaykeyConfig,
    /// Your identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Present when blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unblock_eligible: Option<bool>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Sort fields of the paykey list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaykeySortBy {
    /// By institution name.
    InstitutionName,
    /// By expiry.
    ExpiresAt,
    /// By creation time (the default).
    #[default]
    CreatedAt,
}

/// Query of `GET /v1/paykeys`. Array parameters are comma-separated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaykeyListQuery {
    /// Only this customer's paykeys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<Uuid>,
    /// Created at or after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_from: Option<Timestamp>,
    /// Created at or before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_to: Option<Timestamp>,
    /// Text in the label, institution, external id or last four digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_text: Option<String>,
    /// Page, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 2147483647)]
    pub page_number: Option<u32>,
    /// Items per page, 1–1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
    /// Sort field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<PaykeySortBy>,
    /// Sort direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<SortOrder>,
    /// Sources, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<PaykeySource>>, style = Form, explode = false, min_items = 1)]
    pub source: Option<String>,
    /// Statuses, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<PaykeyStatus>>, style = Form, explode = false, min_items = 1)]
    pub status: Option<String>,
    /// `true`: blocked and eligible for unblock; `false`: blocked and not eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unblock_eligible: Option<bool>,
}

/// Body of `PUT /v1/paykeys/{id}/cancel`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PaykeyCancelRequest {
    /// Why the paykey is cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A manual review decision for a paykey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaykeyReviewDecision {
    /// Approve.
    Active,
    /// Decline.
    Rejected,
}

/// Body of `PATCH /v1/paykeys/{id}/review`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PaykeyReviewDecisionRequest {
    /// The decision.
    pub status: PaykeyReviewDecision,
}

/// Body of `PATCH /v1/paykeys/{id}/unblock`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PaykeyUnblockRequest {
    /// Why the paykey is unblocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Body of the sandbox-only `POST /v1/sandbox/paykeys/{id}/simulate_return`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SimulateReturnRequest {
    /// ACH return code: `R29` (eligible for unblock), or `R01`, `R02`, `R03`, `R04`, `R16`.
    #[schema(pattern = "^R(01|02|03|04|16|29)$")]
    pub code: String,
}

/// The name-match part of a paykey verification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NameMatch {
    /// Result.
    pub decision: Decision,
    /// Reason codes.
    pub codes: Vec<String>,
    /// 0.0–1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_score: Option<f64>,
    /// The customer's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// The owner name that matched best.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_name: Option<String>,
    /// Owner names the provider reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names_on_account: Option<Vec<String>>,
    /// Explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The account-validation part of a paykey verification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccountValidation {
    /// Result.
    pub decision: Decision,
    /// Reason codes.
    pub codes: Vec<String>,
    /// Explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The checks of a paykey verification.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = PaykeyVerificationBreakdown)]
pub struct VerificationBreakdown {
    /// Account validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_validation: Option<AccountValidation>,
    /// Owner name match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_match: Option<NameMatch>,
}

/// A paykey verification result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VerificationDetails {
    /// Identifier of this verification.
    pub id: Uuid,
    /// Overall decision.
    pub decision: Decision,
    /// The checks.
    pub breakdown: VerificationBreakdown,
    /// Notes keyed by check.
    pub messages: BTreeMap<String, String>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// `GET /v1/paykeys/{id}/review`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PaykeyReview {
    /// The paykey.
    pub paykey_details: Paykey,
    /// The verification, absent when it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_details: Option<VerificationDetails>,
}

/// Body of `POST /v1/bridge/initialize`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BridgeInitializeRequest {
    /// The customer the widget session is for.
    pub customer_id: Uuid,
    /// Processing options for the paykey the widget creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<PaykeyConfig>,
    /// Your identifier for that paykey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub external_id: Option<String>,
}

/// `data` of `POST /v1/bridge/initialize`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BridgeToken {
    /// JWT to open the Bridge widget with.
    pub bridge_token: String,
}

impl std::fmt::Debug for BridgeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BridgeToken(***)")
    }
}

/// Body of `POST /v1/bridge/bank_account`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BankAccountLinkRequest {
    /// The account owner.
    pub customer_id: Uuid,
    /// Nine-digit ABA routing number; its check digit must be valid.
    #[schema(pattern = "^[0-9]{9}$")]
    pub routing_number: String,
    /// Account number, 4–17 digits.
    #[schema(pattern = "^[0-9]{4,17}$")]
    pub account_number: String,
    /// Checking or savings.
    pub account_type: AccountType,
    /// Processing options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<PaykeyConfig>,
    /// Your identifier for the paykey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub external_id: Option<String>,
    /// Your key/value pairs.
    #[serde(
        default,
        deserialize_with = "lenient_metadata",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Metadata>,
}

impl std::fmt::Debug for BankAccountLinkRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankAccountLinkRequest")
            .field("customer_id", &self.customer_id)
            .field("routing_number", &self.routing_number)
            .field("account_number", &"***")
            .field("account_type", &self.account_type)
            .finish_non_exhaustive()
    }
}

/// Body of `POST /v1/bridge/plaid`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlaidLinkRequest {
    /// The account owner.
    pub customer_id: Uuid,
    /// A Plaid processor token created for Straddle.
    pub plaid_token: String,
    /// Processing options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<PaykeyConfig>,
    /// Your identifier for the paykey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub external_id: Option<String>,
    /// Your key/value pairs.
    #[serde(
        default,
        deserialize_with = "lenient_metadata",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Metadata>,
}

impl std::fmt::Debug for PlaidLinkRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaidLinkRequest")
            .field("customer_id", &self.customer_id)
            .field("plaid_token", &"***")
            .finish_non_exhaustive()
    }
}

/// Body of `POST /v1/bridge/tan`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TanLinkRequest {
    /// The account owner.
    pub customer_id: Uuid,
    /// Nine-digit ABA routing number; its check digit must be valid.
    #[schema(pattern = "^[0-9]{9}$")]
    pub routing_number: String,
    /// Tokenized account number, 4–17 digits.
    #[schema(pattern = "^[0-9]{4,17}$")]
    pub tan: String,
    /// Checking or savings.
    pub account_type: AccountType,
    /// Processing options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<PaykeyConfig>,
    /// Your identifier for the paykey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub external_id: Option<String>,
    /// Your key/value pairs.
    #[serde(
        default,
        deserialize_with = "lenient_metadata",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Metadata>,
}

impl std::fmt::Debug for TanLinkRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TanLinkRequest")
            .field("customer_id", &self.customer_id)
            .field("routing_number", &self.routing_number)
            .field("tan", &"***")
            .finish_non_exhaustive()
    }
}

/// Body of `POST /v1/bridge/quiltt`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuilttLinkRequest {
    /// The account owner.
    pub customer_id: Uuid,
    /// A Quiltt processor token (`quiltt_processor_token` is accepted too).
    #[serde(
        default,
        alias = "quiltt_processor_token",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, required = true)]
    pub quiltt_token: Option<String>,
    /// Processing options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<PaykeyConfig>,
    /// Your identifier for the paykey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub external_id: Option<String>,
    /// Your key/value pairs.
    #[serde(
        default,
        deserialize_with = "lenient_metadata",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Metadata>,
}

impl std::fmt::Debug for QuilttLinkRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuilttLinkRequest")
            .field("customer_id", &self.customer_id)
            .field("quiltt_token", &"***")
            .finish_non_exhaustive()
    }
}
