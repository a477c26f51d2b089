//! Per-socket state and the operations behind each SPI call, built on `winsock-transport`'s
//! queues: a [`StreamEnd`] per connection, an [`AcceptQueue`] per listener, a
//! [`MessageQueue`] per datagram socket.

use crate::net::{is_loopback, Endpoint, Net, Proto};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use winsock_provider::sys::{IPPROTO_TCP, SOL_SOCKET, SO_ACCEPTCONN, SO_ERROR, SO_RCVBUF};
use winsock_provider::{
    Bufs, BufsMut, MsgFlags, Notifier, OptInput, OptValue, Ready, Shutdown, SockAddr, SockOpt,
    WsaError,
};
use winsock_transport::{
    lock, AcceptQueue, Close, MessageQueue, ReadMode, SocketOptions, StreamEnd, Wait, Watchers,
};

/// Default `SO_RCVBUF` and `SO_SNDBUF`: 64 KiB.
pub const DEFAULT_BUFFER: i32 = 64 * 1024;
/// The largest datagram: 65535 minus the IPv4 and UDP headers with room for IP options.
const MAX_DATAGRAM: usize = 65467;
/// At most this many datagrams wait in one queue, whatever their size.
const MAX_QUEUED: usize = 4096;
/// `SO_MAX_MSG_SIZE`: the largest datagram.
const SO_MAX_MSG_SIZE: i32 = 0x2003;

/// A datagram socket's receive queue, keyed by sender.
pub(crate) type Mailbox = MessageQueue<SocketAddrV4>;

/// One end of an established connection and its addresses.
pub(crate) struct Conn {
    end: StreamEnd,
    local: SocketAddrV4,
    peer: SocketAddrV4,
}

/// A listening socket: its accept queue, and the receive buffer size of the connections it
/// takes (its `SO_RCVBUF`).
pub(crate) struct Listener {
    queue: AcceptQueue<Conn>,
    rcvbuf: AtomicUsize,
}

/// The kind of transport a socket uses.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// `SOCK_STREAM` / `IPPROTO_TCP`.
    Stream,
    /// `SOCK_DGRAM` / `IPPROTO_UDP`.
    Datagram,
}

/// A datagram socket's addressing state.
struct Dgram {
    mailbox: Arc<Mailbox>,
    /// The default destination and only accepted source, after `connect`.
    peer: Option<SocketAddrV4>,
    /// `SD_SEND` was called.
    send_shut: bool,
}

enum Role {
    /// A stream socket neither listening nor connected.
    Idle,
    Listening(Arc<Listener>),
    Connected(Conn),
    Datagram(Dgram),
}

struct Inner {
    opts: SocketOptions,
    closed: bool,
    /// The address registered in the namespace (not set for accepted sockets, which share
    /// their listener's port).
    bound: Option<SocketAddrV4>,
    role: Role,
}

/// A loopback socket: the provider's per-socket state.
///
/// Calls blocked in a socket when it is closed return `WSAEINTR`; calls that reach it after
/// its close began fail with `WSAENOTSOCK`.
pub struct Socket {
    id: u64,
    kind: Kind,
    net: Arc<Net>,
    inner: Mutex<Inner>,
    /// The descriptors' notifiers, which this socket's queues signal.
    watchers: Arc<Watchers>,
}

/// The IPv4 address of a socket address (the runtime has already checked the family).
fn v4(addr: &SockAddr) -> Result<SocketAddrV4, WsaError> {
    match addr.inet()? {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(WsaError::AFNOSUPPORT),
    }
}

/// Where traffic for `addr` goes: `0.0.0.0` means `127.0.0.1`; other non-loopback addresses
/// are unreachable; port 0 is not an address one can reach.
fn destination(addr: SocketAddrV4) -> Result<SocketAddrV4, WsaError> {
    let dest = source(addr);
    if !is_loopback(*dest.ip()) {
        return Err(WsaError::NETUNREACH);
    }
    if addr.port() == 0 {
        return Err(WsaError::ADDRNOTAVAIL);
    }
    Ok(dest)
}

