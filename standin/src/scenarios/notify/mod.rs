//! Network event notification scenarios: an echo server driven by `WSAEventSelect` +
//! `WSAWaitForMultipleEvents` + `WSAEnumNetworkEvents`, one driven by `select` over
//! non-blocking sockets, and the order and re-enabling of `WSAAsyncSelect` messages.
//!
//! The [`Target`] must name a stream protocol entry.

use super::stream::echo_client;
use super::support::{ensure, listener, set_nonblocking, At, Baseline, Open};
use super::Target;
use crate::sys::{
    FD_ACCEPT, FD_CLOSE, FD_CONNECT, FD_READ, FD_WRITE, SD_SEND, SOCKET, SOMAXCONN_WS2, WSAEVENT,
    WSANETWORKEVENTS,
};
use crate::{Message, Window, Ws2, WsaError, WSA_WAIT_TIMEOUT};
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

mod messages;
mod select;

pub use messages::async_select_order;
pub use select::select_echo;

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
                            .map(|c| (c.out.len(), c.eof, super::support::readable(ws, c.s).ok()))
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
