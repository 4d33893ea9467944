//! Server secrets: the HS256 secret that signs API keys and bridge tokens,
//! and the AES-256-GCM data keys. Never logged.
//!
//! One resolution order, for `serve` and every `admin` command:
//! 1. the environment — `STRADDLE_JWT_SECRET` and `STRADDLE_DATA_KEY`
//!    (base64 of 32 bytes) are used as they are and replace the file's
//!    values, so with both set no file is read or written;
//! 2. the secrets file (`--secrets-file`);
//! 3. a new 0600 secrets file with fresh keys, created only when the
//!    database has no check values yet (its first start).
//!
//! The database keeps a check value of each current secret (an HMAC of a
//! fixed label, never the secret). Secrets that do not match them are
//! refused with an error naming the secret and where it was read from.
//! Rotation: `STRADDLE_PREVIOUS_DATA_KEYS` (comma-separated keys that still
//! decrypt) and `STRADDLE_PREVIOUS_JWT_SECRETS` (`KEY` or
//! `KEY@2027-01-01T00:00:00Z`: API keys signed with it stay valid until then).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::Mac;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::ApiError;
use crate::storage::db::Db;

/// Environment variable of the current signing secret.
pub const ENV_JWT_SECRET: &str = "STRADDLE_JWT_SECRET";
/// Environment variable of the current data key.
pub const ENV_DATA_KEY: &str = "STRADDLE_DATA_KEY";
/// Environment variable of older signing secrets (`KEY[@UNTIL],…`).
pub const ENV_PREVIOUS_JWT_SECRETS: &str = "STRADDLE_PREVIOUS_JWT_SECRETS";
/// Environment variable of older data keys, still used to decrypt.
pub const ENV_PREVIOUS_DATA_KEYS: &str = "STRADDLE_PREVIOUS_DATA_KEYS";

/// A signing secret that is no longer current but still verifies API keys,
/// until `until` if given.
pub struct PreviousJwtSecret {
    /// The secret.
    pub key: SecretSlice<u8>,
    /// After this instant keys signed with it are refused.
    pub until: Option<DateTime<Utc>>,
}

/// The server's secret material, and where each part was read from.
pub struct Secrets {
    /// HS256 key for API keys and bridge tokens.
    pub jwt_key: SecretSlice<u8>,
    /// Older signing secrets still accepted.
    pub previous_jwt_keys: Vec<PreviousJwtSecret>,
    /// Data-encryption keys by id; `active_data_key` encrypts new data.
    pub data_keys: BTreeMap<String, SecretSlice<u8>>,
    /// Id of the key used for new ciphertexts.
    pub active_data_key: String,
    /// Where the signing secret came from (a variable name or a file path).
    pub jwt_origin: String,
    /// Where the data key came from.
    pub data_origin: String,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(***)")
    }
}

/// The secrets file: JSON, mode 0600.
#[derive(Serialize, Deserialize)]
struct SecretsFile {
    jwt_key: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    previous_jwt_keys: Vec<String>,
    data_keys: BTreeMap<String, String>,
    active_data_key: String,
}

/// Errors resolving secrets; they name the secret and its origin.
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
    /// The secrets differ from those the database was set up with.
    #[error("{0}")]
    Mismatch(String),
    /// The database could not be asked.
    #[error("database: {0}")]
    Database(#[from] ApiError),
}

/// The environment variables secrets are read from: the process's, or a
/// given set (tests). `Debug` hides the values.
#[derive(Clone, Default)]
pub struct SecretEnv(BTreeMap<String, String>);

impl fmt::Debug for SecretEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.keys().map(|name| format!("{name}=***")))
            .finish()
    }
}

