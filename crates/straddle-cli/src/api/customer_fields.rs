//! Body flags of `customers create` and `customers update`: the device,
//! address and compliance profile (each as JSON or dotted flags), the
//! external id, metadata and, for create, `--config`.

use clap::Args;
use straddle_sdk::types::customer::{Address, ComplianceProfile, CustomerConfig, Device};
use straddle_sdk::types::Metadata;

use super::failure::CliError;
use super::flags::{object, MetadataArgs};

/// Body fields shared by create and update.
#[derive(Args)]
pub struct DetailArgs {
    /// Body param (required): the registration device as JSON. Example: --device '{"ip_address":"203.0.113.7"}'
    #[arg(long, value_name = "JSON")]
    device: Option<String>,
    /// Body param: device.ip_address; 0.0.0.0 means offline registration. Example: --device.ip-address 203.0.113.7
    #[arg(
        id = "device.ip-address",
        long = "device.ip-address",
        value_name = "IP"
    )]
    ip_address: Option<String>,
    /// Body param: postal address as JSON. Example: --address '{"address1":"100 Main St","city":"Pawnee","state":"IN","zip":"47998"}'
    #[arg(long, value_name = "JSON")]
    address: Option<String>,
    /// Body param: address.address1. Example: --address.address1 '100 Main St'
    #[arg(
        id = "address.address1",
        long = "address.address1",
        value_name = "LINE"
    )]
    address1: Option<String>,
    /// Body param: address.address2. Example: --address.address2 'Suite 2'
    #[arg(
        id = "address.address2",
        long = "address.address2",
        value_name = "LINE"
    )]
    address2: Option<String>,
    /// Body param: address.city. Example: --address.city Pawnee
    #[arg(id = "address.city", long = "address.city")]
    city: Option<String>,
    /// Body param: address.state, two letters. Example: --address.state IN
    #[arg(id = "address.state", long = "address.state")]
    state: Option<String>,
    /// Body param: address.zip, 5 or 9 digits. Example: --address.zip 47998
    #[arg(id = "address.zip", long = "address.zip")]
    zip: Option<String>,
    /// Body param: KYC/KYB data as JSON (representatives only this way). Example: --compliance-profile '{"dob":"1980-02-29","ssn":"123-45-6789"}'
    #[arg(long, value_name = "JSON")]
    compliance_profile: Option<String>,
    /// Body param: compliance_profile.dob, YYYY-MM-DD. Example: --compliance-profile.dob 1980-02-29
    #[arg(
        id = "compliance-profile.dob",
        long = "compliance-profile.dob",
        value_name = "DATE"
    )]
    dob: Option<String>,
    /// Body param: compliance_profile.ssn, XXX-XX-XXXX. Example: --compliance-profile.ssn 123-45-6789
    #[arg(id = "compliance-profile.ssn", long = "compliance-profile.ssn")]
    ssn: Option<String>,
    /// Body param: compliance_profile.ein, XX-XXXXXXX. Example: --compliance-profile.ein 12-3456789
    #[arg(id = "compliance-profile.ein", long = "compliance-profile.ein")]
    ein: Option<String>,
    /// Body param: compliance_profile.legal_business_name. Example: --compliance-profile.legal-business-name 'Very Good Building Co.'
    #[arg(
        id = "compliance-profile.legal-business-name",
        long = "compliance-profile.legal-business-name",
        value_name = "NAME"
    )]
    legal_business_name: Option<String>,
    /// Body param: compliance_profile.website. Example: --compliance-profile.website https://example.com
    #[arg(
        id = "compliance-profile.website",
        long = "compliance-profile.website",
        value_name = "URL"
    )]
    website: Option<String>,
    /// Body param: your identifier for this customer. Example: --external-id crm-4711
    #[arg(long)]
    external_id: Option<String>,
    #[command(flatten)]
    metadata: MetadataArgs,
}

/// [`DetailArgs`], checked against the wire types.
pub struct Details {
    pub device: Device,
    pub address: Option<Address>,
    pub compliance_profile: Option<ComplianceProfile>,
    pub external_id: Option<String>,
    pub metadata: Option<Metadata>,
}

impl DetailArgs {
    /// The fields, checked against the wire types.
    pub fn parse(self) -> Result<Details, CliError> {
        let device =
            object("device", self.device, [("ip_address", self.ip_address)])?.ok_or_else(|| {
                CliError::Usage("--device.ip-address (or --device) is required".into())
            })?;
        let address = object(
            "address",
            self.address,
            [
                ("address1", self.address1),
                ("address2", self.address2),
                ("city", self.city),
                ("state", self.state),
                ("zip", self.zip),
            ],
        )?;
        let compliance_profile = object(
            "compliance_profile",
            self.compliance_profile,
            [
                ("dob", self.dob),
                ("ssn", self.ssn),
                ("ein", self.ein),
                ("legal_business_name", self.legal_business_name),
                ("website", self.website),
            ],
        )?;
        Ok(Details {
            device,
            address,
            compliance_profile,
            external_id: self.external_id,
            metadata: self.metadata.value()?,
        })
    }
}

/// `--config` for customers: JSON, or one dotted flag per field.
#[derive(Args)]
pub struct ConfigArgs {
    /// Body param: verification options as JSON ({processing_method, sandbox_outcome}). Example: --config '{"sandbox_outcome":"review"}'
    #[arg(long, value_name = "JSON")]
    config: Option<String>,
    /// Body param: config.processing_method: inline, background or skip. Example: --config.processing-method background
    #[arg(
        id = "config.processing-method",
        long = "config.processing-method",
        value_name = "METHOD"
    )]
    processing_method: Option<String>,
    /// Body param: config.sandbox_outcome (sandbox only): standard, verified, rejected or review. Example: --config.sandbox-outcome verified
    #[arg(
        id = "config.sandbox-outcome",
        long = "config.sandbox-outcome",
        value_name = "OUTCOME"
    )]
    sandbox_outcome: Option<String>,
}

impl ConfigArgs {
    /// The `config` body field, if any flag set it.
    pub fn value(self) -> Result<Option<CustomerConfig>, CliError> {
        object(
            "config",
            self.config,
            [
                ("processing_method", self.processing_method),
                ("sandbox_outcome", self.sandbox_outcome),
            ],
        )
    }
}
