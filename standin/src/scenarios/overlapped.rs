//! Overlapped I/O scenarios: an IOCP echo server (overlapped `AcceptEx`, `WSARecv`, `WSASend`,
//! worker threads on one completion port), the three completion routes of operations that
//! finish at once, and closing sockets with operations pending.
//!
//! The [`Target`] must name a stream protocol entry of a non-IFS provider (completion ports see
//! its operations through `WPUCompleteOverlappedRequest`) that serves overlapped requests and
//! the `AcceptEx` extension function.

use super::stream::{echo_client, ensure, expect_err, listener, At, Baseline, Open};
use super::Target;
use crate::sys::{
    LPWSAOVERLAPPED_COMPLETION_ROUTINE, OVERLAPPED, SOCKET, SOMAXCONN_WS2, WSABUF, WSAEVENT,
};
use crate::{
    CompletionPort, Ws2, WsaError, WSA_WAIT_EVENT_0, WSA_WAIT_IO_COMPLETION, WSA_WAIT_TIMEOUT,
    WSS_OPERATION_IN_PROGRESS,
};
use std::io::Write;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Room for one address in an `AcceptEx` output buffer: 16 more than the largest address.
const ADDR_SLOT: u32 = 128 + 16;
/// Completion key of the listening socket.
const LISTENER_KEY: usize = usize::MAX - 1;
/// Completion key of the packets that stop the worker threads.
const QUIT_KEY: usize = usize::MAX;
/// How long a worker waits for a packet before declaring the server stuck.
const STUCK_MS: u32 = 60_000;

/// Reads `Internal` of an OVERLAPPED that another thread may complete.
fn internal(ov: *const OVERLAPPED) -> usize {
    // SAFETY: `ov` points to a live OVERLAPPED the scenario owns; a volatile read of the
    // provider-written field, as applications poll `HasOverlappedIoCompleted`.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*ov).Internal)) }
}

/// `WSAGetOverlappedResult(s, ov, FALSE)`.
fn wsa_result(
    ws: &Ws2,
    s: SOCKET,
    ov: *const OVERLAPPED,
    wait: bool,
) -> Result<(u32, u32), WsaError> {
    // SAFETY: every caller passes the live OVERLAPPED of an operation it started on `s`.
    unsafe { ws.wsa_get_overlapped_result(s, ov, wait) }
}

fn wsabuf(buf: &mut [u8]) -> WSABUF {
    WSABUF {
        len: buf.len() as u32,
        buf: buf.as_mut_ptr(),
    }
}

/// One operation of an echo connection; `ov` first, so a packet's `OVERLAPPED` pointer is the
/// operation's address.
#[repr(C)]
struct Op {
    ov: OVERLAPPED,
    conn: usize,
}

enum Stage {
    Accepting,
    Receiving,
    Sending { from: usize, to: usize },
    Closed,
}

struct Conn {
    socket: SOCKET,
    /// The single operation in flight (boxed: its address must not move while pending).
    op: Box<Op>,
    buf: Vec<u8>,
    accept_buf: Vec<u8>,
    stage: Stage,
}

// SAFETY: the raw pointers inside (`OVERLAPPED.hEvent`, the union) are null; the connection
// is only touched under its Mutex, one operation at a time.
unsafe impl Send for Conn {}

struct Server<'a> {
    ws: &'a Ws2,
    port: CompletionPort,
    listener: SOCKET,
    conns: Vec<Mutex<Conn>>,
    closed: AtomicUsize,
    workers: usize,
}

