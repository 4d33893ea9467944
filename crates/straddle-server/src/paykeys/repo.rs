//! Paykey rows. Token, account number, provider token and owner names are
//! sealed with the record id as associated data.

use crate::storage::search;
use crate::storage::sql::{Conn, Row};
use straddle_types::paykey::{PaykeyListQuery, PaykeySortBy, PaykeySource, PaykeyStatus};
use straddle_types::{SortOrder, Timestamp};
use uuid::Uuid;

use super::{label, PaykeyDetails, PaykeyRecord, PaykeySecret};
use crate::error::ApiError;
use crate::security::crypto::Sealer;
use crate::storage::query::{enum_text, parse_enum, parse_time, parse_uuid, Filter, Page};

const COLUMNS: &str = "paykey_id, account_id, customer_id, source, status, institution_name, label, routing_number, account_type, external_id, unblock_eligible, details, sealed, version, created_at, updated_at";

fn context(id: Uuid) -> String {
    format!("paykey:{id}")
}

/// Inserts a new paykey.
pub async fn insert(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    record: &PaykeyRecord,
) -> Result<(), ApiError> {
    let sql = format!(
        "INSERT INTO paykey ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    conn.execute(
        &sql,
        crate::args![
            record.id.to_string(),
            record.account_id.to_string(),
            record.customer_id.to_string(),
            enum_text(&record.source),
            enum_text(&record.status),
            record.institution_name.clone(),
            label(
                record.institution_name.as_deref(),
                &record.secret.account_number,
            ),
            &record.routing_number,
            enum_text(&record.account_type),
            record.external_id.clone(),
            record.unblock_eligible.map(i64::from),
            serde_json::to_string(&record.details)?,
            sealer.seal(&serde_json::to_vec(&record.secret)?, &context(record.id))?,
            record.version,
            record.created_at.to_canonical(),
            record.updated_at.to_canonical()
        ],
    )
    .await?;
    Ok(())
}

/// Writes the mutable columns of an existing paykey if it is still at
/// `record.version`; `false` when a concurrent change got there first.
pub async fn save(conn: &mut Conn<'_>, record: &PaykeyRecord) -> Result<bool, ApiError> {
    let saved = conn.execute("UPDATE paykey SET status = $1, unblock_eligible = $2, details = $3, updated_at = $4, version = version + 1 WHERE paykey_id = $5 AND version = $6", crate::args![enum_text(&record.status), record.unblock_eligible.map(i64::from), serde_json::to_string(&record.details)?, record.updated_at.to_canonical(), record.id.to_string(), record.version])
    .await?;
    Ok(saved == 1)
}

/// A paykey of `account_id`, or 404.
pub async fn get(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    account_id: Uuid,
    id: Uuid,
) -> Result<PaykeyRecord, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM paykey WHERE paykey_id = $1 AND account_id = $2");
    let row = conn
        .fetch_optional(&sql, crate::args![id.to_string(), account_id.to_string()])
        .await?
        .ok_or_else(|| ApiError::not_found("paykey", "id", id))?;
    from_row(&row, sealer)
}

/// The plain details and version of a paykey (background work).
pub async fn details_and_version(
    conn: &mut Conn<'_>,
    id: Uuid,
) -> Result<Option<(PaykeyDetails, i64)>, ApiError> {
    let row = conn
        .fetch_optional(
            "SELECT details, version FROM paykey WHERE paykey_id = $1",
            crate::args![id.to_string()],
        )
        .await?;
    row.map(|row| {
        Ok((
            serde_json::from_str(&row.text("details")?)?,
            row.int("version")?,
        ))
    })
    .transpose()
}

/// Applies the outcome of a background verification if the paykey is
/// still at `version`.
pub async fn finish_verification(
    conn: &mut Conn<'_>,
    id: Uuid,
    status: PaykeyStatus,
    details: &PaykeyDetails,
    now: Timestamp,
    version: i64,
) -> Result<bool, ApiError> {
    let saved = conn.execute("UPDATE paykey SET status = $1, details = $2, updated_at = $3, version = version + 1 WHERE paykey_id = $4 AND version = $5", crate::args![enum_text(&status), serde_json::to_string(details)?, now.to_canonical(), id.to_string(), version])
        .await?;
    Ok(saved == 1)
}

