//! One error type for the whole API. Handlers return `ApiError`; it becomes
//! the documented envelope in [`crate::http::context`], which adds `meta`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use straddle_types::{ApiErrorBody, ErrorItem, ErrorType};

/// Everything that can go wrong in a request, by meaning.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Structurally bad input: malformed JSON, wrong types, missing fields, bad headers.
    #[error("invalid request: {title}")]
    InvalidRequest {
        title: String,
        detail: String,
        items: Vec<ErrorItem>,
    },
    /// Well-formed input that fails a content check (400 `validation_error`).
    #[error("validation failed")]
    Validation { items: Vec<ErrorItem> },
    /// Missing, unknown, revoked or wrong-environment API key.
    #[error("unauthorized")]
    Unauthorized,
    /// The Bridge widget's token does not authorise the request.
    #[error("bridge token refused: {}", .0.code())]
    BridgeToken(TokenProblem),
    /// Authenticated but not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The resource does not exist in the caller's scope.
    #[error("not found: {detail}")]
    NotFound {
        detail: String,
        items: Vec<ErrorItem>,
    },
    /// No route for this path.
    #[error("no such route")]
    NoRoute,
    /// The route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The Idempotency-Key was used for a different request.
    #[error("idempotency key reused")]
    IdempotencyMismatch,
    /// A request with this Idempotency-Key is still being processed.
    #[error("idempotent request in progress")]
    IdempotencyInProgress,
    /// Well-formed but not actionable in the resource's current state.
    #[error("unprocessable: {detail}")]
    Unprocessable {
        detail: String,
        items: Vec<ErrorItem>,
    },
    /// Request body too large.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The client did not send the request body in time.
    #[error("request body timed out")]
    RequestTimeout,
    /// The platform exceeded its rate limit.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// A data provider failed or timed out.
    #[error("upstream failure: {0}")]
    Upstream(String),
    /// The database is unreachable, timed out or busy; a retry may succeed.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an infrastructure failure; the cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// 400 `invalid_request_error` with one item.
    pub fn invalid_field(reference: &str, detail: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            title: "Invalid Request".into(),
            detail: "The request is malformed or missing required fields.".into(),
            items: vec![item(reference, detail)],
        }
    }

    /// 404 for an id outside the caller's scope.
    pub fn not_found(resource: &str, reference: &str, id: impl ToString) -> Self {
        ApiError::NotFound {
            detail: format!("No {resource} with this id exists for the account."),
            items: vec![item(reference, id.to_string())],
        }
    }

    /// 422 with a single reason.
    pub fn unprocessable(reference: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        ApiError::Unprocessable {
            detail: detail.clone(),
            items: vec![item(reference, detail)],
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } | ApiError::Validation { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unauthorized | ApiError::BridgeToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::IdempotencyMismatch | ApiError::IdempotencyInProgress => StatusCode::CONFLICT,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The documented error object for this error.
    pub fn body(&self) -> ApiErrorBody {
        let (error_type, title, detail, items): (ErrorType, &str, String, Vec<ErrorItem>) = match self {
            ApiError::InvalidRequest { title, detail, items } => {
                (ErrorType::InvalidRequestError, title, detail.clone(), items.clone())
            }
            ApiError::Validation { items } => (
                ErrorType::ValidationError,
                "Invalid Input Data",
                "One or more fields failed validation.".into(),
                items.clone(),
            ),
            ApiError::Unauthorized => {
                (ErrorType::AuthenticationError, "Unauthorized", "A valid API key is required.".into(), vec![])
            }
            ApiError::BridgeToken(problem) => (
                ErrorType::AuthenticationError,
                problem.title(),
                problem.detail().into(),
                vec![item("bridge_token", problem.code())],
            ),
            ApiError::Forbidden(detail) => (ErrorType::AuthenticationError, "Forbidden", detail.clone(), vec![]),
            ApiError::NotFound { detail, items } => {
                (ErrorType::InvalidRequestError, "Resource Not Found", detail.clone(), items.clone())
            }
            ApiError::NoRoute => (
                ErrorType::InvalidRequestError,
                "Resource Not Found",
                "No API route matches this path.".into(),
                vec![],
            ),
            ApiError::MethodNotAllowed => (
                ErrorType::InvalidRequestError,
                "Method Not Allowed",
                "This route does not support the HTTP method used.".into(),
                vec![],
            ),
            ApiError::IdempotencyMismatch => (
                ErrorType::InvalidRequestError,
                "Idempotency Key Conflict",
                "This Idempotency-Key was already used for a different request. Use a new key for a new operation.".into(),
                vec![],
            ),
            ApiError::IdempotencyInProgress => (
                ErrorType::InvalidRequestError,
                "Request In Progress",
                "A request with this Idempotency-Key is still being processed. Retry shortly.".into(),
                vec![],
            ),
            ApiError::Unprocessable { detail, items } => {
                (ErrorType::ValidationError, "Unprocessable Entity", detail.clone(), items.clone())
            }
            ApiError::PayloadTooLarge => (
                ErrorType::InvalidRequestError,
                "Payload Too Large",
                "The request body is too large.".into(),
                vec![],
            ),
            ApiError::RequestTimeout => (
                ErrorType::InvalidRequestError,
                "Request Timeout",
                "The request body was not received in time.".into(),
                vec![],
            ),
            ApiError::RateLimited { retry_after_secs } => (
                ErrorType::InvalidRequestError,
                "Too Many Requests",
                format!("Rate limit exceeded for this platform. Retry after {retry_after_secs} s."),
                vec![],
            ),
            ApiError::Upstream(_) => (
                ErrorType::ApiError,
                "Bad Gateway",
                "A data provider failed to answer. Try again later.".into(),
                vec![],
            ),
            ApiError::Unavailable(_) => (
                ErrorType::ApiError,
                "Service Unavailable",
                "The service is briefly unable to handle the request. Retry shortly.".into(),
                vec![],
            ),
            ApiError::Internal(_) => (
                ErrorType::ApiError,
                "Internal Server Error",
                "Something went wrong on our side. Try again later.".into(),
                vec![],
            ),
        };
        ApiErrorBody {
            status: self.status().as_u16(),
            error_type,
            title: title.to_string(),
            detail,
            items: (!items.is_empty()).then_some(items),
        }
    }
}

/// Why a bridge token does not authorise a widget request. The error's
/// single item names `bridge_token` and carries [`TokenProblem::code`], which
/// the widget passes on to the host page as `error_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenProblem {
    /// Missing, malformed, forged, from another environment, or naming no session.
    Invalid,
    /// Past its `exp`.
    Expired,
    /// Its session already created a paykey.
    Used,
}

