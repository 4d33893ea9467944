//! `straddle serve`'s webhook delivery flags.

use std::time::Duration;

use clap::Args;
use straddle_server::config::{parse_duration, parse_durations, WebhookSettings};

/// How webhooks are delivered.
#[derive(Args)]
pub struct WebhookArgs {
    /// Waits before each retry of a failed webhook (the first attempt is at once), comma-separated. Example: --webhook-retry-schedule 1s,2s,5s
    #[arg(long, env = "STRADDLE_WEBHOOK_RETRY_SCHEDULE", value_parser = parse_schedule,
        default_value = "5s,5m,30m,2h,5h,10h,10h")]
    webhook_retry_schedule: Schedule,
    /// How long an endpoint has to answer. Example: --webhook-timeout 15s
    #[arg(long, env = "STRADDLE_WEBHOOK_TIMEOUT", value_parser = parse_duration, default_value = "15s")]
    webhook_timeout: Duration,
    /// Disable an endpoint that has failed for this long without a success. Example: --webhook-disable-after 5d
    #[arg(long, env = "STRADDLE_WEBHOOK_DISABLE_AFTER", value_parser = parse_duration, default_value = "5d")]
    webhook_disable_after: Duration,
    /// A host (or address) production servers may send webhooks to although it is internal; repeatable. Example: --webhook-allow-host hooks.internal
    #[arg(long, env = "STRADDLE_WEBHOOK_ALLOW_HOSTS", value_delimiter = ',')]
    webhook_allow_host: Vec<String>,
}

impl WebhookArgs {
    /// The server settings these flags give.
    pub fn settings(self) -> WebhookSettings {
        WebhookSettings {
            retry_schedule: self.webhook_retry_schedule.0,
            timeout: self.webhook_timeout,
            disable_after: self.webhook_disable_after,
            allow_hosts: self.webhook_allow_host,
        }
    }
}

/// A parsed `--webhook-retry-schedule`.
#[derive(Clone, Debug)]
pub struct Schedule(Vec<Duration>);

fn parse_schedule(text: &str) -> Result<Schedule, String> {
    parse_durations(text).map(Schedule)
}
