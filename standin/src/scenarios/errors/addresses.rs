//! Bad buffers and bad addresses.

use super::*;

/// Null and bad `WSABUF`s and count/flag pointers on send and receive.
pub(super) fn buffers(spi: &Spi, a: SOCKET) -> Result<(), String> {
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
pub(super) fn addresses(
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
