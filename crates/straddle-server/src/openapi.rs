//! The OpenAPI 3.1 document served at `/openapi.json`.
//!
//! Each route's `#[utoipa::path]` states its success response and the errors
//! only it can return. [`finish`] then adds what every operation shares, as
//! the middleware really applies it: the header parameters, the errors of
//! authentication, scoping, idempotency, body limits, rate limits and
//! storage outages, the response headers, request-only field constraints
//! that responses (masked) do not meet, and links between operations.

use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use crate::http::extract::MAX_BODY_BYTES;

/// The document before the routes are merged in.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Straddle Bridge API (self-hosted)", description = "Customers, Bridge linking and paykeys."),
    components(schemas(
        straddle_types::ErrorResponse,
        straddle_types::customer::CustomerSortBy,
        straddle_types::paykey::PaykeySortBy,
        straddle_types::SortOrder,
    )),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        openapi.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// White space as Rust's `trim` sees it (ECMAScript's `\s` differs).
macro_rules! white_space {
    () => {
        r"\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}

/// Text without NUL: requests refuse the character anywhere (400).
const NO_NUL: &str = r"^[^\u0000]*$";

/// Text with a character other than white space, and no NUL.
const NOT_BLANK: &str = concat!(r"^[^\u0000]*[^\u0000", white_space!(), r"][^\u0000]*$");

/// What [`crate::validation::is_email`] accepts: one `@`, no white space,
/// a domain of two or more non-empty labels (and no NUL).
const EMAIL: &str = concat!(
    r"^[^\u0000",
    white_space!(),
    r"@]+@[^\u0000",
    white_space!(),
    r"@.]+(\.[^\u0000",
    white_space!(),
    r"@.]+)+$"
);

/// Request text fields the server checks with a pattern the types cannot
/// state in an attribute: (schema, property, pattern).
const TEXT_PATTERNS: [(&str, &str, &str); 8] = [
    ("CustomerCreateRequest", "name", NOT_BLANK),
    ("CustomerCreateRequest", "email", EMAIL),
    ("CustomerUpdateRequest", "name", NOT_BLANK),
    ("CustomerUpdateRequest", "email", EMAIL),
    ("Address", "address1", NOT_BLANK),
    ("Address", "city", NOT_BLANK),
    ("PlaidLinkRequest", "plaid_token", NOT_BLANK),
    ("QuilttLinkRequest", "quiltt_token", NOT_BLANK),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The complete document: `doc` (routes merged) with everything shared added.
pub fn finish(doc: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).expect("the OpenAPI document serialises");
    add_components(&mut doc);
    rename_ref(&mut doc, "BTreeMap", "Metadata");
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("schemas");
    schemas.remove("BTreeMap");
    constrain_request_fields(schemas);
    forbid_nul_in_requests(&mut doc);
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("schemas");
    // An empty body reads as `{}`, so a body whose fields are all optional is optional.
    let optional_bodies: Vec<String> = schemas
        .iter()
        .filter(|(_, schema)| schema["type"] == "object" && schema.get("required").is_none())
        .map(|(name, _)| format!("#/components/schemas/{name}"))
        .collect();
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(operation) = item.get_mut(method) {
                complete_operation(path, method, operation, &optional_bodies);
            }
        }
    }
    add_links(&mut doc);
    doc
}

fn error_response(description: &str, headers: &[&str]) -> Value {
    let mut response = json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        "headers": trace_headers(),
    });
    for name in headers {
        response["headers"][*name] = json!({"$ref": format!("#/components/headers/{name}")});
    }
    response
}

/// The headers of every API response.
fn trace_headers() -> Value {
    json!({
        "Request-Id": {"$ref": "#/components/headers/Request-Id"},
        "Correlation-Id": {"$ref": "#/components/headers/Correlation-Id"},
        "Cache-Control": {"$ref": "#/components/headers/Cache-Control"},
    })
}

