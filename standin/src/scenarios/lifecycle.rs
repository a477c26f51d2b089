//! Start-up and clean-up of the provider as a whole.
//!
//! These scenarios observe the provider's *last* clean-up in the process, so they must be the
//! only users of the provider in the process while they run (with `cargo test`: the only test
//! in their own test binary).

use super::support::{ensure, expect_err, At};
use super::Target;
use crate::sys::{SOCKET, XP1_CONNECTIONLESS};
use crate::{check_int, check_socket, Spi, Ws2, WsaError};
use std::sync::mpsc;
use std::time::Duration;

const S: &str = "lifecycle::cleanup_closes_everything";

/// Opens sockets in every state the target allows (unbound, bound, listening, connected
/// with data in flight both ways, a listener with a thread blocked in `accept` or a bound
/// datagram socket with a thread blocked in `recvfrom`), checks that each is one live socket
/// of the application ([`Ws2::live_sockets`]: layers below may hold handles of their own for
/// it) and, without closing any, cleans up: the stand-in checks that every handle of the
/// providers it started was released, and the scenario that the providers below a layered
/// chain released theirs too ([`Ws2::handles_below`]); the blocked thread returns; calls on
/// the old dispatch table (`WSPGetSockName`, `WSPCloseSocket`, `WSPSocket`, `WSPCleanup`)
/// fail with `WSANOTINITIALISED`. Then a new start-up (`make()` again) works from a clean
/// slate: the old listener's address can be bound again.
///
/// `make` returns a `Ws2` with the provider loaded, or a session over a catalog (through any
/// stack of layers).
pub fn cleanup_closes_everything(make: &dyn Fn() -> Ws2, t: &Target) -> Result<(), String> {
    let ws = make();
    let spi = ws
        .spi(t.af, t.ty, t.protocol)
        .at(S, "finding the provider entry")?;
    let connectionless = spi.info.dwServiceFlags1 & XP1_CONNECTIONLESS != 0;
    let start = ws.live_sockets();
    let mut handles: Vec<SOCKET> = Vec::new();
    let socket = |handles: &mut Vec<SOCKET>, what: &str| -> Result<SOCKET, String> {
        let s = ws
            .socket(t.af, t.ty, t.protocol)
            .at(S, format_args!("socket ({})", what))?;
        handles.push(s);
        Ok(s)
    };
    socket(&mut handles, "never bound")?;
    let bound = socket(&mut handles, "bound")?;
    ws.bind(bound, &(t.addr)(0)).at(S, "bind")?;
    let reusable = ws.getsockname(bound).at(S, "getsockname (bound)")?;
    let blocker = socket(&mut handles, "blocked on")?;
    ws.bind(blocker, &(t.addr)(1)).at(S, "bind (blocked on)")?;
    if !connectionless {
        let l = socket(&mut handles, "listener")?;
        ws.bind(l, &(t.addr)(2)).at(S, "bind (listener)")?;
        ws.listen(l, 8).at(S, "listen")?;
        let addr = ws.getsockname(l).at(S, "getsockname (listener)")?;
        let c = socket(&mut handles, "client")?;
        ws.connect(c, &addr).at(S, "connect")?;
        let (a, _) = ws.accept(l).at(S, "accept")?;
        handles.push(a);
        ws.send(c, b"unread by the server", 0)
            .at(S, "send (client)")?;
        ws.send(a, b"unread by the client", 0)
            .at(S, "send (server end)")?;
        // A connection left in the backlog, never accepted.
        let pending = socket(&mut handles, "pending client")?;
        ws.connect(pending, &addr)
            .at(S, "connect (left in the backlog)")?;
        ws.listen(blocker, 8).at(S, "listen (blocked on)")?;
    }
    let (tx, rx) = mpsc::channel();
    let other = ws.clone();
    let waiter = std::thread::spawn(move || {
        let r = if connectionless {
            other.recvfrom(blocker, &mut [0u8; 16], 0).map(drop)
        } else {
            other.accept(blocker).map(drop)
        };
        let _ = tx.send(r);
    });
    std::thread::sleep(Duration::from_millis(20));
    let live = ws.live_sockets();
    ensure(
        live == start + handles.len(),
        S,
        format_args!(
            "{} live sockets with {} sockets open (before: {})",
            live,
            handles.len(),
            start
        ),
    )?;

    // The stand-in panics here if a provider it started leaves any handle registered after
    // its last WSPCleanup.
    let probe = ws.clone();
    ws.cleanup();
    ensure(
        probe.handles_below() == 0,
        S,
        format_args!(
            "the providers below the layers left {} handles registered after the last clean-up",
            probe.handles_below()
        ),
    )?;
    ensure(
        probe.live_sockets() == 0,
        S,
        format_args!(
            "{} of the application's sockets still registered after the last clean-up",
            probe.live_sockets()
        ),
    )?;
    drop(probe);
    let blocked = rx.recv_timeout(Duration::from_secs(10));
    ensure(
        blocked.is_ok(),
        S,
        "a call blocked in the provider did not return after the clean-up",
    )?;
    let _ = waiter.join();

    after_cleanup(&spi, &handles)?;

    let again = make();
    let result = (|| {
        let s = again
            .socket(t.af, t.ty, t.protocol)
            .at(S, "socket after a new start-up")?;
        again.bind(s, &reusable).at(
            S,
            format_args!(
                "bind to {:?} (bound before the clean-up) after a new start-up",
                reusable
            ),
        )?;
        again
            .closesocket(s)
            .at(S, "closesocket after a new start-up")
    })();
    again.cleanup();
    result
}

