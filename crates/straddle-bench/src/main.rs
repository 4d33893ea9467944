//! Load benchmark: throughput and p50/p99 latency of `POST /v1/bridge/bank_account`
//! and `GET /v1/paykeys/{id}` on the real server (release build, SQLite with
//! durable group commit), against a bare-minimum HTTP JSON handler measured
//! in the same run. Both servers run as separate processes; this process is
//! the load generator.
//!
//! `cargo build --release -p straddle-cli -p straddle-bench && target/release/straddle-bench`

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

/// Compares the Straddle server with a minimal JSON handler.
#[derive(Parser)]
struct Args {
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Extra arguments for `straddle serve` (e.g. `--database-url postgres://…`).
    #[arg(long, allow_hyphen_values = true, num_args = 1..)]
    serve_args: Vec<String>,
    #[command(subcommand)]
    command: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Run the baseline server: `GET /` answers a small JSON object.
    Baseline,
}

/// One scenario's measurements.
struct Report {
    name: String,
    requests: usize,
    errors: usize,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Report {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match args.command {
        Some(Mode::Baseline) => runtime.block_on(baseline()),
        None => runtime.block_on(compare(args)),
    }
}

/// The bare-minimum handler: one route, a constant JSON body.
async fn baseline() -> anyhow::Result<()> {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            axum::Json(json!({"meta": {"ok": true}, "response_type": "object", "data": {}}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command`, returns it with its `listening on` URL and the lines before.
fn start(mut command: Command) -> anyhow::Result<(Process, String, Vec<String>)> {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut process = Process(child);
    let mut reader = BufReader::new(process.0.stdout.take().context("no stdout")?);
    let mut lines = vec![];
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("server exited before listening: {lines:?}");
        }
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            let url = url.to_string();
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return Ok((process, url, lines));
        }
        lines.push(line.trim().to_string());
    }
}

async fn compare(args: Args) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let dir = std::env::temp_dir().join(format!("straddle-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let mut baseline_cmd = Command::new(&exe);
    baseline_cmd.arg("baseline");
    let (_baseline, baseline_url, _) = start(baseline_cmd)?;

    let straddle = exe.with_file_name("straddle");
    let mut serve = Command::new(&straddle);
    serve
        .args(["serve", "--addr", "127.0.0.1:0", "--rate-limit", "0"])
        .arg("--database-url")
        .arg(format!("sqlite://{}/bench.db", dir.display()))
        .args(&args.serve_args)
        .env("STRADDLE_SECRETS_FILE", dir.join("secrets.json"))
        .env("RUST_LOG", "warn");
    let (_server, url, lines) =
        start(serve).with_context(|| format!("starting {}", straddle.display()))?;
    let api_key = match lines.iter().find(|l| l.starts_with("eyJ")) {
        Some(key) => key.clone(),
        None => bootstrap(&straddle, &dir, &args.serve_args)?,
    };

    let http = reqwest::Client::new();
    let customer: Value = http
        .post(format!("{url}/v1/customers"))
        .bearer_auth(&api_key)
        .json(
            &json!({"name": "Bench Customer", "type": "individual", "email": "bench@example.com",
                      "phone": "+12128675309", "device": {"ip_address": "192.0.2.1"}}),
        )
        .send()
        .await?
        .json()
        .await?;
    let customer_id = customer["data"]["id"]
        .as_str()
        .context("customer not created")?
        .to_string();
    let link_body = Arc::new(
        json!({"customer_id": customer_id, "routing_number": "026009593",
                                    "account_number": "004417253381", "account_type": "checking"}),
    );
    let paykey: Value = http
        .post(format!("{url}/v1/bridge/bank_account"))
        .bearer_auth(&api_key)
        .json(&*link_body)
        .send()
        .await?
        .json()
        .await?;
    let paykey_id = paykey["data"]["id"]
        .as_str()
        .context("paykey not created")?
        .to_string();

    let duration = Duration::from_secs(args.seconds);
    println!(
        "{} connections, {} s per scenario, load generator on the same machine\n",
        args.connections, args.seconds
    );
    let base = run("baseline GET / (bare JSON)", args.connections, duration, {
        let url = baseline_url.clone();
        move |client| client.get(format!("{url}/"))
    })
    .await;
    let write = run(
        "POST /v1/bridge/bank_account",
        args.connections,
        duration,
        {
            let (url, key, body) = (url.clone(), api_key.clone(), link_body.clone());
            move |client| {
                client
                    .post(format!("{url}/v1/bridge/bank_account"))
                    .bearer_auth(&key)
                    .json(&*body)
            }
        },
    )
    .await;
    let read = run("GET /v1/paykeys/{id}", args.connections, duration, {
        let (url, key) = (url.clone(), api_key.clone());
        move |client| {
            client
                .get(format!("{url}/v1/paykeys/{paykey_id}"))
                .bearer_auth(&key)
        }
    })
    .await;

    println!(
        "{:<32} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "scenario", "req/s", "p50 ms", "p99 ms", "vs base", "errors"
    );
    for report in [&base, &write, &read] {
        println!(
            "{:<32} {:>10.0} {:>9.2} {:>9.2} {:>8.0}% {:>7}",
            report.name,
            report.throughput(),
            report.percentile_ms(0.50),
            report.percentile_ms(0.99),
            100.0 * report.throughput() / base.throughput(),
            report.errors,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn bootstrap(
    straddle: &PathBuf,
    dir: &std::path::Path,
    serve_args: &[String],
) -> anyhow::Result<String> {
    let mut command = Command::new(straddle);
    command
        .args(["admin", "bootstrap", "--output", "json"])
        .env("STRADDLE_SECRETS_FILE", dir.join("secrets.json"));
    match serve_args.iter().position(|a| a == "--database-url") {
        Some(i) => command.args(&serve_args[i..=i + 1]),
        None => command
            .arg("--database-url")
            .arg(format!("sqlite://{}/bench.db", dir.display())),
    };
    let output = command.output()?;
    let json: Value = serde_json::from_slice(&output.stdout)?;
    json["api_key"]
        .as_str()
        .map(String::from)
        .context("bootstrap printed no api_key")
}

/// Drives `connections` concurrent request loops for `duration`.
async fn run<F>(name: &str, connections: usize, duration: Duration, request: F) -> Report
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Clone + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move {
                // One client per loop: one keep-alive connection each.
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .expect("client");
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match request(&client).send().await {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            latencies.push(sent.elapsed().as_micros() as u64);
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((mut l, e)) = task.await {
            latencies_us.append(&mut l);
            errors += e;
        }
    }
    latencies_us.sort_unstable();
    Report {
        name: name.to_string(),
        requests: latencies_us.len(),
        errors,
        seconds: started.elapsed().as_secs_f64(),
        latencies_us,
    }
}
