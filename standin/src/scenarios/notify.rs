//! Network event notification scenarios: an echo server driven by `WSAEventSelect` +
//! `WSAWaitForMultipleEvents` + `WSAEnumNetworkEvents`, one driven by `select` over
//! non-blocking sockets, and the order and re-enabling of `WSAAsyncSelect` messages.
//!
//! The [`Target`] must name a stream protocol entry.

use super::stream::{echo_client, ensure, listener, set_nonblocking, At, Baseline, Open};
use super::Target;
use crate::sys::{
    FD_ACCEPT, FD_CLOSE, FD_CONNECT, FD_READ, FD_WRITE, SD_SEND, SOCKET, SOMAXCONN_WS2, WSAEVENT,
    WSANETWORKEVENTS,
};
use crate::{Message, Window, Ws2, WsaError, WSA_WAIT_TIMEOUT};
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

/// How long a server waits for any event before declaring itself stuck.
const STUCK_MS: u32 = 60_000;

/// `FD_*_BIT`: the index of an event's error code in `WSANETWORKEVENTS.iErrorCode`.
fn bit(event: u32) -> usize {
    event.trailing_zeros() as usize
}

/// Checks that every event reported in `ne` has error code 0.
fn no_errors(ne: &WSANETWORKEVENTS, scenario: &str, what: &str) -> Result<(), String> {
    for ev in [FD_READ, FD_WRITE, FD_ACCEPT, FD_CONNECT, FD_CLOSE] {
        if ne.lNetworkEvents as u32 & ev != 0 && ne.iErrorCode[bit(ev)] != 0 {
            return Err(format!(
                "{}: {}: event {:#x} reported with error {}",
                scenario,
                what,
                ev,
                WsaError::from_code(ne.iErrorCode[bit(ev)])
            ));
        }
    }
    Ok(())
}

/// One connection of a non-blocking echo server.
struct Echo {
    s: SOCKET,
    event: WSAEVENT,
    out: Vec<u8>,
    eof: bool,
}

/// Moves data until the socket would block: sends what is queued, then receives; true once
/// the peer finished and everything was echoed.
fn pump(ws: &Ws2, c: &mut Echo, buf: &mut [u8], scenario: &str) -> Result<bool, String> {
    loop {
        while !c.out.is_empty() {
            match ws.send(c.s, &c.out, 0) {
                Ok(n) => {
                    c.out.drain(..n);
                }
                Err(e) if e == WsaError::WOULDBLOCK => return Ok(false),
                Err(e) => return Err(format!("{}: send: failed with {}", scenario, e)),
            }
        }
        if c.eof {
            return Ok(true);
        }
        match ws.recv(c.s, buf, 0) {
            Ok(0) => c.eof = true,
            Ok(n) => c.out.extend_from_slice(&buf[..n]),
            Err(e) if e == WsaError::WOULDBLOCK => return Ok(false),
            Err(e) => return Err(format!("{}: recv: failed with {}", scenario, e)),
        }
    }
}

/// Runs `server` on its own thread and `clients` echo clients (each `bytes_each` bytes, every
/// byte checked) against listener `l` at `addr`. If the server fails, the listener is closed
/// (resetting connections it never accepted) so that no client waits forever.
#[allow(clippy::too_many_arguments)]
fn with_clients(
    ws: &Ws2,
    t: &Target,
    open: &mut Open<'_>,
    l: SOCKET,
    addr: &crate::SockAddr,
    clients: usize,
    bytes_each: usize,
    scenario: &str,
    server: impl FnOnce() -> Result<(), String> + Send,
) -> Result<(), String> {
    let connected = AtomicUsize::new(0);
    let mut problems = Vec::new();
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..clients)
            .map(|id| {
                let connected = &connected;
                scope.spawn(move || echo_client(ws, t, addr, id, bytes_each, connected))
            })
            .collect();
        // The server's failure explains the clients' (reset connections), so it goes first.
        match scope.spawn(server).join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => problems.push(e),
            Err(_) => problems.push(format!("{}: the server panicked", scenario)),
        }
        if !problems.is_empty() {
            let _ = open.close(l, scenario, "listener (the server failed)");
        }
        for (id, c) in threads.into_iter().enumerate() {
            match c.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(e),
                Err(_) => problems.push(format!("{}: client {} panicked", scenario, id)),
            }
        }
    });
    match problems.first() {
        None => Ok(()),
        Some(first) if problems.len() == 1 => Err(first.clone()),
        Some(first) => Err(format!(
            "{} (and {} more failures: {})",
            first,
            problems.len() - 1,
            problems[1..].join("; ")
        )),
    }
}

