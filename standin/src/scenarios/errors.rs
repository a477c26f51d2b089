//! Bad input through the raw SPI: null and short buffers, unknown and closed handles, bad
//! arguments. Every call goes through [`check_int`]/[`check_socket`], so besides the error
//! code each one is checked against the SPI's return conventions.
//!
//! Works with stream and datagram targets of any address family: short addresses are
//! shorter than the entry's `iMinSockAddr`, options are ones the runtime answers or the
//! provider reported it supports.

use super::stream::{connected, ensure, expect_err, At, Open};
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

/// Null and bad `WSABUF`s and count/flag pointers on send and receive.
fn buffers(spi: &Spi, a: SOCKET) -> Result<(), String> {
    let send = entry!(spi, lpWSPSend);
    let recv = entry!(spi, lpWSPRecv);
    let mut data = *b"data";
    let good = WSABUF {
        len: 4,
        buf: data.as_mut_ptr(),
    };
    let null_buf = WSABUF {
        len: 4,
        buf: null_mut(),
    };
    let mut n = 0u32;
    let mut flags = 0u32;
    // SAFETY: a null WSABUF array with a count of 1, which the provider must refuse unread.
    let r = check_int("WSPSend", |e| unsafe {
        send(a, null(), 1, &mut n, 0, null_mut(), None, null(), e)
    });
    expect_err(r, WsaError::FAULT, S, "WSPSend with a null lpBuffers")?;
    // SAFETY: a WSABUF whose buffer is null with a non-zero length.
    let r = check_int("WSPSend", |e| unsafe {
        send(a, &null_buf, 1, &mut n, 0, null_mut(), None, null(), e)
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPSend with a null buffer in a WSABUF",
    )?;
    // SAFETY: a valid WSABUF and a null lpNumberOfBytesSent.
    let r = check_int("WSPSend", |e| unsafe {
        send(a, &good, 1, null_mut(), 0, null_mut(), None, null(), e)
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPSend with a null lpNumberOfBytesSent",
    )?;
    // SAFETY: a null WSABUF array with a count of 1.
    let r = check_int("WSPRecv", |e| unsafe {
        recv(
            a,
            null(),
            1,
            &mut n,
            &mut flags,
            null_mut(),
            None,
            null(),
            e,
        )
    });
    expect_err(r, WsaError::FAULT, S, "WSPRecv with a null lpBuffers")?;
    // SAFETY: a valid WSABUF and a null lpNumberOfBytesRecvd.
    let r = check_int("WSPRecv", |e| unsafe {
        recv(
            a,
            &good,
            1,
            null_mut(),
            &mut flags,
            null_mut(),
            None,
            null(),
            e,
        )
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPRecv with a null lpNumberOfBytesRecvd",
    )?;
    // SAFETY: a valid WSABUF and a null lpFlags.
    let r = check_int("WSPRecv", |e| unsafe {
        recv(a, &good, 1, &mut n, null_mut(), null_mut(), None, null(), e)
    });
    expect_err(r, WsaError::FAULT, S, "WSPRecv with a null lpFlags")?;
    Ok(())
}

/// Short and null addresses and address buffers.
fn addresses(
    ws: &Ws2,
    open: &mut Open<'_>,
    t: &Target,
    spi: &Spi,
    a: SOCKET,
    short_len: i32,
) -> Result<(), String> {
    let fresh = open.socket(t, S, "fresh")?;
    let mut name = (t.addr)(5).to_bytes();
    name.resize(name.len().max(128), 0);
    let bind = entry!(spi, lpWSPBind);
    let connect = entry!(spi, lpWSPConnect);
    let send_to = entry!(spi, lpWSPSendTo);
    let recv_from = entry!(spi, lpWSPRecvFrom);
    let get_sock_name = entry!(spi, lpWSPGetSockName);
    let get_peer_name = entry!(spi, lpWSPGetPeerName);
    let sa = name.as_ptr().cast::<SOCKADDR>();
    // SAFETY: a null address with a plausible length.
    let r = check_int("WSPBind", |e| unsafe { bind(fresh, null(), 16, e) });
    expect_err(r, WsaError::FAULT, S, "WSPBind with a null name")?;
    // SAFETY: `name` has 128 readable bytes; the length claims fewer than the minimum.
    let r = check_int("WSPBind", |e| unsafe { bind(fresh, sa, short_len, e) });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        format_args!("WSPBind with namelen {}", short_len),
    )?;
    // SAFETY: as above, for connect; no connect data or QOS.
    let r = check_int("WSPConnect", |e| unsafe {
        connect(fresh, sa, short_len, null(), null_mut(), null(), null(), e)
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        format_args!("WSPConnect with namelen {}", short_len),
    )?;

    let mut data = *b"data";
    let buf = WSABUF {
        len: 4,
        buf: data.as_mut_ptr(),
    };
    let mut n = 0u32;
    let mut flags = 0u32;
    // SAFETY: a valid WSABUF and a 128-byte address claimed to be shorter than the minimum.
    let r = check_int("WSPSendTo", |e| unsafe {
        send_to(
            a,
            &buf,
            1,
            &mut n,
            0,
            sa,
            short_len,
            null_mut(),
            None,
            null(),
            e,
        )
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        format_args!("WSPSendTo with tolen {}", short_len),
    )?;
    let mut from = [0u8; 128];
    let mut fromlen = 1i32;
    // SAFETY: a valid WSABUF and a 128-byte address buffer claimed to be 1 byte long.
    let r = check_int("WSPRecvFrom", |e| unsafe {
        recv_from(
            a,
            &buf,
            1,
            &mut n,
            &mut flags,
            from.as_mut_ptr().cast(),
            &mut fromlen,
            null_mut(),
            None,
            null(),
            e,
        )
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPRecvFrom with a 1-byte address buffer",
    )?;

    for (call, f) in [
        ("WSPGetSockName", get_sock_name),
        ("WSPGetPeerName", get_peer_name),
    ] {
        let mut out = [0u8; 128];
        let mut len = 128i32;
        // SAFETY: a null name with a valid length.
        let r = check_int(call, |e| unsafe { f(a, null_mut(), &mut len, e) });
        expect_err(
            r,
            WsaError::FAULT,
            S,
            format_args!("{} with a null name", call),
        )?;
        // SAFETY: a valid buffer with a null length pointer.
        let r = check_int(call, |e| unsafe {
            f(a, out.as_mut_ptr().cast(), null_mut(), e)
        });
        expect_err(
            r,
            WsaError::FAULT,
            S,
            format_args!("{} with a null namelen", call),
        )?;
        let mut len = 1i32;
        // SAFETY: a 128-byte buffer claimed to be 1 byte long.
        let r = check_int(call, |e| unsafe {
            f(a, out.as_mut_ptr().cast(), &mut len, e)
        });
        expect_err(
            r,
            WsaError::FAULT,
            S,
            format_args!("{} with a 1-byte buffer", call),
        )?;
        ensure(
            len == 1,
            S,
            format_args!("{} changed *namelen on WSAEFAULT", call),
        )?;
    }
    open.close(fresh, S, "fresh")?;
    ws.getsockname(a).at(S, "getsockname after the bad calls")?;
    Ok(())
}

/// Short option and ioctl buffers.
fn options_and_ioctls(ws: &Ws2, spi: &Spi, a: SOCKET) -> Result<(), String> {
    let get = entry!(spi, lpWSPGetSockOpt);
    let set = entry!(spi, lpWSPSetSockOpt);
    let ioctl = entry!(spi, lpWSPIoctl);
    let mut val = [0u8; 16];
    let mut len = 2i32;
    // SAFETY: a 16-byte buffer claimed to be 2 bytes long.
    let r = check_int("WSPGetSockOpt", |e| unsafe {
        get(a, SOL_SOCKET, SO_TYPE, val.as_mut_ptr(), &mut len, e)
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPGetSockOpt(SO_TYPE) with a 2-byte buffer",
    )?;
    // SAFETY: a valid buffer and a null optlen.
    let r = check_int("WSPGetSockOpt", |e| unsafe {
        get(a, SOL_SOCKET, SO_TYPE, val.as_mut_ptr(), null_mut(), e)
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPGetSockOpt(SO_TYPE) with a null optlen",
    )?;
    let mut len = 4i32;
    // SAFETY: a null optval with a length of 4.
    let r = check_int("WSPGetSockOpt", |e| unsafe {
        get(a, SOL_SOCKET, SO_TYPE, null_mut(), &mut len, e)
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPGetSockOpt(SO_TYPE) with a null optval",
    )?;
    // SAFETY: a null optval with a length of 4.
    let r = check_int("WSPSetSockOpt", |e| unsafe {
        set(a, SOL_SOCKET, SO_RCVBUF, null(), 4, e)
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPSetSockOpt(SO_RCVBUF) with a null optval",
    )?;
    if ws.getsockopt_int(a, SOL_SOCKET, SO_RCVBUF).is_ok() {
        // SAFETY: `val` has 16 readable bytes; 2 are claimed.
        let r = check_int("WSPSetSockOpt", |e| unsafe {
            set(a, SOL_SOCKET, SO_RCVBUF, val.as_ptr(), 2, e)
        });
        expect_err(
            r,
            WsaError::FAULT,
            S,
            "WSPSetSockOpt(SO_RCVBUF) with a 2-byte value",
        )?;
    }

    let mut out = 0u32;
    let mut returned = 0u32;
    let on = 1u32;
    let out_ptr = (&mut out as *mut u32).cast();
    // SAFETY: a 4-byte output buffer claimed to be 2 bytes long.
    let r = check_int("WSPIoctl", |e| unsafe {
        ioctl(
            a,
            FIONREAD as u32,
            null(),
            0,
            out_ptr,
            2,
            &mut returned,
            null_mut(),
            None,
            null(),
            e,
        )
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPIoctl(FIONREAD) with a 2-byte output buffer",
    )?;
    // SAFETY: a valid output buffer and a null lpcbBytesReturned.
    let r = check_int("WSPIoctl", |e| unsafe {
        ioctl(
            a,
            FIONREAD as u32,
            null(),
            0,
            out_ptr,
            4,
            null_mut(),
            null_mut(),
            None,
            null(),
            e,
        )
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPIoctl(FIONREAD) with a null lpcbBytesReturned",
    )?;
    // SAFETY: a null input buffer for FIONBIO, which needs 4 bytes.
    let r = check_int("WSPIoctl", |e| unsafe {
        ioctl(
            a,
            FIONBIO as u32,
            null(),
            4,
            null_mut(),
            0,
            &mut returned,
            null_mut(),
            None,
            null(),
            e,
        )
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPIoctl(FIONBIO) with a null input buffer",
    )?;
    let in_ptr = (&on as *const u32).cast();
    // SAFETY: a 4-byte input buffer claimed to be 2 bytes long.
    let r = check_int("WSPIoctl", |e| unsafe {
        ioctl(
            a,
            FIONBIO as u32,
            in_ptr,
            2,
            null_mut(),
            0,
            &mut returned,
            null_mut(),
            None,
            null(),
            e,
        )
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        "WSPIoctl(FIONBIO) with a 2-byte input buffer",
    )?;
    // SAFETY: valid buffers; an I/O control code nobody defines.
    let r = check_int("WSPIoctl", |e| unsafe {
        ioctl(
            a,
            0x2800_7f7f,
            in_ptr,
            4,
            out_ptr,
            4,
            &mut returned,
            null_mut(),
            None,
            null(),
            e,
        )
    });
    match r {
        Err(WsaError::INVAL) | Err(WsaError::OPNOTSUPP) => Ok(()),
        other => Err(format!(
            "{}: WSPIoctl with an unknown code: expected WSAEINVAL or WSAEOPNOTSUPP, got {:?}",
            S, other
        )),
    }
}

/// An `accept` whose address buffer is too short fails with `WSAEFAULT` without consuming
/// the pending connection.
fn accept_keeps_connection(
    ws: &Ws2,
    open: &mut Open<'_>,
    t: &Target,
    short_len: i32,
) -> Result<(), String> {
    let l = open.socket(t, S, "listener")?;
    ws.bind(l, &(t.addr)(3)).at(S, "bind (listener)")?;
    ws.listen(l, 4).at(S, "listen")?;
    let addr = ws.getsockname(l).at(S, "getsockname (listener)")?;
    let c = open.socket(t, S, "client")?;
    ws.connect(c, &addr).at(S, "connect")?;
    let spi = ws.spi_for(l).at(S, "spi_for (listener)")?;
    let accept = entry!(spi, lpWSPAccept);
    let mut out = [0u8; 128];
    let mut len = short_len;
    // SAFETY: a 128-byte address buffer claimed to be shorter than the minimum.
    let r = check_socket("WSPAccept", |e| unsafe {
        accept(l, out.as_mut_ptr().cast(), &mut len, None, 0, e)
    });
    expect_err(
        r,
        WsaError::FAULT,
        S,
        format_args!("WSPAccept with addrlen {}", short_len),
    )?;
    let (s, _) = ws.accept(l).at(
        S,
        "accept after the WSAEFAULT (the connection must still be there)",
    )?;
    open.adopt(s);
    Ok(())
}

/// Unknown, closed and reissued handles on the provider's own table.
fn handles(ws: &Ws2, open: &mut Open<'_>, t: &Target, spi: &Spi) -> Result<(), String> {
    let get_sock_name = entry!(spi, lpWSPGetSockName);
    let close = entry!(spi, lpWSPCloseSocket);
    let name_of = |s: SOCKET| {
        let mut out = [0u8; 128];
        let mut len = 128i32;
        // SAFETY: a writable 128-byte address buffer.
        check_int("WSPGetSockName", |e| unsafe {
            get_sock_name(s, out.as_mut_ptr().cast(), &mut len, e)
        })
    };
    for h in [0, INVALID_SOCKET] {
        expect_err(
            name_of(h),
            WsaError::NOTSOCK,
            S,
            format_args!("WSPGetSockName({:#x}), never a socket", h),
        )?;
    }
    let s = open.socket(t, S, "to close")?;
    ws.bind(s, &(t.addr)(4)).at(S, "bind (to close)")?;
    open.close(s, S, "to close")?;
    expect_err(
        name_of(s),
        WsaError::NOTSOCK,
        S,
        "WSPGetSockName on a closed handle",
    )?;
    // SAFETY: plain arguments.
    let r = check_int("WSPCloseSocket", |e| unsafe { close(s, e) });
    expect_err(r, WsaError::NOTSOCK, S, "WSPCloseSocket of a closed handle")?;
    expect_err(
        ws.closesocket(s),
        WsaError::NOTSOCK,
        S,
        "closesocket of a closed handle",
    )?;

    // The closed value now names an unrelated object (ws2_32 reuses values at once).
    let unrelated = ws.reserve_unrelated_handle();
    let result = (|| {
        expect_err(
            name_of(unrelated),
            WsaError::NOTSOCK,
            S,
            "WSPGetSockName on a reissued handle value",
        )?;
        // SAFETY: plain arguments.
        let r = check_int("WSPCloseSocket", |e| unsafe { close(unrelated, e) });
        expect_err(
            r,
            WsaError::NOTSOCK,
            S,
            "WSPCloseSocket on a reissued handle value",
        )
    })();
    ws.release_unrelated_handle(unrelated);
    result
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
