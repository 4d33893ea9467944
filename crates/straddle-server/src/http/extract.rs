//! Request extractors that reject with the documented error envelope and
//! name every failing field in `items[]`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use serde::de::DeserializeOwned;
use serde_json::Value;
use straddle_types::ErrorItem;
use utoipa::openapi::{schema::Schema, RefOr};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{item, ApiError};
use crate::http::json::{self, StrictError, NUL_DETAIL};
use crate::http::server::is_body_timeout;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A JSON body parsed into `T`, with the parsed JSON kept for the
/// idempotency fingerprint.
#[derive(Debug)]
pub struct JsonBody<T> {
    /// The typed request.
    pub value: T,
    /// The body as parsed JSON (`{}` when the body was empty).
    pub raw: Value,
}

impl<S: Send + Sync, T: DeserializeOwned + ToSchema> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let raw = raw_json(request, state).await?;
        let value = parse_fields::<T>(&raw).map_err(|items| ApiError::InvalidRequest {
            title: "Invalid Request".into(),
            detail: "The request body has missing or invalid fields.".into(),
            items,
        })?;
        Ok(JsonBody { value, raw })
    }
}

/// A body that may be absent or any JSON object (for endpoints that take none).
#[derive(Debug)]
pub struct OptionalBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for OptionalBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        raw_json(request, state).await.map(OptionalBody)
    }
}

async fn raw_json<S: Send + Sync>(request: Request, state: &S) -> Result<Value, ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else if is_body_timeout(&rejection) {
                ApiError::RequestTimeout
            } else {
                ApiError::invalid_field("body", "The request body could not be read.")
            }
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let is_json = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        return Err(ApiError::invalid_field(
            "Content-Type",
            "Request bodies must be application/json.",
        ));
    }
    let value = json::parse(&bytes).map_err(|err| match err {
        StrictError::Refused(refusal) => ApiError::InvalidRequest {
            title: "Invalid Request".into(),
            detail: "The request body has a field that cannot be accepted.".into(),
            items: vec![item(&refusal.reference, refusal.detail)],
        },
        StrictError::Malformed(err) => ApiError::InvalidRequest {
            title: "Malformed JSON".into(),
            detail: "The request body is not valid JSON.".into(),
            items: vec![item("body", format!("{err}"))],
        },
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid_field(
            "body",
            "The request body must be a JSON object.",
        ));
    }
    Ok(value)
}

/// Deserialises `value` into `T`, collecting one item per failing field:
/// every missing required top-level field, then each field of the wrong
/// type or with an unknown enum value.
pub fn parse_fields<T: DeserializeOwned + ToSchema>(value: &Value) -> Result<T, Vec<ErrorItem>> {
    // The common case: the body is fine, and nothing below is needed.
    if let Ok(parsed) = T::deserialize(value) {
        return Ok(parsed);
    }
    let mut items: Vec<ErrorItem> = Vec::new();
    if let RefOr::T(Schema::Object(object)) = T::schema() {
        for field in &object.required {
            if value.get(field).is_none_or(Value::is_null) {
                items.push(item(field, "This field is required."));
            }
        }
    }
    let mut remaining = value.clone();
    // Each round removes one bad field; the bound only guards against surprises.
    for _ in 0..64 {
        let error = match serde_path_to_error::deserialize::<_, T>(&remaining) {
            Ok(parsed) if items.is_empty() => return Ok(parsed),
            Ok(_) => return Err(items),
            Err(error) => error,
        };
        let path: Vec<String> = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                _ => None,
            })
            .collect();
        let message = error.inner().to_string();
        if let Some(field) = missing_field(&message) {
            let reference = join(&path, field);
            if !items.iter().any(|i| i.reference == reference) {
                items.push(item(&reference, "This field is required."));
            }
            // A nested object missing a field is dropped so the remaining
            // fields still get checked; a missing top-level field ends it.
            if path.is_empty() || !remove_at(&mut remaining, &path) {
                return Err(items);
            }
            continue;
        }
        let reference = if path.is_empty() {
            "body".to_string()
        } else {
            path.join(".")
        };
        if items.iter().any(|i| i.reference == reference) || !remove_at(&mut remaining, &path) {
            return Err(items);
        }
        let detail = match path.last() {
            Some(field) if is_sensitive(field) => redacted(&message),
            _ => describe(&message),
        };
        items.push(item(&reference, detail));
    }
    Err(items)
}

/// Fields whose values are secrets or personal data: never echoed back.
const SENSITIVE_FIELDS: &[&str] = &[
    "account_number",
    "tan",
    "ssn",
    "ein",
    "dob",
    "password",
    "username",
    "plaid_token",
    "quiltt_token",
    "paykey",
    "ip_address",
];

