//! A user-space TCP/UDP loopback transport as a Winsock 2 service provider.
//!
//! Sockets of this provider talk only to each other, inside one provider instance (one
//! process's start-up of the provider): `AF_INET` stream (`IPPROTO_TCP`) and datagram
//! (`IPPROTO_UDP`) sockets on `127.0.0.0/8`, with the behaviour applications expect from the
//! loopback interface, and no kernel object behind any socket (non-IFS handles).
//!
//! It is the toolkit's flagship example: every SPI call an ordinary blocking application makes
//! is served through the safe [`winsock_provider::Provider`] trait, and its tests drive it
//! through the `ws2-standin` crate exactly as an application drives ws2_32.
//!
//! # Behaviour
//!
//! **Addresses.** `bind` takes `127.x.y.z` or `0.0.0.0` (every loopback address); anything
//! else is `WSAEADDRNOTAVAIL`. Port 0 picks an ephemeral port in `49152..=65535` (reported by
//! `getsockname`); `connect` and `sendto` bind an unbound socket that way first. A socket bound
//! to `0.0.0.0` sends from `127.0.0.1`. Connecting or sending to `0.0.0.0` reaches
//! `127.0.0.1`; to a non-loopback address is `WSAENETUNREACH`; to port 0 `WSAEADDRNOTAVAIL`.
//! TCP and UDP have separate port spaces. Binding an address in use (same address, or either
//! one the wildcard) is `WSAEADDRINUSE` unless both sockets set `SO_REUSEADDR` before binding;
//! then traffic goes to the earliest of them (an exact address match beats the wildcard).
//!
//! **Streams.** `listen` needs a bound socket (`WSAEINVAL` otherwise); the backlog bounds
//! connections not yet accepted (`SOMAXCONN` is a huge backlog). `connect` completes at once:
//! refused (`WSAECONNREFUSED`) when nothing listens there or the backlog is full. Each
//! direction is a bounded byte queue sized by the *receiver's* `SO_RCVBUF` (default 64 KiB;
//! `SO_SNDBUF` is kept but bounds nothing). A blocking `send` waits for room until every byte
//! is queued; a non-blocking one queues what fits, or fails with `WSAEWOULDBLOCK`.
//! `MSG_PEEK` and `MSG_WAITALL` are supported on receives; `MSG_OOB` is `WSAEOPNOTSUPP`.
//!
//! **Shutdown and close.** `shutdown(SD_SEND)`: the peer receives the queued data, then 0;
//! later sends fail with `WSAESHUTDOWN`. `shutdown(SD_RECEIVE)`: queued data is discarded,
//! receives fail with `WSAESHUTDOWN` and the peer's sends with `WSAECONNRESET`. Closing a
//! connected socket is graceful (the peer receives what was sent, then 0) unless the closing
//! socket leaves unread data behind or has `SO_LINGER` on with a zero timeout: then the
//! connection is *reset*, as TCP does, and the peer's receives fail with `WSAECONNRESET`
//! (the data in flight towards it is lost). After either, the peer's sends fail with
//! `WSAECONNRESET`. Closing a listener resets the connections it had not accepted.
//!
//! **Datagrams** keep their boundaries: each `recvfrom` returns one datagram and its sender. A
//! datagram larger than the buffers fills them and fails with `WSAEMSGSIZE` (its rest is
//! lost). Datagrams over 65467 bytes are refused with `WSAEMSGSIZE`. A datagram for an address
//! nobody bound, or for a full receive queue (more than `SO_RCVBUF` bytes queued, or 4096
//! datagrams; an empty queue always takes one), is dropped silently, as UDP does. `connect`
//! sets the default destination for `send` and makes the socket accept datagrams from that
//! address only (connecting to `0.0.0.0:0` undoes it). `recv` on an unbound datagram socket is
//! `WSAEINVAL`.
//!
//! **Blocking calls and close.** A thread blocked in `recv`, `accept` or `send` on a socket
//! that another thread closes returns `WSAEINTR`; a call reaching a socket whose close has
//! begun fails with `WSAENOTSOCK`. `SO_RCVTIMEO`/`SO_SNDTIMEO` (milliseconds, 0 = forever)
//! bound blocking receives and sends (`WSAETIMEDOUT`).
//!
//! **Options.** `SO_RCVBUF`, `SO_SNDBUF`, `SO_REUSEADDR`, `SO_RCVTIMEO`, `SO_SNDTIMEO`,
//! `SO_ERROR` (always 0), and for streams `SO_ACCEPTCONN`, `SO_KEEPALIVE`, `SO_LINGER`,
//! `SO_DONTLINGER`, `TCP_NODELAY`, for datagrams `SO_BROADCAST` and `SO_MAX_MSG_SIZE`. The
//! runtime answers `SO_TYPE`, `SO_PROTOCOL_INFOW` and `FIONBIO`; `FIONREAD` counts the bytes
//! queued (for a datagram socket, of every queued datagram, as Winsock does).
//!
//! **Shared sockets.** `WSADuplicateSocket` for the calling process returns a structure that
//! `WSASocket(FROM_PROTOCOL_INFO, ...)` turns, once, into a second descriptor of the same
//! socket: both send to and receive from the same connection or address, and the socket
//! closes with the last of its descriptors (a structure never used holds it open until the
//! provider's last clean-up). A loopback socket cannot leave its process: duplicating it for
//! another process is `WSAEINVAL`. A call blocked in a descriptor that is closed while another
//! descriptor keeps the socket open is not woken by that close.

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod net;
mod socket;

