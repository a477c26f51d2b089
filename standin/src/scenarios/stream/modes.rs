//! Non-blocking mode, and the socket options every stream provider answers.

use super::*;

/// Non-blocking mode: `recv` and `accept` fail with `WSAEWOULDBLOCK` when nothing is there;
/// `FIONREAD` counts queued bytes (and `MSG_PEEK` leaves them); an accepted socket inherits
/// the listener's mode; a non-blocking sender eventually gets `WSAEWOULDBLOCK` when the peer
/// does not read, and everything it sent arrives intact.
pub fn nonblocking(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "stream::nonblocking";
    let limit = Duration::from_secs(5);
    let mut open = Open::new(ws);
    let (l, c, s, addr) = connected(ws, &mut open, t, 0, S)?;
    set_nonblocking(ws, s, true).at(S, "ioctlsocket(FIONBIO, 1)")?;
    let mut buf = vec![0u8; 4096];
    expect_err(
        ws.recv(s, &mut buf, 0),
        WsaError::WOULDBLOCK,
        S,
        "non-blocking recv with nothing queued",
    )?;
    ensure(
        readable(ws, s).at(S, "FIONREAD")? == 0,
        S,
        "FIONREAD is not 0 with nothing queued",
    )?;

    let data: Vec<u8> = (0..1000u32).map(|i| (i * 13) as u8).collect();
    send_all(ws, c, &data).at(S, "send 1000 bytes")?;
    let queued = poll(limit, || {
        Ok(Some(readable(ws, s).at(S, "FIONREAD")?).filter(|&n| n >= 1000))
    })?;
    ensure(
        queued == Some(1000),
        S,
        format_args!("FIONREAD after 1000 bytes were sent: {:?}", queued),
    )?;
    let n = ws
        .recv(s, &mut buf[..100], crate::sys::MSG_PEEK)
        .at(S, "recv(MSG_PEEK)")?;
    ensure(
        n == 100 && buf[..100] == data[..100],
        S,
        "MSG_PEEK returned the wrong bytes",
    )?;
    let after_peek = readable(ws, s).at(S, "FIONREAD after MSG_PEEK")?;
    ensure(
        after_peek == 1000,
        S,
        format_args!("FIONREAD after MSG_PEEK is {}, expected 1000", after_peek),
    )?;
    let n = ws.recv(s, &mut buf[..600], 0).at(S, "recv 600")?;
    ensure(
        n == 600 && buf[..600] == data[..600],
        S,
        "recv returned the wrong bytes",
    )?;
    let left = readable(ws, s).at(S, "FIONREAD after recv")?;
    ensure(
        left == 400,
        S,
        format_args!("FIONREAD after reading 600 of 1000 is {}", left),
    )?;
    let n = ws.recv(s, &mut buf, 0).at(S, "recv the rest")?;
    ensure(
        n == 400 && buf[..400] == data[600..],
        S,
        "the rest arrived wrong",
    )?;
    expect_err(
        ws.recv(s, &mut buf, 0),
        WsaError::WOULDBLOCK,
        S,
        "recv after draining",
    )?;

    // Accept: would block, then inherits non-blocking mode.
    set_nonblocking(ws, l, true).at(S, "ioctlsocket(FIONBIO) on the listener")?;
    expect_err(
        ws.accept(l),
        WsaError::WOULDBLOCK,
        S,
        "non-blocking accept with no connection",
    )?;
    let c2 = open.socket(t, S, "second client")?;
    ws.connect(c2, &addr).at(S, "connect (second client)")?;
    let accepted = poll(limit, || match ws.accept(l) {
        Ok((a, _)) => Ok(Some(a)),
        Err(WsaError::WOULDBLOCK) => Ok(None),
        Err(e) => Err(format!("{}: non-blocking accept: {:?}", S, e)),
    })?;
    let a = accepted.ok_or_else(|| format!("{}: the second connection was never accepted", S))?;
    open.adopt(a);
    expect_err(
        ws.recv(a, &mut buf, 0),
        WsaError::WOULDBLOCK,
        S,
        "recv on a socket accepted from a non-blocking listener",
    )?;

    // A non-blocking sender fills the connection, then would block.
    set_nonblocking(ws, c, true).at(S, "ioctlsocket(FIONBIO) on the client")?;
    let chunk = vec![0x5Au8; 64 * 1024];
    let mut sent = 0usize;
    let mut blocked = false;
    for _ in 0..16 * 1024 {
        match ws.send(c, &chunk, 0) {
            Ok(n) => sent += n,
            Err(WsaError::WOULDBLOCK) => {
                blocked = true;
                break;
            }
            Err(e) => {
                return Err(format!(
                    "{}: non-blocking send after {} bytes: {:?}",
                    S, sent, e
                ))
            }
        }
    }
    ensure(
        blocked,
        S,
        format_args!("a non-blocking send never blocked ({} bytes queued)", sent),
    )?;
    set_nonblocking(ws, s, false).at(S, "ioctlsocket(FIONBIO, 0)")?;
    let mut drained = 0usize;
    while drained < sent {
        let want = buf.len().min(sent - drained);
        let n = ws
            .recv(s, &mut buf[..want], 0)
            .at(S, "blocking recv of the queued data")?;
        ensure(n > 0, S, "end of stream while draining")?;
        ensure(
            buf[..n].iter().all(|&b| b == 0x5A),
            S,
            "drained data is corrupt",
        )?;
        drained += n;
    }
    let n = poll(limit, || match ws.send(c, b"more", 0) {
        Ok(n) => Ok(Some(n)),
        Err(WsaError::WOULDBLOCK) => Ok(None),
        Err(e) => Err(format!("{}: non-blocking send after draining: {:?}", S, e)),
    })?;
    ensure(
        n.is_some(),
        S,
        "a non-blocking send still would block after the peer drained",
    )?;
    open.close_all(S)
}

