//! Request and response bodies of the widget's own API (`/widget/api/*`).
//! They are private to the widget page: not part of the Straddle API.

use serde::{Deserialize, Serialize};
use straddle_types::paykey::AccountType;
use utoipa::ToSchema;

/// `GET /widget/api/session`: what the widget shows before linking.
#[derive(Debug, Serialize)]
pub struct SessionView {
    /// The platform's display name ("Acme uses Straddle to …").
    pub account_name: String,
    /// `sandbox` or `production`.
    pub environment: &'static str,
    /// When the token expires (seconds since the epoch).
    pub expires_at: i64,
    /// Whether bank sign-in (open banking) is offered.
    pub open_banking: bool,
}

/// A bank in the open-banking picker.
#[derive(Debug, Serialize)]
pub struct InstitutionView {
    /// Id to sign in with.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
}

/// An account shown after signing in.
#[derive(Debug, Serialize)]
pub struct AccountView {
    /// Id to link with.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Checking or savings.
    pub account_type: AccountType,
    /// Last four digits of the account number.
    pub mask: String,
    /// Current balance in cents.
    pub balance_cents: i64,
}

/// `POST /widget/api/bank_account`: typed-in bank details.
#[derive(Deserialize, ToSchema)]
pub struct ManualEntryRequest {
    /// 9 digits with a valid ABA check digit.
    pub routing_number: String,
    /// 4 to 17 digits.
    pub account_number: String,
    /// Checking or savings.
    pub account_type: AccountType,
}

/// `POST /widget/api/open_banking/accounts`: sign in to a sandbox bank.
#[derive(Deserialize, ToSchema)]
pub struct SignInRequest {
    /// The institution's id.
    pub institution_id: String,
    /// Bank username (`user_good` in the sandbox).
    pub username: String,
    /// Bank password (`pass_good` in the sandbox).
    pub password: String,
}

/// `POST /widget/api/open_banking/paykey`: link one account of a bank
/// signed in to. The credentials are sent again; nothing is kept between
/// calls.
#[derive(Deserialize, ToSchema)]
pub struct OpenBankingLinkRequest {
    /// The institution's id.
    pub institution_id: String,
    /// The chosen account's id.
    pub account_id: String,
    /// Bank username.
    pub username: String,
    /// Bank password.
    pub password: String,
}
