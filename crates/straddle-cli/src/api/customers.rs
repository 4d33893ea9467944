//! `straddle customers …` and `straddle customers:review …`: one
//! subcommand per SDK method.

use clap::{Args, Subcommand};
use serde_json::Value;
use straddle_sdk::types::customer::{
    CustomerCreateRequest, CustomerListQuery, CustomerReviewDecision,
    CustomerReviewDecisionRequest, CustomerSortBy, CustomerStatus, CustomerType,
    CustomerUpdateRequest,
};
use straddle_sdk::types::{SortOrder, Timestamp};
use straddle_sdk::{Client, RequestOptions};

use super::customer_fields::{ConfigArgs, DetailArgs};
use super::envelope;
use super::failure::CliError;
use super::flags::{joined, timestamp, wire, Headers, ReadHeaders, Target, WriteHeaders};

/// `straddle customers …`.
#[derive(Subcommand)]
pub enum CustomersCommand {
    /// Create a customer (POST /v1/customers).
    #[command(
        after_help = "Example:\n  straddle customers create \\\n    --name 'Ron Swanson' --type individual \\\n    --email ron.swanson@pawnee.com --phone +12128675309 \\\n    --device.ip-address 203.0.113.7 \\\n    --config.sandbox-outcome verified"
    )]
    Create(CreateArgs),
    /// Replace a customer's details (PUT /v1/customers/{id}).
    #[command(
        after_help = "Example:\n  straddle customers update --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e \\\n    --name 'Ron Swanson' --email ron@pawnee.gov --phone +12128675309 \\\n    --device.ip-address 203.0.113.7 --status verified"
    )]
    Update(UpdateArgs),
    /// List customers, one page (GET /v1/customers).
    #[command(
        after_help = "Example:\n  straddle customers list --status review --status verified --page-size 50 --sort-by name --sort-order asc"
    )]
    List(ListArgs),
    /// Delete a customer permanently (DELETE /v1/customers/{id}).
    #[command(
        after_help = "Example:\n  straddle customers delete --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Delete(Target<WriteHeaders>),
    /// Get a customer, PII masked (GET /v1/customers/{id}).
    #[command(
        after_help = "Example:\n  straddle customers get --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Get(Target<ReadHeaders>),
    /// Get a customer with PII in the clear; accounts allowed to unmask only (GET /v1/customers/{id}/unmasked).
    #[command(
        after_help = "Example:\n  straddle customers unmasked --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Unmasked(Target<ReadHeaders>),
    /// Identity verification reviews; the same commands as `straddle customers:review …`.
    #[command(subcommand)]
    Review(ReviewCommand),
}

/// `straddle customers:review …`.
#[derive(Subcommand)]
pub enum ReviewCommand {
    /// Get a customer's identity verification result (GET /v1/customers/{id}/review).
    #[command(
        after_help = "Example:\n  straddle customers:review get --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Get(Target<ReadHeaders>),
    /// Decide a customer in review: verified or rejected (PATCH /v1/customers/{id}/review).
    #[command(
        after_help = "Example:\n  straddle customers:review decision --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e --status verified"
    )]
    Decision(DecisionArgs),
    /// Run identity verification again (PUT /v1/customers/{id}/refresh_review).
    #[command(
        after_help = "Example:\n  straddle customers:review refresh-review --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    RefreshReview(Target<WriteHeaders>),
}

/// Flags of `customers create`.
#[derive(Args)]
pub struct CreateArgs {
    /// Body param: full name or business name. Example: --name 'Ron Swanson'
    #[arg(long)]
    name: String,
    /// Body param: individual or business. Example: --type individual
    #[arg(long = "type", value_name = "TYPE", value_parser = wire::<CustomerType>)]
    customer_type: CustomerType,
    /// Body param: email address. Example: --email ron.swanson@pawnee.com
    #[arg(long)]
    email: String,
    /// Body param: phone number in E.164 format. Example: --phone +12128675309
    #[arg(long)]
    phone: String,
    #[command(flatten)]
    details: DetailArgs,
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    headers: WriteHeaders,
}

/// Flags of `customers update`.
#[derive(Args)]
pub struct UpdateArgs {
    /// Path param: the customer's id. Example: --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    id: uuid::Uuid,
    /// Body param: full name or business name. Example: --name 'Ron Swanson'
    #[arg(long)]
    name: String,
    /// Body param: email address. Example: --email ron.swanson@pawnee.com
    #[arg(long)]
    email: String,
    /// Body param: phone number in E.164 format. Example: --phone +12128675309
    #[arg(long)]
    phone: String,
    /// Body param: pending, review, verified, inactive or rejected. Example: --status verified
    #[arg(long, value_parser = wire::<CustomerStatus>)]
    status: CustomerStatus,
    #[command(flatten)]
    details: DetailArgs,
    #[command(flatten)]
    headers: WriteHeaders,
}