/// An echo server on one thread driven by `WSAEventSelect`: an event per socket
/// (`FD_ACCEPT|FD_CLOSE` on the listener, `FD_READ|FD_WRITE|FD_CLOSE` on each connection),
/// `WSAWaitForMultipleEvents` over all of them, `WSAEnumNetworkEvents` to learn and reset
/// what happened (every error code must be 0), non-blocking I/O until `WSAEWOULDBLOCK` (which
/// re-enables the event). `clients` (at most 63) blocking clients check every byte.
pub fn event_select_echo(
    ws: &Ws2,
    t: &Target,
    clients: usize,
    bytes_each: usize,
) -> Result<(), String> {
    const S: &str = "notify::event_select_echo";
    let baseline = Baseline::take(ws);
    let mut open = Open::new(ws);
    let (l, addr) = listener(ws, &mut open, t, 0, SOMAXCONN_WS2, S)?;
    let le = ws.create_event().at(S, "WSACreateEvent")?;
    ws.wsa_event_select(l, le, FD_ACCEPT | FD_CLOSE)
        .at(S, "WSAEventSelect (listener)")?;
    let server = || -> Result<(), String> {
        let mut conns: Vec<Echo> = Vec::new();
        let mut done = 0;
        let mut buf = vec![0u8; 64 * 1024];
        let result = (|| {
            while done < clients {
                let events: Vec<WSAEVENT> = Some(le)
                    .into_iter()
                    .chain(conns.iter().map(|c| c.event))
                    .collect();
                let r = ws
                    .wait_for_multiple_events(&events, false, STUCK_MS, false)
                    .at(S, "WSAWaitForMultipleEvents")?;
                if r == WSA_WAIT_TIMEOUT {
                    return Err(format!(
                        "{}: no network event for {} ms ({} of {} connections done); \
                         connections (output queued, end seen, FIONREAD): {:?}",
                        S,
                        STUCK_MS,
                        done,
                        clients,
                        conns
                            .iter()
                            .map(|c| (c.out.len(), c.eof, super::stream::readable(ws, c.s).ok()))
                            .collect::<Vec<_>>()
                    ));
                }
                ensure(
                    (r as usize) < events.len(),
                    S,
                    format_args!("wait returned {:#x}", r),
                )?;
                let ne = ws
                    .wsa_enum_network_events(l, le)
                    .at(S, "WSAEnumNetworkEvents (listener)")?;
                no_errors(&ne, S, "listener")?;
                if ne.lNetworkEvents as u32 & FD_ACCEPT != 0 {
                    loop {
                        match ws.accept(l) {
                            Ok((s, _)) => {
                                let event = ws.create_event().at(S, "WSACreateEvent")?;
                                conns.push(Echo {
                                    s,
                                    event,
                                    out: Vec::new(),
                                    eof: false,
                                });
                                ws.wsa_event_select(s, event, FD_READ | FD_WRITE | FD_CLOSE)
                                    .at(S, "WSAEventSelect (connection)")?;
                            }
                            Err(e) if e == WsaError::WOULDBLOCK => break,
                            Err(e) => return Err(format!("{}: accept: failed with {}", S, e)),
                        }
                    }
                }
                let mut i = 0;
                while i < conns.len() {
                    let ne = ws
                        .wsa_enum_network_events(conns[i].s, conns[i].event)
                        .at(S, "WSAEnumNetworkEvents (connection)")?;
                    no_errors(&ne, S, "connection")?;
                    if ne.lNetworkEvents != 0 && pump(ws, &mut conns[i], &mut buf, S)? {
                        let c = conns.swap_remove(i);
                        ws.closesocket(c.s).at(S, "closesocket (connection)")?;
                        ws.close_event(c.event).at(S, "WSACloseEvent")?;
                        done += 1;
                        continue;
                    }
                    i += 1;
                }
            }
            Ok(())
        })();
        for c in conns {
            let _ = ws.closesocket(c.s);
            let _ = ws.close_event(c.event);
        }
        result
    };
    let r = with_clients(ws, t, &mut open, l, &addr, clients, bytes_each, S, server);
    let closed = open.close_all(S);
    let event_closed = ws.close_event(le).at(S, "WSACloseEvent (listener)");
    r.and(closed).and(event_closed)?;
    baseline.check(ws, S)
}

