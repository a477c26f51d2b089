//! The extension functions through the stand-in: `AcceptEx`, `ConnectEx`, `DisconnectEx`,
//! `GetAcceptExSockaddrs`, `TransmitFile`, `WSASendMsg`, `WSARecvMsg`.

use super::*;

/// The extension functions an application gets with `SIO_GET_EXTENSION_FUNCTION_POINTER` and
/// calls directly, each completing through its event: `ConnectEx` with data, `AcceptEx` with
/// data and `GetAcceptExSockaddrs`, `TransmitFile` of head and tail buffers (no file),
/// `DisconnectEx`, `WSASendMsg`/`WSARecvMsg` on datagrams (sender reported), and an
/// overlapped `WSARecvFrom` with a completion routine fed by `WSASendTo`; errors come back
/// through the thread's last error (`AcceptEx` on a socket that is not listening is
/// `WSAEINVAL`), and an unknown GUID is `WSAEINVAL`.
pub fn extensions(ws: &Ws2, stream: &Target, dgram: &Target) -> Result<(), String> {
    const S: &str = "overlapped::extensions";
    let baseline = Baseline::take(ws);
    let mut open = Open::new(ws);
    let ev = ws.create_event().at(S, "WSACreateEvent")?;
    // Leaked if the scenario fails with an operation pending; freed at the end.
    let mut ov = ManuallyDrop::new(Box::new(OVERLAPPED::default()));
    let ovp: *mut OVERLAPPED = &mut **ov;
    let mut out = ManuallyDrop::new(vec![0u8; 64 + 2 * ADDR_SLOT as usize]);
    let mut got = ManuallyDrop::new(vec![0u8; 256]);
    let mut ov_accept = ManuallyDrop::new(Box::new(OVERLAPPED::default()));
    let reset = |ov: *mut OVERLAPPED| {
        // SAFETY: `ov` is ours and no operation is pending on it between steps.
        unsafe {
            *ov = OVERLAPPED::default();
            (*ov).hEvent = ev as _;
        }
    };
    let result = (|| -> Result<(), String> {
        let (l, addr) = listener(ws, &mut open, stream, 0, 8, S)?;
        let unknown = crate::sys::GUID::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        expect_err(
            ws.get_extension_function::<crate::ext::DisconnectExFn>(l, unknown)
                .map(|f| f as usize),
            WsaError::INVAL,
            S,
            "SIO_GET_EXTENSION_FUNCTION_POINTER with an unknown GUID",
        )?;
        let a = open.socket(stream, S, "accept socket")?;
        let c = open.socket(stream, S, "ConnectEx socket")?;
        ws.bind(c, &(stream.addr)(1))
            .at(S, "bind (ConnectEx socket)")?;

        // AcceptEx on a socket that does not listen: FALSE, WSAEINVAL as the last error.
        reset(ovp);
        // SAFETY: `out` and `ov` outlive the call (it fails at once).
        let r = unsafe { ws.accept_ex(c, a, &mut out, 0, ADDR_SLOT, ovp) };
        expect_err(
            r,
            WsaError::INVAL,
            S,
            "AcceptEx on a socket that is not listening",
        )?;
        ensure(
            ws.last_error() == WsaError::INVAL.code(),
            S,
            format_args!("WSAGetLastError after AcceptEx failed: {}", ws.last_error()),
        )?;

        // AcceptEx waiting for 5 bytes of data, then ConnectEx sending them.
        let accept_ev = ws.create_event().at(S, "WSACreateEvent")?;
        ov_accept.hEvent = accept_ev as _;
        let pa: *mut OVERLAPPED = &mut **ov_accept;
        // SAFETY: `out` and `ov_accept` outlive the operation (awaited below).
        let ra = unsafe { ws.accept_ex(l, a, &mut out, 5, ADDR_SLOT, pa) };
        reset(ovp);
        // SAFETY: the data is static; `ov` outlives the operation.
        let rc = unsafe { ws.connect_ex(c, &addr, b"hello", ovp) };
        let sent = finish(ws, c, rc.map(Some), ovp, ev, "ConnectEx with 5 bytes")?;
        ensure(sent == 5, S, format_args!("ConnectEx sent {} bytes", sent))?;
        let received = finish(ws, l, ra.map(Some), pa, accept_ev, "AcceptEx with 5 bytes")?;
        ws.close_event(accept_ev).at(S, "WSACloseEvent")?;
        ensure(
            received == 5 && &out[..5] == b"hello",
            S,
            format_args!("AcceptEx received {} bytes: {:?}", received, &out[..5]),
        )?;
        let (local, remote) = ws
            .get_accept_ex_sockaddrs(l, &out, 5, ADDR_SLOT)
            .at(S, "GetAcceptExSockaddrs")?;
        let c_name = ws.getsockname(c).at(S, "getsockname (ConnectEx socket)")?;
        ensure(
            remote == c_name && local == addr,
            S,
            format_args!(
                "GetAcceptExSockaddrs: local {:?} remote {:?}; expected {:?} and {:?}",
                local, remote, addr, c_name
            ),
        )?;

        // TransmitFile of head and tail buffers only.
        let (mut head, mut tail) = (*b"head-", *b"-tail");
        let buffers = crate::ext::TRANSMIT_FILE_BUFFERS {
            Head: head.as_mut_ptr().cast(),
            HeadLength: head.len() as u32,
            Tail: tail.as_mut_ptr().cast(),
            TailLength: tail.len() as u32,
        };
        reset(ovp);
        // SAFETY: buffers and `ov` outlive the operation (awaited by `finish`).
        let rt = unsafe {
            ws.transmit_file(c, core::ptr::null_mut(), 0, 0, ovp, &buffers, 0)
                .map(|()| None)
        };
        finish(ws, c, rt, ovp, ev, "TransmitFile (head and tail)")?;
        let n = crate::scenarios::support::recv_exact(ws, a, &mut got[..10])
            .at(S, "recv (TransmitFile data)")?;
        ensure(
            &got[..n] == b"head--tail",
            S,
            format_args!("TransmitFile delivered {:?}", &got[..n]),
        )?;

        // DisconnectEx: the peer sees end of stream.
        reset(ovp);
        // SAFETY: `ov` outlives the operation.
        let rd = unsafe { ws.disconnect_ex(c, ovp, 0).map(|()| None) };
        finish(ws, c, rd, ovp, ev, "DisconnectEx")?;
        let n = ws.recv(a, &mut got, 0).at(S, "recv after DisconnectEx")?;
        ensure(
            n == 0,
            S,
            "the peer of DisconnectEx did not see end of stream",
        )?;

        // WSASendMsg / WSARecvMsg on datagrams.
        let r = open.socket(dgram, S, "datagram receiver")?;
        ws.bind(r, &(dgram.addr)(2)).at(S, "bind (receiver)")?;
        let to = ws.getsockname(r).at(S, "getsockname (receiver)")?;
        let d = open.socket(dgram, S, "datagram sender")?;
        ws.bind(d, &(dgram.addr)(3)).at(S, "bind (sender)")?;
        let from_expected = ws.getsockname(d).at(S, "getsockname (sender)")?;
        let mut to_bytes = to.to_bytes();
        let mut payload = *b"datagram";
        let mut send_buf = [WSABUF {
            len: payload.len() as u32,
            buf: payload.as_mut_ptr(),
        }];
        let mut send_msg = crate::ext::WSAMSG {
            name: to_bytes.as_mut_ptr().cast(),
            namelen: to_bytes.len() as i32,
            lpBuffers: send_buf.as_mut_ptr(),
            dwBufferCount: 1,
            Control: WSABUF::default(),
            dwFlags: 0,
        };
        reset(ovp);
        // SAFETY: the message and what it names outlive the operation.
        let rs = unsafe { ws.wsa_send_msg(d, &mut send_msg, 0, ovp, None) };
        finish(ws, d, rs.map(Some), ovp, ev, "WSASendMsg")?;
        let mut from = [0u8; 128];
        let mut recv_buf = [wsabuf(&mut got)];
        let mut recv_msg = crate::ext::WSAMSG {
            name: from.as_mut_ptr().cast(),
            namelen: from.len() as i32,
            lpBuffers: recv_buf.as_mut_ptr(),
            dwBufferCount: 1,
            Control: WSABUF::default(),
            dwFlags: 0,
        };
        reset(ovp);
        // SAFETY: the message and what it names outlive the operation.
        let rr = unsafe { ws.wsa_recv_msg(r, &mut recv_msg, ovp, None) };
        let n = finish(ws, r, rr.map(Some), ovp, ev, "WSARecvMsg")?;
        ensure(
            &got[..n as usize] == b"datagram",
            S,
            format_args!("WSARecvMsg received {:?}", &got[..n as usize]),
        )?;
        let sender = crate::SockAddr::from_bytes(&from[..recv_msg.namelen.max(0) as usize])
            .map_err(|e| format!("{}: WSARecvMsg wrote a malformed sender: {}", S, e))?;
        ensure(
            sender == from_expected,
            S,
            format_args!(
                "WSARecvMsg sender {:?}, expected {:?}",
                sender, from_expected
            ),
        )?;

        // WSARecvFrom pending with a completion routine, then WSASendTo: the routine runs in
        // this thread's alertable wait, once, and the sender is in the address buffer.
        // Leaked if the scenario fails with the receive pending; freed once it completed.
        let mut from_buf = ManuallyDrop::new(Box::new(crate::AddrBuf::new()));
        reset(ovp);
        forget_routine_calls(ovp);
        let b = [wsabuf(&mut got)];
        // SAFETY: the buffers, the address buffer and `ov` outlive the operation (awaited).
        match unsafe { ws.wsa_recv_from(r, &b, 0, &mut **from_buf, ovp, ROUTINE) } {
            Err(e) if e == WsaError::IO_PENDING => {}
            other => {
                return Err(format!(
                    "{}: WSARecvFrom with nothing queued: {:?}",
                    S, other
                ))
            }
        }
        let mut data = *b"to";
        let sb = [WSABUF {
            len: 2,
            buf: data.as_mut_ptr(),
        }];
        // SAFETY: a blocking send (no OVERLAPPED): the buffer is only used during the call.
        let n = unsafe { ws.wsa_send_to(d, &sb, 0, &to, core::ptr::null_mut(), None) }
            .at(S, "WSASendTo")?;
        ensure(n == 2, S, format_args!("WSASendTo sent {} bytes", n))?;
        ensure(
            alertable_until(ws, || !routine_calls(ovp).is_empty()),
            S,
            "the WSARecvFrom completion routine never ran",
        )?;
        ensure(
            routine_calls(ovp) == vec![(0, 2)] && &got[..2] == b"to",
            S,
            format_args!("WSARecvFrom routine calls {:?}", routine_calls(ovp)),
        )?;
        ensure(
            from_buf.addr("WSARecvFrom") == from_expected,
            S,
            "WSARecvFrom reported the wrong sender",
        )?;
        forget_routine_calls(ovp);
        // SAFETY: the receive completed (its routine ran); nothing refers to the buffer.
        unsafe { ManuallyDrop::drop(&mut from_buf) };
        open.close_all(S)
    })();
    let closed = ws.close_event(ev).at(S, "WSACloseEvent");
    result.and(closed)?;
    ensure(
        ws.outstanding_overlapped() == 0,
        S,
        format_args!("{} operations never completed", ws.outstanding_overlapped()),
    )?;
    // SAFETY: every operation completed (checked above).
    unsafe {
        ManuallyDrop::drop(&mut ov);
        ManuallyDrop::drop(&mut out);
        ManuallyDrop::drop(&mut got);
        ManuallyDrop::drop(&mut ov_accept);
    }
    baseline.check(ws, S)
}
