//! The API commands (`straddle bridge …`, `straddle bridge:link …`,
//! `straddle customers …`, `straddle paykeys …`, their `:review` groups and
//! `straddle sandbox …`). They call the API only through the SDK; stdout
//! gets the response envelope, stderr the failure report, and the exit code
//! says what kind of failure it was (see [`failure::Exit`]).

mod bridge;
mod customer_fields;
mod customers;
mod failure;
mod flags;
mod output;
mod paykeys;
mod sandbox;
mod webhooks;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;
use serde_json::Value;
use straddle_sdk::{ApiResponse, Client};

use bridge::{BridgeCommand, LinkCommand};
use customers::CustomersCommand;
use failure::{CliError, Exit};
use flags::{GlobalArgs, Group};
use output::Format;
use paykeys::PaykeysCommand;
use sandbox::SandboxCommand;
use webhooks::{WebhookEndpointsCommand, WebhooksCommand};

/// The API command groups, as top-level `straddle` subcommands.
// Parsed once per process: boxing variants to even out their sizes buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum ApiCommand {
    /// Bridge: `initialize` creates a widget session token; `link …` creates paykeys.
    Bridge(Group<BridgeCommand>),
    /// Create paykeys: bank-account, plaid, create-tan, create-paykey (Quiltt).
    #[command(name = "bridge:link")]
    BridgeLink(Group<LinkCommand>),
    /// Customers: create, update, list, delete, get, unmasked, review …
    Customers(Group<CustomersCommand>),
    /// Customer identity reviews: get, decision, refresh-review.
    #[command(name = "customers:review")]
    CustomersReview(Group<customers::ReviewCommand>),
    /// Paykeys: list, get, unmasked, reveal, cancel, update-balance, unblock, review …
    Paykeys(Group<PaykeysCommand>),
    /// Paykey verification reviews: get, decision, refresh-review.
    #[command(name = "paykeys:review")]
    PaykeysReview(Group<paykeys::ReviewCommand>),
    /// Sandbox simulations: simulate-return.
    Sandbox(Group<SandboxCommand>),
    /// Webhook endpoints: create, list, get, update, delete, rotate-secret, deliveries, retry.
    #[command(name = "webhook-endpoints")]
    WebhookEndpoints(Group<WebhookEndpointsCommand>),
    /// Webhooks on this machine: listen (verify, show and forward arriving events).
    Webhooks(Group<WebhooksCommand>),
}

impl ApiCommand {
    fn globals(&self) -> &GlobalArgs {
        match self {
            ApiCommand::Bridge(group) => &group.globals,
            ApiCommand::BridgeLink(group) => &group.globals,
            ApiCommand::Customers(group) => &group.globals,
            ApiCommand::CustomersReview(group) => &group.globals,
            ApiCommand::Paykeys(group) => &group.globals,
            ApiCommand::PaykeysReview(group) => &group.globals,
            ApiCommand::Sandbox(group) => &group.globals,
            ApiCommand::WebhookEndpoints(group) => &group.globals,
            ApiCommand::Webhooks(group) => &group.globals,
        }
    }

    async fn call(self, client: &Client) -> Result<Value, CliError> {
        match self {
            ApiCommand::Bridge(group) => group.command.run(client).await,
            ApiCommand::BridgeLink(group) => group.command.run(client).await,
            ApiCommand::Customers(group) => group.command.run(client).await,
            ApiCommand::CustomersReview(group) => group.command.run(client).await,
            ApiCommand::Paykeys(group) => group.command.run(client).await,
            ApiCommand::PaykeysReview(group) => group.command.run(client).await,
            ApiCommand::Sandbox(group) => group.command.run(client).await,
            ApiCommand::WebhookEndpoints(group) => group.command.run(client).await,
            ApiCommand::Webhooks(group) => group.command.run(client).await,
        }
    }
}

/// Runs an API command to completion and returns its documented exit code.
pub fn run(command: ApiCommand) -> ExitCode {
    let globals = command.globals();
    if globals.debug {
        log_requests();
    }
    let format = Format::chosen(globals.format);
    let client = match globals.client() {
        Ok(client) => client,
        Err(error) => return fail(&error, ""),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return Exit::Failure.into();
        }
    };
    match runtime.block_on(command.call(&client)) {
        Ok(value) => match output::print(&value, format) {
            Ok(()) => Exit::Success.into(),
            Err(err) => {
                eprintln!("error: cannot write the response: {err}");
                Exit::Failure.into()
            }
        },
        Err(error) => fail(&error, client.base_url()),
    }
}

fn fail(error: &CliError, base_url: &str) -> ExitCode {
    eprint!("{}", error.report(base_url));
    error.exit().into()
}

/// `--debug`: the SDK's request and response events on stderr. The SDK
/// never logs the API key or bodies.
fn log_requests() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("straddle_sdk=debug"))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// The whole response envelope as JSON.
fn envelope<T: Serialize>(response: ApiResponse<T>) -> Result<Value, CliError> {
    Ok(serde_json::to_value(response.into_body())
        .expect("wire types always serialise to JSON (string keys only)"))
}