impl Server<'_> {
    /// Starts the next operation of `conn` (its stage already set); completions arrive on the
    /// port whether the call finished at once or is pending.
    fn post(&self, idx: usize, conn: &mut Conn) -> Result<(), String> {
        const S: &str = "overlapped::iocp_echo (server)";
        conn.op.ov = OVERLAPPED::default();
        let ov: *mut OVERLAPPED = &mut conn.op.ov;
        let r = match conn.stage {
            // SAFETY: the buffers and the OVERLAPPED live in `conn`, which outlives the
            // operation (the scenario drains every completion before dropping it).
            Stage::Accepting => unsafe {
                self.ws
                    .accept_ex(
                        self.listener,
                        conn.socket,
                        &mut conn.accept_buf,
                        0,
                        ADDR_SLOT,
                        ov,
                    )
                    .map(drop)
            },
            // SAFETY: as above.
            Stage::Receiving => unsafe {
                let b = [wsabuf(&mut conn.buf)];
                self.ws.wsa_recv(conn.socket, &b, 0, ov, None).map(drop)
            },
            // SAFETY: as above.
            Stage::Sending { from, to } => unsafe {
                let b = [wsabuf(&mut conn.buf[from..to])];
                self.ws.wsa_send(conn.socket, &b, 0, ov, None).map(drop)
            },
            Stage::Closed => return Ok(()),
        };
        match r {
            Ok(()) => Ok(()),
            Err(e) if e == WsaError::IO_PENDING => Ok(()),
            Err(e) => Err(format!(
                "{}: connection {}: starting the next operation failed with {}",
                S, idx, e
            )),
        }
    }

    fn stop(&self) {
        for _ in 0..self.workers {
            let _ = self.ws.post_queued_completion_status(
                self.port,
                0,
                QUIT_KEY,
                core::ptr::null_mut(),
            );
        }
    }

    /// A worker thread: on failure the other workers are stopped too.
    fn worker(&self) -> Result<(), String> {
        let r = self.work();
        if r.is_err() {
            self.stop();
        }
        r
    }

    fn work(&self) -> Result<(), String> {
        const S: &str = "overlapped::iocp_echo (worker)";
        loop {
            let c = self
                .ws
                .get_queued_completion_status(self.port, STUCK_MS)
                .at(S, "GetQueuedCompletionStatus")?
                .ok_or_else(|| format!("{}: no completion for {} ms", S, STUCK_MS))?;
            if c.key == QUIT_KEY {
                return Ok(());
            }
            let op = c.overlapped as *const Op;
            ensure(!op.is_null(), S, "a packet without an OVERLAPPED")?;
            // SAFETY: every OVERLAPPED this server posts is the first field of an `Op` that
            // lives as long as the server.
            let idx = unsafe { (*op).conn };
            let mut conn = self.conns[idx].lock().unwrap_or_else(|e| e.into_inner());
            let conn = &mut *conn;
            let expected_key = match conn.stage {
                Stage::Accepting => LISTENER_KEY,
                _ => idx,
            };
            ensure(
                c.key == expected_key,
                S,
                format_args!(
                    "connection {}: completion key {} (expected {})",
                    idx, c.key, expected_key
                ),
            )?;
            if c.error != 0 {
                return Err(format!(
                    "{}: connection {}: operation completed with error {}",
                    S,
                    idx,
                    WsaError::from_code(c.error as i32)
                ));
            }
            ensure(
                internal(&conn.op.ov) != WSS_OPERATION_IN_PROGRESS,
                S,
                "a completed operation's Internal is still WSS_OPERATION_IN_PROGRESS",
            )?;
            match conn.stage {
                Stage::Accepting => {
                    let (_, remote) = self
                        .ws
                        .get_accept_ex_sockaddrs(self.listener, &conn.accept_buf, 0, ADDR_SLOT)
                        .at(S, "GetAcceptExSockaddrs")?;
                    let peer = self
                        .ws
                        .getpeername(conn.socket)
                        .at(S, "getpeername (accepted)")?;
                    ensure(
                        peer == remote,
                        S,
                        format_args!(
                            "AcceptEx reported peer {:?}, getpeername {:?}",
                            remote, peer
                        ),
                    )?;
                    self.ws
                        .create_io_completion_port(Some(self.port), Some(conn.socket), idx)
                        .at(S, "CreateIoCompletionPort (accepted socket)")?;
                    conn.stage = Stage::Receiving;
                }
                Stage::Receiving if c.bytes == 0 => {
                    self.ws
                        .closesocket(conn.socket)
                        .at(S, "closesocket (echoed connection)")?;
                    conn.stage = Stage::Closed;
                    if self.closed.fetch_add(1, Ordering::SeqCst) + 1 == self.conns.len() {
                        self.stop();
                    }
                }
                Stage::Receiving => {
                    conn.stage = Stage::Sending {
                        from: 0,
                        to: c.bytes as usize,
                    }
                }
                Stage::Sending { from, to } => {
                    let from = from + c.bytes as usize;
                    ensure(c.bytes > 0, S, "a send completed with 0 bytes")?;
                    conn.stage = if from < to {
                        Stage::Sending { from, to }
                    } else {
                        Stage::Receiving
                    };
                }
                Stage::Closed => {
                    return Err(format!("{}: connection {}: a packet after close", S, idx))
                }
            }
            self.post(idx, conn)?;
        }
    }
}

/// An IOCP echo server: `workers` threads on one completion port, a listener with one
/// overlapped `AcceptEx` per client on pre-created sockets, then per connection an overlapped
/// `WSARecv` → `WSASend` loop (one operation in flight). `clients` blocking clients each send
/// `bytes_each` bytes of their own pseudo-random stream and check every byte of the echo.
/// Afterwards every socket is closed, no operation is outstanding and the live handles are
/// back where they started.
pub fn iocp_echo(
    ws: &Ws2,
    t: &Target,
    workers: usize,
    clients: usize,
    bytes_each: usize,
) -> Result<(), String> {
    const S: &str = "overlapped::iocp_echo";
    let baseline = Baseline::take(ws);
    let mut open = Open::new(ws);
    let (l, addr) = listener(ws, &mut open, t, 0, SOMAXCONN_WS2, S)?;
    let port = ws
        .create_io_completion_port(None, Some(l), LISTENER_KEY)
        .at(S, "CreateIoCompletionPort (listener)")?;
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let s = open.socket(t, S, "accept socket")?;
        conns.push(Mutex::new(Conn {
            socket: s,
            op: Box::new(Op {
                ov: OVERLAPPED::default(),
                conn: i,
            }),
            buf: vec![0u8; 64 * 1024],
            accept_buf: vec![0u8; 2 * ADDR_SLOT as usize],
            stage: Stage::Accepting,
        }));
    }
    let server = Server {
        ws,
        port,
        listener: l,
        conns,
        closed: AtomicUsize::new(0),
        workers,
    };
    let mut problems = Vec::new();
    for (i, c) in server.conns.iter().enumerate() {
        let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = server.post(i, &mut c) {
            problems.push(e);
            break;
        }
    }
    let connected = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers)
            .map(|_| scope.spawn(|| server.worker()))
            .collect();
        let client_threads: Vec<_> = (0..clients)
            .map(|id| {
                let (addr, connected) = (&addr, &connected);
                scope.spawn(move || echo_client(ws, t, addr, id, bytes_each, connected))
            })
            .collect();
        for w in threads {
            match w.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(e),
                Err(_) => problems.push(format!("{}: a worker panicked", S)),
            }
        }
        if !problems.is_empty() {
            // Reset the connections the server never accepted, and close the others.
            let _ = ws.closesocket(l);
            for c in &server.conns {
                let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
                if !matches!(c.stage, Stage::Closed) {
                    let _ = ws.closesocket(c.socket);
                    c.stage = Stage::Closed;
                }
            }
        }
        for (id, c) in client_threads.into_iter().enumerate() {
            match c.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(e),
                Err(_) => problems.push(format!("{}: client {} panicked", S, id)),
            }
        }
    });
    for c in &server.conns {
        let c = c.lock().unwrap_or_else(|e| e.into_inner());
        open.forget(c.socket);
    }
    if let Some(first) = problems.first() {
        let _ = ws.closesocket(l);
        open.forget(l);
        let _ = ws.close_completion_port(port);
        return Err(if problems.len() > 1 {
            format!("{} (and {} more failures)", first, problems.len() - 1)
        } else {
            first.clone()
        });
    }
    open.close_all(S)?;
    // Everything completed: nothing more may arrive.
    let stray = ws
        .get_queued_completion_status(port, 0)
        .at(S, "GetQueuedCompletionStatus after the run")?;
    ensure(
        stray.is_none(),
        S,
        format_args!(
            "a stray completion after every connection closed: {:?}",
            stray
        ),
    )?;
    ws.close_completion_port(port).at(S, "CloseHandle (port)")?;
    ensure(
        ws.outstanding_overlapped() == 0,
        S,
        format_args!(
            "{} overlapped operations never completed",
            ws.outstanding_overlapped()
        ),
    )?;
    baseline.check(ws, S)
}