/// An echo server on one thread driven by `select` with time-outs over non-blocking sockets:
/// the listener and every connection that may take more input in the read set, every
/// connection with output queued in the write set. `clients` (at most 63) blocking clients
/// check every byte.
pub fn select_echo(ws: &Ws2, t: &Target, clients: usize, bytes_each: usize) -> Result<(), String> {
    const S: &str = "notify::select_echo";
    let baseline = Baseline::take(ws);
    let mut open = Open::new(ws);
    let (l, addr) = listener(ws, &mut open, t, 0, SOMAXCONN_WS2, S)?;
    set_nonblocking(ws, l, true).at(S, "FIONBIO (listener)")?;
    let server = || -> Result<(), String> {
        let mut conns: Vec<Echo> = Vec::new();
        let mut done = 0;
        let mut idle = Duration::ZERO;
        let mut buf = vec![0u8; 64 * 1024];
        let result = (|| {
            while done < clients {
                let mut read: Vec<SOCKET> = Some(l)
                    .into_iter()
                    .chain(
                        conns
                            .iter()
                            .filter(|c| c.out.len() < 256 * 1024)
                            .map(|c| c.s),
                    )
                    .collect();
                let mut write: Vec<SOCKET> = conns
                    .iter()
                    .filter(|c| !c.out.is_empty())
                    .map(|c| c.s)
                    .collect();
                let mut except = Vec::new();
                let step = Duration::from_millis(500);
                let n = ws
                    .select(&mut read, &mut write, &mut except, Some(step))
                    .at(S, "select")?;
                if n == 0 {
                    idle += step;
                    ensure(
                        idle < Duration::from_millis(u64::from(STUCK_MS)),
                        S,
                        format_args!("select found nothing ready for {:?}", idle),
                    )?;
                    continue;
                }
                idle = Duration::ZERO;
                if read.contains(&l) {
                    loop {
                        match ws.accept(l) {
                            Ok((s, _)) => {
                                conns.push(Echo {
                                    s,
                                    event: 0,
                                    out: Vec::new(),
                                    eof: false,
                                });
                                set_nonblocking(ws, s, true).at(S, "FIONBIO (connection)")?;
                            }
                            Err(e) if e == WsaError::WOULDBLOCK => break,
                            Err(e) => return Err(format!("{}: accept: failed with {}", S, e)),
                        }
                    }
                }
                let mut i = 0;
                while i < conns.len() {
                    let s = conns[i].s;
                    if (read.contains(&s) || write.contains(&s))
                        && pump(ws, &mut conns[i], &mut buf, S)?
                    {
                        let c = conns.swap_remove(i);
                        ws.closesocket(c.s).at(S, "closesocket (connection)")?;
                        done += 1;
                        continue;
                    }
                    i += 1;
                }
            }
            Ok(())
        })();
        for c in conns {
            let _ = ws.closesocket(c.s);
        }
        result
    };
    let r = with_clients(ws, t, &mut open, l, &addr, clients, bytes_each, S, server);
    let closed = open.close_all(S);
    r.and(closed)?;
    // Sockets of one provider only, at most FD_SETSIZE per set, and something to wait for.
    let (mut none, mut w, mut e) = (Vec::new(), Vec::new(), Vec::new());
    super::stream::expect_err(
        ws.select(&mut none, &mut w, &mut e, Some(Duration::ZERO)),
        WsaError::INVAL,
        S,
        "select with three empty sets",
    )?;
    baseline.check(ws, S)
}

