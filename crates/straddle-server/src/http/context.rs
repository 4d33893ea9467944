//! Per-request context: the `api_request_id` and timestamp every envelope
//! carries, the client's trace headers, and the request's log span. The
//! middleware here also turns a [`PendingError`] into the error envelope,
//! marks every response `Cache-Control: no-store` unless its handler chose
//! otherwise (responses carry unmasked data and tokens), and logs each
//! response except 401 and 429, which are counted and reported per interval.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use straddle_types::{ErrorResponse, ResponseMetadata, ResponseType, Timestamp};
use tracing::Instrument;
use uuid::Uuid;

use crate::error::PendingError;
use crate::state::AppState;

/// Identity and time of one API request.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// Server-generated id (UUIDv7), returned as `meta.api_request_id`.
    pub api_request_id: Uuid,
    /// When the request arrived.
    pub received_at: Timestamp,
}

impl RequestContext {
    /// The envelope's `meta` for this request.
    pub fn meta(&self) -> ResponseMetadata {
        ResponseMetadata {
            api_request_id: self.api_request_id,
            api_request_timestamp: self.received_at,
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const CORRELATION_ID: HeaderName = HeaderName::from_static("correlation-id");

/// Longest client trace id we echo or log.
const MAX_TRACE_ID: usize = 200;

fn trace_header(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    headers
        .get(name)
        .filter(|v| v.len() <= MAX_TRACE_ID && v.to_str().is_ok())
        .cloned()
}

/// Outermost middleware: context, span, trace-header echo, error envelope.
pub async fn request_context(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let context = RequestContext {
        api_request_id: Uuid::now_v7(),
        received_at: state.clock.timestamp(),
    };
    let request_id = trace_header(request.headers(), &REQUEST_ID);
    let correlation_id = trace_header(request.headers(), &CORRELATION_ID);
    let span = tracing::info_span!(
        "request",
        api_request_id = %context.api_request_id,
        method = %request.method(),
        path = %request.uri().path(),
        request_id = request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or(""),
        correlation_id = correlation_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or(""),
    );
    request.extensions_mut().insert(context.clone());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    if let Some(PendingError(error)) = response.extensions_mut().remove::<PendingError>() {
        let status = response.status();
        let body = ErrorResponse {
            meta: context.meta(),
            response_type: ResponseType::Error,
            error,
        };
        let mut rendered = axum::Json(body).into_response();
        *rendered.status_mut() = status;
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rendered.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response = rendered;
    }
    let headers = response.headers_mut();
    if let Some(value) = request_id {
        headers.insert(REQUEST_ID, value);
    }
    if let Some(value) = correlation_id {
        headers.insert(CORRELATION_ID, value);
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    let status = response.status().as_u16();
    if matches!(status, 401 | 429) {
        // A flood of these must not flood the log: counted, reported per interval.
        state.guard.refused(status);
    } else {
        span.in_scope(|| {
            tracing::info!(
                status,
                latency_ms = started.elapsed().as_millis() as u64,
                "response"
            );
        });
    }
    response
}

/// A JSON response with a status, built by handlers.
pub fn json_response(status: axum::http::StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
