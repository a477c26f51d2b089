//! A small IFS stream provider to start from: every socket is a real OS handle (a Unix-domain
//! socket descriptor on Unix, a named-pipe handle on Windows), so an application may use the
//! OS's own file I/O on it (`read(2)`/`write(2)`, `ReadFile`/`WriteFile`) interleaved with
//! `send`/`recv`. The provider is declared `ifs`: the runtime registers each socket's handle
//! ([`IfsSocket::os_handle`]) with `WPUModifyIFSHandle` and the protocol entry carries
//! `XP1_IFS_HANDLES`.
//!
//! Connections are between the sockets of one process: a socket binds an address and listens;
//! `connect` makes an OS byte stream between the connecting socket's handle and a new handle,
//! queued at the listener bound to the destination, which `accept` hands out (the [`os`]
//! module). The bytes travel through the OS; this crate keeps the addresses, the listeners'
//! queues, the end of the stream and the readiness signals. Replace the in-process
//! [`Registry`] and the [`os`] module with your transport.
//!
//! The provider never waits inside the OS: it reads and writes without blocking and waits on
//! its own condition variable, woken by the peer's calls and by `closesocket`, and every
//! [`POLL`] for bytes written with the OS's own calls, which it is not told about.
//!
//! `cargo wsp new --ifs` copies this crate, replacing its name, GUID and protocol entry.
//!
//! Driven through the ws2_32 stand-in (`ws2-standin`, a dev-dependency), as an application
//! would drive it:
//!
//! ```
//! use provider_ifs_template::{Streams, FAMILY, PROTOCOL};
//! use winsock_provider::sys::SOCK_STREAM;
//!
//! let ws = ws2_standin::Session::load(winsock_provider::entry_points::<Streams>()).unwrap();
//! let (af, ty) = (i32::from(FAMILY), SOCK_STREAM);
//! let listener = ws.socket(af, ty, PROTOCOL).unwrap();
//! # let min = ws.spi(af, ty, PROTOCOL).unwrap().info.iMinSockAddr as usize;
//! # let any = match FAMILY {
//! #     2 => "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into(),
//! #     _ => winsock_provider::SockAddr::Raw { family: FAMILY, data: vec![7; min - 2] },
//! # };
//! ws.bind(listener, &any).unwrap(); // 127.0.0.1:0: the provider picks a port
//! ws.listen(listener, 1).unwrap();
//! let client = ws.socket(af, ty, PROTOCOL).unwrap();
//! ws.connect(client, &ws.getsockname(listener).unwrap()).unwrap();
//! let (server, _) = ws.accept(listener).unwrap();
//! ws.send(client, b"ping", 0).unwrap();
//! let mut buf = [0u8; 4];
//! assert_eq!(ws.recv(server, &mut buf, 0), Ok(4));
//! for s in [client, server, listener] {
//!     ws.closesocket(s).unwrap();
//! }
//! // Dropping the session checks every socket was closed and runs WSPCleanup.
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod os;

use os::OsEnd;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;
use winsock_provider::sys::{SOCKET, SOL_SOCKET, SO_ACCEPTCONN, SO_RCVBUF, SO_SNDBUF};
use winsock_provider::*;
use winsock_transport::{lock, Watchers};

/// The address family of this provider's protocol entry.
pub const FAMILY: u16 = 2;
/// The protocol number of this provider's protocol entry.
pub const PROTOCOL: i32 = 6;
/// How often a waiting call looks at its handle again, for bytes the application wrote with
/// the OS's own calls (the provider's own sends wake it at once).
pub const POLL: Duration = Duration::from_millis(20);
/// How many addresses an implicit bind tries (IP: the ports 49152-65535).
const EPHEMERAL_PORTS: u32 = 16384;
/// The most connections a listener queues.
const MAX_BACKLOG: i32 = 200;
/// What `SO_RCVBUF`/`SO_SNDBUF` read before they are set.
const DEFAULT_BUFFER: i32 = 64 * 1024;

/// The provider. `#[winsock_provider]` turns this crate into a provider DLL.
#[winsock_provider(
    name = "Template IFS streams",
    guid = "3d7e9a41-5c2b-4e8f-9a16-b0c4d2e6f813",
    ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
)]
pub struct Streams {
    registry: Registry,
}

