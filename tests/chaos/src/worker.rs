//! One worker thread: its sockets, its requests, and the random choice of the next call.

use crate::caller::Caller;
use crate::ops::{on_routine, take_routine_calls, Op, Ops, Route, State, ADDR, BUF};
use crate::rng::Rng;
use crate::{lock, Shared};
use core::ffi::c_void;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Barrier;
use std::time::{Duration, Instant};
use winsock_provider::sys::*;
use winsock_provider::{SockAddr, WsaError};
use ws2_standin::{ext, CompletionPort, Window, WSA_WAIT_EVENT_0};

/// Sockets a worker holds at most.
const MAX_SOCKETS: usize = 16;
/// Requests a worker keeps pending at most.
const MAX_PENDING: usize = 48;
/// Sockets in the shared pool at most.
const MAX_POOL: usize = 32;
/// `OVERLAPPED.Internal` before a request starts (the stand-in writes the error there when
/// the request completes).
const UNTOUCHED: usize = 0x0C0F_FEE0;
/// Room for the addresses AcceptEx writes (each at least 16 bytes more than the largest).
const ACCEPT_ADDR: u32 = 144;
/// `SIO_GET_EXTENSION_FUNCTION_POINTER`'s output.
const PTR: usize = core::mem::size_of::<usize>();

/// What a socket record is ready for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum St {
    /// Just created.
    Fresh,
    /// Bound (datagram sockets: may have a default peer).
    Bound,
    /// A listening stream socket.
    Listening,
    /// A connected stream socket.
    Connected,
    /// Something the worker does not track (a duplicate, a socket AcceptEx used).
    Other,
}

struct Sock {
    s: SOCKET,
    id: u64,
    st: St,
    /// Its own address (after bind).
    addr: Option<Vec<u8>>,
    /// The peer's address (connected stream, or a datagram socket's partner).
    peer: Option<Vec<u8>>,
    /// Associated with this worker's completion port (key = `id`).
    assoc: bool,
    /// Duplicated (`WSPDuplicateSocket`): closing this descriptor may leave the socket open,
    /// so a close need not wake calls blocked in it.
    shared: bool,
}

/// The extension functions, looked up once.
#[derive(Copy, Clone)]
struct Ext {
    accept_ex: ext::AcceptExFn,
    connect_ex: ext::ConnectExFn,
    disconnect_ex: ext::DisconnectExFn,
    transmit_file: ext::TransmitFileFn,
    recv_msg: ext::WsaRecvMsgFn,
    send_msg: ext::WsaSendMsgFn,
}

/// Overlapped request kinds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    Recv,
    Send,
    RecvFrom,
    SendTo,
    Ioctl,
    AcceptEx,
    ConnectEx,
    DisconnectEx,
    TransmitFile,
    RecvMsg,
    SendMsg,
}

impl Kind {
    /// The entry or extension function the request goes through.
    fn call_name(self) -> &'static str {
        match self {
            Kind::Recv => "WSPRecv",
            Kind::Send => "WSPSend",
            Kind::RecvFrom => "WSPRecvFrom",
            Kind::SendTo => "WSPSendTo",
            Kind::Ioctl => "WSPIoctl",
            Kind::AcceptEx => "AcceptEx",
            Kind::ConnectEx => "ConnectEx",
            Kind::DisconnectEx => "DisconnectEx",
            Kind::TransmitFile => "TransmitFile",
            Kind::RecvMsg => "WSARecvMsg",
            Kind::SendMsg => "WSASendMsg",
        }
    }

    /// Extension functions take no completion routine.
    fn takes_routine(self) -> bool {
        !matches!(
            self,
            Kind::AcceptEx | Kind::ConnectEx | Kind::DisconnectEx | Kind::TransmitFile
        )
    }
}

pub(crate) struct Worker<'a> {
    c: Caller<'a>,
    idx: usize,
    rng: Rng,
    socks: Vec<Sock>,
    /// Values of sockets this worker closed, most recent last.
    dead: VecDeque<SOCKET>,
    /// Values reserved as unrelated objects.
    unrelated: Vec<SOCKET>,
    port: Option<CompletionPort>,
    event: WSAEVENT,
    window: Option<Window>,
    ops: Ops,
    ext: Option<Ext>,
    thread: WSATHREADID,
    next_id: u64,
    nested: u32,
}

fn bytes_of(a: &SockAddr) -> Vec<u8> {
    a.to_bytes()
}

impl<'a> Worker<'a> {
    pub(crate) fn new(sh: &'a Shared, idx: usize, seed: u64) -> Worker<'a> {
        let tr = sh.board.join(format!("worker {}", idx));
        Worker {
            c: Caller::new(sh, tr),
            idx,
            rng: Rng::new(seed),
            socks: Vec::new(),
            dead: VecDeque::new(),
            unrelated: Vec::new(),
            port: None,
            event: 0,
            window: None,
            ops: Ops::default(),
            ext: None,
            thread: sh.ws.current_thread_id(),
            next_id: 0,
            nested: 0,
        }
    }

    fn sh(&self) -> &'a Shared {
        self.c.sh
    }

    /// The main loop, then the orderly end: the pool is emptied (by worker 0, once every
    /// worker stopped using it), each worker closes its sockets and waits for every request
    /// it started to be notified.
    pub(crate) fn run(mut self, barrier: &Barrier) {
        let sh = self.sh();
        let ws = &sh.ws;
        self.port = self
            .c
            .standin("CreateIoCompletionPort(new)".to_owned(), || {
                ws.create_io_completion_port(None, None, 0)
            })
            .and_then(|r| r.ok());
        self.event = self
            .c
            .standin("WSACreateEvent".to_owned(), || ws.create_event())
            .and_then(|r| r.ok())
            .unwrap_or(0);
        self.window = Some(ws.create_window());
        for _ in 0..2 {
            self.unrelated.push(ws.reserve_unrelated_handle());
        }
        let mut n: u64 = 0;
        while !sh.spent() {
            self.step();
            n += 1;
            if n % 8 == 0 {
                self.pump();
            }
            if n % 256 == 0 {
                self.drain_recorded();
            }
        }
        sh.closing.store(true, Ordering::Release);
        barrier.wait();
        if self.idx == 0 {
            let pooled: Vec<SOCKET> = std::mem::take(&mut *lock(&sh.pool));
            for s in pooled {
                self.c.standin(format!("closesocket({:#x}) [pool]", s), || {
                    ws.closesocket(s)
                });
            }
        }
        barrier.wait();
        while let Some(sock) = self.socks.pop() {
            let s = sock.s;
            self.c
                .standin(format!("closesocket({:#x}) [end]", s), || ws.closesocket(s));
        }
        self.finish();
    }

    /// Reports what the stand-in's upcalls recorded (completions on released handles, double
    /// completions it tracked, bad thread handles).
    fn drain_recorded(&self) {
        if let Err(e) = crate::guard(|| ws2_standin::check_int("(recorded by upcalls)", |_| 0)) {
            self.c.violation(format!("the stand-in recorded: {}", e));
        }
    }

    // ---- choosing ----

    fn step(&mut self) {
        let dgram = !self.sh().cfg.stream();
        let weights: [u32; 22] = [
            6,                          // 0 create a socket
            8,                          // 1 make a pair
            5,                          // 2 close one
            20,                         // 3 move data
            if dgram { 10 } else { 0 }, // 4 sendto / recvfrom
            22,                         // 5 overlapped request
            6,                          // 6 null / short buffers on a live socket
            10,                         // 7 a handle that is not a socket
            4,                          // 8 select
            4,                          // 9 event select / async select
            6,                          // 10 options
            6,                          // 11 ioctls
            3,                          // 12 shutdown and disconnects
            1,                          // 13 duplicate
            3,                          // 14 address strings
            2,                          // 15 QOS, join leaf, cancel blocking call
            1,                          // 16 calls racing with close
            10,                         // 17 the shared pool
            3,                          // 18 WSPGetOverlappedResult
            1,                          // 19 nested start-up and clean-up
            if dgram { 0 } else { 2 },  // 20 blocking call racing with close
            2,                          // 21 double close
        ];
        match self.rng.weighted(&weights) {
            0 => {
                if self.socks.len() >= MAX_SOCKETS {
                    self.close_random();
                } else {
                    self.create();
                }
            }
            1 => {
                if self.socks.len() + 3 > MAX_SOCKETS {
                    self.close_random();
                } else {
                    self.pair();
                }
            }
            2 => self.close_random(),
            3 => self.data(),
            4 => self.datagram(),
            5 => self.overlapped(),
            6 => self.bad_buffers(),
            7 => self.not_a_socket(),
            8 => self.select(),
            9 => self.event_select(),
            10 => self.options(),
            11 => self.ioctls(),
            12 => self.shutdowns(),
            13 => self.duplicate(),
            14 => self.strings(),
            15 => self.odd_entries(),
            16 => self.race_close(),
            17 => self.pool(),
            18 => self.overlapped_result(),
            19 => self.nested(),
            20 => self.race_blocking(),
            _ => self.double_close(),
        }
    }

    fn pick(&mut self, want: &[St]) -> Option<usize> {
        let found: Vec<usize> = (0..self.socks.len())
            .filter(|&i| want.contains(&self.socks[i].st))
            .collect();
        if found.is_empty() {
            None
        } else {
            Some(found[self.rng.below(found.len())])
        }
    }

    fn any_sock(&mut self) -> Option<usize> {
        if self.socks.is_empty() {
            None
        } else {
            Some(self.rng.below(self.socks.len()))
        }
    }

    // ---- sockets ----

    fn create(&mut self) -> Option<usize> {
        let sh = self.sh();
        let f = sh.spi.table.lpWSPSocket?;
        let (af, ty, proto) = (sh.cfg.af, sh.cfg.ty, sh.cfg.protocol);
        let info = sh.spi.info;
        let r = {
            let _g = sh.gate.read().unwrap_or_else(|e| e.into_inner());
            self.c.socket(
                format!("WSPSocket({}, {}, {})", af, ty, proto),
                // SAFETY: WSPSocket as ws2_32 calls it, with the provider's entry.
                |errno| unsafe { f(af, ty, proto, &info, 0, WSA_FLAG_OVERLAPPED, errno) },
            )
        };
        let s = r.ok()?;
        if !self.c.live(s) {
            self.c.violation(format!(
                "WSPSocket returned {:#x}, which ws2_32 never issued",
                s
            ));
            return None;
        }
        Some(self.adopt(s, St::Fresh))
    }

    /// Takes a new handle into the worker's set: non-blocking, and sometimes associated with
    /// the worker's completion port.
    fn adopt(&mut self, s: SOCKET, st: St) -> usize {
        self.next_id += 1;
        let id = ((self.idx as u64) << 40) | self.next_id;
        let _ = self.ioctl_u32(s, FIONBIO as u32, 1);
        let mut assoc = false;
        if let Some(port) = self.port {
            if self.rng.one_in(3) {
                let ws = &self.sh().ws;
                assoc = matches!(
                    self.c
                        .standin(format!("CreateIoCompletionPort({:#x})", s), || {
                            ws.create_io_completion_port(Some(port), Some(s), id as usize)
                        }),
                    Some(Ok(_))
                );
            }
        }
        self.socks.push(Sock {
            s,
            id,
            st,
            addr: None,
            peer: None,
            assoc,
            shared: false,
        });
        self.socks.len() - 1
    }

