//! Server secrets: the HS256 key that signs API keys and bridge tokens, and
//! the AES-256-GCM data keys. Kept in a 0600 file outside the database (or
//! given through the environment), never logged.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};

/// The server's secret material.
pub struct Secrets {
    /// HS256 key for API keys and bridge tokens.
    pub jwt_key: SecretSlice<u8>,
    /// Data-encryption keys by id; `active_data_key` encrypts new data.
    pub data_keys: BTreeMap<String, SecretSlice<u8>>,
    /// Id of the key used for new ciphertexts.
    pub active_data_key: String,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(***)")
    }
}

#[derive(Serialize, Deserialize)]
struct SecretsFile {
    jwt_key: String,
    data_keys: BTreeMap<String, String>,
    active_data_key: String,
}

/// Errors loading secrets; they name the file or variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The file could not be read or written.
    #[error("secrets file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The file or a variable does not hold what it should.
    #[error("{0}")]
    Invalid(String),
}

impl Secrets {
    /// Loads the secrets file, creating it (mode 0600) with fresh random keys
    /// when it does not exist. `STRADDLE_JWT_SECRET` and `STRADDLE_DATA_KEY`
    /// (base64) override the file.
    pub fn load_or_create(path: &Path) -> Result<Secrets, SecretsError> {
        let io = |source| SecretsError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = if path.exists() {
            let text = std::fs::read_to_string(path).map_err(io)?;
            serde_json::from_str::<SecretsFile>(&text).map_err(|e| {
                SecretsError::Invalid(format!("secrets file {}: {e}", path.display()))
            })?
        } else {
            let file = SecretsFile {
                jwt_key: B64.encode(random_bytes()),
                data_keys: BTreeMap::from([("k1".to_string(), B64.encode(random_bytes()))]),
                active_data_key: "k1".into(),
            };
            write_private(path, &serde_json::to_vec_pretty(&file).unwrap_or_default())
                .map_err(io)?;
            file
        };
        let mut secrets = Secrets::from_file(file)?;
        if let Ok(value) = std::env::var("STRADDLE_JWT_SECRET") {
            secrets.jwt_key = decode_key("STRADDLE_JWT_SECRET", &value)?;
        }
        if let Ok(value) = std::env::var("STRADDLE_DATA_KEY") {
            secrets
                .data_keys
                .insert("env".into(), decode_key("STRADDLE_DATA_KEY", &value)?);
            secrets.active_data_key = "env".into();
        }
        Ok(secrets)
    }

    fn from_file(file: SecretsFile) -> Result<Secrets, SecretsError> {
        let data_keys = file
            .data_keys
            .iter()
            .map(|(id, key)| Ok((id.clone(), decode_key(&format!("data key {id}"), key)?)))
            .collect::<Result<BTreeMap<_, _>, SecretsError>>()?;
        if !data_keys.contains_key(&file.active_data_key) {
            return Err(SecretsError::Invalid(format!(
                "active_data_key {} is not among data_keys",
                file.active_data_key
            )));
        }
        Ok(Secrets {
            jwt_key: decode_key("jwt_key", &file.jwt_key)?,
            data_keys,
            active_data_key: file.active_data_key,
        })
    }

    /// Fresh random secrets that live only in memory (tests).
    pub fn ephemeral() -> Secrets {
        Secrets {
            jwt_key: random_bytes().to_vec().into(),
            data_keys: BTreeMap::from([("k1".to_string(), random_bytes().to_vec().into())]),
            active_data_key: "k1".into(),
        }
    }

    /// The JWT key bytes.
    pub fn jwt_key_bytes(&self) -> &[u8] {
        self.jwt_key.expose_secret()
    }
}

impl Secrets {
    /// The key bridge tokens are signed with: derived from the JWT key so
    /// that a bridge token can never pass as an API key or vice versa.
    pub fn bridge_key(&self) -> SigningKey {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.jwt_key_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"straddle bridge token key v1");
        SigningKey(mac.finalize().into_bytes().to_vec())
    }
}

/// An HMAC signing key; `Debug` hides it.
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// The key bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn decode_key(name: &str, value: &str) -> Result<SecretSlice<u8>, SecretsError> {
    let bytes = B64
        .decode(value.trim())
        .map_err(|_| SecretsError::Invalid(format!("{name} is not valid base64")))?;
    if bytes.len() != 32 {
        return Err(SecretsError::Invalid(format!(
            "{name} must decode to 32 bytes"
        )));
    }
    Ok(bytes.into())
}

/// Writes a file only its owner can read (0600), creating parent folders.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_file_is_private_and_reloads_the_same_keys() {
        let dir = std::env::temp_dir().join(format!("straddle-secrets-{}", uuid::Uuid::now_v7()));
        let path = dir.join("s.json");
        let first = Secrets::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = Secrets::load_or_create(&path).unwrap();
        assert_eq!(first.jwt_key_bytes(), second.jwt_key_bytes());
        assert_eq!(format!("{first:?}"), "Secrets(***)");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