/// The transport's addresses: which are bound, and which socket listens on which.
#[derive(Default)]
pub struct Registry {
    inner: Mutex<Bound>,
}

#[derive(Default)]
struct Bound {
    /// Every bound address, with the socket listening there (once it listens).
    addresses: HashMap<SockAddr, Option<Weak<Inner>>>,
    next: u32,
}

impl Registry {
    /// Binds `addr`: an IP address with port 0 gets a free port (`WSAENOBUFS` when none is),
    /// any other address is taken as given (`WSAEADDRINUSE` when another socket has it).
    fn bind(&self, addr: &SockAddr) -> Result<SockAddr, WsaError> {
        let mut b = lock(&self.inner);
        let addr = match addr {
            SockAddr::Inet(ip) if ip.port() == 0 => {
                let mut free = None;
                for _ in 0..EPHEMERAL_PORTS {
                    b.next = b.next.wrapping_add(1);
                    let mut candidate = *ip;
                    candidate.set_port(49152 + (b.next % EPHEMERAL_PORTS) as u16);
                    let candidate = SockAddr::Inet(candidate);
                    if !b.addresses.contains_key(&candidate) {
                        free = Some(candidate);
                        break;
                    }
                }
                free.ok_or(WsaError::NOBUFS)?
            }
            other => other.clone(),
        };
        if b.addresses.contains_key(&addr) {
            return Err(WsaError::ADDRINUSE);
        }
        b.addresses.insert(addr.clone(), None);
        Ok(addr)
    }

    /// Binds an address no socket has, of the family of `like` (a socket that connects
    /// without binding gets one): an IP address with a free port, or for other families `ff`,
    /// zeros and 4 bytes of a counter; `WSAENOBUFS` when none is free.
    fn bind_any(&self, like: &SockAddr) -> Result<SockAddr, WsaError> {
        match like {
            SockAddr::Inet(ip) => {
                let mut any = *ip;
                any.set_port(0);
                self.bind(&SockAddr::Inet(any))
            }
            SockAddr::Raw { family, data } => {
                for _ in 0..EPHEMERAL_PORTS {
                    let n = {
                        let mut b = lock(&self.inner);
                        b.next = b.next.wrapping_add(1);
                        b.next
                    };
                    let mut data = vec![0u8; data.len()];
                    if data.len() > 4 {
                        data[0] = 0xff;
                    }
                    for (i, b) in data.iter_mut().rev().take(4).enumerate() {
                        *b = (n >> (8 * i)) as u8;
                    }
                    match self.bind(&SockAddr::Raw {
                        family: *family,
                        data,
                    }) {
                        Err(WsaError::ADDRINUSE) => continue,
                        r => return r,
                    }
                }
                Err(WsaError::NOBUFS)
            }
        }
    }

    fn listen(&self, addr: &SockAddr, listener: &Arc<Inner>) {
        lock(&self.inner)
            .addresses
            .insert(addr.clone(), Some(Arc::downgrade(listener)));
    }

    fn listener(&self, addr: &SockAddr) -> Option<Arc<Inner>> {
        lock(&self.inner)
            .addresses
            .get(addr)
            .and_then(|l| l.as_ref())
            .and_then(Weak::upgrade)
    }

    fn release(&self, addr: &SockAddr) {
        lock(&self.inner).addresses.remove(addr);
    }
}

/// One connection, shared by its two sockets (sides 0 and 1): what the OS byte stream does
/// not carry.
pub struct Link {
    state: Mutex<LinkState>,
    /// Woken when either side sends, receives, shuts down or closes.
    changed: Condvar,
    /// Each side's handle (for the window of a send) and readiness.
    ends: [(Weak<OsEnd>, Arc<Watchers>); 2],
}

#[derive(Default)]
struct LinkState {
    /// Side `i` sends no more (`shutdown(SD_SEND)` or close).
    finished: [bool; 2],
    /// Side `i` closed.
    closed: [bool; 2],
}

impl Link {
    /// Side `side` changed something its peer waits for: wakes waiting calls and tells the
    /// peer's notifiers `ready`.
    fn tell_peer(&self, side: usize, ready: Ready) {
        drop(lock(&self.state));
        self.changed.notify_all();
        self.ends[1 - side].1.signal(ready);
    }

