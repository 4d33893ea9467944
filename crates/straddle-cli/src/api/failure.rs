//! Failures of an API command: the documented exit codes and the report on
//! stderr (what went wrong, the HTTP status, the error's title, detail and
//! items, the `api_request_id`, and what to try next).

use std::fmt::Write as _;
use std::process::ExitCode;

use straddle_sdk::types::ApiErrorBody;
use straddle_sdk::{ApiError, Error};

/// Exit codes of the API commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: the API answered with success.
    Success = 0,
    /// 1: anything else (an undecodable response, an unexpected status).
    Failure = 1,
    /// 2: the command line is wrong (clap uses 2 for its own errors too).
    Usage = 2,
    /// 3: no API key, or the API refused it (401, 403).
    Auth = 3,
    /// 4: no such resource (404).
    NotFound = 4,
    /// 5: the request was refused as invalid (400, 422).
    Validation = 5,
    /// 6: conflict, e.g. an idempotency key reused for another request (409).
    Conflict = 6,
    /// 7: rate limited (429), still after retrying.
    RateLimited = 7,
    /// 8: the server failed (5xx), still after retrying.
    Server = 8,
    /// 9: the API could not be reached or did not answer in time.
    Network = 9,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Why an API command failed.
#[derive(Debug)]
pub enum CliError {
    /// A flag's value is unusable; the text says which and why.
    Usage(String),
    /// Neither `--api-key` nor `STRADDLE_API_KEY` was given.
    NoApiKey,
    /// The SDK call failed.
    Sdk(Error),
}

impl From<Error> for CliError {
    fn from(error: Error) -> Self {
        CliError::Sdk(error)
    }
}

impl CliError {
    /// The documented exit code for this failure.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Usage(_) | CliError::Sdk(Error::InvalidArgument(_)) => Exit::Usage,
            CliError::NoApiKey => Exit::Auth,
            CliError::Sdk(Error::Transport(_) | Error::Timeout(_)) => Exit::Network,
            CliError::Sdk(Error::Api(api)) => exit_for_status(api.status.as_u16()),
            CliError::Sdk(Error::Decode { .. }) => Exit::Failure,
        }
    }

    /// The text for stderr; `base_url` is where the request went.
    pub fn report(&self, base_url: &str) -> String {
        match self {
            CliError::Usage(message) | CliError::Sdk(Error::InvalidArgument(message)) => {
                format!("error: {message}\nnext: run the command with --help to see each flag with an example.\n")
            }
            CliError::NoApiKey => "error: no API key.\nnext: pass --api-key KEY or set STRADDLE_API_KEY (a self-hosted server prints one on first start; `straddle admin keys create` issues more).\n".into(),
            CliError::Sdk(Error::Api(api)) => api_report(api),
            CliError::Sdk(error @ (Error::Transport(_) | Error::Timeout(_))) => format!(
                "error: {}\nnext: check that a Straddle API answers at {base_url} (set it with --base-url or STRADDLE_BASE_URL), then run the command again.\n",
                chain(error)
            ),
            CliError::Sdk(Error::Decode { status, body, source }) => format!(
                "error: HTTP {status}, but the body is not a Straddle API response: {source}\n  body: {}\nnext: check that {base_url} is a Straddle API (--base-url or STRADDLE_BASE_URL).\n",
                excerpt(body)
            ),
        }
    }
}

fn exit_for_status(status: u16) -> Exit {
    match status {
        401 | 403 => Exit::Auth,
        404 => Exit::NotFound,
        400 | 422 => Exit::Validation,
        409 => Exit::Conflict,
        429 => Exit::RateLimited,
        500..=599 => Exit::Server,
        _ => Exit::Failure,
    }
}

fn api_report(api: &ApiError) -> String {
    let mut text = format!("error: the API answered HTTP {}\n", api.status);
    match &api.error {
        Some(error) => describe(&mut text, error),
        None => {
            let _ = writeln!(text, "  body: {}", excerpt(&api.body));
        }
    }
    if let Some(id) = api.api_request_id {
        let _ = writeln!(text, "  api_request_id: {id}");
    }
    let _ = writeln!(text, "next: {}", next_step(api.status.as_u16()));
    text
}

fn describe(text: &mut String, error: &ApiErrorBody) {
    let _ = writeln!(text, "  title: {}", error.title);
    let _ = writeln!(text, "  detail: {}", error.detail);
    if let Some(items) = error.items.as_ref().filter(|items| !items.is_empty()) {
        let _ = writeln!(text, "  items:");
        for item in items {
            let _ = writeln!(text, "    - {}: {}", item.reference, item.detail);
        }
    }
}

fn next_step(status: u16) -> &'static str {
    match status {
        401 => "check the API key (--api-key or STRADDLE_API_KEY): it must be a key this server issued, for this environment.",
        403 => "this key may not do this: unmasked reads need an account allowed to unmask, and --straddle-account-id must name one of your platform's accounts.",
        404 => "check the id; `straddle customers list` and `straddle paykeys list` show what exists for this key (and --straddle-account-id).",
        400 | 422 => "correct the fields listed above and run the command again.",
        409 => "use a new --idempotency-key for a different request, or wait for the first request with this key to finish.",
        429 => "the rate limit held after retries; wait a moment and run the command again.",
        500..=599 => "the server failed after retries; try again later and quote the api_request_id if it persists.",
        _ => "see the detail above.",
    }
}

/// An error and its causes, `outer: inner: innermost`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

fn excerpt(body: &str) -> String {
    const LIMIT: usize = 500;
    match body.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}…", &body[..end]),
        None => body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_status_has_its_documented_exit_code() {
        let table = [
            (400, Exit::Validation),
            (401, Exit::Auth),
            (403, Exit::Auth),
            (404, Exit::NotFound),
            (409, Exit::Conflict),
            (422, Exit::Validation),
            (429, Exit::RateLimited),
            (500, Exit::Server),
            (503, Exit::Server),
            (418, Exit::Failure),
        ];
        for (status, exit) in table {
            assert_eq!(exit_for_status(status), exit, "{status}");
        }
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let body = "é".repeat(600);
        let cut = excerpt(&body);
        assert_eq!(cut.chars().count(), 501);
        assert!(cut.ends_with('…'));
    }
}