/// Stores new plain details (a refreshed balance) if the paykey is still at
/// `version`.
pub async fn save_details(
    conn: &mut Conn<'_>,
    id: Uuid,
    details: &PaykeyDetails,
    now: Timestamp,
    version: i64,
) -> Result<bool, ApiError> {
    let saved = conn.execute("UPDATE paykey SET details = $1, updated_at = $2, version = version + 1 WHERE paykey_id = $3 AND version = $4", crate::args![serde_json::to_string(details)?, now.to_canonical(), id.to_string(), version])
        .await?;
    Ok(saved == 1)
}

/// A paykey by id in any account (background work).
pub async fn get_any(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    id: Uuid,
) -> Result<Option<PaykeyRecord>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM paykey WHERE paykey_id = $1");
    let row = conn
        .fetch_optional(&sql, crate::args![id.to_string()])
        .await?;
    row.map(|row| from_row(&row, sealer)).transpose()
}

/// One page of an account's paykeys and the total count.
pub async fn list(
    conn: &mut Conn<'_>,
    sealer: &Sealer,
    account_id: Uuid,
    query: &PaykeyListQuery,
    statuses: &[PaykeyStatus],
    sources: &[PaykeySource],
    page: Page<'_>,
) -> Result<(Vec<PaykeyRecord>, u64), ApiError> {
    let mut filter = Filter::new("account_id", account_id.to_string());
    if let Some(customer_id) = query.customer_id {
        filter.compare("customer_id", "=", customer_id.to_string());
    }
    if let Some(from) = query.created_from {
        filter.compare("created_at", ">=", from.to_canonical());
    }
    if let Some(to) = query.created_to {
        filter.compare("created_at", "<=", to.to_canonical());
    }
    if let Some(text) = &query.search_text {
        filter.search(conn, &search::PAYKEYS, text);
    }
    filter.any_of("status", statuses.iter().map(enum_text));
    filter.any_of("source", sources.iter().map(enum_text));
    if let Some(eligible) = query.unblock_eligible {
        filter.raw("status = 'blocked'");
        filter.flag("unblock_eligible", eligible);
    }
    let direction = match query.sort_order.unwrap_or_default() {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    // Paykeys never expire here, so `expires_at` sorts like creation time.
    let order = match query.sort_by.unwrap_or_default() {
        PaykeySortBy::InstitutionName => {
            format!("COALESCE(institution_name, '') {direction}, created_at {direction}, paykey_id {direction}")
        }
        PaykeySortBy::ExpiresAt | PaykeySortBy::CreatedAt => {
            format!("created_at {direction}, paykey_id {direction}")
        }
    };
    let (rows, total) = filter.page(conn, "paykey", COLUMNS, &order, page).await?;
    let records = rows
        .iter()
        .map(|row| from_row(row, sealer))
        .collect::<Result<_, _>>()?;
    Ok((records, total))
}

fn from_row(row: &Row, sealer: &Sealer) -> Result<PaykeyRecord, ApiError> {
    let id = parse_uuid(&row.text("paykey_id")?)?;
    let secret: PaykeySecret =
        serde_json::from_slice(&sealer.open(&row.text("sealed")?, &context(id))?)?;
    Ok(PaykeyRecord {
        id,
        account_id: parse_uuid(&row.text("account_id")?)?,
        customer_id: parse_uuid(&row.text("customer_id")?)?,
        source: parse_enum(&row.text("source")?)?,
        status: parse_enum(&row.text("status")?)?,
        institution_name: row.opt_text("institution_name")?,
        routing_number: row.text("routing_number")?,
        account_type: parse_enum(&row.text("account_type")?)?,
        external_id: row.opt_text("external_id")?,
        unblock_eligible: row.opt_int("unblock_eligible")?.map(|v| v != 0),
        details: serde_json::from_str(&row.text("details")?)?,
        secret,
        version: row.int("version")?,
        created_at: parse_time(&row.text("created_at")?)?,
        updated_at: parse_time(&row.text("updated_at")?)?,
    })
}