    /// Side `side` sends no more (and with `closed`, is gone).
    fn finish(&self, side: usize, closed: bool) {
        {
            let mut st = lock(&self.state);
            st.finished[side] = true;
            st.closed[side] |= closed;
        }
        if let Some(os) = self.ends[side].0.upgrade() {
            os.finish();
        }
        self.tell_peer(side, Ready::READ | Ready::CLOSE | Ready::WRITE);
    }

    /// Waits for a change, or [`POLL`].
    fn wait<'a>(&self, guard: MutexGuard<'a, LinkState>) -> MutexGuard<'a, LinkState> {
        self.changed
            .wait_timeout(guard, POLL)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0)
    }
}

/// Per-socket state (the registry keeps a weak reference while it listens).
pub struct Endpoint(Arc<Inner>);

/// What an [`Endpoint`] holds.
pub struct Inner {
    /// The OS handle: the socket's value.
    os: Arc<OsEnd>,
    watchers: Arc<Watchers>,
    state: Mutex<State>,
    /// Woken when a connection is queued (listeners) or the socket closes.
    changed: Condvar,
    closed: AtomicBool,
    /// `shutdown(SD_RECEIVE)`: receives fail with `WSAESHUTDOWN`.
    recv_shut: AtomicBool,
}

impl std::ops::Deref for Endpoint {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl IfsSocket for Endpoint {
    fn os_handle(&self) -> SOCKET {
        self.os.handle()
    }
}

struct State {
    local: Option<SockAddr>,
    /// Whether `local` is this socket's binding (an accepted socket shares its listener's).
    owns_local: bool,
    peer: Option<SockAddr>,
    /// The connections waiting for `accept` and the most there may be, once it listens.
    backlog: Option<(VecDeque<(Endpoint, SockAddr)>, usize)>,
    /// The connection and this socket's side of it.
    link: Option<(Arc<Link>, usize)>,
    send_shut: bool,
    buffers: [i32; 2],
}

impl Endpoint {
    fn new(os: OsEnd) -> Endpoint {
        Endpoint(Arc::new(Inner {
            os: Arc::new(os),
            watchers: Watchers::new(),
            state: Mutex::new(State {
                local: None,
                owns_local: false,
                peer: None,
                backlog: None,
                link: None,
                send_shut: false,
                buffers: [DEFAULT_BUFFER; 2],
            }),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
            recv_shut: AtomicBool::new(false),
        }))
    }

    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl Provider for Streams {
    type Socket = Endpoint;

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Streams {
            registry: Registry::default(),
        })
    }

    fn socket(&self, _: &SocketRequest) -> Result<Endpoint, WsaError> {
        OsEnd::unconnected().map(Endpoint::new)
    }

    fn attached(&self, s: &Sock<Self>) {
        s.watchers.attach(s.notifier());
    }

    fn readiness(&self, s: &Sock<Self>) -> Ready {
        let st = lock(&s.state);
        let mut ready = Ready::NONE;
        if let Some((queue, _)) = &st.backlog {
            if !queue.is_empty() {
                ready |= Ready::ACCEPT;
            }
        }
        if let Some((link, side)) = &st.link {
            if lock(&link.state).finished[1 - side] {
                ready |= Ready::READ | Ready::CLOSE;
            }
            if s.os.available() > 0 {
                ready |= Ready::READ;
            }
            // Room to send is what the signals say: a send that found none refuted it.
            if s.signalled().contains(Ready::WRITE) {
                ready |= Ready::WRITE;
            }
        }
        ready
    }

    fn close(&self, s: &Sock<Self>) -> Result<(), WsaError> {
        s.closed.store(true, Ordering::Release);
        let mut st = lock(&s.state);
        if let Some(local) = st.local.take() {
            if st.owns_local {
                self.registry.release(&local);
            }
        }
        let backlog = st.backlog.take();
        let link = st.link.take();
        drop(st);
        // Wake calls blocked in this socket: they see `closed` and fail with WSAEINTR.
        s.changed.notify_all();
        if let Some((link, side)) = link {
            link.finish(side, true);
        }
        // Connections never accepted: their clients see the end of the stream.
        for (e, _) in backlog.into_iter().flat_map(|(queue, _)| queue) {
            if let Some((link, side)) = lock(&e.state).link.take() {
                link.finish(side, true);
            }
        }
        // The handle itself is closed when the last call using the socket has returned.
        Ok(())
    }

