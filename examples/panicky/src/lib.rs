//! A provider that panics on demand, for the chaos suite (`tests/chaos`).
//!
//! It serves a small in-process transport — `AF_INET` streams (`IPPROTO_TCP`) and datagrams
//! (`IPPROTO_UDP`) between its own sockets on `127.0.0.0/8` — and implements **every**
//! [`Provider`] method. Each method first asks the knob whether to panic, so that every trait
//! method gets panics while the process survives and keeps serving (the runtime turns each
//! panic into `WSAENETDOWN`, or swallows it where the SPI has no error to report).
//!
//! The knob is read at start-up from the environment:
//!
//! * `WSP_PANICKY_RATE` — the probability (0.0–1.0) that a call panics; default 0 (a
//!   well-behaved provider);
//! * `WSP_PANICKY_METHODS` — a comma-separated list of method names (`recv,adopt,...`) to
//!   limit the panics to; default every method.
//!
//! Injected panics carry the message `panicky: injected panic in <method>`; the provider's
//! panic hook keeps them off stderr (the runtime still logs each one it catches).
//!
//! Transport behaviour, briefly: `bind` takes `127.x.y.z` or `0.0.0.0`, port 0 picks a free
//! port; `connect` to a listener completes at once (refused when nothing listens or the
//! backlog is full); streams are byte queues (256 KiB each way; a full queue is
//! `WSAEWOULDBLOCK`, or `WSAENOBUFS` for a blocking send); datagrams keep their boundaries and
//! are dropped when nobody is bound to the destination. `WSADuplicateSocket` works within the
//! process: the duplicate shares the socket, and closing either descriptor closes it (a
//! structure never used keeps its socket's state until the last clean-up). Closing a stream
//! ends the peer's data (it reads 0); closing a listener resets the connections it had not
//! accepted. A blocking call on a socket that is closed returns `WSAEINTR`. Readiness is
//! signalled after the socket's lock is released.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;
use winsock_provider::sys::{MSG_PEEK, SOCK_STREAM};
use winsock_provider::{
    winsock_provider, Bufs, BufsMut, IoctlRequest, MsgFlags, Notifier, OptInput, OptValue,
    Provider, Ready, Shutdown, Sock, SockAddr, SockOpt, SocketRequest, StartupContext, WsaError,
};

/// Bytes a stream queues towards one receiver at most.
const STREAM_QUEUE: usize = 256 * 1024;
/// Datagrams queued on one socket at most (more are dropped).
const DGRAM_QUEUE: usize = 256;
/// Largest datagram.
const MAX_DATAGRAM: usize = 65_467;

/// The trait methods, in the order of their bit in the method mask.
const METHODS: [&str; 32] = [
    "startup",
    "cleanup",
    "socket",
    "close",
    "bind",
    "listen",
    "accept",
    "connect",
    "join_leaf",
    "send",
    "send_to",
    "recv",
    "recv_from",
    "shutdown",
    "send_disconnect",
    "recv_disconnect",
    "sock_name",
    "peer_name",
    "get_option",
    "set_option",
    "bytes_readable",
    "at_mark",
    "ioctl",
    "attached",
    "readiness",
    "adopt",
    "duplicate_socket",
    "socket_from_duplicate",
    "get_qos_by_name",
    "address_to_string",
    "string_to_address",
    "cancel_blocking_call",
];

/// When to panic: a probability (parts per 2^32) and a set of methods.
#[derive(Copy, Clone, Debug)]
struct Knob {
    threshold: u64,
    mask: u64,
}

