//! `straddle paykeys …` and `straddle paykeys:review …`: one subcommand
//! per SDK method.

use clap::{ArgAction, Args, Subcommand};
use serde_json::Value;
use straddle_sdk::types::paykey::{
    PaykeyCancelRequest, PaykeyListQuery, PaykeyReviewDecision, PaykeyReviewDecisionRequest,
    PaykeySortBy, PaykeySource, PaykeyStatus, PaykeyUnblockRequest,
};
use straddle_sdk::types::{SortOrder, Timestamp};
use straddle_sdk::{Client, RequestOptions};
use uuid::Uuid;

use super::envelope;
use super::failure::CliError;
use super::flags::{joined, timestamp, wire, Headers, ReadHeaders, Target, WriteHeaders};

/// `straddle paykeys …`.
#[derive(Subcommand)]
pub enum PaykeysCommand {
    /// List paykeys, one page (GET /v1/paykeys).
    #[command(
        after_help = "Example:\n  straddle paykeys list --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e --status active"
    )]
    List(ListArgs),
    /// Get a paykey, token and account number masked (GET /v1/paykeys/{id}).
    #[command(
        after_help = "Example:\n  straddle paykeys get --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Get(Target<ReadHeaders>),
    /// Get a paykey with its full token and account number; accounts allowed to unmask only (GET /v1/paykeys/{id}/unmasked).
    #[command(
        after_help = "Example:\n  straddle paykeys unmasked --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Unmasked(Target<ReadHeaders>),
    /// Get a paykey with its full token (GET /v1/paykeys/{id}/reveal).
    #[command(
        after_help = "Example:\n  straddle paykeys reveal --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Reveal(Target<ReadHeaders>),
    /// Cancel a paykey; it becomes inactive (PUT /v1/paykeys/{id}/cancel).
    #[command(
        after_help = "Example:\n  straddle paykeys cancel --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e --reason 'Customer closed the account'"
    )]
    Cancel(CancelArgs),
    /// Fetch the balance again; it completes in the background (PUT /v1/paykeys/{id}/refresh_balance).
    #[command(
        after_help = "Example:\n  straddle paykeys update-balance --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    UpdateBalance(Target<WriteHeaders>),
    /// Reactivate a paykey blocked by an R29 return, once (PATCH /v1/paykeys/{id}/unblock).
    #[command(
        after_help = "Example:\n  straddle paykeys unblock --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e --message 'Customer confirmed the debit'"
    )]
    Unblock(UnblockArgs),
    /// Verification reviews; the same commands as `straddle paykeys:review …`.
    #[command(subcommand)]
    Review(ReviewCommand),
}

/// `straddle paykeys:review …`.
#[derive(Subcommand)]
pub enum ReviewCommand {
    /// Get a paykey's verification result (GET /v1/paykeys/{id}/review).
    #[command(
        after_help = "Example:\n  straddle paykeys:review get --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Get(Target<ReadHeaders>),
    /// Decide a paykey in review: active or rejected (PATCH /v1/paykeys/{id}/review).
    #[command(
        after_help = "Example:\n  straddle paykeys:review decision --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e --status active"
    )]
    Decision(DecisionArgs),
    /// Run verification again (PUT /v1/paykeys/{id}/refresh_review).
    #[command(
        after_help = "Example:\n  straddle paykeys:review refresh-review --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    RefreshReview(Target<WriteHeaders>),
}

/// Flags of `paykeys list`.
#[derive(Args)]
pub struct ListArgs {
    /// Query param: only this customer's paykeys. Example: --customer-id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    customer_id: Option<Uuid>,
    /// Query param: created at or after. Example: --created-from 2026-01-01T00:00:00Z
    #[arg(long, value_parser = timestamp, value_name = "TIME")]
    created_from: Option<Timestamp>,
    /// Query param: created at or before. Example: --created-to 2026-12-31T23:59:59Z
    #[arg(long, value_parser = timestamp, value_name = "TIME")]
    created_to: Option<Timestamp>,
    /// Query param: page, from 1. Example: --page-number 2
    #[arg(long)]
    page_number: Option<u32>,
    /// Query param: items per page, 1–1000 (default 100). Example: --page-size 50
    #[arg(long)]
    page_size: Option<u32>,
    /// Query param: text in the label, institution, external id or last four digits. Example: --search-text 3381
    #[arg(long)]
    search_text: Option<String>,
    /// Query param: institution_name, expires_at or created_at. Example: --sort-by institution_name
    #[arg(long, value_parser = wire::<PaykeySortBy>)]
    sort_by: Option<PaykeySortBy>,
    /// Query param: asc or desc. Example: --sort-order asc
    #[arg(long, value_parser = wire::<SortOrder>)]
    sort_order: Option<SortOrder>,
    /// Query param: sources (bank_account, straddle, mx, plaid, tan, quiltt), repeated or comma-separated. Example: --source plaid,quiltt
    #[arg(long, value_parser = wire::<PaykeySource>, value_delimiter = ',')]
    source: Vec<PaykeySource>,
    /// Query param: statuses (pending, active, inactive, rejected, review, blocked), repeated or comma-separated. Example: --status active
    #[arg(long, value_parser = wire::<PaykeyStatus>, value_delimiter = ',')]
    status: Vec<PaykeyStatus>,
    /// Query param: true for blocked paykeys that may be unblocked, false for blocked ones that may not. Example: --unblock-eligible true
    #[arg(long, action = ArgAction::Set, value_name = "BOOL")]
    unblock_eligible: Option<bool>,
    #[command(flatten)]
    headers: ReadHeaders,
}

