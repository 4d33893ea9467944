//! Customer operations: each runs inside one write transaction (or one read).

use crate::sql::Conn;
use straddle_types::customer::{
    Customer, CustomerCreateRequest, CustomerReview, CustomerReviewDecision, CustomerStatus,
    CustomerUpdateRequest, Decision,
};
use uuid::Uuid;

use super::{
    apply_verification, effective_config, repo, to_wire, verify, CustomerRecord, Details, Pii,
};
use crate::app::AppState;
use crate::error::ApiError;

/// Creates a customer and runs (or schedules) its verification.
pub async fn create(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    request: CustomerCreateRequest,
) -> Result<Customer, ApiError> {
    let now = state.clock.timestamp();
    let mut record = CustomerRecord {
        id: Uuid::now_v7(),
        account_id,
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
        due_at: None,
        created_at: now,
        updated_at: now,
    };
    let verification = verify(&record, state.config.environment, now);
    apply_verification(&mut record, verification, state.background_due(now));
    repo::insert(conn, &state.sealer, &record).await?;
    Ok(to_wire(&record, false))
}

/// Replaces a customer's details and status.
pub async fn update(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
    request: CustomerUpdateRequest,
) -> Result<Customer, ApiError> {
    let mut record = repo::get(conn, &state.sealer, account_id, id).await?;
    record.name = request.name;
    record.email = request.email;
    record.phone = request.phone;
    record.pii = Pii {
        compliance_profile: request.compliance_profile,
        device: Some(request.device),
    };
    record.details.address = request.address;
    record.details.metadata = request.metadata;
    record.external_id = request.external_id;
    if record.status != request.status {
        // An explicit status supersedes a pending background verification.
        record.status = request.status;
        record.pending_status = None;
        record.due_at = None;
    }
    record.updated_at = state.clock.timestamp();
    repo::save(conn, &state.sealer, &record).await?;
    Ok(to_wire(&record, false))
}

/// Deletes a customer permanently and returns it as it was.
pub async fn delete(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
) -> Result<Customer, ApiError> {
    let record = repo::get(conn, &state.sealer, account_id, id).await?;
    repo::delete(conn, account_id, id).await?;
    Ok(to_wire(&record, false))
}

/// Records a manual review decision; only for customers in `review`.
pub async fn decide_review(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
    decision: CustomerReviewDecision,
) -> Result<Customer, ApiError> {
    let mut record = repo::get(conn, &state.sealer, account_id, id).await?;
    if record.status != CustomerStatus::Review {
        return Err(ApiError::unprocessable(
            "status",
            format!(
                "Only customers in review can be decided; this one is {}.",
                crate::store::enum_text(&record.status)
            ),
        ));
    }
    let now = state.clock.timestamp();
    let (status, outcome) = match decision {
        CustomerReviewDecision::Verified => (CustomerStatus::Verified, Decision::Accept),
        CustomerReviewDecision::Rejected => (CustomerStatus::Rejected, Decision::Reject),
    };
    record.status = status;
    record.updated_at = now;
    if let Some(review) = record.review.as_mut() {
        review.decision = outcome;
        review.updated_at = now;
    }
    repo::save(conn, &state.sealer, &record).await?;
    Ok(to_wire(&record, false))
}

/// Runs identity verification again on the customer's current data.
pub async fn refresh_review(
    conn: &mut Conn<'_>,
    state: &AppState,
    account_id: Uuid,
    id: Uuid,
) -> Result<Customer, ApiError> {
    let mut record = repo::get(conn, &state.sealer, account_id, id).await?;
    if record.status == CustomerStatus::Inactive {
        return Err(ApiError::unprocessable(
            "status",
            "Inactive customers cannot be reviewed again.",
        ));
    }
    let now = state.clock.timestamp();
    let verification = verify(&record, state.config.environment, now);
    apply_verification(&mut record, verification, state.background_due(now));
    record.updated_at = now;
    repo::save(conn, &state.sealer, &record).await?;
    Ok(to_wire(&record, false))
}

/// The review view of a customer.
pub fn review_of(record: &CustomerRecord) -> CustomerReview {
    CustomerReview {
        customer_details: to_wire(record, false),
        identity_details: record.review.clone(),
    }
}
