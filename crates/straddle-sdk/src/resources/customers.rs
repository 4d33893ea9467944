//! `/v1/customers`: the people and businesses who own bank accounts.

use futures::stream::BoxStream;
use reqwest::Method;
use straddle_types::customer::{
    Customer, CustomerCreateRequest, CustomerListQuery, CustomerReview,
    CustomerReviewDecisionRequest, CustomerSummary, CustomerUpdateRequest,
};
use straddle_types::{ArrayResponse, ObjectResponse};
use uuid::Uuid;

use crate::pagination::auto_paging;
use crate::request::Call;
use crate::{ApiResponse, Client, RequestOptions, Result};

type CustomerResponse = Result<ApiResponse<ObjectResponse<Customer>>>;

/// `client.customers()`.
#[derive(Clone, Copy, Debug)]
pub struct Customers<'a> {
    client: &'a Client,
}

impl<'a> Customers<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Customers { client }
    }

    /// `POST /v1/customers`: create a customer (201).
    pub async fn create(
        &self,
        request: CustomerCreateRequest,
        options: Option<RequestOptions>,
    ) -> CustomerResponse {
        let call = Call::new(Method::POST, "/v1/customers").json(&request)?;
        self.client.execute(call, options).await
    }

    /// `PUT /v1/customers/{id}`: replace a customer's details.
    pub async fn update(
        &self,
        id: Uuid,
        request: CustomerUpdateRequest,
        options: Option<RequestOptions>,
    ) -> CustomerResponse {
        let call = Call::new(Method::PUT, format!("/v1/customers/{id}")).json(&request)?;
        self.client.execute(call, options).await
    }

    /// `GET /v1/customers`: one page of customers.
    pub async fn list(
        &self,
        query: CustomerListQuery,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ArrayResponse<CustomerSummary>>> {
        let call = Call::new(Method::GET, "/v1/customers").query(&query)?;
        self.client.execute(call, options).await
    }

    /// Every customer matching `query`, from its `page_number` (default 1)
    /// to the last page, fetched page by page as the stream is read.
    pub fn list_auto_paging(
        &self,
        query: CustomerListQuery,
        options: Option<RequestOptions>,
    ) -> BoxStream<'static, Result<CustomerSummary>> {
        let client = self.client.clone();
        auto_paging(query, move |page| {
            let (client, options) = (client.clone(), options.clone());
            async move { client.customers().list(page, options).await }
        })
    }

    /// `DELETE /v1/customers/{id}`: remove a customer permanently.
    pub async fn delete(&self, id: Uuid, options: Option<RequestOptions>) -> CustomerResponse {
        let call = Call::new(Method::DELETE, format!("/v1/customers/{id}"));
        self.client.execute(call, options).await
    }

    /// `GET /v1/customers/{id}`: a customer, PII masked.
    pub async fn get(&self, id: Uuid, options: Option<RequestOptions>) -> CustomerResponse {
        let call = Call::new(Method::GET, format!("/v1/customers/{id}"));
        self.client.execute(call, options).await
    }

    /// `GET /v1/customers/{id}/unmasked`: a customer with PII in the clear
    /// (accounts allowed to unmask only; else 403).
    pub async fn unmasked(&self, id: Uuid, options: Option<RequestOptions>) -> CustomerResponse {
        let call = Call::new(Method::GET, format!("/v1/customers/{id}/unmasked"));
        self.client.execute(call, options).await
    }

    /// Identity verification results and manual review decisions.
    pub fn review(&self) -> CustomerReviews<'a> {
        CustomerReviews {
            client: self.client,
        }
    }
}

/// `client.customers().review()`.
#[derive(Clone, Copy, Debug)]
pub struct CustomerReviews<'a> {
    client: &'a Client,
}

impl CustomerReviews<'_> {
    /// `GET /v1/customers/{id}/review`: the customer and its verification result.
    pub async fn get(
        &self,
        id: Uuid,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ObjectResponse<CustomerReview>>> {
        let call = Call::new(Method::GET, format!("/v1/customers/{id}/review"));
        self.client.execute(call, options).await
    }

    /// `PATCH /v1/customers/{id}/review`: decide a customer in `review`.
    pub async fn decision(
        &self,
        id: Uuid,
        request: CustomerReviewDecisionRequest,
        options: Option<RequestOptions>,
    ) -> CustomerResponse {
        let path = format!("/v1/customers/{id}/review");
        let call = Call::new(Method::PATCH, path).json(&request)?;
        self.client.execute(call, options).await
    }

    /// `PUT /v1/customers/{id}/refresh_review`: run verification again (202).
    pub async fn refresh_review(
        &self,
        id: Uuid,
        options: Option<RequestOptions>,
    ) -> CustomerResponse {
        let call = Call::new(Method::PUT, format!("/v1/customers/{id}/refresh_review"));
        self.client.execute(call, options).await
    }
}
