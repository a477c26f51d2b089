//! Per-socket state and the operations behind each SPI call.

use crate::dgram::{Mailbox, MAX_DATAGRAM};
use crate::net::{is_loopback, Endpoint, Net, Proto};
use crate::pipe::{queue_bound, ReadMode};
use crate::ready::Watchers;
use crate::stream::{Conn, Listener};
use crate::sync::{lock, Deadline};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard};
use winsock_provider::sys::{
    SOL_SOCKET, SO_ACCEPTCONN, SO_BROADCAST, SO_DONTLINGER, SO_ERROR, SO_KEEPALIVE, SO_LINGER,
    SO_RCVBUF, SO_RCVTIMEO, SO_REUSEADDR, SO_SNDBUF, SO_SNDTIMEO,
};
use winsock_provider::{
    Bufs, BufsMut, MsgFlags, Notifier, OptInput, OptValue, Ready, Shutdown, SockAddr, SockOpt,
    WsaError,
};

/// Default `SO_RCVBUF` and `SO_SNDBUF`: 64 KiB.
pub const DEFAULT_BUFFER: i32 = 64 * 1024;

/// `IPPROTO_TCP` as a socket option level.
const IPPROTO_TCP: i32 = 6;
/// `TCP_NODELAY` (accepted and stored; there is no Nagle delay to turn off).
const TCP_NODELAY: i32 = 1;
/// `SO_MAX_MSG_SIZE`: the largest datagram.
const SO_MAX_MSG_SIZE: i32 = 0x2003;

/// The kind of transport a socket uses.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// `SOCK_STREAM` / `IPPROTO_TCP`.
    Stream,
    /// `SOCK_DGRAM` / `IPPROTO_UDP`.
    Datagram,
}

impl Kind {
    fn proto(self) -> Proto {
        match self {
            Kind::Stream => Proto::Tcp,
            Kind::Datagram => Proto::Udp,
        }
    }
}

#[derive(Copy, Clone, Debug)]
struct Options {
    rcvbuf: i32,
    sndbuf: i32,
    reuse: bool,
    keepalive: bool,
    broadcast: bool,
    nodelay: bool,
    /// `struct linger`: (`l_onoff`, `l_linger`).
    linger: (u16, u16),
    rcvtimeo: u32,
    sndtimeo: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            rcvbuf: DEFAULT_BUFFER,
            sndbuf: DEFAULT_BUFFER,
            reuse: false,
            keepalive: false,
            broadcast: false,
            nodelay: false,
            linger: (0, 0),
            rcvtimeo: 0,
            sndtimeo: 0,
        }
    }
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
    opts: Options,
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
    let ip = if addr.ip().is_unspecified() {
        Ipv4Addr::LOCALHOST
    } else {
        *addr.ip()
    };
    if !is_loopback(ip) {
        return Err(WsaError::NETUNREACH);
    }
    if addr.port() == 0 {
        return Err(WsaError::ADDRNOTAVAIL);
    }
    Ok(SocketAddrV4::new(ip, addr.port()))
}

/// The address a socket bound to `bound` sends from: the wildcard sends from `127.0.0.1`.
fn source(bound: SocketAddrV4) -> SocketAddrV4 {
    if bound.ip().is_unspecified() {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, bound.port())
    } else {
        bound
    }
}

fn read_mode(flags: MsgFlags) -> Result<ReadMode, WsaError> {
    let peek = flags.contains(MsgFlags::PEEK);
    let wait_all = flags.contains(MsgFlags::WAITALL);
    if flags.contains(MsgFlags::OOB) || (peek && wait_all) {
        return Err(WsaError::OPNOTSUPP);
    }
    Ok(ReadMode { peek, wait_all })
}

fn check_send_flags(flags: MsgFlags) -> Result<(), WsaError> {
    if flags.contains(MsgFlags::OOB) {
        return Err(WsaError::OPNOTSUPP);
    }
    Ok(())
}