/// The address a socket bound to `bound` sends from: the wildcard sends from `127.0.0.1`.
fn source(bound: SocketAddrV4) -> SocketAddrV4 {
    if bound.ip().is_unspecified() {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, bound.port())
    } else {
        bound
    }
}

fn check_send_flags(flags: MsgFlags) -> Result<(), WsaError> {
    if flags.contains(MsgFlags::OOB) {
        return Err(WsaError::OPNOTSUPP);
    }
    Ok(())
}

impl Socket {
    fn with_role(net: Arc<Net>, kind: Kind, opts: SocketOptions, role: Role) -> Socket {
        let watchers = Watchers::new();
        match &role {
            Role::Datagram(d) => d.mailbox.slot().set(&watchers),
            Role::Connected(c) => c.end.attach(&watchers),
            _ => {}
        }
        Socket {
            id: net.socket_id(),
            kind,
            net,
            inner: Mutex::new(Inner {
                opts,
                closed: false,
                bound: None,
                role,
            }),
            watchers,
        }
    }

    /// A new, unbound socket.
    pub(crate) fn new(net: Arc<Net>, kind: Kind) -> Socket {
        let opts = SocketOptions::with_buffers(DEFAULT_BUFFER);
        let role = match kind {
            Kind::Stream => Role::Idle,
            Kind::Datagram => Role::Datagram(Dgram {
                mailbox: Arc::new(Mailbox::new(opts.rcv_capacity(), MAX_QUEUED)),
                peer: None,
                send_shut: false,
            }),
        };
        Socket::with_role(net, kind, opts, role)
    }

    /// A descriptor of this socket got its runtime record: signal its readiness from now on.
    pub(crate) fn attach(&self, notifier: Notifier) {
        self.watchers.attach(notifier);
    }

    /// Readiness as `select` sees it.
    pub(crate) fn readiness(&self) -> Ready {
        let inner = lock(&self.inner);
        if inner.closed {
            return Ready::READ | Ready::WRITE;
        }
        match &inner.role {
            Role::Idle => Ready::NONE,
            Role::Listening(l) if l.queue.acceptable() => Ready::ACCEPT,
            Role::Listening(_) => Ready::NONE,
            Role::Connected(c) => c.end.readiness(),
            Role::Datagram(d) if d.mailbox.readable() => Ready::READ | Ready::WRITE,
            Role::Datagram(_) => Ready::WRITE,
        }
    }

    /// `AcceptEx`: this socket, created by the application and never used, becomes the
    /// connection `accepted` (fresh from [`Socket::accept`], never attached), which is
    /// consumed. What was signalled to `accepted` meanwhile carries over.
    pub(crate) fn adopt(&self, accepted: &Socket) -> Result<(), WsaError> {
        let role = {
            let mut from = lock(&accepted.inner);
            from.closed = true;
            std::mem::replace(&mut from.role, Role::Idle)
        };
        let conn = match role {
            Role::Connected(conn) => conn,
            _ => return Err(WsaError::INVAL),
        };
        let mut inner = match self.open() {
            Ok(inner)
                if self.kind == Kind::Stream
                    && inner.bound.is_none()
                    && matches!(inner.role, Role::Idle) =>
            {
                inner
            }
            other => {
                let e = other.err().unwrap_or(WsaError::INVAL);
                conn.end.close(true);
                return Err(e);
            }
        };
        conn.end.rx.set_capacity(inner.opts.rcv_capacity());
        conn.end.attach(&self.watchers);
        inner.role = Role::Connected(conn);
        Ok(())
    }

    /// The port table the socket binds in.
    fn proto(&self) -> Proto {
        match self.kind {
            Kind::Stream => Proto::Tcp,
            Kind::Datagram => Proto::Udp,
        }
    }

