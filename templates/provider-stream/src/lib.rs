//! A small stream provider to start from: connections between the sockets of one process.
//! A socket binds an address and listens; `connect` queues a connection at the listener bound
//! to the destination, `accept` takes it; each direction of a connection is a bounded byte
//! pipe (`send` waits while the peer's window is full, `recv` waits for data), blocking unless
//! the socket is non-blocking. Replace the in-process [`Registry`] and [`Pipe`] with your
//! transport.
//!
//! Every change of state is signalled to the runtime (through each socket's [`Slot`]), which
//! serves `select`, `WSAEventSelect`, `WSAAsyncSelect` and overlapped I/O (with completion ports
//! and `AcceptEx`) from those signals alone.
//!
//! `cargo wsp new --stream` copies this crate, replacing its name, GUID and protocol entry.
//!
//! Driven through the ws2_32 stand-in (`ws2-standin`, a dev-dependency), as an application
//! would drive it:
//!
//! ```
//! use provider_stream_template::{Streams, FAMILY, PROTOCOL};
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

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use winsock_provider::sys::{SOL_SOCKET, SO_ACCEPTCONN, SO_RCVBUF, SO_SNDBUF};
use winsock_provider::*;

/// The address family of this provider's protocol entry.
pub const FAMILY: u16 = 2;
/// The protocol number of this provider's protocol entry.
pub const PROTOCOL: i32 = 6;
/// Bytes one direction of a connection holds before the sender waits.
const WINDOW: usize = 64 * 1024;
/// How many addresses an implicit bind tries (IP: the ports 49152-65535).
const EPHEMERAL_PORTS: u32 = 16384;
/// The most connections a listener queues.
const MAX_BACKLOG: i32 = 200;

/// The provider. `#[winsock_provider]` turns this crate into a provider DLL.
#[winsock_provider(
    name = "Template streams",
    guid = "6c1f0a2e-93b4-4d5e-a6f7-08192a3b4c5d",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
)]
pub struct Streams {
    registry: Registry,
}