impl Socket {
    /// A new, unbound socket.
    pub(crate) fn new(net: Arc<Net>, kind: Kind) -> Socket {
        let opts = Options::default();
        let role = match kind {
            Kind::Stream => Role::Idle,
            Kind::Datagram => Role::Datagram(Dgram {
                mailbox: Arc::new(Mailbox::new(queue_bound(opts.rcvbuf))),
                peer: None,
                send_shut: false,
            }),
        };
        let watchers = Watchers::new();
        if let Role::Datagram(d) = &role {
            d.mailbox.set_watchers(&watchers);
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

    /// The socket state of an accepted connection, with its listener's options.
    fn accepted(net: Arc<Net>, conn: Conn, opts: Options) -> Socket {
        conn.rx.set_capacity(queue_bound(opts.rcvbuf));
        let watchers = Watchers::new();
        conn.attach(&watchers);
        Socket {
            id: net.socket_id(),
            kind: Kind::Stream,
            net,
            inner: Mutex::new(Inner {
                opts,
                closed: false,
                bound: None,
                role: Role::Connected(conn),
            }),
            watchers,
        }
    }

    /// A descriptor of this socket got its runtime record: signal its readiness from now on.
    pub(crate) fn attach(&self, notifier: Notifier) {
        self.watchers.add(notifier);
    }

    /// Readiness as `select` sees it.
    pub(crate) fn readiness(&self) -> Ready {
        let inner = lock(&self.inner);
        if inner.closed {
            return Ready::READ | Ready::WRITE;
        }
        match &inner.role {
            Role::Idle => Ready::NONE,
            Role::Listening(l) => {
                if l.acceptable() {
                    Ready::ACCEPT
                } else {
                    Ready::NONE
                }
            }
            Role::Connected(c) => c.readiness(),
            Role::Datagram(d) => {
                if d.mailbox.readable() {
                    Ready::READ | Ready::WRITE
                } else {
                    Ready::WRITE
                }
            }
        }
    }

    /// `AcceptEx`: this socket, created by the application and never used, becomes the
    /// connection `accepted` (fresh from [`Socket::accept`]), which is consumed.
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
            Ok(inner) => inner,
            Err(e) => {
                conn.close(true);
                return Err(e);
            }
        };
        if self.kind != Kind::Stream || inner.bound.is_some() || !matches!(inner.role, Role::Idle) {
            drop(inner);
            conn.close(true);
            return Err(WsaError::INVAL);
        }
        conn.rx.set_capacity(queue_bound(inner.opts.rcvbuf));
        conn.attach(&self.watchers);
        inner.role = Role::Connected(conn);
        Ok(())
    }