impl Knob {
    fn from_env() -> Knob {
        let rate: f64 = std::env::var("WSP_PANICKY_RATE")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
        let rate = if rate.is_finite() {
            rate.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let mask = match std::env::var("WSP_PANICKY_METHODS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .filter_map(|m| METHODS.iter().position(|&k| k == m.trim()))
                .fold(0u64, |acc, i| acc | 1 << i),
            _ => u64::MAX,
        };
        Knob {
            threshold: (rate * (u32::MAX as f64)) as u64,
            mask,
        }
    }

    /// Panics if the dice say so for `method`.
    fn boom(&self, method: &str) {
        if self.threshold == 0 {
            return;
        }
        let bit = METHODS.iter().position(|&m| m == method).unwrap_or(63);
        if self.mask & (1 << bit) == 0 {
            return;
        }
        if dice() as u64 <= self.threshold {
            panic!("panicky: injected panic in {}", method);
        }
    }
}

/// A cheap per-process random number (xorshift over a shared counter).
fn dice() -> u32 {
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    (x >> 32) as u32
}

/// Keeps injected panics off stderr; any other panic goes to the hook that was there.
fn quiet_injected_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let injected = info
            .payload()
            .downcast_ref::<String>()
            .map_or(false, |s| s.starts_with("panicky: injected"));
        if !injected {
            previous(info);
        }
    }));
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The panic-injecting provider: one instance per start-up.
#[winsock_provider(
    name = "Panicky",
    description = "In-process TCP/UDP transport that panics on demand (winsock-provider chaos suite)",
    guid = "b5f32e98-491c-42c7-a4a1-874b81c7e79e",
    non_ifs,
    protocol(name = "Panicky TCP", family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
    protocol(name = "Panicky UDP", family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP)
)]
pub struct Panicky {
    knob: Knob,
    net: Arc<Net>,
}

/// Bound ports: (stream?, port) → the socket bound there.
#[derive(Default)]
struct Net {
    bound: Mutex<HashMap<(bool, u16), Weak<Inner>>>,
    next_port: Mutex<u16>,
    /// Sockets duplicated for this process, by the token `WSPDuplicateSocket` handed out.
    duplicates: Mutex<HashMap<u32, Arc<Inner>>>,
    next_token: Mutex<u32>,
}

impl Net {
    /// Binds `inner` to `addr` (port 0: a free port); the address it got.
    fn bind(&self, inner: &Arc<Inner>, addr: SocketAddrV4) -> Result<SocketAddrV4, WsaError> {
        let mut bound = lock(&self.bound);
        bound.retain(|_, w| w.strong_count() > 0);
        let port = if addr.port() != 0 {
            addr.port()
        } else {
            let mut next = lock(&self.next_port);
            let mut found = None;
            for _ in 0..16384u32 {
                *next = if *next < 49152 {
                    49152
                } else {
                    next.wrapping_add(1).max(49152)
                };
                if !bound.contains_key(&(inner.stream, *next)) {
                    found = Some(*next);
                    break;
                }
            }
            found.ok_or(WsaError::ADDRINUSE)?
        };
        if bound.contains_key(&(inner.stream, port)) {
            return Err(WsaError::ADDRINUSE);
        }
        bound.insert((inner.stream, port), Arc::downgrade(inner));
        Ok(SocketAddrV4::new(*addr.ip(), port))
    }

    fn find(&self, stream: bool, port: u16) -> Option<Arc<Inner>> {
        lock(&self.bound)
            .get(&(stream, port))
            .and_then(|w| w.upgrade())
    }

    fn unbind(&self, inner: &Arc<Inner>, port: u16) {
        let mut bound = lock(&self.bound);
        let mine = bound
            .get(&(inner.stream, port))
            .map_or(false, |w| w.as_ptr() == Arc::as_ptr(inner));
        if mine {
            bound.remove(&(inner.stream, port));
        }
    }
}

/// A socket's state.
struct Inner {
    stream: bool,
    st: Mutex<St>,
    cv: Condvar,
    notifier: Mutex<Notifier>,
}

#[derive(Default)]
struct St {
    local: Option<SocketAddrV4>,
    remote: Option<SocketAddrV4>,
    listening: bool,
    backlog: usize,
    queue: VecDeque<Arc<Inner>>,
    peer: Option<Weak<Inner>>,
    connected: bool,
    rx: VecDeque<u8>,
    dgrams: VecDeque<(Vec<u8>, SocketAddrV4)>,
    eof: bool,
    reset: bool,
    shut_rd: bool,
    shut_wr: bool,
    closed: bool,
}

