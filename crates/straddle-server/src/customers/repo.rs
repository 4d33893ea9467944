//! Customer rows. PII is sealed with the record id as associated data.

use crate::storage::search;
use crate::storage::sql::{Conn, Row};
use straddle_types::customer::{CustomerListQuery, CustomerSortBy, CustomerStatus};
use straddle_types::{SortOrder, Timestamp};
use uuid::Uuid;

use super::{CustomerRecord, Details, Pii};
use crate::error::ApiError;
use crate::security::crypto::Sealer;
use crate::storage::query::{enum_text, parse_enum, parse_time, parse_uuid, Filter, Page};

const COLUMNS: &str = "customer_id, account_id, name, email, phone, customer_type, status, external_id, details, sealed_pii, review, pending_status, version, created_at, updated_at";

fn context(id: Uuid) -> String {
    format!("customer:{id}")
}

/// Inserts a new customer.
pub async fn insert(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    record: &CustomerRecord,
) -> Result<(), ApiError> {
    let sql = format!("INSERT INTO customer ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)");
    conn.execute(
        &sql,
        crate::args![
            record.id.to_string(),
            record.account_id.to_string(),
            &record.name,
            &record.email,
            &record.phone,
            enum_text(&record.customer_type),
            enum_text(&record.status),
            record.external_id.clone(),
            serde_json::to_string(&record.details)?,
            sealer.seal(&serde_json::to_vec(&record.pii)?, &context(record.id))?,
            record
                .review
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
            record.pending_status.as_ref().map(enum_text),
            record.version,
            record.created_at.to_canonical(),
            record.updated_at.to_canonical()
        ],
    )
    .await?;
    Ok(())
}

/// Writes every mutable column of an existing customer if it is still at
/// `record.version`; `false` when a concurrent change got there first.
pub async fn save(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    record: &CustomerRecord,
) -> Result<bool, ApiError> {
    let saved = conn.execute("UPDATE customer SET name = $1, email = $2, phone = $3, status = $4, external_id = $5, details = $6, sealed_pii = $7, review = $8, pending_status = $9, updated_at = $10, version = version + 1 WHERE customer_id = $11 AND version = $12", crate::args![&record.name, &record.email, &record.phone, enum_text(&record.status), record.external_id.clone(), serde_json::to_string(&record.details)?, sealer.seal(&serde_json::to_vec(&record.pii)?, &context(record.id))?, record.review.as_ref().map(serde_json::to_string).transpose()?, record.pending_status.as_ref().map(enum_text), record.updated_at.to_canonical(), record.id.to_string(), record.version])
    .await?;
    Ok(saved == 1)
}

/// A customer of `account_id`, or 404.
pub async fn get(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    account_id: Uuid,
    id: Uuid,
) -> Result<CustomerRecord, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM customer WHERE customer_id = $1 AND account_id = $2");
    let row = conn
        .fetch_optional(&sql, crate::args![id.to_string(), account_id.to_string()])
        .await?
        .ok_or_else(|| ApiError::not_found("customer", "id", id))?;
    from_row(&row, sealer)
}

/// A customer by id in any account (background work).
pub async fn get_any(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    id: Uuid,
) -> Result<Option<CustomerRecord>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM customer WHERE customer_id = $1");
    let row = conn
        .fetch_optional(&sql, crate::args![id.to_string()])
        .await?;
    row.map(|row| from_row(&row, sealer)).transpose()
}

/// Name and status of a customer of `account_id`, without decrypting
/// anything; `None` when it is not in the account's scope.
pub async fn name_and_status(
    conn: &mut Conn<'_>,
    account_id: Uuid,
    id: Uuid,
) -> Result<Option<(String, CustomerStatus)>, ApiError> {
    let row = conn
        .fetch_optional(
            "SELECT name, status FROM customer WHERE customer_id = $1 AND account_id = $2",
            crate::args![id.to_string(), account_id.to_string()],
        )
        .await?;
    row.map(|row| Ok((row.text("name")?, parse_enum(&row.text("status")?)?)))
        .transpose()
}

