//! Helpers shared by the repositories: text encodings of enums, ids and
//! times, and a small builder for filtered, paged list queries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::storage::db::Db;
use crate::storage::search::{like_any, like_pattern, Candidates, Searchable};
use crate::storage::sql::{Arg, Conn, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;
use straddle_types::Timestamp;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::error::ApiError;

/// The wire name of an enum value (`"verified"`).
pub fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

/// An enum from its wire name.
pub fn parse_enum<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| ApiError::Internal(format!("unexpected stored value {text:?}")))
}

/// A stored UUID.
pub fn parse_uuid(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::Internal("stored id is not a UUID".into()))
}

/// A stored time.
pub fn parse_time(text: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse(text).ok_or_else(|| ApiError::Internal("stored time is not RFC 3339".into()))
}

/// A `WHERE` clause built from `$n`-numbered conditions.
#[derive(Debug)]
pub struct Filter {
    conditions: Vec<String>,
    binds: Vec<String>,
    /// A search's candidates from the trigram index, and the position of
    /// its condition: few matches are read by rowid.
    candidates: Option<(usize, Candidates)>,
}

impl Filter {
    /// Starts with `column = value` (the account scope), always the first condition.
    pub fn new(column: &str, value: String) -> Self {
        let mut filter = Filter {
            conditions: vec![],
            binds: vec![],
            candidates: None,
        };
        filter.compare(column, "=", value);
        filter
    }

    fn placeholder(&mut self, value: String) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// `column op value`.
    pub fn compare(&mut self, column: &str, op: &str, value: String) {
        let p = self.placeholder(value);
        self.conditions.push(format!("{column} {op} {p}"));
    }

    /// Case-insensitive substring match on any of `columns`.
    pub fn contains(&mut self, columns: &[&str], text: &str) {
        let p = self.placeholder(like_pattern(text));
        self.conditions.push(like_any(columns, &p));
    }

    /// `column IN (values…)`; no condition when `values` is empty.
    pub fn any_of(&mut self, column: &str, values: impl Iterator<Item = String>) {
        let placeholders: Vec<String> = values.map(|v| self.placeholder(v)).collect();
        if !placeholders.is_empty() {
            self.conditions
                .push(format!("{column} IN ({})", placeholders.join(", ")));
        }
    }

    /// `column = value` for a boolean stored as 0/1.
    pub fn flag(&mut self, column: &str, value: bool) {
        self.conditions
            .push(format!("{column} = {}", i64::from(value)));
    }

    /// `search_text`: `text` in any of the searchable columns, through the
    /// backend's trigram index where it can answer.
    pub fn search(&mut self, conn: &Conn<'_>, searchable: &Searchable, text: &str) {
        let plan = searchable.plan(conn, text, self.binds.len() + 1);
        self.binds.extend(plan.values);
        self.conditions.push(plan.condition);
        self.candidates = plan
            .candidates
            .map(|candidates| (self.conditions.len() - 1, candidates));
    }

    /// A raw condition without parameters.
    pub fn raw(&mut self, condition: &str) {
        self.conditions.push(condition.to_string());
    }

    /// Runs the count and the page query.
    pub async fn page(
        self,
        conn: &mut Conn<'_>,
        table: &str,
        columns: &str,
        order: &str,
        page: Page<'_>,
    ) -> Result<(Vec<Row>, u64), ApiError> {
        let Page { number, size, db } = page;
        let predicate = self.conditions.join(" AND ");
        let args = || self.binds.iter().map(Arg::from).collect::<Vec<_>>();
        let offset = i64::from(number.saturating_sub(1)) * i64::from(size);
        if let Some((position, candidates)) = &self.candidates {
            // Sort the keys of every match (there are few), count them, then
            // read only the page's rows, checked against the filter again in
            // case one changed in between. A unary `+` keeps the planner off
            // the scope's index, so it reads the matches by rowid instead.
            let mut by_rowid = self.conditions.clone();
            by_rowid[0] = format!("+{}", by_rowid[0]);
            let rechecked = by_rowid.join(" AND ");
            by_rowid[*position].clone_from(&candidates.condition);
            let hits_sql = format!(
                "{} SELECT rowid AS hit FROM {table} WHERE {} ORDER BY {order}",
                candidates.with,
                by_rowid.join(" AND ")
            );
            let hits = conn.fetch_all(&hits_sql, args()).await?;
            // No hits: none of the candidates matched, or there were too
            // many to read by rowid; then the account is scanned below.
            let scan = hits.is_empty()
                && Candidates::too_many(count(conn, &candidates.count_sql, args()).await?);
            if !scan {
                let args = args();
                let read = (table, columns, rechecked.as_str(), order);
                return page_of_hits(conn, read, args, &hits, page).await;
            }
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {predicate}");
        let key = format!("{count_sql}\u{0}{}", self.binds.join("\u{0}"));
        let total = match db.counts().lookup(&key) {
            Lookup::Fresh(total) => total,
            Lookup::Due(previous) => {
                recount_later(db.clone(), key, count_sql, self.binds.clone());
                previous
            }
            Lookup::Unknown => {
                let bounded_sql = format!(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {table} WHERE {predicate} LIMIT {}) AS bounded",
                    EXACT_COUNT_LIMIT + 1
                );
                let bounded = count(conn, &bounded_sql, args()).await?;
                if bounded > EXACT_COUNT_LIMIT {
                    let (conn, count_sql, args) = (&mut *conn, &count_sql, args());
                    let full_count = move || count(conn, count_sql, args);
                    db.counts().count_once(key, full_count).await?
                } else {
                    bounded
                }
            }
        };
        let page_sql = format!(
            "SELECT {columns} FROM {table} WHERE {predicate} ORDER BY {order} LIMIT {size} OFFSET {offset}"
        );
        Ok((conn.fetch_all(&page_sql, args()).await?, total))
    }
}