impl Inner {
    fn new(stream: bool) -> Arc<Inner> {
        Arc::new(Inner {
            stream,
            st: Mutex::new(St::default()),
            cv: Condvar::new(),
            notifier: Mutex::new(Notifier::detached()),
        })
    }

    /// Signals `ready` (never under the socket's own lock) and wakes blocked callers.
    fn signal(&self, ready: Ready) {
        self.cv.notify_all();
        let n = lock(&self.notifier).clone();
        n.ready(ready);
    }

    fn readiness(&self) -> Ready {
        let st = lock(&self.st);
        let mut r = Ready::NONE;
        if st.listening {
            if !st.queue.is_empty() {
                r |= Ready::ACCEPT;
            }
            return r;
        }
        if !st.rx.is_empty() || !st.dgrams.is_empty() || st.eof || st.reset {
            r |= Ready::READ;
        }
        if st.eof || st.reset {
            r |= Ready::CLOSE;
        }
        if !self.stream || st.connected {
            r |= Ready::WRITE;
        }
        if st.connected {
            r |= Ready::CONNECT;
        }
        r
    }

    /// Waits (blocking calls) until `ready` says the state allows progress; `WSAEINTR` when
    /// the socket is closed meanwhile.
    fn wait<'a>(
        &'a self,
        mut st: MutexGuard<'a, St>,
        ready: impl Fn(&St) -> bool,
    ) -> Result<MutexGuard<'a, St>, WsaError> {
        while !ready(&st) {
            if st.closed {
                return Err(WsaError::INTR);
            }
            st = self
                .cv
                .wait_timeout(st, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        Ok(st)
    }
}

/// A socket of the provider (its state can be swapped by `adopt`).
pub struct PanickySocket(Mutex<Arc<Inner>>);

impl PanickySocket {
    fn inner(&self) -> Arc<Inner> {
        lock(&self.0).clone()
    }
}

fn v4(addr: &SockAddr) -> Result<SocketAddrV4, WsaError> {
    match addr.inet().map_err(|_| WsaError::FAULT)? {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(WsaError::AFNOSUPPORT),
    }
}

fn loopback(a: SocketAddrV4) -> Result<SocketAddrV4, WsaError> {
    if a.ip().is_loopback() {
        Ok(a)
    } else if a.ip().is_unspecified() {
        Ok(SocketAddrV4::new(Ipv4Addr::LOCALHOST, a.port()))
    } else {
        Err(WsaError::ADDRNOTAVAIL)
    }
}

