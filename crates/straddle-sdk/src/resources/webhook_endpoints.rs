//! `/v1/webhook_endpoints`: where a server sends events, and how each
//! delivery went.

use reqwest::Method;
use straddle_types::webhook::{
    WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEndpointCreateRequest,
    WebhookEndpointUpdateRequest, WebhookListQuery,
};
use straddle_types::{ArrayResponse, ObjectResponse};
use uuid::Uuid;

use crate::request::Call;
use crate::{ApiResponse, Client, RequestOptions, Result};

type EndpointResponse = Result<ApiResponse<ObjectResponse<WebhookEndpoint>>>;

/// `client.webhook_endpoints()`.
#[derive(Clone, Copy, Debug)]
pub struct WebhookEndpoints<'a> {
    client: &'a Client,
}

impl<'a> WebhookEndpoints<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        WebhookEndpoints { client }
    }

    /// `POST /v1/webhook_endpoints`: a new endpoint and its signing secret (201).
    pub async fn create(
        &self,
        request: WebhookEndpointCreateRequest,
        options: Option<RequestOptions>,
    ) -> EndpointResponse {
        let call = Call::new(Method::POST, "/v1/webhook_endpoints").json(&request)?;
        self.client.execute(call, options).await
    }

    /// `GET /v1/webhook_endpoints`: one page of endpoints, oldest first.
    pub async fn list(
        &self,
        query: WebhookListQuery,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ArrayResponse<WebhookEndpoint>>> {
        let call = Call::new(Method::GET, "/v1/webhook_endpoints").query(&query)?;
        self.client.execute(call, options).await
    }

    /// `GET /v1/webhook_endpoints/{id}`: an endpoint, secret included.
    pub async fn get(&self, id: Uuid, options: Option<RequestOptions>) -> EndpointResponse {
        let call = Call::new(Method::GET, format!("/v1/webhook_endpoints/{id}"));
        self.client.execute(call, options).await
    }

    /// `PATCH /v1/webhook_endpoints/{id}`: change the fields the request names.
    pub async fn update(
        &self,
        id: Uuid,
        request: WebhookEndpointUpdateRequest,
        options: Option<RequestOptions>,
    ) -> EndpointResponse {
        let call =
            Call::new(Method::PATCH, format!("/v1/webhook_endpoints/{id}")).json(&request)?;
        self.client.execute(call, options).await
    }

    /// `DELETE /v1/webhook_endpoints/{id}`: remove an endpoint and its history.
    pub async fn delete(&self, id: Uuid, options: Option<RequestOptions>) -> EndpointResponse {
        let call = Call::new(Method::DELETE, format!("/v1/webhook_endpoints/{id}"));
        self.client.execute(call, options).await
    }

    /// `POST /v1/webhook_endpoints/{id}/rotate_secret`: a new secret; the
    /// old one keeps signing alongside for 24 hours.
    pub async fn rotate_secret(
        &self,
        id: Uuid,
        options: Option<RequestOptions>,
    ) -> EndpointResponse {
        let call = Call::new(
            Method::POST,
            format!("/v1/webhook_endpoints/{id}/rotate_secret"),
        );
        self.client.execute(call, options).await
    }

    /// `GET /v1/webhook_endpoints/{id}/deliveries`: delivery attempts, newest first.
    pub async fn deliveries(
        &self,
        id: Uuid,
        query: WebhookListQuery,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ArrayResponse<WebhookAttempt>>> {
        let call = Call::new(
            Method::GET,
            format!("/v1/webhook_endpoints/{id}/deliveries"),
        )
        .query(&query)?;
        self.client.execute(call, options).await
    }

    /// `POST /v1/webhook_endpoints/{id}/deliveries/{event_id}/retry`: send an event again now.
    pub async fn retry(
        &self,
        id: Uuid,
        event_id: Uuid,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ObjectResponse<WebhookDelivery>>> {
        let path = format!("/v1/webhook_endpoints/{id}/deliveries/{event_id}/retry");
        self.client
            .execute(Call::new(Method::POST, path), options)
            .await
    }
}
