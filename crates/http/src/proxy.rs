//! The client's address behind reverse proxies the operator trusts.
//!
//! Rate limits, audit events and device records all key on the client's IP address. Behind a
//! load balancer every request comes from the balancer, so one noisy client would exhaust the
//! limit for everyone and the audit trail would name the balancer. `X-Forwarded-For` fixes that,
//! but anyone can send the header: it is believed only when the peer is a trusted proxy, and then
//! only up to the first address (from the right) that is not itself a trusted proxy. A client that
//! forges the header's left part gains nothing, because its own address is what the nearest
//! trusted proxy appended.

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Addresses and networks (`10.0.0.7`, `10.0.0.0/8`, `fd00::/8`) whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses each entry; the error names the entry that is not an address or network.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        let mut networks = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref().trim();
            let bad = || format!("{entry:?} is not an IP address or a network such as 10.0.0.0/8");
            let (addr, prefix) = match entry.split_once('/') {
                Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().map_err(|_| bad())?)),
                None => (entry, None),
            };
            let written: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if written.is_ipv4() { 32 } else { 128 };
            let prefix = prefix.unwrap_or(max);
            if prefix > max {
                return Err(bad());
            }
            // An IPv4-mapped network (`::ffff:10.0.0.0/104`) is kept as the IPv4 network it
            // names, since addresses are compared in their IPv4 form; one wider than the mapped
            // range is refused (found by the forwarded_for fuzz target: it underflowed).
            let addr = canonical(written);
            let prefix = match (written, addr) {
                (IpAddr::V6(_), IpAddr::V4(_)) => prefix.checked_sub(96).ok_or_else(bad)?,
                _ => prefix,
            };
            networks.push((addr, prefix));
        }
        Ok(TrustedProxies(networks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|&(net, prefix)| match (canonical(net), ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), prefix, 32) == masked(u32::from(ip).into(), prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), prefix, 128) == masked(u128::from(ip), prefix, 128)
            }
            _ => false,
        })
    }

    /// The client's address: the peer itself, unless the peer is trusted, in which case the
    /// right-most `X-Forwarded-For` entry that is not a trusted proxy (or the left-most entry when
    /// every hop is trusted). Hops are read from the right, and reading stops at the first one
    /// that is not a trusted proxy: what stands left of it was written by the client and is
    /// never parsed. If that first untrusted hop is not an address, the last trusted one is used.
    pub fn client_ip<'a>(&self, peer: IpAddr, forwarded_for: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|value| value.split(',')).collect();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            let Some(ip) = parse_hop(hop) else { return client };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` hop: an address, optionally with a port (`198.51.100.7:5678`,
/// `[2001:db8::1]:443`) as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).and_then(|h| h.parse().ok())
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, as a dual-stack socket reports them) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let keep = u32::from(width - prefix);
    (bits >> keep) << keep
}

/// Middleware: replaces the connection's peer address with the client's, as [`TrustedProxies::client_ip`]
/// decides, so every extractor (origins, rate limits) sees the client.
pub async fn resolve_client(State(trusted): State<Arc<TrustedProxies>>, mut request: Request, next: Next) -> Response {
    if !trusted.is_empty() {
        if let Some(&ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
            let forwarded = request.headers().get_all("x-forwarded-for");
            let client = trusted.client_ip(peer.ip(), forwarded.iter().filter_map(|v| v.to_str().ok()));
            if client != peer.ip() {
                request.extensions_mut().insert(ConnectInfo(SocketAddr::new(client, peer.port())));
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7", "fd00::/8"]).unwrap();
        assert!(t.contains(ip("10.200.1.1")));
        assert!(t.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped addresses count as IPv4");
        assert!(t.contains(ip("192.0.2.7")));
        assert!(!t.contains(ip("192.0.2.8")));
        assert!(t.contains(ip("fd12::1")));
        assert!(!t.contains(ip("2001:db8::1")));
        assert!(TrustedProxies::parse(&["0.0.0.0/0"]).unwrap().contains(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "fd00::/129", "proxy.example", "10.0.0.0/x", ""] {
            assert!(TrustedProxies::parse(&[bad]).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn an_ipv6_client_is_limited_by_its_slash_64() {
        use crate::limit_key;
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), limit_key(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(limit_key(ip("2001:db8:1:2::1")), limit_key(ip("2001:db8:1:3::1")));
        assert_eq!(limit_key(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(limit_key(ip("198.51.100.7")), ip("198.51.100.7"));
    }

    #[test]
    fn ipv4_mapped_networks_mean_their_ipv4_network() {
        let mapped = TrustedProxies::parse(&["::ffff:10.0.0.0/104"]).unwrap();
        assert!(mapped.contains("10.9.8.7".parse().unwrap()));
        assert!(mapped.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!mapped.contains("11.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::parse(&["::ffff:10.0.0.0/64"]).is_err(), "wider than the mapped range");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_peers() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let one = |v: &'static str| std::iter::once(v);
        // An untrusted peer's header is ignored.
        assert_eq!(t.client_ip(ip("203.0.113.5"), one("198.51.100.1")), ip("203.0.113.5"));
        // A trusted proxy names the client.
        assert_eq!(t.client_ip(ip("10.0.0.2"), one("198.51.100.1")), ip("198.51.100.1"));
        // A client that forges the left part of the header is still found: the proxy appended it.
        assert_eq!(t.client_ip(ip("10.0.0.2"), one("1.2.3.4, 198.51.100.1")), ip("198.51.100.1"));
        // Two trusted hops (one header line each) are skipped.
        assert_eq!(t.client_ip(ip("10.0.0.2"), ["198.51.100.1", "10.0.0.9"].into_iter()), ip("198.51.100.1"));
        // Junk the client put on the left is never read; the proxy's own entry still counts.
        assert_eq!(t.client_ip(ip("10.0.0.2"), one("not-an-ip, 198.51.100.1")), ip("198.51.100.1"));
        // Ports and brackets, as some proxies write them.
        assert_eq!(t.client_ip(ip("10.0.0.2"), one("198.51.100.1:5678")), ip("198.51.100.1"));
        assert_eq!(t.client_ip(ip("10.0.0.2"), one("[2001:db8::1]:443")), ip("2001:db8::1"));
        assert_eq!(t.client_ip(ip("10.0.0.2"), one("[2001:db8::1]")), ip("2001:db8::1"));
        // The right-most hop malformed, or no header at all: the peer.
        assert_eq!(t.client_ip(ip("10.0.0.2"), one("198.51.100.1, not-an-ip")), ip("10.0.0.2"));
        assert_eq!(t.client_ip(ip("10.0.0.2"), std::iter::empty()), ip("10.0.0.2"));
    }
}
