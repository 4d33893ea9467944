//! Customers: validation, the (simulated) identity verification, masking,
//! and the state changes the API allows.

pub mod repo;
pub mod routes;
pub mod service;

use std::fmt;

use serde::{Deserialize, Serialize};
use straddle_types::customer::{
    Address, ComplianceProfile, Customer, CustomerConfig, CustomerCreateRequest,
    CustomerSandboxOutcome, CustomerStatus, CustomerSummary, CustomerType, CustomerUpdateRequest,
    Decision, Device, IdentityBreakdown, IdentityDetails, ProcessingMethod, VerificationBreakdown,
};
use straddle_types::{Metadata, Timestamp};
use uuid::Uuid;

use crate::config::Environment;
use crate::validation::{self, bounded, is_e164, is_email, matches_pattern, Problems};

/// Non-sensitive stored details.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Details {
    /// Postal address.
    pub address: Option<Address>,
    /// Effective processing options.
    pub config: CustomerConfig,
    /// Integrator metadata.
    pub metadata: Option<Metadata>,
}

/// PII stored encrypted: compliance profile and device.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Pii {
    /// KYC / KYB data.
    pub compliance_profile: Option<ComplianceProfile>,
    /// Registration device.
    pub device: Option<Device>,
}

impl fmt::Debug for Pii {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pii(***)")
    }
}