impl Panicky {
    fn ensure_bound(&self, inner: &Arc<Inner>) -> Result<SocketAddrV4, WsaError> {
        if let Some(a) = lock(&inner.st).local {
            return Ok(a);
        }
        let a = self
            .net
            .bind(inner, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
        let mut st = lock(&inner.st);
        match st.local {
            Some(existing) => {
                drop(st);
                self.net.unbind(inner, a.port());
                Ok(existing)
            }
            None => {
                st.local = Some(a);
                Ok(a)
            }
        }
    }

    fn deliver(&self, from: SocketAddrV4, to: SocketAddrV4, data: Vec<u8>) {
        if let Some(target) = self.net.find(false, to.port()) {
            {
                let mut st = lock(&target.st);
                if st.closed || st.shut_rd || st.dgrams.len() >= DGRAM_QUEUE {
                    return;
                }
                if let Some(r) = st.remote {
                    if r != from {
                        return;
                    }
                }
                st.dgrams.push_back((data, from));
            }
            target.signal(Ready::READ);
        }
    }

    fn stream_send(
        &self,
        inner: &Arc<Inner>,
        bufs: &Bufs<'_>,
        nonblocking: bool,
    ) -> Result<usize, WsaError> {
        let peer = {
            let st = lock(&inner.st);
            if st.shut_wr {
                return Err(WsaError::SHUTDOWN);
            }
            if st.reset {
                return Err(WsaError::CONNRESET);
            }
            if !st.connected {
                return Err(WsaError::NOTCONN);
            }
            st.peer.as_ref().and_then(|w| w.upgrade())
        };
        let peer = peer.ok_or(WsaError::CONNRESET)?;
        {
            let mut pst = lock(&peer.st);
            if pst.closed || pst.shut_rd {
                return Err(WsaError::CONNRESET);
            }
            if pst.rx.len() + bufs.len() > STREAM_QUEUE {
                return Err(if nonblocking {
                    WsaError::WOULDBLOCK
                } else {
                    WsaError::NOBUFS
                });
            }
            for b in bufs.iter() {
                pst.rx.extend(b.iter().copied());
            }
        }
        peer.signal(Ready::READ);
        Ok(bufs.len())
    }

    fn close_inner(&self, inner: &Arc<Inner>) {
        let (local, peer, queued) = {
            let mut st = lock(&inner.st);
            st.closed = true;
            (
                st.local,
                st.peer.take().and_then(|w| w.upgrade()),
                std::mem::take(&mut st.queue),
            )
        };
        if let Some(a) = local {
            self.net.unbind(inner, a.port());
        }
        if let Some(p) = peer {
            lock(&p.st).eof = true;
            p.signal(Ready::READ | Ready::CLOSE);
        }
        for q in queued {
            let client = lock(&q.st).peer.take().and_then(|w| w.upgrade());
            if let Some(c) = client {
                lock(&c.st).reset = true;
                c.signal(Ready::READ | Ready::CLOSE);
            }
        }
        inner.signal(Ready::CLOSE);
    }
}

impl Provider for Panicky {
    type Socket = PanickySocket;

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        let knob = Knob::from_env();
        if knob.threshold > 0 {
            quiet_injected_panics();
        }
        knob.boom("startup");
        Ok(Panicky {
            knob,
            net: Arc::new(Net::default()),
        })
    }

    fn cleanup(&self) {
        lock(&self.net.duplicates).clear();
        self.knob.boom("cleanup");
    }

    fn socket(&self, request: &SocketRequest) -> Result<PanickySocket, WsaError> {
        self.knob.boom("socket");
        let stream = request.spec.socket_type == SOCK_STREAM;
        Ok(PanickySocket(Mutex::new(Inner::new(stream))))
    }

    fn close(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        let inner = sock.state().inner();
        // Close first: a panic here must not leave the address bound.
        self.close_inner(&inner);
        self.knob.boom("close");
        Ok(())
    }

    fn bind(&self, sock: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        self.knob.boom("bind");
        let inner = sock.state().inner();
        let want = loopback(v4(addr)?)?;
        if lock(&inner.st).local.is_some() {
            return Err(WsaError::INVAL);
        }
        let got = self.net.bind(&inner, want)?;
        let mut st = lock(&inner.st);
        if st.local.is_some() {
            drop(st);
            self.net.unbind(&inner, got.port());
            return Err(WsaError::INVAL);
        }
        st.local = Some(got);
        Ok(())
    }

    fn listen(&self, sock: &Sock<Self>, backlog: i32) -> Result<(), WsaError> {
        self.knob.boom("listen");
        let inner = sock.state().inner();
        if !inner.stream {
            return Err(WsaError::OPNOTSUPP);
        }
        let mut st = lock(&inner.st);
        if st.local.is_none() || st.connected {
            return Err(WsaError::INVAL);
        }
        st.listening = true;
        st.backlog = (backlog.max(1) as usize).min(1024);
        Ok(())
    }