/// Flags of `paykeys cancel`.
#[derive(Args)]
pub struct CancelArgs {
    /// Path param: the paykey's id. Example: --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    id: Uuid,
    /// Body param: why the paykey is cancelled. Example: --reason 'Customer closed the account'
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    headers: WriteHeaders,
}

/// Flags of `paykeys unblock`.
#[derive(Args)]
pub struct UnblockArgs {
    /// Path param: the paykey's id. Example: --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    id: Uuid,
    /// Body param: why the paykey is unblocked. Example: --message 'Customer confirmed the debit'
    #[arg(long)]
    message: Option<String>,
    #[command(flatten)]
    headers: WriteHeaders,
}

/// Flags of `paykeys:review decision`.
#[derive(Args)]
pub struct DecisionArgs {
    /// Path param: the paykey's id. Example: --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    id: Uuid,
    /// Body param: active or rejected. Example: --status active
    #[arg(long, value_parser = wire::<PaykeyReviewDecision>)]
    status: PaykeyReviewDecision,
    #[command(flatten)]
    headers: WriteHeaders,
}

impl PaykeysCommand {
    /// Calls the SDK and returns the response envelope.
    pub async fn run(self, client: &Client) -> Result<Value, CliError> {
        let paykeys = client.paykeys();
        match self {
            PaykeysCommand::List(args) => {
                let (query, options) = args.into_parts();
                envelope(paykeys.list(query, options).await?)
            }
            PaykeysCommand::Get(t) => envelope(paykeys.get(t.id, t.headers.options()).await?),
            PaykeysCommand::Unmasked(t) => {
                envelope(paykeys.unmasked(t.id, t.headers.options()).await?)
            }
            PaykeysCommand::Reveal(t) => envelope(paykeys.reveal(t.id, t.headers.options()).await?),
            PaykeysCommand::Cancel(args) => {
                let request = PaykeyCancelRequest {
                    reason: args.reason,
                };
                envelope(
                    paykeys
                        .cancel(args.id, request, args.headers.options())
                        .await?,
                )
            }
            PaykeysCommand::UpdateBalance(t) => {
                envelope(paykeys.update_balance(t.id, t.headers.options()).await?)
            }
            PaykeysCommand::Unblock(args) => {
                let request = PaykeyUnblockRequest {
                    message: args.message,
                };
                envelope(
                    paykeys
                        .unblock(args.id, request, args.headers.options())
                        .await?,
                )
            }
            PaykeysCommand::Review(command) => command.run(client).await,
        }
    }
}

impl ListArgs {
    /// The query and the request options.
    fn into_parts(self) -> (PaykeyListQuery, Option<RequestOptions>) {
        let query = PaykeyListQuery {
            customer_id: self.customer_id,
            created_from: self.created_from,
            created_to: self.created_to,
            search_text: self.search_text,
            page_number: self.page_number,
            page_size: self.page_size,
            sort_by: self.sort_by,
            sort_order: self.sort_order,
            source: joined(&self.source),
            status: joined(&self.status),
            unblock_eligible: self.unblock_eligible,
        };
        (query, self.headers.options())
    }
}

impl ReviewCommand {
    /// Calls the SDK and returns the response envelope.
    pub async fn run(self, client: &Client) -> Result<Value, CliError> {
        let reviews = client.paykeys().review();
        match self {
            ReviewCommand::Get(t) => envelope(reviews.get(t.id, t.headers.options()).await?),
            ReviewCommand::Decision(args) => {
                let request = PaykeyReviewDecisionRequest {
                    status: args.status,
                };
                envelope(
                    reviews
                        .decision(args.id, request, args.headers.options())
                        .await?,
                )
            }
            ReviewCommand::RefreshReview(t) => {
                envelope(reviews.refresh_review(t.id, t.headers.options()).await?)
            }
        }
    }
}