    /// Locks the state of an open socket; `WSAENOTSOCK` once its close has begun.
    fn open(&self) -> Result<MutexGuard<'_, Inner>, WsaError> {
        let inner = lock(&self.inner);
        if inner.closed {
            return Err(WsaError::NOTSOCK);
        }
        Ok(inner)
    }

    /// The bound address, binding a wildcard ephemeral port first if there is none.
    fn ensure_bound(&self, inner: &mut Inner) -> Result<SocketAddrV4, WsaError> {
        if let Some(bound) = inner.bound {
            return Ok(bound);
        }
        let endpoint = match &inner.role {
            Role::Datagram(d) => Endpoint::Mailbox(d.mailbox.clone()),
            _ => Endpoint::None,
        };
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
        let bound = self
            .net
            .bind(self.kind.proto(), self.id, any, inner.opts.reuse, endpoint)?;
        inner.bound = Some(bound);
        Ok(bound)
    }

    /// `bind`.
    pub(crate) fn bind(&self, addr: &SockAddr) -> Result<(), WsaError> {
        let addr = v4(addr)?;
        let mut inner = self.open()?;
        if inner.bound.is_some() || matches!(inner.role, Role::Connected(_) | Role::Listening(_)) {
            return Err(WsaError::INVAL);
        }
        let endpoint = match &inner.role {
            Role::Datagram(d) => Endpoint::Mailbox(d.mailbox.clone()),
            _ => Endpoint::None,
        };
        let bound = self
            .net
            .bind(self.kind.proto(), self.id, addr, inner.opts.reuse, endpoint)?;
        inner.bound = Some(bound);
        Ok(())
    }

    /// `listen`: a bound stream socket starts (or, listening, changes its backlog).
    pub(crate) fn listen(&self, backlog: i32) -> Result<(), WsaError> {
        let backlog = backlog.max(1) as usize;
        let mut inner = self.open()?;
        let bound = match &inner.role {
            Role::Datagram(_) => return Err(WsaError::OPNOTSUPP),
            Role::Connected(_) => return Err(WsaError::ISCONN),
            Role::Listening(l) => {
                l.set_backlog(backlog);
                return Ok(());
            }
            Role::Idle => inner.bound.ok_or(WsaError::INVAL)?,
        };
        let listener = Arc::new(Listener::new(backlog, queue_bound(inner.opts.rcvbuf)));
        listener.set_watchers(&self.watchers);
        let endpoint = Endpoint::Listener(listener.clone());
        self.net
            .set_endpoint(Proto::Tcp, self.id, bound.port(), endpoint);
        inner.role = Role::Listening(listener);
        Ok(())
    }

    /// `accept`: the new socket's state and the peer's address.
    pub(crate) fn accept(&self, nonblocking: bool) -> Result<(Socket, SockAddr), WsaError> {
        let (listener, opts) = {
            let inner = self.open()?;
            match &inner.role {
                Role::Listening(l) => (l.clone(), inner.opts),
                Role::Datagram(_) => return Err(WsaError::OPNOTSUPP),
                _ => return Err(WsaError::INVAL),
            }
        };
        let conn = listener.accept(nonblocking, Deadline::NEVER)?;
        let peer = SockAddr::from(conn.peer);
        Ok((Socket::accepted(self.net.clone(), conn, opts), peer))
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
        let conn = listener.connect(local, dest, queue_bound(inner.opts.rcvbuf))?;
        conn.attach(&self.watchers);
        inner.role = Role::Connected(conn);
        drop(inner);
        listener.announce();
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
        let (pipe, deadline) = {
            let inner = self.open()?;
            match &inner.role {
                Role::Connected(c) => (c.tx.clone(), Deadline::after_millis(inner.opts.sndtimeo)),
                _ => return Err(WsaError::NOTCONN),
            }
        };
        pipe.write(bufs, nonblocking, deadline)
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

    /// `recv`: bytes received; 0 at end of stream.
    pub(crate) fn recv(
        &self,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
        nonblocking: bool,
    ) -> Result<usize, WsaError> {
        self.recv_from(bufs, flags, nonblocking).map(|(n, _)| n)
    }

    /// `recvfrom`: bytes received and the sender (the peer, for a stream socket). A datagram
    /// larger than the buffers fills them and fails with `WSAEMSGSIZE`; its rest is lost.
    pub(crate) fn recv_from(
        &self,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
        nonblocking: bool,
    ) -> Result<(usize, SocketAddrV4), WsaError> {
        let mode = read_mode(flags)?;
        let inner = self.open()?;
        let deadline = Deadline::after_millis(inner.opts.rcvtimeo);
        match &inner.role {
            Role::Connected(c) => {
                let (pipe, peer) = (c.rx.clone(), c.peer);
                drop(inner);
                Ok((pipe.read(bufs, mode, nonblocking, deadline)?, peer))
            }
            Role::Datagram(d) => {
                if inner.bound.is_none() {
                    return Err(WsaError::INVAL);
                }
                let mailbox = d.mailbox.clone();
                drop(inner);
                let got = mailbox.receive(bufs, mode.peek, nonblocking, deadline)?;
                if got.truncated {
                    return Err(WsaError::MSGSIZE);
                }
                Ok((got.len, got.from))
            }
            Role::Idle | Role::Listening(_) => Err(WsaError::NOTCONN),
        }
    }

    /// `shutdown`.
    pub(crate) fn shutdown(&self, how: Shutdown) -> Result<(), WsaError> {
        let mut inner = self.open()?;
        match &mut inner.role {
            Role::Connected(c) => {
                if how.send() {
                    c.tx.finish();
                }
                if how.receive() {
                    c.rx.refuse();
                }
                Ok(())
            }
            Role::Datagram(d) => {
                if how.send() {
                    d.send_shut = true;
                }
                if how.receive() {
                    d.mailbox.shut();
                }
                Ok(())
            }
            Role::Idle | Role::Listening(_) => Err(WsaError::NOTCONN),
        }
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
            Role::Connected(c) => c.rx.queued(),
            Role::Datagram(d) => d.mailbox.queued(),
            Role::Idle | Role::Listening(_) => 0,
        })
    }

    /// `getsockopt`.
    pub(crate) fn get_option(&self, opt: SockOpt) -> Result<OptValue, WsaError> {
        let inner = self.open()?;
        let o = &inner.opts;
        let stream = self.kind == Kind::Stream;
        Ok(match (opt.level, opt.name) {
            (SOL_SOCKET, SO_RCVBUF) => OptValue::Int(o.rcvbuf),
            (SOL_SOCKET, SO_SNDBUF) => OptValue::Int(o.sndbuf),
            (SOL_SOCKET, SO_REUSEADDR) => OptValue::Bool(o.reuse),
            (SOL_SOCKET, SO_ERROR) => OptValue::Int(0),
            (SOL_SOCKET, SO_RCVTIMEO) => OptValue::Int(o.rcvtimeo as i32),
            (SOL_SOCKET, SO_SNDTIMEO) => OptValue::Int(o.sndtimeo as i32),
            (SOL_SOCKET, SO_ACCEPTCONN) if stream => {
                OptValue::Bool(matches!(inner.role, Role::Listening(_)))
            }
            (SOL_SOCKET, SO_KEEPALIVE) if stream => OptValue::Bool(o.keepalive),
            (SOL_SOCKET, SO_LINGER) if stream => {
                let mut bytes = o.linger.0.to_ne_bytes().to_vec();
                bytes.extend_from_slice(&o.linger.1.to_ne_bytes());
                OptValue::Bytes(bytes)
            }
            (SOL_SOCKET, SO_DONTLINGER) if stream => OptValue::Bool(o.linger.0 == 0),
            (IPPROTO_TCP, TCP_NODELAY) if stream => OptValue::Bool(o.nodelay),
            (SOL_SOCKET, SO_BROADCAST) if !stream => OptValue::Bool(o.broadcast),
            (SOL_SOCKET, SO_MAX_MSG_SIZE) if !stream => OptValue::Int(MAX_DATAGRAM as i32),
            (SOL_SOCKET, _) | (IPPROTO_TCP, _) => return Err(WsaError::NOPROTOOPT),
            _ => return Err(WsaError::INVAL),
        })
    }

    /// `setsockopt`.
    pub(crate) fn set_option(&self, opt: SockOpt, value: OptInput<'_>) -> Result<(), WsaError> {
        let mut inner = self.open()?;
        let stream = self.kind == Kind::Stream;
        match (opt.level, opt.name) {
            (SOL_SOCKET, SO_RCVBUF) => {
                let size = value.int()?;
                if size < 0 {
                    return Err(WsaError::INVAL);
                }
                inner.opts.rcvbuf = size;
                let bound = queue_bound(size);
                match &inner.role {
                    Role::Connected(c) => c.rx.set_capacity(bound),
                    Role::Listening(l) => l.set_rcvbuf(bound),
                    Role::Datagram(d) => d.mailbox.set_capacity(bound),
                    Role::Idle => {}
                }
            }
            (SOL_SOCKET, SO_SNDBUF) => {
                let size = value.int()?;
                if size < 0 {
                    return Err(WsaError::INVAL);
                }
                inner.opts.sndbuf = size;
            }
            (SOL_SOCKET, SO_REUSEADDR) => inner.opts.reuse = value.bool()?,
            (SOL_SOCKET, SO_RCVTIMEO) => inner.opts.rcvtimeo = value.int()? as u32,
            (SOL_SOCKET, SO_SNDTIMEO) => inner.opts.sndtimeo = value.int()? as u32,
            (SOL_SOCKET, SO_KEEPALIVE) if stream => inner.opts.keepalive = value.bool()?,
            (SOL_SOCKET, SO_LINGER) if stream => match value.0 {
                [a, b, c, d, ..] => {
                    inner.opts.linger =
                        (u16::from_ne_bytes([*a, *b]), u16::from_ne_bytes([*c, *d]));
                }
                _ => return Err(WsaError::FAULT),
            },
            (SOL_SOCKET, SO_DONTLINGER) if stream => {
                inner.opts.linger.0 = u16::from(!value.bool()?)
            }
            (IPPROTO_TCP, TCP_NODELAY) if stream => inner.opts.nodelay = value.bool()?,
            (SOL_SOCKET, SO_BROADCAST) if !stream => inner.opts.broadcast = value.bool()?,
            (SOL_SOCKET, _) | (IPPROTO_TCP, _) => return Err(WsaError::NOPROTOOPT),
            _ => return Err(WsaError::INVAL),
        }
        Ok(())
    }

    /// `closesocket`: releases the address, ends the connection (gracefully unless unread data
    /// is left or linger is on with a zero timeout: then it is reset), and wakes every thread
    /// blocked in this socket (they return `WSAEINTR`). Idempotent.
    pub(crate) fn close(&self) {
        let (role, bound, abort) = {
            let mut inner = lock(&self.inner);
            if inner.closed {
                return;
            }
            inner.closed = true;
            let role = std::mem::replace(&mut inner.role, Role::Idle);
            (
                role,
                inner.bound.take(),
                inner.opts.linger.0 != 0 && inner.opts.linger.1 == 0,
            )
        };
        if let Some(bound) = bound {
            self.net.unbind(self.kind.proto(), self.id, bound.port());
        }
        match role {
            Role::Listening(l) => l.close(),
            Role::Connected(c) => c.close(abort),
            Role::Datagram(d) => d.mailbox.close(),
            Role::Idle => {}
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // The runtime closes every socket before dropping it; this only guards the namespace
        // against a socket state dropped some other way.
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
