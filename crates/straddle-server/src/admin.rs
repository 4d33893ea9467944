//! Operator tasks that run without the HTTP server: accounts and API keys.
//! Each is a write command run through the same pipeline as the API's.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::accounts::{
    Account, ApiKey, Bootstrap, Bootstrapped, CreateAccount, IssueApiKey, RevokeApiKey,
};
use crate::clock::SystemClock;
use crate::config::Environment;
use crate::error::ApiError;
use crate::security::crypto::Sealer;
use crate::security::secrets::Secrets;
use crate::seed::SeedBatch;
use crate::storage::db::Db;
use crate::write::pipeline::Pipeline;

/// A pipeline for administration on `db` (system clock; no background work).
pub fn pipeline(db: Db, secrets: &Secrets, environment: Environment) -> Pipeline {
    Pipeline::new(
        db,
        Arc::new(SystemClock),
        Arc::new(Sealer::new(secrets)),
        environment,
        Duration::ZERO,
    )
}

/// Creates a platform account and an API key for it, in one transaction.
pub async fn bootstrap(
    pipeline: &Pipeline,
    secrets: &Secrets,
    name: &str,
    environment: Environment,
    allow_unmask: bool,
) -> Result<Bootstrapped, ApiError> {
    pipeline
        .commit(Bootstrap {
            name: name.to_string(),
            environment,
            allow_unmask,
            signing_key: secrets.jwt_key_bytes().to_vec(),
            only_if_empty: false,
        })
        .await?
        .ok_or_else(|| ApiError::Internal("bootstrap created nothing".into()))
}

/// Creates the first platform account and its key if the database has no
/// account yet; `None` when it already had one. However many instances
/// start at once on an empty database, exactly one creates it.
pub async fn bootstrap_if_empty(
    pipeline: &Pipeline,
    secrets: &Secrets,
    name: &str,
    environment: Environment,
) -> Result<Option<Bootstrapped>, ApiError> {
    pipeline
        .commit(Bootstrap {
            name: name.to_string(),
            environment,
            allow_unmask: false,
            signing_key: secrets.jwt_key_bytes().to_vec(),
            only_if_empty: true,
        })
        .await
}

/// Creates a platform account, or an embedded account of `parent`.
pub async fn create_account(
    pipeline: &Pipeline,
    name: &str,
    parent: Option<Uuid>,
    environment: Environment,
    allow_unmask: bool,
) -> Result<Account, ApiError> {
    pipeline
        .commit(CreateAccount {
            name: name.to_string(),
            parent_id: parent,
            environment,
            allow_unmask,
        })
        .await
}

/// Issues another API key for an existing account.
pub async fn create_key(
    pipeline: &Pipeline,
    secrets: &Secrets,
    account_id: Uuid,
) -> Result<(Uuid, ApiKey), ApiError> {
    pipeline
        .commit(IssueApiKey {
            account_id,
            signing_key: secrets.jwt_key_bytes().to_vec(),
        })
        .await
}

/// Revokes a key; running servers stop accepting it within their refresh interval.
pub async fn revoke_key(pipeline: &Pipeline, key_id: Uuid) -> Result<(), ApiError> {
    if pipeline.commit(RevokeApiKey { key_id }).await? {
        Ok(())
    } else {
        Err(ApiError::not_found("API key", "key_id", key_id))
    }
}

/// The sealed columns: table, key column, sealed column, context prefix
/// (the associated data the repositories bind).
const SEALED: [(&str, &str, &str, &str); 2] = [
    ("customer", "customer_id", "sealed_pii", "customer"),
    ("paykey", "paykey_id", "sealed", "paykey"),
];

/// Rewrites every stored ciphertext not made with the current data key,
/// `batch` rows per transaction; returns how many were rewritten. Each
/// update is conditional on the ciphertext it replaces, so a concurrent
/// write wins and nothing is lost; running it again resumes where it
/// stopped (rows already on the current key are skipped).
pub async fn reencrypt(
    db: &Db,
    sealer: &Arc<Sealer>,
    batch: usize,
    mut progress: impl FnMut(&str, u64),
) -> Result<u64, ApiError> {
    let mut total = 0;
    for (table, id_column, column, context) in SEALED {
        let mut after = String::new();
        loop {
            let rows = db
                .reader()
                .await?
                .conn()
                .fetch_all(
                    &format!(
                        "SELECT {id_column} AS id, {column} AS sealed FROM {table} \
                         WHERE {id_column} > $1 AND {column} NOT LIKE $2 ORDER BY {id_column} LIMIT $3"
                    ),
                    crate::args![
                        after.clone(),
                        format!("{}%", sealer.current_prefix()),
                        batch.max(1) as i64
                    ],
                )
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.text("id")?;
            let mut updates = Vec::with_capacity(rows.len());
            for row in &rows {
                let (id, old) = (row.text("id")?, row.text("sealed")?);
                let aad = format!("{context}:{id}");
                let new = sealer.seal(&sealer.open(&old, &aad)?, &aad)?;
                updates.push((id, old, new));
            }
            let sql = format!(
                "UPDATE {table} SET {column} = $1 WHERE {id_column} = $2 AND {column} = $3"
            );
            let rewritten = db
                .write(Box::new(move |tx| {
                    Box::pin(async move {
                        let mut n = 0;
                        for (id, old, new) in updates {
                            n += tx.execute(&sql, crate::args![new, id, old]).await?;
                        }
                        Ok(n)
                    })
                }))
                .await?;
            total += rewritten;
            progress(table, total);
        }
    }
    Ok(total)
}

/// Customers per seeding transaction.
const SEED_BATCH: u64 = 500;

/// Fills `account_id` with `customers` synthetic customers, each with
/// `paykeys_per_customer` paykeys (benchmarks at scale), several batches at
/// a time; returns the number of paykeys written.
pub async fn seed(
    pipeline: &Pipeline,
    account_id: Uuid,
    customers: u64,
    paykeys_per_customer: u64,
    mut progress: impl FnMut(u64),
) -> Result<u64, ApiError> {
    use futures::StreamExt;
    let batches = (0..customers)
        .step_by(SEED_BATCH as usize)
        .map(|first| SeedBatch {
            account_id,
            first,
            customers: SEED_BATCH.min(customers - first),
            paykeys_per_customer,
            total_customers: customers,
        });
    let mut written =
        futures::stream::iter(batches.map(|batch| pipeline.commit(batch))).buffer_unordered(4);
    let mut paykeys = 0;
    while let Some(batch) = written.next().await {
        paykeys += batch?;
        progress(paykeys);
    }
    pipeline.db().search_caught_up().await?;
    Ok(paykeys)
}
