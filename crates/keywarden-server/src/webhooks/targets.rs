//! Which URLs a webhook may be sent to (SPEC §7): `http` or `https`, no credentials in the URL,
//! and — unless the operator allows private targets — a host whose every address is public
//! (`keywarden_core::webhook::targets`). [`check_url`] decides when an admin adds or changes
//! an endpoint (400 otherwise); [`GuardedResolver`] applies the same rule to the addresses the
//! delivery client connects to, so the address checked is the address used: a name that
//! resolved to a public address at creation and to 127.0.0.1 later is refused then.

use keywarden_core::webhook::targets::is_private;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};

/// The longest URL an endpoint may have.
pub const MAX_URL_LEN: usize = 2048;

/// Why a URL may not be a webhook target; the text says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetRefused(pub String);

fn refused(text: impl Into<String>) -> TargetRefused {
    TargetRefused(text.into())
}

/// Parses `url` and checks it may be a target: its shape, then (unless `allow_private`) that
/// every address its host resolves to now is public.
pub async fn check_url(url: &str, allow_private: bool) -> Result<Url, TargetRefused> {
    let parsed = parse(url)?;
    if allow_private {
        return Ok(parsed);
    }
    let host = parsed.host_str().unwrap_or_default();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match literal_ip(&parsed) {
        Some(ip) => vec![ip],
        None => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| {
                refused(format!(
                    "the host {host} does not resolve: check the URL's spelling"
                ))
            })?
            .map(|a| a.ip())
            .collect(),
    };
    if addresses.is_empty() {
        return Err(refused(format!("the host {host} has no address")));
    }
    if let Some(private) = addresses.into_iter().find(|ip| is_private(*ip)) {
        return Err(refused(format!(
            "{host} resolves to {private}, a loopback, private or link-local address; \
             give a public URL (the operator can allow private targets with \
             [webhooks] allow_private_targets)"
        )));
    }
    Ok(parsed)
}

/// The URL's shape alone: absolute `http(s)`, a host, no user or password, not too long.
pub fn parse(url: &str) -> Result<Url, TargetRefused> {
    let example =
        "give an absolute http:// or https:// URL, e.g. https://hooks.example.com/keywarden";
    if url.len() > MAX_URL_LEN {
        return Err(refused(format!(
            "the URL is longer than {MAX_URL_LEN} characters"
        )));
    }
    let parsed = Url::parse(url).map_err(|e| refused(format!("{e}: {example}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refused(format!(
            "the scheme {} is not allowed: {example}",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(refused(format!("the URL has no host: {example}")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused(
            "remove the user name and password from the URL: deliveries are signed instead",
        ));
    }
    Ok(parsed)
}

/// The URL's host when it is an IP address (the resolver is not asked about those).
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// The delivery client's resolver: the system's answer without the private addresses (unless
/// allowed); a name with none left does not resolve.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// Whether private addresses are allowed.
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || !is_private(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address (private targets are not allowed)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/hook",
            "http://10.0.0.1/hook",
            "http://[::1]/hook",
            "http://localhost:8080/hook",
            "http://169.254.169.254/latest/meta-data",
        ] {
            let refused = check_url(url, false).await;
            assert!(refused.is_err(), "{url}");
            assert!(check_url(url, true).await.is_ok(), "{url}");
        }
    }

    #[tokio::test]
    async fn the_shape_is_checked_whatever_the_setting() {
        for url in [
            "ftp://example.com/x",
            "/relative",
            "https://user:pw@example.com/",
            "javascript:alert(1)",
            "https://",
        ] {
            assert!(check_url(url, true).await.is_err(), "{url}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&long, true).await.is_err());
    }
}