/// Flags of `customers list`.
#[derive(Args)]
pub struct ListArgs {
    /// Query param: created at or after. Example: --created-from 2026-01-01T00:00:00Z
    #[arg(long, value_parser = timestamp, value_name = "TIME")]
    created_from: Option<Timestamp>,
    /// Query param: created at or before. Example: --created-to 2026-12-31T23:59:59Z
    #[arg(long, value_parser = timestamp, value_name = "TIME")]
    created_to: Option<Timestamp>,
    /// Query param: exact email. Example: --email ron.swanson@pawnee.com
    #[arg(long)]
    email: Option<String>,
    /// Query param: exact external id. Example: --external-id crm-4711
    #[arg(long)]
    external_id: Option<String>,
    /// Query param: part of the name. Example: --name Swanson
    #[arg(long)]
    name: Option<String>,
    /// Query param: page, from 1. Example: --page-number 2
    #[arg(long)]
    page_number: Option<u32>,
    /// Query param: items per page, 1–1000 (default 100). Example: --page-size 50
    #[arg(long)]
    page_size: Option<u32>,
    /// Query param: text in the name, email, phone or external id. Example: --search-text pawnee
    #[arg(long)]
    search_text: Option<String>,
    /// Query param: name or created_at. Example: --sort-by name
    #[arg(long, value_parser = wire::<CustomerSortBy>)]
    sort_by: Option<CustomerSortBy>,
    /// Query param: asc or desc. Example: --sort-order asc
    #[arg(long, value_parser = wire::<SortOrder>)]
    sort_order: Option<SortOrder>,
    /// Query param: statuses, repeated or comma-separated. Example: --status review --status verified
    #[arg(long, value_parser = wire::<CustomerStatus>, value_delimiter = ',')]
    status: Vec<CustomerStatus>,
    /// Query param: individual and/or business, repeated or comma-separated. Example: --types business
    #[arg(long, value_parser = wire::<CustomerType>, value_delimiter = ',')]
    types: Vec<CustomerType>,
    #[command(flatten)]
    headers: ReadHeaders,
}

/// Flags of `customers:review decision`.
#[derive(Args)]
pub struct DecisionArgs {
    /// Path param: the customer's id. Example: --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    id: uuid::Uuid,
    /// Body param: verified or rejected. Example: --status verified
    #[arg(long, value_parser = wire::<CustomerReviewDecision>)]
    status: CustomerReviewDecision,
    #[command(flatten)]
    headers: WriteHeaders,
}

impl CustomersCommand {
    /// Calls the SDK and returns the response envelope.
    pub async fn run(self, client: &Client) -> Result<Value, CliError> {
        let customers = client.customers();
        match self {
            CustomersCommand::Create(args) => {
                let details = args.details.parse()?;
                let request = CustomerCreateRequest {
                    name: args.name,
                    customer_type: args.customer_type,
                    email: args.email,
                    phone: args.phone,
                    device: details.device,
                    address: details.address,
                    compliance_profile: details.compliance_profile,
                    config: args.config.value()?,
                    external_id: details.external_id,
                    metadata: details.metadata,
                };
                envelope(customers.create(request, args.headers.options()).await?)
            }
            CustomersCommand::Update(args) => {
                let details = args.details.parse()?;
                let request = CustomerUpdateRequest {
                    name: args.name,
                    email: args.email,
                    phone: args.phone,
                    device: details.device,
                    status: args.status,
                    address: details.address,
                    compliance_profile: details.compliance_profile,
                    external_id: details.external_id,
                    metadata: details.metadata,
                };
                envelope(
                    customers
                        .update(args.id, request, args.headers.options())
                        .await?,
                )
            }
            CustomersCommand::List(args) => {
                let (query, options) = args.into_parts();
                envelope(customers.list(query, options).await?)
            }
            CustomersCommand::Delete(t) => {
                envelope(customers.delete(t.id, t.headers.options()).await?)
            }
            CustomersCommand::Get(t) => envelope(customers.get(t.id, t.headers.options()).await?),
            CustomersCommand::Unmasked(t) => {
                envelope(customers.unmasked(t.id, t.headers.options()).await?)
            }
            CustomersCommand::Review(command) => command.run(client).await,
        }
    }
}

impl ListArgs {
    /// The query and the request options.
    fn into_parts(self) -> (CustomerListQuery, Option<RequestOptions>) {
        let query = CustomerListQuery {
            created_from: self.created_from,
            created_to: self.created_to,
            email: self.email,
            external_id: self.external_id,
            name: self.name,
            search_text: self.search_text,
            page_number: self.page_number,
            page_size: self.page_size,
            sort_by: self.sort_by,
            sort_order: self.sort_order,
            status: joined(&self.status),
            types: joined(&self.types),
        };
        (query, self.headers.options())
    }
}

impl ReviewCommand {
    /// Calls the SDK and returns the response envelope.
    pub async fn run(self, client: &Client) -> Result<Value, CliError> {
        let reviews = client.customers().review();
        match self {
            ReviewCommand::Get(t) => envelope(reviews.get(t.id, t.headers.options()).await?),
            ReviewCommand::Decision(args) => {
                let request = CustomerReviewDecisionRequest {
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
