//! Flags shared by the API commands: the global ones, the header
//! parameters, object flags (JSON or dotted fields) and `--metadata`.

use clap::{ArgAction, Args, Subcommand, ValueEnum};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use straddle_sdk::types::paykey::PaykeyConfig;
use straddle_sdk::types::{Metadata, Timestamp};
use straddle_sdk::{Client, Environment, RequestOptions, API_KEY_ENV};
use uuid::Uuid;

use super::failure::CliError;
use super::output::Format;

/// A resource's commands plus the global flags, which may also be given
/// after the subcommand (`straddle bridge initialize --api-key …`).
#[derive(Args)]
pub struct Group<C: Subcommand> {
    #[command(flatten)]
    pub globals: GlobalArgs,
    #[command(subcommand)]
    pub command: C,
}

const GLOBAL: &str = "Global options";
const HEADERS: &str = "Header params";

/// Flags every API command takes.
#[derive(Args)]
pub struct GlobalArgs {
    /// Secret API key (default: $STRADDLE_API_KEY). Example: --api-key 'My API Key'
    #[arg(long, global = true, value_name = "KEY", help_heading = GLOBAL)]
    pub api_key: Option<String>,
    /// API base URL (default: $STRADDLE_BASE_URL, else the environment's URL). Example: --base-url http://127.0.0.1:8080
    #[arg(long, global = true, value_name = "URL", conflicts_with = "environment", help_heading = GLOBAL)]
    pub base_url: Option<String>,
    /// sandbox (https://sandbox.straddle.com, the default) or production (https://production.straddle.com). Example: --environment production
    #[arg(long, global = true, value_enum, hide_possible_values = true, help_heading = GLOBAL)]
    pub environment: Option<EnvironmentArg>,
    /// Output: json, pretty (coloured), jsonl (one line) or yaml; default pretty on a terminal, json otherwise. Example: --format yaml
    #[arg(long, global = true, value_enum, hide_possible_values = true, help_heading = GLOBAL)]
    pub format: Option<Format>,
    /// Log each request and response (method, URL, status, timing, retries; never the API key) to stderr. Example: --debug
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub debug: bool,
}

/// `--environment` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum EnvironmentArg {
    /// https://sandbox.straddle.com
    Sandbox,
    /// https://production.straddle.com
    Production,
}

impl GlobalArgs {
    /// The SDK client these flags describe; the SDK reads `STRADDLE_API_KEY`
    /// and `STRADDLE_BASE_URL` for what the flags leave out.
    pub fn client(&self) -> Result<Client, CliError> {
        let mut builder = Client::builder();
        let key_in_env = std::env::var(API_KEY_ENV).is_ok_and(|key| !key.is_empty());
        match &self.api_key {
            Some(key) => builder = builder.api_key(key.as_str()),
            None if !key_in_env => return Err(CliError::NoApiKey),
            None => {}
        }
        if let Some(url) = &self.base_url {
            builder = builder.base_url(url.as_str());
        }
        if let Some(environment) = self.environment {
            builder = builder.environment(match environment {
                EnvironmentArg::Sandbox => Environment::Sandbox,
                EnvironmentArg::Production => Environment::Production,
            });
        }
        Ok(builder.build()?)
    }
}

/// Header parameters of a read.
#[derive(Args)]
pub struct ReadHeaders {
    /// Header param: your identifier to trace and debug a series of requests. Example: --correlation-id checkout-flow-42
    #[arg(long, value_name = "ID", help_heading = HEADERS)]
    correlation_id: Option<String>,
    /// Header param: your identifier to trace and debug this request. Example: --request-id req-0001
    #[arg(long, value_name = "ID", help_heading = HEADERS)]
    request_id: Option<String>,
    /// Header param: for platforms, the account to act for. Example: --straddle-account-id 0199a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b
    #[arg(long, value_name = "ACCOUNT_ID", help_heading = HEADERS)]
    straddle_account_id: Option<String>,
}