/// Completion routine calls seen by [`record_routine`]: (OVERLAPPED address, error, bytes).
static ROUTINE_CALLS: Mutex<Vec<(usize, u32, u32)>> = Mutex::new(Vec::new());

unsafe extern "system" fn record_routine(error: u32, bytes: u32, ov: *mut OVERLAPPED, _: u32) {
    ROUTINE_CALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((ov as usize, error, bytes));
}

const ROUTINE: LPWSAOVERLAPPED_COMPLETION_ROUTINE = Some(record_routine);

/// The routine calls recorded for `ov`.
fn routine_calls(ov: *const OVERLAPPED) -> Vec<(u32, u32)> {
    ROUTINE_CALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|c| c.0 == ov as usize)
        .map(|c| (c.1, c.2))
        .collect()
}

fn forget_routine_calls(ov: *const OVERLAPPED) {
    ROUTINE_CALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|c| c.0 != ov as usize);
}

/// Runs alertable sleeps until `done` or 5 s pass.
fn alertable_until(ws: &Ws2, mut done: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while !done() {
        if start.elapsed() > std::time::Duration::from_secs(5) {
            return false;
        }
        ws.sleep_ex(100, true);
    }
    true
}

fn wait_event(ws: &Ws2, ev: WSAEVENT, ms: u32, scenario: &str, what: &str) -> Result<(), String> {
    let r = ws.wait_for_multiple_events(&[ev], false, ms, false).at(
        scenario,
        format_args!("WSAWaitForMultipleEvents ({})", what),
    )?;
    ensure(
        r == WSA_WAIT_EVENT_0,
        scenario,
        format_args!("{}: the event was not set (wait returned {:#x})", what, r),
    )
}

/// Operations that finish at once are still notified through their route (as Windows does
/// without `FILE_SKIP_COMPLETION_PORT_ON_SUCCESS`): a `WSARecv`
/// with data queued returns the bytes AND sets its event / queues its completion routine
/// (run only in an alertable wait, exactly once) / posts a packet; a pending one returns
/// `WSA_IO_PENDING`, reports `WSA_IO_INCOMPLETE` until data arrives, then completes once.
pub fn routes(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "overlapped::routes";
    let baseline = Baseline::take(ws);
    let mut open = Open::new(ws);
    let (_, c, s, _) = super::stream::connected(ws, &mut open, t, 0, S)?;
    let ev = ws.create_event().at(S, "WSACreateEvent")?;
    // Leaked if the scenario fails with an operation pending (the provider may still write
    // them); freed at the end of a successful run.
    let mut buf = ManuallyDrop::new(vec![0u8; 64]);
    let mut ov = ManuallyDrop::new(Box::new(OVERLAPPED::default()));
    let ovp: *mut OVERLAPPED = &mut **ov;

    // Event route, pending first.
    ov.hEvent = ev as _;
    let b = [wsabuf(&mut buf)];
    // SAFETY: `buf` and `ov` outlive the operation (awaited below).
    let r = unsafe { ws.wsa_recv(s, &b, 0, ovp, None) };
    expect_err(
        r,
        WsaError::IO_PENDING,
        S,
        "overlapped WSARecv with nothing queued",
    )?;
    ensure(
        internal(ovp) == WSS_OPERATION_IN_PROGRESS,
        S,
        "Internal of a pending operation is not WSS_OPERATION_IN_PROGRESS",
    )?;
    expect_err(
        wsa_result(ws, s, ovp, false),
        WsaError::IO_INCOMPLETE,
        S,
        "WSAGetOverlappedResult of a pending receive",
    )?;
    ensure(
        ws.wait_for_multiple_events(&[ev], false, 0, false) == Ok(WSA_WAIT_TIMEOUT),
        S,
        "the event is set while the receive is pending",
    )?;
    ws.send(c, b"hello", 0).at(S, "send 5 bytes")?;
    wait_event(ws, ev, 5000, S, "pending receive")?;
    let (n, _) = wsa_result(ws, s, ovp, false).at(S, "WSAGetOverlappedResult after completion")?;
    ensure(
        n == 5 && &buf[..5] == b"hello",
        S,
        format_args!("received {} bytes: {:?}", n, &buf[..n as usize]),
    )?;
    ws.reset_event(ev).at(S, "WSAResetEvent")?;

    // Event route, completing at once: still signalled.
    ws.send(c, b"again", 0).at(S, "send 5 bytes")?;
    **ov = OVERLAPPED::default();
    ov.hEvent = ev as _;
    let b = [wsabuf(&mut buf)];
    // SAFETY: as above.
    let r = unsafe { ws.wsa_recv(s, &b, 0, ovp, None) };
    let n = match r {
        Ok((n, _)) => n,
        Err(e) if e == WsaError::IO_PENDING => {
            wait_event(ws, ev, 5000, S, "receive with data queued")?;
            wsa_result(ws, s, ovp, false)
                .at(S, "WSAGetOverlappedResult")?
                .0
        }
        Err(e) => return Err(format!("{}: WSARecv with data queued failed with {}", S, e)),
    };
    ensure(
        n == 5 && &buf[..5] == b"again",
        S,
        "wrong data from an immediate receive",
    )?;
    wait_event(ws, ev, 5000, S, "receive that completed at once")?;
    ws.reset_event(ev).at(S, "WSAResetEvent")?;

    // Completion routine route, completing at once: the routine runs only in an alertable
    // wait, on this thread, once.
    ws.send(c, b"third", 0).at(S, "send 5 bytes")?;
    **ov = OVERLAPPED::default();
    forget_routine_calls(ovp);
    let b = [wsabuf(&mut buf)];
    // SAFETY: as above.
    match unsafe { ws.wsa_recv(s, &b, 0, ovp, ROUTINE) } {
        Ok(_) => {}
        Err(e) if e == WsaError::IO_PENDING => {}
        Err(e) => {
            return Err(format!(
                "{}: WSARecv with a completion routine failed with {}",
                S, e
            ))
        }
    }
    ws.sleep_ex(0, false);
    ensure(
        routine_calls(ovp).is_empty(),
        S,
        "the completion routine ran outside an alertable wait",
    )?;
    ensure(
        alertable_until(ws, || !routine_calls(ovp).is_empty()),
        S,
        "the completion routine never ran in alertable waits",
    )?;
    ensure(
        routine_calls(ovp) == vec![(0, 5)] && &buf[..5] == b"third",
        S,
        format_args!("completion routine calls {:?}", routine_calls(ovp)),
    )?;
    ensure(
        ws.sleep_ex(50, true) == 0 && routine_calls(ovp).len() == 1,
        S,
        "the completion routine ran twice",
    )?;

    // Completion port route, pending then completing.
    let port = ws
        .create_io_completion_port(None, Some(s), 7)
        .at(S, "CreateIoCompletionPort")?;
    **ov = OVERLAPPED::default();
    let b = [wsabuf(&mut buf)];
    // SAFETY: as above.
    match unsafe { ws.wsa_recv(s, &b, 0, ovp, None) } {
        Err(e) if e == WsaError::IO_PENDING => {}
        other => return Err(format!("{}: WSARecv on an empty socket: {:?}", S, other)),
    }
    ensure(
        ws.get_queued_completion_status(port, 0)
            .at(S, "GetQueuedCompletionStatus")?
            .is_none(),
        S,
        "a packet for a receive still pending",
    )?;
    ws.send(c, b"fourth", 0).at(S, "send 6 bytes")?;
    let p = ws
        .get_queued_completion_status(port, 5000)
        .at(S, "GetQueuedCompletionStatus")?
        .ok_or_else(|| format!("{}: no packet for a completed receive", S))?;
    ensure(
        p.key == 7 && p.overlapped == ovp && p.bytes == 6 && p.error == 0 && &buf[..6] == b"fourth",
        S,
        format_args!("packet {:?}", p),
    )?;
    ensure(
        ws.get_queued_completion_status(port, 50)
            .at(S, "GetQueuedCompletionStatus")?
            .is_none(),
        S,
        "a second packet for one receive",
    )?;
    open.close_all(S)?;
    ws.close_completion_port(port).at(S, "CloseHandle (port)")?;
    ws.close_event(ev).at(S, "WSACloseEvent")?;
    forget_routine_calls(ovp);
    ensure(
        ws.outstanding_overlapped() == 0,
        S,
        "overlapped operations left outstanding",
    )?;
    // SAFETY: every operation completed (checked above); nothing refers to them any more.
    unsafe {
        ManuallyDrop::drop(&mut ov);
        ManuallyDrop::drop(&mut buf);
    }
    baseline.check(ws, S)
}

