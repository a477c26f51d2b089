//! Default address/text conversions for `WSPAddressToString` and `WSPStringToAddress`.

use super::addr::SockAddr;
use super::error::WsaError;
use crate::sys;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Formats IP addresses as Winsock does: the port only when non-zero, IPv6 in brackets when a
/// port follows, `%scope` when the scope id is non-zero.
pub fn address_to_string(addr: &SockAddr) -> Result<String, WsaError> {
    match addr.inet().map_err(|_| WsaError::INVAL)? {
        SocketAddr::V4(a) if a.port() == 0 => Ok(a.ip().to_string()),
        SocketAddr::V4(a) => Ok(a.to_string()),
        SocketAddr::V6(a) => {
            let ip = if a.scope_id() == 0 {
                a.ip().to_string()
            } else {
                format!("{}%{}", a.ip(), a.scope_id())
            };
            Ok(if a.port() == 0 {
                ip
            } else {
                format!("[{}]:{}", ip, a.port())
            })
        }
    }
}

/// Parses IPv4 (`a.b.c.d[:port]`) or IPv6 (`addr[%scope]`, `[addr[%scope]]:port`) text for
/// the requested family; anything else is `WSAEINVAL`.
pub fn string_to_address(text: &str, family: i32) -> Result<SockAddr, WsaError> {
    let text = text.trim();
    let parsed = if family == i32::from(sys::AF_INET) {
        text.parse::<SocketAddrV4>()
            .ok()
            .or_else(|| {
                text.parse::<Ipv4Addr>()
                    .ok()
                    .map(|ip| SocketAddrV4::new(ip, 0))
            })
            .map(SocketAddr::V4)
    } else if family == i32::from(sys::AF_INET6) {
        parse_v6(text).map(SocketAddr::V6)
    } else {
        None
    };
    parsed.map(SockAddr::Inet).ok_or(WsaError::INVAL)
}

fn parse_v6(text: &str) -> Option<SocketAddrV6> {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, tail) = rest.split_once(']')?;
            let port = match tail.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if tail.is_empty() => 0,
                None => return None,
            };
            (host, port)
        }
        None => (text, 0),
    };
    let (ip, scope) = match host.split_once('%') {
        Some((ip, scope)) => (ip, scope.parse().ok()?),
        None => (host, 0),
    };
    Some(SocketAddrV6::new(
        ip.parse::<Ipv6Addr>().ok()?,
        port,
        0,
        scope,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str, family: u16) {
        let addr = string_to_address(text, family.into()).unwrap();
        assert_eq!(address_to_string(&addr).unwrap(), text);
    }

    #[test]
    fn formats_like_winsock() {
        round_trip("127.0.0.1", sys::AF_INET);
        round_trip("127.0.0.1:80", sys::AF_INET);
        round_trip("::1", sys::AF_INET6);
        round_trip("[fe80::1%3]:443", sys::AF_INET6);
        round_trip("fe80::1%3", sys::AF_INET6);
    }

    #[test]
    fn rejects_mismatched_text() {
        assert_eq!(
            string_to_address("::1", sys::AF_INET.into()),
            Err(WsaError::INVAL)
        );
        assert_eq!(string_to_address("1.2.3.4", 1), Err(WsaError::INVAL));
        assert_eq!(
            string_to_address("[::1]x", sys::AF_INET6.into()),
            Err(WsaError::INVAL)
        );
        let raw = SockAddr::Raw {
            family: 1,
            data: vec![],
        };
        assert_eq!(address_to_string(&raw), Err(WsaError::INVAL));
    }
}
