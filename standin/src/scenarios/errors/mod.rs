//! Bad input through the raw SPI: null and short buffers, unknown and closed handles, bad
//! arguments. Every call goes through [`check_int`]/[`check_socket`], so besides the error
//! code each one is checked against the SPI's return conventions.
//!
//! Works with stream and datagram targets of any address family: short addresses are
//! shorter than the entry's `iMinSockAddr`, options are ones the runtime answers or the
//! provider reported it supports.

use super::support::{connected, ensure, expect_err, At, Open};
use super::Target;
use crate::sys::{
    FIONBIO, FIONREAD, INVALID_SOCKET, SOCKADDR, SOCKET, SOL_SOCKET, SO_RCVBUF, SO_TYPE, WSABUF,
    WSAPROTOCOL_INFOW, WSPDATA, WSPPROC_TABLE, WSPUPCALLTABLE, XP1_CONNECTIONLESS,
};
use crate::{check_int, check_socket, EntryPoints, Spi, Ws2, WsaError};
use core::ptr::{null, null_mut};

const S: &str = "errors::bad_input";

/// Unwraps a dispatch-table entry (the stand-in refuses providers with null entries).
macro_rules! entry {
    ($spi:expr, $name:ident) => {
        $spi.table
            .$name
            .ok_or_else(|| format!("{}: the dispatch table has no {}", S, stringify!($name)))?
    };
}

mod addresses;
mod controls;

use addresses::{addresses, buffers};
use controls::{accept_keeps_connection, handles, options_and_ioctls};

/// Two sockets that can exchange data: a connected stream pair, or two bound datagram
/// sockets connected to each other.
fn pair(
    ws: &Ws2,
    open: &mut Open<'_>,
    t: &Target,
    connectionless: bool,
) -> Result<(SOCKET, SOCKET), String> {
    if !connectionless {
        let (_, c, s, _) = connected(ws, open, t, 0, S)?;
        return Ok((c, s));
    }
    let a = open.socket(t, S, "datagram a")?;
    let b = open.socket(t, S, "datagram b")?;
    ws.bind(a, &(t.addr)(0)).at(S, "bind (a)")?;
    ws.bind(b, &(t.addr)(1)).at(S, "bind (b)")?;
    let (na, nb) = (
        ws.getsockname(a).at(S, "getsockname (a)")?,
        ws.getsockname(b).at(S, "getsockname (b)")?,
    );
    ws.connect(a, &nb).at(S, "connect (a to b)")?;
    ws.connect(b, &na).at(S, "connect (b to a)")?;
    Ok((a, b))
}

/// Bad input: null `WSABUF` arrays and null buffers in them, null byte-count and flags
/// pointers, addresses shorter than `iMinSockAddr`, null or short address and option
/// buffers (all `WSAEFAULT`); a connection survives an `accept` whose address buffer was too
/// short; unknown handles, a closed handle and a closed value handed out again as an
/// unrelated handle (all `WSAENOTSOCK` from the provider's own table); a bad `shutdown` mode
/// (`WSAEINVAL`); `WSPSocket` without a protocol entry (`WSAEFAULT`); `listen`/`accept` on a
/// connectionless socket (`WSAEOPNOTSUPP`).
pub fn bad_input(ws: &Ws2, t: &Target) -> Result<(), String> {
    let mut open = Open::new(ws);
    let spi = ws
        .spi(t.af, t.ty, t.protocol)
        .at(S, "finding the provider entry")?;
    let connectionless = spi.info.dwServiceFlags1 & XP1_CONNECTIONLESS != 0;
    let (a, b) = pair(ws, &mut open, t, connectionless)?;
    let short_len = (spi.info.iMinSockAddr - 1).max(1);
    buffers(&spi, a)?;
    addresses(ws, &mut open, t, &spi, a, short_len)?;
    options_and_ioctls(ws, &spi, a)?;
    if !connectionless {
        accept_keeps_connection(ws, &mut open, t, short_len)?;
    } else {
        let listen = entry!(spi, lpWSPListen);
        // SAFETY: plain arguments.
        let r = check_int("WSPListen", |e| unsafe { listen(a, 5, e) });
        expect_err(
            r,
            WsaError::OPNOTSUPP,
            S,
            "WSPListen on a connectionless socket",
        )?;
        let accept = entry!(spi, lpWSPAccept);
        // SAFETY: no address buffer, no condition function.
        let r = check_socket("WSPAccept", |e| unsafe {
            accept(a, null_mut(), null_mut(), None, 0, e)
        });
        expect_err(
            r,
            WsaError::OPNOTSUPP,
            S,
            "WSPAccept on a connectionless socket",
        )?;
    }
    for how in [3, -1, 100] {
        expect_err(
            ws.shutdown(b, how),
            WsaError::INVAL,
            S,
            format_args!("shutdown with how = {}", how),
        )?;
    }
    let socket = entry!(spi, lpWSPSocket);
    // SAFETY: a null protocol entry, which the provider must refuse without reading.
    let r = check_socket("WSPSocket", |e| unsafe {
        socket(t.af, t.ty, t.protocol, null(), 0, 0, e)
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPSocket with a null lpProtocolInfo",
    )?;
    handles(ws, &mut open, t, &spi)?;
    open.close_all(S)
}

/// `WSPStartup` refuses interface versions below 2.2 with `WSAVERNOTSUPPORTED` (without
/// starting, so no clean-up is owed). Needs the provider's entry points, so it runs where the
/// provider is linked in (or its `WSPStartup` was resolved by hand).
pub fn startup_version(entry: &EntryPoints) -> Result<(), String> {
    const V: &str = "errors::startup_version";
    let mut info = vec![WSAPROTOCOL_INFOW::default(); 16];
    let mut len = (info.len() * core::mem::size_of::<WSAPROTOCOL_INFOW>()) as u32;
    let mut errno = 0;
    // SAFETY: a buffer of `len` bytes for the entries, as WspEnumProviderProtocols takes.
    let n = unsafe { (entry.enum_protocols)(null_mut(), info.as_mut_ptr(), &mut len, &mut errno) };
    ensure(
        n > 0,
        V,
        format_args!("WspEnumProviderProtocols returned {} (error {})", n, errno),
    )?;
    for version in [0x0101u16, 0x0001, 0x0002, 0x0102, 0x0000] {
        let mut data = WSPDATA::default();
        let mut table = WSPPROC_TABLE::default();
        // SAFETY: valid WSPDATA, protocol entry and table to fill; the upcall table is empty,
        // which a provider refusing the version never uses.
        let r = unsafe {
            (entry.startup)(
                version,
                &mut data,
                &info[0],
                WSPUPCALLTABLE::default(),
                &mut table,
            )
        };
        ensure(
            r == WsaError::VERNOTSUPPORTED.code(),
            V,
            format_args!(
                "WSPStartup(version {}.{}) returned {}, expected WSAVERNOTSUPPORTED",
                version & 0xff,
                version >> 8,
                r
            ),
        )?;
    }
    Ok(())
}