impl TokenProblem {
    /// The stable machine code.
    pub fn code(self) -> &'static str {
        match self {
            TokenProblem::Invalid => "invalid_token",
            TokenProblem::Expired => "expired_token",
            TokenProblem::Used => "used_token",
        }
    }

    fn title(self) -> &'static str {
        match self {
            TokenProblem::Invalid => "Invalid Bridge Token",
            TokenProblem::Expired => "Expired Bridge Token",
            TokenProblem::Used => "Bridge Session Already Used",
        }
    }

    fn detail(self) -> &'static str {
        match self {
            TokenProblem::Invalid => "The bridge token is not valid for this server.",
            TokenProblem::Expired => "The bridge token has expired. Create a new one with POST /v1/bridge/initialize.",
            TokenProblem::Used => "This Bridge session has already linked a bank account. Create a new bridge token to link another.",
        }
    }
}

/// Shorthand for an error item.
pub fn item(reference: &str, detail: impl Into<String>) -> ErrorItem {
    ErrorItem {
        reference: reference.to_string(),
        detail: detail.into(),
    }
}

impl From<sqlx::Error> for ApiError {
    /// Lost connections, timeouts, an exhausted pool and conflicts that a
    /// retry resolves are 503; anything else is a bug (500).
    fn from(err: sqlx::Error) -> Self {
        let transient = match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| is_transient_sqlstate(&code)),
            _ => false,
        };
        if transient {
            ApiError::Unavailable(format!("database: {err}"))
        } else {
            ApiError::Internal(format!("database: {err}"))
        }
    }
}

/// PostgreSQL error classes a retry can get past: connection exceptions
/// (08), cancelled statements and terminated sessions (57014, 57P0x),
/// serialization failures and deadlocks (40001, 40P01), an idle transaction
/// timed out (25P03), too many connections (53300).
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("57")
        || matches!(code, "40001" | "40P01" | "25P03" | "53300")
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        ApiError::Internal(format!("json: {err}"))
    }
}

/// The error as it travels to the envelope middleware, which adds `meta`.
#[derive(Clone, Debug)]
pub struct PendingError(pub ApiErrorBody);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(_) | ApiError::Upstream(_) => {
                tracing::error!(error = %self, "request failed")
            }
            ApiError::Unavailable(_) => tracing::warn!(error = %self, "request failed"),
            _ => {}
        }
        let mut response = self.status().into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::RateLimited { retry_after_secs } => {
                headers.insert("retry-after", HeaderValue::from(*retry_after_secs));
                headers.insert("retry-after-ms", HeaderValue::from(retry_after_secs * 1000));
            }
            ApiError::IdempotencyMismatch => {
                headers.insert("x-should-retry", HeaderValue::from_static("false"));
            }
            ApiError::RequestTimeout => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            ApiError::IdempotencyInProgress | ApiError::Unavailable(_) => {
                headers.insert("x-should-retry", HeaderValue::from_static("true"));
            }
            _ => {}
        }
        response.extensions_mut().insert(PendingError(self.body()));
        response
    }
}
