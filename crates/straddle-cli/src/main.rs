//! `straddle`: runs the server, administers accounts and API keys, and
//! calls the API (`bridge`, `customers`, `paykeys`… through the SDK).

mod api;
mod serve_webhooks;
mod signals;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use straddle_server::admin;
use straddle_server::config::{default_database_url, default_secrets_file, Config, Environment};
use straddle_server::http::server::ConnectionLimits;
use straddle_server::security::guard::GuardLimits;
use straddle_server::security::secrets::{self as secrets, SecretSources, Secrets};
use straddle_server::storage::db::{Db, DbOptions};
use straddle_server::write::pipeline::Pipeline;
use straddle_server::{telemetry, Application, SystemClock};
use uuid::Uuid;

/// A self-hostable Straddle Bridge API server, its admin tools, and a client for the API.
#[derive(Parser)]
#[command(name = "straddle", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How every command finds its secrets (shown in `--help`).
const SECRETS_HELP: &str = "\
Secrets, in this order (serve and every admin command):
  1. STRADDLE_JWT_SECRET and STRADDLE_DATA_KEY (base64 of 32 bytes; make them with
     `straddle admin secrets generate`): used as given, replacing the file's values;
     with both set no secrets file is read or written.
  2. The secrets file (--secrets-file).
  3. A new secrets file (mode 0600), only on the database's first start.
The database records a check value of each secret at first start; a process whose
secrets differ refuses to run and names the secret and where it was read from.
Rotation: STRADDLE_PREVIOUS_DATA_KEYS=OLD[,OLDER] keeps older data keys for reading
(then `straddle admin reencrypt`); STRADDLE_PREVIOUS_JWT_SECRETS=OLD@2027-01-01T00:00:00Z
keeps API keys signed with the old secret valid until that time (no @: until revoked).";

// Parsed once per process: boxing variants to even out their sizes buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the API server.
    ///
    /// Example: straddle serve --addr 127.0.0.1:8080
    #[command(after_help = SECRETS_HELP)]
    Serve(ServeArgs),
    /// Manage accounts and API keys without starting the server.
    #[command(subcommand, after_help = SECRETS_HELP)]
    Admin(AdminCommand),
    #[command(flatten)]
    Api(api::ApiCommand),
}

#[derive(Args)]
struct Storage {
    /// Database URL: sqlite://PATH (default ./data/straddle.db) or postgres://…
    #[arg(long, env = "STRADDLE_DATABASE_URL")]
    database_url: Option<String>,
    /// File holding the signing and encryption keys (default: beside the SQLite file, else ./data).
    #[arg(long, env = "STRADDLE_SECRETS_FILE")]
    secrets_file: Option<PathBuf>,
}

impl Storage {
    fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(default_database_url)
    }

    fn secrets_file(&self) -> PathBuf {
        self.secrets_file
            .clone()
            .unwrap_or_else(|| default_secrets_file(&self.database_url()))
    }

    /// The admin pipeline on the database, and the secrets (checked
    /// against the database's; never created for a database that has some).
    async fn open(&self, environment: Environment) -> anyhow::Result<(Pipeline, Secrets)> {
        let db = Db::connect(&self.database_url()).await?;
        let secrets = SecretSources::new(self.secrets_file())
            .resolve(&db, &SystemClock)
            .await?;
        Ok((admin::pipeline(db, &secrets, environment), secrets))
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "STRADDLE_ADDR", default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    #[command(flatten)]
    storage: Storage,
    /// sandbox (sandbox_outcome decides results) or production.
    #[arg(long, env = "STRADDLE_ENVIRONMENT", value_enum, default_value_t = EnvironmentArg::Sandbox)]
    environment: EnvironmentArg,
    /// Delay before `processing_method: background` records reach their final status.
    #[arg(long, env = "STRADDLE_BACKGROUND_DELAY_MS", default_value_t = 3000)]
    background_delay_ms: u64,
    /// Requests per second per platform (embedded accounts included); 0 disables.
    #[arg(long, env = "STRADDLE_RATE_LIMIT", default_value_t = 1000)]
    rate_limit: u32,
    #[command(flatten)]
    providers: ProviderArgs,
    /// SQLite group commit: most writes committed per transaction (1 turns it off).
    #[arg(
        long,
        env = "STRADDLE_SQLITE_BATCH_LIMIT",
        default_value_t = 256,
        hide = true
    )]
    sqlite_batch_limit: usize,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    connections: ConnectionArgs,
    /// Names this instance in background-job claims and in PostgreSQL's
    /// application_name (default: straddle-<pid>-<random>).
    #[arg(long, env = "STRADDLE_INSTANCE_ID")]
    instance_id: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (off unless given).
    #[arg(long, env = "STRADDLE_METRICS_ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
    #[command(flatten)]
    webhooks: serve_webhooks::WebhookArgs,
}

