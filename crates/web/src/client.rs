//! Who is on the other end: the client address (through trusted reverse
//! proxies only) and the user agent, for throttling, events and session lists.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};

/// Whose `X-Forwarded-For` is believed unless `GATEHOUSE_TRUSTED_PROXIES` says
/// otherwise: loopback only. authentik trusts every private range too, so any
/// LAN or container neighbour that reaches the port directly could pick the
/// address the throttle and the audit log see; a proxy on another host must be
/// named.
pub const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.0/8, ::1";

/// Address ranges whose `X-Forwarded-For` we believe.
#[derive(Debug, Clone)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    pub fn new(ranges: impl IntoIterator<Item = (IpAddr, u8)>) -> Self {
        TrustedProxies(ranges.into_iter().collect())
    }

    /// Parses `127.0.0.0/8, ::1, 10.0.0.0/8`; `None` names the bad entry.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let ip: IpAddr = addr.parse().map_err(|_| item.to_string())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| item.to_string())?,
                None => max,
            };
            out.push((ip, bits));
        }
        Ok(TrustedProxies(out))
    }

    /// The ranges as CIDR text, for the start-up log line.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "none (X-Forwarded-For is ignored)".into();
        }
        self.0
            .iter()
            .map(|(ip, bits)| format!("{ip}/{bits}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|(net, bits)| in_range(ip, canonical(*net), *bits))
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = peer.map(canonical)?;
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(canonical)
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(*ip))
            .unwrap_or(peer),
    )
}

pub fn peer_of<B>(req: &Request<B>) -> Option<IpAddr> {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = TrustedProxies::parse("127.0.0.0/8, 10.0.0.0/8, ::1").unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 10.1.2.3".parse().unwrap());
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let outsider: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            client_ip(Some(local), &h, &trusted),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(client_ip(Some(outsider), &h, &trusted), Some(outsider));
        assert_eq!(client_ip(Some(local), &HeaderMap::new(), &trusted), Some(local));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("nope").is_err());
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(trusted.contains(mapped));
    }

    #[test]
    fn the_default_believes_loopback_only() {
        let trusted = TrustedProxies::parse(DEFAULT_TRUSTED_PROXIES).unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        for neighbour in ["10.1.2.3", "172.17.0.5", "192.168.1.20", "fd00::2", "fe80::1"] {
            let peer: IpAddr = neighbour.parse().unwrap();
            assert_eq!(client_ip(Some(peer), &h, &trusted), Some(peer), "{neighbour}");
        }
        for proxy in ["127.0.0.1", "::1"] {
            let peer: IpAddr = proxy.parse().unwrap();
            assert_eq!(
                client_ip(Some(peer), &h, &trusted),
                Some("203.0.113.9".parse().unwrap())
            );
        }
        assert_eq!(trusted.describe(), "127.0.0.0/8, ::1/128");
    }
}
