//! Customer write commands. Each change is decided from the customer as read
//! in its transaction and saved only if it is still at that version, so
//! concurrent changes apply in some serial order and none is lost.

use straddle_types::customer::{
    Customer, CustomerCreateRequest, CustomerReview, CustomerReviewDecision, CustomerStatus,
    CustomerUpdateRequest, Decision,
};
use uuid::Uuid;

use super::{
    apply_verification, effective_config, repo, to_wire, verify, CustomerRecord, Details, Pii,
};
use crate::error::ApiError;
use crate::jobs::queue::{self, Job, JobKind};
use crate::storage::sql::Conn;
use crate::webhooks::events;
use crate::write::pipeline::{Command, WriteContext};
use straddle_types::webhook::EventType;

/// How often a change is decided again when a concurrent one got there first.
const MAX_ATTEMPTS: usize = 8;

/// Creates a customer and runs (or schedules) its verification.
#[derive(Debug)]
pub struct CreateCustomer {
    /// The acting account.
    pub account_id: Uuid,
    /// The validated request.
    pub request: CustomerCreateRequest,
}

impl Command for CreateCustomer {
    type Output = Customer;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Customer, ApiError> {
        let request = self.request;
        let now = cx.now;
        let mut record = CustomerRecord {
            id: Uuid::now_v7(),
            account_id: self.account_id,
            name: request.name,
            email: request.email,
            phone: request.phone,
            customer_type: request.customer_type,
            status: CustomerStatus::Pending,
            external_id: request.external_id,
            details: Details {
                address: request.address,
                config: effective_config(request.config),
                metadata: request.metadata,
            },
            pii: Pii {
                compliance_profile: request.compliance_profile,
                device: Some(request.device),
            },
            review: None,
            pending_status: None,
            version: 0,
            created_at: now,
            updated_at: now,
        };
        let verification = verify(&record, cx.environment, now);
        apply_verification(&mut record, verification);
        repo::insert(tx, &cx.sealer, &record).await?;
        schedule_verification(tx, cx, &record).await?;
        announce(tx, cx, EventType::CustomerCreated, &record).await
    }
}

/// Emits the customer's event (its masked wire form) and returns that form.
async fn announce(
    tx: &mut Conn<'_>,
    cx: &WriteContext,
    event_type: EventType,
    record: &CustomerRecord,
) -> Result<Customer, ApiError> {
    let customer = to_wire(record, false);
    events::customer(tx, cx, event_type, record.account_id, &customer).await?;
    Ok(customer)
}

/// Schedules the background verification a record is waiting for, or drops
/// one it no longer waits for.
async fn schedule_verification(
    tx: &mut Conn<'_>,
    cx: &WriteContext,
    record: &CustomerRecord,
) -> Result<(), ApiError> {
    let subject = record.id.to_string();
    match record.pending_status {
        Some(_) => {
            queue::schedule(
                tx,
                JobKind::CustomerVerification,
                &subject,
                cx.background_due(),
            )
            .await
        }
        None => queue::cancel(tx, JobKind::CustomerVerification, &subject).await,
    }
}

/// Reads a customer of `account_id`, lets `apply` decide the change from
/// what it read, and saves it only if nobody changed the customer in
/// between; otherwise decides again from the newer state.
async fn change(
    tx: &mut Conn<'_>,
    cx: &WriteContext,
    account_id: Uuid,
    id: Uuid,
    apply: impl Fn(&mut CustomerRecord) -> Result<(), ApiError>,
) -> Result<CustomerRecord, ApiError> {
    for _ in 0..MAX_ATTEMPTS {
        let mut record = repo::get(tx, &cx.sealer, account_id, id).await?;
        apply(&mut record)?;
        record.updated_at = cx.now;
        if repo::save(tx, &cx.sealer, &record).await? {
            record.version += 1;
            return Ok(record);
        }
    }
    Err(ApiError::Unavailable(
        "the customer kept changing concurrently".into(),
    ))
}

/// Replaces a customer's details and status.
#[derive(Debug)]
pub struct UpdateCustomer {
    /// The acting account.
    pub account_id: Uuid,
    /// The customer.
    pub id: Uuid,
    /// The validated request.
    pub request: CustomerUpdateRequest,
}

