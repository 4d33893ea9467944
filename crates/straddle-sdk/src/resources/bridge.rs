//! `/v1/bridge`: widget sessions and the four ways to create a paykey.

use reqwest::Method;
use straddle_types::paykey::{
    BankAccountLinkRequest, BridgeInitializeRequest, BridgeToken, Paykey, PlaidLinkRequest,
    QuilttLinkRequest, TanLinkRequest,
};
use straddle_types::ObjectResponse;

use crate::request::Call;
use crate::{ApiResponse, Client, RequestOptions, Result};

/// `client.bridge()`.
#[derive(Clone, Copy, Debug)]
pub struct Bridge<'a> {
    client: &'a Client,
}

impl<'a> Bridge<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Bridge { client }
    }

    /// `POST /v1/bridge/initialize`: a session token for the Bridge widget.
    pub async fn initialize(
        &self,
        request: BridgeInitializeRequest,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ObjectResponse<BridgeToken>>> {
        let call = Call::new(Method::POST, "/v1/bridge/initialize").json(&request)?;
        self.client.execute(call, options).await
    }

    /// Paykey creation from bank details or provider tokens.
    pub fn link(&self) -> Link<'a> {
        Link {
            client: self.client,
        }
    }
}

/// `client.bridge().link()`.
#[derive(Clone, Copy, Debug)]
pub struct Link<'a> {
    client: &'a Client,
}

impl Link<'_> {
    /// `POST /v1/bridge/bank_account`: a paykey from routing and account numbers.
    pub async fn bank_account(
        &self,
        request: BankAccountLinkRequest,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ObjectResponse<Paykey>>> {
        self.post("/v1/bridge/bank_account", &request, options)
            .await
    }

    /// `POST /v1/bridge/plaid`: a paykey from a Plaid processor token.
    pub async fn plaid(
        &self,
        request: PlaidLinkRequest,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ObjectResponse<Paykey>>> {
        self.post("/v1/bridge/plaid", &request, options).await
    }

    /// `POST /v1/bridge/tan`: a paykey from a tokenized account number.
    pub async fn create_tan(
        &self,
        request: TanLinkRequest,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ObjectResponse<Paykey>>> {
        self.post("/v1/bridge/tan", &request, options).await
    }

    /// `POST /v1/bridge/quiltt`: a paykey from a Quiltt processor token.
    pub async fn create_paykey(
        &self,
        request: QuilttLinkRequest,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ObjectResponse<Paykey>>> {
        self.post("/v1/bridge/quiltt", &request, options).await
    }

    async fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ObjectResponse<Paykey>>> {
        let call = Call::new(Method::POST, path).json(body)?;
        self.client.execute(call, options).await
    }
}
