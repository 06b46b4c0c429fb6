//! Who the client is, for rate limits and the audit trail: the TCP peer, or — when the peer is
//! a trusted proxy — the right-most address in `X-Forwarded-For` that is not itself a trusted
//! proxy. Only trusted proxies can make us believe a forwarded address; anyone else's
//! `X-Forwarded-For` is ignored.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// The client address of a request that came from `peer`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return client;
        };
        for hop in text.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !is_trusted(&ip) {
                        return ip;
                    }
                }
                Err(_) => return client,
            }
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn trusted() -> Vec<IpNet> {
        vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ]
    }

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        h
    }

    #[test]
    fn untrusted_peers_cannot_claim_another_address() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(peer, &headers("198.51.100.1"), &trusted()), peer);
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let got = client_ip(
            peer,
            &headers("1.2.3.4, 198.51.100.1, 10.1.1.1"),
            &trusted(),
        );
        assert_eq!(got, "198.51.100.1".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted()), peer);
        assert_eq!(client_ip(peer, &headers("garbage"), &trusted()), peer);
    }
}