impl SecretEnv {
    /// The `STRADDLE_*` secret variables of this process.
    pub fn from_process() -> Self {
        let names = [
            ENV_JWT_SECRET,
            ENV_DATA_KEY,
            ENV_PREVIOUS_JWT_SECRETS,
            ENV_PREVIOUS_DATA_KEYS,
        ];
        SecretEnv(
            names
                .iter()
                .filter_map(|name| {
                    let value = std::env::var(name).ok()?;
                    (!value.trim().is_empty()).then(|| (name.to_string(), value))
                })
                .collect(),
        )
    }

    /// Exactly these variables.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Self {
        SecretEnv(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Where secrets are resolved from.
#[derive(Clone, Debug)]
pub struct SecretSources {
    /// The secrets file (read when a variable is missing; created on a
    /// database's first start).
    pub file: PathBuf,
    /// The environment.
    pub env: SecretEnv,
}

impl SecretSources {
    /// The file and this process's environment.
    pub fn new(file: PathBuf) -> Self {
        SecretSources {
            file,
            env: SecretEnv::from_process(),
        }
    }

    /// Resolves the secrets (environment, then file, then a new file if the
    /// database has never been given secrets) and checks them against the
    /// database's check values, recording them at first start.
    pub async fn resolve(&self, db: &Db, clock: &dyn Clock) -> Result<Secrets, SecretsError> {
        let configured = check::recorded(db).await?;
        let secrets = self.read(configured.is_empty())?;
        check::verify_and_record(db, &secrets, clock.timestamp().to_canonical()).await?;
        Ok(secrets)
    }

    /// Environment, then file; creates the file when `may_create` and
    /// something is missing.
    pub fn read(&self, may_create: bool) -> Result<Secrets, SecretsError> {
        let env_jwt = self.env.get(ENV_JWT_SECRET);
        let env_data = self.env.get(ENV_DATA_KEY);
        let file = if env_jwt.is_some() && env_data.is_some() {
            None
        } else if self.file.exists() {
            Some(read_file(&self.file)?)
        } else if may_create {
            // Another process starting at the same moment may have made it.
            match create_file(&self.file) {
                Err(SecretsError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    Some(read_file(&self.file)?)
                }
                created => Some(created?),
            }
        } else {
            let missing = if env_jwt.is_none() {
                ENV_JWT_SECRET
            } else {
                ENV_DATA_KEY
            };
            return Err(SecretsError::Mismatch(format!(
                "{missing} is not set and the secrets file {} does not exist, but this database \
                 already has secrets: give this process the same secrets as the instances already \
                 using it (both variables, or a copy of their secrets file); \
                 `straddle admin secrets check` tells whether they match",
                self.file.display()
            )));
        };
        let file_origin = format!("secrets file {}", self.file.display());
        let (jwt_key, previous_jwt_keys, jwt_origin) = match (env_jwt, &file) {
            (Some(value), _) => (
                decode_key(ENV_JWT_SECRET, value)?,
                parse_previous_jwt(
                    ENV_PREVIOUS_JWT_SECRETS,
                    self.env.get(ENV_PREVIOUS_JWT_SECRETS).unwrap_or(""),
                )?,
                format!("environment variable {ENV_JWT_SECRET}"),
            ),
            (None, Some(file)) => (
                decode_key(&format!("jwt_key of {file_origin}"), &file.jwt_key)?,
                parse_previous_jwt(
                    &format!("previous_jwt_keys of {file_origin}"),
                    &file.previous_jwt_keys.join(","),
                )?,
                file_origin.clone(),
            ),
            (None, None) => unreachable!("the file is read unless both variables are set"),
        };
        let (data_keys, active_data_key, data_origin) = match (env_data, &file) {
            (Some(value), _) => {
                let current = decode_key(ENV_DATA_KEY, value)?;
                let active = data_key_id(&current);
                let mut keys = BTreeMap::new();
                for (i, previous) in self
                    .env
                    .get(ENV_PREVIOUS_DATA_KEYS)
                    .unwrap_or("")
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .enumerate()
                {
                    let key = decode_key(&format!("{ENV_PREVIOUS_DATA_KEYS}[{i}]"), previous)?;
                    keys.insert(data_key_id(&key), key);
                }
                keys.insert(active.clone(), current);
                (keys, active, format!("environment variable {ENV_DATA_KEY}"))
            }
            (None, Some(file)) => {
                let keys = file
                    .data_keys
                    .iter()
                    .map(|(id, key)| {
                        Ok((
                            id.clone(),
                            decode_key(&format!("data key {id} of {file_origin}"), key)?,
                        ))
                    })
                    .collect::<Result<BTreeMap<_, _>, SecretsError>>()?;
                if !keys.contains_key(&file.active_data_key) {
                    return Err(SecretsError::Invalid(format!(
                        "{file_origin}: active_data_key {} is not among data_keys",
                        file.active_data_key
                    )));
                }
                (keys, file.active_data_key.clone(), file_origin)
            }
            (None, None) => unreachable!("the file is read unless both variables are set"),
        };
        Ok(Secrets {
            jwt_key,
            previous_jwt_keys,
            data_keys,
            active_data_key,
            jwt_origin,
            data_origin,
        })
    }
}

impl Secrets {
    /// Reads the secrets from the environment and `path`, creating the file
    /// when it does not exist; no database check (tests, tools).
    pub fn load_or_create(path: &Path) -> Result<Secrets, SecretsError> {
        SecretSources::new(path.to_path_buf()).read(true)
    }

    /// Fresh random secrets that live only in memory (tests).
    pub fn ephemeral() -> Secrets {
        let data_key: SecretSlice<u8> = random_bytes().to_vec().into();
        let id = data_key_id(&data_key);
        Secrets {
            jwt_key: random_bytes().to_vec().into(),
            previous_jwt_keys: Vec::new(),
            data_keys: BTreeMap::from([(id.clone(), data_key)]),
            active_data_key: id,
            jwt_origin: "memory".into(),
            data_origin: "memory".into(),
        }
    }

    /// The JWT key bytes.
    pub fn jwt_key_bytes(&self) -> &[u8] {
        self.jwt_key.expose_secret()
    }

    /// The key bridge tokens are signed with: derived from the JWT key so
    /// that a bridge token can never pass as an API key or vice versa.
    pub fn bridge_key(&self) -> SigningKey {
        bridge_key_of(self.jwt_key_bytes())
    }

    /// Bridge-token keys of the previous signing secrets still valid at `now`.
    pub fn previous_bridge_keys(&self, now: DateTime<Utc>) -> Vec<SigningKey> {
        self.previous_jwt_keys
            .iter()
            .filter(|p| p.until.is_none_or(|until| now < until))
            .map(|p| bridge_key_of(p.key.expose_secret()))
            .collect()
    }
}

fn bridge_key_of(jwt_key: &[u8]) -> SigningKey {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(jwt_key).expect("HMAC takes any key length");
    mac.update(b"straddle bridge token key v1");
    SigningKey(mac.finalize().into_bytes().to_vec())
}

/// A fresh pair of secrets, base64: (signing secret, data key).
pub fn generate() -> (String, String) {
    (B64.encode(random_bytes()), B64.encode(random_bytes()))
}

/// Writes a fresh secrets file (0600); fails if `path` exists.
pub fn write_new_file(path: &Path) -> Result<(), SecretsError> {
    create_file(path).map(|_| ())
}

/// The id a data key's ciphertexts carry: derived from the key, so the same
/// key has the same id wherever it is configured.
pub fn data_key_id(key: &SecretSlice<u8>) -> String {
    let value = check_value(key.expose_secret(), "data key id");
    format!("d{}", &value[..12])
}

/// HMAC-SHA256 of a fixed label keyed by `secret`, hex: identifies a secret
/// without revealing it.
pub fn check_value(secret: &[u8], label: &str) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"straddle secret check v1: ");
    mac.update(label.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Check values in the database: recording, comparing, rotating.
pub mod check {
    use secrecy::ExposeSecret;

    use super::{check_value, Secrets, SecretsError};
    use crate::storage::db::Db;

    /// Which secret a check value is of.
    #[derive(Clone, Copy, Debug)]
    enum Kind {
        Jwt,
        Data,
    }

    impl Kind {
        fn name(self) -> &'static str {
            match self {
                Kind::Jwt => "jwt_secret",
                Kind::Data => "data_key",
            }
        }

        fn describe(self) -> &'static str {
            match self {
                Kind::Jwt => "the API-key signing secret",
                Kind::Data => "the data key",
            }
        }

        /// (current, every accepted) check values of `secrets`.
        fn values(self, secrets: &Secrets) -> (String, Vec<String>) {
            let label = self.name();
            match self {
                Kind::Jwt => {
                    let current = check_value(secrets.jwt_key_bytes(), label);
                    let mut all: Vec<String> = secrets
                        .previous_jwt_keys
                        .iter()
                        .map(|p| check_value(p.key.expose_secret(), label))
                        .collect();
                    all.push(current.clone());
                    (current, all)
                }
                Kind::Data => {
                    let active = &secrets.data_keys[&secrets.active_data_key];
                    let all = secrets
                        .data_keys
                        .values()
                        .map(|k| check_value(k.expose_secret(), label))
                        .collect();
                    (check_value(active.expose_secret(), label), all)
                }
            }
        }

        fn origin(self, secrets: &Secrets) -> &str {
            match self {
                Kind::Jwt => &secrets.jwt_origin,
                Kind::Data => &secrets.data_origin,
            }
        }
    }

