//! `straddle webhook-endpoints …` (one subcommand per SDK method) and
//! `straddle webhooks listen`, which receives a server's events on this
//! machine, verifies them, shows them and forwards them to a local app.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use clap::{ArgAction, Args, Subcommand};
use serde_json::{json, Value};
use straddle_sdk::types::webhook::{
    EventType, WebhookEndpointCreateRequest, WebhookEndpointUpdateRequest, WebhookListQuery,
};
use straddle_sdk::webhooks::Webhook;
use straddle_sdk::{Client, RequestOptions};
use uuid::Uuid;

use super::envelope;
use super::failure::CliError;
use super::flags::{wire, Headers, ReadHeaders, Target, WriteHeaders};

/// `straddle webhook-endpoints …`.
#[derive(Subcommand)]
pub enum WebhookEndpointsCommand {
    /// Create an endpoint; the response holds its signing secret (POST /v1/webhook_endpoints).
    #[command(
        after_help = "Example:\n  straddle webhook-endpoints create --url https://example.com/webhooks --events paykey.event.v1,paykey.created.v1"
    )]
    Create(CreateArgs),
    /// List endpoints, one page (GET /v1/webhook_endpoints).
    #[command(after_help = "Example:\n  straddle webhook-endpoints list --page-size 20")]
    List(PageArgs),
    /// Get an endpoint, secret included (GET /v1/webhook_endpoints/{id}).
    #[command(
        after_help = "Example:\n  straddle webhook-endpoints get --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Get(Target<ReadHeaders>),
    /// Change an endpoint's URL, event types, description or disabled flag (PATCH /v1/webhook_endpoints/{id}).
    #[command(
        after_help = "Example:\n  straddle webhook-endpoints update --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e --disabled false"
    )]
    Update(UpdateArgs),
    /// Delete an endpoint and its delivery history (DELETE /v1/webhook_endpoints/{id}).
    #[command(
        after_help = "Example:\n  straddle webhook-endpoints delete --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Delete(Target<WriteHeaders>),
    /// Replace the signing secret; the old one signs alongside for 24 hours (POST /v1/webhook_endpoints/{id}/rotate_secret).
    #[command(
        after_help = "Example:\n  straddle webhook-endpoints rotate-secret --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    RotateSecret(Target<WriteHeaders>),
    /// List delivery attempts, newest first (GET /v1/webhook_endpoints/{id}/deliveries).
    #[command(
        after_help = "Example:\n  straddle webhook-endpoints deliveries --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    )]
    Deliveries(DeliveriesArgs),
    /// Send an event to the endpoint again, now (POST /v1/webhook_endpoints/{id}/deliveries/{event_id}/retry).
    #[command(
        after_help = "Example:\n  straddle webhook-endpoints retry --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e --event-id 0199a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b"
    )]
    Retry(RetryArgs),
}

/// Flags of `webhook-endpoints create`.
#[derive(Args)]
pub struct CreateArgs {
    /// Body param: where events are POSTed. Example: --url https://example.com/webhooks
    #[arg(long)]
    url: String,
    /// Body param: event types (customer.created.v1, customer.event.v1, paykey.created.v1, paykey.event.v1), repeated or comma-separated; all when absent. Example: --events paykey.event.v1
    #[arg(long, value_parser = wire::<EventType>, value_delimiter = ',')]
    events: Vec<EventType>,
    /// Body param: free text. Example: --description 'Order service'
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    headers: WriteHeaders,
}

/// Flags of `webhook-endpoints update`.
#[derive(Args)]
pub struct UpdateArgs {
    /// Path param: the endpoint's id. Example: --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    id: Uuid,
    /// Body param: a new URL. Example: --url https://example.com/hooks
    #[arg(long)]
    url: Option<String>,
    /// Body param: new event types, repeated or comma-separated. Example: --events customer.event.v1
    #[arg(long, value_parser = wire::<EventType>, value_delimiter = ',')]
    events: Vec<EventType>,
    /// Body param: a new description. Example: --description 'Ledger'
    #[arg(long)]
    description: Option<String>,
    /// Body param: true stops deliveries, false resumes them. Example: --disabled true
    #[arg(long, action = ArgAction::Set, value_name = "BOOL")]
    disabled: Option<bool>,
    #[command(flatten)]
    headers: WriteHeaders,
}