    fn ioctl_u32(&self, s: SOCKET, code: u32, value: u32) -> Result<i32, WsaError> {
        let f = match self.sh().spi.table.lpWSPIoctl {
            Some(f) => f,
            None => return Err(WsaError::NETDOWN),
        };
        let mut v = value;
        let mut ret = 0u32;
        let thread = self.thread;
        self.c.int(
            format!("WSPIoctl({:#x}, {:#x}, {})", s, code, value),
            false,
            // SAFETY: a 4-byte input buffer, no output, no OVERLAPPED.
            |errno| unsafe {
                f(
                    s,
                    code,
                    (&mut v as *mut u32).cast(),
                    4,
                    core::ptr::null_mut(),
                    0,
                    &mut ret,
                    core::ptr::null_mut(),
                    None,
                    &thread,
                    errno,
                )
            },
        )
    }

    fn close_at(&mut self, i: usize) {
        let sock = self.socks.swap_remove(i);
        let ws = &self.sh().ws;
        let s = sock.s;
        self.c
            .standin(format!("closesocket({:#x})", s), || ws.closesocket(s));
        self.dead.push_back(s);
        if self.dead.len() > 8 {
            self.dead.pop_front();
        }
    }

    fn close_random(&mut self) {
        if let Some(i) = self.any_sock() {
            self.close_at(i);
        }
    }

    fn bind(&mut self, i: usize) -> bool {
        let sh = self.sh();
        let f = match sh.spi.table.lpWSPBind {
            Some(f) => f,
            None => return false,
        };
        let s = self.socks[i].s;
        let a = bytes_of(&sh.fresh_addr());
        let r = self.c.int(
            format!("WSPBind({:#x}, {} bytes)", s, a.len()),
            false,
            // SAFETY: a whole address of the length given.
            |errno| unsafe { f(s, a.as_ptr().cast(), a.len() as i32, errno) },
        );
        if r.is_err() {
            return false;
        }
        self.socks[i].st = St::Bound;
        self.socks[i].addr = self.sock_name(s);
        self.socks[i].addr.is_some()
    }

    fn sock_name(&self, s: SOCKET) -> Option<Vec<u8>> {
        let f = self.sh().spi.table.lpWSPGetSockName?;
        let mut buf = [0u8; ADDR];
        let mut len = ADDR as i32;
        let r = self.c.int(
            format!("WSPGetSockName({:#x})", s),
            false,
            // SAFETY: a writable buffer of `len` bytes.
            |errno| unsafe { f(s, buf.as_mut_ptr().cast(), &mut len, errno) },
        );
        match r {
            Ok(_) if len > 0 && len as usize <= ADDR => Some(buf[..len as usize].to_vec()),
            Ok(_) => {
                self.c
                    .violation(format!("WSPGetSockName reported length {}", len));
                None
            }
            Err(_) => None,
        }
    }

    /// The worker's listener, made when it has none.
    fn listener(&mut self) -> Option<usize> {
        if let Some(i) = self.pick(&[St::Listening]) {
            return Some(i);
        }
        let i = self.create()?;
        if !self.bind(i) {
            return None;
        }
        let f = self.sh().spi.table.lpWSPListen?;
        let s = self.socks[i].s;
        let backlog = self.rng.pick(&[1, 8, 64, SOMAXCONN_WS2]);
        let r = self.c.int(
            format!("WSPListen({:#x}, {})", s, backlog),
            false,
            // SAFETY: plain arguments.
            |errno| unsafe { f(s, backlog, errno) },
        );
        if r.is_ok() {
            self.socks[i].st = St::Listening;
            Some(i)
        } else {
            None
        }
    }

    fn connect(&mut self, i: usize, to: &[u8]) -> Result<i32, WsaError> {
        let f = match self.sh().spi.table.lpWSPConnect {
            Some(f) => f,
            None => return Err(WsaError::NETDOWN),
        };
        let s = self.socks[i].s;
        self.c.int(
            format!("WSPConnect({:#x}, {} bytes)", s, to.len()),
            false,
            // SAFETY: a whole address; no caller/callee data or QOS.
            |errno| unsafe {
                f(
                    s,
                    to.as_ptr().cast(),
                    to.len() as i32,
                    core::ptr::null(),
                    core::ptr::null_mut(),
                    core::ptr::null(),
                    core::ptr::null(),
                    errno,
                )
            },
        )
    }

    fn accept(&mut self, l: usize) -> Option<usize> {
        let sh = self.sh();
        let f = sh.spi.table.lpWSPAccept?;
        let s = self.socks[l].s;
        let mut addr = [0u8; ADDR];
        let mut len = ADDR as i32;
        let r = {
            let _g = sh.gate.read().unwrap_or_else(|e| e.into_inner());
            self.c.socket(
                format!("WSPAccept({:#x})", s),
                // SAFETY: a writable address buffer of `len` bytes; no condition function.
                |errno| unsafe { f(s, addr.as_mut_ptr().cast(), &mut len, None, 0, errno) },
            )
        };
        let new = r.ok()?;
        if !self.c.live(new) {
            self.c.violation(format!(
                "WSPAccept returned {:#x}, which ws2_32 never issued",
                new
            ));
            return None;
        }
        let i = self.adopt(new, St::Connected);
        self.socks[i].peer = Some(addr[..(len.max(0) as usize).min(ADDR)].to_vec());
        Some(i)
    }

    /// A connected stream pair through the worker's listener, or two datagram sockets
    /// bound and pointed at each other.
    fn pair(&mut self) {
        if self.sh().cfg.stream() {
            let l = match self.listener() {
                Some(l) => l,
                None => return,
            };
            let to = match self.socks[l].addr.clone() {
                Some(a) => a,
                None => return,
            };
            let c = match self.create() {
                Some(c) => c,
                None => return,
            };
            match self.connect(c, &to) {
                Ok(_) | Err(WsaError::WOULDBLOCK) => {
                    self.socks[c].st = St::Connected;
                    self.socks[c].peer = Some(to);
                }
                Err(_) => return,
            }
            // The listener may have moved (swap_remove never runs here, but stay robust).
            let l = match self.pick(&[St::Listening]) {
                Some(l) => l,
                None => return,
            };
            if self.accept(l).is_none() {
                self.wait_readable(self.socks[l].s);
                self.accept(l);
            }
        } else {
            let a = match self.create() {
                Some(a) => a,
                None => return,
            };
            if !self.bind(a) {
                return;
            }
            let b = match self.create() {
                Some(b) => b,
                None => return,
            };
            if !self.bind(b) {
                return;
            }
            let (aa, ba) = (self.socks[a].addr.clone(), self.socks[b].addr.clone());
            self.socks[a].peer = ba.clone();
            self.socks[b].peer = aa;
            if self.rng.one_in(2) {
                if let Some(ba) = ba {
                    let _ = self.connect(a, &ba);
                }
            }
        }
    }

    /// `select` for readability of `s`, up to 20 ms.
    fn wait_readable(&self, s: SOCKET) {
        let f = match self.sh().spi.table.lpWSPSelect {
            Some(f) => f,
            None => return,
        };
        let mut set = FD_SET {
            fd_count: 1,
            ..FD_SET::default()
        };
        set.fd_array[0] = s;
        let tv = TIMEVAL {
            tv_sec: 0,
            tv_usec: 20_000,
        };
        let _ = self.c.int(
            format!("WSPSelect(read [{:#x}], 20 ms)", s),
            true,
            // SAFETY: a valid set and time-out.
            |errno| unsafe {
                f(
                    0,
                    &mut set,
                    core::ptr::null_mut(),
                    core::ptr::null_mut(),
                    &tv,
                    errno,
                )
            },
        );
    }

    // ---- data ----

    fn data(&mut self) {
        let i = match self.pick(&[St::Connected, St::Bound, St::Other]) {
            Some(i) => i,
            None => return self.pair(),
        };
        let s = self.socks[i].s;
        let t = self.sh().spi.table;
        let thread = self.thread;
        let mut buf = [0u8; BUF];
        let len = self.rng.pick(&[0usize, 1, 17, 512, BUF]);
        let flags = self
            .rng
            .pick(&[0u32, 0, 0, MSG_PEEK as u32, MSG_OOB as u32, 0x4000]);
        let wb = WSABUF {
            len: len as u32,
            buf: buf.as_mut_ptr(),
        };
        let mut n = 0u32;
        if self.rng.one_in(2) {
            if let Some(f) = t.lpWSPSend {
                let _ = self.c.int(
                    format!("WSPSend({:#x}, {} bytes, flags {:#x})", s, len, flags),
                    false,
                    // SAFETY: one valid buffer; no OVERLAPPED (the socket is non-blocking).
                    |errno| unsafe {
                        f(
                            s,
                            &wb,
                            1,
                            &mut n,
                            flags,
                            core::ptr::null_mut(),
                            None,
                            &thread,
                            errno,
                        )
                    },
                );
            }
        } else if let Some(f) = t.lpWSPRecv {
            let mut fl = flags;
            let _ = self.c.int(
                format!("WSPRecv({:#x}, {} bytes, flags {:#x})", s, len, flags),
                false,
                // SAFETY: one valid writable buffer; no OVERLAPPED (non-blocking socket).
                |errno| unsafe {
                    f(
                        s,
                        &wb,
                        1,
                        &mut n,
                        &mut fl,
                        core::ptr::null_mut(),
                        None,
                        &thread,
                        errno,
                    )
                },
            );
        }
        if n as usize > len {
            self.c
                .violation(format!("reported {} bytes for a {}-byte buffer", n, len));
        }
    }

    fn datagram(&mut self) {
        let i = match self.pick(&[St::Bound, St::Fresh]) {
            Some(i) => i,
            None => return self.pair(),
        };
        let s = self.socks[i].s;
        let t = self.sh().spi.table;
        let thread = self.thread;
        let mut buf = [0u8; BUF];
        let len = self.rng.pick(&[0usize, 1, 100, BUF]);
        let wb = WSABUF {
            len: len as u32,
            buf: buf.as_mut_ptr(),
        };
        let mut n = 0u32;
        if self.rng.one_in(2) {
            let to = match self.socks[i].peer.clone() {
                Some(p) if !self.rng.one_in(8) => p,
                _ => bytes_of(&SockAddr::Inet(
                    format!("127.0.0.1:{}", 1 + self.rng.below(65535))
                        .parse()
                        .expect("address"),
                )),
            };
            if let Some(f) = t.lpWSPSendTo {
                let _ = self.c.int(
                    format!("WSPSendTo({:#x}, {} bytes)", s, len),
                    false,
                    // SAFETY: one valid buffer, a whole address, no OVERLAPPED.
                    |errno| unsafe {
                        f(
                            s,
                            &wb,
                            1,
                            &mut n,
                            0,
                            to.as_ptr().cast(),
                            to.len() as i32,
                            core::ptr::null_mut(),
                            None,
                            &thread,
                            errno,
                        )
                    },
                );
            }
        } else if let Some(f) = t.lpWSPRecvFrom {
            let mut from = [0u8; ADDR];
            let mut from_len = ADDR as i32;
            let mut fl = 0u32;
            let _ = self.c.int(
                format!("WSPRecvFrom({:#x}, {} bytes)", s, len),
                false,
                // SAFETY: one valid writable buffer and address buffer; no OVERLAPPED.
                |errno| unsafe {
                    f(
                        s,
                        &wb,
                        1,
                        &mut n,
                        &mut fl,
                        from.as_mut_ptr().cast(),
                        &mut from_len,
                        core::ptr::null_mut(),
                        None,
                        &thread,
                        errno,
                    )
                },
            );
            if from_len < 0 || from_len as usize > ADDR {
                self.c
                    .violation(format!("WSPRecvFrom reported address length {}", from_len));
            }
        }
        if n as usize > len {
            self.c
                .violation(format!("reported {} bytes for a {}-byte buffer", n, len));
        }
    }

    // ---- overlapped requests ----

