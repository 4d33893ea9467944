//! Paykey verification: what `processing_method` and `sandbox_outcome`
//! decide (spec §C.2), and the owner-name match for provider sources.

use std::collections::{BTreeMap, BTreeSet};

use straddle_types::customer::{Decision, ProcessingMethod};
use straddle_types::paykey::{
    AccountValidation, NameMatch, PaykeyConfig, PaykeySandboxOutcome, PaykeySource, PaykeyStatus,
    StatusDetails, StatusReason, StatusSource, VerificationBreakdown, VerificationDetails,
};
use straddle_types::Timestamp;
use uuid::Uuid;

use crate::config::Environment;

/// The result of verifying a paykey.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Final status.
    pub status: PaykeyStatus,
    /// Its details.
    pub details: StatusDetails,
    /// The verification record (absent when skipped).
    pub verification: Option<VerificationDetails>,
}

/// Status details with the given parts.
pub fn details(
    message: &str,
    reason: StatusReason,
    source: StatusSource,
    at: Timestamp,
) -> StatusDetails {
    StatusDetails {
        message: message.into(),
        reason,
        source,
        changed_at: at,
        code: None,
    }
}

/// Status details of a background verification in progress.
pub fn validating(at: Timestamp) -> StatusDetails {
    details(
        "Verifying account ownership.",
        StatusReason::Validating,
        StatusSource::System,
        at,
    )
}

/// Verifies a paykey of `source` for a customer called `customer_name`.
pub fn verify(
    source: PaykeySource,
    config: PaykeyConfig,
    environment: Environment,
    customer_name: &str,
    owner_names: &[String],
    now: Timestamp,
) -> Outcome {
    if config.processing_method == Some(ProcessingMethod::Skip) {
        return Outcome {
            status: PaykeyStatus::Active,
            details: details(
                "Verification skipped.",
                StatusReason::Ok,
                StatusSource::System,
                now,
            ),
            verification: None,
        };
    }
    let outcome = match environment {
        Environment::Sandbox => config.sandbox_outcome.unwrap_or_default(),
        Environment::Production => PaykeySandboxOutcome::Standard,
    };
    let provider_backed = !matches!(source, PaykeySource::BankAccount | PaykeySource::Tan);
    let name_match = provider_backed.then(|| match_names(customer_name, owner_names));
    let decision = match outcome {
        PaykeySandboxOutcome::Active => Decision::Accept,
        PaykeySandboxOutcome::Review => Decision::Review,
        PaykeySandboxOutcome::Rejected => Decision::Reject,
        PaykeySandboxOutcome::Standard => {
            name_match.as_ref().map_or(Decision::Accept, |m| m.decision)
        }
    };
    let (status, message, reason, status_source) = match decision {
        Decision::Accept if provider_backed => (
            PaykeyStatus::Active,
            "Successfully matched account holder with customer.",
            StatusReason::Ok,
            StatusSource::System,
        ),
        Decision::Accept => (
            PaykeyStatus::Active,
            "Bank account successfully validated.",
            StatusReason::Ok,
            StatusSource::System,
        ),
        Decision::Review => (
            PaykeyStatus::Review,
            "Paykey requires manual review.",
            StatusReason::RequireReview,
            StatusSource::Watchtower,
        ),
        Decision::Reject => (
            PaykeyStatus::Rejected,
            "Account holder could not be matched to customer.",
            StatusReason::FailedVerification,
            StatusSource::Watchtower,
        ),
    };
    let verification = VerificationDetails {
        id: Uuid::now_v7(),
        decision,
        breakdown: VerificationBreakdown {
            account_validation: Some(AccountValidation {
                decision: Decision::Accept,
                codes: vec![],
                reason: Some("Routing number and account number are well-formed.".into()),
            }),
            name_match,
        },
        messages: BTreeMap::from([("summary".to_string(), message.to_string())]),
        created_at: now,
        updated_at: now,
    };
    Outcome {
        status,
        details: details(message, reason, status_source, now),
        verification: Some(verification),
    }
}