    /// Locks the state of an open socket; `WSAENOTSOCK` once its close has begun.
    fn open(&self) -> Result<MutexGuard<'_, Inner>, WsaError> {
        let inner = lock(&self.inner);
        if inner.closed {
            return Err(WsaError::NOTSOCK);
        }
        Ok(inner)
    }

    /// Registers `addr` (port 0: an ephemeral port) in the namespace.
    fn bind_to(&self, inner: &mut Inner, addr: SocketAddrV4) -> Result<SocketAddrV4, WsaError> {
        let endpoint = match &inner.role {
            Role::Datagram(d) => Endpoint::Mailbox(d.mailbox.clone()),
            _ => Endpoint::None,
        };
        let reuse = inner.opts.reuse_addr;
        let bound = self
            .net
            .bind(self.proto(), self.id, addr, reuse, endpoint)?;
        inner.bound = Some(bound);
        Ok(bound)
    }

    /// The bound address, binding a wildcard ephemeral port first if there is none.
    fn ensure_bound(&self, inner: &mut Inner) -> Result<SocketAddrV4, WsaError> {
        match inner.bound {
            Some(bound) => Ok(bound),
            None => self.bind_to(inner, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        }
    }

    /// `bind`.
    pub(crate) fn bind(&self, addr: &SockAddr) -> Result<(), WsaError> {
        let addr = v4(addr)?;
        let mut inner = self.open()?;
        if inner.bound.is_some() || matches!(inner.role, Role::Connected(_) | Role::Listening(_)) {
            return Err(WsaError::INVAL);
        }
        self.bind_to(&mut inner, addr).map(drop)
    }

    /// `listen`: a bound stream socket starts (or, listening, changes its backlog).
    pub(crate) fn listen(&self, backlog: i32) -> Result<(), WsaError> {
        let backlog = backlog.max(1) as usize;
        let mut inner = self.open()?;
        let bound = match &inner.role {
            Role::Datagram(_) => return Err(WsaError::OPNOTSUPP),
            Role::Connected(_) => return Err(WsaError::ISCONN),
            Role::Listening(l) => {
                l.queue.set_backlog(backlog);
                return Ok(());
            }
            Role::Idle => inner.bound.ok_or(WsaError::INVAL)?,
        };
        let listener = Arc::new(Listener {
            queue: AcceptQueue::new(backlog),
            rcvbuf: AtomicUsize::new(inner.opts.rcv_capacity()),
        });
        listener.queue.slot().set(&self.watchers);
        let endpoint = Endpoint::Listener(listener.clone());
        self.net
            .set_endpoint(Proto::Tcp, self.id, bound.port(), endpoint);
        inner.role = Role::Listening(listener);
        Ok(())
    }

    /// `accept`: the new socket's state (with this socket's options) and the peer's address.
    pub(crate) fn accept(&self, nonblocking: bool) -> Result<(Socket, SockAddr), WsaError> {
        let (listener, opts) = {
            let inner = self.open()?;
            match &inner.role {
                Role::Listening(l) => (l.clone(), inner.opts),
                Role::Datagram(_) => return Err(WsaError::OPNOTSUPP),
                _ => return Err(WsaError::INVAL),
            }
        };
        let conn = listener.queue.accept(Wait::new(nonblocking, 0))?;
        conn.end.rx.set_capacity(opts.rcv_capacity());
        let peer = SockAddr::from(conn.peer);
        let role = Role::Connected(conn);
        Ok((
            Socket::with_role(self.net.clone(), Kind::Stream, opts, role),
            peer,
        ))
    }

    /// `connect`: a stream connection completes at once (or is refused); a datagram socket
    /// records its default peer (`0.0.0.0:0` dissolves the association).
    pub(crate) fn connect(&self, addr: &SockAddr) -> Result<(), WsaError> {
        let addr = v4(addr)?;
        let mut inner = self.open()?;
        match &mut inner.role {
            Role::Listening(_) => return Err(WsaError::INVAL),
            Role::Connected(_) => return Err(WsaError::ISCONN),
            Role::Datagram(d) if addr.ip().is_unspecified() && addr.port() == 0 => {
                d.peer = None;
                d.mailbox.filter(None);
                return Ok(());
            }
            Role::Datagram(_) | Role::Idle => {}
        }
        let dest = destination(addr)?;
        let local = source(self.ensure_bound(&mut inner)?);
        if let Role::Datagram(d) = &mut inner.role {
            d.peer = Some(dest);
            d.mailbox.filter(Some(dest));
            return Ok(());
        }
        let listener = self.net.listener(dest).ok_or(WsaError::CONNREFUSED)?;
        let rcvbuf = inner.opts.rcv_capacity();
        let end = listener.queue.offer(|| {
            let (client, server) = StreamEnd::pair(rcvbuf, listener.rcvbuf.load(Ordering::Relaxed));
            // Before the server end can be accepted: no signal for this end is lost.
            client.attach(&self.watchers);
            let (local, peer) = (dest, local);
            (
                Conn {
                    end: server,
                    local,
                    peer,
                },
                client,
            )
        })?;
        inner.role = Role::Connected(Conn {
            end,
            local,
            peer: dest,
        });
        Ok(())
    }

    /// `send` (and `sendto` on a stream socket, which ignores the address).
    pub(crate) fn send(
        &self,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
        nonblocking: bool,
    ) -> Result<usize, WsaError> {
        check_send_flags(flags)?;
        if self.kind == Kind::Datagram {
            return self.send_datagram(bufs, None);
        }
        let (pipe, wait) = {
            let inner = self.open()?;
            match &inner.role {
                Role::Connected(c) => (c.end.tx.clone(), inner.opts.send_wait(nonblocking)),
                _ => return Err(WsaError::NOTCONN),
            }
        };
        pipe.write(bufs, wait)
    }

    /// `sendto`.
    pub(crate) fn send_to(
        &self,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
        to: &SockAddr,
        nonblocking: bool,
    ) -> Result<usize, WsaError> {
        if self.kind == Kind::Stream {
            return self.send(bufs, flags, nonblocking);
        }
        check_send_flags(flags)?;
        self.send_datagram(bufs, Some(v4(to)?))
    }

    /// Sends one datagram to `to` or the connected peer. Never blocks: a datagram nobody can
    /// take is dropped, as UDP does.
    fn send_datagram(&self, bufs: &Bufs<'_>, to: Option<SocketAddrV4>) -> Result<usize, WsaError> {
        let len = bufs.len();
        if len > MAX_DATAGRAM {
            return Err(WsaError::MSGSIZE);
        }
        let (from, dest) = {
            let mut inner = self.open()?;
            let (send_shut, peer) = match &inner.role {
                Role::Datagram(d) => (d.send_shut, d.peer),
                _ => return Err(WsaError::OPNOTSUPP),
            };
            if send_shut {
                return Err(WsaError::SHUTDOWN);
            }
            let dest = match to {
                Some(to) => destination(to)?,
                None => peer.ok_or(WsaError::NOTCONN)?,
            };
            (source(self.ensure_bound(&mut inner)?), dest)
        };
        if let Some(mailbox) = self.net.mailbox(dest) {
            mailbox.deliver(from, bufs);
        }
        Ok(len)
    }

    /// `recvfrom` (and `recv`): bytes received (0 at end of stream) and the sender (the peer,
    /// for a stream socket). A datagram larger than the buffers fills them and fails with
    /// `WSAEMSGSIZE`; its rest is lost.
    pub(crate) fn recv_from(
        &self,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
        nonblocking: bool,
    ) -> Result<(usize, SocketAddrV4), WsaError> {
        let mode = ReadMode::from_flags(flags)?;
        let inner = self.open()?;
        let wait = inner.opts.recv_wait(nonblocking);
        match &inner.role {
            Role::Connected(c) => {
                let (pipe, peer) = (c.end.rx.clone(), c.peer);
                drop(inner);
                Ok((pipe.read(bufs, mode, wait)?, peer))
            }
            Role::Datagram(d) if inner.bound.is_some() => {
                let mailbox = d.mailbox.clone();
                drop(inner);
                mailbox.receive(bufs, mode.peek, wait)?.into_result()
            }
            Role::Datagram(_) => Err(WsaError::INVAL),
            Role::Idle | Role::Listening(_) => Err(WsaError::NOTCONN),
        }
    }

    /// `shutdown`.
    pub(crate) fn shutdown(&self, how: Shutdown) -> Result<(), WsaError> {
        let mut inner = self.open()?;
        match &mut inner.role {
            Role::Connected(c) => c.end.shutdown(how),
            Role::Datagram(d) => {
                d.send_shut |= how.send();
                if how.receive() {
                    d.mailbox.shut();
                }
            }
            Role::Idle | Role::Listening(_) => return Err(WsaError::NOTCONN),
        }
        Ok(())
    }

    /// `getsockname`.
    pub(crate) fn sock_name(&self) -> Result<SocketAddrV4, WsaError> {
        let inner = self.open()?;
        match &inner.role {
            Role::Connected(c) => Ok(c.local),
            Role::Datagram(d) if d.peer.is_some() => inner.bound.map(source).ok_or(WsaError::INVAL),
            _ => inner.bound.ok_or(WsaError::INVAL),
        }
    }

    /// `getpeername`.
    pub(crate) fn peer_name(&self) -> Result<SocketAddrV4, WsaError> {
        let inner = self.open()?;
        match &inner.role {
            Role::Connected(c) => Ok(c.peer),
            Role::Datagram(d) => d.peer.ok_or(WsaError::NOTCONN),
            _ => Err(WsaError::NOTCONN),
        }
    }

    /// `FIONREAD`: bytes queued for a stream, total bytes of queued datagrams.
    pub(crate) fn bytes_readable(&self) -> Result<usize, WsaError> {
        let inner = self.open()?;
        Ok(match &inner.role {
            Role::Connected(c) => c.end.rx.queued(),
            Role::Datagram(d) => d.mailbox.queued(),
            Role::Idle | Role::Listening(_) => 0,
        })
    }

    /// `getsockopt`: the common options, `SO_ERROR` (always 0), `SO_ACCEPTCONN` and
    /// `SO_MAX_MSG_SIZE`.
    pub(crate) fn get_option(&self, opt: SockOpt) -> Result<OptValue, WsaError> {
        let inner = self.open()?;
        let stream = self.kind == Kind::Stream;
        if let Some(value) = inner.opts.get(opt, stream) {
            return Ok(value);
        }
        Ok(match (opt.level, opt.name) {
            (SOL_SOCKET, SO_ERROR) => OptValue::Int(0),
            (SOL_SOCKET, SO_ACCEPTCONN) if stream => {
                OptValue::Bool(matches!(inner.role, Role::Listening(_)))
            }
            (SOL_SOCKET, SO_MAX_MSG_SIZE) if !stream => OptValue::Int(MAX_DATAGRAM as i32),
            (SOL_SOCKET, _) | (IPPROTO_TCP, _) => return Err(WsaError::NOPROTOOPT),
            _ => return Err(WsaError::INVAL),
        })
    }

    /// `setsockopt`: the common options; `SO_RCVBUF` bounds the receive queue at once.
    pub(crate) fn set_option(&self, opt: SockOpt, value: OptInput<'_>) -> Result<(), WsaError> {
        let mut inner = self.open()?;
        if !inner.opts.set(opt, value, self.kind == Kind::Stream)? {
            return Err(match opt.level {
                SOL_SOCKET | IPPROTO_TCP => WsaError::NOPROTOOPT,
                _ => WsaError::INVAL,
            });
        }
        if (opt.level, opt.name) == (SOL_SOCKET, SO_RCVBUF) {
            let bound = inner.opts.rcv_capacity();
            match &inner.role {
                Role::Connected(c) => c.end.rx.set_capacity(bound),
                Role::Listening(l) => l.rcvbuf.store(bound, Ordering::Relaxed),
                Role::Datagram(d) => d.mailbox.set_capacity(bound),
                Role::Idle => {}
            }
        }
        Ok(())
    }
}