/// Header parameters of a write.
#[derive(Args)]
pub struct WriteHeaders {
    #[command(flatten)]
    read: ReadHeaders,
    /// Header param: 10–40 characters; repeating the command with the same key returns the first response instead of acting twice (default: a generated key). Example: --idempotency-key order-42-attempt-1
    #[arg(long, value_name = "KEY", help_heading = HEADERS)]
    idempotency_key: Option<String>,
}

/// Turns header flags into the SDK's per-request options.
pub trait Headers {
    /// The options to pass to the SDK call.
    fn options(self) -> Option<RequestOptions>;
}

impl ReadHeaders {
    fn fields(self) -> RequestOptions {
        RequestOptions {
            correlation_id: self.correlation_id,
            request_id: self.request_id,
            straddle_account_id: self.straddle_account_id,
            ..Default::default()
        }
    }
}

impl Headers for ReadHeaders {
    fn options(self) -> Option<RequestOptions> {
        Some(self.fields())
    }
}

impl Headers for WriteHeaders {
    fn options(self) -> Option<RequestOptions> {
        Some(RequestOptions {
            idempotency_key: self.idempotency_key,
            ..self.read.fields()
        })
    }
}

/// A command on one resource: its id and header flags.
#[derive(Args)]
pub struct Target<H: Args + Headers> {
    /// Path param: the id of the customer or paykey. Example: --id 182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e
    #[arg(long)]
    pub id: Uuid,
    #[command(flatten)]
    pub headers: H,
}

/// `--config` for paykeys: JSON, or one dotted flag per field.
#[derive(Args)]
pub struct PaykeyConfigArgs {
    /// Body param: processing options as JSON ({processing_method, sandbox_outcome}). Example: --config '{"sandbox_outcome":"active"}'
    #[arg(long, value_name = "JSON")]
    config: Option<String>,
    /// Body param: config.processing_method: inline, background or skip. Example: --config.processing-method background
    #[arg(
        id = "config.processing-method",
        long = "config.processing-method",
        value_name = "METHOD"
    )]
    processing_method: Option<String>,
    /// Body param: config.sandbox_outcome (sandbox only): standard, active, rejected or review. Example: --config.sandbox-outcome active
    #[arg(
        id = "config.sandbox-outcome",
        long = "config.sandbox-outcome",
        value_name = "OUTCOME"
    )]
    sandbox_outcome: Option<String>,
}

impl PaykeyConfigArgs {
    /// The `config` body field, if any flag set it.
    pub fn value(self) -> Result<Option<PaykeyConfig>, CliError> {
        object(
            "config",
            self.config,
            [
                ("processing_method", self.processing_method),
                ("sandbox_outcome", self.sandbox_outcome),
            ],
        )
    }
}

/// `--metadata`: a JSON object, or repeated `key=value`.
#[derive(Args)]
pub struct MetadataArgs {
    /// Body param: up to 20 key/value pairs, as a JSON object or repeated key=value. Example: --metadata plan=gold --metadata region=us
    #[arg(long, value_name = "JSON|KEY=VALUE", action = ArgAction::Append)]
    metadata: Vec<String>,
}

impl MetadataArgs {
    /// The `metadata` body field, if given.
    pub fn value(self) -> Result<Option<Metadata>, CliError> {
        if self.metadata.is_empty() {
            return Ok(None);
        }
        let mut pairs = Metadata::new();
        for entry in self.metadata {
            if entry.trim_start().starts_with('{') {
                let map: Metadata = serde_json::from_str(&entry).map_err(|err| {
                    CliError::Usage(format!("--metadata: not a JSON object of strings: {err}"))
                })?;
                pairs.extend(map);
            } else {
                let (key, value) = entry.split_once('=').ok_or_else(|| {
                    CliError::Usage(format!(
                        "--metadata {entry:?}: expected key=value or a JSON object"
                    ))
                })?;
                pairs.insert(key.to_string(), value.to_string());
            }
        }
        Ok(Some(pairs))
    }
}

