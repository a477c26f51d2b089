//! A small Winsock provider to start from: connectionless datagrams between the sockets of one
//! process. A socket binds an address, `sendto` queues a datagram at the socket bound to the
//! destination, `recvfrom` takes datagrams one at a time, whole (blocking unless the socket is
//! non-blocking). Replace the in-process [`Exchange`] with your transport.
//!
//! `cargo wsp new` copies this crate, replacing its name, GUID and protocol entry.
//!
//! Driven through the ws2_32 stand-in (`ws2-standin`, a dev-dependency), as an application
//! would drive it:
//!
//! ```
//! use provider_template::{Datagrams, FAMILY, PROTOCOL};
//! use winsock_provider::sys::SOCK_DGRAM;
//!
//! let ws = ws2_standin::Session::load(winsock_provider::entry_points::<Datagrams>()).unwrap();
//! let (af, ty) = (i32::from(FAMILY), SOCK_DGRAM);
//! let (a, b) = (ws.socket(af, ty, PROTOCOL).unwrap(), ws.socket(af, ty, PROTOCOL).unwrap());
//! # let min = ws.spi(af, ty, PROTOCOL).unwrap().info.iMinSockAddr as usize;
//! # let address = |n: u8| match FAMILY {
//! #     2 => std::net::SocketAddr::from(([127, 0, 0, 1], 7000 + u16::from(n))).into(),
//! #     _ => winsock_provider::SockAddr::Raw { family: FAMILY, data: vec![n; min - 2] },
//! # };
//! ws.bind(b, &address(2)).unwrap(); // 127.0.0.1:7002
//! ws.sendto(a, b"ping", 0, &address(2)).unwrap();
//! let mut buf = [0u8; 16];
//! let (n, _from) = ws.recvfrom(b, &mut buf, 0).unwrap();
//! assert_eq!(&buf[..n], b"ping");
//! for s in [a, b] {
//!     ws.closesocket(s).unwrap();
//! }
//! // Dropping the session checks every socket was closed and runs WSPCleanup.
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use winsock_provider::sys::{SOL_SOCKET, SO_RCVBUF};
use winsock_provider::*;

/// The address family of this provider's protocol entry.
pub const FAMILY: u16 = 2;
/// The protocol number of this provider's protocol entry.
pub const PROTOCOL: i32 = 17;
/// The largest datagram (the entry's `dwMessageSize`).
pub const MAX_DATAGRAM: usize = 65467;
/// How many addresses an implicit bind tries (IP: the ports 49152-65535).
const EPHEMERAL_PORTS: u32 = 16384;
/// Default `SO_RCVBUF`: bytes that may wait in one socket's queue.
const DEFAULT_RCVBUF: usize = 64 * 1024;

/// The provider. `#[winsock_provider]` turns this crate into a provider DLL.
#[winsock_provider(
    name = "Template datagrams",
    guid = "0b6f3c1e-2d4a-4f5b-8c7d-9e0a1b2c3d4e",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP, max_message_size = 65467),
)]
pub struct Datagrams {
    exchange: Arc<Exchange>,
}

/// Locks `m`, carrying on with the data if another thread panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The transport: which socket is bound to which address.
#[derive(Default)]
pub struct Exchange {
    bound: Mutex<Bound>,
}

#[derive(Default)]
struct Bound {
    by_address: HashMap<SockAddr, Weak<Mailbox>>,
    next: u32,
}

impl Exchange {
    /// Registers `mailbox` at `addr`; an IP address with port 0 gets a free port
    /// (`WSAENOBUFS` when none is), any other address is taken as given (`WSAEADDRINUSE` when
    /// another socket has it).
    fn bind(&self, addr: &SockAddr, mailbox: &Arc<Mailbox>) -> Result<SockAddr, WsaError> {
        let mut bound = lock(&self.bound);
        bound.by_address.retain(|_, m| m.strong_count() > 0);
        let addr = match addr {
            SockAddr::Inet(ip) if ip.port() == 0 => {
                let mut free = None;
                for _ in 0..EPHEMERAL_PORTS {
                    bound.next = bound.next.wrapping_add(1);
                    let mut candidate = *ip;
                    candidate.set_port(49152 + (bound.next % EPHEMERAL_PORTS) as u16);
                    let candidate = SockAddr::Inet(candidate);
                    if !bound.by_address.contains_key(&candidate) {
                        free = Some(candidate);
                        break;
                    }
                }
                free.ok_or(WsaError::NOBUFS)?
            }
            other => other.clone(),
        };
        if bound.by_address.contains_key(&addr) {
            return Err(WsaError::ADDRINUSE);
        }
        bound
            .by_address
            .insert(addr.clone(), Arc::downgrade(mailbox));
        Ok(addr)
    }