use core::num::NonZeroU32;
use net::Net;
use socket::Kind;
use std::sync::Arc;
use winsock_provider::sys::{SOCK_DGRAM, SOCK_STREAM};
use winsock_provider::{
    winsock_provider, Bufs, BufsMut, MsgFlags, OptInput, OptValue, Provider, Ready, Shutdown, Sock,
    SockAddr, SockOpt, SocketRequest, StartupContext, WsaError,
};
use winsock_transport::{Duplicates, Shared};

pub use socket::{Socket, DEFAULT_BUFFER};

/// A loopback socket as one descriptor sees it (several after `WSADuplicateSocket`).
pub type SharedSocket = Shared<Socket>;

/// The loopback provider: one instance per start-up, holding its own address namespace.
#[winsock_provider(
    name = "Loopback",
    description = "Rust user-space TCP/UDP loopback transport (winsock-provider example)",
    guid = "6b3c4f0e-2a57-4d61-9e1f-8c0d7a5b3e21",
    non_ifs,
    protocol(name = "Loopback TCP", family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
    protocol(name = "Loopback UDP", family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP)
)]
pub struct Loopback {
    net: Arc<Net>,
    /// Duplicated sockets not yet taken.
    duplicates: Duplicates<Socket>,
}

impl Provider for Loopback {
    type Socket = SharedSocket;

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Loopback {
            net: Arc::new(Net::default()),
            duplicates: Duplicates::default(),
        })
    }

    fn socket(&self, request: &SocketRequest) -> Result<SharedSocket, WsaError> {
        let kind = match request.spec.socket_type {
            SOCK_STREAM => Kind::Stream,
            SOCK_DGRAM => Kind::Datagram,
            _ => return Err(WsaError::SOCKTNOSUPPORT),
        };
        Ok(SharedSocket::new(Socket::new(self.net.clone(), kind)))
    }

    fn close(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        sock.state().close();
        Ok(())
    }

    fn bind(&self, sock: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        sock.state().bind(addr)
    }

    fn listen(&self, sock: &Sock<Self>, backlog: i32) -> Result<(), WsaError> {
        sock.state().listen(backlog)
    }

    fn accept(&self, sock: &Sock<Self>) -> Result<(SharedSocket, SockAddr), WsaError> {
        let (new, peer) = sock.state().accept(sock.nonblocking())?;
        Ok((SharedSocket::new(new), peer))
    }

    fn connect(&self, sock: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        sock.state().connect(addr)
    }

    fn send(&self, sock: &Sock<Self>, bufs: &Bufs<'_>, flags: MsgFlags) -> Result<usize, WsaError> {
        sock.state().send(bufs, flags, sock.nonblocking())
    }

    fn send_to(
        &self,
        sock: &Sock<Self>,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        sock.state().send_to(bufs, flags, to, sock.nonblocking())
    }

    fn recv(
        &self,
        sock: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        let (n, _) = sock.state().recv_from(bufs, flags, sock.nonblocking())?;
        Ok((n, MsgFlags::NONE))
    }

    fn recv_from(
        &self,
        sock: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags, SockAddr), WsaError> {
        let (n, from) = sock.state().recv_from(bufs, flags, sock.nonblocking())?;
        Ok((n, MsgFlags::NONE, SockAddr::from(from)))
    }

    fn shutdown(&self, sock: &Sock<Self>, how: Shutdown) -> Result<(), WsaError> {
        sock.state().shutdown(how)
    }

    fn sock_name(&self, sock: &Sock<Self>) -> Result<SockAddr, WsaError> {
        sock.state().sock_name().map(SockAddr::from)
    }

    fn peer_name(&self, sock: &Sock<Self>) -> Result<SockAddr, WsaError> {
        sock.state().peer_name().map(SockAddr::from)
    }

    fn get_option(&self, sock: &Sock<Self>, opt: SockOpt) -> Result<OptValue, WsaError> {
        sock.state().get_option(opt)
    }

    fn set_option(
        &self,
        sock: &Sock<Self>,
        opt: SockOpt,
        value: OptInput<'_>,
    ) -> Result<(), WsaError> {
        sock.state().set_option(opt, value)
    }

    fn bytes_readable(&self, sock: &Sock<Self>) -> Result<usize, WsaError> {
        sock.state().bytes_readable()
    }

    // ---- Readiness: every notification model (overlapped, event/async select, select). ----

    fn attached(&self, sock: &Sock<Self>) {
        sock.state().attach(sock.notifier());
    }

    fn readiness(&self, sock: &Sock<Self>) -> Ready {
        sock.state().readiness()
    }

    fn adopt(&self, target: &Sock<Self>, accepted: SharedSocket) -> Result<(), WsaError> {
        target.state().adopt(&accepted)
    }

    // ---- Shared sockets: within this process only. ----

    fn duplicate_socket(&self, sock: &Sock<Self>, process_id: u32) -> Result<NonZeroU32, WsaError> {
        let socket_type = sock.spec().socket_type;
        self.duplicates.park(sock.state(), socket_type, process_id)
    }

    fn socket_from_duplicate(
        &self,
        request: &SocketRequest,
        reserved: NonZeroU32,
    ) -> Result<SharedSocket, WsaError> {
        self.duplicates.take(reserved, request.spec.socket_type)
    }

    fn cleanup(&self) {
        self.duplicates.forget();
    }
}