const WM_LISTENER: u32 = 0x0401;
const WM_CLIENT: u32 = 0x0402;
const WM_SERVER: u32 = 0x0403;

/// Takes messages until `want` returns true for one (returned with those seen before it), or
/// 5 s pass.
fn until(
    ws: &Ws2,
    w: Window,
    mut want: impl FnMut(&Message) -> bool,
    scenario: &str,
    what: &str,
) -> Result<Vec<Message>, String> {
    let mut seen = Vec::new();
    loop {
        let m = ws
            .get_message(w, Some(Duration::from_secs(5)))
            .at(scenario, "get_message")?
            .ok_or_else(|| format!("{}: no message for {} (saw {:?})", scenario, what, seen))?;
        let done = want(&m);
        seen.push(m);
        if done {
            return Ok(seen);
        }
    }
}

/// Messages that arrive within `ms` (to check that nothing more is posted).
fn drain(ws: &Ws2, w: Window, ms: u64, scenario: &str) -> Result<Vec<Message>, String> {
    let mut seen = Vec::new();
    while let Some(m) = ws
        .get_message(w, Some(Duration::from_millis(ms)))
        .at(scenario, "get_message")?
    {
        seen.push(m);
    }
    Ok(seen)
}

fn is(m: &Message, s: SOCKET, msg: u32, event: u32) -> bool {
    m.wparam == s && m.msg == msg && m.select_event() == event
}