/// Closing sockets with operations pending completes each exactly once with
/// `WSA_OPERATION_ABORTED`, through its route: an event receive and a completion-routine
/// receive on one socket, a completion-port receive on another and a completion-port
/// `AcceptEx` on a listener. Nothing is left outstanding and no handle leaks.
pub fn close_with_pending(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "overlapped::close_with_pending";
    let aborted = WsaError::OPERATION_ABORTED.code() as u32;
    let baseline = Baseline::take(ws);
    let mut open = Open::new(ws);
    let (_, _c1, a, _) = super::stream::connected(ws, &mut open, t, 0, S)?;
    let (_, _c2, b, _) = super::stream::connected(ws, &mut open, t, 1, S)?;
    let (l, _) = listener(ws, &mut open, t, 2, 8, S)?;
    let acc = open.socket(t, S, "accept socket")?;
    let port = ws
        .create_io_completion_port(None, Some(b), 2)
        .at(S, "CreateIoCompletionPort (b)")?;
    ws.create_io_completion_port(Some(port), Some(l), 3)
        .at(S, "CreateIoCompletionPort (listener)")?;
    let ev = ws.create_event().at(S, "WSACreateEvent")?;

    // Leaked if the scenario fails with an operation pending (the provider may still write
    // them); freed at the end of a successful run.
    let mut bufs = ManuallyDrop::new(vec![vec![0u8; 2 * ADDR_SLOT as usize]; 4]);
    let mut ovs: ManuallyDrop<Vec<Box<OVERLAPPED>>> =
        ManuallyDrop::new((0..4).map(|_| Box::new(OVERLAPPED::default())).collect());
    ovs[0].hEvent = ev as _;
    let p: Vec<*mut OVERLAPPED> = ovs
        .iter_mut()
        .map(|o| &mut **o as *mut OVERLAPPED)
        .collect();
    forget_routine_calls(p[1]);
    let pending = |r: Result<(), WsaError>, what: &str| match r {
        Err(e) if e == WsaError::IO_PENDING => Ok(()),
        other => Err(format!(
            "{}: {}: expected WSA_IO_PENDING, got {:?}",
            S, what, other
        )),
    };
    let wb: Vec<WSABUF> = bufs.iter_mut().map(|b| wsabuf(b)).collect();
    // SAFETY: buffers and OVERLAPPEDs outlive the operations (all awaited below).
    unsafe {
        pending(
            ws.wsa_recv(a, &wb[0..1], 0, p[0], None).map(drop),
            "WSARecv (event)",
        )?;
        pending(
            ws.wsa_recv(a, &wb[1..2], 0, p[1], ROUTINE).map(drop),
            "WSARecv (routine)",
        )?;
        pending(
            ws.wsa_recv(b, &wb[2..3], 0, p[2], None).map(drop),
            "WSARecv (port)",
        )?;
        pending(
            ws.accept_ex(l, acc, &mut bufs[3], 0, ADDR_SLOT, p[3])
                .map(drop),
            "AcceptEx (port)",
        )?;
    }
    for (i, &o) in p.iter().enumerate() {
        ensure(
            internal(o) == WSS_OPERATION_IN_PROGRESS,
            S,
            format_args!(
                "operation {}: Internal is not WSS_OPERATION_IN_PROGRESS while pending",
                i
            ),
        )?;
    }
    ensure(
        ws.outstanding_overlapped() == 4,
        S,
        format_args!(
            "{} operations outstanding, expected 4",
            ws.outstanding_overlapped()
        ),
    )?;
    for (s, what) in [(a, "a"), (b, "b"), (l, "listener")] {
        open.close(s, S, what)?;
    }
    // Event route.
    wait_event(ws, ev, 5000, S, "aborted event receive")?;
    ensure(
        internal(p[0]) == aborted as usize,
        S,
        format_args!("aborted event receive: Internal = {:#x}", internal(p[0])),
    )?;
    // Completion routine route.
    ensure(
        alertable_until(ws, || !routine_calls(p[1]).is_empty()),
        S,
        "the aborted receive's completion routine never ran",
    )?;
    // Completion port route: two packets, each once.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let c = ws
            .get_queued_completion_status(port, 5000)
            .at(S, "GetQueuedCompletionStatus")?
            .ok_or_else(|| format!("{}: an aborted operation posted no packet", S))?;
        seen.push((c.overlapped as usize, c.key, c.error, c.bytes));
    }
    seen.sort_unstable();
    let mut want = vec![
        (p[2] as usize, 2, aborted, 0),
        (p[3] as usize, 3, aborted, 0),
    ];
    want.sort_unstable();
    ensure(
        seen == want,
        S,
        format_args!("packets {:?}, expected {:?}", seen, want),
    )?;
    // Exactly once: nothing more arrives through any route.
    ensure(
        ws.get_queued_completion_status(port, 100)
            .at(S, "GetQueuedCompletionStatus")?
            .is_none(),
        S,
        "a second packet for an aborted operation",
    )?;
    ws.sleep_ex(50, true);
    ensure(
        routine_calls(p[1]) == vec![(aborted, 0)],
        S,
        format_args!("completion routine calls {:?}", routine_calls(p[1])),
    )?;
    forget_routine_calls(p[1]);
    ensure(
        ws.outstanding_overlapped() == 0,
        S,
        format_args!("{} operations never completed", ws.outstanding_overlapped()),
    )?;
    open.close_all(S)?;
    ws.close_completion_port(port).at(S, "CloseHandle (port)")?;
    ws.close_event(ev).at(S, "WSACloseEvent")?;
    // SAFETY: every operation completed (checked above); nothing refers to them any more.
    unsafe {
        ManuallyDrop::drop(&mut ovs);
        ManuallyDrop::drop(&mut bufs);
    }
    baseline.check(ws, S)?;
    ensure(
        ws.sleep_ex(0, true) != WSA_WAIT_IO_COMPLETION,
        S,
        "an APC was still queued at the end",
    )
}

