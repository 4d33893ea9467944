//! Load benchmark of the real server (release build), each figure set beside
//! a bare-minimum axum JSON handler measured in the same run. The servers run
//! as separate processes; this process is the load generator.
//!
//! - `straddle-bench` (throughput): `POST /v1/bridge/bank_account` and
//!   `GET /v1/paykeys/{id}` on SQLite (durable group commit) or, with
//!   `--database-url postgres://…`, on a fresh PostgreSQL database, behind
//!   `--instances N` servers; p50, p99, p99.9, max, the server's RSS,
//!   cold start and the binary's size.
//! - `straddle-bench scale`: seeds `--customers` × `--paykeys-per-customer`
//!   with `straddle admin seed`, then measures start-up, filtered lists,
//!   search and get-by-id at that size, and bytes per paykey.
//! - `straddle-bench webhooks`: events delivered per second to a local
//!   receiver and commit-to-delivery latency (see `webhooks.rs`).
//!
//! `cargo build --release -p straddle-cli -p straddle-bench && target/release/straddle-bench`

mod webhooks;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};

/// The allocator the server uses, so the baseline handler and the load
/// generator run on the same one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Benchmarks the Straddle server against a minimal JSON handler.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    load: Load,
    /// Servers sharing the database (PostgreSQL); load is spread over them.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Extra arguments for `straddle serve`.
    #[arg(long, allow_hyphen_values = true, num_args = 1..)]
    serve_args: Vec<String>,
    #[command(subcommand)]
    command: Option<Mode>,
}

/// How long and how hard each scenario runs, and on which database.
#[derive(Args, Clone)]
struct Load {
    /// Seconds of load per scenario (60 for the steady-state figures).
    #[arg(long, default_value_t = 10, global = true)]
    seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64, global = true)]
    connections: usize,
    /// Runs the baseline and the scenarios in turn this many times, each
    /// for `seconds / rounds`, and adds up each one's rounds: on a machine
    /// whose speed drifts, the ratios then compare runs from the same
    /// minutes (the default server scenarios only).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// `postgres://…/DB`: runs on a fresh database created beside DB and
    /// dropped afterwards. Default: a fresh SQLite file.
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Mode {
    /// Run the baseline server: `GET /` answers a small JSON object.
    Baseline,
    /// Measure lists, search, get-by-id and start-up on a large database.
    Scale {
        /// Customers to seed.
        #[arg(long, default_value_t = 200_000)]
        customers: u64,
        /// Paykeys per customer.
        #[arg(long, default_value_t = 5)]
        paykeys_per_customer: u64,
        /// Keep the seeded SQLite database in this directory, and measure
        /// the one already there (without seeding) on later runs.
        #[arg(long, conflicts_with = "database_url")]
        keep: Option<PathBuf>,
    },
    /// Webhook delivery: events/s to a local receiver, commit-to-delivery latency.
    Webhooks,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Some(Mode::Baseline) => runtime.block_on(baseline()),
        Some(Mode::Scale {
            customers,
            paykeys_per_customer,
            keep,
        }) => runtime.block_on(scale(
            &cli.load,
            &cli.serve_args,
            customers,
            paykeys_per_customer,
            keep,
        )),
        Some(Mode::Webhooks) => {
            runtime.block_on(webhooks::run(&cli.load, cli.instances, &cli.serve_args))
        }
        None => runtime.block_on(throughput(&cli.load, cli.instances, &cli.serve_args)),
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

impl Process {
    /// Peak RSS, then the current RSS split into anonymous memory and
    /// mapped files (SQLite readers map the database: its pages the server
    /// has read count in RSS, once per reader connection, though they are
    /// the OS's page cache), in MiB.
    fn rss_report(&self) -> String {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        let mib = |field: &str| -> f64 {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
                .map_or(f64::NAN, |kib| kib / 1024.0)
        };
        format!(
            "{:.1} MiB peak (now {:.1} MiB anonymous + {:.1} MiB mapped files)",
            mib("VmHWM:"),
            mib("RssAnon:"),
            mib("RssFile:")
        )
    }

    /// CPU time (user and system) the process has used so far, in seconds.
    fn cpu_seconds(&self) -> Option<f64> {
        stat_cpu_seconds(&format!("/proc/{}/stat", self.0.id()))
    }

    /// CPU time its thread named `name` has used so far, in seconds; `None`
    /// where it has no such thread.
    fn thread_cpu_seconds(&self, name: &str) -> Option<f64> {
        named_cpu_seconds(&format!("/proc/{}/task", self.0.id()), name)
            .first()
            .copied()
    }
}

/// The CPU time, in seconds, of each process or thread listed in `dir`
/// (`/proc`, or a process's `task` directory) whose name is `name`.
fn named_cpu_seconds(dir: &str, name: &str) -> Vec<f64> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .filter_map(|entry| stat_cpu_seconds(&entry.path().join("stat").to_string_lossy()))
        .collect()
}

