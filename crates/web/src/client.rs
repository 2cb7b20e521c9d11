//! Who the client is: the socket's peer address, or — when that peer is a trusted reverse
//! proxy — the address the proxies recorded in `X-Forwarded-For` (or `Forwarded`). Only
//! proxies listed in `--trusted-proxies` are believed; from anyone else these headers are
//! ignored, so a client cannot choose the address it is counted under.

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The reverse proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma- or space-separated list of CIDRs (`10.0.0.0/8, ::1/128`) or single
    /// addresses (`127.0.0.1`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for item in list
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let net = match item.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(format!(
                            "{item:?} is not a CIDR (like 10.0.0.0/8) or an IP address"
                        ));
                    }
                },
            };
            out.push(net.trunc());
        }
        Ok(Self(out))
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// An IPv4 address reached over IPv6 (`::ffff:1.2.3.4`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// One hop of a forwarding header: `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1`, `"[::1]"`.
fn hop(text: &str) -> Option<IpAddr> {
    let t = text.trim().trim_matches('"');
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = t.parse::<SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    t.strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .and_then(|r| r.parse::<IpAddr>().ok())
        .map(canonical)
}

/// The hops a request passed through, leftmost (the original client) first: from
/// `X-Forwarded-For` when present, else from the `for=` parameters of `Forwarded`. `None` for
/// a hop that cannot be read (`unknown`, an obfuscated name, garbage).
fn forwarded_hops(h: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<&str> = h
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !xff.is_empty() {
        return xff.iter().flat_map(|v| v.split(',')).map(hop).collect();
    }
    h.get_all(axum::http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| hop(v))
            })
        })
        .collect()
}

/// The client's address as seen from `peer`: the rightmost hop that is not a trusted proxy.
/// Hops are walked from the right because each trusted proxy appends the address it saw; what
/// lies further left came from the client and may be invented.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let mut last = peer;
    for h in forwarded_hops(headers).into_iter().rev() {
        match h {
            Some(ip) if trusted.contains(ip) => last = ip,
            Some(ip) => return ip,
            // Unreadable: the proxy nearest to it is the best address we can vouch for.
            None => return last,
        }
    }
    last
}

/// The client address of a request, when it came over a socket (tests that call the router
/// directly have none).
pub fn of_parts(parts: &Parts, trusted: &TrustedProxies) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| resolve(c.0.ip(), &parts.headers, trusted))
}

/// Like [`of_parts`], for a whole request.
pub fn of_request(req: &axum::extract::Request, trusted: &TrustedProxies) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| resolve(c.0.ip(), req.headers(), trusted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        let local = TrustedProxies::parse("127.0.0.1/32, 10.0.0.0/8").unwrap();
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &none), ip("127.0.0.1"));
        assert_eq!(resolve(ip("127.0.0.1"), &h, &local), ip("203.0.113.9"));
        assert_eq!(resolve(ip("198.51.100.1"), &h, &local), ip("198.51.100.1"));
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), &h, &local),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let local = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        // The client invented the first entry; the proxies appended the rest.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.1.2.3")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &local), ip("203.0.113.9"));
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &local), ip("203.0.113.9"));
        let h = headers(&[("x-forwarded-for", "garbage, 10.1.2.3")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &local), ip("10.1.2.3"));
        let h = headers(&[(
            "forwarded",
            r#"for=1.2.3.4, for="[2001:db8::17]:4711";proto=https"#,
        )]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &local), ip("2001:db8::17"));
        assert_eq!(
            resolve(ip("127.0.0.1"), &HeaderMap::new(), &local),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn lists_parse_or_say_what_is_wrong() {
        assert_eq!(TrustedProxies::parse("").unwrap().0.len(), 0);
        assert_eq!(
            TrustedProxies::parse("127.0.0.1/32 ::1").unwrap().0.len(),
            2
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }
}
