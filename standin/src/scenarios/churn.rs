//! Socket churn: many create/close cycles (handle values, reuse, leaks), and closes racing
//! with calls on other threads.
//!
//! Both scenarios assume they are the only code creating sockets in the process while they
//! run (the Wine driver runs scenarios one at a time; `cargo test` gives each its own test
//! binary): a handle value closed here may be handed out again at once, and a concurrent
//! creator could receive it while a racing call still uses it.

use super::support::{connected, ensure, expect_err, listener, At, Open};
use super::Target;
use crate::sys::{SOCKET, XP1_CONNECTIONLESS, XP1_IFS_HANDLES};
use crate::{check_int, Spi, Ws2, WsaError};
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

/// How long a call may take to return after the socket it uses was closed.
const RETURN_LIMIT: Duration = Duration::from_secs(10);

/// Creates and closes `cycles` sockets (every 64th is bound first, and a few stay open across
/// cycles). Checks that non-IFS handles are multiples of 4, that closed handle values are
/// reused (at most `16 + cycles / 100` distinct values in all), and that the session's live
/// handle count is back where it started.
pub fn create_close(ws: &Ws2, t: &Target, cycles: usize) -> Result<(), String> {
    const S: &str = "churn::create_close";
    let spi = ws
        .spi(t.af, t.ty, t.protocol)
        .at(S, "finding the provider entry")?;
    let ifs = spi.info.dwServiceFlags1 & XP1_IFS_HANDLES != 0;
    let start = ws.live_handles();
    let mut open = Open::new(ws);
    let mut seen = HashSet::new();
    let mut held = 0;
    for i in 0..cycles {
        let s = ws
            .socket(t.af, t.ty, t.protocol)
            .at(S, format_args!("socket (cycle {})", i))?;
        open.adopt(s);
        if !ifs && s % 4 != 0 {
            return Err(format!(
                "{}: cycle {}: handle {:#x} is not a multiple of 4",
                S, i, s
            ));
        }
        seen.insert(s);
        if i % 64 == 0 {
            ws.bind(s, &(t.addr)(i as u32))
                .at(S, format_args!("bind (cycle {})", i))?;
        }
        if i % 1000 == 500 && held < 4 {
            held += 1;
            continue;
        }
        open.close(s, S, "churned socket")?;
    }
    let allowed = 16 + cycles / 100;
    ensure(
        seen.len() <= allowed,
        S,
        format_args!(
            "{} distinct handle values over {} cycles (at most {} expected): closed values are not reused",
            seen.len(),
            cycles,
            allowed
        ),
    )?;
    open.close_all(S)?;
    let end = ws.live_handles();
    ensure(
        end == start,
        S,
        format_args!(
            "{} live handles after the churn, {} before (leak)",
            end, start
        ),
    )
}

/// Runs `call` on another thread, closes `victim` after `delay`, and waits for the call to
/// return: any result of the call is fine, a panic or a hang is not. Returns the call's
/// result and that of the close.
fn race<T: Send + 'static>(
    ws: &Ws2,
    what: &str,
    victim: SOCKET,
    delay: Duration,
    call: impl FnOnce(&Ws2) -> T + Send + 'static,
) -> Result<(T, Result<(), WsaError>), String> {
    let (tx, rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::channel();
    let other = ws.clone();
    let thread = std::thread::spawn(move || {
        let _ = started_tx.send(());
        let r = catch_unwind(AssertUnwindSafe(|| call(&other)));
        let _ = tx.send(r.map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        }));
    });
    let _ = started_rx.recv_timeout(RETURN_LIMIT);
    std::thread::sleep(delay);
    let closed = ws.closesocket(victim);
    match rx.recv_timeout(RETURN_LIMIT) {
        Ok(Ok(v)) => {
            let _ = thread.join();
            Ok((v, closed))
        }
        Ok(Err(panic)) => Err(format!(
            "churn::close_races_calls: {}: the call panicked: {}",
            what, panic
        )),
        // The thread is left behind: it is stuck in the provider.
        Err(_) => Err(format!(
            "churn::close_races_calls: {}: the call had not returned {:?} after closesocket",
            what, RETURN_LIMIT
        )),
    }
}

/// `race`, requiring the close to succeed.
fn race_close<T: Send + 'static>(
    ws: &Ws2,
    what: &str,
    victim: SOCKET,
    delay: Duration,
    call: impl FnOnce(&Ws2) -> T + Send + 'static,
) -> Result<T, String> {
    let (v, closed) = race(ws, what, victim, delay, call)?;
    closed.at(
        "churn::close_races_calls",
        format_args!("{}: closesocket", what),
    )?;
    Ok(v)
}

/// Checks that the provider's own table refuses `s`, just closed, with `WSAENOTSOCK`.
fn gone(spi: &Spi, s: SOCKET, what: &str) -> Result<(), String> {
    let f = spi
        .table
        .lpWSPGetSockName
        .ok_or_else(|| "churn::close_races_calls: no WSPGetSockName".to_owned())?;
    let mut out = [0u8; 128];
    let mut len = 128i32;
    // SAFETY: a writable 128-byte address buffer.
    let r = check_int("WSPGetSockName", |e| unsafe {
        f(s, out.as_mut_ptr().cast(), &mut len, e)
    });
    expect_err(
        r,
        WsaError::NOTSOCK,
        "churn::close_races_calls",
        format_args!("{}: WSPGetSockName on the closed handle", what),
    )
}