/// Completes an overlapped call on the event route: whether it finished at once or is
/// pending, its event is set (once) and `WSAGetOverlappedResult` gives the bytes.
fn finish(
    ws: &Ws2,
    s: SOCKET,
    r: Result<Option<u32>, WsaError>,
    ov: *mut OVERLAPPED,
    ev: WSAEVENT,
    what: &str,
) -> Result<u32, String> {
    const S: &str = "overlapped::extensions";
    match r {
        Ok(_) => {}
        Err(e) if e == WsaError::IO_PENDING => {}
        Err(e) => return Err(format!("{}: {}: failed with {}", S, what, e)),
    }
    wait_event(ws, ev, 5000, S, what)?;
    ws.reset_event(ev).at(S, "WSAResetEvent")?;
    let (n, _) =
        wsa_result(ws, s, ov, false).at(S, format_args!("{}: WSAGetOverlappedResult", what))?;
    if let Ok(Some(at_once)) = r {
        ensure(
            at_once == n,
            S,
            format_args!(
                "{}: {} bytes at once but {} in the result",
                what, at_once, n
            ),
        )?;
    }
    Ok(n)
}

/// The extension functions an application gets with `SIO_GET_EXTENSION_FUNCTION_POINTER` and
/// calls directly, each completing through its event: `ConnectEx` with data, `AcceptEx` with
/// data and `GetAcceptExSockaddrs`, `TransmitFile` of head and tail buffers (no file),
/// `DisconnectEx`, `WSASendMsg`/`WSARecvMsg` on datagrams (sender reported), and an
/// overlapped `WSARecvFrom` with a completion routine fed by `WSASendTo`; errors come back
/// through the thread's last error (`AcceptEx` on a socket that is not listening is
/// `WSAEINVAL`), and an unknown GUID is `WSAEINVAL`.
pub fn extensions(ws: &Ws2, stream: &Target, dgram: &Target) -> Result<(), String> {
    const S: &str = "overlapped::extensions";
    let baseline = Baseline::take(ws);
    let mut open = Open::new(ws);
    let ev = ws.create_event().at(S, "WSACreateEvent")?;
    // Leaked if the scenario fails with an operation pending; freed at the end.
    let mut ov = ManuallyDrop::new(Box::new(OVERLAPPED::default()));
    let ovp: *mut OVERLAPPED = &mut **ov;
    let mut out = ManuallyDrop::new(vec![0u8; 64 + 2 * ADDR_SLOT as usize]);
    let mut got = ManuallyDrop::new(vec![0u8; 256]);
    let mut ov_accept = ManuallyDrop::new(Box::new(OVERLAPPED::default()));
    let reset = |ov: *mut OVERLAPPED| {
        // SAFETY: `ov` is ours and no operation is pending on it between steps.
        unsafe {
            *ov = OVERLAPPED::default();
            (*ov).hEvent = ev as _;
        }
    };
    let result = (|| -> Result<(), String> {
        let (l, addr) = listener(ws, &mut open, stream, 0, 8, S)?;
        let unknown = crate::sys::GUID::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        expect_err(
            ws.get_extension_function::<crate::ext::DisconnectExFn>(l, unknown)
                .map(|f| f as usize),
            WsaError::INVAL,
            S,
            "SIO_GET_EXTENSION_FUNCTION_POINTER with an unknown GUID",
        )?;
        let a = open.socket(stream, S, "accept socket")?;
        let c = open.socket(stream, S, "ConnectEx socket")?;
        ws.bind(c, &(stream.addr)(1))
            .at(S, "bind (ConnectEx socket)")?;

        // AcceptEx on a socket that does not listen: FALSE, WSAEINVAL as the last error.
        reset(ovp);
        // SAFETY: `out` and `ov` outlive the call (it fails at once).
        let r = unsafe { ws.accept_ex(c, a, &mut out, 0, ADDR_SLOT, ovp) };
        expect_err(
            r,
            WsaError::INVAL,
            S,
            "AcceptEx on a socket that is not listening",
        )?;
        ensure(
            ws.last_error() == WsaError::INVAL.code(),
            S,
            format_args!("WSAGetLastError after AcceptEx failed: {}", ws.last_error()),
        )?;

        // AcceptEx waiting for 5 bytes of data, then ConnectEx sending them.
        let accept_ev = ws.create_event().at(S, "WSACreateEvent")?;
        ov_accept.hEvent = accept_ev as _;
        let pa: *mut OVERLAPPED = &mut **ov_accept;
        // SAFETY: `out` and `ov_accept` outlive the operation (awaited below).
        let ra = unsafe { ws.accept_ex(l, a, &mut out, 5, ADDR_SLOT, pa) };
        reset(ovp);
        // SAFETY: the data is static; `ov` outlives the operation.
        let rc = unsafe { ws.connect_ex(c, &addr, b"hello", ovp) };
        let sent = finish(ws, c, rc.map(Some), ovp, ev, "ConnectEx with 5 bytes")?;
        ensure(sent == 5, S, format_args!("ConnectEx sent {} bytes", sent))?;
        let received = finish(ws, l, ra.map(Some), pa, accept_ev, "AcceptEx with 5 bytes")?;
        ws.close_event(accept_ev).at(S, "WSACloseEvent")?;
        ensure(
            received == 5 && &out[..5] == b"hello",
            S,
            format_args!("AcceptEx received {} bytes: {:?}", received, &out[..5]),
        )?;
        let (local, remote) = ws
            .get_accept_ex_sockaddrs(l, &out, 5, ADDR_SLOT)
            .at(S, "GetAcceptExSockaddrs")?;
        let c_name = ws.getsockname(c).at(S, "getsockname (ConnectEx socket)")?;
        ensure(
            remote == c_name && local == addr,
            S,
            format_args!(
                "GetAcceptExSockaddrs: local {:?} remote {:?}; expected {:?} and {:?}",
                local, remote, addr, c_name
            ),
        )?;

        // TransmitFile of head and tail buffers only.
        let (mut head, mut tail) = (*b"head-", *b"-tail");
        let buffers = crate::ext::TRANSMIT_FILE_BUFFERS {
            Head: head.as_mut_ptr().cast(),
            HeadLength: head.len() as u32,
            Tail: tail.as_mut_ptr().cast(),
            TailLength: tail.len() as u32,
        };
        reset(ovp);
        // SAFETY: buffers and `ov` outlive the operation (awaited by `finish`).
        let rt = unsafe {
            ws.transmit_file(c, core::ptr::null_mut(), 0, 0, ovp, &buffers, 0)
                .map(|()| None)
        };
        finish(ws, c, rt, ovp, ev, "TransmitFile (head and tail)")?;
        let n =
            super::stream::recv_exact(ws, a, &mut got[..10]).at(S, "recv (TransmitFile data)")?;
        ensure(
            &got[..n] == b"head--tail",
            S,
            format_args!("TransmitFile delivered {:?}", &got[..n]),
        )?;

        // DisconnectEx: the peer sees end of stream.
        reset(ovp);
        // SAFETY: `ov` outlives the operation.
        let rd = unsafe { ws.disconnect_ex(c, ovp, 0).map(|()| None) };
        finish(ws, c, rd, ovp, ev, "DisconnectEx")?;
        let n = ws.recv(a, &mut got, 0).at(S, "recv after DisconnectEx")?;
        ensure(
            n == 0,
            S,
            "the peer of DisconnectEx did not see end of stream",
        )?;

        // WSASendMsg / WSARecvMsg on datagrams.
        let r = open.socket(dgram, S, "datagram receiver")?;
        ws.bind(r, &(dgram.addr)(2)).at(S, "bind (receiver)")?;
        let to = ws.getsockname(r).at(S, "getsockname (receiver)")?;
        let d = open.socket(dgram, S, "datagram sender")?;
        ws.bind(d, &(dgram.addr)(3)).at(S, "bind (sender)")?;
        let from_expected = ws.getsockname(d).at(S, "getsockname (sender)")?;
        let mut to_bytes = to.to_bytes();
        let mut payload = *b"datagram";
        let mut send_buf = [WSABUF {
            len: payload.len() as u32,
            buf: payload.as_mut_ptr(),
        }];
        let mut send_msg = crate::ext::WSAMSG {
            name: to_bytes.as_mut_ptr().cast(),
            namelen: to_bytes.len() as i32,
            lpBuffers: send_buf.as_mut_ptr(),
            dwBufferCount: 1,
            Control: WSABUF::default(),
            dwFlags: 0,
        };
        reset(ovp);
        // SAFETY: the message and what it names outlive the operation.
        let rs = unsafe { ws.wsa_send_msg(d, &mut send_msg, 0, ovp, None) };
        finish(ws, d, rs.map(Some), ovp, ev, "WSASendMsg")?;
        let mut from = [0u8; 128];
        let mut recv_buf = [wsabuf(&mut got)];
        let mut recv_msg = crate::ext::WSAMSG {
            name: from.as_mut_ptr().cast(),
            namelen: from.len() as i32,
            lpBuffers: recv_buf.as_mut_ptr(),
            dwBufferCount: 1,
            Control: WSABUF::default(),
            dwFlags: 0,
        };
        reset(ovp);
        // SAFETY: the message and what it names outlive the operation.
        let rr = unsafe { ws.wsa_recv_msg(r, &mut recv_msg, ovp, None) };
        let n = finish(ws, r, rr.map(Some), ovp, ev, "WSARecvMsg")?;
        ensure(
            &got[..n as usize] == b"datagram",
            S,
            format_args!("WSARecvMsg received {:?}", &got[..n as usize]),
        )?;
        let sender = crate::SockAddr::from_bytes(&from[..recv_msg.namelen.max(0) as usize])
            .map_err(|e| format!("{}: WSARecvMsg wrote a malformed sender: {}", S, e))?;
        ensure(
            sender == from_expected,
            S,
            format_args!(
                "WSARecvMsg sender {:?}, expected {:?}",
                sender, from_expected
            ),
        )?;

        // WSARecvFrom pending with a completion routine, then WSASendTo: the routine runs in
        // this thread's alertable wait, once, and the sender is in the address buffer.
        // Leaked if the scenario fails with the receive pending; freed once it completed.
        let mut from_buf = ManuallyDrop::new(Box::new(crate::AddrBuf::new()));
        reset(ovp);
        forget_routine_calls(ovp);
        let b = [wsabuf(&mut got)];
        // SAFETY: the buffers, the address buffer and `ov` outlive the operation (awaited).
        match unsafe { ws.wsa_recv_from(r, &b, 0, &mut **from_buf, ovp, ROUTINE) } {
            Err(e) if e == WsaError::IO_PENDING => {}
            other => {
                return Err(format!(
                    "{}: WSARecvFrom with nothing queued: {:?}",
                    S, other
                ))
            }
        }
        let mut data = *b"to";
        let sb = [WSABUF {
            len: 2,
            buf: data.as_mut_ptr(),
        }];
        // SAFETY: a blocking send (no OVERLAPPED): the buffer is only used during the call.
        let n = unsafe { ws.wsa_send_to(d, &sb, 0, &to, core::ptr::null_mut(), None) }
            .at(S, "WSASendTo")?;
        ensure(n == 2, S, format_args!("WSASendTo sent {} bytes", n))?;
        ensure(
            alertable_until(ws, || !routine_calls(ovp).is_empty()),
            S,
            "the WSARecvFrom completion routine never ran",
        )?;
        ensure(
            routine_calls(ovp) == vec![(0, 2)] && &got[..2] == b"to",
            S,
            format_args!("WSARecvFrom routine calls {:?}", routine_calls(ovp)),
        )?;
        ensure(
            from_buf.addr("WSARecvFrom") == from_expected,
            S,
            "WSARecvFrom reported the wrong sender",
        )?;
        forget_routine_calls(ovp);
        // SAFETY: the receive completed (its routine ran); nothing refers to the buffer.
        unsafe { ManuallyDrop::drop(&mut from_buf) };
        open.close_all(S)
    })();
    let closed = ws.close_event(ev).at(S, "WSACloseEvent");
    result.and(closed)?;
    ensure(
        ws.outstanding_overlapped() == 0,
        S,
        format_args!("{} operations never completed", ws.outstanding_overlapped()),
    )?;
    // SAFETY: every operation completed (checked above).
    unsafe {
        ManuallyDrop::drop(&mut ov);
        ManuallyDrop::drop(&mut out);
        ManuallyDrop::drop(&mut got);
        ManuallyDrop::drop(&mut ov_accept);
    }
    baseline.check(ws, S)
}

