//! The write path: idempotency and the pipeline every write command runs through.

pub mod idempotency;
pub mod pipeline;