    /// The check values the database holds, by name.
    pub async fn recorded(db: &Db) -> Result<Vec<(String, String)>, SecretsError> {
        let rows = db
            .reader()
            .await?
            .conn()
            .fetch_all("SELECT name, check_value FROM secret_check", vec![])
            .await?;
        rows.iter()
            .map(|row| Ok((row.text("name")?, row.text("check_value")?)))
            .collect()
    }

    /// Whether `secrets` match the database (the recorded current secrets
    /// are among those this process holds). `Err` names the first that differs.
    pub async fn matches(db: &Db, secrets: &Secrets) -> Result<(), SecretsError> {
        let recorded = recorded(db).await?;
        for kind in [Kind::Jwt, Kind::Data] {
            let (_, all) = kind.values(secrets);
            if let Some((_, value)) = recorded.iter().find(|(name, _)| name == kind.name()) {
                if !all.contains(value) {
                    return Err(differs(kind, secrets));
                }
            }
        }
        Ok(())
    }

    fn differs(kind: Kind, secrets: &Secrets) -> SecretsError {
        SecretsError::Mismatch(format!(
            "{} read from {} differs from the one this database was set up with; every instance \
             and admin command on one database needs the same secrets (to rotate, keep the \
             current one among the previous ones: see `straddle serve --help`)",
            kind.describe(),
            kind.origin(secrets)
        ))
    }