    /// An address no socket has, like `like` (an unbound socket sends from one of these);
    /// `WSAENOBUFS` when none is free.
    fn any_address(&self, like: &SockAddr, mailbox: &Arc<Mailbox>) -> Result<SockAddr, WsaError> {
        match like {
            SockAddr::Inet(ip) => {
                let mut any = *ip;
                any.set_port(0);
                self.bind(&SockAddr::Inet(any), mailbox)
            }
            SockAddr::Raw { family, data } => {
                let mut n = lock(&self.bound).next;
                for _ in 0..EPHEMERAL_PORTS {
                    n = n.wrapping_add(1);
                    let mut data = data.clone();
                    for (i, b) in data.iter_mut().rev().take(4).enumerate() {
                        *b = (n >> (8 * i)) as u8;
                    }
                    match self.bind(
                        &SockAddr::Raw {
                            family: *family,
                            data,
                        },
                        mailbox,
                    ) {
                        Err(WsaError::ADDRINUSE) => continue,
                        r => {
                            lock(&self.bound).next = n;
                            return r;
                        }
                    }
                }
                Err(WsaError::NOBUFS)
            }
        }
    }

    fn release(&self, addr: &SockAddr) {
        lock(&self.bound).by_address.remove(addr);
    }

    fn mailbox(&self, addr: &SockAddr) -> Option<Arc<Mailbox>> {
        lock(&self.bound)
            .by_address
            .get(addr)
            .and_then(Weak::upgrade)
    }
}

/// One socket's queue of received datagrams.
struct Mailbox {
    queue: Mutex<Queue>,
    arrived: Condvar,
    /// Where to signal readiness, once the runtime has attached the socket.
    notifier: Mutex<Option<Notifier>>,
}

struct Queue {
    messages: VecDeque<(SockAddr, Vec<u8>)>,
    bytes: usize,
    capacity: usize,
    /// After `connect`: accept datagrams from this address only.
    only_from: Option<SockAddr>,
    shut: bool,
    closed: bool,
}

impl Mailbox {
    fn new() -> Mailbox {
        Mailbox {
            queue: Mutex::new(Queue {
                messages: VecDeque::new(),
                bytes: 0,
                capacity: DEFAULT_RCVBUF,
                only_from: None,
                shut: false,
                closed: false,
            }),
            arrived: Condvar::new(),
            notifier: Mutex::new(None),
        }
    }

    fn signal(&self, ready: Ready) {
        let notifier = lock(&self.notifier).clone();
        if let Some(n) = notifier {
            n.ready(ready);
        }
    }

    /// Queues a datagram, or drops it as UDP would (queue full, filtered, shut or closed).
    fn deliver(&self, from: &SockAddr, data: Vec<u8>) {
        let mut q = lock(&self.queue);
        let full = !q.messages.is_empty() && q.bytes + data.len() > q.capacity;
        let filtered = q.only_from.as_ref().map_or(false, |peer| peer != from);
        if full || filtered || q.shut || q.closed {
            return;
        }
        q.bytes += data.len();
        q.messages.push_back((from.clone(), data));
        drop(q);
        self.arrived.notify_one();
        self.signal(Ready::READ);
    }

    /// Takes (or with `peek` copies) the next datagram into `bufs`; `WSAEMSGSIZE` when it did
    /// not fit (the rest is discarded).
    fn receive(
        &self,
        bufs: &mut BufsMut<'_>,
        peek: bool,
        nonblocking: bool,
    ) -> Result<(usize, SockAddr), WsaError> {
        let mut q = lock(&self.queue);
        loop {
            if q.closed {
                return Err(WsaError::INTR);
            }
            if q.shut {
                return Err(WsaError::SHUTDOWN);
            }
            if let Some((from, data)) = q.messages.front() {
                let (from, len, whole) = (from.clone(), data.len(), bufs.copy_from(data));
                if !peek {
                    q.messages.pop_front();
                    q.bytes -= len;
                }
                if whole < len {
                    return Err(WsaError::MSGSIZE);
                }
                return Ok((len, from));
            }
            if nonblocking {
                return Err(WsaError::WOULDBLOCK);
            }
            q = self.arrived.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn readable(&self) -> bool {
        let q = lock(&self.queue);
        !q.messages.is_empty() || q.shut || q.closed
    }

    fn finish(&self, closed: bool) {
        let mut q = lock(&self.queue);
        if closed {
            q.closed = true;
        } else {
            q.shut = true;
        }
        q.messages.clear();
        q.bytes = 0;
        drop(q);
        self.arrived.notify_all();
        self.signal(Ready::READ);
    }
}

/// Per-socket state.
pub struct Endpoint {
    mailbox: Arc<Mailbox>,
    names: Mutex<Names>,
}

#[derive(Default)]
struct Names {
    local: Option<SockAddr>,
    peer: Option<SockAddr>,
    send_shut: bool,
}

impl Datagrams {
    /// The socket's address, binding it first if it has none (as `sendto` does on Winsock).
    fn local(&self, s: &Endpoint, like: &SockAddr) -> Result<SockAddr, WsaError> {
        let mut names = lock(&s.names);
        if let Some(local) = &names.local {
            return Ok(local.clone());
        }
        let local = self.exchange.any_address(like, &s.mailbox)?;
        names.local = Some(local.clone());
        Ok(local)
    }

    fn deliver(&self, s: &Endpoint, bufs: &Bufs<'_>, to: &SockAddr) -> Result<usize, WsaError> {
        if lock(&s.names).send_shut {
            return Err(WsaError::SHUTDOWN);
        }
        if bufs.len() > MAX_DATAGRAM {
            return Err(WsaError::MSGSIZE);
        }
        let from = self.local(s, to)?;
        if let Some(mailbox) = self.exchange.mailbox(to) {
            mailbox.deliver(&from, bufs.to_vec());
        }
        Ok(bufs.len())
    }
}

impl Provider for Datagrams {
    type Socket = Endpoint;

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Datagrams {
            exchange: Arc::new(Exchange::default()),
        })
    }