/// Compares the customer's name with the owners': all of the customer's
/// name parts among one owner's → accept; a shared part → review; none →
/// reject. No owner data → accept (nothing contradicts the customer).
pub fn match_names(customer_name: &str, owner_names: &[String]) -> NameMatch {
    let customer = name_parts(customer_name);
    let mut best: Option<(f64, &String)> = None;
    for owner in owner_names {
        let parts = name_parts(owner);
        let shared = customer.intersection(&parts).count();
        let score = if customer.is_empty() || parts.is_empty() {
            0.0
        } else if shared == customer.len() || shared == parts.len() {
            1.0
        } else {
            shared as f64 / customer.len().max(parts.len()) as f64
        };
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, owner));
        }
    }
    let (decision, reason, score) = match best {
        None => (
            Decision::Accept,
            "The provider reported no account owners.",
            None,
        ),
        Some((score, _)) if score >= 1.0 => (
            Decision::Accept,
            "The customer's name matches an account owner.",
            Some(score),
        ),
        Some((score, _)) if score > 0.0 => (
            Decision::Review,
            "The customer's name partly matches an account owner.",
            Some(score),
        ),
        Some((score, _)) => (
            Decision::Reject,
            "The customer's name matches no account owner.",
            Some(score),
        ),
    };
    NameMatch {
        decision,
        codes: vec![],
        correlation_score: score,
        customer_name: Some(customer_name.to_string()),
        matched_name: best.filter(|(s, _)| *s > 0.0).map(|(_, name)| name.clone()),
        names_on_account: Some(owner_names.to_vec()),
        reason: Some(reason.into()),
    }
}

fn name_parts(name: &str) -> BTreeSet<String> {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn names_match_by_parts_ignoring_case_order_and_punctuation() {
        let account = owners(&["Alberta Bobbeth Charleson"]);
        assert_eq!(
            match_names("alberta charleson", &account).decision,
            Decision::Accept
        );
        assert_eq!(
            match_names("Charleson, Alberta Bobbeth", &account).decision,
            Decision::Accept
        );
        assert_eq!(
            match_names("Bob Charleson", &account).decision,
            Decision::Review
        );
        assert_eq!(
            match_names("Ron Swanson", &account).decision,
            Decision::Reject
        );
        assert_eq!(match_names("Ron Swanson", &[]).decision, Decision::Accept);
    }

    #[test]
    fn sandbox_outcomes_decide_and_skip_skips() {
        let now = Timestamp(chrono::Utc::now());
        let config = |outcome| PaykeyConfig {
            processing_method: None,
            sandbox_outcome: Some(outcome),
        };
        let run = |config, env| {
            verify(
                PaykeySource::Plaid,
                config,
                env,
                "Ron Swanson",
                &owners(&["Ann Perkins"]),
                now,
            )
        };
        assert_eq!(
            run(config(PaykeySandboxOutcome::Active), Environment::Sandbox).status,
            PaykeyStatus::Active
        );
        assert_eq!(
            run(config(PaykeySandboxOutcome::Review), Environment::Sandbox).status,
            PaykeyStatus::Review
        );
        assert_eq!(
            run(config(PaykeySandboxOutcome::Standard), Environment::Sandbox).status,
            PaykeyStatus::Rejected
        );
        assert_eq!(
            run(
                config(PaykeySandboxOutcome::Active),
                Environment::Production
            )
            .status,
            PaykeyStatus::Rejected,
            "production ignores sandbox_outcome"
        );
        let skip = PaykeyConfig {
            processing_method: Some(ProcessingMethod::Skip),
            sandbox_outcome: None,
        };
        let skipped = run(skip, Environment::Sandbox);
        assert_eq!(skipped.status, PaykeyStatus::Active);
        assert!(skipped.verification.is_none());
    }
}