/// How long a call may take before the scenario reports it as a hang.
const HANG_MS: u64 = 10_000;

/// Runs `f` on a thread of its own and waits up to [`HANG_MS`] for it. A call that has not
/// returned by then is a hang, which nothing can clean up after (closing the socket or
/// cleaning up would hang too): it is reported on stderr and the process exits with status 1.
fn within<T: Send + 'static>(
    scenario: &str,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(std::time::Duration::from_millis(HANG_MS)) {
        Ok(r) => Ok(r),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            // Written directly: a test harness's capture would lose it on exit.
            let _ = writeln!(
                std::io::stderr(),
                "{}: {} did not return within {} ms: a hang; exiting",
                scenario,
                what,
                HANG_MS
            );
            std::process::exit(1)
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err(format!("{}: {} panicked", scenario, what))
        }
    }
}

/// The call made on a socket while an overlapped receive waits on it.
#[derive(Copy, Clone, Debug)]
enum WhilePending {
    Shutdown(i32),
    SendDisconnect,
    DisconnectEx,
}

impl WhilePending {
    fn name(self) -> String {
        match self {
            WhilePending::Shutdown(how) => format!("WSAShutdown(how = {})", how),
            WhilePending::SendDisconnect => "WSPSendDisconnect".to_owned(),
            WhilePending::DisconnectEx => "DisconnectEx".to_owned(),
        }
    }

