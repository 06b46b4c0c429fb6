//! Which addresses a webhook may be sent to. A delivery is a request Keywarden makes on an
//! admin's behalf to a URL the admin chose; without this rule it would reach the operator's
//! own network (cloud metadata at 169.254.169.254, databases on 10.x, the loopback). Unless
//! the operator allows private targets, every address the host resolves to must be public,
//! and the connection goes to an address that was checked (no DNS rebinding in between).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is loopback, private, link-local or otherwise not a public unicast address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => private_v6(v6),
        },
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Carrier-grade NAT (RFC 6598), benchmarking (RFC 2544), IETF protocol assignments,
        // reserved (240/4).
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && c == 0)
        || a >= 240
}

fn private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10 (deprecated),
        // documentation 2001:db8::/32, NAT64 64:ff9b::/96 (reaches IPv4 space).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused_public_ones_are_not() {
        for private in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(
                is_private(private.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))),
                "{private}"
            );
        }
        for public in [
            "1.1.1.1",
            "93.184.215.14",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(
                !is_private(public.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))),
                "{public}"
            );
        }
    }
}