impl Command for UpdateCustomer {
    type Output = Customer;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Customer, ApiError> {
        let request = self.request;
        let record = change(tx, cx, self.account_id, self.id, |record| {
            record.name = request.name.clone();
            record.email = request.email.clone();
            record.phone = request.phone.clone();
            record.pii = Pii {
                compliance_profile: request.compliance_profile.clone(),
                device: Some(request.device.clone()),
            };
            record.details.address = request.address.clone();
            record.details.metadata = request.metadata.clone();
            record.external_id = request.external_id.clone();
            if record.status != request.status {
                // An explicit status supersedes a pending background verification.
                record.status = request.status;
                record.pending_status = None;
            }
            Ok(())
        })
        .await?;
        if record.pending_status.is_none() {
            queue::cancel(tx, JobKind::CustomerVerification, &self.id.to_string()).await?;
        }
        announce(tx, cx, EventType::CustomerEvent, &record).await
    }
}

/// Deletes a customer permanently and returns it as it was.
#[derive(Debug)]
pub struct DeleteCustomer {
    /// The acting account.
    pub account_id: Uuid,
    /// The customer.
    pub id: Uuid,
}

impl Command for DeleteCustomer {
    type Output = Customer;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Customer, ApiError> {
        for _ in 0..MAX_ATTEMPTS {
            let record = repo::get(tx, &cx.sealer, self.account_id, self.id).await?;
            if repo::delete(tx, &record).await? {
                queue::cancel(tx, JobKind::CustomerVerification, &self.id.to_string()).await?;
                return announce(tx, cx, EventType::CustomerEvent, &record).await;
            }
        }
        Err(ApiError::Unavailable(
            "the customer kept changing concurrently".into(),
        ))
    }
}

/// Records a manual review decision; only for customers in `review`.
#[derive(Debug)]
pub struct DecideCustomerReview {
    /// The acting account.
    pub account_id: Uuid,
    /// The customer.
    pub id: Uuid,
    /// Verify or reject.
    pub decision: CustomerReviewDecision,
}

impl Command for DecideCustomerReview {
    type Output = Customer;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Customer, ApiError> {
        let (status, outcome) = match self.decision {
            CustomerReviewDecision::Verified => (CustomerStatus::Verified, Decision::Accept),
            CustomerReviewDecision::Rejected => (CustomerStatus::Rejected, Decision::Reject),
        };
        let now = cx.now;
        let record = change(tx, cx, self.account_id, self.id, |record| {
            if record.status != CustomerStatus::Review {
                return Err(ApiError::unprocessable(
                    "status",
                    format!(
                        "Only customers in review can be decided; this one is {}.",
                        crate::storage::query::enum_text(&record.status)
                    ),
                ));
            }
            record.status = status;
            if let Some(review) = record.review.as_mut() {
                review.decision = outcome;
                review.updated_at = now;
            }
            Ok(())
        })
        .await?;
        announce(tx, cx, EventType::CustomerEvent, &record).await
    }
}

/// Runs identity verification again on the customer's current data.
#[derive(Debug)]
pub struct RefreshCustomerReview {
    /// The acting account.
    pub account_id: Uuid,
    /// The customer.
    pub id: Uuid,
}

impl Command for RefreshCustomerReview {
    type Output = Customer;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Customer, ApiError> {
        let (environment, now) = (cx.environment, cx.now);
        let record = change(tx, cx, self.account_id, self.id, |record| {
            if record.status == CustomerStatus::Inactive {
                return Err(ApiError::unprocessable(
                    "status",
                    "Inactive customers cannot be reviewed again.",
                ));
            }
            let verification = verify(record, environment, now);
            apply_verification(record, verification);
            Ok(())
        })
        .await?;
        schedule_verification(tx, cx, &record).await?;
        announce(tx, cx, EventType::CustomerEvent, &record).await
    }
}

/// Background job: applies a due verification outcome; `false` when
/// another instance applied it or a later change superseded it.
#[derive(Debug)]
pub struct CompleteCustomerVerification {
    /// The claimed job.
    pub job: Job,
}

impl Command for CompleteCustomerVerification {
    type Output = bool;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<bool, ApiError> {
        if !queue::finish(tx, &self.job).await? {
            return Ok(false);
        }
        let id = crate::storage::query::parse_uuid(&self.job.subject_id)?;
        if !repo::complete_verification(tx, id, cx.now).await? {
            return Ok(false);
        }
        if let Some(record) = repo::get_any(tx, &cx.sealer, id).await? {
            announce(tx, cx, EventType::CustomerEvent, &record).await?;
        }
        Ok(true)
    }
}

/// The review view of a customer.
pub fn review_of(record: &CustomerRecord) -> CustomerReview {
    CustomerReview {
        customer_details: to_wire(record, false),
        identity_details: record.review.clone(),
    }
}
