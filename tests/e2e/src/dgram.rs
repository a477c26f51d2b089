//! Notification, overlapped and duplication scenarios for datagram entries of any family (the
//! stand-in's `notify`, `overlapped` and `duplicate` scenarios need a stream entry).
//!
//! Each binds its sockets to addresses from the [`Target`] and learns peers' addresses with
//! `getsockname`, so any address format works. Each returns `Err(words)` naming the scenario,
//! the step, the call and the WSA code.

use std::mem::ManuallyDrop;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use winsock_provider::sys::{
    FD_READ, FD_READ_BIT, FD_WRITE, FD_WRITE_BIT, LPWSAOVERLAPPED_COMPLETION_ROUTINE, OVERLAPPED,
    SOCKET, WSABUF, WSAEVENT,
};
use ws2_standin::scenarios::Target;
use ws2_standin::{AddrBuf, SockAddr, Ws2, WsaError, WSA_WAIT_EVENT_0, WSA_WAIT_TIMEOUT};

/// How long a step waits for something that should happen at once.
const WAIT_MS: u32 = 5_000;
/// How long a step waits to see that something does not happen.
const QUIET_MS: u32 = 150;

/// A call's result, or the words saying which step failed.
fn at<T>(r: Result<T, WsaError>, scenario: &str, step: &str) -> Result<T, String> {
    r.map_err(|e| format!("{}: {}: failed with {}", scenario, step, e))
}

/// `Err(words)` unless `ok`.
fn ensure(ok: bool, scenario: &str, what: impl std::fmt::Display) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{}: {}", scenario, what))
    }
}

/// The sockets a scenario opened, closed at the end whether it passed or not.
struct Open<'a> {
    ws: &'a Ws2,
    sockets: Vec<SOCKET>,
}