/// Closes racing with calls, `rounds` times with varying timing: a `recv` blocked on the
/// socket being closed, an `accept` blocked on a listener being closed, a blocking `send`
/// stuck on a full connection, a `recv` whose peer is closed, a thread calling
/// `getsockname`/`send` in a loop, and two threads closing the same handle (exactly one
/// wins). Every call must return (success or a WSA error: no hang, no panic, no broken
/// convention), and the closed handle must then be `WSAENOTSOCK` on the provider's table.
/// Datagram targets run the receive, loop and double-close races.
pub fn close_races_calls(ws: &Ws2, t: &Target, rounds: usize) -> Result<(), String> {
    const S: &str = "churn::close_races_calls";
    let spi = ws
        .spi(t.af, t.ty, t.protocol)
        .at(S, "finding the provider entry")?;
    let connectionless = spi.info.dwServiceFlags1 & XP1_CONNECTIONLESS != 0;
    let start = ws.live_handles();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut delay = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        Duration::from_micros(seed % 3000)
    };
    for round in 0..rounds {
        let mut open = Open::new(ws);
        let tag = |what: &str| format!("round {}: {}", round, what);
        if connectionless {
            let r = open.socket(t, S, "receiver")?;
            ws.bind(r, &(t.addr)(0)).at(S, "bind")?;
            open.forget(r);
            let what = tag("recvfrom blocked on the closed socket");
            race_close(ws, &what, r, delay(), move |ws| {
                let _ = ws.recvfrom(r, &mut [0u8; 64], 0);
            })?;
            gone(&spi, r, &what)?;
        } else {
            let (_, c, s, _) = connected(ws, &mut open, t, 0, S)?;
            open.forget(s);
            let what = tag("recv blocked on the closed socket");
            race_close(ws, &what, s, delay(), move |ws| {
                let _ = ws.recv(s, &mut [0u8; 64], 0);
            })?;
            gone(&spi, s, &what)?;
            // The client now sees its peer gone.
            let n = ws.recv(c, &mut [0u8; 64], 0);
            ensure(
                matches!(n, Ok(0) | Err(_)),
                S,
                format_args!(
                    "round {}: recv after the peer closed returned data: {:?}",
                    round, n
                ),
            )?;

            let (l, _) = listener(ws, &mut open, t, 1, 4, S)?;
            open.forget(l);
            let what = tag("accept blocked on the closed listener");
            race_close(ws, &what, l, delay(), move |ws| {
                ws.accept(l).map(|(a, _)| a)
            })?
            .map_or(Ok(()), |a| {
                ws.closesocket(a)
                    .at(S, "closesocket (unexpectedly accepted)")
            })?;
            gone(&spi, l, &what)?;

            let (_, c, s, _) = connected(ws, &mut open, t, 2, S)?;
            open.forget(c);
            let what = tag("send blocked on a full connection, closed");
            race_close(ws, &what, c, delay(), move |ws| {
                let big = vec![0u8; 16 << 20];
                let _ = ws.send(c, &big, 0);
            })?;
            gone(&spi, c, &what)?;
            open.close(s, S, "server end")?;

            let (_, c, s, _) = connected(ws, &mut open, t, 3, S)?;
            open.forget(s);
            let what = tag("recv blocked while the peer is closed");
            let r = race_close(ws, &what, s, delay(), move |ws| {
                ws.recv(c, &mut [0u8; 64], 0)
            })?;
            ensure(
                matches!(r, Ok(0) | Err(_)),
                S,
                format_args!("{}: returned data: {:?}", what, r),
            )?;
            open.close(c, S, "client")?;
        }

        let busy = open.socket(t, S, "busy")?;
        ws.bind(busy, &(t.addr)(4)).at(S, "bind (busy)")?;
        open.forget(busy);
        let what = tag("getsockname/send loop while closing");
        race_close(ws, &what, busy, delay(), move |ws| {
            for _ in 0..1_000_000 {
                if ws.getsockname(busy).is_err() {
                    return;
                }
                let _ = ws.send(busy, b"x", 0);
            }
        })?;
        gone(&spi, busy, &what)?;

        let twice = open.socket(t, S, "closed twice")?;
        open.forget(twice);
        let what = tag("two threads closing the same handle");
        let (theirs, ours) = race(ws, &what, twice, delay(), move |ws| ws.closesocket(twice))?;
        ensure(
            theirs.is_ok() != ours.is_ok(),
            S,
            format_args!(
                "{}: expected exactly one close to succeed, got {:?} and {:?}",
                what, theirs, ours
            ),
        )?;
        for e in [theirs, ours].iter().filter_map(|r| r.err()) {
            ensure(
                e == WsaError::NOTSOCK,
                S,
                format_args!(
                    "{}: the losing close failed with {:?}, expected WSAENOTSOCK",
                    what, e
                ),
            )?;
        }
        gone(&spi, twice, &what)?;
        open.close_all(S)?;
    }
    let end = ws.live_handles();
    ensure(
        end == start,
        S,
        format_args!(
            "{} live handles after the races, {} before (leak)",
            end, start
        ),
    )
}