/// The rows of `hits` (sorted keys) that fall on `page`, read by rowid
/// from `table` and checked against `predicate` (with `args`) again, with
/// the number of hits as the total.
async fn page_of_hits(
    conn: &mut Conn<'_>,
    (table, columns, predicate, order): (&str, &str, &str, &str),
    mut args: Vec<Arg>,
    hits: &[Row],
    page: Page<'_>,
) -> Result<(Vec<Row>, u64), ApiError> {
    let offset = (page.number.saturating_sub(1) as usize).saturating_mul(page.size as usize);
    let page_hits = hits
        .iter()
        .skip(offset)
        .take(page.size as usize)
        .map(|row| row.int("hit").map(|hit| hit.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let total = hits.len() as u64;
    if page_hits.is_empty() {
        return Ok((vec![], total));
    }
    let page_sql = format!(
        "SELECT {columns} FROM {table} WHERE rowid IN (SELECT value FROM json_each(${})) \
         AND {predicate} ORDER BY {order}",
        args.len() + 1
    );
    args.push(Arg::Text(format!("[{}]", page_hits.join(","))));
    Ok((conn.fetch_all(&page_sql, args).await?, total))
}

/// The `n` that a `SELECT COUNT(*) AS n …` query answers.
async fn count(conn: &mut Conn<'_>, sql: &str, args: Vec<Arg>) -> Result<u64, ApiError> {
    Ok(conn.fetch_one(sql, args).await?.int("n")?.max(0) as u64)
}

/// One page of a list: its number (from 1), its size, and the database
/// (where large totals are remembered, and recounted).
#[derive(Clone, Copy, Debug)]
pub struct Page<'a> {
    pub number: u32,
    pub size: u32,
    pub db: &'a Db,
}

/// Counts a large list again off the request path, on the blocking pool
/// (a count of a million rows takes tens of milliseconds, which would stall
/// an async worker and every request queued on it), and stores the total.
/// A list that has shrunk to [`EXACT_COUNT_LIMIT`] or fewer is forgotten,
/// so it is counted exactly again.
fn recount_later(db: Db, key: String, count_sql: String, binds: Vec<String>) {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let recount = async {
            let mut reader = db.reader().await?;
            let args = binds.iter().map(Arg::from).collect();
            count(&mut reader.conn(), &count_sql, args).await
        };
        match runtime.block_on(recount) {
            Ok(total) if total > EXACT_COUNT_LIMIT => db.counts().put(key, total),
            Ok(_) => db.counts().forget(&key),
            Err(error) => tracing::warn!(%error, "recounting a large list failed"),
        }
    });
}

/// Lists with at most this many matches are always counted exactly.
pub const EXACT_COUNT_LIMIT: u64 = 10_000;

/// How long the count of a larger list is reused.
pub const LARGE_COUNT_TTL: Duration = Duration::from_secs(5);

/// Most counts kept; the cache starts over when full.
const MAX_CACHED_COUNTS: usize = 4096;

/// Totals of large lists, kept briefly: counting a million rows for every
/// page would cost far more than the page itself. A list of up to
/// [`EXACT_COUNT_LIMIT`] matches is counted exactly every time; a larger
/// one is counted when first seen (once for all the requests asking
/// meanwhile), then again every [`LARGE_COUNT_TTL`] in
/// the background while requests answer with the previous total, so its
/// `total_items` may lag by up to that long (plus the recount).
#[derive(Debug, Default)]
pub struct CountCache {
    entries: Mutex<HashMap<String, (Instant, u64)>>,
    /// Lists being counted for the first time, shared by every request
    /// that asks meanwhile.
    first_counts: Mutex<HashMap<String, Arc<OnceCell<u64>>>>,
}