fn is_sensitive(field: &str) -> bool {
    SENSITIVE_FIELDS.contains(&field)
}

/// A deserialisation message without the value that caused it: serde
/// writes `invalid type: integer `123`, expected a string`; only the
/// expectation is kept.
fn redacted(message: &str) -> String {
    match message.split_once(", expected ") {
        Some((_, expected)) => format!("Invalid value; expected {expected}."),
        None => "Invalid value.".to_string(),
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn join(path: &[String], field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{}.{field}", path.join("."))
    }
}

fn describe(message: &str) -> String {
    let mut text = message.to_string();
    if let Some(first) = text.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    format!("{text}.")
}

fn remove_at(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = value;
    for segment in parents {
        node = match node {
            Value::Object(map) => match map.get_mut(segment) {
                Some(next) => next,
                None => return false,
            },
            Value::Array(list) => match segment.parse::<usize>().ok().and_then(|i| list.get_mut(i))
            {
                Some(next) => next,
                None => return false,
            },
            _ => return false,
        };
    }
    match node {
        Value::Object(map) => map.remove(last).is_some(),
        Value::Array(list) => match last.parse::<usize>() {
            Ok(i) if i < list.len() => {
                list.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Query parameters parsed into `T`. Repeated parameters are joined with
/// commas (`status=a&status=b` = `status=a,b`); unknown ones are ignored.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let mut merged: BTreeMap<String, String> = BTreeMap::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if key.contains('\0') || value.contains('\0') {
                return Err(ApiError::InvalidRequest {
                    title: "Invalid Query Parameter".into(),
                    detail: "A query parameter has an invalid value.".into(),
                    items: vec![item(&key.replace('\0', ""), NUL_DETAIL)],
                });
            }
            merged
                .entry(key.into_owned())
                .and_modify(|existing| {
                    existing.push(',');
                    existing.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        let canonical = serde_urlencoded::to_string(&merged).unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(canonical.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(QueryParams)
            .map_err(|error| {
                let reference = error.path().to_string();
                ApiError::InvalidRequest {
                    title: "Invalid Query Parameter".into(),
                    detail: "A query parameter has an invalid value.".into(),
                    items: vec![item(&reference, describe(&error.inner().to_string()))],
                }
            })
    }
}

/// The `{id}` path segment as a UUID; anything else is 400.
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid_field("id", "Must be a UUID."))?;
        Uuid::parse_str(&text)
            .map(PathId)
            .map_err(|_| ApiError::invalid_field("id", "Must be a UUID."))
    }
}

/// Whether a method changes state (and so honours `Idempotency-Key`).
pub fn is_mutating(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, ToSchema)]
    #[allow(dead_code)]
    struct Probe {
        name: String,
        count: u32,
        kind: Kind,
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        One,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    #[allow(dead_code)]
    struct Nested {
        city: String,
    }

    #[test]
    fn every_failing_field_is_named() {
        let items =
            parse_fields::<Probe>(&json!({"count": "x", "kind": "two", "nested": {"city": 5}}))
                .unwrap_err();
        let missing_nested =
            parse_fields::<Probe>(&json!({"name": "a", "nested": {}, "kind": "two"})).unwrap_err();
        let nested_refs: Vec<_> = missing_nested
            .iter()
            .map(|i| i.reference.as_str())
            .collect();
        assert_eq!(nested_refs, ["count", "kind", "nested.city"]);
        let references: Vec<_> = items.iter().map(|i| i.reference.as_str()).collect();
        assert!(references.contains(&"name"), "{references:?}");
        assert!(references.contains(&"count"), "{references:?}");
        assert!(references.contains(&"kind"), "{references:?}");
        assert!(references.contains(&"nested.city"), "{references:?}");
    }

    #[derive(Debug, Deserialize, ToSchema)]
    #[allow(dead_code)]
    struct Secretive {
        account_number: String,
    }

    #[test]
    fn sensitive_values_are_never_echoed() {
        let items =
            parse_fields::<Secretive>(&json!({"account_number": 123456789012u64})).unwrap_err();
        assert_eq!(items[0].reference, "account_number");
        assert!(!items[0].detail.contains("123456789012"), "{items:?}");
        assert!(items[0].detail.contains("expected a string"), "{items:?}");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let probe =
            parse_fields::<Probe>(&json!({"name": "a", "count": 1, "kind": "one", "extra": true}))
                .unwrap();
        assert_eq!(probe.count, 1);
    }
}
