//! Wire types of the Straddle API: requests, responses, enums, the response
//! envelope and the error body. Shared by the server, the SDK and the CLI so
//! that all three agree on the JSON by construction.

pub mod common;
pub mod customer;
pub mod envelope;
pub mod paykey;
pub mod webhook;

pub use common::{Metadata, Timestamp};
pub use envelope::{
    ApiErrorBody, ArrayResponse, ErrorItem, ErrorResponse, ErrorType, ObjectResponse,
    PagedResponseMetadata, ResponseMetadata, ResponseType, SortOrder,
};