/// Builds an object body field from its JSON flag and its dotted flags
/// (which win over the JSON's fields), then checks it against the wire type.
pub fn object<T: DeserializeOwned, const N: usize>(
    name: &str,
    json: Option<String>,
    fields: [(&str, Option<String>); N],
) -> Result<Option<T>, CliError> {
    let flag = name.replace('_', "-");
    let mut map = match &json {
        Some(text) => serde_json::from_str::<Map<String, Value>>(text)
            .map_err(|err| CliError::Usage(format!("--{flag}: expected a JSON object: {err}")))?,
        None => Map::new(),
    };
    for (field, value) in fields {
        if let Some(value) = value {
            map.insert(field.to_string(), Value::String(value));
        }
    }
    if json.is_none() && map.is_empty() {
        return Ok(None);
    }
    serde_json::from_value(Value::Object(map))
        .map(Some)
        .map_err(|err| CliError::Usage(format!("--{flag}: {err}")))
}

/// Clap parser for a wire enum value such as `checking` or `verified`.
pub fn wire<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(Value::String(text.to_string())).map_err(|err| err.to_string())
}

/// Comma-joined wire names of `values`, for list filters; `None` when empty.
pub fn joined<T: Serialize>(values: &[T]) -> Option<String> {
    let names: Vec<String> = values
        .iter()
        .filter_map(|v| serde_json::to_value(v).ok()?.as_str().map(String::from))
        .collect();
    (!names.is_empty()).then(|| names.join(","))
}

/// Clap parser for RFC 3339 timestamps.
pub fn timestamp(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text)
        .ok_or_else(|| "expected an RFC 3339 date-time such as 2026-01-31T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use straddle_sdk::types::paykey::{AccountType, PaykeySandboxOutcome};

    use super::*;

    #[test]
    fn dotted_flags_fill_in_and_override_the_json_object() {
        let config: PaykeyConfig = object(
            "config",
            Some(r#"{"processing_method":"background","sandbox_outcome":"review"}"#.into()),
            [("sandbox_outcome", Some("active".into()))],
        )
        .unwrap()
        .unwrap();
        assert_eq!(config.sandbox_outcome, Some(PaykeySandboxOutcome::Active));
        let none: Option<PaykeyConfig> =
            object("config", None, [("sandbox_outcome", None)]).unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn a_bad_object_names_its_flag() {
        let bad = object::<PaykeyConfig, 1>("config", Some("{nope".into()), [("x", None)]);
        assert!(
            matches!(bad, Err(CliError::Usage(m)) if m.starts_with("--config: expected a JSON object"))
        );
        let unknown =
            object::<PaykeyConfig, 1>("config", None, [("sandbox_outcome", Some("maybe".into()))]);
        assert!(
            matches!(unknown, Err(CliError::Usage(m)) if m.contains("unknown variant `maybe`"))
        );
    }

    #[test]
    fn metadata_merges_json_and_pairs() {
        let args = MetadataArgs {
            metadata: vec![
                r#"{"a":"1","b":"2"}"#.into(),
                "b=3".into(),
                "url=x=y".into(),
            ],
        };
        let pairs = args.value().unwrap().unwrap();
        assert_eq!(pairs["a"], "1");
        assert_eq!(pairs["b"], "3");
        assert_eq!(pairs["url"], "x=y");
        let bad = MetadataArgs {
            metadata: vec!["novalue".into()],
        };
        assert!(matches!(bad.value(), Err(CliError::Usage(_))));
    }

    #[test]
    fn wire_values_parse_and_join_by_their_wire_names() {
        assert_eq!(wire::<AccountType>("savings"), Ok(AccountType::Savings));
        assert!(wire::<AccountType>("cd")
            .unwrap_err()
            .contains("expected `checking` or `savings`"));
        assert_eq!(
            joined(&[AccountType::Checking, AccountType::Savings]).unwrap(),
            "checking,savings"
        );
        assert_eq!(joined::<AccountType>(&[]), None);
    }
}