fn add_components(doc: &mut Value) {
    let components = &mut doc["components"];
    components["parameters"] = json!({
        "Idempotency-Key": {
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Makes a write safe to retry: a retry with the same key and request within 24 h \
                            replays the first response (with `Idempotent-Replayed: true`); the same key with \
                            a different request, or while the first is still running, is 409.",
            "schema": {"type": "string", "minLength": 10, "maxLength": 40},
        },
        "Straddle-Account-Id": {
            "name": "Straddle-Account-Id", "in": "header", "required": false,
            "description": "For platforms: act for one of your embedded accounts (a UUID; an `acct_` prefix \
                            is tolerated). Not a UUID: 400; not an embedded account of yours: 403.",
            "schema": {"type": "string", "format": "uuid"},
        },
        "Request-Id": {
            "name": "Request-Id", "in": "header", "required": false,
            "description": "Your identifier of this request; logged, and echoed when ≤ 200 characters.",
            "schema": {"type": "string"},
        },
        "Correlation-Id": {
            "name": "Correlation-Id", "in": "header", "required": false,
            "description": "Your identifier of a series of requests; logged, and echoed when ≤ 200 characters.",
            "schema": {"type": "string"},
        },
    });
    components["headers"] = json!({
        "Request-Id": {"description": "The request's `Request-Id`, echoed.", "schema": {"type": "string"}},
        "Correlation-Id": {"description": "The request's `Correlation-Id`, echoed.", "schema": {"type": "string"}},
        "Cache-Control": {"description": "`no-store`: API responses are never cached.", "schema": {"type": "string"}},
        "Idempotent-Replayed": {
            "description": "`true` when this response is a replay of an earlier one with the same `Idempotency-Key`.",
            "schema": {"type": "string", "enum": ["true"]},
        },
        "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}},
        "Retry-After-Ms": {"description": "Milliseconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}},
        "x-should-retry": {
            "description": "Whether retrying the same request may succeed.",
            "schema": {"type": "string", "enum": ["true", "false"]},
        },
    });
    components["responses"] = json!({
        "BadRequest": error_response("Invalid input: a malformed body, parameter or header, or a field that fails validation (`items[]` names each).", &[]),
        "Unauthorized": error_response("Missing, unknown, revoked or wrong-environment API key.", &[]),
        "Forbidden": error_response("`Straddle-Account-Id` names an account that is not an embedded account of yours, or the account may not unmask.", &[]),
        "NotFound": error_response("No such resource in the account's scope.", &[]),
        "Conflict": error_response("The `Idempotency-Key` was used for a different request, or a request with it is still running.", &["x-should-retry"]),
        "RequestTimeout": error_response("The request body did not arrive in time.", &[]),
        "PayloadTooLarge": error_response(&format!("The request body is larger than {MAX_BODY_BYTES} bytes."), &[]),
        "TooManyRequests": error_response("The platform exceeded its rate limit.", &["Retry-After", "Retry-After-Ms"]),
        "Unavailable": error_response("The service is briefly unavailable; retry.", &["x-should-retry"]),
    });
    components["schemas"]["Metadata"] = json!({
        "type": "object",
        "description": "Your key/value pairs: at most 20, keys and values at most 40 characters, keys not blank. \
                        In requests a `null` value removes the key.",
        "maxProperties": crate::validation::METADATA_MAX_PAIRS,
        "propertyNames": {"type": "string", "maxLength": crate::validation::METADATA_MAX_CHARS, "pattern": NOT_BLANK},
        "additionalProperties": {"type": ["string", "null"], "maxLength": crate::validation::METADATA_MAX_CHARS},
    });
}

/// Replaces every `$ref` to schema `from` with one to `to`.
fn rename_ref(value: &mut Value, from: &str, to: &str) {
    let (old, new) = (
        format!("#/components/schemas/{from}"),
        format!("#/components/schemas/{to}"),
    );
    fn walk(value: &mut Value, old: &str, new: &str) {
        match value {
            Value::Object(map) => {
                if map.get("$ref").and_then(Value::as_str) == Some(old) {
                    map.insert("$ref".into(), Value::String(new.into()));
                }
                map.values_mut().for_each(|v| walk(v, old, new));
            }
            Value::Array(list) => list.iter_mut().for_each(|v| walk(v, old, new)),
            _ => {}
        }
    }
    walk(value, &old, &new);
}

/// The checks of request text fields ([`TEXT_PATTERNS`]); and since
/// `device` and `compliance_profile` come back masked, their formats hold
/// only in requests: those get input schemas of their own.
fn constrain_request_fields(schemas: &mut Map<String, Value>) {
    for (schema, property, pattern) in TEXT_PATTERNS {
        schemas[schema]["properties"][property]["pattern"] = json!(pattern);
    }
    schemas.insert(
        "DeviceInput".into(),
        json!({
            "type": "object",
            "description": "The device the customer registered from.",
            "required": ["ip_address"],
            "properties": {"ip_address": {
                "description": "IPv4 or IPv6 address; `0.0.0.0` means offline registration.",
                "anyOf": [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}],
            }},
        }),
    );
    let mut profile = schemas["ComplianceProfile"].clone();
    let properties = &mut profile["properties"];
    properties["dob"]["pattern"] = json!("^[0-9]{4}-[0-9]{2}-[0-9]{2}$");
    properties["dob"]["format"] = json!("date");
    properties["dob"]["description"] = json!("Date of birth, `YYYY-MM-DD`, in the past.");
    properties["ssn"]["pattern"] = json!("^[0-9]{3}-[0-9]{2}-[0-9]{4}$");
    properties["ein"]["pattern"] = json!("^[0-9]{2}-[0-9]{7}$");
    schemas.insert("ComplianceProfileInput".into(), profile);
    for request in ["CustomerCreateRequest", "CustomerUpdateRequest"] {
        let properties = &mut schemas[request]["properties"];
        properties["device"] = json!({"$ref": "#/components/schemas/DeviceInput"});
        rename_ref(
            &mut properties["compliance_profile"],
            "ComplianceProfile",
            "ComplianceProfileInput",
        );
    }
}

