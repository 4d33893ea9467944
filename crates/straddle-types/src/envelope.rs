//! The response envelope (`meta`, `response_type`, `data` | `error`) and the
//! error body every failure uses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Timestamp;

/// The structure of the returned content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseType {
    /// `data` holds one object.
    Object,
    /// `data` holds an array of objects.
    Array,
    /// `error` holds an error object.
    Error,
    /// No payload.
    None,
}

/// Metadata about the API request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResponseMetadata {
    /// Unique identifier of this API request, useful for troubleshooting.
    pub api_request_id: Uuid,
    /// When the request was received (RFC 3339, microseconds).
    #[serde(with = "micros")]
    #[schema(value_type = String, format = DateTime)]
    pub api_request_timestamp: Timestamp,
}

/// Sort direction of a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Ascending.
    Asc,
    /// Descending (the default).
    #[default]
    Desc,
}

/// Metadata of a paged list response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PagedResponseMetadata {
    /// Unique identifier of this API request.
    pub api_request_id: Uuid,
    /// When the request was received.
    #[serde(with = "micros")]
    #[schema(value_type = String, format = DateTime)]
    pub api_request_timestamp: Timestamp,
    /// Largest page size this endpoint accepts.
    pub max_page_size: u32,
    /// Current page, from 1.
    pub page_number: u32,
    /// Items per page requested.
    pub page_size: u32,
    /// Field the list is sorted on.
    pub sort_by: String,
    /// Sort direction.
    pub sort_order: SortOrder,
    /// Matching items across all pages.
    pub total_items: u64,
    /// Number of pages.
    pub total_pages: u64,
}

/// A single-object response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ObjectResponse<T> {
    /// Request metadata.
    pub meta: ResponseMetadata,
    /// Always `object`.
    pub response_type: ResponseType,
    /// The resource.
    pub data: T,
}

/// A paged list response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArrayResponse<T> {
    /// Request and paging metadata.
    pub meta: PagedResponseMetadata,
    /// Always `array`.
    pub response_type: ResponseType,
    /// The page of resources.
    pub data: Vec<T>,
}

/// The four documented error types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// Malformed or missing parameters, bad headers, conflicts, unknown ids.
    InvalidRequestError,
    /// Well-formed data that fails a content check.
    ValidationError,
    /// Missing, invalid or insufficient credentials.
    AuthenticationError,
    /// A problem on the server's side.
    ApiError,
}

/// One field-level problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorItem {
    /// The field path or code the problem refers to.
    pub reference: String,
    /// What is wrong with it.
    pub detail: String,
}

/// The error object of an error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiErrorBody {
    /// The HTTP status code.
    pub status: u16,
    /// The error type.
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    /// A short summary.
    pub title: String,
    /// A longer explanation.
    pub detail: String,
    /// Per-field problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ErrorItem>>,
}

/// An error response: `{meta, response_type: "error", error}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    /// Request metadata.
    pub meta: ResponseMetadata,
    /// Always `error`.
    pub response_type: ResponseType,
    /// What went wrong.
    pub error: ApiErrorBody,
}

/// `api_request_timestamp` keeps six fractional digits like the real service.
mod micros {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::Timestamp;

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_micros_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        Timestamp::deserialize(d)
    }
}