/// A customer as stored.
#[derive(Clone, Debug)]
pub struct CustomerRecord {
    /// Id.
    pub id: Uuid,
    /// Owning account.
    pub account_id: Uuid,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// Individual or business.
    pub customer_type: CustomerType,
    /// Current status.
    pub status: CustomerStatus,
    /// Integrator id.
    pub external_id: Option<String>,
    /// Address, config, metadata.
    pub details: Details,
    /// Decrypted PII.
    pub pii: Pii,
    /// Verification result.
    pub review: Option<IdentityDetails>,
    /// Status a background verification will apply.
    pub pending_status: Option<CustomerStatus>,
    /// Bumped by every change; changes are conditional on it.
    pub version: i64,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// Checks the content of a create request.
pub fn validate_create(request: &CustomerCreateRequest) -> Result<(), crate::error::ApiError> {
    let mut problems = Problems::default();
    validate_common(
        &mut problems,
        &request.name,
        &request.email,
        &request.phone,
        &request.device,
        request.address.as_ref(),
        request.compliance_profile.as_ref(),
        request.external_id.as_deref(),
        request.metadata.as_ref(),
    );
    problems.finish()
}

/// Checks the content of an update request.
pub fn validate_update(request: &CustomerUpdateRequest) -> Result<(), crate::error::ApiError> {
    let mut problems = Problems::default();
    validate_common(
        &mut problems,
        &request.name,
        &request.email,
        &request.phone,
        &request.device,
        request.address.as_ref(),
        request.compliance_profile.as_ref(),
        request.external_id.as_deref(),
        request.metadata.as_ref(),
    );
    problems.finish()
}

#[allow(clippy::too_many_arguments)]
fn validate_common(
    problems: &mut Problems,
    name: &str,
    email: &str,
    phone: &str,
    device: &Device,
    address: Option<&Address>,
    profile: Option<&ComplianceProfile>,
    external_id: Option<&str>,
    metadata: Option<&Metadata>,
) {
    bounded(problems, "name", name, 255);
    problems.check(is_email(email), "email", "Must be a valid email address.");
    problems.check(
        is_e164(phone),
        "phone",
        "Must be an E.164 phone number, such as +12128675309.",
    );
    problems.check(
        device.ip_address.parse::<std::net::IpAddr>().is_ok(),
        "device.ip_address",
        "Must be an IPv4 or IPv6 address.",
    );
    if let Some(address) = address {
        bounded(problems, "address.address1", &address.address1, 100);
        if let Some(line) = &address.address2 {
            problems.check(
                line.chars().count() <= 100,
                "address.address2",
                "Must be 100 characters or fewer.",
            );
        }
        bounded(problems, "address.city", &address.city, 100);
        problems.check(
            address.state.len() == 2 && address.state.bytes().all(|b| b.is_ascii_alphabetic()),
            "address.state",
            "Must be a two-letter state code.",
        );
        problems.check(
            matches_pattern(&address.zip, "#####")
                || matches_pattern(&address.zip, "#########")
                || matches_pattern(&address.zip, "#####-####"),
            "address.zip",
            "Must be a 5- or 9-digit ZIP code.",
        );
    }
    if let Some(profile) = profile {
        if let Some(dob) = &profile.dob {
            let valid = chrono::NaiveDate::parse_from_str(dob, "%Y-%m-%d").is_ok_and(|date| {
                date < chrono::Utc::now().date_naive() && matches_pattern(dob, "####-##-##")
            });
            problems.check(
                valid,
                "compliance_profile.dob",
                "Must be a past date, YYYY-MM-DD.",
            );
        }
        if let Some(ssn) = &profile.ssn {
            problems.check(
                matches_pattern(ssn, "###-##-####"),
                "compliance_profile.ssn",
                "Must be XXX-XX-XXXX.",
            );
        }
        if let Some(ein) = &profile.ein {
            problems.check(
                matches_pattern(ein, "##-#######"),
                "compliance_profile.ein",
                "Must be XX-XXXXXXX.",
            );
        }
    }
    if let Some(external_id) = external_id {
        problems.check(
            external_id.chars().count() <= 255,
            "external_id",
            "Must be 255 characters or fewer.",
        );
    }
    validation::metadata(problems, metadata);
}

/// The result of identity verification.
#[derive(Debug)]
pub struct Verification {
    /// Status the customer ends in.
    pub status: CustomerStatus,
    /// The review record, absent when verification was skipped.
    pub review: Option<IdentityDetails>,
}

/// Simulated identity verification. In sandbox `sandbox_outcome` decides;
/// `standard` (and production) verifies customers whose compliance profile,
/// when given, is complete, and sends the others to review.
pub fn verify(record: &CustomerRecord, environment: Environment, now: Timestamp) -> Verification {
    let config = record.details.config;
    if config.processing_method == Some(ProcessingMethod::Skip) {
        return Verification {
            status: CustomerStatus::Verified,
            review: None,
        };
    }
    let outcome = match environment {
        Environment::Sandbox => config.sandbox_outcome.unwrap_or_default(),
        Environment::Production => CustomerSandboxOutcome::Standard,
    };
    let (status, decision, note) = match outcome {
        CustomerSandboxOutcome::Verified => (
            CustomerStatus::Verified,
            Decision::Accept,
            "Sandbox outcome: verified.",
        ),
        CustomerSandboxOutcome::Rejected => (
            CustomerStatus::Rejected,
            Decision::Reject,
            "Sandbox outcome: rejected.",
        ),
        CustomerSandboxOutcome::Review => (
            CustomerStatus::Review,
            Decision::Review,
            "Sandbox outcome: review.",
        ),
        CustomerSandboxOutcome::Standard if profile_complete(record) => (
            CustomerStatus::Verified,
            Decision::Accept,
            "Identity verified.",
        ),
        CustomerSandboxOutcome::Standard => (
            CustomerStatus::Review,
            Decision::Review,
            "Compliance profile is incomplete; manual review required.",
        ),
    };
    let check = |decision| VerificationBreakdown {
        decision,
        codes: vec![],
    };
    let review = IdentityDetails {
        review_id: Uuid::now_v7(),
        decision,
        breakdown: IdentityBreakdown {
            email: check(Decision::Accept),
            phone: check(Decision::Accept),
            address: record
                .details
                .address
                .as_ref()
                .map(|_| check(Decision::Accept)),
            fraud: check(decision),
        },
        messages: Some([("summary".to_string(), note.to_string())].into()),
        created_at: now,
        updated_at: now,
    };
    Verification {
        status,
        review: Some(review),
    }
}

fn profile_complete(record: &CustomerRecord) -> bool {
    let Some(profile) = &record.pii.compliance_profile else {
        return true;
    };
    match record.customer_type {
        CustomerType::Individual => profile.dob.is_some() && profile.ssn.is_some(),
        CustomerType::Business => profile.ein.is_some() && profile.legal_business_name.is_some(),
    }
}

/// Applies verification to a record: final status now (`inline`, `skip`),
/// or `pending` until its background job runs (`background`).
pub fn apply_verification(record: &mut CustomerRecord, verification: Verification) {
    record.review = verification.review;
    if record.details.config.processing_method == Some(ProcessingMethod::Background) {
        record.status = CustomerStatus::Pending;
        record.pending_status = Some(verification.status);
    } else {
        record.status = verification.status;
        record.pending_status = None;
    }
}

/// Effective config: defaults filled in.
pub fn effective_config(config: Option<CustomerConfig>) -> CustomerConfig {
    let config = config.unwrap_or_default();
    CustomerConfig {
        processing_method: Some(config.processing_method.unwrap_or_default()),
        sandbox_outcome: Some(config.sandbox_outcome.unwrap_or_default()),
    }
}

/// The wire form; PII masked unless `unmasked`.
pub fn to_wire(record: &CustomerRecord, unmasked: bool) -> Customer {
    let mut pii = record.pii.clone();
    if !unmasked {
        if let Some(profile) = pii.compliance_profile.as_mut() {
            mask(&mut profile.dob, "****-**-**");
            mask(&mut profile.ssn, "***-**-****");
            mask(&mut profile.ein, "**-*******");
        }
        if let Some(device) = pii.device.as_mut() {
            device.ip_address = mask_ip(&device.ip_address);
        }
    }
    Customer {
        id: record.id,
        name: record.name.clone(),
        customer_type: record.customer_type,
        email: record.email.clone(),
        phone: record.phone.clone(),
        status: record.status,
        address: record.details.address.clone(),
        compliance_profile: pii.compliance_profile,
        config: Some(record.details.config),
        device: pii.device,
        external_id: record.external_id.clone(),
        metadata: record.details.metadata.clone().filter(|m| !m.is_empty()),
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

/// The list form.
pub fn to_summary(record: &CustomerRecord) -> CustomerSummary {
    CustomerSummary {
        id: record.id,
        name: record.name.clone(),
        customer_type: record.customer_type,
        email: record.email.clone(),
        phone: record.phone.clone(),
        status: record.status,
        external_id: record.external_id.clone(),
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

fn mask(field: &mut Option<String>, masked: &str) {
    if field.is_some() {
        *field = Some(masked.to_string());
    }
}

fn mask_ip(ip: &str) -> String {
    if ip.contains(':') {
        "****:****:****:****".into()
    } else {
        "***.***.***.***".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pii_debug_is_redacted() {
        let pii = Pii {
            compliance_profile: Some(ComplianceProfile {
                ssn: Some("123-45-6789".into()),
                ..Default::default()
            }),
            device: Some(Device {
                ip_address: "10.1.2.3".into(),
            }),
        };
        let text = format!("{pii:?} {:?}", pii.device);
        assert!(
            !text.contains("123-45-6789") && !text.contains("10.1.2.3"),
            "{text}"
        );
    }
}
