//! Paykeys: the record, its token and masking, and the wire forms.

pub mod repo;
pub mod routes;
pub mod service;
pub mod verify;

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use straddle_types::paykey::{
    AccountType, Balance, BankData, Paykey, PaykeyConfig, PaykeySource, PaykeyStatus,
    PaykeySummary, StatusDetails, VerificationDetails,
};
use straddle_types::{Metadata, Timestamp};
use uuid::Uuid;

/// Non-sensitive stored details.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaykeyDetails {
    /// Effective processing options.
    pub config: PaykeyConfig,
    /// Integrator metadata.
    pub metadata: Option<Metadata>,
    /// Details of the current status.
    pub status_details: StatusDetails,
    /// Balance, for provider-linked paykeys.
    pub balance: Option<Balance>,
    /// Last verification result.
    pub verification: Option<VerificationDetails>,
    /// Outcome a background verification applies when its job runs.
    pub pending: Option<(PaykeyStatus, StatusDetails)>,
    /// Whether the paykey was unblocked before (then never eligible again).
    pub unblocked_once: bool,
    /// Balance fetched at link time, shown once a background verification ends.
    #[serde(default)]
    pub balance_at_link: Option<i64>,
}

/// Sensitive stored values, sealed at rest.
#[derive(Clone, Serialize, Deserialize)]
pub struct PaykeySecret {
    /// The full paykey token.
    pub token: String,
    /// The full account number (or TAN).
    pub account_number: String,
    /// The processor token a provider paykey was linked with.
    pub provider_token: Option<String>,
    /// Account owner names the provider reported.
    pub owner_names: Vec<String>,
}

impl fmt::Debug for PaykeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PaykeySecret(***)")
    }
}

/// A paykey as stored.
#[derive(Clone, Debug)]
pub struct PaykeyRecord {
    /// Id.
    pub id: Uuid,
    /// Owning account.
    pub account_id: Uuid,
    /// The customer.
    pub customer_id: Uuid,
    /// Where the bank data came from.
    pub source: PaykeySource,
    /// Current status.
    pub status: PaykeyStatus,
    /// The bank's name.
    pub institution_name: Option<String>,
    /// Routing number.
    pub routing_number: String,
    /// Checking or savings.
    pub account_type: AccountType,
    /// Integrator id.
    pub external_id: Option<String>,
    /// Set while blocked.
    pub unblock_eligible: Option<bool>,
    /// Plain details.
    pub details: PaykeyDetails,
    /// Sealed values.
    pub secret: PaykeySecret,
    /// Bumped by every change; changes are conditional on it.
    pub version: i64,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// A new token: 8 hex, `.02.`, 7 hex, from the thread's CSPRNG (no system
/// call on the writer thread, where paykeys are made).
pub fn new_token() -> String {
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex = hex::encode(bytes);
    format!("{}.02.{}", &hex[..8], &hex[8..15])
}

/// `abc***.02.******xyz`.
pub fn mask_token(token: &str) -> String {
    let head: String = token.chars().take(3).collect();
    let tail: String = token
        .chars()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}***.02.******{tail}")
}

/// `******` + last four digits.
pub fn mask_account_number(number: &str) -> String {
    format!("******{}", last4(number))
}

fn last4(number: &str) -> &str {
    &number[number.len().saturating_sub(4)..]
}

/// `"<INSTITUTION> - *1234"`, or `"BANK ACCOUNT - *1234"` when unknown.
pub fn label(institution_name: Option<&str>, account_number: &str) -> String {
    format!(
        "{} - *{}",
        institution_name.unwrap_or("BANK ACCOUNT"),
        last4(account_number)
    )
}

/// What of a paykey's secrets a response shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reveal {
    /// Masked token and account number.
    Masked,
    /// Full token, masked account number (creation, `reveal`).
    Token,
    /// Full token and account number (`unmasked`).
    Everything,
}

/// The wire form.
pub fn to_wire(record: &PaykeyRecord, reveal: Reveal) -> Paykey {
    let token = match reveal {
        Reveal::Masked => mask_token(&record.secret.token),
        Reveal::Token | Reveal::Everything => record.secret.token.clone(),
    };
    let account_number = match reveal {
        Reveal::Everything => record.secret.account_number.clone(),
        _ => mask_account_number(&record.secret.account_number),
    };
    Paykey {
        id: record.id,
        paykey: token,
        customer_id: Some(record.customer_id),
        label: label(
            record.institution_name.as_deref(),
            &record.secret.account_number,
        ),
        source: record.source,
        institution_name: record.institution_name.clone(),
        status: record.status,
        status_details: Some(record.details.status_details.clone()),
        expires_at: None,
        bank_data: Some(BankData {
            routing_number: record.routing_number.clone(),
            account_number,
            account_type: record.account_type,
        }),
        balance: record.details.balance.clone(),
        config: record.details.config,
        external_id: record.external_id.clone(),
        metadata: record.details.metadata.clone().filter(|m| !m.is_empty()),
        unblock_eligible: record.unblock_eligible,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

/// The list form (masked; no balance, no metadata).
pub fn to_summary(record: &PaykeyRecord) -> PaykeySummary {
    let full = to_wire(record, Reveal::Masked);
    PaykeySummary {
        id: full.id,
        paykey: full.paykey,
        customer_id: full.customer_id,
        label: full.label,
        source: full.source,
        institution_name: full.institution_name,
        status: full.status,
        status_details: full.status_details,
        expires_at: full.expires_at,
        bank_data: full.bank_data,
        config: full.config,
        external_id: full.external_id,
        unblock_eligible: full.unblock_eligible,
        created_at: full.created_at,
        updated_at: full.updated_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_documented_shape_and_mask() {
        let token = new_token();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!((parts[0].len(), parts[1], parts[2].len()), (8, "02", 7));
        assert_eq!(mask_token("a17c4b04.02.4b6a949"), "a17***.02.******949");
        assert_eq!(mask_account_number("004417253381"), "******3381");
        assert_eq!(
            label(Some("BANK OF AMERICA, N.A."), "004417253381"),
            "BANK OF AMERICA, N.A. - *3381"
        );
        assert_eq!(label(None, "1234"), "BANK ACCOUNT - *1234");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let secret = PaykeySecret {
            token: "a17c4b04.02.4b6a949".into(),
            account_number: "004417253381".into(),
            provider_token: Some("processor-sandbox-x".into()),
            owner_names: vec!["Ron".into()],
        };
        let text = format!("{secret:?}");
        assert!(
            !text.contains("004417253381")
                && !text.contains("a17c4b04")
                && !text.contains("processor")
        );
    }
}
