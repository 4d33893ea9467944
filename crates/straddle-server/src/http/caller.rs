//! The authenticated caller of an API route and the envelopes it answers with.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde::Serialize;
use straddle_types::{
    ArrayResponse, ObjectResponse, PagedResponseMetadata, ResponseType, SortOrder,
};
use uuid::Uuid;

use crate::error::ApiError;
use crate::http::context::{json_response, RequestContext};
use crate::http::paging::{Paging, MAX_PAGE_SIZE};
use crate::security::keys::Principal;
use crate::state::AppState;
use crate::write::idempotency::IdempotencyKey;
use crate::write::pipeline::{Command, WriteRequest, Written};

/// The authenticated caller of an API route, with what it sent.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Request id and time.
    pub context: RequestContext,
    /// Who calls, acting for which account.
    pub principal: Principal,
    idempotency_key: Option<HeaderValue>,
    method: Method,
    path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let missing = || ApiError::Internal("route is missing its middleware".into());
        Ok(Caller {
            context: parts
                .extensions
                .get::<RequestContext>()
                .cloned()
                .ok_or_else(missing)?,
            principal: parts
                .extensions
                .get::<Principal>()
                .cloned()
                .ok_or_else(missing)?,
            idempotency_key: parts.headers.get("idempotency-key").cloned(),
            method: parts.method.clone(),
            path: parts.uri.path().to_string(),
        })
    }
}

impl Caller {
    /// The account whose data the request reads and writes.
    pub fn account_id(&self) -> Uuid {
        self.principal.account_id()
    }

    /// 403 unless the calling account may see unmasked data.
    pub fn require_unmask(&self) -> Result<(), ApiError> {
        if self.principal.authenticated.allow_unmask {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "This account is not allowed to unmask sensitive data.".into(),
            ))
        }
    }

    /// Runs a write command for this request through the pipeline:
    /// idempotency, one transaction, the response with `status`.
    pub async fn execute<C>(
        &self,
        state: &AppState,
        body: &serde_json::Value,
        status: StatusCode,
        command: C,
    ) -> Result<Response, ApiError>
    where
        C: Command,
        C::Output: Serialize,
    {
        let request = self.write_request(state, body, status)?;
        Ok(written_response(
            state.pipeline.respond(request, command).await?,
        ))
    }

    /// Like [`Caller::execute`] for writes whose inputs come from a data
    /// provider: `prepare` calls it, after the `Idempotency-Key` is
    /// reserved and outside any transaction, and yields the command.
    pub async fn execute_after<C, P>(
        &self,
        state: &AppState,
        body: &serde_json::Value,
        status: StatusCode,
        prepare: P,
    ) -> Result<Response, ApiError>
    where
        C: Command,
        C::Output: Serialize,
        P: Future<Output = Result<C, ApiError>> + Send + 'static,
    {
        let request = self.write_request(state, body, status)?;
        Ok(written_response(
            state.pipeline.respond_after(request, prepare).await?,
        ))
    }

    fn write_request(
        &self,
        state: &AppState,
        body: &serde_json::Value,
        status: StatusCode,
    ) -> Result<WriteRequest, ApiError> {
        Ok(WriteRequest {
            meta: self.context.meta(),
            status,
            key: IdempotencyKey::from_header(
                self.idempotency_key.as_ref(),
                (self.principal.authenticated.id, self.principal.acting.id),
                state.config.environment.as_str(),
                &self.method,
                &self.path,
                body,
            )?,
        })
    }

    /// A single-object response.
    pub fn object<T: Serialize>(&self, status: StatusCode, data: T) -> Result<Response, ApiError> {
        let body = ObjectResponse {
            meta: self.context.meta(),
            response_type: ResponseType::Object,
            data,
        };
        Ok(json_response(status, serde_json::to_string(&body)?))
    }

    /// A paged list response.
    pub fn array<T: Serialize>(
        &self,
        paging: Paging,
        total: u64,
        sort_by: String,
        sort_order: SortOrder,
        data: Vec<T>,
    ) -> Result<Response, ApiError> {
        let meta = self.context.meta();
        let body = ArrayResponse {
            meta: PagedResponseMetadata {
                api_request_id: meta.api_request_id,
                api_request_timestamp: meta.api_request_timestamp,
                max_page_size: MAX_PAGE_SIZE,
                page_number: paging.number,
                page_size: paging.size,
                sort_by,
                sort_order,
                total_items: total,
                total_pages: paging.total_pages(total),
            },
            response_type: ResponseType::Array,
            data,
        };
        Ok(json_response(StatusCode::OK, serde_json::to_string(&body)?))
    }
}

/// The response of a write: its status and envelope, marked when replayed.
fn written_response(written: Written) -> Response {
    let mut response = json_response(
        StatusCode::from_u16(written.status).unwrap_or(StatusCode::OK),
        written.body,
    );
    if written.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}