impl<'a> Open<'a> {
    fn new(ws: &'a Ws2) -> Open<'a> {
        Open {
            ws,
            sockets: Vec::new(),
        }
    }

    /// A socket of the target bound to its address number `n`, and that address as the
    /// provider reports it.
    fn bound(&mut self, t: &Target, n: u32, scenario: &str) -> Result<(SOCKET, SockAddr), String> {
        let s = at(self.ws.socket(t.af, t.ty, t.protocol), scenario, "socket")?;
        self.sockets.push(s);
        at(self.ws.bind(s, &(t.addr)(n)), scenario, "bind")?;
        let name = at(self.ws.getsockname(s), scenario, "getsockname (bound)")?;
        Ok((s, name))
    }

    /// Closes `s` now (a step of the scenario).
    fn close(&mut self, s: SOCKET, scenario: &str, what: &str) -> Result<(), String> {
        self.sockets.retain(|&x| x != s);
        at(
            self.ws.closesocket(s),
            scenario,
            &format!("closesocket ({})", what),
        )
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        for s in self.sockets.drain(..) {
            let _ = self.ws.closesocket(s);
        }
    }
}

/// Receives one datagram on `s` and checks its bytes and sender.
fn expect_datagram(
    ws: &Ws2,
    s: SOCKET,
    want: &[u8],
    from: &SockAddr,
    scenario: &str,
) -> Result<(), String> {
    let mut buf = [0u8; 64];
    let (n, sender) = at(ws.recvfrom(s, &mut buf, 0), scenario, "recvfrom")?;
    ensure(
        &buf[..n] == want && sender == *from,
        scenario,
        format_args!(
            "recvfrom: expected {:?} from {:?}, got {:?} from {:?}",
            String::from_utf8_lossy(want),
            from,
            String::from_utf8_lossy(&buf[..n]),
            sender
        ),
    )
}

fn send(ws: &Ws2, s: SOCKET, data: &[u8], to: &SockAddr, scenario: &str) -> Result<(), String> {
    let n = at(ws.sendto(s, data, 0, to), scenario, "sendto")?;
    ensure(
        n == data.len(),
        scenario,
        format_args!("sendto: sent {} of {} bytes", n, data.len()),
    )
}

/// Waits for `ev`; `Ok(true)` if it was set within `ms`.
fn event_set(ws: &Ws2, ev: WSAEVENT, ms: u32, scenario: &str) -> Result<bool, String> {
    let r = at(
        ws.wait_for_multiple_events(&[ev], false, ms, false),
        scenario,
        "WSAWaitForMultipleEvents",
    )?;
    match r {
        WSA_WAIT_EVENT_0 => Ok(true),
        WSA_WAIT_TIMEOUT => Ok(false),
        other => Err(format!(
            "{}: WSAWaitForMultipleEvents returned {:#x}",
            scenario, other
        )),
    }
}

/// `select` with only `r` in the read set (or only `w` in the write set): whether it is ready.
fn selected(
    ws: &Ws2,
    read: Option<SOCKET>,
    write: Option<SOCKET>,
    ms: u64,
    scenario: &str,
) -> Result<bool, String> {
    let mut r: Vec<SOCKET> = read.into_iter().collect();
    let mut w: Vec<SOCKET> = write.into_iter().collect();
    let n = at(
        ws.select(
            &mut r,
            &mut w,
            &mut Vec::new(),
            Some(Duration::from_millis(ms)),
        ),
        scenario,
        "select",
    )?;
    Ok(n == 1)
}

/// Every notification model on datagram sockets: `select` reports a socket writable at once
/// and readable only while a datagram waits; `WSAEventSelect` reports `FD_WRITE` at once and
/// one `FD_READ` per arrival, re-enabled by `recvfrom` while datagrams remain (none once all
/// are read), with error 0; `WSAAsyncSelect` posts one `FD_READ` message naming the socket.
pub fn notify(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "datagram::notify";
    let mut open = Open::new(ws);
    let (r, to) = open.bound(t, 0, S)?;
    let (s, from) = open.bound(t, 1, S)?;

    // select
    ensure(
        !selected(ws, Some(r), None, 0, S)?,
        S,
        "select: a socket with nothing queued is readable",
    )?;
    ensure(
        selected(ws, None, Some(s), 0, S)?,
        S,
        "select: a bound datagram socket is not writable (signal Ready::WRITE in `attached`, and report WRITE from `readiness`)",
    )?;
    send(ws, s, b"one", &to, S)?;
    ensure(
        selected(ws, Some(r), None, u64::from(WAIT_MS), S)?,
        S,
        "select: a socket with a datagram queued is not readable (signal Ready::READ when one arrives)",
    )?;
    expect_datagram(ws, r, b"one", &from, S)?;
    ensure(
        !selected(ws, Some(r), None, 0, S)?,
        S,
        "select: still readable after the only datagram was read (`readiness` must say READ only while one is queued)",
    )?;

    // WSAEventSelect
    let ev = at(ws.create_event(), S, "WSACreateEvent")?;
    let result = (|| {
        at(
            ws.wsa_event_select(r, ev, FD_READ | FD_WRITE),
            S,
            "WSAEventSelect",
        )?;
        ensure(
            event_set(ws, ev, WAIT_MS, S)?,
            S,
            "WSAEventSelect: FD_WRITE not reported for a writable socket",
        )?;
        let ne = at(ws.wsa_enum_network_events(r, ev), S, "WSAEnumNetworkEvents")?;
        ensure(
            ne.lNetworkEvents as u32 == FD_WRITE && ne.iErrorCode[FD_WRITE_BIT] == 0,
            S,
            format_args!(
                "WSAEnumNetworkEvents after WSAEventSelect: events {:#x} (FD_WRITE alone expected), FD_WRITE error {}",
                ne.lNetworkEvents, ne.iErrorCode[FD_WRITE_BIT]
            ),
        )?;
        send(ws, s, b"two", &to, S)?;
        send(ws, s, b"three", &to, S)?;
        ensure(
            event_set(ws, ev, WAIT_MS, S)?,
            S,
            "WSAEventSelect: no event for an arriving datagram",
        )?;
        let ne = at(ws.wsa_enum_network_events(r, ev), S, "WSAEnumNetworkEvents")?;
        ensure(
            ne.lNetworkEvents as u32 & FD_READ != 0 && ne.iErrorCode[FD_READ_BIT] == 0,
            S,
            format_args!(
                "WSAEnumNetworkEvents after a datagram arrived: events {:#x}, FD_READ error {}",
                ne.lNetworkEvents, ne.iErrorCode[FD_READ_BIT]
            ),
        )?;
        ensure(
            !event_set(ws, ev, QUIET_MS, S)?,
            S,
            "WSAEventSelect: FD_READ reported again before recvfrom re-enabled it",
        )?;
        expect_datagram(ws, r, b"two", &from, S)?;
        ensure(
            event_set(ws, ev, WAIT_MS, S)?,
            S,
            "WSAEventSelect: recvfrom with a datagram still queued did not report FD_READ again",
        )?;
        let ne = at(ws.wsa_enum_network_events(r, ev), S, "WSAEnumNetworkEvents")?;
        ensure(
            ne.lNetworkEvents as u32 & FD_READ != 0,
            S,
            format_args!(
                "WSAEnumNetworkEvents with a datagram queued: events {:#x}",
                ne.lNetworkEvents
            ),
        )?;
        expect_datagram(ws, r, b"three", &from, S)?;
        ensure(
            !event_set(ws, ev, QUIET_MS, S)?,
            S,
            "WSAEventSelect: FD_READ reported with nothing queued (`readiness` must say READ only while a datagram is queued)",
        )?;

        // WSAAsyncSelect (replaces the event selection).
        const WM: u32 = 0x0400 + 40;
        let w = ws.create_window();
        let result = (|| {
            at(ws.wsa_async_select(r, w, WM, FD_READ), S, "WSAAsyncSelect")?;
            send(ws, s, b"four", &to, S)?;
            let m = at(
                ws.get_message(w, Some(Duration::from_millis(u64::from(WAIT_MS)))),
                S,
                "GetMessage",
            )?
            .ok_or_else(|| format!("{}: WSAAsyncSelect: no message for an arriving datagram", S))?;
            ensure(
                m.msg == WM && m.wparam == r && m.select_event() == FD_READ && m.select_error() == 0,
                S,
                format_args!(
                    "WSAAsyncSelect: message {:#x} for socket {:#x}, event {:#x}, error {} (expected {:#x}, {:#x}, FD_READ, 0)",
                    m.msg,
                    m.wparam,
                    m.select_event(),
                    m.select_error(),
                    WM,
                    r
                ),
            )?;
            let again = at(
                ws.get_message(w, Some(Duration::from_millis(u64::from(QUIET_MS)))),
                S,
                "GetMessage",
            )?;
            ensure(
                again.is_none(),
                S,
                "WSAAsyncSelect: a second FD_READ message before recvfrom re-enabled it",
            )?;
            expect_datagram(ws, r, b"four", &from, S)
        })();
        open.close(r, S, "receiver")?;
        at(ws.destroy_window(w), S, "DestroyWindow")?;
        result
    })();
    open.close(s, S, "sender")?;
    at(ws.close_event(ev), S, "WSACloseEvent")?;
    result
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

/// The routine calls recorded for `ov` (and forgets them).
fn take_routine_calls(ov: *const OVERLAPPED) -> Vec<(u32, u32)> {
    let mut calls = ROUTINE_CALLS.lock().unwrap_or_else(|e| e.into_inner());
    let mine = calls
        .iter()
        .filter(|c| c.0 == ov as usize)
        .map(|c| (c.1, c.2))
        .collect();
    calls.retain(|c| c.0 != ov as usize);
    mine
}

/// One overlapped `WSARecvFrom`: its buffer, `OVERLAPPED` and sender buffer, on the heap so
/// they stay put while the provider may write them.
struct Receive {
    buf: [u8; 64],
    from: AddrBuf,
    ov: OVERLAPPED,
}

impl Receive {
    /// Starts `WSARecvFrom` on `s`, expecting `WSA_IO_PENDING` (nothing is queued).
    fn start(
        &mut self,
        ws: &Ws2,
        s: SOCKET,
        event: WSAEVENT,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
        scenario: &str,
        route: &str,
    ) -> Result<(), String> {
        self.ov = OVERLAPPED::default();
        self.ov.hEvent = event as _;
        self.from = AddrBuf::new();
        let bufs = [WSABUF {
            len: self.buf.len() as u32,
            buf: self.buf.as_mut_ptr(),
        }];
        // SAFETY: the buffer, the sender buffer and the OVERLAPPED live in this `Receive`,
        // which the scenario keeps (leaks, if it fails) until the operation completed.
        let r = unsafe { ws.wsa_recv_from(s, &bufs, 0, &mut self.from, &mut self.ov, routine) };
        match r {
            Err(e) if e == WsaError::IO_PENDING => Ok(()),
            other => Err(format!(
                "{}: overlapped WSARecvFrom ({}) with nothing queued: expected WSA_IO_PENDING, got {:?} (a receive the runtime retries runs with `s.nonblocking()` true: return WsaError::WOULDBLOCK then, never wait)",
                scenario, route, other
            )),
        }
    }

    /// `WSAGetOverlappedResult(s, ov, FALSE)`.
    fn result(&self, ws: &Ws2, s: SOCKET) -> Result<(u32, u32), WsaError> {
        // SAFETY: `ov` is the OVERLAPPED of an operation started on `s` by `start`.
        unsafe { ws.wsa_get_overlapped_result(s, &self.ov, false) }
    }

    /// Checks the completed receive got `want` from `sender`.
    fn check(
        &self,
        n: u32,
        want: &[u8],
        sender: &SockAddr,
        scenario: &str,
        route: &str,
    ) -> Result<(), String> {
        let got = &self.buf[..(n as usize).min(self.buf.len())];
        let from = self.from.addr("WSARecvFrom");
        ensure(
            got == want && from == *sender,
            scenario,
            format_args!(
                "{}: the receive completed with {:?} from {:?}, expected {:?} from {:?}",
                route,
                String::from_utf8_lossy(got),
                from,
                String::from_utf8_lossy(want),
                sender
            ),
        )
    }
}

/// Overlapped `WSARecvFrom` on datagram sockets through every completion route: pending until
/// a datagram arrives (`WSA_IO_INCOMPLETE` meanwhile), then completed once with the datagram
/// and its sender by event, by completion routine (only in an alertable wait) and, when
/// `port` (non-IFS providers), by completion port; a receive pending when its socket closes
/// completes with `WSA_OPERATION_ABORTED`.
pub fn overlapped(ws: &Ws2, t: &Target, port: bool) -> Result<(), String> {
    const S: &str = "datagram::overlapped";
    let mut open = Open::new(ws);
    let (r, to) = open.bound(t, 0, S)?;
    let (s, from) = open.bound(t, 1, S)?;
    let ev = at(ws.create_event(), S, "WSACreateEvent")?;
    // Leaked if the scenario fails with the receive pending (the provider may still write it).
    let mut op = ManuallyDrop::new(Box::new(Receive {
        buf: [0; 64],
        from: AddrBuf::new(),
        ov: OVERLAPPED::default(),
    }));

    // Event.
    op.start(ws, r, ev, None, S, "event")?;
    match op.result(ws, r) {
        Err(e) if e == WsaError::IO_INCOMPLETE => {}
        other => {
            return Err(format!(
            "{}: WSAGetOverlappedResult of a pending receive: expected WSA_IO_INCOMPLETE, got {:?}",
            S, other
        ))
        }
    }
    send(ws, s, b"event", &to, S)?;
    ensure(
        event_set(ws, ev, WAIT_MS, S)?,
        S,
        "event route: the receive never completed after a datagram arrived (signal Ready::READ when one arrives)",
    )?;
    let (n, _) = at(op.result(ws, r), S, "WSAGetOverlappedResult (event)")?;
    op.check(n, b"event", &from, S, "event route")?;
    at(ws.reset_event(ev), S, "WSAResetEvent")?;

    // Completion routine.
    op.start(ws, r, 0 as WSAEVENT, ROUTINE, S, "completion routine")?;
    send(ws, s, b"routine", &to, S)?;
    let ovp: *const OVERLAPPED = &op.ov;
    let start = Instant::now();
    let mut calls = Vec::new();
    while calls.is_empty() && start.elapsed() < Duration::from_millis(u64::from(WAIT_MS)) {
        ws.sleep_ex(50, true);
        calls = take_routine_calls(ovp);
    }
    ensure(
        calls.len() == 1 && calls[0].0 == 0,
        S,
        format_args!(
            "completion routine route: calls (error, bytes) {:?}, expected one with error 0",
            calls
        ),
    )?;
    op.check(calls[0].1, b"routine", &from, S, "completion routine route")?;
    ws.sleep_ex(QUIET_MS, true);
    ensure(
        take_routine_calls(ovp).is_empty(),
        S,
        "completion routine route: the routine ran twice",
    )?;

    // Completion port.
    let mut cport = None;
    if port {
        let p = at(
            ws.create_io_completion_port(None, Some(r), 9),
            S,
            "CreateIoCompletionPort",
        )?;
        cport = Some(p);
        op.start(ws, r, 0 as WSAEVENT, None, S, "completion port")?;
        send(ws, s, b"port", &to, S)?;
        let packet = at(
            ws.get_queued_completion_status(p, WAIT_MS),
            S,
            "GetQueuedCompletionStatus",
        )?
        .ok_or_else(|| {
            format!(
                "{}: completion port route: no packet after a datagram arrived",
                S
            )
        })?;
        ensure(
            packet.key == 9 && std::ptr::eq(packet.overlapped, ovp) && packet.error == 0,
            S,
            format_args!("completion port route: packet {:?}", packet),
        )?;
        op.check(packet.bytes, b"port", &from, S, "completion port route")?;
    }

    // Closed with the receive pending.
    let (c, _) = open.bound(t, 2, S)?;
    op.start(ws, c, ev, None, S, "closed while pending")?;
    open.close(c, S, "socket with a receive pending")?;
    ensure(
        event_set(ws, ev, WAIT_MS, S)?,
        S,
        "a receive pending when its socket closed never completed (wake and fail blocked work in `close`)",
    )?;
    match op.ov.Internal as i32 {
        code if code == WsaError::OPERATION_ABORTED.code() => {}
        code => {
            return Err(format!(
                "{}: a receive pending when its socket closed completed with {}, expected WSA_OPERATION_ABORTED",
                S,
                WsaError::from_code(code)
            ))
        }
    }

    open.close(r, S, "receiver")?;
    open.close(s, S, "sender")?;
    if let Some(p) = cport {
        at(ws.close_completion_port(p), S, "CloseHandle (port)")?;
    }
    at(ws.close_event(ev), S, "WSACloseEvent")?;
    ensure(
        ws.outstanding_overlapped() == 0,
        S,
        "overlapped operations left outstanding",
    )?;
    // SAFETY: every operation completed (checked above); nothing refers to `op` any more.
    unsafe { ManuallyDrop::drop(&mut op) };
    Ok(())
}

/// A bound datagram socket shared within the process (`WSADuplicateSocket` for this process,
/// `WSASocket(FROM_PROTOCOL_INFO)`): datagrams to its address reach the duplicate, also after
/// the original is closed. `Ok(Some(note))` when the provider does not share sockets
/// (`WSAEOPNOTSUPP`, the default of `Provider::duplicate_socket`).
pub fn duplicate(ws: &Ws2, t: &Target) -> Result<Option<String>, String> {
    const S: &str = "datagram::duplicate";
    let mut open = Open::new(ws);
    let (r, to) = open.bound(t, 0, S)?;
    let (s, from) = open.bound(t, 1, S)?;
    let info = match ws.duplicate_socket(r, std::process::id()) {
        Ok(info) => info,
        Err(e) if e == WsaError::OPNOTSUPP => {
            return Ok(Some(
                "not supported: WSADuplicateSocket fails with WSAEOPNOTSUPP (implement Provider::duplicate_socket and socket_from_duplicate to share sockets)".to_owned(),
            ))
        }
        Err(e) => return Err(format!("{}: WSADuplicateSocket: failed with {}", S, e)),
    };
    let d = at(
        ws.socket_from_info(&info),
        S,
        "WSASocket(FROM_PROTOCOL_INFO)",
    )?;
    open.sockets.push(d);
    ensure(d != r, S, "the duplicate got the original's handle")?;
    send(ws, s, b"to both", &to, S)?;
    expect_datagram(ws, d, b"to both", &from, S)?;
    open.close(r, S, "original")?;
    send(ws, s, b"to the duplicate", &to, S)?;
    expect_datagram(ws, d, b"to the duplicate", &from, S)?;
    open.close(d, S, "duplicate")?;
    open.close(s, S, "sender")?;
    Ok(None)
}
