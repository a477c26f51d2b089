//! Connections refused, and calls made in the wrong state.

use super::*;

/// Refused connections: to an address bound but not listening, to a closed listener's
/// address, and beyond a full backlog (with backlog 1 and nothing accepted, the first
/// connection succeeds and at least one of the next 16 is refused).
pub fn refused(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "stream::refused";
    let mut open = Open::new(ws);
    let bound = open.socket(t, S, "bound, not listening")?;
    ws.bind(bound, &(t.addr)(0)).at(S, "bind")?;
    let addr = ws.getsockname(bound).at(S, "getsockname")?;
    let c = open.socket(t, S, "client")?;
    expect_err(
        ws.connect(c, &addr),
        WsaError::CONNREFUSED,
        S,
        "connect to a socket that is not listening",
    )?;
    open.close(bound, S, "bound socket")?;
    open.close(c, S, "client")?;

    let (l, addr) = listener(ws, &mut open, t, 1, 1, S)?;
    open.close(l, S, "listener")?;
    let c = open.socket(t, S, "client")?;
    expect_err(
        ws.connect(c, &addr),
        WsaError::CONNREFUSED,
        S,
        "connect to a closed listener",
    )?;
    open.close(c, S, "client")?;

    let (l, addr) = listener(ws, &mut open, t, 2, 1, S)?;
    let first = open.socket(t, S, "first client")?;
    ws.connect(first, &addr)
        .at(S, "connect (first client, backlog 1)")?;
    let mut refused = 0;
    for i in 0..16 {
        let c = open.socket(t, S, "extra client")?;
        match ws.connect(c, &addr) {
            Ok(()) => {}
            Err(WsaError::CONNREFUSED) => refused += 1,
            Err(e) => {
                return Err(format!(
                    "{}: connect #{} beyond the backlog: expected WSAECONNREFUSED, got {:?}",
                    S, i, e
                ))
            }
        }
    }
    ensure(
        refused > 0,
        S,
        "16 connections beyond a backlog of 1 were all accepted into the queue",
    )?;
    let (a, _) = ws.accept(l).at(S, "accept (from the full backlog)")?;
    open.adopt(a);
    open.close_all(S)
}

/// Calls in the wrong state: `recv`/`send` on an unconnected socket (`WSAENOTCONN`),
/// `accept` on a socket not listening (`WSAEINVAL`), `connect` twice (`WSAEISCONN`),
/// `getpeername` unconnected (`WSAENOTCONN`), `getsockname` unbound (`WSAEINVAL`), `bind`
/// twice (`WSAEINVAL`), `shutdown` unconnected (`WSAENOTCONN`).
pub fn wrong_state(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "stream::wrong_state";
    let mut open = Open::new(ws);
    let fresh = open.socket(t, S, "fresh")?;
    let mut buf = [0u8; 8];
    expect_err(
        ws.recv(fresh, &mut buf, 0),
        WsaError::NOTCONN,
        S,
        "recv on an unconnected socket",
    )?;
    expect_err(
        ws.send(fresh, b"x", 0),
        WsaError::NOTCONN,
        S,
        "send on an unconnected socket",
    )?;
    expect_err(
        ws.getpeername(fresh),
        WsaError::NOTCONN,
        S,
        "getpeername on an unconnected socket",
    )?;
    expect_err(
        ws.getsockname(fresh),
        WsaError::INVAL,
        S,
        "getsockname on an unbound socket",
    )?;
    expect_err(
        ws.shutdown(fresh, SD_SEND),
        WsaError::NOTCONN,
        S,
        "shutdown on an unconnected socket",
    )?;
    ws.bind(fresh, &(t.addr)(0)).at(S, "bind")?;
    expect_err(
        ws.bind(fresh, &(t.addr)(1)),
        WsaError::INVAL,
        S,
        "bind of a bound socket",
    )?;
    expect_err(
        ws.accept(fresh),
        WsaError::INVAL,
        S,
        "accept on a socket that is not listening",
    )?;
    let (_, c, _, addr) = connected(ws, &mut open, t, 2, S)?;
    expect_err(
        ws.connect(c, &addr),
        WsaError::ISCONN,
        S,
        "connect of a connected socket",
    )?;
    open.close_all(S)
}