/// Client connections and the paths open without an API key: how long a
/// client may take, how many may be open, how often the widget may be called.
#[derive(Args)]
struct ConnectionArgs {
    /// Longest time to receive a request's headers; also closes idle keep-alive connections.
    #[arg(long, env = "STRADDLE_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Longest time to receive a request's body after its headers; then 408.
    #[arg(long, env = "STRADDLE_BODY_TIMEOUT_MS", default_value_t = 30_000)]
    body_timeout_ms: u64,
    /// Most client connections open at once; more are closed on accept.
    #[arg(long, env = "STRADDLE_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// Widget API requests per second per bridge token; 0 disables.
    #[arg(long, env = "STRADDLE_WIDGET_RATE_LIMIT", default_value_t = 10)]
    widget_rate_limit: u32,
    /// Widget API requests per second per client address; 0 disables.
    #[arg(long, env = "STRADDLE_WIDGET_ADDRESS_RATE_LIMIT", default_value_t = 50)]
    widget_address_rate_limit: u32,
    /// Wrong bank credentials a widget session may send before it is locked out.
    #[arg(long, env = "STRADDLE_SIGN_IN_ATTEMPTS", default_value_t = 5)]
    sign_in_attempts: u32,
    /// How long a widget session stays locked out of the bank sign-in.
    #[arg(long, env = "STRADDLE_SIGN_IN_LOCKOUT_S", default_value_t = 900)]
    sign_in_lockout_s: u64,
}

/// PostgreSQL connections: pool size and the bounds on every wait.
#[derive(Args)]
struct DatabaseArgs {
    /// Most PostgreSQL connections this instance holds.
    #[arg(long, env = "STRADDLE_DB_POOL_SIZE", default_value_t = 16)]
    db_pool_size: u32,
    /// Longest wait for a pooled connection; then 503 with x-should-retry.
    #[arg(long, env = "STRADDLE_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5_000)]
    db_acquire_timeout_ms: u64,
    /// PostgreSQL statement_timeout of the server's sessions.
    #[arg(
        long,
        env = "STRADDLE_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    db_statement_timeout_ms: u64,
    /// PostgreSQL idle_in_transaction_session_timeout of the server's sessions.
    #[arg(
        long,
        env = "STRADDLE_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    db_idle_in_transaction_timeout_ms: u64,
    /// A PostgreSQL connection unused this long is closed.
    #[arg(long, env = "STRADDLE_DB_IDLE_TIMEOUT_MS", default_value_t = 600_000)]
    db_idle_timeout_ms: u64,
    /// A PostgreSQL connection this old is replaced after its request.
    #[arg(long, env = "STRADDLE_DB_MAX_LIFETIME_MS", default_value_t = 1_800_000)]
    db_max_lifetime_ms: u64,
}

/// Real Plaid and Quiltt. Without them the deterministic sandbox provider
/// answers (tokens listed in crates/straddle-providers/SANDBOX.md).
#[derive(Args)]
struct ProviderArgs {
    /// Plaid API base URL, e.g. https://sandbox.plaid.com.
    #[arg(long, env = "STRADDLE_PLAID_BASE_URL", requires = "plaid_client_id")]
    plaid_base_url: Option<String>,
    /// Plaid client_id of the processor.
    #[arg(long, env = "STRADDLE_PLAID_CLIENT_ID", requires = "plaid_secret")]
    plaid_client_id: Option<String>,
    /// Plaid secret of the processor.
    #[arg(long, env = "STRADDLE_PLAID_SECRET", hide_env_values = true)]
    plaid_secret: Option<String>,
    /// Quiltt API base URL, e.g. https://api.quiltt.io.
    #[arg(long, env = "STRADDLE_QUILTT_BASE_URL")]
    quiltt_base_url: Option<String>,
    /// Timeout of each provider request.
    #[arg(long, env = "STRADDLE_PROVIDER_TIMEOUT_MS", default_value_t = 10_000)]
    provider_timeout_ms: u64,
}

