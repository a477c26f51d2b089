//! Bad options and ioctls, `accept` that keeps the connection it could not return, unknown
//! and closed handles.

use super::*;

/// Short option and ioctl buffers.
pub(super) fn options_and_ioctls(ws: &Ws2, spi: &Spi, a: SOCKET) -> Result<(), String> {
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
pub(super) fn accept_keeps_connection(
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
pub(super) fn handles(ws: &Ws2, open: &mut Open<'_>, t: &Target, spi: &Spi) -> Result<(), String> {
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
