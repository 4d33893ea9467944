//! The rate limit of each platform (its embedded accounts count toward it).
//!
//! On PostgreSQL the limit is global: one token bucket per platform in the
//! `rate_bucket` table, refilled by PostgreSQL's clock, shared by every
//! instance. An instance takes a small slice of tokens at a time (about 1%
//! of a second's worth) with one conditional upsert and spends it locally,
//! so the hot path costs a round trip only once per slice. On SQLite (one
//! instance) the bucket lives in memory.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota};
use uuid::Uuid;

use crate::error::ApiError;
use crate::metrics::METRICS;
use crate::storage::db::Db;

/// Requests per second per platform, enforced locally or across instances.
pub enum RateLimiter {
    /// No limit.
    Off,
    /// In this process only (SQLite).
    Local(DefaultKeyedRateLimiter<Uuid>),
    /// Shared through PostgreSQL.
    Shared(SharedBuckets),
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RateLimiter::Off => "RateLimiter::Off",
            RateLimiter::Local(_) => "RateLimiter::Local",
            RateLimiter::Shared(_) => "RateLimiter::Shared",
        })
    }
}

impl RateLimiter {
    /// `per_second` requests a second per platform (0: no limit); shared
    /// when `shared` (the database serves several instances).
    pub fn new(per_second: u32, shared: bool) -> RateLimiter {
        match NonZeroU32::new(per_second) {
            None => RateLimiter::Off,
            Some(_) if shared => RateLimiter::Shared(SharedBuckets::new(per_second)),
            Some(rate) => RateLimiter::Local(governor::RateLimiter::keyed(Quota::per_second(rate))),
        }
    }

    /// Admits one request of `platform_id`, or 429 with a retry delay.
    pub async fn check(&self, db: &Db, platform_id: Uuid) -> Result<(), ApiError> {
        let refused = match self {
            RateLimiter::Off => return Ok(()),
            RateLimiter::Local(limiter) => limiter.check_key(&platform_id).err().map(|not_until| {
                not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ))
            }),
            RateLimiter::Shared(buckets) => buckets.take(db, platform_id).await.err(),
        };
        match refused {
            None => Ok(()),
            Some(wait) => {
                METRICS.rate_limited.inc();
                Err(ApiError::RateLimited {
                    retry_after_secs: wait.as_secs().max(1),
                })
            }
        }
    }
}

/// Tokens this instance took from a platform's shared bucket.
#[derive(Default)]
struct Slice {
    tokens: u32,
    empty_until: Option<Instant>,
}

/// The shared buckets' local slices.
pub struct SharedBuckets {
    rate: u32,
    slice: u32,
    slices: RwLock<HashMap<Uuid, Arc<tokio::sync::Mutex<Slice>>>>,
}

/// Takes `$3` millitokens from the bucket if it holds that many after
/// refilling `$4` tokens a second up to `$2` millitokens (one second's
/// worth); no row comes back when it does not.
const TAKE: &str = "INSERT INTO rate_bucket (platform_id, millitokens, refilled_us) \
     SELECT $1, $2 - $3, now_us FROM (SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT) AS now_us) AS clock \
     ON CONFLICT (platform_id) DO UPDATE SET \
       millitokens = LEAST($2, rate_bucket.millitokens + (excluded.refilled_us - rate_bucket.refilled_us) * $4 / 1000) - $3, \
       refilled_us = GREATEST(excluded.refilled_us, rate_bucket.refilled_us) \
     WHERE LEAST($2, rate_bucket.millitokens + (excluded.refilled_us - rate_bucket.refilled_us) * $4 / 1000) >= $3 \
     RETURNING millitokens";

impl SharedBuckets {
    fn new(rate: u32) -> SharedBuckets {
        SharedBuckets {
            rate,
            slice: (rate / 100).clamp(1, 50),
            slices: RwLock::default(),
        }
    }

    /// Spends a local token, taking a new slice from the shared bucket when
    /// none is left; `Err(wait)` when the bucket is empty.
    async fn take(&self, db: &Db, platform_id: Uuid) -> Result<(), Duration> {
        let slice = self.slice_of(platform_id);
        let mut slice = slice.lock().await;
        if slice.tokens > 0 {
            slice.tokens -= 1;
            return Ok(());
        }
        let refill = Duration::from_secs_f64(f64::from(self.slice) / f64::from(self.rate));
        if slice
            .empty_until
            .is_some_and(|until| Instant::now() < until)
        {
            return Err(refill);
        }
        let capacity = i64::from(self.rate) * 1000;
        let granted = async {
            db.reader()
                .await?
                .conn()
                .fetch_optional(
                    TAKE,
                    crate::args![
                        platform_id.to_string(),
                        capacity,
                        i64::from(self.slice) * 1000,
                        i64::from(self.rate)
                    ],
                )
                .await
        }
        .await;
        match granted {
            Ok(Some(_)) => {
                slice.tokens = self.slice - 1;
                slice.empty_until = None;
                Ok(())
            }
            Ok(None) => {
                slice.empty_until = Some(Instant::now() + refill);
                Err(refill)
            }
            // The request will meet the same database; it answers for itself.
            Err(err) => {
                tracing::warn!(error = %err, "rate limit bucket unavailable; request admitted");
                Ok(())
            }
        }
    }

    fn slice_of(&self, platform_id: Uuid) -> Arc<tokio::sync::Mutex<Slice>> {
        if let Some(slice) = self
            .slices
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&platform_id)
        {
            return slice.clone();
        }
        self.slices
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(platform_id)
            .or_default()
            .clone()
    }
}