    /// Records the check values at first start; refuses secrets that do not
    /// match; records a new current secret when the recorded one is among
    /// this process's previous secrets (a rotation).
    pub async fn verify_and_record(
        db: &Db,
        secrets: &Secrets,
        now: String,
    ) -> Result<(), SecretsError> {
        for kind in [Kind::Jwt, Kind::Data] {
            let (current, all) = kind.values(secrets);
            let (name, value, at) = (kind.name(), current.clone(), now.clone());
            db.write(Box::new(move |tx| {
                Box::pin(async move {
                    tx.execute(
                        "INSERT INTO secret_check (name, check_value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                        crate::args![name, value, at],
                    )
                    .await
                })
            }))
            .await?;
            let recorded = recorded(db).await?;
            let stored = recorded
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            if stored == current {
                continue;
            }
            if !all.contains(&stored) {
                return Err(differs(kind, secrets));
            }
            let at = now.clone();
            db.write(Box::new(move |tx| {
                Box::pin(async move {
                    tx.execute(
                        "UPDATE secret_check SET check_value = $1, updated_at = $2 WHERE name = $3 AND check_value = $4",
                        crate::args![current, at, name, stored],
                    )
                    .await
                })
            }))
            .await?;
            tracing::info!(
                secret = name,
                "recorded a rotated secret as the current one"
            );
        }
        Ok(())
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

fn read_file(path: &Path) -> Result<SecretsFile, SecretsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretsError::Io {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_str::<SecretsFile>(&text)
        .map_err(|e| SecretsError::Invalid(format!("secrets file {}: {e}", path.display())))
}

fn create_file(path: &Path) -> Result<SecretsFile, SecretsError> {
    let data_key: SecretSlice<u8> = random_bytes().to_vec().into();
    let id = data_key_id(&data_key);
    let file = SecretsFile {
        jwt_key: B64.encode(random_bytes()),
        previous_jwt_keys: Vec::new(),
        data_keys: BTreeMap::from([(id.clone(), B64.encode(data_key.expose_secret()))]),
        active_data_key: id,
    };
    write_private(path, &serde_json::to_vec_pretty(&file).unwrap_or_default()).map_err(
        |source| SecretsError::Io {
            path: path.display().to_string(),
            source,
        },
    )?;
    Ok(file)
}

fn parse_previous_jwt(name: &str, text: &str) -> Result<Vec<PreviousJwtSecret>, SecretsError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            let (key, until) = match entry.split_once('@') {
                Some((key, until)) => {
                    let until = DateTime::parse_from_rfc3339(until.trim()).map_err(|_| {
                        SecretsError::Invalid(format!(
                            "{name}: {until} is not an RFC 3339 time (e.g. 2027-01-01T00:00:00Z)"
                        ))
                    })?;
                    (key, Some(until.with_timezone(&Utc)))
                }
                None => (entry, None),
            };
            Ok(PreviousJwtSecret {
                key: decode_key(name, key)?,
                until,
            })
        })
        .collect()
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

