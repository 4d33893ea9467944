//! A decoded response together with its HTTP status and headers.

use std::ops::Deref;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// The decoded body of a successful call plus the raw response's status and
/// headers. Dereferences to the body, so `response.data` works directly.
#[derive(Clone, Debug)]
pub struct ApiResponse<T> {
    status: StatusCode,
    headers: HeaderMap,
    body: T,
}

impl<T> ApiResponse<T> {
    pub(crate) fn new(status: StatusCode, headers: HeaderMap, body: T) -> Self {
        ApiResponse {
            status,
            headers,
            body,
        }
    }

    /// HTTP status (e.g. 201 for a created paykey, 202 for a refresh).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Response headers (e.g. `Idempotent-Replayed`, `Request-Id`).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The decoded body.
    pub fn body(&self) -> &T {
        &self.body
    }

    /// The decoded body, by value.
    pub fn into_body(self) -> T {
        self.body
    }
}

impl<T> Deref for ApiResponse<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.body
    }
}