    fn socket(&self, _: &SocketRequest) -> Result<Endpoint, WsaError> {
        Ok(Endpoint {
            mailbox: Arc::new(Mailbox::new()),
            names: Mutex::new(Names::default()),
        })
    }

    fn attached(&self, s: &Sock<Self>) {
        *lock(&s.mailbox.notifier) = Some(s.notifier());
        s.ready(Ready::WRITE);
    }

    fn readiness(&self, s: &Sock<Self>) -> Ready {
        if s.mailbox.readable() {
            Ready::READ | Ready::WRITE
        } else {
            Ready::WRITE
        }
    }

    fn close(&self, s: &Sock<Self>) -> Result<(), WsaError> {
        if let Some(local) = lock(&s.names).local.take() {
            self.exchange.release(&local);
        }
        s.mailbox.finish(true);
        Ok(())
    }

    fn bind(&self, s: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        let mut names = lock(&s.names);
        if names.local.is_some() {
            return Err(WsaError::INVAL);
        }
        names.local = Some(self.exchange.bind(addr, &s.mailbox)?);
        Ok(())
    }

    fn connect(&self, s: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        self.local(s, addr)?;
        lock(&s.names).peer = Some(addr.clone());
        lock(&s.mailbox.queue).only_from = Some(addr.clone());
        s.ready(Ready::WRITE);
        Ok(())
    }

    fn send(&self, s: &Sock<Self>, bufs: &Bufs<'_>, _: MsgFlags) -> Result<usize, WsaError> {
        let peer = lock(&s.names).peer.clone().ok_or(WsaError::NOTCONN)?;
        self.deliver(s, bufs, &peer)
    }

    fn send_to(
        &self,
        s: &Sock<Self>,
        bufs: &Bufs<'_>,
        _: MsgFlags,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        self.deliver(s, bufs, to)
    }

    fn recv(
        &self,
        s: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        self.recv_from(s, bufs, flags).map(|(n, f, _)| (n, f))
    }

    fn recv_from(
        &self,
        s: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags, SockAddr), WsaError> {
        if lock(&s.names).local.is_none() {
            return Err(WsaError::INVAL);
        }
        let peek = flags.contains(MsgFlags::PEEK);
        let (n, from) = s.mailbox.receive(bufs, peek, s.nonblocking())?;
        Ok((n, MsgFlags::NONE, from))
    }

    fn shutdown(&self, s: &Sock<Self>, how: Shutdown) -> Result<(), WsaError> {
        if how.send() {
            lock(&s.names).send_shut = true;
        }
        if how.receive() {
            s.mailbox.finish(false);
        }
        Ok(())
    }

    fn sock_name(&self, s: &Sock<Self>) -> Result<SockAddr, WsaError> {
        lock(&s.names).local.clone().ok_or(WsaError::INVAL)
    }

    fn peer_name(&self, s: &Sock<Self>) -> Result<SockAddr, WsaError> {
        lock(&s.names).peer.clone().ok_or(WsaError::NOTCONN)
    }

    fn get_option(&self, s: &Sock<Self>, opt: SockOpt) -> Result<OptValue, WsaError> {
        if opt != SockOpt::socket(SO_RCVBUF) {
            return Err(WsaError::NOPROTOOPT);
        }
        Ok(OptValue::Int(lock(&s.mailbox.queue).capacity as i32))
    }

    fn set_option(
        &self,
        s: &Sock<Self>,
        opt: SockOpt,
        value: OptInput<'_>,
    ) -> Result<(), WsaError> {
        if opt.level != SOL_SOCKET || opt.name != SO_RCVBUF {
            return Err(WsaError::NOPROTOOPT);
        }
        let size = value.int()?;
        if size < 0 {
            return Err(WsaError::INVAL);
        }
        lock(&s.mailbox.queue).capacity = size as usize;
        Ok(())
    }

    fn bytes_readable(&self, s: &Sock<Self>) -> Result<usize, WsaError> {
        Ok(lock(&s.mailbox.queue).bytes)
    }
}
