//! Resource handles: one per API resource, each borrowing the [`Client`](crate::Client).

mod bridge;
mod customers;
mod paykeys;
mod sandbox;
mod webhook_endpoints;

pub use bridge::{Bridge, Link};
pub use customers::{CustomerReviews, Customers};
pub use paykeys::{PaykeyReviews, Paykeys};
pub use sandbox::Sandbox;
pub use webhook_endpoints::WebhookEndpoints;
