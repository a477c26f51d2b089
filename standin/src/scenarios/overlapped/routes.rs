//! The three completion routes of operations that finish at once: event, completion routine,
//! completion port.

use super::*;

/// Operations that finish at once are still notified through their route (as Windows does
/// without `FILE_SKIP_COMPLETION_PORT_ON_SUCCESS`): a `WSARecv`
/// with data queued returns the bytes AND sets its event / queues its completion routine
/// (run only in an alertable wait, exactly once) / posts a packet; a pending one returns
/// `WSA_IO_PENDING`, reports `WSA_IO_INCOMPLETE` until data arrives, then completes once.
pub fn routes(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "overlapped::routes";
    let baseline = Baseline::take(ws);
    let mut open = Open::new(ws);
    let (_, c, s, _) = crate::scenarios::support::connected(ws, &mut open, t, 0, S)?;
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
