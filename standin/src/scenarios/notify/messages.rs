//! `WSAAsyncSelect`: the order and contents of the messages posted to a window.

use super::*;

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