    fn ext_fns(&mut self, s: SOCKET) -> Option<Ext> {
        if self.ext.is_none() {
            let a = self.ext_ptr(s, ext::WSAID_ACCEPTEX)?;
            let c = self.ext_ptr(s, ext::WSAID_CONNECTEX)?;
            let d = self.ext_ptr(s, ext::WSAID_DISCONNECTEX)?;
            let t = self.ext_ptr(s, ext::WSAID_TRANSMITFILE)?;
            let r = self.ext_ptr(s, ext::WSAID_WSARECVMSG)?;
            let w = self.ext_ptr(s, ext::WSAID_WSASENDMSG)?;
            // SAFETY: the provider handed out these functions for these GUIDs, whose
            // signatures the `ext` types spell; all are pointer-sized and non-null.
            unsafe {
                self.ext = Some(Ext {
                    accept_ex: core::mem::transmute::<usize, ext::AcceptExFn>(a),
                    connect_ex: core::mem::transmute::<usize, ext::ConnectExFn>(c),
                    disconnect_ex: core::mem::transmute::<usize, ext::DisconnectExFn>(d),
                    transmit_file: core::mem::transmute::<usize, ext::TransmitFileFn>(t),
                    recv_msg: core::mem::transmute::<usize, ext::WsaRecvMsgFn>(r),
                    send_msg: core::mem::transmute::<usize, ext::WsaSendMsgFn>(w),
                });
            }
        }
        self.ext
    }

    /// `SIO_GET_EXTENSION_FUNCTION_POINTER` for `guid` on `s`: the pointer, when non-null.
    fn ext_ptr(&self, s: SOCKET, guid: GUID) -> Option<usize> {
        let f = self.sh().spi.table.lpWSPIoctl?;
        let mut out = [0u8; PTR];
        let mut ret = 0u32;
        let thread = self.thread;
        let r = self.c.int(
            format!(
                "WSPIoctl({:#x}, SIO_GET_EXTENSION_FUNCTION_POINTER, {:?})",
                s,
                Guid(guid)
            ),
            false,
            // SAFETY: a 16-byte GUID in, a pointer-sized buffer out.
            |errno| unsafe {
                f(
                    s,
                    SIO_GET_EXTENSION_FUNCTION_POINTER,
                    (&guid as *const GUID).cast(),
                    16,
                    out.as_mut_ptr().cast(),
                    PTR as u32,
                    &mut ret,
                    core::ptr::null_mut(),
                    None,
                    &thread,
                    errno,
                )
            },
        );
        let p = usize::from_ne_bytes(out);
        match r {
            Ok(_) if p != 0 && ret as usize == PTR => Some(p),
            Ok(_) => {
                self.c.violation(format!(
                    "SIO_GET_EXTENSION_FUNCTION_POINTER succeeded with pointer {:#x} and {} bytes",
                    p, ret
                ));
                None
            }
            Err(_) => None,
        }
    }

    fn route(&mut self, assoc: bool, routine: bool) -> Route {
        let mut routes = vec![Route::Event];
        if routine {
            routes.push(Route::Routine);
        }
        if assoc {
            routes.push(Route::Port);
            routes.push(Route::Port);
        }
        self.rng.pick(&routes)
    }

    /// Prepares a request record for `call` on `s` and returns its index.
    fn prepare(&mut self, s: SOCKET, sock_id: u64, route: Route, call: String) -> usize {
        let ws = &self.sh().ws;
        let c = &self.c;
        let i = self.ops.alloc(|| {
            c.standin("WSACreateEvent".to_owned(), || ws.create_event())
                .and_then(|r| r.ok())
                .unwrap_or(0)
        });
        let op: &mut Op = &mut self.ops.recs[i];
        let _ = ws.reset_event(op.event);
        op.ov = OVERLAPPED::default();
        op.ov.Internal = UNTOUCHED;
        op.ov.hEvent = match route {
            Route::Event => (op.event | 1) as HANDLE,
            Route::Port => op.event as HANDLE,
            Route::Routine => core::ptr::null_mut(),
        };
        op.route = route;
        op.sock = s;
        op.sock_id = sock_id;
        op.call = call;
        op.notes = 0;
        op.bytes = 0;
        op.flags = 0;
        op.addr_len = ADDR as i32;
        op.issued = Instant::now();
        i
    }

    fn overlapped(&mut self) {
        if self.ops.pending.len() >= MAX_PENDING {
            return self.pump();
        }
        let stream = self.sh().cfg.stream();
        let kinds: &[Kind] = if stream {
            &[
                Kind::Recv,
                Kind::Recv,
                Kind::Send,
                Kind::Send,
                Kind::Ioctl,
                Kind::AcceptEx,
                Kind::ConnectEx,
                Kind::DisconnectEx,
                Kind::TransmitFile,
            ]
        } else {
            &[
                Kind::Recv,
                Kind::Send,
                Kind::RecvFrom,
                Kind::RecvFrom,
                Kind::SendTo,
                Kind::SendTo,
                Kind::Ioctl,
                Kind::RecvMsg,
                Kind::SendMsg,
                // Connection-oriented extensions on datagram sockets must fail cleanly.
                Kind::ConnectEx,
                Kind::AcceptEx,
            ]
        };
        let kind = self.rng.pick(kinds);
        let want: &[St] = match kind {
            Kind::AcceptEx if stream => &[St::Listening],
            Kind::AcceptEx => &[St::Bound],
            Kind::ConnectEx => &[St::Fresh, St::Bound],
            Kind::Ioctl => &[
                St::Fresh,
                St::Bound,
                St::Connected,
                St::Listening,
                St::Other,
            ],
            _ if stream => &[St::Connected, St::Other],
            _ => &[St::Bound, St::Other],
        };
        let i = match self.pick(want) {
            Some(i) => i,
            None => {
                if kind == Kind::AcceptEx {
                    self.listener();
                } else {
                    self.pair();
                }
                return;
            }
        };
        self.issue(kind, i, None);
    }

    /// Starts request `kind` on socket record `i` (or, with `value`, on that raw value, which
    /// must not be a socket: then the call must fail at once with `WSAENOTSOCK`).
    fn issue(&mut self, kind: Kind, i: usize, value: Option<SOCKET>) {
        let sh = self.sh();
        let (s, id, assoc) = match value {
            Some(v) => (v, 0, false),
            None => (self.socks[i].s, self.socks[i].id, self.socks[i].assoc),
        };
        let needs_ext = !matches!(
            kind,
            Kind::Recv | Kind::Send | Kind::RecvFrom | Kind::SendTo | Kind::Ioctl
        );
        let ext = if !needs_ext {
            None
        } else {
            let probe = match value {
                Some(_) => self.socks.first().map(|k| k.s),
                None => Some(s),
            };
            match probe.and_then(|p| self.ext_fns(p)) {
                Some(e) => Some(e),
                None => return,
            }
        };
        // AcceptEx needs a fresh socket to accept into; ConnectEx a bound one.
        let mut target: Option<SOCKET> = None;
        if value.is_none() {
            match kind {
                Kind::AcceptEx => {
                    let a = match self.create() {
                        Some(a) => a,
                        None => return,
                    };
                    self.socks[a].st = St::Other;
                    target = Some(self.socks[a].s);
                }
                Kind::ConnectEx if self.socks[i].st == St::Fresh && !self.bind(i) => return,
                _ => {}
            }
        }
        let peer = match value {
            Some(_) => None,
            None => self.socks[i].peer.clone(),
        };
        let listen_addr = if kind == Kind::ConnectEx && (value.is_some() || !sh.cfg.stream()) {
            Some(peer.clone().unwrap_or_else(|| bytes_of(&sh.fresh_addr())))
        } else if kind == Kind::ConnectEx {
            match self
                .pick(&[St::Listening])
                .and_then(|l| self.socks[l].addr.clone())
            {
                Some(a) => Some(a),
                None => {
                    self.listener();
                    return;
                }
            }
        } else {
            None
        };
        let route = self.route(assoc, kind.takes_routine());
        let len = self.rng.pick(&[0usize, 1, 64, 700, BUF / 2]);
        let two = self.rng.one_in(3);
        let recv_len = self.rng.pick(&[0u32, 16, 64]);
        let flags = self.rng.pick(&[0u32, 0, MSG_PEEK as u32, MSG_PARTIAL]);
        let code = self
            .rng
            .pick(&[FIONREAD as u32, SIOCATMARK as u32, 0x4800_0001u32]);
        let dflags = self.rng.pick(&[0u32, TF_REUSE_SOCKET, TF_DISCONNECT]);
        let call = format!(
            "{}({:#x}, {} bytes{}, route {:?})",
            kind.call_name(),
            s,
            len,
            if two { " in 2 buffers" } else { "" },
            route
        );
        let oi = self.prepare(s, id, route, call.clone());
        let op: &mut Op = &mut self.ops.recs[oi];
        let base = op.buf.as_mut_ptr();
        // SAFETY: both halves lie inside `buf` (len <= BUF / 2 each).
        op.bufs = [
            WSABUF {
                len: len as u32,
                buf: base,
            },
            WSABUF {
                len: len as u32,
                // SAFETY: the boxed record outlives the request (see above).
                buf: unsafe { base.add(BUF / 2) },
            },
        ];
        let nbufs = if two { 2u32 } else { 1 };
        let addr_src: Option<Vec<u8>> = match kind {
            Kind::SendTo | Kind::SendMsg => peer.clone().or_else(|| {
                Some(bytes_of(&SockAddr::Inet(
                    "127.0.0.1:9".parse().expect("address"),
                )))
            }),
            Kind::ConnectEx => listen_addr,
            _ => None,
        };
        if let Some(a) = &addr_src {
            let n = a.len().min(ADDR);
            op.addr[..n].copy_from_slice(&a[..n]);
            op.addr_len = n as i32;
        }
        op.msg = WSAMSG {
            name: op.addr.as_mut_ptr().cast(),
            namelen: op.addr_len,
            lpBuffers: op.bufs.as_mut_ptr(),
            dwBufferCount: nbufs,
            Control: WSABUF::default(),
            dwFlags: 0,
        };
        op.tfb = TRANSMIT_FILE_BUFFERS {
            Head: base.cast(),
            HeadLength: len as u32,
            Tail: core::ptr::null_mut(),
            TailLength: 0,
        };
        op.flags = flags;
        let ov: *mut OVERLAPPED = &mut op.ov;
        let bufs: *mut WSABUF = op.bufs.as_mut_ptr();
        let bytes: *mut u32 = &mut op.bytes;
        let fl: *mut u32 = &mut op.flags;
        let addr: *mut u8 = op.addr.as_mut_ptr();
        let addr_len: *mut i32 = &mut op.addr_len;
        let msg: *mut WSAMSG = &mut op.msg;
        let tfb: *const TRANSMIT_FILE_BUFFERS = &op.tfb;
        let routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE = if route == Route::Routine {
            Some(on_routine)
        } else {
            None
        };
        let thread = self.thread;
        let t = sh.spi.table;
        // SAFETY (every call below): the record is boxed and stays allocated until well after
        // its notification, so the OVERLAPPED, buffers, counters and addresses handed over
        // stay valid for the life of the request, as the SPI requires.
        let r: Result<(), WsaError> = match kind {
            Kind::Recv => t.lpWSPRecv.map_or(Ok(()), |f| {
                self.c
                    // SAFETY: the boxed record outlives the request (see above).
                    .int(call, false, |e| unsafe {
                        f(s, bufs, nbufs, bytes, fl, ov, routine, &thread, e)
                    })
                    .map(drop)
            }),
            Kind::Send => t.lpWSPSend.map_or(Ok(()), |f| {
                self.c
                    // SAFETY: the boxed record outlives the request (see above).
                    .int(call, false, |e| unsafe {
                        f(
                            s,
                            bufs,
                            nbufs,
                            bytes,
                            flags & !(MSG_PEEK as u32),
                            ov,
                            routine,
                            &thread,
                            e,
                        )
                    })
                    .map(drop)
            }),
            Kind::RecvFrom => t.lpWSPRecvFrom.map_or(Ok(()), |f| {
                self.c
                    // SAFETY: the boxed record outlives the request (see above).
                    .int(call, false, |e| unsafe {
                        f(
                            s,
                            bufs,
                            nbufs,
                            bytes,
                            fl,
                            addr.cast(),
                            addr_len,
                            ov,
                            routine,
                            &thread,
                            e,
                        )
                    })
                    .map(drop)
            }),
            Kind::SendTo => t.lpWSPSendTo.map_or(Ok(()), |f| {
                // SAFETY: the boxed record outlives the request (see above).
                let alen = unsafe { *addr_len };
                self.c
                    // SAFETY: the boxed record outlives the request (see above).
                    .int(call, false, |e| unsafe {
                        f(
                            s,
                            bufs,
                            nbufs,
                            bytes,
                            0,
                            addr.cast(),
                            alen,
                            ov,
                            routine,
                            &thread,
                            e,
                        )
                    })
                    .map(drop)
            }),
            Kind::Ioctl => t.lpWSPIoctl.map_or(Ok(()), |f| {
                self.c
                    // SAFETY: the boxed record outlives the request (see above).
                    .int(call, false, |e| unsafe {
                        f(
                            s,
                            code,
                            core::ptr::null(),
                            0,
                            addr.cast(),
                            ADDR as u32,
                            bytes,
                            ov,
                            routine,
                            &thread,
                            e,
                        )
                    })
                    .map(drop)
            }),
            Kind::AcceptEx => {
                let f = ext.map(|e| e.accept_ex);
                let a = value.unwrap_or_else(|| target.unwrap_or(INVALID_SOCKET));
                match f {
                    // SAFETY: the boxed record outlives the request (see above).
                    Some(f) => self.c.ext(call, || unsafe {
                        f(
                            s,
                            a,
                            base.cast(),
                            recv_len.min((BUF as u32) - 2 * ACCEPT_ADDR),
                            ACCEPT_ADDR,
                            ACCEPT_ADDR,
                            bytes,
                            ov,
                        ) != 0
                    }),
                    None => Ok(()),
                }
            }
            Kind::ConnectEx => {
                // SAFETY: the boxed record outlives the request (see above).
                let alen = unsafe { *addr_len };
                match ext.map(|e| e.connect_ex) {
                    // SAFETY: the boxed record outlives the request (see above).
                    Some(f) => self.c.ext(call, || unsafe {
                        f(s, addr.cast(), alen, base.cast(), len as u32, bytes, ov) != 0
                    }),
                    None => Ok(()),
                }
            }
            Kind::DisconnectEx => match ext.map(|e| e.disconnect_ex) {
                // SAFETY: the boxed record outlives the request (see above).
                Some(f) => self.c.ext(call, || unsafe {
                    f(s, ov, dflags & !TF_DISCONNECT, 0) != 0
                }),
                None => Ok(()),
            },
            Kind::TransmitFile => match ext.map(|e| e.transmit_file) {
                // SAFETY: the boxed record outlives the request (see above).
                Some(f) => self.c.ext(call, || unsafe {
                    f(s, core::ptr::null_mut(), 0, 0, ov, tfb, dflags) != 0
                }),
                None => Ok(()),
            },
            Kind::RecvMsg => match ext.map(|e| e.recv_msg) {
                Some(f) => self
                    .c
                    // SAFETY: the boxed record outlives the request (see above).
                    .ext(call, || unsafe { f(s, msg, bytes, ov, routine) == 0 }),
                None => Ok(()),
            },
            Kind::SendMsg => match ext.map(|e| e.send_msg) {
                Some(f) => self
                    .c
                    // SAFETY: the boxed record outlives the request (see above).
                    .ext(call, || unsafe { f(s, msg, 0, bytes, ov, routine) == 0 }),
                None => Ok(()),
            },
        };
        let failed = !matches!(r, Ok(()) | Err(WsaError::IO_PENDING));
        self.ops.started(oi, failed);
        if value.is_some() {
            self.c.expect(
                &format!("{:?} on a value that is not a socket", kind),
                &r,
                WsaError::NOTSOCK,
            );
        }
        // Feed an AcceptEx: connect to the listener.
        if kind == Kind::AcceptEx && value.is_none() && !failed && self.rng.one_in(2) {
            if let Some(to) = self.socks[i].addr.clone() {
                if let Some(c) = self.create() {
                    if self.connect(c, &to).is_ok() {
                        self.socks[c].st = St::Connected;
                        self.socks[c].peer = Some(to);
                    }
                }
            }
        }
    }