impl ProviderArgs {
    fn live(&self) -> Option<straddle_providers::LiveConfig> {
        let plaid =
            self.plaid_client_id
                .as_ref()
                .map(|client_id| straddle_providers::PlaidConfig {
                    base_url: self
                        .plaid_base_url
                        .clone()
                        .unwrap_or_else(|| straddle_providers::PLAID_SANDBOX_URL.into()),
                    client_id: client_id.clone(),
                    secret: self.plaid_secret.clone().unwrap_or_default(),
                });
        let quiltt = self
            .quiltt_base_url
            .clone()
            .map(|base_url| straddle_providers::QuilttConfig { base_url });
        (plaid.is_some() || quiltt.is_some()).then(|| straddle_providers::LiveConfig {
            plaid,
            quiltt,
            timeout: Duration::from_millis(self.provider_timeout_ms),
        })
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum EnvironmentArg {
    Sandbox,
    Production,
}

impl From<EnvironmentArg> for Environment {
    fn from(value: EnvironmentArg) -> Self {
        match value {
            EnvironmentArg::Sandbox => Environment::Sandbox,
            EnvironmentArg::Production => Environment::Production,
        }
    }
}

#[derive(Clone, Copy, Default, ValueEnum)]
enum Output {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform account and its first API key.
    ///
    /// Example: straddle admin bootstrap --database-url sqlite://data/straddle.db --output json
    Bootstrap {
        #[command(flatten)]
        storage: Storage,
        /// Account name (shown as the bridge token's account_name).
        #[arg(long, default_value = "Sandbox Platform")]
        name: String,
        /// Environment the key works in.
        #[arg(long, value_enum, default_value_t = EnvironmentArg::Sandbox)]
        environment: EnvironmentArg,
        /// Allow this account to call the unmasked endpoints.
        #[arg(long)]
        allow_unmask: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Manage accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Make, or compare with the database, the signing secret and data key.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Rewrite stored ciphertexts with the current data key (after a rotation).
    ///
    /// Runs in batches, each update conditional on the ciphertext it replaces:
    /// safe while servers run, and resumable (run it again after a stop).
    /// Example: STRADDLE_DATA_KEY=NEW STRADDLE_PREVIOUS_DATA_KEYS=OLD straddle admin reencrypt
    Reencrypt {
        #[command(flatten)]
        storage: Storage,
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Fill an account with synthetic customers and paykeys (benchmarks at scale).
    ///
    /// Example: straddle admin seed --account 0199… --customers 200000 --paykeys-per-customer 5
    Seed {
        #[command(flatten)]
        storage: Storage,
        /// The account that gets the data.
        #[arg(long)]
        account: Uuid,
        /// Customers to create.
        #[arg(long, default_value_t = 200_000)]
        customers: u64,
        /// Paykeys per customer.
        #[arg(long, default_value_t = 5)]
        paykeys_per_customer: u64,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Print a fresh signing secret and data key as environment lines, or
    /// write them to a new secrets file (mode 0600) with --file.
    ///
    /// Example: straddle admin secrets generate >> /etc/straddle/env
    Generate {
        /// Write a secrets file here instead (it must not exist).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Check that this process's secrets match the database's (exit 1 if not).
    ///
    /// Example: STRADDLE_JWT_SECRET=… STRADDLE_DATA_KEY=… straddle admin secrets check --database-url postgres://…
    Check {
        #[command(flatten)]
        storage: Storage,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Create a platform account, or an embedded account with --parent.
    ///
    /// Example: straddle admin accounts create --name "Acme" --parent 0199… --output json
    Create {
        #[command(flatten)]
        storage: Storage,
        /// Account name.
        #[arg(long)]
        name: String,
        /// Platform account that owns the new embedded account.
        #[arg(long)]
        parent: Option<Uuid>,
        /// Allow this account to call the unmasked endpoints.
        #[arg(long)]
        allow_unmask: bool,
        /// Environment of the account.
        #[arg(long, value_enum, default_value_t = EnvironmentArg::Sandbox)]
        environment: EnvironmentArg,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Issue an API key for an account.
    ///
    /// Example: straddle admin keys create --account 0199… --output json
    Create {
        #[command(flatten)]
        storage: Storage,
        /// The account the key acts as.
        #[arg(long)]
        account: Uuid,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Revoke an API key; running servers refuse it within seconds.
    ///
    /// Example: straddle admin keys revoke --key-id 0199…
    Revoke {
        #[command(flatten)]
        storage: Storage,
        /// The key id printed when the key was created.
        #[arg(long)]
        key_id: Uuid,
    },
}

/// mimalloc: the server allocates many small, short-lived buffers per
/// request (JSON, rows, envelopes) across threads, where it costs less
/// CPU than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let command = match Cli::parse().command {
        Command::Api(command) => return api::run(command),
        command => command,
    };
    telemetry::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Admin(command) => run_admin(command).await,
        Command::Api(_) => unreachable!("API commands run in api::run"),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::new(args.storage.database_url(), args.storage.secrets_file());
    config.addr = args.addr;
    config.environment = args.environment.into();
    config.background_delay = Duration::from_millis(args.background_delay_ms);
    config.rate_limit_per_second = args.rate_limit;
    config.live_providers = args.providers.live();
    config.db = DbOptions {
        pool_size: args.database.db_pool_size,
        acquire_timeout: Duration::from_millis(args.database.db_acquire_timeout_ms),
        statement_timeout: Duration::from_millis(args.database.db_statement_timeout_ms),
        idle_in_transaction_timeout: Duration::from_millis(
            args.database.db_idle_in_transaction_timeout_ms,
        ),
        idle_timeout: Duration::from_millis(args.database.db_idle_timeout_ms),
        max_lifetime: Duration::from_millis(args.database.db_max_lifetime_ms),
        max_batch: args.sqlite_batch_limit,
        ..DbOptions::default()
    };
    config.connections = ConnectionLimits {
        header_timeout: Duration::from_millis(args.connections.header_timeout_ms),
        body_timeout: Duration::from_millis(args.connections.body_timeout_ms),
        max_connections: args.connections.max_connections,
    };
    config.guard = GuardLimits {
        widget_per_token: args.connections.widget_rate_limit,
        widget_per_address: args.connections.widget_address_rate_limit,
        sign_in_attempts: args.connections.sign_in_attempts,
        sign_in_lockout: Duration::from_secs(args.connections.sign_in_lockout_s),
    };
    if let Some(instance_id) = args.instance_id {
        config.instance_id = instance_id;
    }
    config.metrics_addr = args.metrics_addr;
    config.webhooks = args.webhooks.settings();
    let environment = config.environment;
    let app = Application::build(config, Arc::new(SystemClock)).await?;
    let created = admin::bootstrap_if_empty(
        &app.state().pipeline,
        &app.state().secrets,
        "Sandbox Platform",
        environment,
    )
    .await?;
    if let Some(created) = created {
        println!(
            "This database was empty, so a {} platform account {} was created. Its API key is shown only this once; store it now:",
            environment.as_str(),
            created.account.id
        );
        println!("{}", created.api_key.0);
    } else {
        tracing::info!("the database is already set up; issue an API key with `straddle admin keys create --account ACCOUNT_ID`");
    }
    let stop = signals::stop_signal()?;
    println!("listening on http://{}", app.local_addr()?);
    if let Some(addr) = app.metrics_addr() {
        println!("metrics on http://{addr}/metrics");
    }
    app.run(async {
        stop.await;
        tracing::info!("shutting down; finishing in-flight requests");
    })
    .await?;
    tracing::info!("server stopped");
    Ok(())
}

async fn run_admin(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Bootstrap {
            storage,
            name,
            environment,
            allow_unmask,
            output,
        } => {
            let (pipeline, secrets) = storage.open(environment.into()).await?;
            let created =
                admin::bootstrap(&pipeline, &secrets, &name, environment.into(), allow_unmask)
                    .await?;
            let json = serde_json::json!({
                "account_id": created.account.id,
                "api_key": created.api_key.0,
                "key_id": created.key_id,
                "environment": created.account.environment.as_str(),
            });
            print(
                output,
                &json,
                &format!(
                    "Created platform account {}.\nAPI key (shown only once): {}\nKey id: {}",
                    created.account.id, created.api_key.0, created.key_id
                ),
            );
        }
        AdminCommand::Accounts(AccountsCommand::Create {
            storage,
            name,
            parent,
            allow_unmask,
            environment,
            output,
        }) => {
            let (pipeline, _) = storage.open(environment.into()).await?;
            let account =
                admin::create_account(&pipeline, &name, parent, environment.into(), allow_unmask)
                    .await?;
            let json = serde_json::json!({"account_id": account.id, "parent_id": account.parent_id, "name": account.name});
            print(output, &json, &format!("Created account {}.", account.id));
        }
        AdminCommand::Keys(KeysCommand::Create {
            storage,
            account,
            output,
        }) => {
            let (pipeline, secrets) = storage.open(Environment::Sandbox).await?;
            let (key_id, api_key) = admin::create_key(&pipeline, &secrets, account).await?;
            let json =
                serde_json::json!({"api_key": api_key.0, "key_id": key_id, "account_id": account});
            print(
                output,
                &json,
                &format!("API key (shown only once): {}\nKey id: {key_id}", api_key.0),
            );
        }
        AdminCommand::Seed {
            storage,
            account,
            customers,
            paykeys_per_customer,
        } => {
            let (pipeline, _) = storage.open(Environment::Sandbox).await?;
            let started = std::time::Instant::now();
            let total = customers * paykeys_per_customer;
            let written = admin::seed(&pipeline, account, customers, paykeys_per_customer, |n| {
                if n % 100_000 < 2_500 {
                    eprintln!("seeded {n} of {total} paykeys");
                }
            })
            .await?;
            println!(
                "Seeded {customers} customers and {written} paykeys in {:.1} s.",
                started.elapsed().as_secs_f64()
            );
        }
        AdminCommand::Secrets(SecretsCommand::Generate { file: Some(file) }) => {
            secrets::write_new_file(&file)?;
            println!(
                "Wrote new secrets to {} (mode 0600). Give every instance and admin command on one database this file, or the same STRADDLE_JWT_SECRET and STRADDLE_DATA_KEY.",
                file.display()
            );
        }
        AdminCommand::Secrets(SecretsCommand::Generate { file: None }) => {
            let (jwt, data) = secrets::generate();
            println!("STRADDLE_JWT_SECRET={jwt}\nSTRADDLE_DATA_KEY={data}");
        }
        AdminCommand::Secrets(SecretsCommand::Check { storage }) => {
            let db = Db::connect(&storage.database_url()).await?;
            let sources = SecretSources::new(storage.secrets_file());
            if secrets::check::recorded(&db).await?.is_empty() {
                println!("This database has no secrets recorded yet; the first `serve` or `admin` command records them.");
                return Ok(());
            }
            let secrets = sources.read(false)?;
            secrets::check::matches(&db, &secrets).await?;
            println!(
                "The secrets match this database (signing secret from {}, data key from {}).",
                secrets.jwt_origin, secrets.data_origin
            );
        }
        AdminCommand::Reencrypt { storage, batch } => {
            let (pipeline, secrets) = storage.open(Environment::Sandbox).await?;
            let sealer = Arc::new(straddle_server::security::crypto::Sealer::new(&secrets));
            let rewritten = admin::reencrypt(pipeline.db(), &sealer, batch, |table, n| {
                eprintln!("{table}: {n} ciphertexts rewritten so far");
            })
            .await?;
            println!("Rewrote {rewritten} ciphertexts with the current data key.");
        }
        AdminCommand::Keys(KeysCommand::Revoke { storage, key_id }) => {
            let (pipeline, _) = storage.open(Environment::Sandbox).await?;
            admin::revoke_key(&pipeline, key_id).await?;
            println!("Revoked key {key_id}. Running servers refuse it within a few seconds.");
        }
    }
    Ok(())
}

fn print(output: Output, json: &serde_json::Value, text: &str) {
    match output {
        Output::Json => println!("{json}"),
        Output::Text => println!("{text}"),
    }
}