/// Deletes a customer if it is still at `record.version`.
pub async fn delete(conn: &mut Conn<'_>, record: &CustomerRecord) -> Result<bool, ApiError> {
    let deleted = conn
        .execute(
            "DELETE FROM customer WHERE customer_id = $1 AND account_id = $2 AND version = $3",
            crate::args![
                record.id.to_string(),
                record.account_id.to_string(),
                record.version
            ],
        )
        .await?;
    Ok(deleted == 1)
}

/// One page of an account's customers and the total count.
pub async fn list(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    account_id: Uuid,
    query: &CustomerListQuery,
    statuses: &[CustomerStatus],
    types: &[straddle_types::customer::CustomerType],
    page: Page<'_>,
) -> Result<(Vec<CustomerRecord>, u64), ApiError> {
    let mut filter = Filter::new("account_id", account_id.to_string());
    if let Some(from) = query.created_from {
        filter.compare("created_at", ">=", from.to_canonical());
    }
    if let Some(to) = query.created_to {
        filter.compare("created_at", "<=", to.to_canonical());
    }
    if let Some(email) = &query.email {
        filter.compare("LOWER(email)", "=", email.to_lowercase());
    }
    if let Some(external_id) = &query.external_id {
        filter.compare("external_id", "=", external_id.clone());
    }
    if let Some(name) = &query.name {
        filter.contains(&["name"], name);
    }
    if let Some(text) = &query.search_text {
        filter.search(conn, &search::CUSTOMERS, text);
    }
    filter.any_of("status", statuses.iter().map(enum_text));
    filter.any_of("customer_type", types.iter().map(enum_text));
    let sort_column = match query.sort_by.unwrap_or_default() {
        CustomerSortBy::Name => "name",
        CustomerSortBy::CreatedAt => "created_at",
    };
    let direction = match query.sort_order.unwrap_or_default() {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    let order = format!("{sort_column} {direction}, customer_id {direction}");
    let (rows, total) = filter.page(conn, "customer", COLUMNS, &order, page).await?;
    let records = rows
        .iter()
        .map(|row| from_row(row, sealer))
        .collect::<Result<_, _>>()?;
    Ok((records, total))
}

/// Applies a pending background verification; `false` when none is
/// pending any more (a later change superseded it).
pub async fn complete_verification(
    conn: &mut Conn<'_>,
    id: Uuid,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let result = conn.execute("UPDATE customer SET status = pending_status, pending_status = NULL, updated_at = $1, version = version + 1 WHERE customer_id = $2 AND pending_status IS NOT NULL", crate::args![now.to_canonical(), id.to_string()])
    .await?;
    Ok(result == 1)
}

fn from_row(row: &Row, sealer: &Sealer) -> Result<CustomerRecord, ApiError> {
    let id = parse_uuid(&row.text("customer_id")?)?;
    let pii: Pii = serde_json::from_slice(&sealer.open(&row.text("sealed_pii")?, &context(id))?)?;
    let details: Details = serde_json::from_str(&row.text("details")?)?;
    Ok(CustomerRecord {
        id,
        account_id: parse_uuid(&row.text("account_id")?)?,
        name: row.text("name")?,
        email: row.text("email")?,
        phone: row.text("phone")?,
        customer_type: parse_enum(&row.text("customer_type")?)?,
        status: parse_enum(&row.text("status")?)?,
        external_id: row.opt_text("external_id")?,
        details,
        pii,
        review: row
            .opt_text("review")?
            .map(|r| serde_json::from_str(&r))
            .transpose()?,
        pending_status: row
            .opt_text("pending_status")?
            .map(|s| parse_enum(&s))
            .transpose()?,
        version: row.int("version")?,
        created_at: parse_time(&row.text("created_at")?)?,
        updated_at: parse_time(&row.text("updated_at")?)?,
    })
}
