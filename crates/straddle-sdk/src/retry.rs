//! When to retry and how long to wait: exponential backoff with jitter,
//! overridden by the server's `x-should-retry`, `retry-after-ms` and
//! `retry-after` headers.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

const INITIAL_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(8);
/// Server-requested waits longer than this are ignored in favour of backoff.
const MAX_SERVER_DELAY: Duration = Duration::from_secs(60);

/// Whether an error response is worth retrying: the server's
/// `x-should-retry` decides when present, else 408, 409, 429 and 5xx.
pub(crate) fn should_retry(status: StatusCode, headers: &HeaderMap) -> bool {
    match header(headers, "x-should-retry") {
        Some("true") => true,
        Some("false") => false,
        _ => matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error(),
    }
}

/// How long to wait before retry number `retries_done + 1`.
pub(crate) fn delay(retries_done: u32, headers: Option<&HeaderMap>) -> Duration {
    headers
        .and_then(server_delay)
        .unwrap_or_else(|| backoff(retries_done, rand::random::<f64>()))
}

/// `0.5 s · 2^retries_done`, capped at 8 s, shortened by up to a quarter
/// (`jitter` in `[0, 1)`) so that clients do not retry in lockstep.
pub(crate) fn backoff(retries_done: u32, jitter: f64) -> Duration {
    let exponential = INITIAL_DELAY.saturating_mul(2u32.saturating_pow(retries_done));
    exponential.min(MAX_DELAY).mul_f64(1.0 - 0.25 * jitter)
}

/// The wait the server asked for, if it is reasonable (0 < wait ≤ 60 s).
fn server_delay(headers: &HeaderMap) -> Option<Duration> {
    let millis = header(headers, "retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|ms| ms / 1000.0);
    let seconds = || {
        let value = header(headers, "retry-after")?.trim();
        value.parse::<f64>().ok().or_else(|| seconds_until(value))
    };
    let wait = millis.or_else(seconds)?;
    let wait = Duration::try_from_secs_f64(wait).ok()?;
    (!wait.is_zero() && wait <= MAX_SERVER_DELAY).then_some(wait)
}

/// Seconds from now until an HTTP date such as `Wed, 21 Oct 2015 07:28:00 GMT`.
fn seconds_until(http_date: &str) -> Option<f64> {
    let when = httpdate::parse_http_date(http_date).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or_default()
            .as_secs_f64(),
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn retryable_statuses_follow_the_official_sdks_unless_the_server_says_otherwise() {
        let none = HeaderMap::new();
        for status in [408, 409, 429, 500, 502, 503, 504] {
            assert!(
                should_retry(StatusCode::from_u16(status).unwrap(), &none),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 422] {
            assert!(
                !should_retry(StatusCode::from_u16(status).unwrap(), &none),
                "{status}"
            );
        }
        let no = headers(&[("x-should-retry", "false")]);
        assert!(!should_retry(StatusCode::SERVICE_UNAVAILABLE, &no));
        let yes = headers(&[("x-should-retry", "true")]);
        assert!(should_retry(StatusCode::BAD_REQUEST, &yes));
    }

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_eight_with_at_most_a_quarter_of_jitter() {
        assert_eq!(backoff(0, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(10, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(40, 0.0), Duration::from_secs(8));
        let shortest = backoff(0, 0.999_999);
        assert!(shortest > Duration::from_millis(375) && shortest < Duration::from_millis(376));
        for _ in 0..100 {
            let wait = delay(0, None);
            assert!(wait > Duration::from_millis(375) && wait <= Duration::from_millis(500));
        }
    }

    #[test]
    fn the_server_can_set_the_wait_in_milliseconds_seconds_or_as_a_date() {
        let wait = |pairs: &[(&'static str, &str)]| delay(5, Some(&headers(pairs)));
        assert_eq!(
            wait(&[("retry-after-ms", "250")]),
            Duration::from_millis(250)
        );
        assert_eq!(
            wait(&[("retry-after-ms", "250"), ("retry-after", "3")]),
            Duration::from_millis(250),
            "retry-after-ms is more precise and wins"
        );
        assert_eq!(wait(&[("retry-after", "3")]), Duration::from_secs(3));
        let soon = SystemTime::now() + Duration::from_secs(30);
        let date = httpdate::fmt_http_date(soon);
        let from_date = wait(&[("retry-after", &date)]);
        assert!(from_date > Duration::from_secs(27) && from_date <= Duration::from_secs(30));
    }

    #[test]
    fn unreasonable_server_waits_fall_back_to_backoff() {
        for value in ["0", "-1", "61", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"] {
            let wait = delay(0, Some(&headers(&[("retry-after", value)])));
            assert!(wait <= Duration::from_millis(500), "{value}: {wait:?}");
        }
    }
}
