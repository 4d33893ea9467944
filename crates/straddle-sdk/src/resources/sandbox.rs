//! `/v1/sandbox`: simulations a sandbox server offers for testing.

use reqwest::Method;
use straddle_types::paykey::{Paykey, SimulateReturnRequest};
use straddle_types::ObjectResponse;
use uuid::Uuid;

use crate::request::Call;
use crate::{ApiResponse, Client, RequestOptions, Result};

/// `client.sandbox()`.
#[derive(Clone, Copy, Debug)]
pub struct Sandbox<'a> {
    client: &'a Client,
}

impl<'a> Sandbox<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Sandbox { client }
    }

    /// `POST /v1/sandbox/paykeys/{id}/simulate_return`: an ACH return that
    /// blocks the paykey (`R29` makes it eligible for unblocking).
    pub async fn simulate_return(
        &self,
        id: Uuid,
        request: SimulateReturnRequest,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<ObjectResponse<Paykey>>> {
        let path = format!("/v1/sandbox/paykeys/{id}/simulate_return");
        let call = Call::new(Method::POST, path).json(&request)?;
        self.client.execute(call, options).await
    }
}
