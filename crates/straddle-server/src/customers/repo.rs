//! Customer rows. PII is sealed with the record id as associated data.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use straddle_types::customer::{CustomerListQuery, CustomerSortBy, CustomerStatus};
use straddle_types::{SortOrder, Timestamp};
use uuid::Uuid;

use super::{CustomerRecord, Details, Pii};
use crate::crypto::Sealer;
use crate::error::ApiError;
use crate::store::{enum_text, parse_enum, parse_time, parse_uuid, Filter};

const COLUMNS: &str = "customer_id, account_id, name, email, phone, customer_type, status, external_id, details, sealed_pii, review, pending_status, due_at, created_at, updated_at";

fn context(id: Uuid) -> String {
    format!("customer:{id}")
}

/// Inserts a new customer.
pub async fn insert(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    record: &CustomerRecord,
) -> Result<(), ApiError> {
    let sql = format!("INSERT INTO customer ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)");
    sqlx::query(&sql)
        .bind(record.id.to_string())
        .bind(record.account_id.to_string())
        .bind(&record.name)
        .bind(&record.email)
        .bind(&record.phone)
        .bind(enum_text(&record.customer_type))
        .bind(enum_text(&record.status))
        .bind(record.external_id.clone())
        .bind(serde_json::to_string(&record.details)?)
        .bind(sealer.seal(&serde_json::to_vec(&record.pii)?, &context(record.id))?)
        .bind(
            record
                .review
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        )
        .bind(record.pending_status.as_ref().map(enum_text))
        .bind(record.due_at.map(|t| t.to_canonical()))
        .bind(record.created_at.to_canonical())
        .bind(record.updated_at.to_canonical())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes every mutable column of an existing customer.
pub async fn save(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    record: &CustomerRecord,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE customer SET name = $1, email = $2, phone = $3, status = $4, external_id = $5, details = $6, sealed_pii = $7, review = $8, pending_status = $9, due_at = $10, updated_at = $11 WHERE customer_id = $12",
    )
    .bind(&record.name)
    .bind(&record.email)
    .bind(&record.phone)
    .bind(enum_text(&record.status))
    .bind(record.external_id.clone())
    .bind(serde_json::to_string(&record.details)?)
    .bind(sealer.seal(&serde_json::to_vec(&record.pii)?, &context(record.id))?)
    .bind(record.review.as_ref().map(serde_json::to_string).transpose()?)
    .bind(record.pending_status.as_ref().map(enum_text))
    .bind(record.due_at.map(|t| t.to_canonical()))
    .bind(record.updated_at.to_canonical())
    .bind(record.id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A customer of `account_id`, or 404.
pub async fn get(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    account_id: Uuid,
    id: Uuid,
) -> Result<CustomerRecord, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM customer WHERE customer_id = $1 AND account_id = $2");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .bind(account_id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found("customer", "id", id))?;
    from_row(&row, sealer)
}

/// Name and status of a customer of `account_id`, without decrypting
/// anything; `None` when it is not in the account's scope.
pub async fn name_and_status(
    conn: &mut AnyConnection,
    account_id: Uuid,
    id: Uuid,
) -> Result<Option<(String, CustomerStatus)>, ApiError> {
    let row =
        sqlx::query("SELECT name, status FROM customer WHERE customer_id = $1 AND account_id = $2")
            .bind(id.to_string())
            .bind(account_id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|row| {
        Ok((
            row.try_get("name")?,
            parse_enum(&row.try_get::<String, _>("status")?)?,
        ))
    })
    .transpose()
}

/// Deletes a customer of `account_id`.
pub async fn delete(conn: &mut AnyConnection, account_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM customer WHERE customer_id = $1 AND account_id = $2")
        .bind(id.to_string())
        .bind(account_id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One page of an account's customers and the total count.
pub async fn list(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    account_id: Uuid,
    query: &CustomerListQuery,
    statuses: &[CustomerStatus],
    types: &[straddle_types::customer::CustomerType],
    page: (u32, u32),
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
        filter.contains(&["name", "email", "phone", "external_id"], text);
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

/// Ids of customers whose background verification is due.
pub async fn due(
    conn: &mut AnyConnection,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<Uuid>, ApiError> {
    let rows = sqlx::query("SELECT customer_id FROM customer WHERE due_at IS NOT NULL AND due_at <= $1 ORDER BY due_at LIMIT $2")
        .bind(now.to_canonical())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| parse_uuid(&row.try_get::<String, _>("customer_id")?))
        .collect()
}

/// Applies a due background verification; does nothing if it is no longer due.
pub async fn complete_due(
    conn: &mut AnyConnection,
    id: Uuid,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let result = sqlx::query(
        "UPDATE customer SET status = pending_status, pending_status = NULL, due_at = NULL, updated_at = $1 WHERE customer_id = $2 AND due_at IS NOT NULL AND due_at <= $1",
    )
    .bind(now.to_canonical())
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

fn from_row(row: &AnyRow, sealer: &Sealer) -> Result<CustomerRecord, ApiError> {
    let id = parse_uuid(&row.try_get::<String, _>("customer_id")?)?;
    let pii: Pii = serde_json::from_slice(
        &sealer.open(&row.try_get::<String, _>("sealed_pii")?, &context(id))?,
    )?;
    let details: Details = serde_json::from_str(&row.try_get::<String, _>("details")?)?;
    Ok(CustomerRecord {
        id,
        account_id: parse_uuid(&row.try_get::<String, _>("account_id")?)?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        customer_type: parse_enum(&row.try_get::<String, _>("customer_type")?)?,
        status: parse_enum(&row.try_get::<String, _>("status")?)?,
        external_id: row.try_get("external_id")?,
        details,
        pii,
        review: row
            .try_get::<Option<String>, _>("review")?
            .map(|r| serde_json::from_str(&r))
            .transpose()?,
        pending_status: row
            .try_get::<Option<String>, _>("pending_status")?
            .map(|s| parse_enum(&s))
            .transpose()?,
        due_at: row
            .try_get::<Option<String>, _>("due_at")?
            .map(|t| parse_time(&t))
            .transpose()?,
        created_at: parse_time(&row.try_get::<String, _>("created_at")?)?,
        updated_at: parse_time(&row.try_get::<String, _>("updated_at")?)?,
    })
}
