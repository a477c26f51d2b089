//! Datagram (message-oriented) scenarios. The [`Target`] must name a datagram protocol
//! entry.

use super::support::{ensure, expect_err, poll, readable, set_nonblocking, At, Open};
use super::Target;
use crate::sys::{MSG_PEEK, SOL_SOCKET, SO_RCVBUF};
use crate::{SockAddr, Ws2, WsaError};
use std::time::Duration;

/// Whether `got` (a sender address a receive reported) is `sender` (what the sender's
/// `getsockname` says). An IP socket bound to the wildcard address sends from a concrete
/// one, so for those only the port is compared.
fn same_sender(got: &SockAddr, sender: &SockAddr) -> bool {
    match (got, sender) {
        (SockAddr::Inet(g), SockAddr::Inet(s)) if s.ip().is_unspecified() => g.port() == s.port(),
        _ => got == sender,
    }
}

fn message(index: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + index * 7 + 1) as u8).collect()
}

/// Message boundaries: datagrams of different sizes (including an empty one) from two
/// senders arrive one per `recvfrom`, whole, in order, each with its sender's address;
/// `FIONREAD` counts at least the first; a buffer shorter than a datagram is filled and the
/// call fails with `WSAEMSGSIZE`, the rest of that datagram being discarded; `MSG_PEEK`
/// leaves a datagram queued; a non-blocking receive with nothing queued fails with
/// `WSAEWOULDBLOCK`; a datagram larger than the entry's `dwMessageSize` is refused with
/// `WSAEMSGSIZE`; `connect` sets the destination of `send`.
pub fn boundaries(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "datagram::boundaries";
    let limit = Duration::from_secs(5);
    let mut open = Open::new(ws);
    let r = open.socket(t, S, "receiver")?;
    ws.setsockopt_int(r, SOL_SOCKET, SO_RCVBUF, 1 << 20)
        .at(S, "setsockopt(SO_RCVBUF, 1 MiB)")?;
    ws.bind(r, &(t.addr)(0)).at(S, "bind (receiver)")?;
    let to = ws.getsockname(r).at(S, "getsockname (receiver)")?;
    let senders = [
        open.socket(t, S, "sender 1")?,
        open.socket(t, S, "sender 2")?,
    ];
    let mut names = Vec::new();
    for (i, &s) in senders.iter().enumerate() {
        ws.bind(s, &(t.addr)(i as u32 + 1))
            .at(S, format_args!("bind (sender {})", i + 1))?;
        names.push(ws.getsockname(s).at(S, "getsockname (sender)")?);
    }

    let sizes = [1usize, 100, 0, 1000, 8192, 30_000, 7];
    for (i, &len) in sizes.iter().enumerate() {
        let n = ws
            .sendto(senders[i % 2], &message(i, len), 0, &to)
            .at(S, format_args!("sendto (message {}, {} bytes)", i, len))?;
        ensure(
            n == len,
            S,
            format_args!("sendto of {} bytes reported {}", len, n),
        )?;
    }
    let queued = poll(limit, || {
        Ok(Some(readable(ws, r).at(S, "FIONREAD")?).filter(|&n| n > 0))
    })?;
    let total: usize = sizes.iter().sum();
    ensure(
        queued.map_or(false, |n| n as usize >= sizes[0] && n as usize <= total),
        S,
        format_args!(
            "FIONREAD with {} datagrams queued is {:?}",
            sizes.len(),
            queued
        ),
    )?;

    let mut buf = vec![0u8; 65536];
    let (n, _) = ws
        .recvfrom(r, &mut buf, MSG_PEEK)
        .at(S, "recvfrom(MSG_PEEK)")?;
    ensure(
        n == sizes[0],
        S,
        format_args!("MSG_PEEK returned {} bytes, expected {}", n, sizes[0]),
    )?;
    for (i, &len) in sizes.iter().enumerate() {
        let (n, from) = ws
            .recvfrom(r, &mut buf, 0)
            .at(S, format_args!("recvfrom (message {})", i))?;
        ensure(
            n == len,
            S,
            format_args!("message {} arrived with {} bytes, sent {}", i, n, len),
        )?;
        ensure(
            buf[..n] == message(i, len)[..],
            S,
            format_args!("message {} arrived with other bytes", i),
        )?;
        ensure(
            same_sender(&from, &names[i % 2]),
            S,
            format_args!(
                "message {} came from {:?}, sent by {:?}",
                i,
                from,
                names[i % 2]
            ),
        )?;
    }

    // Too short a buffer: filled, WSAEMSGSIZE, the rest gone.
    let long = message(99, 100);
    ws.sendto(senders[0], &long, 0, &to)
        .at(S, "sendto (100 bytes)")?;
    ws.sendto(senders[0], b"next", 0, &to)
        .at(S, "sendto (marker)")?;
    let mut short = [0u8; 10];
    expect_err(
        ws.recvfrom(r, &mut short, 0),
        WsaError::MSGSIZE,
        S,
        "recvfrom into a 10-byte buffer",
    )?;
    ensure(
        short[..] == long[..10],
        S,
        "a truncated datagram did not fill the buffer with its start",
    )?;
    let (n, _) = ws
        .recvfrom(r, &mut buf, 0)
        .at(S, "recvfrom after a truncated datagram")?;
    ensure(
        &buf[..n] == b"next",
        S,
        "the rest of a truncated datagram was not discarded",
    )?;

    set_nonblocking(ws, r, true).at(S, "ioctlsocket(FIONBIO)")?;
    expect_err(
        ws.recvfrom(r, &mut buf, 0),
        WsaError::WOULDBLOCK,
        S,
        "non-blocking recvfrom, nothing queued",
    )?;
    set_nonblocking(ws, r, false).at(S, "ioctlsocket(FIONBIO, 0)")?;

    let limit_size = ws.spi_for(r).at(S, "spi_for")?.info.dwMessageSize;
    if limit_size > 0 && limit_size < 1 << 24 {
        let huge = vec![0u8; limit_size as usize + 1];
        expect_err(
            ws.sendto(senders[0], &huge, 0, &to),
            WsaError::MSGSIZE,
            S,
            format_args!("sendto of dwMessageSize + 1 = {} bytes", huge.len()),
        )?;
    }

    // A connected datagram socket sends to its peer without an address.
    ws.connect(senders[1], &to).at(S, "connect (sender 2)")?;
    let n = ws
        .send(senders[1], b"connected", 0)
        .at(S, "send on a connected datagram socket")?;
    ensure(
        n == 9,
        S,
        "send on a connected datagram socket reported a short count",
    )?;
    let (n, from) = ws
        .recvfrom(r, &mut buf, 0)
        .at(S, "recvfrom (connected sender)")?;
    ensure(
        &buf[..n] == b"connected",
        S,
        "the connected send arrived wrong",
    )?;
    ensure(
        same_sender(&from, &names[1]),
        S,
        "the connected send came from the wrong address",
    )?;
    let peer = ws
        .getpeername(senders[1])
        .at(S, "getpeername (connected datagram socket)")?;
    ensure(
        same_sender(&peer, &to) || peer == to,
        S,
        format_args!("getpeername is {:?}, expected {:?}", peer, to),
    )?;
    open.close_all(S)
}
