//! Customers: the people and businesses whose bank accounts become paykeys.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::common::{lenient_metadata, Metadata, Timestamp};
use crate::envelope::SortOrder;

/// Individual or business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerType {
    /// A natural person.
    Individual,
    /// A company.
    Business,
}

/// Where a customer stands in identity verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerStatus {
    /// Verification has not finished yet.
    Pending,
    /// Waiting for a manual review decision.
    Review,
    /// Identity verified.
    Verified,
    /// Disabled.
    Inactive,
    /// Identity verification failed.
    Rejected,
}

/// When verification runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingMethod {
    /// In the request itself: the response carries the final status.
    #[default]
    Inline,
    /// After the response: the record is `pending`, then moves on its own.
    Background,
    /// Not at all.
    Skip,
}

/// Sandbox-only: the verification result to simulate for a customer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerSandboxOutcome {
    /// Run the simulated checks.
    #[default]
    Standard,
    /// Verify automatically.
    Verified,
    /// Reject automatically.
    Rejected,
    /// Send to manual review.
    Review,
}

/// How a customer's verification is processed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerConfig {
    /// When verification runs (default `inline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_method: Option<ProcessingMethod>,
    /// Sandbox outcome (default `standard`); ignored in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_outcome: Option<CustomerSandboxOutcome>,
}

/// A postal address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Address {
    /// Street line 1 (≤ 100 characters).
    #[schema(max_length = 100)]
    pub address1: String,
    /// Street line 2 (≤ 100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100)]
    pub address2: Option<String>,
    /// City (≤ 100 characters).
    #[schema(max_length = 100)]
    pub city: String,
    /// Two-letter state code.
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub state: String,
    /// ZIP code: 5 or 9 digits (`12345`, `123456789` or `12345-6789`).
    #[schema(pattern = "^([0-9]{5}|[0-9]{9}|[0-9]{5}-[0-9]{4})$")]
    pub zip: String,
}

/// The device the customer registered from.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Device {
    /// IP address; `0.0.0.0` means offline registration.
    pub ip_address: String,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("ip_address", &"***")
            .finish()
    }
}

/// A business representative.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Representative {
    /// Full name.
    pub name: String,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// KYC / KYB data: `dob` and `ssn` for individuals; `ein`,
/// `legal_business_name`, `website` and `representatives` for businesses.
/// Masked in every response except `unmasked`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComplianceProfile {
    /// Date of birth, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dob: Option<String>,
    /// Social security number, `XXX-XX-XXXX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssn: Option<String>,
    /// Employer identification number, `XX-XXXXXXX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ein: Option<String>,
    /// Registered business name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_business_name: Option<String>,
    /// Business website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// People acting for the business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representatives: Option<Vec<Representative>>,
}

impl std::fmt::Debug for ComplianceProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ComplianceProfile(***)")
    }
}

/// Body of `POST /v1/customers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomerCreateRequest {
    /// Full name or business name.
    #[schema(max_length = 255)]
    pub name: String,
    /// Individual or business.
    #[serde(rename = "type")]
    pub customer_type: CustomerType,
    /// Email address.
    #[schema(max_length = 254)]
    pub email: String,
    /// Phone number in E.164 format.
    #[schema(pattern = r"^\+[1-9][0-9]{6,14}$")]
    pub phone: String,
    /// Registration device.
    pub device: Device,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// KYC / KYB data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance_profile: Option<ComplianceProfile>,
    /// Verification processing options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<CustomerConfig>,
    /// Your identifier for this customer.
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

/// Body of `PUT /v1/customers/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomerUpdateRequest {
    /// Full name or business name.
    #[schema(max_length = 255)]
    pub name: String,
    /// Email address.
    #[schema(max_length = 254)]
    pub email: String,
    /// Phone number in E.164 format.
    #[schema(pattern = r"^\+[1-9][0-9]{6,14}$")]
    pub phone: String,
    /// Registration device.
    pub device: Device,
    /// New status.
    pub status: CustomerStatus,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// KYC / KYB data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance_profile: Option<ComplianceProfile>,
    /// Your identifier for this customer.
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

/// A customer as the API returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    /// Unique identifier.
    pub id: Uuid,
    /// Full name or business name.
    pub name: String,
    /// Individual or business.
    #[serde(rename = "type")]
    pub customer_type: CustomerType,
    /// Email address.
    pub email: String,
    /// Phone number.
    pub phone: String,
    /// Verification status.
    pub status: CustomerStatus,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// KYC / KYB data (masked except on `unmasked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance_profile: Option<ComplianceProfile>,
    /// Effective processing options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<CustomerConfig>,
    /// Registration device (IP masked except on `unmasked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    /// Your identifier for this customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Your key/value pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A customer in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomerSummary {
    /// Unique identifier.
    pub id: Uuid,
    /// Full name or business name.
    pub name: String,
    /// Individual or business.
    #[serde(rename = "type")]
    pub customer_type: CustomerType,
    /// Email address.
    pub email: String,
    /// Phone number.
    pub phone: String,
    /// Verification status.
    pub status: CustomerStatus,
    /// Your identifier for this customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Sort fields of the customer list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerSortBy {
    /// By name.
    Name,
    /// By creation time (the default).
    #[default]
    CreatedAt,
}

/// Query of `GET /v1/customers`. Array parameters are comma-separated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// Created at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_from: Option<Timestamp>,
    /// Created at or before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_to: Option<Timestamp>,
    /// Exact email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Exact external id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Part of the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Text found in name, email, phone or external id.
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
    pub sort_by: Option<CustomerSortBy>,
    /// Sort direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<SortOrder>,
    /// Statuses, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<CustomerStatus>>, style = Form, explode = false, min_items = 1)]
    pub status: Option<String>,
    /// Customer types, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<CustomerType>>, style = Form, explode = false, min_items = 1)]
    pub types: Option<String>,
}

/// Body of `PATCH /v1/customers/{id}/review`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomerReviewDecisionRequest {
    /// The decision.
    pub status: CustomerReviewDecision,
}

/// A manual review decision for a customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerReviewDecision {
    /// Approve.
    Verified,
    /// Decline.
    Rejected,
}

/// Outcome of a verification check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Passed.
    Accept,
    /// Failed.
    Reject,
    /// Needs a person.
    Review,
}

/// One check of the identity verification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VerificationBreakdown {
    /// Result of the check.
    pub decision: Decision,
    /// Reason codes.
    pub codes: Vec<String>,
}

/// The checks that make up an identity verification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IdentityBreakdown {
    /// Email check.
    pub email: VerificationBreakdown,
    /// Phone check.
    pub phone: VerificationBreakdown,
    /// Address check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<VerificationBreakdown>,
    /// Fraud screening.
    pub fraud: VerificationBreakdown,
}

/// Identity verification result of a customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IdentityDetails {
    /// Identifier of this review.
    pub review_id: Uuid,
    /// Overall decision.
    pub decision: Decision,
    /// The individual checks.
    pub breakdown: IdentityBreakdown,
    /// Human-readable notes keyed by check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<std::collections::BTreeMap<String, String>>,
    /// When the review was made.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// `GET /v1/customers/{id}/review`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomerReview {
    /// The customer.
    pub customer_details: Customer,
    /// The verification result, absent when verification was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_details: Option<IdentityDetails>,
}
