//! `straddle-bench webhooks`: customers created under load, each emitting a
//! `customer.created.v1` event that the server delivers to a local receiver;
//! events delivered per second and the latency from the acknowledged
//! (committed) create to the event's arrival, p50/p99/max.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use super::{admin, create, customer_body, serve, Database, Load};

/// Arrival time of each event, by customer id.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// Runs the scenario on `load`'s database and prints the figures.
pub async fn run(load: &Load, instances: usize, serve_args: &[String]) -> anyhow::Result<()> {
    let db = Database::fresh(load.database_url.as_deref()).await?;
    let key = admin(&db, &["bootstrap", "--output", "json"])?["api_key"]
        .as_str()
        .context("bootstrap printed no api_key")?
        .to_string();
    let mut servers = vec![];
    for _ in 0..instances.max(1) {
        servers.push(serve(&db, serve_args)?);
    }
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let (receiver_url, arrivals) = receiver().await?;
    let http = reqwest::Client::new();
    create(
        &http,
        &urls[0],
        &key,
        "/v1/webhook_endpoints",
        &json!({"url": receiver_url, "events": ["customer.created.v1"]}),
    )
    .await?;

    let began = Instant::now();
    let deadline = began + Duration::from_secs(load.seconds);
    let loops: Vec<_> = (0..load.connections)
        .map(|i| {
            let (url, key) = (urls[i % urls.len()].clone(), key.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut committed = vec![];
                while Instant::now() < deadline {
                    if let Ok(id) =
                        create(&http, &url, &key, "/v1/customers", &customer_body()).await
                    {
                        committed.push((id, Instant::now()));
                    }
                }
                committed
            })
        })
        .collect();
    let mut committed: Vec<(String, Instant)> = vec![];
    for task in loops {
        committed.extend(task.await?);
    }
    let wait_until = Instant::now() + Duration::from_secs(60);
    while arrivals.lock().map(|a| a.len()).unwrap_or(0) < committed.len()
        && Instant::now() < wait_until
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let mut latencies_ms: Vec<f64> = committed
        .iter()
        .filter_map(|(id, at)| {
            arrivals
                .get(id)
                .map(|arrived| arrived.saturating_duration_since(*at))
        })
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    latencies_ms.sort_by(f64::total_cmp);
    let last = arrivals.values().max().copied().unwrap_or(began);
    let seconds = last.duration_since(began).as_secs_f64();
    let percentile = |p: f64| {
        let index = ((latencies_ms.len().max(1) - 1) as f64 * p).round() as usize;
        latencies_ms.get(index).copied().unwrap_or(f64::NAN)
    };
    let backend = if db.postgres_base.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "webhooks: {} connections creating customers for {} s, {backend}, {} instance(s), receiver on this machine",
        load.connections,
        load.seconds,
        urls.len()
    );
    println!(
        "committed {} customers ({:.0}/s); delivered {} events ({:.0} events/s), missing {}",
        committed.len(),
        committed.len() as f64 / load.seconds as f64,
        latencies_ms.len(),
        arrivals.len() as f64 / seconds,
        committed.len() - latencies_ms.len(),
    );
    println!(
        "commit-to-delivery ms: p50 {:.1}, p99 {:.1}, max {:.1}",
        percentile(0.50),
        percentile(0.99),
        percentile(1.0)
    );
    drop(servers);
    Ok(())
}

/// A local receiver answering 204 and noting when each customer's event arrived.
async fn receiver() -> anyhow::Result<(String, Arrivals)> {
    let arrivals: Arrivals = Arc::default();
    let seen = arrivals.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                let arrived = Instant::now();
                if let Ok(event) = serde_json::from_str::<Value>(&body) {
                    if let (Some(id), Ok(mut seen)) = (event["data"]["id"].as_str(), seen.lock()) {
                        seen.entry(id.to_string()).or_insert(arrived);
                    }
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, arrivals))
}