    fn accept(&self, sock: &Sock<Self>) -> Result<(PanickySocket, SockAddr), WsaError> {
        self.knob.boom("accept");
        let inner = sock.state().inner();
        let st = lock(&inner.st);
        if !st.listening {
            return Err(WsaError::INVAL);
        }
        let mut st = if sock.nonblocking() {
            if st.queue.is_empty() {
                return Err(WsaError::WOULDBLOCK);
            }
            st
        } else {
            inner.wait(st, |s| !s.queue.is_empty())?
        };
        let new = st.queue.pop_front().ok_or(WsaError::WOULDBLOCK)?;
        drop(st);
        let remote = lock(&new.st).remote;
        let remote = remote.unwrap_or_else(|| SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
        Ok((
            PanickySocket(Mutex::new(new)),
            SockAddr::Inet(SocketAddr::V4(remote)),
        ))
    }

    fn connect(&self, sock: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        self.knob.boom("connect");
        let inner = sock.state().inner();
        let to = loopback(v4(addr)?)?;
        if !inner.stream {
            let mut st = lock(&inner.st);
            st.remote = if to.port() == 0 { None } else { Some(to) };
            drop(st);
            self.ensure_bound(&inner)?;
            return Ok(());
        }
        if to.port() == 0 {
            return Err(WsaError::ADDRNOTAVAIL);
        }
        {
            let st = lock(&inner.st);
            if st.connected {
                return Err(WsaError::ISCONN);
            }
            if st.listening {
                return Err(WsaError::INVAL);
            }
        }
        let me = self.ensure_bound(&inner)?;
        let listener = self
            .net
            .find(true, to.port())
            .ok_or(WsaError::CONNREFUSED)?;
        let server = Inner::new(true);
        {
            let mut sst = lock(&server.st);
            sst.local = Some(to);
            sst.remote = Some(me);
            sst.connected = true;
            sst.peer = Some(Arc::downgrade(&inner));
        }
        {
            let mut lst = lock(&listener.st);
            if !lst.listening || lst.closed || lst.queue.len() >= lst.backlog {
                return Err(WsaError::CONNREFUSED);
            }
            lst.queue.push_back(server.clone());
        }
        {
            let mut st = lock(&inner.st);
            st.remote = Some(to);
            st.connected = true;
            st.peer = Some(Arc::downgrade(&server));
        }
        listener.signal(Ready::ACCEPT);
        inner.signal(Ready::CONNECT | Ready::WRITE);
        Ok(())
    }

    fn join_leaf(
        &self,
        sock: &Sock<Self>,
        addr: &SockAddr,
        flags: u32,
    ) -> Result<Option<PanickySocket>, WsaError> {
        let _ = (sock, addr, flags);
        self.knob.boom("join_leaf");
        Err(WsaError::OPNOTSUPP)
    }

    fn send(&self, sock: &Sock<Self>, bufs: &Bufs<'_>, flags: MsgFlags) -> Result<usize, WsaError> {
        self.knob.boom("send");
        let _ = flags;
        let inner = sock.state().inner();
        if inner.stream {
            return self.stream_send(&inner, bufs, sock.nonblocking());
        }
        let (from, to) = {
            let st = lock(&inner.st);
            (st.local, st.remote)
        };
        let to = to.ok_or(WsaError::NOTCONN)?;
        let from = match from {
            Some(f) => f,
            None => self.ensure_bound(&inner)?,
        };
        if bufs.len() > MAX_DATAGRAM {
            return Err(WsaError::MSGSIZE);
        }
        self.deliver(from, to, bufs.to_vec());
        Ok(bufs.len())
    }

    fn send_to(
        &self,
        sock: &Sock<Self>,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        self.knob.boom("send_to");
        let inner = sock.state().inner();
        if inner.stream {
            return self.send(sock, bufs, flags);
        }
        let to = loopback(v4(to)?)?;
        if to.port() == 0 {
            return Err(WsaError::ADDRNOTAVAIL);
        }
        if bufs.len() > MAX_DATAGRAM {
            return Err(WsaError::MSGSIZE);
        }
        let from = self.ensure_bound(&inner)?;
        self.deliver(from, to, bufs.to_vec());
        Ok(bufs.len())
    }

    fn recv(
        &self,
        sock: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        self.knob.boom("recv");
        let inner = sock.state().inner();
        if !inner.stream {
            return self.recv_from(sock, bufs, flags).map(|(n, f, _)| (n, f));
        }
        let peek = flags.bits() & MSG_PEEK as u32 != 0;
        let st = lock(&inner.st);
        if st.shut_rd {
            return Err(WsaError::SHUTDOWN);
        }
        if !st.connected {
            return Err(WsaError::NOTCONN);
        }
        let ready = |s: &St| !s.rx.is_empty() || s.eof || s.reset || s.shut_rd;
        let mut st = if ready(&st) {
            st
        } else if sock.nonblocking() {
            return Err(WsaError::WOULDBLOCK);
        } else {
            inner.wait(st, ready)?
        };
        if st.rx.is_empty() {
            return if st.reset {
                Err(WsaError::CONNRESET)
            } else if st.shut_rd {
                Err(WsaError::SHUTDOWN)
            } else {
                Ok((0, MsgFlags::NONE))
            };
        }
        let n = bufs.copy_from(st.rx.make_contiguous());
        if !peek {
            st.rx.drain(..n);
        }
        Ok((n, MsgFlags::NONE))
    }

    fn recv_from(
        &self,
        sock: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags, SockAddr), WsaError> {
        self.knob.boom("recv_from");
        let inner = sock.state().inner();
        if inner.stream {
            let remote = lock(&inner.st).remote;
            let (n, f) = self.recv(sock, bufs, flags)?;
            let from = remote.unwrap_or_else(|| SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
            return Ok((n, f, SockAddr::Inet(SocketAddr::V4(from))));
        }
        let peek = flags.bits() & MSG_PEEK as u32 != 0;
        let st = lock(&inner.st);
        if st.local.is_none() {
            return Err(WsaError::INVAL);
        }
        if st.shut_rd {
            return Err(WsaError::SHUTDOWN);
        }
        let ready = |s: &St| !s.dgrams.is_empty();
        let mut st = if ready(&st) {
            st
        } else if sock.nonblocking() {
            return Err(WsaError::WOULDBLOCK);
        } else {
            inner.wait(st, ready)?
        };
        let (data, from) = if peek {
            st.dgrams.front().cloned().ok_or(WsaError::WOULDBLOCK)?
        } else {
            st.dgrams.pop_front().ok_or(WsaError::WOULDBLOCK)?
        };
        drop(st);
        let n = bufs.copy_from(&data);
        if n < data.len() {
            return Err(WsaError::MSGSIZE);
        }
        Ok((n, MsgFlags::NONE, SockAddr::Inet(SocketAddr::V4(from))))
    }

    fn shutdown(&self, sock: &Sock<Self>, how: Shutdown) -> Result<(), WsaError> {
        self.knob.boom("shutdown");
        let inner = sock.state().inner();
        let peer = {
            let mut st = lock(&inner.st);
            if inner.stream && !st.connected {
                return Err(WsaError::NOTCONN);
            }
            if matches!(how, Shutdown::Receive | Shutdown::Both) {
                st.shut_rd = true;
                st.rx.clear();
                st.dgrams.clear();
            }
            if matches!(how, Shutdown::Send | Shutdown::Both) && !st.shut_wr {
                st.shut_wr = true;
                st.peer.as_ref().and_then(|w| w.upgrade())
            } else {
                None
            }
        };
        if let Some(p) = peer {
            lock(&p.st).eof = true;
            p.signal(Ready::READ | Ready::CLOSE);
        }
        inner.signal(Ready::READ);
        Ok(())
    }

    fn send_disconnect(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        self.knob.boom("send_disconnect");
        self.shutdown(sock, Shutdown::Send)
    }

    fn recv_disconnect(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        self.knob.boom("recv_disconnect");
        self.shutdown(sock, Shutdown::Receive)
    }

    fn sock_name(&self, sock: &Sock<Self>) -> Result<SockAddr, WsaError> {
        self.knob.boom("sock_name");
        let local = lock(&sock.state().inner().st).local;
        local
            .map(|a| SockAddr::Inet(SocketAddr::V4(a)))
            .ok_or(WsaError::INVAL)
    }

    fn peer_name(&self, sock: &Sock<Self>) -> Result<SockAddr, WsaError> {
        self.knob.boom("peer_name");
        let inner = sock.state().inner();
        let st = lock(&inner.st);
        match st.remote {
            Some(a) if st.connected || !inner.stream => Ok(SockAddr::Inet(SocketAddr::V4(a))),
            _ => Err(WsaError::NOTCONN),
        }
    }

    fn get_option(&self, sock: &Sock<Self>, opt: SockOpt) -> Result<OptValue, WsaError> {
        let _ = (sock, opt);
        self.knob.boom("get_option");
        Err(WsaError::NOPROTOOPT)
    }

    fn set_option(
        &self,
        sock: &Sock<Self>,
        opt: SockOpt,
        value: OptInput<'_>,
    ) -> Result<(), WsaError> {
        let _ = (sock, opt, value);
        self.knob.boom("set_option");
        Err(WsaError::NOPROTOOPT)
    }

    fn bytes_readable(&self, sock: &Sock<Self>) -> Result<usize, WsaError> {
        self.knob.boom("bytes_readable");
        let inner = sock.state().inner();
        let st = lock(&inner.st);
        Ok(st.rx.len() + st.dgrams.iter().map(|(d, _)| d.len()).sum::<usize>())
    }

    fn at_mark(&self, sock: &Sock<Self>) -> Result<bool, WsaError> {
        let _ = sock;
        self.knob.boom("at_mark");
        Ok(true)
    }

    fn ioctl(&self, sock: &Sock<Self>, request: IoctlRequest<'_>) -> Result<usize, WsaError> {
        let _ = (sock, request);
        self.knob.boom("ioctl");
        Err(WsaError::INVAL)
    }

    fn attached(&self, sock: &Sock<Self>) {
        *lock(&sock.state().inner().notifier) = sock.notifier();
        self.knob.boom("attached");
    }

    fn readiness(&self, sock: &Sock<Self>) -> Ready {
        self.knob.boom("readiness");
        sock.state().inner().readiness()
    }

    fn adopt(&self, target: &Sock<Self>, accepted: PanickySocket) -> Result<(), WsaError> {
        self.knob.boom("adopt");
        let new = accepted.inner();
        let old = std::mem::replace(&mut *lock(&target.state().0), new.clone());
        let notifier = lock(&old.notifier).clone();
        *lock(&new.notifier) = notifier;
        new.signal(Ready::WRITE);
        Ok(())
    }

    fn duplicate_socket(
        &self,
        sock: &Sock<Self>,
        process_id: u32,
    ) -> Result<core::num::NonZeroU32, WsaError> {
        self.knob.boom("duplicate_socket");
        if process_id != std::process::id() {
            return Err(WsaError::INVAL);
        }
        let token = {
            let mut next = lock(&self.net.next_token);
            *next = next.wrapping_add(1).max(1);
            *next
        };
        lock(&self.net.duplicates).insert(token, sock.state().inner());
        core::num::NonZeroU32::new(token).ok_or(WsaError::INVAL)
    }

    fn socket_from_duplicate(
        &self,
        request: &SocketRequest,
        reserved: core::num::NonZeroU32,
    ) -> Result<PanickySocket, WsaError> {
        let _ = request;
        self.knob.boom("socket_from_duplicate");
        let inner = lock(&self.net.duplicates)
            .remove(&reserved.get())
            .ok_or(WsaError::INVAL)?;
        Ok(PanickySocket(Mutex::new(inner)))
    }

    fn get_qos_by_name(
        &self,
        sock: &Sock<Self>,
        name: &[u8],
    ) -> Result<winsock_provider::sys::QOS, WsaError> {
        let _ = (sock, name);
        self.knob.boom("get_qos_by_name");
        Err(WsaError::INVAL)
    }

    fn address_to_string(&self, addr: &SockAddr) -> Result<String, WsaError> {
        self.knob.boom("address_to_string");
        winsock_provider::address_to_string(addr)
    }

    fn string_to_address(&self, text: &str, family: i32) -> Result<SockAddr, WsaError> {
        self.knob.boom("string_to_address");
        winsock_provider::string_to_address(text, family)
    }

    fn cancel_blocking_call(&self) -> Result<(), WsaError> {
        self.knob.boom("cancel_blocking_call");
        Err(WsaError::OPNOTSUPP)
    }
}