/// Writes a new file only its owner can read (0600), creating parent
/// folders. It appears whole or not at all (written aside, then linked), so
/// a process starting at the same moment never reads it half-written; an
/// existing file is never replaced (`AlreadyExists`).
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let aside = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&aside).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&aside, path));
    let _ = std::fs::remove_file(&aside);
    linked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_file_is_private_and_reloads_the_same_keys() {
        let dir = std::env::temp_dir().join(format!("straddle-secrets-{}", uuid::Uuid::now_v7()));
        let path = dir.join("s.json");
        let sources = SecretSources {
            file: path.clone(),
            env: SecretEnv::default(),
        };
        let first = sources.read(true).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = sources.read(false).unwrap();
        assert_eq!(first.jwt_key_bytes(), second.jwt_key_bytes());
        assert_eq!(format!("{first:?}"), "Secrets(***)");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn environment_values_replace_the_file_and_need_no_file() {
        let (jwt, data) = generate();
        let sources = SecretSources {
            file: PathBuf::from("/nonexistent/read-only/secrets.json"),
            env: SecretEnv::from_pairs([(ENV_JWT_SECRET, jwt.clone()), (ENV_DATA_KEY, data)]),
        };
        let secrets = sources.read(true).unwrap();
        assert_eq!(B64.encode(secrets.jwt_key_bytes()), jwt);
        assert_eq!(secrets.data_keys.len(), 1);
        assert!(secrets.data_origin.contains(ENV_DATA_KEY));
        assert!(!format!("{:?}", sources.env).contains(&jwt));
    }

    #[test]
    fn previous_signing_secrets_take_an_optional_end() {
        let (a, b) = generate();
        let parsed = parse_previous_jwt("x", &format!("{a}@2027-01-01T00:00:00Z, {b}")).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(parsed[0].until.is_some() && parsed[1].until.is_none());
        assert!(parse_previous_jwt("x", &format!("{a}@tomorrow")).is_err());
    }
}