    /// Whether the socket still receives afterwards (the peer's data completes the receive).
    fn still_receives(self) -> bool {
        match self {
            WhilePending::Shutdown(how) => how == crate::sys::SD_SEND,
            WhilePending::SendDisconnect => true,
            WhilePending::DisconnectEx => false,
        }
    }

    /// Makes the call (`ov`: the address of DisconnectEx's OVERLAPPED).
    fn call(self, ws: &Ws2, s: SOCKET, ov: usize) -> Result<(), WsaError> {
        match self {
            WhilePending::Shutdown(how) => ws.shutdown(s, how),
            WhilePending::SendDisconnect => {
                let send_disconnect = ws
                    .spi_for(s)?
                    .table
                    .lpWSPSendDisconnect
                    .ok_or(WsaError::OPNOTSUPP)?;
                // SAFETY: a live socket and no disconnect data, as ws2_32 passes them.
                crate::check_int("WSPSendDisconnect", |e| unsafe {
                    send_disconnect(s, core::ptr::null(), e)
                })
                .map(drop)
            }
            WhilePending::DisconnectEx => {
                // SAFETY: the OVERLAPPED lives until the scenario has seen it complete.
                let r = unsafe { ws.disconnect_ex(s, ov as *mut OVERLAPPED, 0) };
                match r {
                    Err(e) if e == WsaError::IO_PENDING => Ok(()),
                    other => other,
                }
            }
        }
    }
}

