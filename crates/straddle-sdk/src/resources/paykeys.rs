//! `/v1/paykeys`: reading paykeys and changing their state.

use futures::stream::BoxStream;
use reqwest::Method;
use straddle_types::paykey::{
    Paykey, PaykeyCancelRequest, PaykeyListQuery, PaykeyReview, PaykeyReviewDecisionRequest,
    PaykeySummary, PaykeyUnblockRequest,
};
use straddle_types::{ArrayResponse, ObjectResponse};
use uuid::Uuid;

use crate::pagination::auto_paging;
use crate::request::Call;
use crate::{ApiResponse, Client, RequestOptions, Result};

type PaykeyResponse = Result<ApiResponse<ObjectResponse<Paykey>>>;

/// `client.paykeys()`.
#[derive(Clone, Copy, Debug)]
pub struct Paykeys<'a> {
    client: &'a Client,
}

impl<'a> Paykeys<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Paykeys { client }
    }

    /// `GET /v1/paykeys`: one page of paykeys.
    pub async fn list(
        &self,
        query: PaykeyListQuery,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ArrayResponse<PaykeySummary>>> {
        let call = Call::new(Method::GET, "/v1/paykeys").query(&query)?;
        self.client.execute(call, options).await
    }

    /// Every paykey matching `query`, from its `page_number` (default 1) to
    /// the last page, fetched page by page as the stream is read.
    pub fn list_auto_paging(
        &self,
        query: PaykeyListQuery,
        options: Option<RequestOptions>,
    ) -> BoxStream<'static, Result<PaykeySummary>> {
        let client = self.client.clone();
        auto_paging(query, move |page| {
            let (client, options) = (client.clone(), options.clone());
            async move { client.paykeys().list(page, options).await }
        })
    }

    /// `GET /v1/paykeys/{id}`: a paykey, token and account number masked.
    pub async fn get(&self, id: Uuid, options: Option<RequestOptions>) -> PaykeyResponse {
        self.read(format!("/v1/paykeys/{id}"), options).await
    }

    /// `GET /v1/paykeys/{id}/unmasked`: full token and account number
    /// (accounts allowed to unmask only; else 403).
    pub async fn unmasked(&self, id: Uuid, options: Option<RequestOptions>) -> PaykeyResponse {
        self.read(format!("/v1/paykeys/{id}/unmasked"), options)
            .await
    }

    /// `GET /v1/paykeys/{id}/reveal`: the full paykey token.
    pub async fn reveal(&self, id: Uuid, options: Option<RequestOptions>) -> PaykeyResponse {
        self.read(format!("/v1/paykeys/{id}/reveal"), options).await
    }

    /// `PUT /v1/paykeys/{id}/cancel`: make a paykey `inactive`.
    pub async fn cancel(
        &self,
        id: Uuid,
        request: PaykeyCancelRequest,
        options: Option<RequestOptions>,
    ) -> PaykeyResponse {
        let call = Call::new(Method::PUT, format!("/v1/paykeys/{id}/cancel")).json(&request)?;
        self.client.execute(call, options).await
    }

    /// `PUT /v1/paykeys/{id}/refresh_balance`: fetch the balance again (202;
    /// the balance completes in the background).
    pub async fn update_balance(
        &self,
        id: Uuid,
        options: Option<RequestOptions>,
    ) -> PaykeyResponse {
        let call = Call::new(Method::PUT, format!("/v1/paykeys/{id}/refresh_balance"));
        self.client.execute(call, options).await
    }

    /// `PATCH /v1/paykeys/{id}/unblock`: reactivate a paykey blocked by an
    /// R29 return (once per paykey).
    pub async fn unblock(
        &self,
        id: Uuid,
        request: PaykeyUnblockRequest,
        options: Option<RequestOptions>,
    ) -> PaykeyResponse {
        let call = Call::new(Method::PATCH, format!("/v1/paykeys/{id}/unblock")).json(&request)?;
        self.client.execute(call, options).await
    }

    /// Verification results and manual review decisions.
    pub fn review(&self) -> PaykeyReviews<'a> {
        PaykeyReviews {
            client: self.client,
        }
    }

    async fn read(&self, path: String, options: Option<RequestOptions>) -> PaykeyResponse {
        self.client
            .execute(Call::new(Method::GET, path), options)
            .await
    }
}

/// `client.paykeys().review()`.
#[derive(Clone, Copy, Debug)]
pub struct PaykeyReviews<'a> {
    client: &'a Client,
}

impl PaykeyReviews<'_> {
    /// `GET /v1/paykeys/{id}/review`: the paykey and its verification result.
    pub async fn get(
        &self,
        id: Uuid,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ObjectResponse<PaykeyReview>>> {
        let call = Call::new(Method::GET, format!("/v1/paykeys/{id}/review"));
        self.client.execute(call, options).await
    }

    /// `PATCH /v1/paykeys/{id}/review`: decide a paykey in `review`.
    pub async fn decision(
        &self,
        id: Uuid,
        request: PaykeyReviewDecisionRequest,
        options: Option<RequestOptions>,
    ) -> PaykeyResponse {
        let path = format!("/v1/paykeys/{id}/review");
        let call = Call::new(Method::PATCH, path).json(&request)?;
        self.client.execute(call, options).await
    }

    /// `PUT /v1/paykeys/{id}/refresh_review`: run verification again (202).
    pub async fn refresh_review(
        &self,
        id: Uuid,
        options: Option<RequestOptions>,
    ) -> PaykeyResponse {
        let call = Call::new(Method::PUT, format!("/v1/paykeys/{id}/refresh_review"));
        self.client.execute(call, options).await
    }
}