/// Every call on the old table fails with `WSANOTINITIALISED`.
fn after_cleanup(spi: &Spi, handles: &[SOCKET]) -> Result<(), String> {
    let missing = |name: &str| format!("{}: the dispatch table has no {}", S, name);
    let get_sock_name = spi
        .table
        .lpWSPGetSockName
        .ok_or_else(|| missing("WSPGetSockName"))?;
    let close = spi
        .table
        .lpWSPCloseSocket
        .ok_or_else(|| missing("WSPCloseSocket"))?;
    let socket = spi.table.lpWSPSocket.ok_or_else(|| missing("WSPSocket"))?;
    let cleanup = spi
        .table
        .lpWSPCleanup
        .ok_or_else(|| missing("WSPCleanup"))?;
    for &h in handles {
        let mut out = [0u8; 128];
        let mut len = 128i32;
        // SAFETY: a writable 128-byte address buffer.
        let r = check_int("WSPGetSockName", |e| unsafe {
            get_sock_name(h, out.as_mut_ptr().cast(), &mut len, e)
        });
        expect_err(
            r,
            WsaError::NOTINITIALISED,
            S,
            format_args!("WSPGetSockName({:#x}) after clean-up", h),
        )?;
        // SAFETY: plain arguments.
        let r = check_int("WSPCloseSocket", |e| unsafe { close(h, e) });
        expect_err(
            r,
            WsaError::NOTINITIALISED,
            S,
            format_args!("WSPCloseSocket({:#x}) after clean-up", h),
        )?;
    }
    let info = spi.info;
    // SAFETY: the protocol entry the provider was loaded with, no group, no flags.
    let r = check_socket("WSPSocket", |e| unsafe {
        socket(
            info.iAddressFamily,
            info.iSocketType,
            info.iProtocol,
            &info,
            0,
            0,
            e,
        )
    });
    expect_err(r, WsaError::NOTINITIALISED, S, "WSPSocket after clean-up")?;
    // SAFETY: plain arguments; an unbalanced clean-up must be refused.
    let r = check_int("WSPCleanup", |e| unsafe { cleanup(e) });
    expect_err(r, WsaError::NOTINITIALISED, S, "a second WSPCleanup")?;
    Ok(())
}