    /// Collects notifications: completion-routine calls (after an alertable wait), packets
    /// on the port, set events; checks that each request is notified exactly once.
    fn pump(&mut self) {
        let ws = &self.sh().ws;
        ws.sleep_ex(0, true);
        for (ov, _, _) in take_routine_calls() {
            self.notified(ov, "completion routine", None);
        }
        if let Some(port) = self.port {
            for _ in 0..64 {
                match ws.get_queued_completion_status(port, 0) {
                    Ok(Some(c)) => {
                        self.notified(c.overlapped as usize, "completion port", Some(c.key as u64))
                    }
                    _ => break,
                }
            }
        }
        let pending = self.ops.pending.clone();
        for i in pending {
            let ev = self.ops.recs[i].event;
            if ev != 0 && self.ops.recs[i].route != Route::Routine && signalled(ws, ev) {
                let _ = ws.reset_event(ev);
                let ov = &self.ops.recs[i].ov as *const OVERLAPPED as usize;
                self.notified(ov, "event", None);
            }
        }
        while let Some(i) = self.ops.overflow() {
            self.recheck(i);
            self.ops.release(i);
        }
        if let Some(w) = self.window {
            for _ in 0..64 {
                match ws.get_message(w, Some(Duration::from_millis(0))) {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }
    }

    /// A finished record about to be reused: its event must not have been set again.
    fn recheck(&mut self, i: usize) {
        let ws = &self.sh().ws;
        let op = &self.ops.recs[i];
        if op.event != 0 && op.route != Route::Routine && signalled(ws, op.event) {
            let _ = ws.reset_event(op.event);
            let ov = &op.ov as *const OVERLAPPED as usize;
            self.notified(ov, "event (late)", None);
        }
    }

    fn notified(&mut self, ov: usize, via: &str, key: Option<u64>) {
        let i = match self.ops.by_ov.get(&ov) {
            Some(&i) => i,
            None => {
                self.c.violation(format!(
                    "notification through the {} for OVERLAPPED {:#x}, which no request of this \
                     thread uses",
                    via, ov
                ));
                return;
            }
        };
        let op = &mut self.ops.recs[i];
        op.notes += 1;
        let (state, call, sock_id, internal) =
            (op.state, op.call.clone(), op.sock_id, op.ov.Internal);
        match state {
            State::Pending => {
                if let Some(k) = key {
                    if k != sock_id {
                        self.c.violation(format!(
                            "{} was completed on the port with key {:#x}, another socket's: the \
                             completion named a handle released and reused",
                            call, k
                        ));
                    }
                }
                if via != "completion routine" && internal == UNTOUCHED {
                    self.c.violation(format!(
                        "{} was notified through the {} without WPUCompleteOverlappedRequest",
                        call, via
                    ));
                }
                self.ops.finish(i);
            }
            State::Failed => self.c.violation(format!(
                "{} failed at once, but was then notified through the {}",
                call, via
            )),
            State::Done => self.c.violation(format!(
                "{} was notified a second time (through the {})",
                call, via
            )),
            State::Free => self.c.violation(format!(
                "a notification through the {} reached a released request record",
                via
            )),
        }
    }

    /// The end: every request must be notified within the limit (all sockets are closed, so
    /// pending ones complete as aborted), then nothing more may arrive.
    fn finish(&mut self) {
        let ws = &self.sh().ws;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.ops.pending.is_empty() && Instant::now() < deadline {
            self.pump();
            ws.sleep_ex(5, true);
        }
        let left: Vec<usize> = self.ops.pending.clone();
        for i in left {
            let op = &self.ops.recs[i];
            self.c.violation(format!(
                "{} (started {} ms before the end) was never notified, though its socket is closed",
                op.call,
                op.issued.elapsed().as_millis()
            ));
        }
        ws.sleep_ex(20, true);
        self.pump();
        let grave: Vec<usize> = self.ops.grave.iter().copied().collect();
        for i in grave {
            self.recheck(i);
        }
        self.drain_recorded();
        // Requests never notified keep their memory (the provider may still write it).
        let stuck = self.ops.pending.len();
        for op in &self.ops.recs {
            if op.state != State::Pending {
                let _ = ws.close_event(op.event);
            }
        }
        if stuck > 0 {
            std::mem::forget(std::mem::take(&mut self.ops.recs));
        }
        if let Some(p) = self.port.take() {
            let _ = ws.close_completion_port(p);
        }
        let _ = ws.close_event(self.event);
        if let Some(w) = self.window.take() {
            let _ = ws.destroy_window(w);
        }
        for h in self.unrelated.drain(..) {
            ws.release_unrelated_handle(h);
        }
    }

    fn overlapped_result(&mut self) {
        let f = match self.sh().spi.table.lpWSPGetOverlappedResult {
            Some(f) => f,
            None => return,
        };
        let i = match self
            .ops
            .pending
            .first()
            .copied()
            .or_else(|| self.ops.grave.back().copied())
        {
            Some(i) => i,
            None => return,
        };
        let op = &self.ops.recs[i];
        let (s, ov, state) = (op.sock, &op.ov as *const OVERLAPPED, op.state);
        let mut bytes = 0u32;
        let mut flags = 0u32;
        let _ = self.c.boolean(
            format!(
                "WSPGetOverlappedResult({:#x}, {:?} request, no wait)",
                s, state
            ),
            // SAFETY: the OVERLAPPED of a request started on `s` (alive); no wait.
            |errno| unsafe { f(s, ov, &mut bytes, 0, &mut flags, errno) },
        );
    }

    // ---- adversarial arguments ----

    /// Null and short buffers on a live socket of this worker: `WSAEFAULT`, before any
    /// provider code runs.
    fn bad_buffers(&mut self) {
        let i = match self.any_sock() {
            Some(i) => i,
            None => {
                self.create();
                return;
            }
        };
        let s = self.socks[i].s;
        let st = self.socks[i].st;
        let sh = self.sh();
        let t = sh.spi.table;
        let info = sh.spi.info;
        let thread = self.thread;
        let null_mut = core::ptr::null_mut::<u8>();
        let mut buf = [0u8; ADDR];
        let mut len: i32 = ADDR as i32;
        let mut short: i32 = 1;
        let which = self.rng.below(16);
        let r: Option<Result<i32, WsaError>> = match which {
            0 => t.lpWSPGetSockName.map(|f| {
                // SAFETY: a null name with a valid length: the call must refuse it.
                self.c.int(
                    format!("WSPGetSockName({:#x}, null, {})", s, len),
                    false,
                    |e| unsafe { f(s, null_mut.cast(), &mut len, e) },
                )
            }),
            1 => t.lpWSPGetSockName.map(|f| {
                // SAFETY: a valid buffer with a 1-byte length.
                self.c.int(
                    format!("WSPGetSockName({:#x}, len 1)", s),
                    false,
                    |e| unsafe { f(s, buf.as_mut_ptr().cast(), &mut short, e) },
                )
            }),
            2 => t.lpWSPGetPeerName.map(|f| {
                // SAFETY: a null name with a valid length.
                self.c.int(
                    format!("WSPGetPeerName({:#x}, null, {})", s, len),
                    false,
                    |e| unsafe { f(s, null_mut.cast(), &mut len, e) },
                )
            }),
            3 => t.lpWSPGetSockOpt.map(|f| {
                let mut four = 4i32;
                // SAFETY: a null value with a 4-byte length.
                self.c.int(
                    format!("WSPGetSockOpt({:#x}, SO_RCVBUF, null, 4)", s),
                    false,
                    |e| unsafe { f(s, SOL_SOCKET, SO_RCVBUF, null_mut, &mut four, e) },
                )
            }),
            4 => t.lpWSPGetSockOpt.map(|f| {
                // SAFETY: a valid buffer with a null length.
                self.c.int(
                    format!("WSPGetSockOpt({:#x}, SO_RCVBUF, len null)", s),
                    false,
                    |e| unsafe {
                        f(
                            s,
                            SOL_SOCKET,
                            SO_RCVBUF,
                            buf.as_mut_ptr(),
                            core::ptr::null_mut(),
                            e,
                        )
                    },
                )
            }),
            5 => t.lpWSPSetSockOpt.map(|f| {
                // SAFETY: a null value with a 4-byte length.
                self.c.int(
                    format!("WSPSetSockOpt({:#x}, SO_RCVBUF, null, 4)", s),
                    false,
                    |e| unsafe { f(s, SOL_SOCKET, SO_RCVBUF, core::ptr::null(), 4, e) },
                )
            }),
            6 => t.lpWSPBind.map(|f| {
                // SAFETY: a null address with a 16-byte length.
                self.c
                    .int(format!("WSPBind({:#x}, null, 16)", s), false, |e| unsafe {
                        f(s, core::ptr::null(), 16, e)
                    })
            }),
            7 => t.lpWSPConnect.map(|f| {
                // SAFETY: a null address with a 16-byte length.
                self.c.int(
                    format!("WSPConnect({:#x}, null, 16)", s),
                    false,
                    |e| unsafe {
                        f(
                            s,
                            core::ptr::null(),
                            16,
                            core::ptr::null(),
                            core::ptr::null_mut(),
                            core::ptr::null(),
                            core::ptr::null(),
                            e,
                        )
                    },
                )
            }),
            8 => t.lpWSPSend.map(|f| {
                let mut n = 0u32;
                // SAFETY: a null buffer array with a count of 1.
                self.c.int(
                    format!("WSPSend({:#x}, null buffers, 1)", s),
                    false,
                    |e| unsafe {
                        f(
                            s,
                            core::ptr::null(),
                            1,
                            &mut n,
                            0,
                            core::ptr::null_mut(),
                            None,
                            &thread,
                            e,
                        )
                    },
                )
            }),
            9 => t.lpWSPRecv.map(|f| {
                let (mut n, mut fl) = (0u32, 0u32);
                // SAFETY: a null buffer array with a count of 1.
                self.c.int(
                    format!("WSPRecv({:#x}, null buffers, 1)", s),
                    false,
                    |e| unsafe {
                        f(
                            s,
                            core::ptr::null(),
                            1,
                            &mut n,
                            &mut fl,
                            core::ptr::null_mut(),
                            None,
                            &thread,
                            e,
                        )
                    },
                )
            }),
            10 => t.lpWSPIoctl.map(|f| {
                let mut ret = 0u32;
                // SAFETY: FIONREAD with a null output buffer of 4 bytes.
                self.c.int(
                    format!("WSPIoctl({:#x}, FIONREAD, out null)", s),
                    false,
                    |e| unsafe {
                        f(
                            s,
                            FIONREAD as u32,
                            core::ptr::null(),
                            0,
                            core::ptr::null_mut(),
                            4,
                            &mut ret,
                            core::ptr::null_mut(),
                            None,
                            &thread,
                            e,
                        )
                    },
                )
            }),
            11 => t.lpWSPEnumNetworkEvents.map(|f| {
                // SAFETY: a null result structure.
                self.c.int(
                    format!("WSPEnumNetworkEvents({:#x}, 0, null)", s),
                    false,
                    |e| unsafe { f(s, core::ptr::null_mut(), core::ptr::null_mut(), e) },
                )
            }),
            12 => t.lpWSPAddressToString.map(|f| {
                let mut out = [0u16; 64];
                let mut n = 64u32;
                // SAFETY: a null address with a 16-byte length.
                self.c.int(
                    "WSPAddressToString(null, 16)".to_owned(),
                    false,
                    |e| unsafe { f(core::ptr::null(), 16, &info, out.as_mut_ptr(), &mut n, e) },
                )
            }),
            13 => t.lpWSPStringToAddress.map(|f| {
                let text: Vec<u16> = "127.0.0.1:80\0".encode_utf16().collect();
                let mut n = ADDR as i32;
                // SAFETY: a valid string and a null output address.
                self.c.int(
                    "WSPStringToAddress(\"127.0.0.1:80\", out null)".to_owned(),
                    false,
                    |e| unsafe {
                        f(
                            text.as_ptr(),
                            sh.cfg.af,
                            &info,
                            core::ptr::null_mut(),
                            &mut n,
                            e,
                        )
                    },
                )
            }),
            14 => t.lpWSPDuplicateSocket.map(|f| {
                // SAFETY: a null WSAPROTOCOL_INFOW.
                self.c.int(
                    format!("WSPDuplicateSocket({:#x}, null)", s),
                    false,
                    |e| unsafe { f(s, std::process::id(), core::ptr::null_mut(), e) },
                )
            }),
            _ => {
                if st != St::Listening {
                    return;
                }
                t.lpWSPAccept.map(|f| {
                    let _g = sh.gate.read().unwrap_or_else(|e| e.into_inner());
                    // SAFETY: a valid address buffer with a 1-byte length.
                    self.c
                        .socket(format!("WSPAccept({:#x}, addrlen 1)", s), |e| unsafe {
                            f(s, buf.as_mut_ptr().cast(), &mut short, None, 0, e)
                        })
                        .map(|s| s as i32)
                })
            }
        };
        if let Some(r) = r {
            // A socket whose `attached` panicked fails every call with WSAENETDOWN first.
            let socket_call = !matches!(which, 12 | 13);
            if r == Err(WsaError::NETDOWN) && sh.cfg.panicky && socket_call && self.unusable(s) {
                return;
            }
            self.c.expect("a null or short buffer", &r, WsaError::FAULT);
        }
    }

    /// Whether the runtime refuses `s` as a whole: `SO_TYPE`, which the runtime answers
    /// without provider code, fails with `WSAENETDOWN`.
    fn unusable(&self, s: SOCKET) -> bool {
        let f = match self.sh().spi.table.lpWSPGetSockOpt {
            Some(f) => f,
            None => return false,
        };
        let mut v = [0u8; 4];
        let mut len = 4i32;
        let r = self.c.int(
            format!("WSPGetSockOpt({:#x}, SO_TYPE) [usable?]", s),
            false,
            // SAFETY: a writable 4-byte value.
            |e| unsafe { f(s, SOL_SOCKET, SO_TYPE, v.as_mut_ptr(), &mut len, e) },
        );
        r == Err(WsaError::NETDOWN)
    }

    /// A value that is not a socket: every call on it fails with `WSAENOTSOCK`. Calls that
    /// could create a socket are held off meanwhile, so the value cannot become one.
    fn not_a_socket(&mut self) {
        let sh = self.sh();
        let pick = self.rng.below(6);
        let v: SOCKET = match pick {
            0 | 1 if !self.unrelated.is_empty() => self.rng.pick(&self.unrelated),
            0..=2 if !self.dead.is_empty() => {
                let d: Vec<SOCKET> = self.dead.iter().copied().collect();
                self.rng.pick(&d)
            }
            3 => self
                .rng
                .pick(&[0, 1, 2, 3, INVALID_SOCKET - 3, 0x7FFF_FFFC]),
            4 => 4 * (1 + self.rng.below(256)) as SOCKET,
            _ => 0x1_0000 + 4 * self.rng.below(4096) as SOCKET,
        };
        let _g = sh.gate.write().unwrap_or_else(|e| e.into_inner());
        if self.c.live(v) {
            return;
        }
        let which = self.rng.below(26);
        if which >= 20 {
            let kind = [
                Kind::Recv,
                Kind::Send,
                Kind::Ioctl,
                Kind::AcceptEx,
                Kind::ConnectEx,
                Kind::DisconnectEx,
                Kind::TransmitFile,
                Kind::RecvMsg,
                Kind::SendMsg,
                Kind::RecvFrom,
            ][self.rng.below(10)];
            return self.issue(kind, 0, Some(v));
        }
        let t = sh.spi.table;
        let thread = self.thread;
        let mut buf = [0u8; BUF];
        let mut len = ADDR as i32;
        let addr = bytes_of(&sh.fresh_addr());
        let wb = WSABUF {
            len: 64,
            buf: buf.as_mut_ptr(),
        };
        let (mut n, mut fl) = (0u32, 0u32);
        let null_ov = core::ptr::null_mut::<OVERLAPPED>();
        let d = format!("{:#x}", v);
        let r: Option<Result<i32, WsaError>> = match which {
            0 => t.lpWSPAccept.map(|f| {
                // SAFETY: valid address buffer and length.
                self.c
                    .socket(format!("WSPAccept({})", d), |e| unsafe {
                        f(v, buf.as_mut_ptr().cast(), &mut len, None, 0, e)
                    })
                    .map(|s| s as i32)
            }),
            1 => t.lpWSPBind.map(|f| {
                // SAFETY: a whole address.
                self.c.int(format!("WSPBind({})", d), false, |e| unsafe {
                    f(v, addr.as_ptr().cast(), addr.len() as i32, e)
                })
            }),
            2 => t.lpWSPCloseSocket.map(|f| {
                // SAFETY: plain arguments.
                self.c
                    .int(format!("WSPCloseSocket({})", d), false, |e| unsafe {
                        f(v, e)
                    })
            }),
            3 => t.lpWSPConnect.map(|f| {
                // SAFETY: a whole address.
                self.c.int(format!("WSPConnect({})", d), false, |e| unsafe {
                    f(
                        v,
                        addr.as_ptr().cast(),
                        addr.len() as i32,
                        core::ptr::null(),
                        core::ptr::null_mut(),
                        core::ptr::null(),
                        core::ptr::null(),
                        e,
                    )
                })
            }),
            4 => t.lpWSPDuplicateSocket.map(|f| {
                let mut info = WSAPROTOCOL_INFOW::default();
                // SAFETY: a writable structure.
                self.c
                    .int(format!("WSPDuplicateSocket({})", d), false, |e| unsafe {
                        f(v, std::process::id(), &mut info, e)
                    })
            }),
            5 => t.lpWSPEnumNetworkEvents.map(|f| {
                let mut ne = WSANETWORKEVENTS::default();
                // SAFETY: a writable structure.
                self.c
                    .int(format!("WSPEnumNetworkEvents({})", d), false, |e| unsafe {
                        f(v, core::ptr::null_mut(), &mut ne, e)
                    })
            }),
            6 => t.lpWSPEventSelect.map(|f| {
                let ev = self.event;
                // SAFETY: plain arguments.
                self.c
                    .int(format!("WSPEventSelect({})", d), false, |e| unsafe {
                        f(v, ev, (FD_READ | FD_CLOSE) as i32, e)
                    })
            }),
            7 => t.lpWSPAsyncSelect.map(|f| {
                let hwnd = self.window.map_or(core::ptr::null_mut(), |w| w.hwnd());
                // SAFETY: plain arguments.
                self.c
                    .int(format!("WSPAsyncSelect({})", d), false, |e| unsafe {
                        f(v, hwnd, 0x401, FD_READ as i32, e)
                    })
            }),
            8 => t.lpWSPGetPeerName.map(|f| {
                // SAFETY: a writable buffer of `len` bytes.
                self.c
                    .int(format!("WSPGetPeerName({})", d), false, |e| unsafe {
                        f(v, buf.as_mut_ptr().cast(), &mut len, e)
                    })
            }),
            9 => t.lpWSPGetSockName.map(|f| {
                // SAFETY: a writable buffer of `len` bytes.
                self.c
                    .int(format!("WSPGetSockName({})", d), false, |e| unsafe {
                        f(v, buf.as_mut_ptr().cast(), &mut len, e)
                    })
            }),
            10 => t.lpWSPGetSockOpt.map(|f| {
                let mut four = 4i32;
                // SAFETY: a writable 4-byte value.
                self.c.int(
                    format!("WSPGetSockOpt({}, SO_RCVBUF)", d),
                    false,
                    |e| unsafe { f(v, SOL_SOCKET, SO_RCVBUF, buf.as_mut_ptr(), &mut four, e) },
                )
            }),
            11 => t.lpWSPSetSockOpt.map(|f| {
                // SAFETY: a readable 4-byte value.
                self.c.int(
                    format!("WSPSetSockOpt({}, SO_RCVBUF)", d),
                    false,
                    |e| unsafe { f(v, SOL_SOCKET, SO_RCVBUF, buf.as_ptr(), 4, e) },
                )
            }),
            12 => t.lpWSPListen.map(|f| {
                // SAFETY: plain arguments.
                self.c
                    .int(format!("WSPListen({}, 5)", d), false, |e| unsafe {
                        f(v, 5, e)
                    })
            }),
            13 => t.lpWSPRecv.map(|f| {
                // SAFETY: a valid buffer; no OVERLAPPED.
                self.c.int(format!("WSPRecv({})", d), false, |e| unsafe {
                    f(v, &wb, 1, &mut n, &mut fl, null_ov, None, &thread, e)
                })
            }),
            14 => t.lpWSPSend.map(|f| {
                // SAFETY: a valid buffer; no OVERLAPPED.
                self.c.int(format!("WSPSend({})", d), false, |e| unsafe {
                    f(v, &wb, 1, &mut n, 0, null_ov, None, &thread, e)
                })
            }),
            15 => t.lpWSPSendTo.map(|f| {
                // SAFETY: a valid buffer and address; no OVERLAPPED.
                self.c.int(format!("WSPSendTo({})", d), false, |e| unsafe {
                    f(
                        v,
                        &wb,
                        1,
                        &mut n,
                        0,
                        addr.as_ptr().cast(),
                        addr.len() as i32,
                        null_ov,
                        None,
                        &thread,
                        e,
                    )
                })
            }),
            16 => t.lpWSPShutdown.map(|f| {
                // SAFETY: plain arguments.
                self.c
                    .int(format!("WSPShutdown({}, SD_BOTH)", d), false, |e| unsafe {
                        f(v, SD_BOTH, e)
                    })
            }),
            17 => t.lpWSPSendDisconnect.map(|f| {
                // SAFETY: no disconnect data.
                self.c
                    .int(format!("WSPSendDisconnect({})", d), false, |e| unsafe {
                        f(v, core::ptr::null(), e)
                    })
            }),
            18 => t.lpWSPRecvDisconnect.map(|f| {
                // SAFETY: no disconnect data.
                self.c
                    .int(format!("WSPRecvDisconnect({})", d), false, |e| unsafe {
                        f(v, core::ptr::null(), e)
                    })
            }),
            _ => t.lpWSPSelect.map(|f| {
                let mut set = FD_SET {
                    fd_count: 1,
                    ..FD_SET::default()
                };
                set.fd_array[0] = v;
                let tv = TIMEVAL::default();
                // SAFETY: a valid set and a zero time-out.
                self.c
                    .int(format!("WSPSelect(read [{}], 0)", d), true, |e| unsafe {
                        f(
                            0,
                            &mut set,
                            core::ptr::null_mut(),
                            core::ptr::null_mut(),
                            &tv,
                            e,
                        )
                    })
            }),
        };
        if let Some(r) = r {
            self.c.expect(
                "a call on a value that is not a socket",
                &r,
                WsaError::NOTSOCK,
            );
        }
    }

    fn double_close(&mut self) {
        let i = match self.any_sock() {
            Some(i) => i,
            None => return,
        };
        let s = self.socks[i].s;
        self.close_at(i);
        let sh = self.sh();
        let f = match sh.spi.table.lpWSPCloseSocket {
            Some(f) => f,
            None => return,
        };
        let _g = sh.gate.write().unwrap_or_else(|e| e.into_inner());
        if self.c.live(s) {
            return;
        }
        // SAFETY: plain arguments.
        let r = self.c.int(
            format!("WSPCloseSocket({:#x}) again", s),
            false,
            |e| unsafe { f(s, e) },
        );
        self.c
            .expect("closing a closed socket", &r, WsaError::NOTSOCK);
    }

    // ---- notification models ----

    fn select(&mut self) {
        let f = match self.sh().spi.table.lpWSPSelect {
            Some(f) => f,
            None => return,
        };
        let mut sets = [FD_SET::default(), FD_SET::default(), FD_SET::default()];
        let mut given: [Vec<SOCKET>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for k in 0..3 {
            if self.rng.one_in(3) {
                continue;
            }
            for sock in &self.socks {
                if self.rng.one_in(2) && given[k].len() < 60 {
                    given[k].push(sock.s);
                }
            }
            // A handle listed twice.
            if !given[k].is_empty() && self.rng.one_in(3) {
                let again = given[k][0];
                given[k].push(again);
            }
            sets[k].fd_count = given[k].len() as u32;
            sets[k].fd_array[..given[k].len()].copy_from_slice(&given[k]);
        }
        let empty = given.iter().all(|g| g.is_empty());
        let ptrs: Vec<*mut FD_SET> = (0..3)
            .map(|k| {
                if given[k].is_empty() && !(empty && self.rng.one_in(2)) {
                    core::ptr::null_mut()
                } else {
                    &mut sets[k] as *mut FD_SET
                }
            })
            .collect();
        let tv = TIMEVAL::default();
        let call = format!(
            "WSPSelect(read {:x?}, write {:x?}, except {:x?}, 0)",
            given[0], given[1], given[2]
        );
        // SAFETY: each non-null set is a valid FD_SET; the time-out is readable.
        let r = self.c.int(call, true, |e| unsafe {
            f(0, ptrs[0], ptrs[1], ptrs[2], &tv, e)
        });
        match r {
            Ok(n) => {
                let mut total = 0usize;
                for k in 0..3 {
                    if ptrs[k].is_null() {
                        continue;
                    }
                    let count = sets[k].fd_count as usize;
                    if count > given[k].len() {
                        self.c.violation(format!(
                            "left {} sockets in a set that held {}",
                            count,
                            given[k].len()
                        ));
                        return;
                    }
                    for s in &sets[k].fd_array[..count] {
                        if !given[k].contains(s) {
                            self.c.violation(format!(
                                "returned {:#x}, which that set did not hold",
                                s
                            ));
                        }
                    }
                    total += count;
                }
                if n as usize != total {
                    self.c.violation(format!(
                        "returned {} while its sets hold {} sockets",
                        n, total
                    ));
                }
            }
            Err(e) => {
                if empty {
                    self.c.expect(
                        "select with no socket in any set",
                        &Err::<(), _>(e),
                        WsaError::INVAL,
                    );
                }
            }
        }
    }

    fn event_select(&mut self) {
        let i = match self.any_sock() {
            Some(i) => i,
            None => return,
        };
        let s = self.socks[i].s;
        let t = self.sh().spi.table;
        let mask = self.rng.pick(&[
            0u32,
            FD_READ,
            FD_READ | FD_CLOSE,
            0x3FF,
            FD_ACCEPT | FD_CONNECT | FD_WRITE,
        ]) as i32;
        match self.rng.below(4) {
            0 => {
                if let Some(f) = t.lpWSPEventSelect {
                    let ev = if self.rng.one_in(8) {
                        0x7777_7770
                    } else {
                        self.event
                    };
                    // SAFETY: plain arguments (a bogus event must be refused, not used).
                    let _ = self.c.int(
                        format!("WSPEventSelect({:#x}, {:#x}, {:#x})", s, ev, mask),
                        false,
                        |e| unsafe { f(s, ev, mask, e) },
                    );
                }
            }
            1 | 2 => {
                if let Some(f) = t.lpWSPEnumNetworkEvents {
                    let mut ne = WSANETWORKEVENTS::default();
                    let ev = if self.rng.one_in(2) { self.event } else { 0 };
                    // SAFETY: a writable result structure.
                    let r = self.c.int(
                        format!("WSPEnumNetworkEvents({:#x}, {:#x})", s, ev),
                        false,
                        |e| unsafe { f(s, ev as HANDLE, &mut ne, e) },
                    );
                    if r.is_ok() && ne.lNetworkEvents as u32 & !0x3FF != 0 {
                        self.c.violation(format!(
                            "reported unknown network events {:#x}",
                            ne.lNetworkEvents
                        ));
                    }
                }
            }
            _ => {
                if let (Some(f), Some(w)) = (t.lpWSPAsyncSelect, self.window) {
                    let hwnd = if self.rng.one_in(8) {
                        0x5550 as HWND
                    } else {
                        w.hwnd()
                    };
                    // SAFETY: plain arguments.
                    let _ = self.c.int(
                        format!("WSPAsyncSelect({:#x}, {:p}, {:#x})", s, hwnd, mask),
                        false,
                        |e| unsafe { f(s, hwnd, 0x401, mask, e) },
                    );
                }
            }
        }
    }

    // ---- options and ioctls ----

    fn options(&mut self) {
        let i = match self.any_sock() {
            Some(i) => i,
            None => return,
        };
        let s = self.socks[i].s;
        let t = self.sh().spi.table;
        let (level, name) = self.rng.pick(&[
            (SOL_SOCKET, SO_RCVBUF),
            (SOL_SOCKET, SO_SNDBUF),
            (SOL_SOCKET, SO_REUSEADDR),
            (SOL_SOCKET, SO_KEEPALIVE),
            (SOL_SOCKET, SO_LINGER),
            (SOL_SOCKET, SO_DONTLINGER),
            (SOL_SOCKET, SO_ERROR),
            (SOL_SOCKET, SO_TYPE),
            (SOL_SOCKET, SO_ACCEPTCONN),
            (SOL_SOCKET, SO_BROADCAST),
            (SOL_SOCKET, SO_PROTOCOL_INFOW),
            (SOL_SOCKET, 0x7010),
            (6, 1),
            (0x1234, 0x5678),
            (SOL_SOCKET, -1),
        ]);
        let mut buf = [0u8; 700];
        let len = self.rng.pick(&[0i32, 1, 2, 4, 8, 700]);
        if self.rng.one_in(4) {
            if let Some(f) = t.lpWSPGetPeerName {
                let mut l = len.max(1);
                let cap = l;
                // SAFETY: a writable buffer of `l` bytes.
                let r = self.c.int(
                    format!("WSPGetPeerName({:#x}, len {})", s, l),
                    false,
                    |e| unsafe { f(s, buf.as_mut_ptr().cast(), &mut l, e) },
                );
                if r.is_ok() && (l <= 0 || l > cap) {
                    self.c.violation(format!(
                        "reported an address of {} bytes in room for {}",
                        l, cap
                    ));
                }
            }
        } else if self.rng.one_in(2) {
            if let Some(f) = t.lpWSPGetSockOpt {
                let mut l = len;
                // SAFETY: a writable buffer of `len` bytes.
                let r = self.c.int(
                    format!("WSPGetSockOpt({:#x}, {}, {}, len {})", s, level, name, len),
                    false,
                    |e| unsafe { f(s, level, name, buf.as_mut_ptr(), &mut l, e) },
                );
                if r.is_ok() && (l < 0 || l > len) {
                    self.c
                        .violation(format!("reported length {} for a {}-byte buffer", l, len));
                }
            }
        } else if let Some(f) = t.lpWSPSetSockOpt {
            let value = self.rng.pick(&[0i32, 1, -1, 4096, i32::MAX]);
            buf[..4].copy_from_slice(&value.to_ne_bytes());
            // SAFETY: a readable buffer of `len` bytes.
            let _ = self.c.int(
                format!(
                    "WSPSetSockOpt({:#x}, {}, {}, {}, len {})",
                    s, level, name, value, len
                ),
                false,
                |e| unsafe { f(s, level, name, buf.as_ptr(), len, e) },
            );
        }
    }

    fn ioctls(&mut self) {
        let i = match self.any_sock() {
            Some(i) => i,
            None => return,
        };
        let s = self.socks[i].s;
        let f = match self.sh().spi.table.lpWSPIoctl {
            Some(f) => f,
            None => return,
        };
        let thread = self.thread;
        match self.rng.below(5) {
            0 => {
                self.ioctl_u32(s, FIONBIO as u32, 1).ok();
            }
            1 => {
                let unknown = GUID::from_u128(self.rng.next_u64() as u128 | 1);
                let guid = self.rng.pick(&[
                    ext::WSAID_ACCEPTEX,
                    ext::WSAID_CONNECTEX,
                    ext::WSAID_DISCONNECTEX,
                    ext::WSAID_GETACCEPTEXSOCKADDRS,
                    ext::WSAID_TRANSMITFILE,
                    ext::WSAID_WSARECVMSG,
                    ext::WSAID_WSASENDMSG,
                    unknown,
                ]);
                self.ext_ptr(s, guid);
            }
            _ => {
                let random = self.rng.next_u64() as u32;
                let code = self.rng.pick(&[
                    FIONREAD as u32,
                    SIOCATMARK as u32,
                    SIO_GET_EXTENSION_FUNCTION_POINTER,
                    0x4800_0001,
                    0x8800_0002,
                    0xC800_0003,
                    random,
                ]);
                let mut input = [0u8; 64];
                let mut output = [0u8; 64];
                let in_len = self.rng.pick(&[0u32, 1, 4, 8, 16, 64]);
                let out_len = self.rng.pick(&[0u32, 1, 4, 8, 64]);
                let in_p: *const c_void = if in_len == 0 && self.rng.one_in(2) {
                    core::ptr::null()
                } else {
                    input.as_mut_ptr().cast()
                };
                let mut ret = 0u32;
                // SAFETY: buffers valid for the lengths given (or null with 0).
                let r = self.c.int(
                    format!(
                        "WSPIoctl({:#x}, {:#x}, in {}, out {})",
                        s, code, in_len, out_len
                    ),
                    false,
                    |e| unsafe {
                        f(
                            s,
                            code,
                            in_p,
                            in_len,
                            output.as_mut_ptr().cast(),
                            out_len,
                            &mut ret,
                            core::ptr::null_mut(),
                            None,
                            &thread,
                            e,
                        )
                    },
                );
                if r.is_ok() && ret > out_len {
                    self.c.violation(format!(
                        "reported {} bytes for a {}-byte output",
                        ret, out_len
                    ));
                }
            }
        }
    }

    fn shutdowns(&mut self) {
        let i = match self.any_sock() {
            Some(i) => i,
            None => return,
        };
        let s = self.socks[i].s;
        let t = self.sh().spi.table;
        match self.rng.below(4) {
            0 | 1 => {
                if let Some(f) = t.lpWSPShutdown {
                    let how = self.rng.pick(&[SD_RECEIVE, SD_SEND, SD_BOTH, 7]);
                    // SAFETY: plain arguments.
                    let _ = self.c.int(
                        format!("WSPShutdown({:#x}, {})", s, how),
                        false,
                        |e| unsafe { f(s, how, e) },
                    );
                }
            }
            2 => {
                if let Some(f) = t.lpWSPSendDisconnect {
                    // SAFETY: no disconnect data.
                    let _ = self
                        .c
                        .int(format!("WSPSendDisconnect({:#x})", s), false, |e| unsafe {
                            f(s, core::ptr::null(), e)
                        });
                }
            }
            _ => {
                if let Some(f) = t.lpWSPRecvDisconnect {
                    // SAFETY: no disconnect data.
                    let _ = self
                        .c
                        .int(format!("WSPRecvDisconnect({:#x})", s), false, |e| unsafe {
                            f(s, core::ptr::null(), e)
                        });
                }
            }
        }
    }

    fn duplicate(&mut self) {
        let i = match self.any_sock() {
            Some(i) => i,
            None => return,
        };
        if self.socks.len() >= MAX_SOCKETS {
            return;
        }
        let s = self.socks[i].s;
        self.socks[i].shared = true;
        let sh = self.sh();
        let f = match sh.spi.table.lpWSPDuplicateSocket {
            Some(f) => f,
            None => return,
        };
        let mut info = WSAPROTOCOL_INFOW::default();
        let pid = if self.rng.one_in(4) {
            0xFFFF_FFF0
        } else {
            std::process::id()
        };
        // SAFETY: a writable structure.
        let r = self.c.int(
            format!("WSPDuplicateSocket({:#x}, pid {})", s, pid),
            false,
            |e| unsafe { f(s, pid, &mut info, e) },
        );
        if r.is_err() || pid != std::process::id() || self.rng.one_in(4) {
            return;
        }
        let ws = &sh.ws;
        let new = {
            let _g = sh.gate.read().unwrap_or_else(|e| e.into_inner());
            self.c
                .standin("WSASocket(FROM_PROTOCOL_INFO)".to_owned(), || {
                    ws.socket_from_info(&info)
                })
        };
        if let Some(Ok(new)) = new {
            let k = self.adopt(new, St::Other);
            self.socks[k].shared = true;
        }
    }

    fn strings(&mut self) {
        let sh = self.sh();
        let t = sh.spi.table;
        let info = sh.spi.info;
        if self.rng.one_in(2) {
            let f = match t.lpWSPAddressToString {
                Some(f) => f,
                None => return,
            };
            let addr = match self.socks.iter().find_map(|k| k.addr.clone()) {
                Some(a) if !self.rng.one_in(4) => a,
                _ => {
                    let n = self.rng.below(40);
                    (0..n).map(|_| self.rng.next_u64() as u8).collect()
                }
            };
            let mut out = [0u16; 128];
            let mut n = self.rng.pick(&[0u32, 1, 8, 128]);
            let cap = n;
            // SAFETY: the address buffer holds `addr.len()` bytes (maybe none: then null), the
            // output buffer `n` UTF-16 units.
            let r = self.c.int(
                format!("WSPAddressToString({} bytes, room {})", addr.len(), n),
                false,
                |e| unsafe {
                    f(
                        if addr.is_empty() {
                            core::ptr::null()
                        } else {
                            addr.as_ptr().cast()
                        },
                        addr.len() as u32,
                        &info,
                        out.as_mut_ptr(),
                        &mut n,
                        e,
                    )
                },
            );
            if r.is_ok() && n > cap {
                self.c.violation(format!(
                    "reported {} characters written into room for {}",
                    n, cap
                ));
            }
        } else {
            let f = match t.lpWSPStringToAddress {
                Some(f) => f,
                None => return,
            };
            let text = self.rng.pick(&[
                "127.0.0.1:80",
                "127.0.0.1",
                "",
                "garbage",
                "999.1.1.1",
                "[::1]:80",
                "1.2.3.4.5",
                "wsp-chaos-name",
            ]);
            let wide: Vec<u16> = text.encode_utf16().chain(Some(0)).collect();
            let mut out = [0u8; ADDR];
            let mut n = self.rng.pick(&[0i32, 2, 16, ADDR as i32]);
            let cap = n;
            let af = self.rng.pick(&[sh.cfg.af, 0, 23, 99]);
            // SAFETY: a NUL-terminated string; an output buffer of `n` bytes.
            let r = self.c.int(
                format!("WSPStringToAddress({:?}, af {}, room {})", text, af, n),
                false,
                |e| unsafe { f(wide.as_ptr(), af, &info, out.as_mut_ptr().cast(), &mut n, e) },
            );
            if r.is_ok() && (n > cap || n < 0) {
                self.c.violation(format!(
                    "reported an address of {} bytes in room for {}",
                    n, cap
                ));
            }
        }
    }

    fn odd_entries(&mut self) {
        let sh = self.sh();
        let t = sh.spi.table;
        match self.rng.below(3) {
            0 => {
                let i = match self.any_sock() {
                    Some(i) => i,
                    None => return,
                };
                let s = self.socks[i].s;
                if let Some(f) = t.lpWSPGetQOSByName {
                    let mut name = *b"G711\0";
                    let wb = WSABUF {
                        len: if self.rng.one_in(2) { 5 } else { 0 },
                        buf: name.as_mut_ptr(),
                    };
                    let mut qos = QOS::default();
                    // SAFETY: a valid name buffer and a writable QOS.
                    let _ = self
                        .c
                        .boolean(format!("WSPGetQOSByName({:#x})", s), |e| unsafe {
                            f(s, &wb, &mut qos, e)
                        });
                }
            }
            1 => {
                let i = match self.any_sock() {
                    Some(i) => i,
                    None => return,
                };
                let s = self.socks[i].s;
                if let Some(f) = t.lpWSPJoinLeaf {
                    let a = bytes_of(&sh.fresh_addr());
                    let r = {
                        let _g = sh.gate.read().unwrap_or_else(|e| e.into_inner());
                        // SAFETY: a whole address; no data or QOS.
                        self.c.socket(format!("WSPJoinLeaf({:#x})", s), |e| unsafe {
                            f(
                                s,
                                a.as_ptr().cast(),
                                a.len() as i32,
                                core::ptr::null(),
                                core::ptr::null_mut(),
                                core::ptr::null(),
                                core::ptr::null(),
                                3,
                                e,
                            )
                        })
                    };
                    if let Ok(new) = r {
                        if new != s && self.c.live(new) && self.socks.len() < MAX_SOCKETS {
                            self.adopt(new, St::Other);
                        }
                    }
                }
            }
            _ => {
                if let Some(f) = t.lpWSPCancelBlockingCall {
                    // SAFETY: plain arguments.
                    let _ = self
                        .c
                        .int("WSPCancelBlockingCall()".to_owned(), false, |e| unsafe {
                            f(e)
                        });
                }
            }
        }
    }

    // ---- races ----

    /// A helper thread calls on one of this worker's sockets while this thread closes it.
    /// The helper takes the gate exclusively before the close starts: the close runs
    /// concurrently, but no socket can be created (and given the freed value) until the helper
    /// is done with the value.
    fn race_close(&mut self) {
        let i = match self.any_sock() {
            Some(i) => i,
            None => return,
        };
        let s = self.socks[i].s;
        let sh = self.sh();
        let delay = self.rng.below(300) as u64;
        let seed = self.rng.next_u64();
        let name = format!("race helper of worker {}", self.idx);
        let holding = std::sync::Barrier::new(2);
        let holding = &holding;
        std::thread::scope(|scope| {
            let helper =
                std::thread::Builder::new()
                    .name(name.clone())
                    .spawn_scoped(scope, move || {
                        let c = Caller::new(sh, sh.board.join(name));
                        let mut rng = Rng::new(seed);
                        let thread = sh.ws.current_thread_id();
                        let t = sh.spi.table;
                        // Held for every call, and taken before the close starts: once the
                        // close frees the value, no other worker can be handed it, so the
                        // value is this worker's (non-blocking) socket or no socket, never
                        // another's blocking one.
                        let _g = sh.gate.write().unwrap_or_else(|e| e.into_inner());
                        holding.wait();
                        for _ in 0..24 {
                            let mut buf = [0u8; 64];
                            let wb = WSABUF {
                                len: 64,
                                buf: buf.as_mut_ptr(),
                            };
                            let (mut n, mut fl) = (0u32, 0u32);
                            match rng.below(4) {
                                0 => {
                                    if let Some(f) = t.lpWSPRecv {
                                        // SAFETY: a valid buffer; no OVERLAPPED.
                                        let _ = c.int(
                                            format!("WSPRecv({:#x}) [racing close]", s),
                                            false,
                                            |e| unsafe {
                                                f(
                                                    s,
                                                    &wb,
                                                    1,
                                                    &mut n,
                                                    &mut fl,
                                                    core::ptr::null_mut(),
                                                    None,
                                                    &thread,
                                                    e,
                                                )
                                            },
                                        );
                                    }
                                }
                                1 => {
                                    if let Some(f) = t.lpWSPSend {
                                        // SAFETY: a valid buffer; no OVERLAPPED.
                                        let _ = c.int(
                                            format!("WSPSend({:#x}) [racing close]", s),
                                            false,
                                            |e| unsafe {
                                                f(
                                                    s,
                                                    &wb,
                                                    1,
                                                    &mut n,
                                                    0,
                                                    core::ptr::null_mut(),
                                                    None,
                                                    &thread,
                                                    e,
                                                )
                                            },
                                        );
                                    }
                                }
                                2 => {
                                    if let Some(f) = t.lpWSPGetSockName {
                                        let mut len = 64i32;
                                        // SAFETY: a writable buffer of `len` bytes.
                                        let _ = c.int(
                                            format!("WSPGetSockName({:#x}) [racing close]", s),
                                            false,
                                            |e| unsafe {
                                                f(s, buf.as_mut_ptr().cast(), &mut len, e)
                                            },
                                        );
                                    }
                                }
                                _ => {
                                    if let Some(f) = t.lpWSPGetSockOpt {
                                        let mut len = 4i32;
                                        // SAFETY: a writable 4-byte value.
                                        let _ = c.int(
                                            format!("WSPGetSockOpt({:#x}) [racing close]", s),
                                            false,
                                            |e| unsafe {
                                                f(
                                                    s,
                                                    SOL_SOCKET,
                                                    SO_RCVBUF,
                                                    buf.as_mut_ptr(),
                                                    &mut len,
                                                    e,
                                                )
                                            },
                                        );
                                    }
                                }
                            }
                        }
                    });
            if helper.is_ok() {
                holding.wait();
            }
            std::thread::sleep(Duration::from_micros(delay));
            self.close_at(i);
            if let Ok(h) = helper {
                let _ = h.join();
            }
        });
    }

    /// A helper thread blocks in `recv` on a blocking socket while this thread closes it: the
    /// close must wake it.
    fn race_blocking(&mut self) {
        let accept = self.rng.one_in(3);
        let want = if accept { St::Listening } else { St::Connected };
        let i = match self.pick(&[want]) {
            Some(i) if !self.socks[i].shared => i,
            _ => return,
        };
        let s = self.socks[i].s;
        if self.ioctl_u32(s, FIONBIO as u32, 0).is_err() {
            return;
        }
        let sh = self.sh();
        let name = format!("blocking helper of worker {}", self.idx);
        std::thread::scope(|scope| {
            let helper =
                std::thread::Builder::new()
                    .name(name.clone())
                    .spawn_scoped(scope, move || {
                        let c = Caller::new(sh, sh.board.join(name));
                        let thread = sh.ws.current_thread_id();
                        let t = sh.spi.table;
                        if accept {
                            if let Some(f) = t.lpWSPAccept {
                                let new = {
                                    let _g = sh.gate.read().unwrap_or_else(|e| e.into_inner());
                                    c.socket(
                                        format!("WSPAccept({:#x}) [blocking, racing close]", s),
                                        // SAFETY: no address buffer; a blocking call.
                                        |e| unsafe {
                                            f(
                                                s,
                                                core::ptr::null_mut(),
                                                core::ptr::null_mut(),
                                                None,
                                                0,
                                                e,
                                            )
                                        },
                                    )
                                };
                                if let Ok(new) = new {
                                    let ws = &sh.ws;
                                    c.standin(
                                        format!("closesocket({:#x}) [accepted]", new),
                                        || ws.closesocket(new),
                                    );
                                }
                            }
                        } else if let Some(f) = t.lpWSPRecv {
                            let mut buf = [0u8; 64];
                            let wb = WSABUF {
                                len: 64,
                                buf: buf.as_mut_ptr(),
                            };
                            let (mut n, mut fl) = (0u32, 0u32);
                            let _ = c.int(
                                format!("WSPRecv({:#x}) [blocking, racing close]", s),
                                false,
                                // SAFETY: a valid buffer; a blocking call without OVERLAPPED.
                                |e| unsafe {
                                    f(
                                        s,
                                        &wb,
                                        1,
                                        &mut n,
                                        &mut fl,
                                        core::ptr::null_mut(),
                                        None,
                                        &thread,
                                        e,
                                    )
                                },
                            );
                        }
                    });
            std::thread::sleep(Duration::from_millis(2));
            self.close_at(i);
            if let Ok(h) = helper {
                let _ = h.join();
            }
        });
    }

    /// The shared pool: hand a socket over, call on one (possibly while another worker closes
    /// it), or close one.
    fn pool(&mut self) {
        let sh = self.sh();
        match self.rng.below(5) {
            0 => {
                if sh.closing.load(Ordering::Acquire) || lock(&sh.pool).len() >= MAX_POOL {
                    return;
                }
                if let Some(i) = self.any_sock() {
                    let sock = self.socks.swap_remove(i);
                    lock(&sh.pool).push(sock.s);
                }
            }
            1 => {
                let taken = {
                    let mut p = lock(&sh.pool);
                    if p.is_empty() {
                        None
                    } else {
                        let k = self.rng.below(p.len());
                        Some(p.swap_remove(k))
                    }
                };
                if let Some(s) = taken {
                    let ws = &sh.ws;
                    self.c
                        .standin(format!("closesocket({:#x}) [pooled]", s), || {
                            ws.closesocket(s)
                        });
                }
            }
            _ => {
                let v = {
                    let p = lock(&sh.pool);
                    if p.is_empty() {
                        return;
                    }
                    p[self.rng.below(p.len())]
                };
                if self.rng.one_in(2) && self.ops.pending.len() < MAX_PENDING {
                    // An overlapped receive on a socket another worker may close.
                    let route = if self.rng.one_in(2) {
                        Route::Event
                    } else {
                        Route::Routine
                    };
                    let call = format!("WSPRecv({:#x}) [pooled, route {:?}]", v, route);
                    let oi = self.prepare(v, u64::MAX, route, call.clone());
                    let op: &mut Op = &mut self.ops.recs[oi];
                    op.bufs[0] = WSABUF {
                        len: 256,
                        buf: op.buf.as_mut_ptr(),
                    };
                    let (ov, bufs, bytes, fl): (*mut OVERLAPPED, *mut WSABUF, *mut u32, *mut u32) = (
                        &mut op.ov,
                        op.bufs.as_mut_ptr(),
                        &mut op.bytes,
                        &mut op.flags,
                    );
                    let routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE = if route == Route::Routine {
                        Some(on_routine)
                    } else {
                        None
                    };
                    let thread = self.thread;
                    let r = match sh.spi.table.lpWSPRecv {
                        // SAFETY: the boxed record outlives the request.
                        Some(f) => self
                            .c
                            .int(call, false, |e| unsafe {
                                f(v, bufs, 1, bytes, fl, ov, routine, &thread, e)
                            })
                            .map(drop),
                        None => Err(WsaError::NETDOWN),
                    };
                    let failed = !matches!(r, Ok(()) | Err(WsaError::IO_PENDING));
                    self.ops.started(oi, failed);
                } else {
                    self.feed_pooled(v);
                }
            }
        }
    }

    /// Sends to a pooled socket (datagrams to its address from one of this worker's sockets)
    /// or through it (its peer's requests then complete on this thread's signal, racing
    /// with that peer's owner, who may be closing it).
    fn feed_pooled(&mut self, v: SOCKET) {
        let sh = self.sh();
        let t = sh.spi.table;
        let thread = self.thread;
        let mut buf = [7u8; 256];
        let wb = WSABUF {
            len: 1 + self.rng.below(256) as u32,
            buf: buf.as_mut_ptr(),
        };
        let mut n = 0u32;
        if sh.cfg.stream() {
            if let Some(f) = t.lpWSPSend {
                let _ = self.c.int(
                    format!("WSPSend({:#x}, {} bytes) [pooled]", v, wb.len),
                    false,
                    // SAFETY: a valid buffer; no OVERLAPPED (pooled sockets are non-blocking
                    // or closed).
                    |e| unsafe {
                        f(
                            v,
                            &wb,
                            1,
                            &mut n,
                            0,
                            core::ptr::null_mut(),
                            None,
                            &thread,
                            e,
                        )
                    },
                );
            }
            return;
        }
        let to = match self.sock_name(v) {
            Some(a) => a,
            None => return,
        };
        let from = match self.pick(&[St::Bound]) {
            Some(i) => self.socks[i].s,
            None => return,
        };
        if let Some(f) = t.lpWSPSendTo {
            let _ = self.c.int(
                format!(
                    "WSPSendTo({:#x} -> pooled {:#x}, {} bytes)",
                    from, v, wb.len
                ),
                false,
                // SAFETY: a valid buffer and a whole address; no OVERLAPPED.
                |e| unsafe {
                    f(
                        from,
                        &wb,
                        1,
                        &mut n,
                        0,
                        to.as_ptr().cast(),
                        to.len() as i32,
                        core::ptr::null_mut(),
                        None,
                        &thread,
                        e,
                    )
                },
            );
        }
    }

    /// Another application session starts the provider and cleans up while this one runs.
    fn nested(&mut self) {
        if self.nested >= 3 {
            return;
        }
        self.nested += 1;
        let sh = self.sh();
        let ws = ws2_standin::Ws2::new();
        let loaded = self
            .c
            .standin("WSPStartup [nested session]".to_owned(), || {
                sh.source.load(&ws).map_err(|e| match e {
                    ws2_standin::LoadError::Startup(e) => e,
                    other => {
                        panic!("loading the provider again: {}", other)
                    }
                })
            });
        if let Some(Err(e)) = loaded {
            if !(sh.cfg.panicky && e == WsaError::NETDOWN) {
                self.c
                    .violation(format!("a nested WSPStartup failed with {:?}", e));
            }
        }
        self.c
            .standin("WSPCleanup [nested session]".to_owned(), || {
                ws.cleanup();
                Ok(())
            });
    }
}

/// Whether event `ev` is set (without waiting).
fn signalled(ws: &ws2_standin::Ws2, ev: WSAEVENT) -> bool {
    matches!(ws.wait_for_multiple_events(&[ev], false, 0, false), Ok(r) if r == WSA_WAIT_EVENT_0)
}

/// A GUID in its usual text form, for call descriptions.
struct Guid(GUID);

impl std::fmt::Debug for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", winsock_provider::Guid::from_sys(&self.0).0)
    }
}
