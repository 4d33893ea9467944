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