/// Flags of `webhook-endpoints list`.
#[derive(Args)]
pub struct PageArgs {
    /// Query param: page, from 1. Example: --page-number 2
    #[arg(long)]
    page_number: Option<u32>,
    /// Query param: items per page, 1–1000 (default 100). Example: --page-size 50
    #[arg(long)]
    page_size: Option<u32>,
    #[command(flatten)]
    headers: ReadHeaders,
}

impl PageArgs {
    fn into_parts(self) -> (WebhookListQuery, Option<RequestOptions>) {
        let query = WebhookListQuery {
            page_number: self.page_number,
            page_size: self.page_size,
        };
        (query, self.headers.options())
    }
}

/// Flags of `webhook-endpoints deliveries`.
#[derive(Args)]
pub struct DeliveriesArgs {
    /// Path param: the endpoint's id. Example: --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    id: Uuid,
    #[command(flatten)]
    page: PageArgs,
}

/// Flags of `webhook-endpoints retry`.
#[derive(Args)]
pub struct RetryArgs {
    /// Path param: the endpoint's id. Example: --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    id: Uuid,
    /// Path param: the event's id (its webhook-id). Example: --event-id 0199a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b
    #[arg(long)]
    event_id: Uuid,
    #[command(flatten)]
    headers: WriteHeaders,
}

impl WebhookEndpointsCommand {
    /// Calls the SDK and returns the response envelope.
    pub async fn run(self, client: &Client) -> Result<Value, CliError> {
        let endpoints = client.webhook_endpoints();
        match self {
            WebhookEndpointsCommand::Create(args) => {
                let request = WebhookEndpointCreateRequest {
                    url: args.url,
                    events: (!args.events.is_empty()).then_some(args.events),
                    description: args.description,
                };
                envelope(endpoints.create(request, args.headers.options()).await?)
            }
            WebhookEndpointsCommand::List(args) => {
                let (query, options) = args.into_parts();
                envelope(endpoints.list(query, options).await?)
            }
            WebhookEndpointsCommand::Get(t) => {
                envelope(endpoints.get(t.id, t.headers.options()).await?)
            }
            WebhookEndpointsCommand::Update(args) => {
                let request = WebhookEndpointUpdateRequest {
                    url: args.url,
                    events: (!args.events.is_empty()).then_some(args.events),
                    description: args.description,
                    disabled: args.disabled,
                };
                envelope(
                    endpoints
                        .update(args.id, request, args.headers.options())
                        .await?,
                )
            }
            WebhookEndpointsCommand::Delete(t) => {
                envelope(endpoints.delete(t.id, t.headers.options()).await?)
            }
            WebhookEndpointsCommand::RotateSecret(t) => {
                envelope(endpoints.rotate_secret(t.id, t.headers.options()).await?)
            }
            WebhookEndpointsCommand::Deliveries(args) => {
                let (query, options) = args.page.into_parts();
                envelope(endpoints.deliveries(args.id, query, options).await?)
            }
            WebhookEndpointsCommand::Retry(args) => envelope(
                endpoints
                    .retry(args.id, args.event_id, args.headers.options())
                    .await?,
            ),
        }
    }
}

/// `straddle webhooks …`.
#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// Receive this account's events on this machine: registers a temporary endpoint, prints each event as it arrives (signature verified) and forwards it to your app; Ctrl-C removes the endpoint.
    #[command(
        after_help = "Example:\n  straddle webhooks listen --forward-to http://localhost:3000/webhooks --base-url http://127.0.0.1:8080"
    )]
    Listen(ListenArgs),
}

/// Flags of `webhooks listen`.
#[derive(Args)]
pub struct ListenArgs {
    /// Where to forward each verified event, with its webhook-* headers; its status is the answer to the server. Example: --forward-to http://localhost:3000/webhooks
    #[arg(long, value_name = "URL")]
    forward_to: Option<String>,
    /// Event types to receive, repeated or comma-separated; all when absent. Example: --events paykey.event.v1
    #[arg(long, value_parser = wire::<EventType>, value_delimiter = ',')]
    events: Vec<EventType>,
    /// Local address to receive on; the server must reach it. Example: --listen 127.0.0.1:4242
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Host name the server uses to reach this machine. Example: --public-host 10.0.0.5
    #[arg(long)]
    public_host: Option<String>,
    #[command(flatten)]
    headers: ReadHeaders,
}