fn complete_operation(path: &str, method: &str, operation: &mut Value, optional_bodies: &[String]) {
    let writes = method != "get";
    let has_id = path.contains("{id}");
    let mut parameters = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for name in ["Straddle-Account-Id", "Request-Id", "Correlation-Id"]
        .into_iter()
        .chain(writes.then_some("Idempotency-Key"))
    {
        parameters.push(json!({"$ref": format!("#/components/parameters/{name}")}));
    }
    operation["parameters"] = Value::Array(parameters);
    if let Some(body) = operation.get_mut("requestBody") {
        let schema = &body["content"]["application/json"]["schema"]["$ref"];
        let optional = optional_bodies.iter().any(|name| schema == name.as_str());
        body["required"] = json!(!optional);
    }
    let responses = operation["responses"].as_object_mut().expect("responses");
    for (status, response) in responses.iter_mut() {
        if response["description"] == "" {
            response["description"] = json!(match status.as_str() {
                "200" => "OK.",
                "201" => "Created.",
                "202" => "Accepted: the rest happens in the background.",
                "422" =>
                    "Not possible in the resource's current state, or refused by a data provider.",
                "502" => "A data provider failed to answer.",
                _ => "",
            });
        }
        let headers = response
            .as_object_mut()
            .expect("response")
            .entry("headers")
            .or_insert_with(|| json!({}));
        for (name, header) in trace_headers().as_object().expect("headers") {
            headers[name] = header.clone();
        }
        if writes && status.starts_with('2') {
            headers["Idempotent-Replayed"] =
                json!({"$ref": "#/components/headers/Idempotent-Replayed"});
        }
    }
    let mut shared = vec![
        ("400", "BadRequest"),
        ("401", "Unauthorized"),
        ("403", "Forbidden"),
        ("429", "TooManyRequests"),
        ("503", "Unavailable"),
    ];
    if has_id || path.starts_with("/v1/bridge/") {
        shared.push(("404", "NotFound"));
    }
    if writes {
        shared.extend([
            ("408", "RequestTimeout"),
            ("409", "Conflict"),
            ("413", "PayloadTooLarge"),
        ]);
    }
    for (status, name) in shared {
        let reference = json!({"$ref": format!("#/components/responses/{name}")});
        responses.entry(status).or_insert(reference);
    }
}