/// `WSAAsyncSelect` messages: a connecting client gets `FD_CONNECT` then `FD_WRITE`; a
/// listener gets one `FD_ACCEPT` however many connections wait, and another after `accept`
/// while more wait; an accepted socket given its own `WSAAsyncSelect` gets `FD_WRITE`; data
/// sent in several pieces gives one `FD_READ` until `recv` re-enables it (another while data
/// remains, none once it is all read); a graceful close gives the peer `FD_CLOSE` with error
/// 0. Every message names its socket, and carries error 0.
pub fn async_select_order(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "notify::async_select_order";
    let baseline = Baseline::take(ws);
    let quiet = 150;
    let w = ws.create_window();
    let mut open = Open::new(ws);
    let result = (|| {
        let (l, addr) = listener(ws, &mut open, t, 0, 8, S)?;
        ws.wsa_async_select(l, w, WM_LISTENER, FD_ACCEPT)
            .at(S, "WSAAsyncSelect (listener)")?;
        let connect = |open: &mut Open<'_>, what: &str| -> Result<SOCKET, String> {
            let c = open.socket(t, S, what)?;
            ws.wsa_async_select(c, w, WM_CLIENT, FD_CONNECT | FD_READ | FD_WRITE | FD_CLOSE)
                .at(S, "WSAAsyncSelect (client)")?;
            match ws.connect(c, &addr) {
                Ok(()) => {}
                Err(e) if e == WsaError::WOULDBLOCK => {}
                Err(e) => return Err(format!("{}: connect ({}): failed with {}", S, what, e)),
            }
            Ok(c)
        };
        let c1 = connect(&mut open, "client 1")?;
        let mut seen = until(
            ws,
            w,
            |m| is(m, c1, WM_CLIENT, FD_WRITE),
            S,
            "FD_WRITE on client 1",
        )?;
        let client: Vec<u32> = seen
            .iter()
            .filter(|m| m.wparam == c1)
            .map(|m| m.select_event())
            .collect();
        ensure(
            client == vec![FD_CONNECT, FD_WRITE],
            S,
            format_args!(
                "client 1 got events {:?}, expected FD_CONNECT then FD_WRITE",
                client
            ),
        )?;
        let c2 = connect(&mut open, "client 2")?;
        seen.extend(until(
            ws,
            w,
            |m| is(m, c2, WM_CLIENT, FD_WRITE),
            S,
            "FD_WRITE on client 2",
        )?);
        seen.extend(drain(ws, w, quiet, S)?);
        let accepts = seen
            .iter()
            .filter(|m| is(m, l, WM_LISTENER, FD_ACCEPT))
            .count();
        ensure(
            accepts == 1,
            S,
            format_args!(
                "{} FD_ACCEPT messages for two waiting connections before accept (expected 1)",
                accepts
            ),
        )?;
        if let Some(m) = seen.iter().find(|m| m.select_error() != 0) {
            return Err(format!("{}: message with an error: {:?}", S, m));
        }
        let (s1, _) = ws.accept(l).at(S, "accept 1")?;
        open.adopt(s1);
        until(
            ws,
            w,
            |m| is(m, l, WM_LISTENER, FD_ACCEPT),
            S,
            "FD_ACCEPT re-enabled by accept while a connection waits",
        )?;
        ws.wsa_async_select(s1, w, WM_SERVER, FD_READ | FD_WRITE | FD_CLOSE)
            .at(S, "WSAAsyncSelect (accepted)")?;
        until(
            ws,
            w,
            |m| is(m, s1, WM_SERVER, FD_WRITE),
            S,
            "FD_WRITE on the accepted socket",
        )?;
        let (s2, _) = ws.accept(l).at(S, "accept 2")?;
        open.adopt(s2);
        let extra = drain(ws, w, quiet, S)?;
        ensure(
            !extra.iter().any(|m| m.select_event() == FD_ACCEPT),
            S,
            format_args!("FD_ACCEPT with no connection waiting: {:?}", extra),
        )?;

        for piece in [&b"abc"[..], b"def", b"ghi"] {
            ws.send(s1, piece, 0).at(S, "send")?;
        }
        until(
            ws,
            w,
            |m| is(m, c1, WM_CLIENT, FD_READ),
            S,
            "FD_READ on client 1",
        )?;
        let extra = drain(ws, w, quiet, S)?;
        ensure(
            !extra.iter().any(|m| is(m, c1, WM_CLIENT, FD_READ)),
            S,
            "a second FD_READ before recv re-enabled it",
        )?;
        let mut buf = [0u8; 16];
        let n = ws.recv(c1, &mut buf[..1], 0).at(S, "recv 1 byte")?;
        ensure(n == 1, S, "recv of 1 byte")?;
        until(
            ws,
            w,
            |m| is(m, c1, WM_CLIENT, FD_READ),
            S,
            "FD_READ after a recv that left data",
        )?;
        let n = ws.recv(c1, &mut buf, 0).at(S, "recv the rest")?;
        ensure(
            n == 8 && &buf[..8] == b"bcdefghi",
            S,
            "the rest of the data",
        )?;
        let extra = drain(ws, w, quiet, S)?;
        ensure(
            !extra.iter().any(|m| is(m, c1, WM_CLIENT, FD_READ)),
            S,
            format_args!("FD_READ with no data left: {:?}", extra),
        )?;

        ws.shutdown(s1, SD_SEND).at(S, "shutdown(SD_SEND)")?;
        let seen = until(
            ws,
            w,
            |m| is(m, c1, WM_CLIENT, FD_CLOSE),
            S,
            "FD_CLOSE on client 1",
        )?;
        let close = seen.last().expect("until returns the match");
        ensure(
            close.select_error() == 0,
            S,
            format_args!("graceful FD_CLOSE carries error {}", close.select_error()),
        )?;
        let n = ws.recv(c1, &mut buf, 0).at(S, "recv after FD_CLOSE")?;
        ensure(
            n == 0,
            S,
            "recv after a graceful FD_CLOSE is not end of stream",
        )?;
        for s in [c1, c2] {
            ws.wsa_async_select(s, w, 0, 0)
                .at(S, "WSAAsyncSelect(0) cancels")?;
        }
        open.close_all(S)
    })();
    let destroyed = ws.destroy_window(w).at(S, "destroy_window");
    result.and(destroyed)?;
    baseline.check(ws, S)
}