/// Issue 15's deadlock: on a connected socket with an overlapped receive pending,
/// `shutdown(SD_RECEIVE)`, `shutdown(SD_SEND)`, `shutdown(SD_BOTH)`, `WSPSendDisconnect` and
/// `DisconnectEx` return, a later overlapped receive returns, data from the peer still
/// completes the pending receive where the socket still receives, and closing the socket
/// completes everything still pending, each exactly once. A provider that signals readiness
/// while holding its own lock must not make any of these hang.
pub fn shutdown_with_pending(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "overlapped::shutdown_with_pending";
    let baseline = Baseline::take(ws);
    let cases = [
        WhilePending::Shutdown(crate::sys::SD_RECEIVE),
        WhilePending::Shutdown(crate::sys::SD_SEND),
        WhilePending::Shutdown(crate::sys::SD_BOTH),
        WhilePending::SendDisconnect,
        WhilePending::DisconnectEx,
    ];
    for (n, case) in cases.iter().copied().enumerate() {
        let mut open = Open::new(ws);
        let (_, c, a, _) = super::stream::connected(ws, &mut open, t, n as u32, S)?;
        let evs = [
            ws.create_event().at(S, "WSACreateEvent")?,
            ws.create_event().at(S, "WSACreateEvent")?,
            ws.create_event().at(S, "WSACreateEvent")?,
        ];
        // Leaked if the scenario fails with an operation pending; freed once all completed.
        let mut bufs = ManuallyDrop::new(vec![vec![0u8; 16]; 2]);
        let mut ovs: ManuallyDrop<Vec<Box<OVERLAPPED>>> =
            ManuallyDrop::new((0..3).map(|_| Box::new(OVERLAPPED::default())).collect());
        for (o, &e) in ovs.iter_mut().zip(evs.iter()) {
            o.hEvent = e as _;
        }
        let p: Vec<*mut OVERLAPPED> = ovs
            .iter_mut()
            .map(|o| &mut **o as *mut OVERLAPPED)
            .collect();
        let wb: Vec<WSABUF> = bufs.iter_mut().map(|b| wsabuf(b)).collect();
        // SAFETY: the buffer and the OVERLAPPED outlive the operation (awaited below).
        match unsafe { ws.wsa_recv(a, &wb[0..1], 0, p[0], None) } {
            Err(e) if e == WsaError::IO_PENDING => {}
            other => {
                return Err(format!(
                    "{}: WSARecv with nothing to receive: expected WSA_IO_PENDING, got {:?}",
                    S, other
                ))
            }
        }
        let what = case.name();
        let (w, ov) = (ws.clone(), p[2] as usize);
        let r = within(S, &what, move || case.call(&w, a, ov))?;
        let disconnect_pending = matches!(case, WhilePending::DisconnectEx);
        r.at(S, &what)?;
        // A later receive returns too, pending or not.
        let (w, buf, ov) = (ws.clone(), wb[1].buf as usize, p[1] as usize);
        let later = within(S, "a later WSARecv", move || {
            let b = [WSABUF {
                len: 16,
                buf: buf as *mut u8,
            }];
            // SAFETY: the buffer and the OVERLAPPED outlive the operation (awaited below).
            unsafe { w.wsa_recv(a, &b, 0, ov as *mut OVERLAPPED, None) }
        })?;
        let later_started = match later {
            Ok(_) => true,
            Err(e) if e == WsaError::IO_PENDING => true,
            Err(_) => false,
        };
        if case.still_receives() {
            ws.send(c, b"ping", 0).at(S, "send (peer)")?;
            wait_event(
                ws,
                evs[0],
                5000,
                S,
                "the pending receive, after the peer sent",
            )?;
            let (got, _) = wsa_result(ws, a, p[0], false)
                .at(S, format_args!("{}: WSAGetOverlappedResult", what))?;
            ensure(
                got == 4 && bufs[0][..4] == *b"ping",
                S,
                format_args!("{}: the pending receive got {} bytes", what, got),
            )?;
        }
        let w = ws.clone();
        within(S, "closesocket", move || w.closesocket(a))?.at(S, "closesocket")?;
        open.forget(a);
        // Everything that was started completes (once: the stand-in checks).
        for (i, started) in [true, later_started, disconnect_pending].iter().enumerate() {
            if *started {
                wait_event(ws, evs[i], 5000, S, "a request pending at close")?;
                ensure(
                    internal(p[i]) != WSS_OPERATION_IN_PROGRESS,
                    S,
                    format_args!("{}: request {} still in progress after close", what, i),
                )?;
            }
        }
        ensure(
            ws.outstanding_overlapped() == 0,
            S,
            format_args!(
                "{}: {} operations never completed",
                what,
                ws.outstanding_overlapped()
            ),
        )?;
        open.close_all(S)?;
        for e in evs {
            ws.close_event(e).at(S, "WSACloseEvent")?;
        }
        // SAFETY: every operation completed (checked above); nothing refers to them any more.
        unsafe {
            ManuallyDrop::drop(&mut ovs);
            ManuallyDrop::drop(&mut bufs);
        }
    }
    baseline.check(ws, S)
}