/// User and system CPU time in a `/proc/…/stat` file, in seconds (Linux
/// counts in USER_HZ ticks, 100 per second).
fn stat_cpu_seconds(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name: utime is the 12th, stime the 13th.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// The SQLite writer thread's name: its CPU per write shows the cost of
/// the write path itself, apart from HTTP and the load generator.
const WRITER_THREAD: &str = "sqlite-writer";

/// CPU time every PostgreSQL server process on this machine (the
/// postmaster, its background workers and the connections' backends) has
/// used so far, in seconds; `None` where none is visible (a database on
/// another machine). A backend that exits takes its time with it, so the
/// figure holds while the servers keep their connections.
fn postgres_cpu_seconds() -> Option<f64> {
    let seconds = named_cpu_seconds("/proc", "postgres");
    (!seconds.is_empty()).then(|| seconds.iter().sum())
}

/// The machine's CPU ticks so far (all CPUs): idle (with I/O wait) and in
/// all, from the first line of `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((idle, ticks.iter().sum()))
}

/// Runs a scenario and charges the CPU time `servers` used meanwhile to
/// its requests: server CPU per request, a figure the shared machine's
/// noise barely moves (unlike requests per second), and the same for the
/// SQLite writer thread alone and, with `postgres`, for the PostgreSQL
/// server on this machine. Also the load generator's own CPU per request
/// (this process's) and the share of the machine left idle: near 0 % the
/// scenario is bound by CPU, well above it by waiting (on the disk, on
/// one thread, on locks).
async fn on_servers(
    servers: &[&Process],
    postgres: bool,
    scenario: impl std::future::Future<Output = Report>,
) -> Report {
    let used = || servers.iter().map(|s| s.cpu_seconds()).sum::<Option<f64>>();
    let writer = || {
        servers
            .iter()
            .map(|s| s.thread_cpu_seconds(WRITER_THREAD))
            .sum::<Option<f64>>()
    };
    let database = || postgres.then(postgres_cpu_seconds).flatten();
    let load = || stat_cpu_seconds("/proc/self/stat");
    let (before, writer_before, database_before) = (used(), writer(), database());
    let (load_before, machine_before) = (load(), machine_ticks());
    let mut report = scenario.await;
    let requests = report.requests.max(1) as f64;
    let per_request =
        |before: Option<f64>, after: Option<f64>| Some((after? - before?) * 1e6 / requests);
    report.server_cpu_us = per_request(before, used());
    report.writer_cpu_us = per_request(writer_before, writer());
    report.database_cpu_us = per_request(database_before, database());
    report.load_cpu_us = per_request(load_before, load());
    if let (Some((idle_before, all_before)), Some((idle, all))) = (machine_before, machine_ticks())
    {
        let all = all.saturating_sub(all_before).max(1);
        report.idle_percent = Some(100.0 * idle.saturating_sub(idle_before) as f64 / all as f64);
    }
    report
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A started server: its process, URL, and how long it took to `listening on`.
struct Started {
    process: Process,
    url: String,
    startup: Duration,
}

fn start(mut command: Command) -> anyhow::Result<Started> {
    let began = Instant::now();
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
            let startup = began.elapsed();
            let url = url.to_string();
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return Ok(Started {
                process,
                url,
                startup,
            });
        }
        lines.push(line.trim().to_string());
    }
}

