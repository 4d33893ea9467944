//! Where webhooks may go. Production servers refuse URLs whose host is or
//! resolves to a loopback, private, shared (CGNAT), link-local (cloud
//! metadata included), multicast or unspecified address, unless an
//! operator named the host in the allow-list; sandbox servers allow them,
//! since local development is their main use. Delivery resolves names
//! through [`GuardedResolver`], so the connection goes only to an address
//! that was checked, and follows no redirects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use crate::config::Environment;

/// Longest URL accepted.
const MAX_URL_LEN: usize = 2048;

/// The address policy of one server.
#[derive(Clone, Debug)]
pub struct Guard {
    enforce: bool,
    allow: Arc<Vec<String>>,
}

impl Guard {
    /// Enforced in production; `allow` names hosts (or addresses) let through.
    pub fn new(environment: Environment, allow: &[String]) -> Guard {
        Guard {
            enforce: environment == Environment::Production,
            allow: Arc::new(allow.iter().map(|h| h.to_ascii_lowercase()).collect()),
        }
    }

    fn allowed_host(&self, host: &str) -> bool {
        !self.enforce || self.allow.iter().any(|h| h == &host.to_ascii_lowercase())
    }

    /// Whether `ip`, reached as `host`, may receive webhooks.
    pub fn allows(&self, host: &str, ip: IpAddr) -> bool {
        self.allowed_host(host) || self.allowed_host(&ip.to_string()) || is_public(ip)
    }

    /// Checks a URL's form, and in production where its host resolves to.
    /// The error is a sentence for the API's `url` field.
    pub async fn check(&self, text: &str) -> Result<Url, String> {
        let url = parse(text)?;
        if !self.enforce {
            return Ok(url);
        }
        let host = host_of(&url)?;
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|_| format!("The host {host} does not resolve."))?
                .collect(),
        };
        if addrs.is_empty() || addrs.iter().any(|addr| !self.allows(&host, addr.ip())) {
            return Err(format!(
                "The host {host} resolves to a private, loopback or link-local address; production servers send webhooks only to public addresses (or hosts an operator allows)."
            ));
        }
        Ok(url)
    }

    /// Checks a URL whose host is an address literal, which reqwest connects
    /// to without asking the resolver.
    pub fn check_literal(&self, url: &Url) -> Result<(), String> {
        let host = host_of(url)?;
        match host.parse::<IpAddr>() {
            Ok(ip) if !self.allows(&host, ip) => Err(format!("address {ip} is not allowed")),
            _ => Ok(()),
        }
    }

    /// The resolver delivery connects through.
    pub fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver(self.clone()))
    }
}

/// Parses a webhook URL: `http` or `https`, with a host, no credentials.
pub fn parse(text: &str) -> Result<Url, String> {
    if text.len() > MAX_URL_LEN {
        return Err(format!("Must be at most {MAX_URL_LEN} characters."));
    }
    let url = Url::parse(text).map_err(|_| "Must be an absolute http or https URL.".to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("Must be an http or https URL.".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Must not contain credentials.".into());
    }
    host_of(&url)?;
    Ok(url)
}

fn host_of(url: &Url) -> Result<String, String> {
    url.host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| "Must name a host.".to_string())
}

/// Resolves names and keeps only the addresses the guard allows.
#[derive(Debug)]
pub struct GuardedResolver(Guard);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let allowed: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| guard.allows(&host, addr.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no allowed address").into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(text.parse().unwrap()), "{text}");
        }
        for text in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(is_public(text.parse().unwrap()), "{text}");
        }
    }

    #[tokio::test]
    async fn production_refuses_internal_hosts_unless_allowed() {
        let guard = Guard::new(Environment::Production, &[]);
        assert!(guard.check("http://127.0.0.1:9/hook").await.is_err());
        assert!(guard.check("http://localhost:9/hook").await.is_err());
        assert!(guard.check("http://[::1]/hook").await.is_err());
        let allowed = Guard::new(Environment::Production, &["localhost".into()]);
        assert!(allowed.check("http://localhost:9/hook").await.is_ok());
        let sandbox = Guard::new(Environment::Sandbox, &[]);
        assert!(sandbox.check("http://127.0.0.1:9/hook").await.is_ok());
        assert!(sandbox.check("ftp://example.com/").await.is_err());
        assert!(sandbox.check("http://user:pw@example.com/").await.is_err());
    }
}