/// What the cache knows of a list's total.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lookup {
    /// Counted within [`LARGE_COUNT_TTL`].
    Fresh(u64),
    /// Due for a recount, which falls to this caller alone: the entry
    /// counts as fresh again for the others meanwhile.
    Due(u64),
    /// Not known to be large: count it.
    Unknown,
}

impl CountCache {
    fn lookup(&self, key: &str) -> Lookup {
        self.lookup_at(key, Instant::now())
    }

    fn lookup_at(&self, key: &str, now: Instant) -> Lookup {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some((at, total)) = entries.get_mut(key) else {
            return Lookup::Unknown;
        };
        if now.saturating_duration_since(*at) < LARGE_COUNT_TTL {
            return Lookup::Fresh(*total);
        }
        *at = now;
        Lookup::Due(*total)
    }

    fn put(&self, key: String, total: u64) {
        self.put_at(key, total, Instant::now())
    }

    fn put_at(&self, key: String, total: u64, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED_COUNTS {
            entries.clear();
        }
        entries.insert(key, (now, total));
    }

    /// The total of a large list not yet in the cache, counted by `count`
    /// once however many requests ask for it at the same time (the first
    /// page of a big list is often asked for by many at once, and a count
    /// of a million rows takes tens of milliseconds, more where its pages
    /// come from disk); stored for the next [`LARGE_COUNT_TTL`].
    async fn count_once<F, Fut>(&self, key: String, count: F) -> Result<u64, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<u64, ApiError>>,
    {
        let first = {
            let mut first_counts = self.first_counts.lock().unwrap_or_else(|e| e.into_inner());
            first_counts.entry(key.clone()).or_default().clone()
        };
        let total = *first.get_or_try_init(count).await?;
        // The first request back stores the total, then lets the shared
        // count go: a request that comes later finds the total rather than
        // counting again.
        let mut first_counts = self.first_counts.lock().unwrap_or_else(|e| e.into_inner());
        if first_counts
            .get(&key)
            .is_some_and(|cell| Arc::ptr_eq(cell, &first))
        {
            self.put(key.clone(), total);
            first_counts.remove(&key);
        }
        Ok(total)
    }

    /// Drops a list that is no longer large.
    fn forget(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_due_large_count_is_recounted_by_one_caller_while_the_others_reuse_it() {
        let counts = CountCache::default();
        let start = Instant::now();
        assert_eq!(
            counts.lookup_at("q", start),
            Lookup::Unknown,
            "unknown lists are counted"
        );
        counts.put_at("q".into(), 20_000, start);
        let fresh = start + LARGE_COUNT_TTL / 2;
        assert_eq!(counts.lookup_at("q", fresh), Lookup::Fresh(20_000));

        let due = start + LARGE_COUNT_TTL;
        assert_eq!(
            counts.lookup_at("q", due),
            Lookup::Due(20_000),
            "the first caller recounts, answering with the previous total"
        );
        assert_eq!(
            counts.lookup_at("q", due),
            Lookup::Fresh(20_000),
            "the rest do not recount"
        );
        counts.put_at("q".into(), 20_500, due);
        assert_eq!(counts.lookup_at("q", due), Lookup::Fresh(20_500));

        counts.forget("q");
        assert_eq!(counts.lookup_at("q", due), Lookup::Unknown);
    }

    #[tokio::test]
    async fn requests_asking_at_once_for_a_large_list_count_it_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let counts = Arc::new(CountCache::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let requests: Vec<_> = (0..8)
            .map(|_| {
                let (counts, runs, gate) = (counts.clone(), runs.clone(), gate.clone());
                tokio::spawn(async move {
                    let count = || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        let _open = gate.acquire().await;
                        Ok(20_000)
                    };
                    counts.count_once("q".into(), count).await
                })
            })
            .collect();
        // Every request is waiting on the one count before it finishes.
        while counts
            .first_counts
            .lock()
            .unwrap()
            .get("q")
            .map(Arc::strong_count)
            != Some(9)
        {
            tokio::task::yield_now().await;
        }
        gate.add_permits(8);
        for request in requests {
            assert_eq!(request.await.unwrap().unwrap(), 20_000);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "counted once");
        assert_eq!(counts.lookup("q"), Lookup::Fresh(20_000));
        assert!(counts.first_counts.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_first_count_is_tried_again_by_the_next_request() {
        let counts = CountCache::default();
        let failed = counts
            .count_once("q".into(), || async {
                Err(ApiError::Unavailable("database".into()))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(counts.lookup("q"), Lookup::Unknown);
        let total = counts.count_once("q".into(), || async { Ok(30_000) }).await;
        assert_eq!(total.unwrap(), 30_000);
    }
}
