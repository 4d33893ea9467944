//! What can go wrong with a call, as types a caller can branch on.

use std::fmt;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use straddle_types::{ApiErrorBody, ErrorResponse};
use uuid::Uuid;

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call failed. `Display` is one line; the underlying cause, if any,
/// is its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API could not be reached or the connection broke (after retries).
    #[error("could not reach the API")]
    Transport(#[source] reqwest::Error),
    /// No complete response arrived within the timeout (after retries).
    #[error("the request timed out")]
    Timeout(#[source] reqwest::Error),
    /// The API answered with an error status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// A success response whose body is not what the endpoint returns.
    #[error("could not decode the response (HTTP {status})")]
    Decode {
        /// HTTP status of the response.
        status: StatusCode,
        /// The body as received.
        body: String,
        /// What did not match.
        #[source]
        source: serde_json::Error,
    },
    /// The client or request could not be built from what was given.
    #[error("{0}")]
    InvalidArgument(String),
}

impl Error {
    /// The HTTP status, when the API answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An error response from the API.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The decoded error object (`title`, `detail`, `items`…), when the body
    /// is the documented error envelope.
    pub error: Option<ApiErrorBody>,
    /// `meta.api_request_id` of the failed request, to quote to support.
    pub api_request_id: Option<Uuid>,
    /// The body as received.
    pub body: String,
}

impl ApiError {
    /// Builds the error from a non-2xx response.
    pub(crate) fn from_response(status: StatusCode, headers: HeaderMap, body: String) -> Self {
        let envelope = serde_json::from_str::<ErrorResponse>(&body).ok();
        ApiError {
            status,
            headers,
            api_request_id: envelope.as_ref().map(|e| e.meta.api_request_id),
            error: envelope.map(|e| e.error),
            body,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(error) = &self.error {
            write!(f, ": {}: {}", error.title, error.detail)?;
        }
        if let Some(id) = self.api_request_id {
            write!(f, " (api_request_id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_envelope_is_decoded_and_anything_else_kept_as_text() {
        let envelope = r#"{"meta":{"api_request_id":"0191ef49-892c-7460-8a6f-2e3c4d5e6f70","api_request_timestamp":"2026-02-03T05:10:30.308746Z"},
            "response_type":"error","error":{"status":404,"type":"invalid_request_error","title":"Not Found","detail":"No such customer."}}"#;
        let api = ApiError::from_response(StatusCode::NOT_FOUND, HeaderMap::new(), envelope.into());
        assert_eq!(api.error.as_ref().unwrap().title, "Not Found");
        assert_eq!(
            api.to_string(),
            "HTTP 404 Not Found: Not Found: No such customer. (api_request_id 0191ef49-892c-7460-8a6f-2e3c4d5e6f70)"
        );

        let gateway = ApiError::from_response(
            StatusCode::BAD_GATEWAY,
            HeaderMap::new(),
            "<html>bad gateway</html>".into(),
        );
        assert!(gateway.error.is_none() && gateway.api_request_id.is_none());
        assert_eq!(gateway.body, "<html>bad gateway</html>");
        assert_eq!(gateway.to_string(), "HTTP 502 Bad Gateway");
    }
}