/// Locks `m`, carrying on with the data if another thread panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `cv`, carrying on if another thread panicked while holding the lock.
fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(|e| e.into_inner())
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
    /// zeros and 4 bytes of a counter (so that implicit addresses stay apart from the ones
    /// applications choose); `WSAENOBUFS` when none is free.
    fn bind_any(&self, like: &SockAddr) -> Result<SockAddr, WsaError> {
        match like {
            SockAddr::Inet(ip) => {
                let mut any = *ip;
                any.set_port(0);
                self.bind(&SockAddr::Inet(any))
            }
            SockAddr::Raw { family, data } => {
                let mut n = lock(&self.inner).next;
                for _ in 0..EPHEMERAL_PORTS {
                    n = n.wrapping_add(1);
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
                        r => {
                            lock(&self.inner).next = n;
                            return r;
                        }
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

/// Where a socket's readiness goes: the runtime's notifier once the socket is attached.
/// A connection can be signalled before that (data sent to a connection still waiting to be
/// accepted): the slot keeps those signals and gives them when the notifier arrives.
#[derive(Default)]
pub struct Slot(Mutex<(Option<Notifier>, Ready)>);

impl Slot {
    /// Tells the runtime what became ready (kept until the socket is attached).
    fn signal(&self, ready: Ready) {
        let mut slot = lock(&self.0);
        match &slot.0 {
            Some(n) => {
                let n = n.clone();
                drop(slot);
                n.ready(ready);
            }
            None => slot.1 |= ready,
        }
    }

    /// From now on, signals go to `n`; the ones kept so far go there at once.
    fn attach(&self, n: Notifier) {
        let mut slot = lock(&self.0);
        let early = slot.1;
        slot.0 = Some(n.clone());
        slot.1 = Ready::NONE;
        drop(slot);
        if !early.is_empty() {
            n.ready(early);
        }
    }
}

/// One direction of a connection: a bounded byte pipe.
pub struct Pipe {
    state: Mutex<PipeState>,
    changed: Condvar,
    /// The receiving socket's slot (told `READ`).
    reader: Arc<Slot>,
    /// The sending socket's slot (told `WRITE`).
    writer: Arc<Slot>,
}

#[derive(Default)]
struct PipeState {
    data: VecDeque<u8>,
    /// The sender finished (`shutdown(SD_SEND)` or close): the end of the stream follows the
    /// data.
    end: bool,
    /// The receiver closed: sends fail with `WSAECONNRESET`.
    gone: bool,
}

impl Pipe {
    fn new(reader: &Arc<Slot>, writer: &Arc<Slot>) -> Arc<Pipe> {
        Arc::new(Pipe {
            state: Mutex::new(PipeState::default()),
            changed: Condvar::new(),
            reader: reader.clone(),
            writer: writer.clone(),
        })
    }

    fn end_of_stream(&self) {
        lock(&self.state).end = true;
        self.changed.notify_all();
        self.reader.signal(Ready::READ | Ready::CLOSE);
    }

    fn receiver_gone(&self) {
        let mut p = lock(&self.state);
        p.gone = true;
        p.data.clear();
        drop(p);
        self.changed.notify_all();
        self.writer.signal(Ready::WRITE);
    }
}

/// Per-socket state (the registry keeps a weak reference while it listens).
pub struct Endpoint(Arc<Inner>);

/// What an [`Endpoint`] holds.
pub struct Inner {
    slot: Arc<Slot>,
    state: Mutex<State>,
    changed: Condvar,
    closed: AtomicBool,
}

impl std::ops::Deref for Endpoint {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

#[derive(Default)]
struct State {
    local: Option<SockAddr>,
    /// Whether `local` is this socket's binding (an accepted socket shares its listener's).
    owns_local: bool,
    peer: Option<SockAddr>,
    backlog: Option<Backlog>,
    rx: Option<Arc<Pipe>>,
    tx: Option<Arc<Pipe>>,
    send_shut: bool,
    recv_shut: bool,
    rcvbuf: Option<i32>,
    sndbuf: Option<i32>,
}

struct Backlog {
    queue: VecDeque<(Endpoint, SockAddr)>,
    max: usize,
}

impl Endpoint {
    fn new() -> Endpoint {
        Endpoint(Arc::new(Inner {
            slot: Arc::new(Slot::default()),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
        }))
    }

    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// Ends both directions of a connection that is going away.
fn hang_up(rx: Option<Arc<Pipe>>, tx: Option<Arc<Pipe>>) {
    if let Some(tx) = tx {
        tx.end_of_stream();
    }
    if let Some(rx) = rx {
        rx.receiver_gone();
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
        Ok(Endpoint::new())
    }

    fn attached(&self, s: &Sock<Self>) {
        s.slot.attach(s.notifier());
    }

    fn readiness(&self, s: &Sock<Self>) -> Ready {
        let st = lock(&s.state);
        let mut ready = Ready::NONE;
        if let Some(b) = &st.backlog {
            if !b.queue.is_empty() {
                ready |= Ready::ACCEPT;
            }
        }
        if let Some(rx) = &st.rx {
            let p = lock(&rx.state);
            if !p.data.is_empty() || p.end {
                ready |= Ready::READ;
            }
            if p.end {
                ready |= Ready::CLOSE;
            }
        }
        if let Some(tx) = &st.tx {
            let p = lock(&tx.state);
            if p.data.len() < WINDOW || p.gone {
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
        let (rx, tx) = (st.rx.take(), st.tx.take());
        drop(st);
        // Wake calls blocked in this socket: they see `closed` and fail with WSAEINTR.
        s.changed.notify_all();
        for pipe in rx.iter().chain(tx.iter()) {
            let _guard = lock(&pipe.state);
            pipe.changed.notify_all();
        }
        hang_up(rx, tx);
        // Connections never accepted: their clients see the end of the stream.
        for (e, _) in backlog.into_iter().flat_map(|b| b.queue) {
            let mut st = lock(&e.state);
            let (rx, tx) = (st.rx.take(), st.tx.take());
            drop(st);
            hang_up(rx, tx);
        }
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
        if st.rx.is_some() {
            return Err(WsaError::ISCONN);
        }
        let local = st.local.clone().ok_or(WsaError::INVAL)?;
        let max = backlog.clamp(1, MAX_BACKLOG) as usize;
        match &mut st.backlog {
            Some(b) => b.max = max,
            None => {
                st.backlog = Some(Backlog {
                    queue: VecDeque::new(),
                    max,
                });
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
            let b = st.backlog.as_mut().ok_or(WsaError::INVAL)?;
            if let Some(next) = b.queue.pop_front() {
                if !b.queue.is_empty() {
                    s.slot.signal(Ready::ACCEPT);
                }
                return Ok(next);
            }
            if s.nonblocking() {
                return Err(WsaError::WOULDBLOCK);
            }
            st = wait(&s.changed, st);
        }
    }

    fn adopt(&self, target: &Sock<Self>, accepted: Endpoint) -> Result<(), WsaError> {
        // AcceptEx: the connection moves into the application's socket; its pipes signal the
        // accepted endpoint's slot, which now forwards to the target's notifier.
        *lock(&target.state) = std::mem::take(&mut *lock(&accepted.state));
        accepted.slot.attach(target.notifier());
        Ok(())
    }

    fn connect(&self, s: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        let mut st = lock(&s.state);
        if st.rx.is_some() {
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
        let server = Endpoint::new();
        let up = Pipe::new(&server.slot, &s.slot);
        let down = Pipe::new(&s.slot, &server.slot);
        {
            let mut ss = lock(&server.state);
            ss.local = Some(addr.clone());
            ss.peer = Some(local.clone());
            ss.rx = Some(up.clone());
            ss.tx = Some(down.clone());
        }
        {
            let mut ls = lock(&listener.state);
            if listener.closed.load(Ordering::Acquire) {
                return Err(WsaError::CONNREFUSED);
            }
            let b = ls.backlog.as_mut().ok_or(WsaError::CONNREFUSED)?;
            if b.queue.len() >= b.max {
                return Err(WsaError::CONNREFUSED);
            }
            b.queue.push_back((server, local));
        }
        listener.changed.notify_all();
        listener.slot.signal(Ready::ACCEPT);
        st.peer = Some(addr.clone());
        st.rx = Some(down);
        st.tx = Some(up);
        drop(st);
        s.slot.signal(Ready::CONNECT | Ready::WRITE);
        Ok(())
    }

    fn send(&self, s: &Sock<Self>, bufs: &Bufs<'_>, _: MsgFlags) -> Result<usize, WsaError> {
        let tx = {
            let st = lock(&s.state);
            if st.send_shut {
                return Err(WsaError::SHUTDOWN);
            }
            st.tx.clone().ok_or(WsaError::NOTCONN)?
        };
        let data = bufs.to_vec();
        let mut sent = 0;
        let mut p = lock(&tx.state);
        loop {
            if s.closed() {
                return Err(WsaError::INTR);
            }
            if p.gone {
                return Err(WsaError::CONNRESET);
            }
            let n = WINDOW.saturating_sub(p.data.len()).min(data.len() - sent);
            if n > 0 {
                p.data.extend(&data[sent..sent + n]);
                sent += n;
                tx.changed.notify_all();
                tx.reader.signal(Ready::READ);
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
            p = wait(&tx.changed, p);
        }
    }

    fn recv(
        &self,
        s: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        let rx = {
            let st = lock(&s.state);
            if st.recv_shut {
                return Err(WsaError::SHUTDOWN);
            }
            st.rx.clone().ok_or(WsaError::NOTCONN)?
        };
        let mut p = lock(&rx.state);
        loop {
            if s.closed() {
                return Err(WsaError::INTR);
            }
            if !p.data.is_empty() {
                let n = bufs.capacity().min(p.data.len());
                let (front, back) = p.data.as_slices();
                let chunk: Vec<u8> = front.iter().chain(back).take(n).copied().collect();
                bufs.copy_from(&chunk);
                if !flags.contains(MsgFlags::PEEK) {
                    p.data.drain(..n);
                    rx.changed.notify_all();
                    rx.writer.signal(Ready::WRITE);
                }
                if !p.data.is_empty() {
                    rx.reader.signal(Ready::READ);
                }
                return Ok((n, MsgFlags::NONE));
            }
            if p.end || p.gone {
                return Ok((0, MsgFlags::NONE));
            }
            if s.nonblocking() {
                return Err(WsaError::WOULDBLOCK);
            }
            p = wait(&rx.changed, p);
        }
    }

    fn shutdown(&self, s: &Sock<Self>, how: Shutdown) -> Result<(), WsaError> {
        let mut st = lock(&s.state);
        if st.rx.is_none() {
            return Err(WsaError::NOTCONN);
        }
        if how.send() && !st.send_shut {
            st.send_shut = true;
            if let Some(tx) = &st.tx {
                tx.end_of_stream();
            }
        }
        if how.receive() {
            st.recv_shut = true;
            if let Some(rx) = &st.rx {
                let _guard = lock(&rx.state);
                rx.changed.notify_all();
            }
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
            (SOL_SOCKET, SO_RCVBUF) => Ok(OptValue::Int(st.rcvbuf.unwrap_or(WINDOW as i32))),
            (SOL_SOCKET, SO_SNDBUF) => Ok(OptValue::Int(st.sndbuf.unwrap_or(WINDOW as i32))),
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
        let mut st = lock(&s.state);
        match (opt.level, opt.name) {
            (SOL_SOCKET, SO_RCVBUF) => st.rcvbuf = Some(value.int()?),
            (SOL_SOCKET, SO_SNDBUF) => st.sndbuf = Some(value.int()?),
            _ => return Err(WsaError::NOPROTOOPT),
        }
        Ok(())
    }

    fn bytes_readable(&self, s: &Sock<Self>) -> Result<usize, WsaError> {
        let rx = lock(&s.state).rx.clone();
        Ok(rx.map_or(0, |rx| lock(&rx.state).data.len()))
    }
}
