//! The address namespace of one provider instance: which socket is bound to which loopback
//! address and port, for TCP and UDP separately.
//!
//! Binding rules:
//! - only `127.0.0.0/8` and the wildcard `0.0.0.0` (every loopback address) can be bound;
//!   anything else is `WSAEADDRNOTAVAIL`;
//! - port 0 picks a free ephemeral port in `49152..=65535` (one not bound at all in that
//!   protocol), `WSAENOBUFS` when all are taken;
//! - two bindings of the same port conflict when their addresses are equal or either is the
//!   wildcard, unless *both* sockets had `SO_REUSEADDR` set when they bound (TCP and UDP
//!   alike). A conflict is `WSAEADDRINUSE`.
//!
//! A connection or datagram for an address goes to the binding with exactly that address if
//! there is one, else to a wildcard binding; among equals, to the earliest.

use crate::socket::{Listener, Mailbox};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use winsock_provider::WsaError;
use winsock_transport::lock;

/// First ephemeral port (IANA dynamic range, as Windows uses).
pub(crate) const EPHEMERAL_FIRST: u16 = 49152;
/// Last ephemeral port.
pub(crate) const EPHEMERAL_LAST: u16 = 65535;

/// Which port table a socket binds in.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Proto {
    /// Stream sockets.
    Tcp,
    /// Datagram sockets.
    Udp,
}

/// What traffic for a binding reaches.
#[derive(Clone)]
pub(crate) enum Endpoint {
    /// Nothing yet (a bound stream socket that is not listening).
    None,
    /// A listening stream socket's accept queue.
    Listener(Arc<Listener>),
    /// A datagram socket's receive queue.
    Mailbox(Arc<Mailbox>),
}

struct Binding {
    socket: u64,
    ip: Ipv4Addr,
    reuse: bool,
    endpoint: Endpoint,
}

#[derive(Default)]
struct Table {
    ports: HashMap<u16, Vec<Binding>>,
    next_ephemeral: u16,
}

impl Table {
    fn ephemeral(&mut self) -> Result<u16, WsaError> {
        let span = u32::from(EPHEMERAL_LAST - EPHEMERAL_FIRST) + 1;
        for _ in 0..span {
            let offset = u32::from(self.next_ephemeral) % span;
            self.next_ephemeral = ((offset + 1) % span) as u16;
            let port = EPHEMERAL_FIRST + offset as u16;
            if !self.ports.contains_key(&port) {
                return Ok(port);
            }
        }
        Err(WsaError::NOBUFS)
    }

    fn find(&self, addr: SocketAddrV4, pick: impl Fn(&Endpoint) -> bool) -> Option<&Endpoint> {
        let bindings = self.ports.get(&addr.port())?;
        let usable = || bindings.iter().filter(|b| pick(&b.endpoint));
        usable()
            .find(|b| b.ip == *addr.ip())
            .or_else(|| usable().find(|b| b.ip.is_unspecified()))
            .map(|b| &b.endpoint)
    }
}

/// The namespace: port tables plus the socket id counter.
#[derive(Default)]
pub(crate) struct Net {
    tables: Mutex<(Table, Table)>,
    next_socket: AtomicU64,
}

/// Whether `ip` is one this transport owns (`127.0.0.0/8`).
pub(crate) fn is_loopback(ip: Ipv4Addr) -> bool {
    ip.octets()[0] == 127
}

impl Net {
    /// A fresh id for a new socket.
    pub(crate) fn socket_id(&self) -> u64 {
        self.next_socket.fetch_add(1, Ordering::Relaxed)
    }

    fn with_table<T>(&self, proto: Proto, f: impl FnOnce(&mut Table) -> T) -> T {
        let mut tables = lock(&self.tables);
        match proto {
            Proto::Tcp => f(&mut tables.0),
            Proto::Udp => f(&mut tables.1),
        }
    }

    /// Binds socket `socket` to `addr` (port 0: an ephemeral port); returns the bound address.
    pub(crate) fn bind(
        &self,
        proto: Proto,
        socket: u64,
        addr: SocketAddrV4,
        reuse: bool,
        endpoint: Endpoint,
    ) -> Result<SocketAddrV4, WsaError> {
        let ip = *addr.ip();
        if !ip.is_unspecified() && !is_loopback(ip) {
            return Err(WsaError::ADDRNOTAVAIL);
        }
        self.with_table(proto, |table| {
            let port = match addr.port() {
                0 => table.ephemeral()?,
                port => port,
            };
            let bindings = table.ports.entry(port).or_default();
            let conflict = bindings.iter().any(|b| {
                (b.ip == ip || b.ip.is_unspecified() || ip.is_unspecified()) && !(b.reuse && reuse)
            });
            if conflict {
                return Err(WsaError::ADDRINUSE);
            }
            bindings.push(Binding {
                socket,
                ip,
                reuse,
                endpoint,
            });
            Ok(SocketAddrV4::new(ip, port))
        })
    }

    /// Removes socket `socket`'s binding on `port`.
    pub(crate) fn unbind(&self, proto: Proto, socket: u64, port: u16) {
        self.with_table(proto, |table| {
            if let Some(bindings) = table.ports.get_mut(&port) {
                bindings.retain(|b| b.socket != socket);
                if bindings.is_empty() {
                    table.ports.remove(&port);
                }
            }
        });
    }