impl Close for Socket {
    /// `closesocket` of the last descriptor: releases the address, ends the connection
    /// (gracefully unless unread data is left or linger is on with a zero timeout: then it
    /// is reset; a listener resets the connections it had not accepted), and wakes every
    /// thread blocked in this socket (they return `WSAEINTR`). Idempotent.
    fn close(&self) {
        let (role, bound, abort) = {
            let mut inner = lock(&self.inner);
            if inner.closed {
                return;
            }
            inner.closed = true;
            let role = std::mem::replace(&mut inner.role, Role::Idle);
            (role, inner.bound.take(), inner.opts.abortive_close())
        };
        if let Some(bound) = bound {
            self.net.unbind(self.proto(), self.id, bound.port());
        }
        match role {
            Role::Listening(l) => l.queue.close().iter().for_each(|c| c.end.close(true)),
            Role::Connected(c) => c.end.close(abort),
            Role::Datagram(d) => d.mailbox.close(),
            Role::Idle => {}
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // The runtime closes every socket before dropping it; this only guards the namespace
        // against a socket state dropped some other way.
        Close::close(self);
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use winsock_provider::sys::SO_REUSEADDR;

    fn a(ip: [u8; 4], port: u16) -> SockAddr {
        SockAddr::from(SocketAddrV4::new(Ipv4Addr::from(ip), port))
    }

    #[test]
    fn close_and_drop_release_the_address() {
        let net = Arc::new(Net::default());
        let s = Socket::new(net.clone(), Kind::Datagram);
        s.bind(&a([127, 0, 0, 1], 7000)).unwrap();
        assert_eq!(net.bound(Proto::Udp), 1);
        s.close();
        s.close();
        assert_eq!(net.bound(Proto::Udp), 0);
        assert_eq!(s.sock_name(), Err(WsaError::NOTSOCK));

        let t = Socket::new(net.clone(), Kind::Stream);
        t.bind(&a([127, 0, 0, 1], 7000)).unwrap();
        t.listen(1).unwrap();
        drop(t);
        assert_eq!(net.bound(Proto::Tcp), 0);
        assert!(net
            .listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7000))
            .is_none());
    }

