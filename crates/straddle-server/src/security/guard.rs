//! Limits on the paths anyone can reach without an API key: the widget API
//! per bridge token and per client address, a lockout of the sandbox bank
//! sign-in after repeated wrong credentials, and refused requests (401,
//! 429) counted and logged once per interval instead of once each.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::error::ApiError;

/// How the unauthenticated paths are limited.
#[derive(Clone, Copy, Debug)]
pub struct GuardLimits {
    /// Widget API requests per second per bridge token; 0 disables.
    pub widget_per_token: u32,
    /// Widget API requests per second per client address; 0 disables.
    pub widget_per_address: u32,
    /// Wrong bank credentials a widget session may send before it is locked out.
    pub sign_in_attempts: u32,
    /// How long a lockout lasts (and how long failures are remembered).
    pub sign_in_lockout: Duration,
}

impl Default for GuardLimits {
    fn default() -> Self {
        GuardLimits {
            widget_per_token: 10,
            widget_per_address: 50,
            sign_in_attempts: 5,
            sign_in_lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// Failed sign-ins of one widget session.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

/// The limits, their state, and the refused-request tallies.
pub struct Guard {
    limits: GuardLimits,
    per_token: Option<DefaultKeyedRateLimiter<Uuid>>,
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    sign_in: Mutex<HashMap<Uuid, Failures>>,
    unauthorized: AtomicU64,
    rate_limited: AtomicU64,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// How often refused requests are reported and stale state is dropped.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

impl Guard {
    /// A guard with `limits`.
    pub fn new(limits: GuardLimits) -> Self {
        Guard {
            limits,
            per_token: keyed(limits.widget_per_token),
            per_address: keyed(limits.widget_per_address),
            sign_in: Mutex::default(),
            unauthorized: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }

    /// 429 when the client address has used up its widget requests.
    pub fn widget_address(&self, address: IpAddr) -> Result<(), ApiError> {
        check(self.per_address.as_ref(), &address)
    }

    /// 429 when the bridge token's session has used up its widget requests.
    pub fn widget_token(&self, bridge_token_id: Uuid) -> Result<(), ApiError> {
        check(self.per_token.as_ref(), &bridge_token_id)
    }

    /// A bank sign-in attempt of `session` whose credentials were
    /// `valid`: 429 while the session is locked out (the attempt counts for
    /// nothing), else `valid`. A success forgets earlier failures; the
    /// failure that reaches the limit starts a lockout. Checked and recorded
    /// under one lock, so concurrent attempts cannot slip past the limit.
    pub fn sign_in(
        &self,
        session: Uuid,
        valid: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let mut table = lock(&self.sign_in);
        if let Some(until) = table.get(&session).and_then(|f| f.locked_until) {
            if until > now {
                return Err(ApiError::RateLimited {
                    retry_after_secs: (until - now).num_seconds().max(1) as u64,
                });
            }
        }
        if valid {
            table.remove(&session);
            return Ok(true);
        }
        let window = chrono::Duration::from_std(self.limits.sign_in_lockout).unwrap_or_default();
        let entry = table.entry(session).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: None,
        });
        if now - entry.last > window {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        if entry.count >= self.limits.sign_in_attempts.max(1) {
            entry.count = 0;
            entry.locked_until = Some(now + window);
        }
        Ok(false)
    }

    /// Counts a refused response (401 or 429) for the next report.
    pub fn refused(&self, status: u16) {
        match status {
            401 => self.unauthorized.fetch_add(1, Ordering::Relaxed),
            429 => self.rate_limited.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// Logs the refused requests counted since the last report (one line,
    /// none when there were none) and drops state nobody needs any more.
    pub fn report(&self, now: DateTime<Utc>) {
        let unauthorized = self.unauthorized.swap(0, Ordering::Relaxed);
        let rate_limited = self.rate_limited.swap(0, Ordering::Relaxed);
        if unauthorized + rate_limited > 0 {
            tracing::warn!(
                unauthorized,
                rate_limited,
                interval_s = REPORT_EVERY.as_secs(),
                "requests refused (401 unauthorized, 429 rate limited)"
            );
        }
        let window = chrono::Duration::from_std(self.limits.sign_in_lockout).unwrap_or_default();
        lock(&self.sign_in)
            .retain(|_, f| f.locked_until.is_some_and(|t| t > now) || now - f.last <= window);
        if let Some(limiter) = &self.per_token {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.per_address {
            limiter.retain_recent();
        }
    }

    /// Reports every [`REPORT_EVERY`] until the process ends, the first
    /// time one interval after start (an interval's first tick is at once,
    /// whenever the task first runs: after the first requests were
    /// counted, when the runtime was busy, which split their count).
    pub fn spawn_reporter(self: Arc<Self>, clock: Arc<dyn crate::clock::Clock>) {
        tokio::spawn(async move {
            let first = tokio::time::Instant::now() + REPORT_EVERY;
            let mut ticker = tokio::time::interval_at(first, REPORT_EVERY);
            loop {
                ticker.tick().await;
                self.report(clock.now());
            }
        });
    }
}

fn keyed<K: std::hash::Hash + Eq + Clone>(rate: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(rate).map(|rate| RateLimiter::keyed(Quota::per_second(rate)))
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: Option<&DefaultKeyedRateLimiter<K>>,
    key: &K,
) -> Result<(), ApiError> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        ApiError::RateLimited {
            retry_after_secs: wait.as_secs().max(1),
        }
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_locks_after_the_allowed_failures_and_unlocks_after_the_lockout() {
        let guard = Guard::new(GuardLimits::default());
        let session = Uuid::now_v7();
        let start = Utc::now();
        for _ in 0..5 {
            assert!(!guard.sign_in(session, false, start).unwrap());
        }
        let refused = guard.sign_in(session, true, start).unwrap_err();
        assert!(matches!(
            refused,
            ApiError::RateLimited {
                retry_after_secs: 900
            }
        ));
        let later = start + chrono::Duration::minutes(15) + chrono::Duration::seconds(1);
        assert!(guard.sign_in(session, true, later).unwrap());
        assert!(guard.sign_in(Uuid::now_v7(), true, start).unwrap());
    }

    #[test]
    fn a_success_forgets_earlier_failures() {
        let guard = Guard::new(GuardLimits::default());
        let session = Uuid::now_v7();
        let now = Utc::now();
        for _ in 0..4 {
            guard.sign_in(session, false, now).unwrap();
        }
        guard.sign_in(session, true, now).unwrap();
        for _ in 0..4 {
            guard.sign_in(session, false, now).unwrap();
        }
        assert!(guard.sign_in(session, true, now).unwrap());
    }
}