    /// Points socket `socket`'s binding on `port` at `endpoint` (e.g. its listener).
    pub(crate) fn set_endpoint(&self, proto: Proto, socket: u64, port: u16, endpoint: Endpoint) {
        self.with_table(proto, |table| {
            let bindings = table.ports.get_mut(&port).into_iter().flatten();
            for b in bindings.filter(|b| b.socket == socket) {
                b.endpoint = endpoint.clone();
            }
        });
    }

    /// The listener a connection to `addr` reaches.
    pub(crate) fn listener(&self, addr: SocketAddrV4) -> Option<Arc<Listener>> {
        self.with_table(Proto::Tcp, |table| {
            match table.find(addr, |e| matches!(e, Endpoint::Listener(_))) {
                Some(Endpoint::Listener(l)) => Some(l.clone()),
                _ => None,
            }
        })
    }

    /// The receive queue a datagram to `addr` reaches.
    pub(crate) fn mailbox(&self, addr: SocketAddrV4) -> Option<Arc<Mailbox>> {
        self.with_table(Proto::Udp, |table| {
            match table.find(addr, |e| matches!(e, Endpoint::Mailbox(_))) {
                Some(Endpoint::Mailbox(m)) => Some(m.clone()),
                _ => None,
            }
        })
    }

    /// Number of bindings in a table (for tests and leak checks).
    #[cfg(test)]
    pub(crate) fn bound(&self, proto: Proto) -> usize {
        self.with_table(proto, |table| table.ports.values().map(Vec::len).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(ip: [u8; 4], port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(ip), port)
    }

    #[test]
    fn conflicts_and_reuse() {
        let net = Net::default();
        let none = || Endpoint::None;
        assert_eq!(
            net.bind(Proto::Tcp, 1, a([127, 0, 0, 1], 80), false, none()),
            Ok(a([127, 0, 0, 1], 80))
        );
        // Same address, or the wildcard over it: in use.
        assert_eq!(
            net.bind(Proto::Tcp, 2, a([127, 0, 0, 1], 80), false, none()),
            Err(WsaError::ADDRINUSE)
        );
        assert_eq!(
            net.bind(Proto::Tcp, 2, a([0, 0, 0, 0], 80), false, none()),
            Err(WsaError::ADDRINUSE)
        );
        // Another loopback address, or the other protocol: free.
        assert!(net
            .bind(Proto::Tcp, 2, a([127, 0, 0, 2], 80), false, none())
            .is_ok());
        assert!(net
            .bind(Proto::Udp, 3, a([127, 0, 0, 1], 80), false, none())
            .is_ok());
        // Reuse needs both sides.
        assert_eq!(
            net.bind(Proto::Udp, 4, a([127, 0, 0, 1], 80), true, none()),
            Err(WsaError::ADDRINUSE)
        );
        assert!(net
            .bind(Proto::Udp, 5, a([127, 0, 0, 1], 81), true, none())
            .is_ok());
        assert!(net
            .bind(Proto::Udp, 6, a([127, 0, 0, 1], 81), true, none())
            .is_ok());
        net.unbind(Proto::Tcp, 1, 80);
        assert!(net
            .bind(Proto::Tcp, 7, a([127, 0, 0, 1], 80), false, none())
            .is_ok());
        assert_eq!(net.bound(Proto::Tcp), 2);
        assert_eq!(net.bound(Proto::Udp), 3);
    }

    #[test]
    fn only_loopback_addresses() {
        let net = Net::default();
        let r = net.bind(Proto::Udp, 1, a([10, 0, 0, 1], 5), false, Endpoint::None);
        assert_eq!(r, Err(WsaError::ADDRNOTAVAIL));
        assert!(net
            .bind(Proto::Udp, 1, a([127, 9, 8, 7], 5), false, Endpoint::None)
            .is_ok());
        assert_eq!(net.bound(Proto::Udp), 1);
    }

    #[test]
    fn ephemeral_ports_are_distinct_and_run_out() {
        let net = Net::default();
        let mut seen = std::collections::HashSet::new();
        for id in 0..u64::from(EPHEMERAL_LAST - EPHEMERAL_FIRST) + 1 {
            let got = net
                .bind(Proto::Tcp, id, a([0, 0, 0, 0], 0), false, Endpoint::None)
                .unwrap();
            assert!(got.port() >= EPHEMERAL_FIRST);
            assert!(seen.insert(got.port()));
        }
        let r = net.bind(
            Proto::Tcp,
            1 << 40,
            a([0, 0, 0, 0], 0),
            false,
            Endpoint::None,
        );
        assert_eq!(r, Err(WsaError::NOBUFS));
        net.unbind(Proto::Tcp, 7, EPHEMERAL_FIRST + 7);
        let again = net.bind(
            Proto::Tcp,
            1 << 40,
            a([127, 0, 0, 1], 0),
            false,
            Endpoint::None,
        );
        assert_eq!(again, Ok(a([127, 0, 0, 1], EPHEMERAL_FIRST + 7)));
    }
}
