//! `straddle bridge …` and `straddle bridge:link …`: the published Bridge
//! CLI reference, command for command and flag for flag.

use clap::{Args, Subcommand};
use serde_json::Value;
use straddle_sdk::types::paykey::{
    AccountType, BankAccountLinkRequest, BridgeInitializeRequest, PaykeyConfig, PlaidLinkRequest,
    QuilttLinkRequest, TanLinkRequest,
};
use straddle_sdk::types::Metadata;
use straddle_sdk::{Client, RequestOptions};
use uuid::Uuid;

use super::envelope;
use super::failure::CliError;
use super::flags::{wire, Headers, MetadataArgs, PaykeyConfigArgs, WriteHeaders};

/// `straddle bridge …`.
#[derive(Subcommand)]
pub enum BridgeCommand {
    /// Create a Widget session token (POST /v1/bridge/initialize).
    #[command(
        after_help = "Example:\n  straddle bridge initialize \\\n    --api-key 'My API Key' \\\n    --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Initialize(InitializeArgs),
    /// Create paykeys; the same commands as `straddle bridge:link …`.
    #[command(subcommand)]
    Link(LinkCommand),
}

/// `straddle bridge:link …`.
#[derive(Subcommand)]
pub enum LinkCommand {
    /// Bridge a bank account: a paykey from routing and account numbers (POST /v1/bridge/bank_account).
    #[command(
        after_help = "Example:\n  straddle bridge:link bank-account \\\n    --api-key 'My API Key' \\\n    --account-number account_number \\\n    --account-type checking \\\n    --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e \\\n    --routing-number xxxxxxxxx"
    )]
    BankAccount(BankAccountArgs),
    /// Bridge a Plaid token: a paykey from a Plaid processor token (POST /v1/bridge/plaid).
    #[command(
        after_help = "Example:\n  straddle bridge:link plaid \\\n    --api-key 'My API Key' \\\n    --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e \\\n    --plaid-token plaid_token"
    )]
    Plaid(PlaidArgs),
    /// Create Tan: a paykey from a tokenized account number (POST /v1/bridge/tan).
    #[command(
        after_help = "Example:\n  straddle bridge:link create-tan \\\n    --api-key 'My API Key' \\\n    --account-type checking \\\n    --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e \\\n    --routing-number routing_number \\\n    --tan tan"
    )]
    CreateTan(TanArgs),
    /// Create a paykey from a Quiltt token (POST /v1/bridge/quiltt).
    #[command(
        after_help = "Example:\n  straddle bridge:link create-paykey \\\n    --api-key 'My API Key' \\\n    --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e \\\n    --quiltt-token quiltt_token"
    )]
    CreatePaykey(QuilttArgs),
}

/// Flags of `bridge initialize`.
#[derive(Args)]
pub struct InitializeArgs {
    /// Body param: the Straddle id of the customer to create a bridge token for. Example: --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    customer_id: Uuid,
    #[command(flatten)]
    config: PaykeyConfigArgs,
    /// Body param: your identifier for the paykey the widget creates. Example: --external-id acme-pk-77
    #[arg(long)]
    external_id: Option<String>,
    #[command(flatten)]
    headers: WriteHeaders,
}

/// Optional flags every `bridge:link` command takes.
#[derive(Args)]
pub struct LinkOptions {
    #[command(flatten)]
    config: PaykeyConfigArgs,
    /// Body param: your identifier for the paykey, to cross-reference it with your systems. Example: --external-id acme-pk-77
    #[arg(long)]
    external_id: Option<String>,
    #[command(flatten)]
    metadata: MetadataArgs,
    #[command(flatten)]
    headers: WriteHeaders,
}

/// Flags of `bridge:link bank-account`.
#[derive(Args)]
pub struct BankAccountArgs {
    /// Body param: the bank account number. Example: --account-number 004417253381
    #[arg(long)]
    account_number: String,
    /// Body param: checking or savings. Example: --account-type checking
    #[arg(long, value_parser = wire::<AccountType>)]
    account_type: AccountType,
    /// Body param: the customer who owns the account. Example: --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    customer_id: Uuid,
    /// Body param: the nine-digit ABA routing number. Example: --routing-number 026009593
    #[arg(long)]
    routing_number: String,
    #[command(flatten)]
    options: LinkOptions,
}

