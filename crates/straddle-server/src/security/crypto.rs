//! Authenticated encryption of data at rest (AES-256-GCM). Each ciphertext
//! names its key id, so keys can rotate: `v1:<key id>:<base64(nonce‖ct)>`.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use secrecy::ExposeSecret;

use crate::error::ApiError;
use crate::security::secrets::Secrets;

/// Encrypts with the active key, decrypts with whichever key a ciphertext names.
pub struct Sealer {
    ciphers: BTreeMap<String, Aes256Gcm>,
    active: String,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// Builds the ciphers from the server's data keys.
    pub fn new(secrets: &Secrets) -> Self {
        let ciphers = secrets
            .data_keys
            .iter()
            .map(|(id, key)| {
                let key: [u8; 32] = key.expose_secret().try_into().unwrap_or([0; 32]);
                (id.clone(), Aes256Gcm::new(&Key::<Aes256Gcm>::from(key)))
            })
            .collect();
        Sealer {
            ciphers,
            active: secrets.active_data_key.clone(),
        }
    }

    /// Encrypts `plaintext`; `context` (e.g. the record id) is bound as
    /// associated data so a ciphertext cannot be moved to another record.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, ApiError> {
        let cipher = self.cipher(&self.active)?;
        // A random 96-bit nonce from the thread's CSPRNG (ChaCha, seeded
        // and reseeded from the OS): no system call per seal, which the
        // SQLite writer thread pays for every sealed column it writes.
        let nonce = Aes256Gcm::generate_nonce(&mut rand::thread_rng());
        let payload = aes_gcm::aead::Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        let ciphertext = cipher
            .encrypt(&nonce, payload)
            .map_err(|_| ApiError::Internal("encryption failed".into()))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        Ok(format!("v1:{}:{}", self.active, B64.encode(blob)))
    }

    /// Decrypts a value made by [`Sealer::seal`] with the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, ApiError> {
        let bad = || ApiError::Internal("stored ciphertext is malformed".into());
        let mut parts = sealed.splitn(3, ':');
        let (Some("v1"), Some(key_id), Some(data)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let blob = B64.decode(data).map_err(|_| bad())?;
        if blob.len() < 12 {
            return Err(bad());
        }
        let (nonce, ciphertext) = blob.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| bad())?;
        let nonce = Nonce::from(nonce);
        let decrypt = |cipher: &Aes256Gcm| {
            let payload = aes_gcm::aead::Payload {
                msg: ciphertext,
                aad: context.as_bytes(),
            };
            cipher.decrypt(&nonce, payload)
        };
        if let Some(cipher) = self.ciphers.get(key_id) {
            return decrypt(cipher)
                .map_err(|_| ApiError::Internal("stored ciphertext failed authentication".into()));
        }
        // Ids written before ids were derived from the keys ("k1", "env"):
        // the right key is whichever authenticates the ciphertext.
        self.ciphers
            .values()
            .find_map(|cipher| decrypt(cipher).ok())
            .ok_or_else(|| ApiError::Internal(format!("data key {key_id} is not configured")))
    }

    /// The prefix of every ciphertext made with the current key.
    pub fn current_prefix(&self) -> String {
        format!("v1:{}:", self.active)
    }

    /// Whether `sealed` was made with the current key.
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.starts_with(&self.current_prefix())
    }

    fn cipher(&self, key_id: &str) -> Result<&Aes256Gcm, ApiError> {
        self.ciphers
            .get(key_id)
            .ok_or_else(|| ApiError::Internal(format!("data key {key_id} is not configured")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_round_trip_and_are_bound_to_their_context() {
        let sealer = Sealer::new(&Secrets::ephemeral());
        let sealed = sealer.seal(b"004417253381", "paykey:1").unwrap();
        assert!(!sealed.contains("004417253381"));
        assert!(sealed.starts_with("v1:d"));
        assert!(sealer.is_current(&sealed));
        assert_eq!(sealer.open(&sealed, "paykey:1").unwrap(), b"004417253381");
        assert!(sealer.open(&sealed, "paykey:2").is_err());
    }
}
