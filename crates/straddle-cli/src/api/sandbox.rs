//! `straddle sandbox …`: simulations a sandbox server offers.

use clap::{Args, Subcommand};
use serde_json::Value;
use straddle_sdk::types::paykey::SimulateReturnRequest;
use straddle_sdk::Client;
use uuid::Uuid;

use super::envelope;
use super::failure::CliError;
use super::flags::{Headers, WriteHeaders};

/// `straddle sandbox …`.
#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Simulate an ACH return that blocks a paykey (POST /v1/sandbox/paykeys/{id}/simulate_return).
    #[command(
        after_help = "Example:\n  straddle sandbox simulate-return --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e --code R29"
    )]
    SimulateReturn(SimulateReturnArgs),
}

/// Flags of `sandbox simulate-return`.
#[derive(Args)]
pub struct SimulateReturnArgs {
    /// Path param: the paykey's id. Example: --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    id: Uuid,
    /// Body param: the ACH return code: R29 (the paykey may then be unblocked once), R01, R02, R03, R04 or R16. Example: --code R29
    #[arg(long)]
    code: String,
    #[command(flatten)]
    headers: WriteHeaders,
}

impl SandboxCommand {
    /// Calls the SDK and returns the response envelope.
    pub async fn run(self, client: &Client) -> Result<Value, CliError> {
        match self {
            SandboxCommand::SimulateReturn(args) => {
                let request = SimulateReturnRequest { code: args.code };
                let sandbox = client.sandbox();
                envelope(
                    sandbox
                        .simulate_return(args.id, request, args.headers.options())
                        .await?,
                )
            }
        }
    }
}
