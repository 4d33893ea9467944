//! The widget page and its static files, compiled into the binary (no CDN,
//! no network). The page may only be framed by the parent origin the host
//! component names in its URL, and its Content-Security-Policy allows
//! nothing but this origin's own script, styles and API.

use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ApiError;
use crate::http::extract::QueryParams;

const INDEX_HTML: &str = include_str!("../../widget/index.html");
const MISSING_PARENT_HTML: &str = include_str!("../../widget/missing-parent.html");

/// Embedded files served under `/widget/assets/`: name, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "widget.js",
        "text/javascript; charset=utf-8",
        include_str!("../../widget/widget.js"),
    ),
    (
        "widget.css",
        "text/css; charset=utf-8",
        include_str!("../../widget/widget.css"),
    ),
    (
        "logo.svg",
        "image/svg+xml",
        include_str!("../../widget/logo.svg"),
    ),
];

/// The policy of the page, apart from who may frame it.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'";

/// The query string the host component builds.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// The host page's host (and port), without the scheme.
    #[serde(rename = "parentOriginURL")]
    parent_origin_url: Option<String>,
    /// `http` or `https`.
    #[serde(rename = "parentOriginProtocol")]
    parent_origin_protocol: Option<String>,
}

/// `GET /`: the widget page, frameable only by the declared parent origin.
/// Without a well-formed parent origin it explains how to open the widget.
pub async fn page(QueryParams(query): QueryParams<PageQuery>) -> Response {
    let origin = parent_origin(
        query.parent_origin_protocol.as_deref(),
        query.parent_origin_url.as_deref(),
    );
    let (status, body, ancestors) = match origin {
        Some(origin) => (StatusCode::OK, INDEX_HTML, origin),
        None => (
            StatusCode::BAD_REQUEST,
            MISSING_PARENT_HTML,
            "'none'".into(),
        ),
    };
    let policy = format!("{PAGE_POLICY}; frame-ancestors {ancestors}");
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    secure(response)
}

/// `GET /widget/assets/{file}`.
pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or(ApiError::NoRoute)?;
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    Ok(secure(response))
}

/// Headers every widget response carries.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// `protocol://host[:port]` when both parts are well-formed; the host is
/// letters, digits, dots and dashes, the port 1–5 digits.
fn parent_origin(protocol: Option<&str>, host: Option<&str>) -> Option<String> {
    let protocol = protocol.filter(|p| matches!(*p, "http" | "https"))?;
    let host = host?;
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    (name_ok && port_ok).then(|| format!("{protocol}://{}", host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_origin_accepts_hosts_with_ports() {
        assert_eq!(
            parent_origin(Some("https"), Some("app.example.com")).as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            parent_origin(Some("http"), Some("127.0.0.1:5173")).as_deref(),
            Some("http://127.0.0.1:5173")
        );
    }

    #[test]
    fn parent_origin_refuses_anything_that_could_widen_the_policy() {
        for (protocol, host) in [
            (Some("javascript"), Some("example.com")),
            (Some("https"), Some("*")),
            (Some("https"), Some("a.com https://evil.com")),
            (Some("https"), Some("a.com;script-src *")),
            (Some("https"), Some("a.com:80a")),
            (Some("https"), Some("")),
            (None, Some("example.com")),
            (Some("https"), None),
        ] {
            assert_eq!(parent_origin(protocol, host), None, "{protocol:?} {host:?}");
        }
    }
}
