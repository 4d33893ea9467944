//! Prometheus metrics, served in the text format on `--metrics-addr`.
//! Counters and histograms are process-wide; gauges of the database (pool
//! use, background jobs) are read when the metrics are scraped.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::state::AppState;

/// Every metric this process exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by method, route template and status.
    pub requests: IntCounterVec,
    /// Request latency by method and route template.
    pub latency: HistogramVec,
    /// Writes per committed transaction (SQLite group commit; 1 on PostgreSQL).
    pub write_batch: prometheus::Histogram,
    /// Time to commit a write transaction.
    pub commit_latency: prometheus::Histogram,
    /// Requests refused by the rate limit.
    pub rate_limited: IntCounter,
    /// Background jobs: due, claimed, late.
    pub jobs: IntGaugeVec,
    /// Database connections: in use, idle, max.
    pub pool: IntGaugeVec,
    /// 1 when this instance is ready, else 0.
    pub ready: IntGauge,
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let seconds = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let requests = IntCounterVec::new(
            Opts::new("straddle_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "straddle_http_request_duration_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(seconds.clone()),
            &["method", "route"],
        )
        .expect("valid metric");
        let write_batch = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "straddle_write_batch_size",
                "Writes committed per database transaction",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        )
        .expect("valid metric");
        let commit_latency = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "straddle_write_commit_seconds",
                "Time from the start of a write transaction to its commit",
            )
            .buckets(seconds),
        )
        .expect("valid metric");
        let rate_limited = IntCounter::new(
            "straddle_rate_limited_total",
            "Requests refused with 429 by the rate limit",
        )
        .expect("valid metric");
        let jobs = IntGaugeVec::new(
            Opts::new(
                "straddle_jobs",
                "Background jobs: due (ready to run), claimed (under a live lease), late (due over a minute ago and unclaimed)",
            ),
            &["state"],
        )
        .expect("valid metric");
        let pool = IntGaugeVec::new(
            Opts::new("straddle_db_connections", "Database pool connections"),
            &["state"],
        )
        .expect("valid metric");
        let ready =
            IntGauge::new("straddle_ready", "1 when the instance is ready").expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(write_batch.clone()),
            Box::new(commit_latency.clone()),
            Box::new(rate_limited.clone()),
            Box::new(jobs.clone()),
            Box::new(pool.clone()),
            Box::new(ready.clone()),
        ] {
            registry.register(collector).expect("unique metric");
        }
        Metrics {
            registry,
            requests,
            latency,
            write_batch,
            commit_latency,
            rate_limited,
            jobs,
            pool,
            ready,
        }
    }

    /// Records one committed write transaction.
    pub fn committed(&self, writes: usize, took: Duration) {
        self.write_batch.observe(writes as f64);
        self.commit_latency.observe(took.as_secs_f64());
    }

    fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Middleware: counts every request by route template (never the raw
/// path, whose ids would make unbounded label sets) and times it. Templates
/// are written `/v1/customers/:id`, since some text-format parsers stop at
/// a brace inside a label value.
pub async fn track(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().replace('{', ":").replace('}', ""))
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let response = next.run(request).await;
    METRICS
        .latency
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    METRICS
        .requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .inc();
    response
}

/// `GET /metrics`: refreshes the database gauges, then renders everything.
pub async fn serve(State(state): State<AppState>) -> Response {
    let pool = &state.db.pool;
    let idle = state.db.idle_connections() as i64;
    let size = i64::from(pool.size());
    METRICS.pool.with_label_values(&["in_use"]).set(size - idle);
    METRICS.pool.with_label_values(&["idle"]).set(idle);
    METRICS
        .pool
        .with_label_values(&["max"])
        .set(i64::from(pool.options().get_max_connections()));
    match crate::jobs::queue::depth(&state.db, &state.clock.timestamp()).await {
        Ok(depth) => {
            METRICS.jobs.with_label_values(&["due"]).set(depth.due);
            METRICS
                .jobs
                .with_label_values(&["claimed"])
                .set(depth.claimed);
            METRICS.jobs.with_label_values(&["late"]).set(depth.late);
        }
        Err(err) => tracing::warn!(error = %err, "could not count background jobs"),
    }
    let ready = crate::app::readiness(&state).await.is_ok();
    METRICS.ready.set(i64::from(ready));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        METRICS.render(),
    )
        .into_response()
}