/// The database a run uses, removed when dropped (also when the run fails
/// part-way), unless kept.
struct Database {
    url: String,
    dir: PathBuf,
    postgres_base: Option<String>,
    /// Left in place when dropped.
    kept: bool,
}

impl Database {
    async fn fresh(requested: Option<&str>) -> anyhow::Result<Database> {
        let dir = std::env::temp_dir().join(format!("straddle-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        match requested {
            Some(base) if base.starts_with("postgres") => {
                let name = bench_database_name();
                let mut conn = PgConnection::connect(base).await?;
                conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await?;
                Ok(Database {
                    url: with_database(base, &name)?,
                    dir,
                    postgres_base: Some(base.to_string()),
                    kept: false,
                })
            }
            Some(other) => bail!("--database-url must be postgres://…, not {other}"),
            None => Ok(Database::sqlite(dir, false)),
        }
    }

    /// A SQLite database in `dir`, kept after the run.
    fn kept(dir: PathBuf) -> anyhow::Result<Database> {
        std::fs::create_dir_all(&dir)?;
        Ok(Database::sqlite(dir.canonicalize()?, true))
    }

    fn sqlite(dir: PathBuf, kept: bool) -> Database {
        Database {
            url: format!("sqlite://{}/bench.db", dir.display()),
            dir,
            postgres_base: None,
            kept,
        }
    }

    fn secrets(&self) -> PathBuf {
        self.dir.join("secrets.json")
    }

    /// Bytes the database occupies.
    async fn size(&self) -> anyhow::Result<u64> {
        match &self.postgres_base {
            Some(_) => {
                let mut conn = PgConnection::connect(&self.url).await?;
                let (bytes,): (i64,) =
                    sqlx::query_as("SELECT pg_database_size(current_database())")
                        .fetch_one(&mut conn)
                        .await?;
                Ok(bytes as u64)
            }
            None => Ok([
                "bench.db",
                "bench.db-wal",
                "bench.db-search",
                "bench.db-search-wal",
            ]
            .iter()
            .filter_map(|f| std::fs::metadata(self.dir.join(f)).ok())
            .map(|m| m.len())
            .sum()),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Some(base) = self.postgres_base.clone() {
            let name = bench_database_name();
            // `drop` cannot await, and blocking on the bench's runtime from
            // inside it would panic: the statement runs on a thread with a
            // runtime of its own.
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(async {
                        PgConnection::connect(&base)
                            .await?
                            .execute(sql.as_str())
                            .await?;
                        Ok(())
                    })
            })
            .join();
            match dropped {
                Ok(Ok(())) => {}
                Ok(Err(err)) => eprintln!("could not drop the database {name}: {err:#}"),
                Err(_) => eprintln!("could not drop the database {name}"),
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The PostgreSQL database this run creates and drops.
fn bench_database_name() -> String {
    format!("straddle_bench_{}", std::process::id())
}

/// `base` with its database name replaced by `name`; its query (such as
/// `?host=/var/run/postgresql`, a Unix socket) kept.
fn with_database(base: &str, name: &str) -> anyhow::Result<String> {
    let (address, query) = match base.split_once('?') {
        Some((address, query)) => (address, format!("?{query}")),
        None => (base, String::new()),
    };
    let (prefix, _) = address
        .rsplit_once('/')
        .filter(|(prefix, _)| prefix.contains("//"))
        .context("database URL has no name")?;
    Ok(format!("{prefix}/{name}{query}"))
}

fn straddle() -> anyhow::Result<PathBuf> {
    Ok(std::env::current_exe()?.with_file_name("straddle"))
}

/// `straddle serve` on `db`.
fn serve(db: &Database, serve_args: &[String]) -> anyhow::Result<Started> {
    let mut command = Command::new(straddle()?);
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--rate-limit", "0"])
        .arg("--database-url")
        .arg(&db.url)
        .args(serve_args)
        .env("STRADDLE_SECRETS_FILE", db.secrets())
        .env("RUST_LOG", "warn");
    start(command).context("starting straddle serve")
}

/// `straddle admin ARGS --database-url URL --output json`.
fn admin(db: &Database, args: &[&str]) -> anyhow::Result<Value> {
    let output = Command::new(straddle()?)
        .arg("admin")
        .args(args)
        .arg("--database-url")
        .arg(&db.url)
        .env("STRADDLE_SECRETS_FILE", db.secrets())
        .output()?;
    if !output.status.success() {
        bail!(
            "straddle admin {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout).unwrap_or(Value::Null))
}

async fn throughput(load: &Load, instances: usize, serve_args: &[String]) -> anyhow::Result<()> {
    let db = Database::fresh(load.database_url.as_deref()).await?;
    let key = admin(&db, &["bootstrap", "--output", "json"])?["api_key"]
        .as_str()
        .context("bootstrap printed no api_key")?
        .to_string();
    let baseline = start({
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("baseline");
        command
    })?;
    let mut servers = vec![];
    for _ in 0..instances.max(1) {
        servers.push(serve(&db, serve_args)?);
    }
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let http = reqwest::Client::new();
    let customer_id = create(&http, &urls[0], &key, "/v1/customers", &customer_body()).await?;
    let link_body = Arc::new(
        json!({"customer_id": customer_id, "routing_number": "026009593",
        "account_number": "004417253381", "account_type": "checking"}),
    );
    let paykey_id = create(&http, &urls[0], &key, "/v1/bridge/bank_account", &link_body).await?;

    let postgres = db.postgres_base.is_some();
    let backend = if postgres { "PostgreSQL" } else { "SQLite" };
    let rounds = load.rounds;
    println!(
        "{} connections, {} s per scenario{}, {backend}, {} instance(s), load generator on the same machine\n",
        load.connections,
        load.seconds,
        match rounds {
            1 => String::new(),
            _ => format!(" in {rounds} rounds taken in turn"),
        },
        urls.len()
    );
    let duration = Duration::from_secs(load.seconds) / rounds;
    let processes: Vec<&Process> = servers.iter().map(|s| &s.process).collect();
    let mut totals: [Option<Report>; 3] = Default::default();
    for _ in 0..rounds {
        let base = on_servers(
            &[&baseline.process],
            false,
            run("baseline GET / (bare JSON)", load.connections, duration, {
                let url = baseline.url.clone();
                move |client, _| client.get(format!("{url}/"))
            }),
        )
        .await;
        let write = on_servers(
            &processes,
            postgres,
            run(
                "POST /v1/bridge/bank_account",
                load.connections,
                duration,
                {
                    let (urls, key, body) = (urls.clone(), key.clone(), link_body.clone());
                    move |client, i| {
                        client
                            .post(format!("{}/v1/bridge/bank_account", urls[i % urls.len()]))
                            .bearer_auth(&key)
                            .json(&*body)
                    }
                },
            ),
        )
        .await;
        let read = on_servers(
            &processes,
            postgres,
            run("GET /v1/paykeys/{id}", load.connections, duration, {
                let (urls, key, paykey_id) = (urls.clone(), key.clone(), paykey_id.clone());
                move |client, i| {
                    client
                        .get(format!("{}/v1/paykeys/{paykey_id}", urls[i % urls.len()]))
                        .bearer_auth(&key)
                }
            }),
        )
        .await;
        for (total, report) in totals.iter_mut().zip([base, write, read]) {
            match total {
                Some(total) => total.add(report),
                None => *total = Some(report),
            }
        }
    }
    let [Some(base), Some(write), Some(read)] = totals else {
        unreachable!("at least one round runs");
    };
    print_table(&base, &[&base, &write, &read]);

    println!();
    for server in &servers {
        println!("server RSS: {}", server.process.rss_report());
    }
    let first_start = servers[0].startup;
    drop(servers);
    let restarted = serve(&db, serve_args)?;
    println!(
        "start-up to `listening`: {:.0} ms on the empty database, {:.0} ms again on the bench database",
        first_start.as_secs_f64() * 1000.0,
        restarted.startup.as_secs_f64() * 1000.0
    );
    drop(restarted);
    let binary = std::fs::metadata(straddle()?)?.len();
    println!("release binary: {:.1} MiB", binary as f64 / 1_048_576.0);
    drop(baseline);
    Ok(())
}

async fn scale(
    load: &Load,
    serve_args: &[String],
    customers: u64,
    paykeys_per_customer: u64,
    keep: Option<PathBuf>,
) -> anyhow::Result<()> {
    let db = match keep {
        Some(dir) => Database::kept(dir)?,
        None => Database::fresh(load.database_url.as_deref()).await?,
    };
    let seeded = db.dir.join("bootstrap.json");
    let boot: Value = if db.kept && seeded.exists() {
        let boot = serde_json::from_slice(&std::fs::read(&seeded)?)?;
        println!(
            "measuring the database kept in {} ({} bytes)",
            db.dir.display(),
            db.size().await?
        );
        boot
    } else {
        let boot = admin(&db, &["bootstrap", "--output", "json"])?;
        let account = boot["account_id"].as_str().context("no account_id")?;
        let seeding = Instant::now();
        admin(
            &db,
            &[
                "seed",
                "--account",
                account,
                "--customers",
                &customers.to_string(),
                "--paykeys-per-customer",
                &paykeys_per_customer.to_string(),
            ],
        )?;
        let paykeys = customers * paykeys_per_customer;
        println!(
            "seeded {customers} customers and {paykeys} paykeys in {:.1} s; {:.0} database bytes per paykey",
            seeding.elapsed().as_secs_f64(),
            db.size().await? as f64 / paykeys.max(1) as f64
        );
        if db.kept {
            std::fs::write(&seeded, serde_json::to_vec(&boot)?)?;
        }
        boot
    };
    let key = boot["api_key"].as_str().context("no api_key")?.to_string();
    let baseline = start({
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("baseline");
        command
    })?;
    let server = serve(&db, serve_args)?;
    println!(
        "start-up to `listening` at this size: {:.0} ms\n",
        server.startup.as_secs_f64() * 1000.0
    );
    let url = server.url.clone();
    let http = reqwest::Client::new();
    let sample: Value = http
        .get(format!("{url}/v1/paykeys?page_size=100&sort_order=asc"))
        .bearer_auth(&key)
        .send()
        .await?
        .json()
        .await?;
    let listed = sample["data"].as_array().context("no paykeys listed")?;
    let customer_ids: Arc<Vec<String>> = Arc::new(
        listed
            .iter()
            .filter_map(|p| p["customer_id"].as_str().map(String::from))
            .collect(),
    );
    let paykey_ids: Arc<Vec<String>> = Arc::new(
        listed
            .iter()
            .filter_map(|p| p["id"].as_str().map(String::from))
            .collect(),
    );
    println!(
        "{} connections, {} s per scenario, {}\n",
        load.connections,
        load.seconds,
        if db.postgres_base.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let duration = Duration::from_secs(load.seconds);
    let base = run("baseline GET / (bare JSON)", load.connections, duration, {
        let url = baseline.url.clone();
        move |client, _| client.get(format!("{url}/"))
    })
    .await;
    let mut reports = vec![];
    let lists: [(&str, &str); 6] = [
        (
            "list by customer_id, status, created_at desc",
            "customer_id={c}&status=active&sort_by=created_at&sort_order=desc&page_size=10",
        ),
        (
            "list by customer_id, institution_name",
            "customer_id={c}&sort_by=institution_name&page_size=10",
        ),
        (
            "list by status, created_at desc",
            "status=active&sort_order=desc&page_size=10",
        ),
        (
            "list by status, institution_name asc",
            "status=review&sort_by=institution_name&sort_order=asc&page_size=10",
        ),
        ("search_text=6789", "search_text=6789&page_size=10"),
        // A bank's name and a digit: thousands of matches at a million.
        (
            "search_text=BANK - *12",
            "search_text=BANK%20-%20%2A12&page_size=10",
        ),
    ];
    for (name, query) in lists {
        let (url, key, customers) = (url.clone(), key.clone(), customer_ids.clone());
        let query = query.to_string();
        reports.push(
            run(name, load.connections, duration, move |client, i| {
                let q = query.replace("{c}", &customers[i % customers.len()]);
                client
                    .get(format!("{url}/v1/paykeys?{q}"))
                    .bearer_auth(&key)
            })
            .await,
        );
    }
    reports.push(
        run("GET /v1/paykeys/{id}", load.connections, duration, {
            let (url, key, ids) = (url.clone(), key.clone(), paykey_ids.clone());
            move |client, i| {
                client
                    .get(format!("{url}/v1/paykeys/{}", ids[i % ids.len()]))
                    .bearer_auth(&key)
            }
        })
        .await,
    );
    let mut all: Vec<&Report> = vec![&base];
    all.extend(reports.iter());
    print_table(&base, &all);
    println!("\nserver RSS: {}", server.process.rss_report());
    drop(server);
    drop(baseline);
    Ok(())
}

fn customer_body() -> Value {
    json!({"name": "Bench Customer", "type": "individual", "email": "bench@example.com",
           "phone": "+12128675309", "device": {"ip_address": "192.0.2.1"}})
}

/// POSTs `body` and returns the created object's id.
async fn create(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    path: &str,
    body: &Value,
) -> anyhow::Result<String> {
    let created: Value = http
        .post(format!("{url}{path}"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await?
        .json()
        .await?;
    created["data"]["id"]
        .as_str()
        .map(String::from)
        .with_context(|| format!("{path} created nothing: {created}"))
}

/// One scenario's measurements.
struct Report {
    name: String,
    requests: usize,
    errors: usize,
    seconds: f64,
    latencies_us: Vec<u64>,
    /// Server CPU time per request, in microseconds, where measured.
    server_cpu_us: Option<f64>,
    /// The SQLite writer thread's CPU time per request, in microseconds.
    writer_cpu_us: Option<f64>,
    /// The PostgreSQL server's CPU time per request, in microseconds.
    database_cpu_us: Option<f64>,
    /// The load generator's CPU time per request, in microseconds.
    load_cpu_us: Option<f64>,
    /// The share of the machine's CPU time left idle, in percent.
    idle_percent: Option<f64>,
}

impl Report {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// Adds a later round of the same scenario.
    fn add(&mut self, round: Report) {
        let (requests, seconds) = (
            (self.requests as f64, round.requests as f64),
            (self.seconds, round.seconds),
        );
        let per_request = |a, b| weighted_mean((a, b), requests);
        self.server_cpu_us = per_request(self.server_cpu_us, round.server_cpu_us);
        self.writer_cpu_us = per_request(self.writer_cpu_us, round.writer_cpu_us);
        self.database_cpu_us = per_request(self.database_cpu_us, round.database_cpu_us);
        self.load_cpu_us = per_request(self.load_cpu_us, round.load_cpu_us);
        self.idle_percent = weighted_mean((self.idle_percent, round.idle_percent), seconds);
        self.requests += round.requests;
        self.errors += round.errors;
        self.seconds += round.seconds;
        self.latencies_us.extend(round.latencies_us);
        self.latencies_us.sort_unstable();
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }
}

/// The mean of two figures weighted by `weights`; `None` unless both are
/// measured.
fn weighted_mean((a, b): (Option<f64>, Option<f64>), (wa, wb): (f64, f64)) -> Option<f64> {
    Some((a? * wa + b? * wb) / (wa + wb).max(f64::MIN_POSITIVE))
}

fn print_table(base: &Report, reports: &[&Report]) {
    println!(
        "{:<46} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10} {:>10} {:>10} {:>10} {:>5}",
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "vs base",
        "errors",
        "server CPU",
        "writer CPU",
        "db CPU",
        "load CPU",
        "idle"
    );
    for report in reports {
        println!(
            "{:<46} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>7.2}x {:>7} {:>10} {:>10} {:>10} {:>10} {:>5}",
            report.name,
            report.throughput(),
            report.percentile_ms(0.50),
            report.percentile_ms(0.99),
            report.percentile_ms(0.999),
            report.percentile_ms(1.0),
            report.throughput() / base.throughput(),
            report.errors,
            micros(report.server_cpu_us),
            micros(report.writer_cpu_us),
            micros(report.database_cpu_us),
            micros(report.load_cpu_us),
            report
                .idle_percent
                .map_or("-".to_string(), |idle| format!("{idle:.0}%")),
        );
    }
}

/// A per-request CPU figure, or `-` where not measured.
fn micros(us: Option<f64>) -> String {
    us.map_or("-".to_string(), |us| format!("{us:.1} µs"))
}

/// Drives `connections` concurrent request loops for `duration`; `request`
/// gets the loop's number (to spread load over servers or ids).
async fn run<F>(name: &str, connections: usize, duration: Duration, request: F) -> Report
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Clone + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            let request = request.clone();
            tokio::spawn(async move {
                // One client per loop: one keep-alive connection each.
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .expect("client");
                let (mut latencies, mut errors, mut n) = (Vec::new(), 0usize, i);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match request(&client, n).send().await {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            latencies.push(sent.elapsed().as_micros() as u64);
                        }
                        _ => errors += 1,
                    }
                    n += connections;
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
        server_cpu_us: None,
        writer_cpu_us: None,
        database_cpu_us: None,
        load_cpu_us: None,
        idle_percent: None,
    }
}

#[cfg(test)]
mod tests {
    use super::{with_database, Report};

    fn report(latencies_us: Vec<u64>, seconds: f64, cpu_us: f64) -> Report {
        Report {
            name: "scenario".into(),
            requests: latencies_us.len(),
            errors: 1,
            seconds,
            latencies_us,
            server_cpu_us: Some(cpu_us),
            writer_cpu_us: None,
            database_cpu_us: Some(cpu_us / 2.0),
            load_cpu_us: Some(cpu_us / 4.0),
            idle_percent: Some(cpu_us / 10.0),
        }
    }

    #[test]
    fn rounds_add_up_to_one_report() {
        let mut total = report(vec![10, 30, 50], 1.0, 100.0);
        total.add(report(vec![20, 40], 2.0, 50.0));
        assert_eq!(total.requests, 5);
        assert_eq!(total.errors, 2);
        assert_eq!(total.latencies_us, vec![10, 20, 30, 40, 50]);
        assert!((total.throughput() - 5.0 / 3.0).abs() < 1e-9);
        assert!((total.percentile_ms(1.0) - 0.05).abs() < 1e-9);
        assert_eq!(total.server_cpu_us, Some(80.0), "weighted by requests");
        assert_eq!(total.writer_cpu_us, None);
        assert_eq!(total.database_cpu_us, Some(40.0));
        assert_eq!(total.load_cpu_us, Some(20.0));
        // 10 % for 1 s and 5 % for 2 s: idle is weighted by time.
        assert!((total.idle_percent.unwrap() - 20.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5432/test", "b").unwrap(),
            "postgres://u@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u@localhost/test?host=/var/run/postgresql", "b").unwrap(),
            "postgres://u@localhost/b?host=/var/run/postgresql"
        );
        assert!(with_database("postgres://u@localhost", "b").is_err());
    }
}
