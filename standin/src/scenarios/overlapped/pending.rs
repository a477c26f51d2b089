//! Closing and shutting down sockets with operations pending: every operation completes
//! once, none hangs.

use super::*;
use crate::sys::XP1_IFS_HANDLES;

/// Closing sockets with operations pending completes each exactly once with
/// `WSA_OPERATION_ABORTED`, through its route: an event receive and a completion-routine
/// receive on one socket, a receive on another and an `AcceptEx` on a listener, both sockets
/// associated with a completion port. For a non-IFS target the port gets one packet for each
/// of the last two; for an IFS target (`XP1_IFS_HANDLES`) it gets none, as completion ports of
/// IFS sockets are the OS's business (docs/overlapped.md, "Routes"), and their events tell
/// instead. Nothing is left outstanding and no handle leaks.
pub fn close_with_pending(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "overlapped::close_with_pending";
    let aborted = WsaError::OPERATION_ABORTED.code() as u32;
    let baseline = Baseline::take(ws);
    let ifs = ws
        .spi(t.af, t.ty, t.protocol)
        .at(S, "finding the provider entry")?
        .info
        .dwServiceFlags1
        & XP1_IFS_HANDLES
        != 0;
    let mut open = Open::new(ws);
    let (_, _c1, a, _) = crate::scenarios::support::connected(ws, &mut open, t, 0, S)?;
    let (_, _c2, b, _) = crate::scenarios::support::connected(ws, &mut open, t, 1, S)?;
    let (l, _) = listener(ws, &mut open, t, 2, 8, S)?;
    let acc = open.socket(t, S, "accept socket")?;
    let port = ws
        .create_io_completion_port(None, Some(b), 2)
        .at(S, "CreateIoCompletionPort (b)")?;
    ws.create_io_completion_port(Some(port), Some(l), 3)
        .at(S, "CreateIoCompletionPort (listener)")?;
    let ev = ws.create_event().at(S, "WSACreateEvent")?;
    // An IFS target's port-associated operations complete by event: one each.
    let port_events = if ifs {
        vec![
            ws.create_event().at(S, "WSACreateEvent")?,
            ws.create_event().at(S, "WSACreateEvent")?,
        ]
    } else {
        Vec::new()
    };

    // Leaked if the scenario fails with an operation pending (the provider may still write
    // them); freed at the end of a successful run.
    let mut bufs = ManuallyDrop::new(vec![vec![0u8; 2 * ADDR_SLOT as usize]; 4]);
    let mut ovs: ManuallyDrop<Vec<Box<OVERLAPPED>>> =
        ManuallyDrop::new((0..4).map(|_| Box::new(OVERLAPPED::default())).collect());
    ovs[0].hEvent = ev as _;
    for (o, &e) in ovs[2..].iter_mut().zip(port_events.iter()) {
        o.hEvent = e as _;
    }
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
    if ifs {
        // No packet for an IFS socket; the events tell, with the results in the OVERLAPPEDs.
        for (i, &e) in port_events.iter().enumerate() {
            let o = p[2 + i];
            wait_event(
                ws,
                e,
                5000,
                S,
                "aborted operation of a port-associated IFS socket",
            )?;
            ensure(
                internal(o) == aborted as usize,
                S,
                format_args!(
                    "aborted operation {} of a port-associated IFS socket: Internal = {:#x}",
                    2 + i,
                    internal(o)
                ),
            )?;
        }
        ensure(
            ws.get_queued_completion_status(port, 100)
                .at(S, "GetQueuedCompletionStatus")?
                .is_none(),
            S,
            "a packet was posted for an IFS socket's operation",
        )?;
    } else {
        port_packets(ws, port, [p[2], p[3]], aborted, S)?;
    }
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
    for e in port_events.into_iter().chain(Some(ev)) {
        ws.close_event(e).at(S, "WSACloseEvent")?;
    }
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

/// The completion port route of two aborted operations (keys 2 and 3): one packet each, then
/// nothing more.
fn port_packets(
    ws: &Ws2,
    port: CompletionPort,
    ops: [*mut OVERLAPPED; 2],
    aborted: u32,
    scenario: &str,
) -> Result<(), String> {
    let mut seen = Vec::new();
    for _ in 0..2 {
        let c = ws
            .get_queued_completion_status(port, 5000)
            .at(scenario, "GetQueuedCompletionStatus")?
            .ok_or_else(|| format!("{}: an aborted operation posted no packet", scenario))?;
        seen.push((c.overlapped as usize, c.key, c.error, c.bytes));
    }
    seen.sort_unstable();
    let mut want = vec![
        (ops[0] as usize, 2, aborted, 0),
        (ops[1] as usize, 3, aborted, 0),
    ];
    want.sort_unstable();
    ensure(
        seen == want,
        scenario,
        format_args!("packets {:?}, expected {:?}", seen, want),
    )?;
    // Exactly once: nothing more arrives.
    ensure(
        ws.get_queued_completion_status(port, 100)
            .at(scenario, "GetQueuedCompletionStatus")?
            .is_none(),
        scenario,
        "a second packet for an aborted operation",
    )
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
        let (_, c, a, _) = crate::scenarios::support::connected(ws, &mut open, t, n as u32, S)?;
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
                &format!("{}: the pending receive, after the peer sent", what),
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