    fn bind(&self, s: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        let mut st = lock(&s.state);
        if st.local.is_some() {
            return Err(WsaError::INVAL);
        }
        st.local = Some(self.registry.bind(addr)?);
        st.owns_local = true;
        Ok(())
    }

    fn listen(&self, s: &Sock<Self>, backlog: i32) -> Result<(), WsaError> {
        let mut st = lock(&s.state);
        if st.link.is_some() {
            return Err(WsaError::ISCONN);
        }
        let local = st.local.clone().ok_or(WsaError::INVAL)?;
        let max = backlog.clamp(1, MAX_BACKLOG) as usize;
        match &mut st.backlog {
            Some((_, m)) => *m = max,
            None => {
                st.backlog = Some((VecDeque::new(), max));
                self.registry.listen(&local, &s.0);
            }
        }
        Ok(())
    }

    fn accept(&self, s: &Sock<Self>) -> Result<(Endpoint, SockAddr), WsaError> {
        let mut st = lock(&s.state);
        loop {
            if s.closed() {
                return Err(WsaError::INTR);
            }
            let (queue, _) = st.backlog.as_mut().ok_or(WsaError::INVAL)?;
            if let Some(next) = queue.pop_front() {
                if !queue.is_empty() {
                    s.watchers.signal(Ready::ACCEPT);
                }
                return Ok(next);
            }
            if s.nonblocking() {
                return Err(WsaError::WOULDBLOCK);
            }
            st = s.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn connect(&self, s: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        let mut st = lock(&s.state);
        if st.link.is_some() {
            return Err(WsaError::ISCONN);
        }
        if st.backlog.is_some() {
            return Err(WsaError::INVAL);
        }
        let listener = self.registry.listener(addr).ok_or(WsaError::CONNREFUSED)?;
        let local = match &st.local {
            Some(l) => l.clone(),
            None => {
                let l = self.registry.bind_any(addr)?;
                st.local = Some(l.clone());
                st.owns_local = true;
                l
            }
        };
        let mut ls = lock(&listener.state);
        let room = match &ls.backlog {
            Some((queue, max)) => queue.len() < *max,
            None => false,
        };
        if !room || listener.closed.load(Ordering::Acquire) {
            return Err(WsaError::CONNREFUSED);
        }
        // The OS connection: this socket's handle (its value unchanged) and a new one, the
        // accepted socket's.
        let server = Endpoint::new(s.os.connect()?);
        let link = Arc::new(Link {
            state: Mutex::new(LinkState::default()),
            changed: Condvar::new(),
            ends: [
                (Arc::downgrade(&s.os), s.watchers.clone()),
                (Arc::downgrade(&server.os), server.watchers.clone()),
            ],
        });
        {
            let mut ss = lock(&server.state);
            ss.local = Some(addr.clone());
            ss.peer = Some(local.clone());
            ss.link = Some((link.clone(), 1));
        }
        // Kept by the accepted socket's watchers until the runtime attaches it.
        server.watchers.signal(Ready::WRITE);
        if let Some((queue, _)) = ls.backlog.as_mut() {
            queue.push_back((server, local));
        }
        drop(ls);
        listener.changed.notify_all();
        listener.watchers.signal(Ready::ACCEPT);
        st.peer = Some(addr.clone());
        st.link = Some((link, 0));
        drop(st);
        s.watchers.signal(Ready::CONNECT | Ready::WRITE);
        Ok(())
    }

    fn send(&self, s: &Sock<Self>, bufs: &Bufs<'_>, _: MsgFlags) -> Result<usize, WsaError> {
        let (link, side) = {
            let st = lock(&s.state);
            if st.send_shut {
                return Err(WsaError::SHUTDOWN);
            }
            st.link.clone().ok_or(WsaError::NOTCONN)?
        };
        let data = bufs.to_vec();
        let mut sent = 0;
        let mut ls = lock(&link.state);
        loop {
            if s.closed() {
                return Err(WsaError::INTR);
            }
            let peer = match link.ends[1 - side].0.upgrade() {
                Some(peer) if !ls.closed[1 - side] => peer,
                _ => return Err(WsaError::CONNRESET),
            };
            let n = match s.os.try_write(&data[sent..], &peer) {
                Ok(n) => n,
                Err(_) if sent > 0 => return Ok(sent),
                Err(e) => return Err(e),
            };
            if n > 0 {
                sent += n;
                drop(ls);
                link.tell_peer(side, Ready::READ);
                ls = lock(&link.state);
            }
            if sent == data.len() {
                return Ok(sent);
            }
            if s.nonblocking() {
                return if sent > 0 {
                    Ok(sent)
                } else {
                    Err(WsaError::WOULDBLOCK)
                };
            }
            if n == 0 {
                ls = link.wait(ls);
            }
        }
    }

    fn recv(
        &self,
        s: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        if s.recv_shut.load(Ordering::Acquire) {
            return Err(WsaError::SHUTDOWN);
        }
        let (link, side) = lock(&s.state).link.clone().ok_or(WsaError::NOTCONN)?;
        let peek = flags.contains(MsgFlags::PEEK);
        let mut buf = vec![0u8; bufs.capacity()];
        if buf.is_empty() {
            return Ok((0, MsgFlags::NONE));
        }
        let mut ls = lock(&link.state);
        loop {
            if s.closed() {
                return Err(WsaError::INTR);
            }
            if s.recv_shut.load(Ordering::Acquire) {
                return Err(WsaError::SHUTDOWN);
            }
            match s.os.try_read(&mut buf, peek)? {
                Some(n) => {
                    bufs.copy_from(&buf[..n]);
                    drop(ls);
                    if n > 0 && !peek {
                        link.tell_peer(side, Ready::WRITE);
                    }
                    if n > 0 && s.os.available() > 0 {
                        s.watchers.signal(Ready::READ);
                    }
                    return Ok((n, MsgFlags::NONE));
                }
                // Nothing to read: the end of the stream if the peer finished.
                None if ls.finished[1 - side] => return Ok((0, MsgFlags::NONE)),
                None if s.nonblocking() => return Err(WsaError::WOULDBLOCK),
                None => ls = link.wait(ls),
            }
        }
    }

    fn shutdown(&self, s: &Sock<Self>, how: Shutdown) -> Result<(), WsaError> {
        let mut st = lock(&s.state);
        let (link, side) = st.link.clone().ok_or(WsaError::NOTCONN)?;
        if how.send() && !st.send_shut {
            st.send_shut = true;
            link.finish(side, false);
        }
        if how.receive() {
            s.recv_shut.store(true, Ordering::Release);
            drop(st);
            drop(lock(&link.state));
            link.changed.notify_all();
        }
        Ok(())
    }

    fn sock_name(&self, s: &Sock<Self>) -> Result<SockAddr, WsaError> {
        lock(&s.state).local.clone().ok_or(WsaError::INVAL)
    }

    fn peer_name(&self, s: &Sock<Self>) -> Result<SockAddr, WsaError> {
        lock(&s.state).peer.clone().ok_or(WsaError::NOTCONN)
    }

    fn get_option(&self, s: &Sock<Self>, opt: SockOpt) -> Result<OptValue, WsaError> {
        let st = lock(&s.state);
        match (opt.level, opt.name) {
            (SOL_SOCKET, SO_RCVBUF) => Ok(OptValue::Int(st.buffers[0])),
            (SOL_SOCKET, SO_SNDBUF) => Ok(OptValue::Int(st.buffers[1])),
            (SOL_SOCKET, SO_ACCEPTCONN) => Ok(OptValue::Bool(st.backlog.is_some())),
            _ => Err(WsaError::NOPROTOOPT),
        }
    }

    fn set_option(
        &self,
        s: &Sock<Self>,
        opt: SockOpt,
        value: OptInput<'_>,
    ) -> Result<(), WsaError> {
        let which = match (opt.level, opt.name) {
            (SOL_SOCKET, SO_RCVBUF) => 0,
            (SOL_SOCKET, SO_SNDBUF) => 1,
            _ => return Err(WsaError::NOPROTOOPT),
        };
        let size = value.int()?;
        if size < 0 {
            return Err(WsaError::INVAL);
        }
        lock(&s.state).buffers[which] = size;
        Ok(())
    }

    fn bytes_readable(&self, s: &Sock<Self>) -> Result<usize, WsaError> {
        Ok(s.os.available())
    }
}
