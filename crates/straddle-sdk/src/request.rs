//! Sending one call: URL and headers, the idempotency key, retries, and
//! turning the response into a value or an [`Error`].

use std::time::Instant;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::debug;
use uuid::Uuid;

use crate::error::{ApiError, Error, Result};
use crate::options::RequestOptions;
use crate::response::ApiResponse;
use crate::{retry, Client};

/// One API call, before options: method, path, query and JSON body.
pub(crate) struct Call {
    method: Method,
    path: String,
    query: Option<String>,
    body: Option<Vec<u8>>,
}

impl Call {
    /// A call without query or body.
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        Call {
            method,
            path: path.into(),
            query: None,
            body: None,
        }
    }

    /// Adds the query string serialised from `query`.
    pub(crate) fn query<Q: Serialize>(mut self, query: &Q) -> Result<Self> {
        let text = serde_urlencoded::to_string(query)
            .map_err(|err| Error::InvalidArgument(format!("invalid query: {err}")))?;
        self.query = (!text.is_empty()).then_some(text);
        Ok(self)
    }

    /// Adds `body` as JSON.
    pub(crate) fn json<B: Serialize>(mut self, body: &B) -> Result<Self> {
        let bytes = serde_json::to_vec(body)
            .map_err(|err| Error::InvalidArgument(format!("invalid request body: {err}")))?;
        self.body = Some(bytes);
        Ok(self)
    }

    fn is_mutating(&self) -> bool {
        self.method != Method::GET && self.method != Method::HEAD
    }
}

/// What one attempt came to.
enum Outcome<T> {
    /// Final: a value, or an error retrying cannot fix.
    Done(Result<ApiResponse<T>>),
    /// A failure a retry may fix; `headers` may say when to retry.
    Retryable {
        error: Error,
        headers: Option<HeaderMap>,
    },
}

/// A fresh `Idempotency-Key`: 36 characters, within the API's 10–40.
fn generated_idempotency_key() -> String {
    format!("sdk-{}", Uuid::new_v4().simple())
}

impl Client {
    /// Sends `call`, retrying as the policy allows, and decodes the body as `T`.
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        call: Call,
        options: Option<RequestOptions>,
    ) -> Result<ApiResponse<T>> {
        let mut options = options.unwrap_or_default();
        if call.is_mutating() && options.idempotency_key.is_none() {
            options.idempotency_key = Some(generated_idempotency_key());
        }
        let max_retries = options.max_retries.unwrap_or(self.inner.max_retries);
        let mut retries_done = 0;
        loop {
            match self.attempt(&call, &options, retries_done).await {
                Outcome::Done(result) => return result,
                Outcome::Retryable { error, .. } if retries_done >= max_retries => {
                    return Err(error)
                }
                Outcome::Retryable { error, headers } => {
                    let wait = retry::delay(retries_done, headers.as_ref());
                    let cause = std::error::Error::source(&error).map(ToString::to_string);
                    debug!(error = %error, cause, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    retries_done += 1;
                }
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        call: &Call,
        options: &RequestOptions,
        retries_done: u32,
    ) -> Outcome<T> {
        let url = format!("{}{}", self.inner.base_url, call.path);
        debug!(
            method = %call.method,
            url = %url,
            retry = retries_done,
            idempotency_key = options.idempotency_key.as_deref(),
            request_id = options.request_id.as_deref(),
            correlation_id = options.correlation_id.as_deref(),
            straddle_account_id = options.straddle_account_id.as_deref(),
            "sending request"
        );
        let started = Instant::now();
        let response = match self.build(call, url, options).send().await {
            Ok(response) => response,
            Err(err) => return transport_failure(err),
        };
        let (status, headers) = (response.status(), response.headers().clone());
        let body = match response.text().await {
            Ok(body) => body,
            Err(err) => return transport_failure(err),
        };
        debug!(
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "received response"
        );
        if status.is_success() {
            return Outcome::Done(decode(status, headers, body));
        }
        let retryable = retry::should_retry(status, &headers);
        let error = Error::Api(Box::new(ApiError::from_response(
            status,
            headers.clone(),
            body,
        )));
        if retryable {
            Outcome::Retryable {
                error,
                headers: Some(headers),
            }
        } else {
            Outcome::Done(Err(error))
        }
    }

    fn build(&self, call: &Call, url: String, options: &RequestOptions) -> reqwest::RequestBuilder {
        let url = match &call.query {
            Some(query) => format!("{url}?{query}"),
            None => url,
        };
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url)
            .bearer_auth(self.inner.api_key.expose())
            .header("Accept", "application/json")
            .timeout(options.timeout.unwrap_or(self.inner.timeout));
        let headers = [
            ("Correlation-Id", &options.correlation_id),
            ("Idempotency-Key", &options.idempotency_key),
            ("Request-Id", &options.request_id),
            ("Straddle-Account-Id", &options.straddle_account_id),
        ];
        for (name, value) in headers {
            if let Some(value) = value {
                request = request.header(name, value);
            }
        }
        if let Some(body) = &call.body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.clone());
        }
        request
    }
}

fn transport_failure<T>(err: reqwest::Error) -> Outcome<T> {
    if err.is_builder() {
        return Outcome::Done(Err(Error::InvalidArgument(format!(
            "cannot build the request: {err}"
        ))));
    }
    let error = if err.is_timeout() {
        Error::Timeout(err)
    } else {
        Error::Transport(err)
    };
    Outcome::Retryable {
        error,
        headers: None,
    }
}

fn decode<T: DeserializeOwned>(
    status: StatusCode,
    headers: HeaderMap,
    body: String,
) -> Result<ApiResponse<T>> {
    match serde_json::from_str(&body) {
        Ok(value) => Ok(ApiResponse::new(status, headers, value)),
        Err(source) => Err(Error::Decode {
            status,
            body,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_fit_the_api_limits_and_differ() {
        let (a, b) = (generated_idempotency_key(), generated_idempotency_key());
        assert!((10..=40).contains(&a.len()), "{a}");
        assert_ne!(a, b);
    }
}
