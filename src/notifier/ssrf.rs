//! Which addresses a merchant's notification may go to. The URL came from a
//! stranger: loopback, private, link-local, metadata and other special ranges
//! are refused, by literal address and after every DNS resolution.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// True for addresses on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    refusal(ip).is_none()
}

/// Why a merchant notification may not go to `ip` (the range it is in), or
/// `None` for an address on the public internet. An IPv4-mapped address is
/// the IPv4 address itself (the socket connects to exactly it) and is judged
/// as one; the other IPv6 forms that embed or translate to an IPv4 address
/// (NAT64, 6to4, Teredo, IPv4-translated and -compatible) are refused
/// outright, whatever they embed: where they lead depends on gateways we
/// cannot see.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn refusal_v6(v6: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return refusal_v4(v4);
    }
    let s = v6.segments();
    let prefix = |bits: u32, net: u128| u128::from(v6) >> (128 - bits) == net >> (128 - bits);
    let ranges: [(bool, &'static str); 14] = [
        (v6.is_unspecified(), "unspecified (::)"),
        (v6.is_loopback(), "loopback (::1)"),
        (s[..6] == [0, 0, 0, 0, 0, 0], "IPv4-compatible (::/96)"),
        (
            prefix(96, 0xffff << 48),
            "IPv4-translated (::ffff:0:0:0/96)",
        ),
        (prefix(96, 0x0064_ff9b << 96), "NAT64 (64:ff9b::/96)"),
        (
            prefix(48, 0x0064_ff9b_0001 << 80),
            "local NAT64 (64:ff9b:1::/48)",
        ),
        (prefix(64, 0x0100 << 112), "discard-only (100::/64)"),
        (prefix(32, 0x2001_0000 << 96), "Teredo (2001::/32)"),
        (
            prefix(32, 0x2001_0db8 << 96),
            "documentation (2001:db8::/32)",
        ),
        (prefix(16, 0x2002 << 112), "6to4 (2002::/16)"),
        (v6.is_unique_local(), "unique-local (fc00::/7)"),
        (v6.is_unicast_link_local(), "link-local (fe80::/10)"),
        (prefix(10, 0xfec0 << 112), "site-local (fec0::/10)"),
        (v6.is_multicast(), "multicast (ff00::/8)"),
    ];
    ranges
        .into_iter()
        .find_map(|(inside, name)| inside.then_some(name))
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let ranges: [(bool, &'static str); 13] = [
        (a == 0, "this network (0.0.0.0/8)"),
        (ip.is_loopback(), "loopback (127.0.0.0/8)"),
        (ip.is_private(), "private (10/8, 172.16/12, 192.168/16)"),
        (
            a == 100 && (64..128).contains(&b),
            "carrier-grade NAT (100.64.0.0/10)",
        ),
        // Cloud metadata services live here.
        (ip.is_link_local(), "link-local (169.254.0.0/16)"),
        (
            a == 192 && b == 0 && c == 0,
            "protocol assignments (192.0.0.0/24)",
        ),
        (ip.is_documentation(), "documentation"),
        (
            a == 192 && b == 88 && c == 99,
            "6to4 relay anycast (192.88.99.0/24)",
        ),
        (
            a == 198 && (b == 18 || b == 19),
            "benchmarking (198.18.0.0/15)",
        ),
        (ip.is_multicast(), "multicast (224.0.0.0/4)"),
        (ip.is_broadcast(), "broadcast"),
        (a >= 240, "reserved (240.0.0.0/4)"),
        (ip.is_unspecified(), "unspecified"),
    ];
    ranges
        .into_iter()
        .find_map(|(inside, name)| inside.then_some(name))
}

/// Resolves names and keeps only addresses notifications may go to.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs
                .into_iter()
                .partition(|a| allow_private || is_public(a.ip()));
            if allowed.is_empty() {
                let why: Vec<String> = refused
                    .iter()
                    .filter_map(|a| refusal(a.ip()).map(|r| format!("{} is {r}", a.ip())))
                    .collect();
                return Err(format!(
                    "{host} resolves to no address merchant notifications may go to ({})",
                    why.join("; ")
                )
                .into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
            "2001:db8::1",
            // Forms that translate to or embed an IPv4 address, whatever it is.
            "64:ff9b::808:808",
            "64:ff9b::a00:1",
            "64:ff9b:1::a00:1",
            "2002:a00:1::1",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "::ffff:0:a00:1",
            "::ffff:0:808:808",
            "fec0::1",
            "100::1",
            "192.88.99.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert_eq!(
            refusal("64:ff9b::a00:1".parse().unwrap()),
            Some("NAT64 (64:ff9b::/96)")
        );
        assert_eq!(
            refusal("::ffff:10.0.0.1".parse().unwrap()),
            Some("private (10/8, 172.16/12, 192.168/16)")
        );
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:2800:220:1:248:1893:25c8:1946",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