impl WebhooksCommand {
    /// Runs until Ctrl-C (or SIGTERM); returns a summary.
    pub async fn run(self, client: &Client) -> Result<Value, CliError> {
        match self {
            WebhooksCommand::Listen(args) => listen(args, client).await,
        }
    }
}

/// What the local receiver needs.
struct Listener {
    webhook: Webhook,
    forward_to: Option<String>,
    http: reqwest::Client,
    received: AtomicU64,
}

async fn listen(args: ListenArgs, client: &Client) -> Result<Value, CliError> {
    let socket = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|err| CliError::Usage(format!("cannot listen on {}: {err}", args.listen)))?;
    let local = socket
        .local_addr()
        .map_err(|err| CliError::Usage(err.to_string()))?;
    let host = args.public_host.unwrap_or_else(|| local.ip().to_string());
    let url = format!("http://{host}:{}/webhooks", local.port());
    let options = args.headers.options();
    let endpoints = client.webhook_endpoints();
    // Before the endpoint exists, so a Ctrl-C from here on still removes it.
    let stop = crate::signals::stop_signal()
        .map_err(|err| CliError::Usage(format!("cannot watch for Ctrl-C: {err}")))?;
    let request = WebhookEndpointCreateRequest {
        url: url.clone(),
        events: (!args.events.is_empty()).then_some(args.events),
        description: Some("straddle webhooks listen".into()),
    };
    let endpoint = endpoints
        .create(request, options.clone())
        .await?
        .into_body()
        .data;
    let webhook = Webhook::new(&endpoint.secret.0)
        .map_err(|err| CliError::Usage(format!("the server sent an unusable secret: {err}")))?;
    eprintln!(
        "Ready: events for this account go to {url} (endpoint {}).\nSigning secret (set STRADDLE_WEBHOOK_SECRET to it in your app): {}\nCtrl-C stops and removes the endpoint.",
        endpoint.id, endpoint.secret.0
    );
    let state = Arc::new(Listener {
        webhook,
        forward_to: args.forward_to,
        http: reqwest::Client::new(),
        received: AtomicU64::new(0),
    });
    let handler = state.clone();
    let app = axum::Router::new().route(
        "/webhooks",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let state = handler.clone();
            async move { state.receive(headers, body).await }
        }),
    );
    let served = axum::serve(socket, app).with_graceful_shutdown(stop).await;
    let removed = endpoints.delete(endpoint.id, options).await;
    if let Err(err) = &removed {
        eprintln!("could not remove endpoint {}: {err}", endpoint.id);
    }
    served.map_err(|err| CliError::Usage(format!("the receiver failed: {err}")))?;
    Ok(json!({
        "endpoint_id": endpoint.id,
        "events_received": state.received.load(Ordering::Relaxed),
        "endpoint_removed": removed.is_ok(),
    }))
}

impl Listener {
    /// Verifies, shows and forwards one request; the answer to the server.
    async fn receive(&self, headers: HeaderMap, body: String) -> StatusCode {
        let event = match self.webhook.verify(&body, &headers) {
            Ok(event) => event,
            Err(err) => {
                println!("REFUSED  {err}");
                return StatusCode::BAD_REQUEST;
            }
        };
        self.received.fetch_add(1, Ordering::Relaxed);
        let Some(target) = &self.forward_to else {
            println!("verified {} {}", event.event_type, event.event_id);
            return StatusCode::OK;
        };
        let mut forward = self.http.post(target).body(body);
        for name in [
            "content-type",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        ] {
            if let Some(value) = headers.get(name) {
                forward = forward.header(name, value.as_bytes());
            }
        }
        match forward.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                println!(
                    "verified {} {} -> {target} [{status}]",
                    event.event_type, event.event_id
                );
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            Err(err) => {
                println!(
                    "verified {} {} -> {target} failed: {err}",
                    event.event_type, event.event_id
                );
                StatusCode::BAD_GATEWAY
            }
        }
    }
}