    #[test]
    fn accepted_sockets_inherit_the_listeners_options() {
        let net = Arc::new(Net::default());
        let l = Socket::new(net.clone(), Kind::Stream);
        l.set_option(SockOpt::socket(SO_RCVBUF), OptInput(&1234i32.to_ne_bytes()))
            .unwrap();
        l.set_option(SockOpt::socket(SO_REUSEADDR), OptInput(&[1]))
            .unwrap();
        l.bind(&a([127, 0, 0, 1], 0)).unwrap();
        l.listen(5).unwrap();
        let c = Socket::new(net.clone(), Kind::Stream);
        c.connect(&SockAddr::from(l.sock_name().unwrap())).unwrap();
        let (s, peer) = l.accept(true).ok().unwrap();
        assert_eq!(peer, SockAddr::from(c.sock_name().unwrap()));
        assert_eq!(
            s.get_option(SockOpt::socket(SO_RCVBUF)),
            Ok(OptValue::Int(1234))
        );
        assert_eq!(
            s.get_option(SockOpt::socket(SO_REUSEADDR)),
            Ok(OptValue::Bool(true))
        );
        assert_eq!(
            s.get_option(SockOpt::socket(SO_ACCEPTCONN)),
            Ok(OptValue::Bool(false))
        );
        assert_eq!(
            l.get_option(SockOpt::socket(SO_ACCEPTCONN)),
            Ok(OptValue::Bool(true))
        );
        assert_eq!(l.accept(true).err(), Some(WsaError::WOULDBLOCK));
        // Unknown options and levels.
        assert_eq!(
            s.get_option(SockOpt::socket(0x7777)),
            Err(WsaError::NOPROTOOPT)
        );
        assert_eq!(
            s.get_option(SockOpt {
                level: 0x1234,
                name: 1
            }),
            Err(WsaError::INVAL)
        );
        assert_eq!(
            s.set_option(SockOpt::socket(SO_RCVBUF), OptInput(&(-1i32).to_ne_bytes())),
            Err(WsaError::INVAL)
        );
        assert_eq!(
            s.set_option(SockOpt::socket(SO_RCVBUF), OptInput(&[1, 2])),
            Err(WsaError::FAULT)
        );
    }

    #[test]
    fn address_helpers() {
        let v6: SockAddr = SockAddr::Inet("[::1]:80".parse().unwrap());
        assert_eq!(v4(&v6), Err(WsaError::AFNOSUPPORT));
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80);
        assert_eq!(
            destination(any),
            Ok(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80))
        );
        let far = SocketAddrV4::new(Ipv4Addr::new(1, 2, 3, 4), 80);
        assert_eq!(destination(far), Err(WsaError::NETUNREACH));
        assert_eq!(
            destination(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
            Err(WsaError::ADDRNOTAVAIL)
        );
        assert_eq!(source(any), SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80));
    }
}