/// Flags of `bridge:link plaid`.
#[derive(Args)]
pub struct PlaidArgs {
    /// Body param: the customer who owns the account. Example: --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    customer_id: Uuid,
    /// Body param: a Plaid processor token your application created for Straddle. Example: --plaid-token processor-sandbox-0a1b2c3d
    #[arg(long)]
    plaid_token: String,
    #[command(flatten)]
    options: LinkOptions,
}

/// Flags of `bridge:link create-tan`.
#[derive(Args)]
pub struct TanArgs {
    /// Body param: checking or savings. Example: --account-type checking
    #[arg(long, value_parser = wire::<AccountType>)]
    account_type: AccountType,
    /// Body param: the customer who owns the account. Example: --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    customer_id: Uuid,
    /// Body param: the bank's routing number. Example: --routing-number 322271627
    #[arg(long)]
    routing_number: String,
    /// Body param: the tokenized account number. Example: --tan 9847310022651
    #[arg(long)]
    tan: String,
    #[command(flatten)]
    options: LinkOptions,
}

/// Flags of `bridge:link create-paykey`.
#[derive(Args)]
pub struct QuilttArgs {
    /// Body param: the customer who owns the account. Example: --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    customer_id: Uuid,
    /// Body param: a Quiltt processor token your application created for Straddle. Example: --quiltt-token YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA=
    #[arg(long)]
    quiltt_token: String,
    #[command(flatten)]
    options: LinkOptions,
}

impl BridgeCommand {
    /// Calls the SDK and returns the response envelope.
    pub async fn run(self, client: &Client) -> Result<Value, CliError> {
        match self {
            BridgeCommand::Initialize(args) => {
                let request = BridgeInitializeRequest {
                    customer_id: args.customer_id,
                    config: args.config.value()?,
                    external_id: args.external_id,
                };
                envelope(
                    client
                        .bridge()
                        .initialize(request, args.headers.options())
                        .await?,
                )
            }
            BridgeCommand::Link(command) => command.run(client).await,
        }
    }
}

impl LinkCommand {
    /// Calls the SDK and returns the response envelope.
    pub async fn run(self, client: &Client) -> Result<Value, CliError> {
        let link = client.bridge().link();
        match self {
            LinkCommand::BankAccount(args) => {
                let common = args.options.parse()?;
                let request = BankAccountLinkRequest {
                    customer_id: args.customer_id,
                    routing_number: args.routing_number,
                    account_number: args.account_number,
                    account_type: args.account_type,
                    config: common.config,
                    external_id: common.external_id,
                    metadata: common.metadata,
                };
                envelope(link.bank_account(request, common.options).await?)
            }
            LinkCommand::Plaid(args) => {
                let common = args.options.parse()?;
                let request = PlaidLinkRequest {
                    customer_id: args.customer_id,
                    plaid_token: args.plaid_token,
                    config: common.config,
                    external_id: common.external_id,
                    metadata: common.metadata,
                };
                envelope(link.plaid(request, common.options).await?)
            }
            LinkCommand::CreateTan(args) => {
                let common = args.options.parse()?;
                let request = TanLinkRequest {
                    customer_id: args.customer_id,
                    routing_number: args.routing_number,
                    tan: args.tan,
                    account_type: args.account_type,
                    config: common.config,
                    external_id: common.external_id,
                    metadata: common.metadata,
                };
                envelope(link.create_tan(request, common.options).await?)
            }
            LinkCommand::CreatePaykey(args) => {
                let common = args.options.parse()?;
                let request = QuilttLinkRequest {
                    customer_id: args.customer_id,
                    quiltt_token: Some(args.quiltt_token),
                    config: common.config,
                    external_id: common.external_id,
                    metadata: common.metadata,
                };
                envelope(link.create_paykey(request, common.options).await?)
            }
        }
    }
}

/// The optional fields of a `bridge:link` command, checked.
struct LinkCommon {
    config: Option<PaykeyConfig>,
    external_id: Option<String>,
    metadata: Option<Metadata>,
    options: Option<RequestOptions>,
}

impl LinkOptions {
    fn parse(self) -> Result<LinkCommon, CliError> {
        Ok(LinkCommon {
            config: self.config.value()?,
            external_id: self.external_id,
            metadata: self.metadata.value()?,
            options: self.headers.options(),
        })
    }
}
