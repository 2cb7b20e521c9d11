//! Where a webhook may be sent. A subscription's URL is chosen by whoever holds an operator's
//! session, and the worker that sends it sits inside the network: without these checks a
//! webhook is a way to make the server call its own metadata service, its database or an
//! admin port, and the delivery log would tell which ports are open. So targets on loopback,
//! private, link-local, shared (CGNAT), multicast, reserved and unspecified addresses are
//! refused — when the subscription is made (for addresses written in the URL, in any spelling
//! the URL standard accepts: `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`, `[::ffff:7f00:1]`)
//! and again when it is sent, after DNS resolution, by the resolver the HTTP client connects
//! with, so the address checked is the address connected to (no window for DNS rebinding).
//! An operator whose receivers live on the private network sets `--webhook-allow-private`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether an address is one a webhook must not reach (unless private targets are allowed).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", including 0.0.0.0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 224 // multicast, reserved, broadcast
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    let s = ip.segments();
    // IPv4-compatible (deprecated) ::a.b.c.d, NAT64 64:ff9b::/96: the IPv4 address inside.
    if s[..6] == [0, 0, 0, 0, 0, 0] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return ip.is_unspecified() || ip.is_loopback() || is_internal_v4(v4);
    }
    // 6to4 2002:a.b.c.d::/48 carries an IPv4 address too.
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        if is_internal_v4(v4) {
            return true;
        }
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
}

/// The address written in a URL's host, if it is an address: the URL standard's parser
/// (which `reqwest::Url` follows) already turns every IPv4 spelling into the address.
pub fn literal_host(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(d) => loose_ipv4(d).map(IpAddr::V4),
    }
}

/// An IPv4 address in the forms `inet_aton` accepts (`127.1`, `0x7f.0.0.1`, `017700000001`,
/// `2130706433`), for hosts a parser left as names: a resolver would still read them as
/// addresses.
fn loose_ipv4(host: &str) -> Option<Ipv4Addr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        let n = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            u64::from_str_radix(hex, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().ok()?
        } else {
            return None;
        };
        nums.push(n);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|n| *n > 255) || *last >= 1u64 << (8 * (4 - head.len())) {
        return None;
    }
    let mut v: u64 = 0;
    for (i, n) in head.iter().enumerate() {
        v |= n << (8 * (3 - i));
    }
    Some(Ipv4Addr::from((v | last) as u32))
}

/// Resolves webhook hosts and refuses internal addresses: the HTTP client connects only to
/// the addresses this returns.
#[derive(Debug)]
pub(crate) struct CheckedResolver;

/// The error of a host that resolves to an internal address.
#[derive(Debug)]
pub(crate) struct InternalTarget;

impl std::fmt::Display for InternalTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host resolves to an internal address")
    }
}

impl std::error::Error for InternalTarget {}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            // One internal address is enough to refuse: a name that answers with a mix would
            // otherwise reach the inside on some attempts.
            if addrs.is_empty() || addrs.iter().any(|a| is_internal(a.ip())) {
                return Err(Box::new(InternalTarget) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(url: &str) -> Option<IpAddr> {
        literal_host(&reqwest::Url::parse(url).unwrap())
    }

    #[test]
    fn every_spelling_of_an_internal_address_is_one() {
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.16.0.1/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:7f00:1::]/",
        ] {
            let ip = host_of(url).unwrap_or_else(|| panic!("{url} names an address"));
            assert!(is_internal(ip), "{url} ({ip}) is internal");
        }
    }

    #[test]
    fn public_addresses_and_names_pass() {
        for url in ["https://93.184.215.14/", "https://[2606:4700::1111]/"] {
            assert!(!is_internal(host_of(url).unwrap()), "{url}");
        }
        assert_eq!(host_of("https://hooks.example.com/x"), None);
        assert_eq!(loose_ipv4("1.2.3.4.5"), None);
        assert_eq!(loose_ipv4("256.1.1.1"), None);
        assert_eq!(loose_ipv4("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(loose_ipv4("1e3"), None);
    }
}
