//! Synthetic data for benchmarks at scale: customers and their paykeys,
//! written in large transactions straight through the repositories (sealed
//! and shaped exactly as the API writes them), far faster than through HTTP.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use straddle_types::customer::{
    CustomerConfig, CustomerStatus, CustomerType, Device, ProcessingMethod,
};
use straddle_types::paykey::{
    AccountType, PaykeyConfig, PaykeySandboxOutcome, PaykeySource, PaykeyStatus,
};
use straddle_types::Timestamp;
use uuid::Uuid;

use crate::customers::{self, CustomerRecord, Details, Pii};
use crate::error::ApiError;
use crate::paykeys::service::effective_config;
use crate::paykeys::verify::verify;
use crate::paykeys::{self, new_token, PaykeyDetails, PaykeyRecord, PaykeySecret};
use crate::storage::sql::Conn;
use crate::write::pipeline::{Command, WriteContext};

/// Banks the seeded paykeys are spread over (routing number, name).
const BANKS: [(&str, &str); 4] = [
    ("026009593", "BANK OF AMERICA, N.A."),
    ("021000021", "JPMORGAN CHASE BANK, NA"),
    ("121000248", "WELLS FARGO BANK, NA"),
    ("011401533", "FIRST PLATYPUS BANK"),
];

const FIRST_NAMES: [&str; 8] = [
    "Ron", "Leslie", "Ann", "April", "Andy", "Tom", "Donna", "Jerry",
];
const LAST_NAMES: [&str; 8] = [
    "Swanson",
    "Knope",
    "Perkins",
    "Ludgate",
    "Dwyer",
    "Haverford",
    "Meagle",
    "Gergich",
];

/// Writes `customers` customers of `account_id`, each with
/// `paykeys_per_customer` paykeys, numbered from `first`, created over the
/// year before the write.
#[derive(Debug)]
pub struct SeedBatch {
    /// The account that owns the data.
    pub account_id: Uuid,
    /// Number of the first customer (spreads names, emails and times).
    pub first: u64,
    /// Customers in this batch.
    pub customers: u64,
    /// Paykeys per customer.
    pub paykeys_per_customer: u64,
    /// Customers in the whole seed (spreads creation times).
    pub total_customers: u64,
}

impl Command for SeedBatch {
    type Output = u64;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<u64, ApiError> {
        let mut rng = StdRng::seed_from_u64(self.first);
        let year = chrono::Duration::days(365);
        let mut written = 0;
        for n in self.first..self.first + self.customers {
            // Older numbers were created earlier, so creation order is number order.
            let age = year * (self.total_customers - n) as i32 / self.total_customers.max(1) as i32;
            let created = Timestamp(cx.now.0 - age);
            let customer = seed_customer(self.account_id, n, created, &mut rng);
            customers::repo::insert(tx, &cx.sealer, &customer).await?;
            for k in 0..self.paykeys_per_customer {
                let at = Timestamp(created.0 + chrono::Duration::seconds(k as i64));
                let paykey = seed_paykey(&customer, cx, at, &mut rng);
                paykeys::repo::insert(tx, &cx.sealer, &paykey).await?;
                written += 1;
            }
        }
        Ok(written)
    }
}

fn seed_customer(account_id: Uuid, n: u64, created: Timestamp, rng: &mut StdRng) -> CustomerRecord {
    let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
    let status = match rng.gen_range(0..100) {
        0..90 => CustomerStatus::Verified,
        90..95 => CustomerStatus::Review,
        _ => CustomerStatus::Rejected,
    };
    CustomerRecord {
        id: Uuid::now_v7(),
        account_id,
        name: format!("{first} {last} {n}"),
        email: format!("customer{n}@example.com"),
        phone: format!("+1212{:07}", n % 10_000_000),
        customer_type: CustomerType::Individual,
        status,
        external_id: Some(format!("cust-{n}")),
        details: Details {
            address: None,
            config: customers::effective_config(Some(CustomerConfig {
                processing_method: Some(ProcessingMethod::Inline),
                sandbox_outcome: None,
            })),
            metadata: None,
        },
        pii: Pii {
            compliance_profile: None,
            device: Some(Device {
                ip_address: format!("192.0.2.{}", n % 250 + 1),
            }),
        },
        review: None,
        pending_status: None,
        version: 0,
        created_at: created,
        updated_at: created,
    }
}

fn seed_paykey(
    customer: &CustomerRecord,
    cx: &WriteContext,
    created: Timestamp,
    rng: &mut StdRng,
) -> PaykeyRecord {
    let (routing, bank) = BANKS[rng.gen_range(0..BANKS.len())];
    let outcome = match rng.gen_range(0..100) {
        0..85 => PaykeySandboxOutcome::Active,
        85..95 => PaykeySandboxOutcome::Review,
        _ => PaykeySandboxOutcome::Rejected,
    };
    let config = effective_config(Some(PaykeyConfig {
        processing_method: None,
        sandbox_outcome: Some(outcome),
    }));
    let source = PaykeySource::BankAccount;
    let verified = verify(source, config, cx.environment, &customer.name, &[], created);
    let account_number = format!("{:012}", rng.gen_range(0..1_000_000_000_000u64));
    let status = if rng.gen_range(0..100) < 5 {
        PaykeyStatus::Inactive
    } else {
        verified.status
    };
    PaykeyRecord {
        id: Uuid::now_v7(),
        account_id: customer.account_id,
        customer_id: customer.id,
        source,
        status,
        institution_name: Some(bank.to_string()),
        routing_number: routing.to_string(),
        account_type: if rng.gen_bool(0.8) {
            AccountType::Checking
        } else {
            AccountType::Savings
        },
        external_id: Some(format!("pk-{}", rng.gen_range(0..1_000_000_000u64))),
        unblock_eligible: None,
        details: PaykeyDetails {
            config,
            metadata: None,
            status_details: verified.details,
            balance: None,
            verification: verified.verification,
            pending: None,
            unblocked_once: false,
            balance_at_link: None,
        },
        secret: PaykeySecret {
            token: new_token(),
            account_number,
            provider_token: None,
            owner_names: vec![],
        },
        version: 0,
        created_at: created,
        updated_at: created,
    }
}