/// Links from every response carrying a customer or paykey (or a page of
/// them) to the operations that take its id (in the path, or as a Bridge
/// request's `customer_id`), so clients and stateful testers can follow ids.
fn add_links(doc: &mut Value) {
    // (resource, operationId, whether the id goes in the body)
    let mut targets: Vec<(&str, String, bool)> = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(id) = item.get(method).and_then(|o| o["operationId"].as_str()) else {
                continue;
            };
            let target = if path.starts_with("/v1/customers/{id}") {
                ("customer", false)
            } else if path.starts_with("/v1/bridge/") {
                ("customer", true)
            } else if path.contains("/paykeys/{id}") {
                ("paykey", false)
            } else {
                continue;
            };
            targets.push((target.0, id.to_string(), target.1));
        }
    }
    let paths = doc["paths"].as_object_mut().expect("paths");
    for item in paths.values_mut() {
        for method in METHODS {
            let Some(responses) = item
                .get_mut(method)
                .and_then(|o| o["responses"].as_object_mut())
            else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                if !status.starts_with('2') {
                    continue;
                }
                let schema = response["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .unwrap_or_default();
                let (resource, pointer) = match schema.rsplit('/').next().unwrap_or_default() {
                    "ObjectResponse_Customer" => ("customer", "/data/id"),
                    "ArrayResponse_CustomerSummary" => ("customer", "/data/0/id"),
                    "ObjectResponse_Paykey" => ("paykey", "/data/id"),
                    "ArrayResponse_PaykeySummary" => ("paykey", "/data/0/id"),
                    _ => continue,
                };
                let value = format!("$response.body#{pointer}");
                let links: Map<String, Value> = targets
                    .iter()
                    .filter(|(r, _, _)| *r == resource)
                    .map(|(_, id, in_body)| {
                        let link = match in_body {
                            true => {
                                json!({"operationId": id, "requestBody": {"customer_id": value}})
                            }
                            false => json!({"operationId": id, "parameters": {"id": value}}),
                        };
                        (id.replace('.', "_"), link)
                    })
                    .collect();
                response["links"] = Value::Object(links);
            }
        }
    }
}

/// Requests refuse NUL in any string or object key, at any depth and in
/// query parameters: every schema a request body reaches, and every free
/// text query parameter, says so; unknown body fields must be NUL-free JSON.
fn forbid_nul_in_requests(doc: &mut Value) {
    doc["components"]["schemas"]["JsonWithoutNul"] = json!({
        "description": "Any JSON value without a NUL character in its strings or keys.",
        "anyOf": [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", "pattern": NO_NUL},
            {"type": "array", "items": {"$ref": "#/components/schemas/JsonWithoutNul"}},
            {"type": "object", "propertyNames": {"pattern": NO_NUL},
             "additionalProperties": {"$ref": "#/components/schemas/JsonWithoutNul"}},
        ],
    });
    let mut pending: Vec<String> = vec![];
    for item in doc["paths"].as_object_mut().expect("paths").values_mut() {
        for method in METHODS {
            let Some(operation) = item.get_mut(method) else {
                continue;
            };
            let body = &operation["requestBody"]["content"]["application/json"]["schema"];
            pending.extend(refs_in(body));
            for parameter in operation["parameters"].as_array_mut().into_iter().flatten() {
                if parameter["in"] == "query" {
                    forbid_nul(&mut parameter["schema"]);
                }
            }
        }
    }
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("schemas");
    let mut done: Vec<String> = vec!["JsonWithoutNul".into()];
    while let Some(name) = pending.pop() {
        if done.contains(&name) {
            continue;
        }
        if let Some(schema) = schemas.get_mut(&name) {
            pending.extend(refs_in(schema));
            forbid_nul(schema);
        }
        done.push(name);
    }
}

/// Names of the component schemas `value` refers to.
fn refs_in(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => {
            let own = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .map(String::from);
            own.into_iter()
                .chain(map.values().flat_map(refs_in))
                .collect()
        }
        Value::Array(list) => list.iter().flat_map(refs_in).collect(),
        _ => vec![],
    }
}

/// Adds the NUL rule to the free text and objects of one schema (not
/// following `$ref`s, which are handled as components).
fn forbid_nul(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    let has_type = |name: &str| match &map.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(ts)) => ts.iter().any(|t| t == name),
        _ => false,
    };
    let (text, object) = (has_type("string"), has_type("object"));
    if text
        && !["enum", "format", "pattern"]
            .iter()
            .any(|k| map.contains_key(*k))
    {
        map.insert("pattern".into(), json!(NO_NUL));
    }
    if object {
        map.entry("propertyNames")
            .or_insert_with(|| json!({"pattern": NO_NUL}));
        map.entry("additionalProperties")
            .or_insert_with(|| json!({"$ref": "#/components/schemas/JsonWithoutNul"}));
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        properties.values_mut().for_each(forbid_nul);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = map.get_mut(key) {
            forbid_nul(inner);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(list)) = map.get_mut(key) {
            list.iter_mut().for_each(forbid_nul);
        }
    }
}