/// Socket options and names: `SO_TYPE`, `SO_PROTOCOL_INFOW` (the entry's family, type,
/// protocol and catalog id), `SO_RCVBUF`/`SO_SNDBUF` round trips, `SO_ACCEPTCONN`,
/// `getsockname`/`getpeername` on both ends of a connection, and `WSAEADDRINUSE` for a
/// second bind to a listener's address.
pub fn options(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "stream::options";
    let mut open = Open::new(ws);
    let (l, c, s, addr) = connected(ws, &mut open, t, 0, S)?;
    let ty = ws
        .getsockopt_int(c, SOL_SOCKET, SO_TYPE)
        .at(S, "getsockopt(SO_TYPE)")?;
    ensure(
        ty == t.ty,
        S,
        format_args!("SO_TYPE is {}, expected {}", ty, t.ty),
    )?;

    let mut raw = vec![0u8; std::mem::size_of::<WSAPROTOCOL_INFOW>()];
    let n = ws
        .getsockopt(c, SOL_SOCKET, SO_PROTOCOL_INFOW, &mut raw)
        .at(S, "getsockopt(SO_PROTOCOL_INFOW)")?;
    ensure(
        n == raw.len(),
        S,
        format_args!("SO_PROTOCOL_INFOW is {} bytes, expected {}", n, raw.len()),
    )?;
    // SAFETY: `raw` holds a whole WSAPROTOCOL_INFOW (plain data); read unaligned.
    let info: WSAPROTOCOL_INFOW =
        unsafe { raw.as_ptr().cast::<WSAPROTOCOL_INFOW>().read_unaligned() };
    let entry = ws.spi_for(c).at(S, "spi_for")?.info;
    ensure(
        (info.iAddressFamily, info.iSocketType, info.iProtocol) == (t.af, t.ty, t.protocol),
        S,
        format_args!(
            "SO_PROTOCOL_INFOW says ({}, {}, {}), expected ({}, {}, {})",
            info.iAddressFamily, info.iSocketType, info.iProtocol, t.af, t.ty, t.protocol
        ),
    )?;
    ensure(
        info.dwCatalogEntryId == entry.dwCatalogEntryId,
        S,
        format_args!(
            "SO_PROTOCOL_INFOW has catalog id {}, the socket's entry is {}",
            info.dwCatalogEntryId, entry.dwCatalogEntryId
        ),
    )?;

    for (name, label) in [(SO_RCVBUF, "SO_RCVBUF"), (SO_SNDBUF, "SO_SNDBUF")] {
        ws.setsockopt_int(c, SOL_SOCKET, name, 32 * 1024)
            .at(S, format_args!("setsockopt({})", label))?;
        let v = ws
            .getsockopt_int(c, SOL_SOCKET, name)
            .at(S, format_args!("getsockopt({})", label))?;
        ensure(
            v == 32 * 1024,
            S,
            format_args!("{} set to 32768 reads back as {}", label, v),
        )?;
    }
    let listening = ws
        .getsockopt_int(l, SOL_SOCKET, SO_ACCEPTCONN)
        .at(S, "getsockopt(SO_ACCEPTCONN)")?;
    ensure(
        listening != 0,
        S,
        "SO_ACCEPTCONN is false on a listening socket",
    )?;
    let client_listening = ws
        .getsockopt_int(c, SOL_SOCKET, SO_ACCEPTCONN)
        .at(S, "getsockopt(SO_ACCEPTCONN)")?;
    ensure(
        client_listening == 0,
        S,
        "SO_ACCEPTCONN is true on a connected socket",
    )?;

    let client_name = ws.getsockname(c).at(S, "getsockname (client)")?;
    let server_peer = ws.getpeername(s).at(S, "getpeername (server end)")?;
    let client_peer = ws.getpeername(c).at(S, "getpeername (client)")?;
    let server_name = ws.getsockname(s).at(S, "getsockname (server end)")?;
    ensure(
        client_name.family() == t.af as u16,
        S,
        "getsockname returned another address family",
    )?;
    if let (SockAddr::Inet(cn), SockAddr::Inet(sp)) = (&client_name, &server_peer) {
        ensure(cn.port() != 0, S, "the client's implicit bind left port 0")?;
        ensure(
            cn == sp,
            S,
            format_args!("client getsockname {} != server getpeername {}", cn, sp),
        )?;
    }
    if let (SockAddr::Inet(cp), SockAddr::Inet(sn), SockAddr::Inet(a)) =
        (&client_peer, &server_name, &addr)
    {
        ensure(
            cp == sn,
            S,
            format_args!("client getpeername {} != server getsockname {}", cp, sn),
        )?;
        ensure(
            cp.port() == a.port(),
            S,
            format_args!("client getpeername {} is not the listener's {}", cp, a),
        )?;
    }

    let other = open.socket(t, S, "second socket")?;
    expect_err(
        ws.bind(other, &addr),
        WsaError::ADDRINUSE,
        S,
        "bind to the listener's address",
    )?;
    open.close_all(S)
}
