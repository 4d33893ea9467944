//! Verifying the webhooks a Straddle server sends (Standard Webhooks): the
//! `webhook-signature` header must hold a `v1,` signature that is the base64
//! HMAC-SHA256 of `"{webhook-id}.{webhook-timestamp}.{body}"` under the
//! endpoint's secret, and the timestamp must be recent.
//!
//! ```
//! # fn example(body: &str, headers: &reqwest::header::HeaderMap) -> Result<(), straddle_sdk::webhooks::WebhookError> {
//! let webhook = straddle_sdk::webhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let event = webhook.verify(body, headers)?;
//! println!("{} {}", event.event_type, event.event_id);
//! # Ok(())
//! # }
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;
use straddle_types::webhook::Event;

/// How far a `webhook-timestamp` may be from now (replay protection).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// Why a webhook was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The secret is not `whsec_` + base64.
    #[error("the webhook secret is not whsec_ followed by base64")]
    BadSecret,
    /// A Standard Webhooks header is missing or malformed.
    #[error("missing or malformed {0} header")]
    Header(&'static str),
    /// The timestamp is too old or too far in the future.
    #[error("the webhook timestamp is outside the tolerance")]
    Timestamp,
    /// No signature matches.
    #[error("no signature matches")]
    Signature,
    /// The body is not an event.
    #[error("the body is not a webhook event: {0}")]
    Body(#[from] serde_json::Error),
}

/// A verifier for one endpoint secret.
#[derive(Clone)]
pub struct Webhook {
    key: Vec<u8>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Webhook(***)")
    }
}

impl Webhook {
    /// A verifier for `secret` (`whsec_…`, as the endpoint shows it).
    pub fn new(secret: &str) -> Result<Webhook, WebhookError> {
        let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
        let key = B64.decode(encoded).map_err(|_| WebhookError::BadSecret)?;
        Ok(Webhook { key })
    }

    /// Verifies a request's body and headers and parses the event.
    pub fn verify(&self, body: &str, headers: &HeaderMap) -> Result<Event, WebhookError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .ok_or(WebhookError::Header(name))
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        self.verify_parts(
            body,
            header("webhook-id")?,
            header("webhook-timestamp")?,
            header("webhook-signature")?,
            now,
        )
    }

    /// [`Webhook::verify`] on the header values, at `now` (unix seconds).
    pub fn verify_parts(
        &self,
        body: &str,
        id: &str,
        timestamp: &str,
        signatures: &str,
        now: i64,
    ) -> Result<Event, WebhookError> {
        let sent: i64 = timestamp
            .parse()
            .map_err(|_| WebhookError::Header("webhook-timestamp"))?;
        if (now - sent).abs() > TOLERANCE_SECONDS {
            return Err(WebhookError::Timestamp);
        }
        let matches = signatures.split(' ').any(|candidate| {
            let Some(encoded) = candidate.strip_prefix("v1,") else {
                return false;
            };
            let Ok(signature) = B64.decode(encoded) else {
                return false;
            };
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
                return false;
            };
            mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
            mac.verify_slice(&signature).is_ok()
        });
        if !matches {
            return Err(WebhookError::Signature);
        }
        Ok(serde_json::from_str(body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn sign(id: &str, timestamp: i64, body: &str) -> String {
        let key = B64.decode(&SECRET[6..]).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn accepts_a_signed_recent_event_and_refuses_tampering_and_old_timestamps() {
        let body = r#"{"event_type":"customer.created.v1","event_id":"0199a000-0000-7000-8000-000000000001","account_id":"0199a000-0000-7000-8000-000000000002","data":{"id":"x"}}"#;
        let webhook = Webhook::new(SECRET).unwrap();
        let signature = format!("v1,bm90IGl0 {}", sign("msg_1", 1_000, body));
        let event = webhook
            .verify_parts(body, "msg_1", "1000", &signature, 1_010)
            .unwrap();
        assert_eq!(event.event_type.as_str(), "customer.created.v1");
        let tampered = body.replace("\"x\"", "\"y\"");
        assert!(matches!(
            webhook.verify_parts(&tampered, "msg_1", "1000", &signature, 1_010),
            Err(WebhookError::Signature)
        ));
        assert!(matches!(
            webhook.verify_parts(body, "msg_1", "1000", &signature, 1_000 + 301),
            Err(WebhookError::Timestamp)
        ));
        assert!(matches!(
            Webhook::new("whsec_***"),
            Err(WebhookError::BadSecret)
        ));
    }
}
