//! Standard Webhooks signing: a secret is `whsec_` + base64 of random
//! bytes; a signature is `v1,` + base64 of HMAC-SHA256 over
//! `"{webhook-id}.{webhook-timestamp}.{body}"` keyed with the decoded bytes.
//! The `webhook-signature` header carries one signature per live secret,
//! separated by spaces.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use straddle_types::webhook::WebhookSecret;

use crate::error::ApiError;

/// The prefix of every secret.
pub const PREFIX: &str = "whsec_";

/// Random bytes in a new secret (Standard Webhooks asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// A new random secret.
pub fn new_secret() -> WebhookSecret {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    WebhookSecret(format!("{PREFIX}{}", B64.encode(bytes)))
}

/// `v1,<signature>` of one message under one secret.
pub fn sign(
    secret: &WebhookSecret,
    id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, ApiError> {
    let encoded = secret.0.strip_prefix(PREFIX).unwrap_or(&secret.0);
    let key = B64
        .decode(encoded)
        .map_err(|_| ApiError::Internal("stored webhook secret is not base64".into()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|_| ApiError::Internal("webhook secret is unusable".into()))?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: one signature per secret.
pub fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, ApiError> {
    let signatures = secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        // The example in the Standard Webhooks specification.
        let secret = WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn new_secrets_are_prefixed_random_and_masked_in_debug() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.0.starts_with(PREFIX));
        assert_eq!(
            B64.decode(&a.0[PREFIX.len()..]).unwrap().len(),
            SECRET_BYTES
        );
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "***");
    }
}
