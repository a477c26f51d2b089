//! The IFS build of the counting layer (`examples/layered-ifs`) over the IFS pipe provider:
//! the application gets the pipe provider's own handles (registered again with
//! `WPUModifyIFSHandle` under the layer's chain entry, so ws2_32 sends the calls on them to
//! the layer), the stream scenarios pass through the layer, the OS's file I/O works on the
//! same values (bypassing the layer, as Microsoft documents for IFS layers), the counters match
//! the bytes moved, and `SIO_BASE_HANDLE` answers the handle itself. Readiness comes from the
//! pipe provider's own signals through the layer, so every notification model (event-select,
//! select, async-select) passes through it too, and so does overlapped I/O by event and by
//! completion routine (completion ports of IFS sockets get no packets, as documented;
//! `AcceptEx` is refused once a connection is there to adopt), including closing and shutting
//! down with requests pending.

mod common;

use common::{run, Chain, PIPE};
use ws2_standin::scenarios::overlapped::{forget_routine_calls, routine_calls, wsabuf, ROUTINE};
use ws2_standin::scenarios::{churn, duplicate, errors, ifs, notify, overlapped, stream};
use ws2_standin::sys::{self, OVERLAPPED, SOCKET};
use ws2_standin::{Ws2, WsaError, WSA_WAIT_EVENT_0, WSA_WAIT_TIMEOUT};

#[test]
fn stream_echo() {
    run(Chain::IfsOverPipe, |ws| {
        stream::echo(ws, &PIPE, 8, 256 << 10)
    });
}

#[test]
fn stream_graceful_shutdown() {
    run(Chain::IfsOverPipe, |ws| {
        stream::graceful_shutdown(ws, &PIPE)
    });
}

#[test]
fn stream_refused() {
    run(Chain::IfsOverPipe, |ws| stream::refused(ws, &PIPE));
}

#[test]
fn stream_wrong_state() {
    run(Chain::IfsOverPipe, |ws| stream::wrong_state(ws, &PIPE));
}

#[test]
fn stream_nonblocking() {
    run(Chain::IfsOverPipe, |ws| stream::nonblocking(ws, &PIPE));
}

#[test]
fn stream_options() {
    run(Chain::IfsOverPipe, |ws| stream::options(ws, &PIPE));
}

#[test]
fn handles_are_os_handles() {
    run(Chain::IfsOverPipe, |ws| ifs::handle_is_os_handle(ws, &PIPE));
}

#[test]
fn file_io_interleaves_with_send_and_recv() {
    run(Chain::IfsOverPipe, |ws| ifs::file_io_interleave(ws, &PIPE));
}

#[test]
fn errors_bad_input() {
    run(Chain::IfsOverPipe, |ws| errors::bad_input(ws, &PIPE));
}

#[test]
fn churn_create_close() {
    run(Chain::IfsOverPipe, |ws| {
        churn::create_close(ws, &PIPE, 1_000)
    });
}

#[test]
fn churn_close_races_calls() {
    run(Chain::IfsOverPipe, |ws| {
        churn::close_races_calls(ws, &PIPE, 10)
    });
}

#[test]
fn duplicate_same_process() {
    run(Chain::IfsOverPipe, |ws| duplicate::same_process(ws, &PIPE));
}

fn err(e: impl ToString) -> String {
    e.to_string()
}

/// A listener, a connected client and the accepted server socket, through the layer.
fn connected(ws: &Ws2) -> Result<(SOCKET, SOCKET, SOCKET), String> {
    let listener = ws.socket(1, 1, 0).map_err(err)?;
    ws.bind(listener, &(PIPE.addr)(0)).map_err(err)?;
    ws.listen(listener, 2).map_err(err)?;
    let name = ws.getsockname(listener).map_err(err)?;
    let client = ws.socket(1, 1, 0).map_err(err)?;
    ws.connect(client, &name).map_err(err)?;
    let (server, _) = ws.accept(listener).map_err(err)?;
    Ok((listener, client, server))
}

/// `[sent, received]` of one socket (`SIO_LAYERED_COUNTS`).
fn counts(ws: &Ws2, s: SOCKET) -> Result<(u64, u64), String> {
    let mut out = [0u8; 16];
    ws.wsa_ioctl(s, layered_provider::SIO_LAYERED_COUNTS, &[], &mut out)
        .map_err(err)?;
    Ok((
        u64::from_le_bytes(out[..8].try_into().unwrap()),
        u64::from_le_bytes(out[8..].try_into().unwrap()),
    ))
}

#[test]
fn counters_match_the_bytes_moved() {
    run(Chain::IfsOverPipe, |ws| {
        let (listener, client, server) = connected(ws)?;
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
        let mut sent = 0;
        while sent < data.len() {
            sent += ws.send(client, &data[sent..], 0).map_err(err)?;
        }
        let mut got = vec![0u8; data.len()];
        let mut n = 0;
        while n < got.len() {
            n += ws.recv(server, &mut got[n..], 0).map_err(err)?;
        }
        assert_eq!(got, data);
        let reply = [9u8; 1234];
        assert_eq!(ws.send(server, &reply, 0).map_err(err)?, reply.len());
        let mut back = [0u8; 1234];
        let mut n = 0;
        while n < back.len() {
            n += ws.recv(client, &mut back[n..], 0).map_err(err)?;
        }
        assert_eq!(counts(ws, client)?, (70_000, 1234));
        assert_eq!(counts(ws, server)?, (1234, 70_000));
        for s in [client, server, listener] {
            ws.closesocket(s).map_err(err)?;
        }
        Ok(())
    });
}

#[test]
fn base_handle_is_the_handle_itself() {
    run(Chain::IfsOverPipe, |ws| {
        let (listener, client, server) = connected(ws)?;
        for s in [listener, client, server] {
            let mut out = [0u8; core::mem::size_of::<SOCKET>()];
            let n = ws
                .wsa_ioctl(s, sys::SIO_BASE_HANDLE, &[], &mut out)
                .map_err(err)?;
            assert_eq!(n as usize, out.len());
            // The pipe provider's handle, which is the value the application holds.
            assert_eq!(SOCKET::from_ne_bytes(out), s);
        }
        for s in [client, server, listener] {
            ws.closesocket(s).map_err(err)?;
        }
        Ok(())
    });
}

#[test]
fn protocol_info_is_the_ifs_chain_entry() {
    run(Chain::IfsOverPipe, |ws| {
        let s = ws.socket(1, 1, 0).map_err(err)?;
        let info = common::protocol_info(ws, s);
        ws.closesocket(s).map_err(err)?;
        assert_eq!(info.ProtocolChain.ChainLen, 2);
        assert_ne!(info.dwServiceFlags1 & sys::XP1_IFS_HANDLES, 0);
        let name = String::from_utf16_lossy(&info.szProtocol);
        assert!(name.starts_with("Counting IFS layer over ["), "{}", name);
        Ok(())
    });
}

#[test]
fn accept_ex_is_refused() {
    run(Chain::IfsOverPipe, |ws| {
        // A connection is pending, so the runtime's accept below succeeds; the IFS layer then
        // refuses to make it the application's accept socket.
        let (listener, client, server) = connected(ws)?;
        let second = ws.socket(1, 1, 0).map_err(err)?;
        let name = ws.getsockname(listener).map_err(err)?;
        ws.connect(second, &name).map_err(err)?;
        let target = ws.socket(1, 1, 0).map_err(err)?;
        let event = ws.create_event().map_err(err)?;
        let mut ov: Box<sys::OVERLAPPED> = Box::default();
        ov.hEvent = event as _;
        let ovp: *mut sys::OVERLAPPED = &mut *ov;
        let mut out = [0u8; 2 * (128 + 16)];
        // SAFETY: `out` and `ov` outlive the operation (awaited below when pending).
        let started = unsafe { ws.accept_ex(listener, target, &mut out, 0, 128 + 16, ovp) };
        let outcome = match started {
            Err(e) if e == ws2_standin::WsaError::IO_PENDING => {
                ws.wait_for_multiple_events(&[event], false, 5_000, false)
                    .map_err(err)?;
                // SAFETY: the OVERLAPPED of the operation just started on `listener`.
                unsafe { ws.wsa_get_overlapped_result(listener, ovp, true) }.map(|(n, _)| n)
            }
            other => other,
        };
        assert_eq!(outcome, Err(ws2_standin::WsaError::OPNOTSUPP));
        ws.close_event(event).map_err(err)?;
        for s in [target, second, client, server, listener] {
            ws.closesocket(s).map_err(err)?;
        }
        Ok(())
    });
}

#[test]
fn notify_event_select_echo() {
    run(Chain::IfsOverPipe, |ws| {
        notify::event_select_echo(ws, &PIPE, 8, 128 << 10)
    });
}

#[test]
fn notify_select_echo() {
    run(Chain::IfsOverPipe, |ws| {
        notify::select_echo(ws, &PIPE, 8, 128 << 10)
    });
}

#[test]
fn notify_async_select_order() {
    run(Chain::IfsOverPipe, |ws| {
        notify::async_select_order(ws, &PIPE)
    });
}

// Overlapped I/O through the IFS layer: the runtime completes the layer's requests by event or
// completion routine, as the pipe provider completes its own (`examples/pipe/tests/
// overlapped.rs` runs the same checks directly); completion ports of IFS sockets get no
// packets. The stand-in's shared scenarios for closing and shutting down with requests pending
// check exactly that for an IFS target.

#[test]
fn overlapped_close_with_pending() {
    run(Chain::IfsOverPipe, |ws| {
        overlapped::close_with_pending(ws, &PIPE)
    });
}

#[test]
fn overlapped_shutdown_with_pending() {
    run(Chain::IfsOverPipe, |ws| {
        overlapped::shutdown_with_pending(ws, &PIPE)
    });
}

fn expect_pending(r: Result<u32, WsaError>, what: &str) -> Result<(), String> {
    match r {
        Err(e) if e == WsaError::IO_PENDING => Ok(()),
        other => Err(format!(
            "{}: expected WSA_IO_PENDING, got {:?}",
            what, other
        )),
    }
}

/// Runs `body` on a connection through the IFS layer over the pipe (`client`, `server`), then
/// closes both sockets and the listener and checks that no overlapped operation is left.
fn overlapped_case(body: impl FnOnce(&Ws2, SOCKET, SOCKET) -> Result<(), String>) {
    run(Chain::IfsOverPipe, |ws| {
        let (listener, client, server) = connected(ws)?;
        body(ws, client, server)?;
        for s in [client, server, listener] {
            ws.closesocket(s).map_err(err)?;
        }
        assert_eq!(ws.outstanding_overlapped(), 0);
        Ok(())
    });
}

#[test]
fn overlapped_receive_completes_by_event() {
    overlapped_case(|ws, client, server| {
        let ev = ws.create_event().map_err(err)?;
        let mut buf = Box::new([0u8; 32]);
        let mut ov = Box::new(OVERLAPPED::default());
        ov.hEvent = ev as _;
        let ovp: *mut OVERLAPPED = &mut *ov;
        let bufs = [wsabuf(&mut buf[..])];
        // SAFETY: `buf` and `ov` outlive the operation (it completes below).
        let r = unsafe { ws.wsa_recv(server, &bufs, 0, ovp, None) };
        expect_pending(r.map(|(n, _)| n), "WSARecv with nothing sent")?;
        assert_eq!(
            ws.wait_for_multiple_events(&[ev], false, 100, false),
            Ok(WSA_WAIT_TIMEOUT),
            "completed with nothing sent"
        );
        // SAFETY: the OVERLAPPED of the pending operation above.
        let r = unsafe { ws.wsa_get_overlapped_result(server, ovp, false) };
        assert_eq!(r, Err(WsaError::IO_INCOMPLETE));
        ws.send(client, b"through the layer", 0).map_err(err)?;
        assert_eq!(
            ws.wait_for_multiple_events(&[ev], false, 5000, false),
            Ok(WSA_WAIT_EVENT_0),
            "the receive did not complete when data arrived"
        );
        // SAFETY: as above, now complete.
        let (n, _) = unsafe { ws.wsa_get_overlapped_result(server, ovp, false) }.map_err(err)?;
        assert_eq!(&buf[..n as usize], b"through the layer");
        // The layer saw the completed receive.
        assert_eq!(counts(ws, server)?, (0, 17));
        assert_eq!(counts(ws, client)?, (17, 0));
        ws.close_event(ev).map_err(err)?;
        Ok(())
    });
}

#[test]
fn overlapped_receive_completes_by_routine() {
    overlapped_case(|ws, client, server| {
        let mut buf = Box::new([0u8; 32]);
        let mut ov = Box::new(OVERLAPPED::default());
        let ovp: *mut OVERLAPPED = &mut *ov;
        let bufs = [wsabuf(&mut buf[..])];
        forget_routine_calls(ovp);
        // SAFETY: `buf` and `ov` outlive the operation (it completes below).
        let r = unsafe { ws.wsa_recv(server, &bufs, 0, ovp, ROUTINE) };
        expect_pending(r.map(|(n, _)| n), "WSARecv with a routine")?;
        ws.sleep_ex(50, true);
        assert!(routine_calls(ovp).is_empty(), "completed with nothing sent");
        let sender = {
            let ws = ws.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                ws.send(client, b"routine", 0).map(drop)
            })
        };
        let start = std::time::Instant::now();
        while routine_calls(ovp).is_empty() && start.elapsed().as_secs() < 5 {
            ws.sleep_ex(100, true);
        }
        sender
            .join()
            .map_err(|_| "the sender panicked".to_owned())?
            .map_err(err)?;
        assert_eq!(routine_calls(ovp), vec![(0, 7)]);
        assert_eq!(&buf[..7], b"routine");
        assert_eq!(counts(ws, server)?, (0, 7));
        Ok(())
    });
}

#[test]
fn overlapped_send_completes_when_the_peer_reads() {
    overlapped_case(|ws, client, server| {
        let ev = ws.create_event().map_err(err)?;
        // More than the OS socket buffers hold: the send stays pending until the peer reads.
        let mut data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 253) as u8).collect();
        let mut ov = Box::new(OVERLAPPED::default());
        ov.hEvent = ev as _;
        let ovp: *mut OVERLAPPED = &mut *ov;
        let bufs = [wsabuf(&mut data)];
        // SAFETY: `data` and `ov` outlive the operation (it completes below).
        let r = unsafe { ws.wsa_send(client, &bufs, 0, ovp, None) };
        expect_pending(r, "WSASend of 4 MiB")?;
        let mut got = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; 64 << 10];
        while got.len() < data.len() {
            let n = ws.recv(server, &mut buf, 0).map_err(err)?;
            assert!(n > 0, "end of stream after {} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(
            ws.wait_for_multiple_events(&[ev], false, 5000, false),
            Ok(WSA_WAIT_EVENT_0)
        );
        // SAFETY: the OVERLAPPED of the completed send.
        let (n, _) = unsafe { ws.wsa_get_overlapped_result(client, ovp, false) }.map_err(err)?;
        assert_eq!(n as usize, data.len());
        assert!(got == data, "the bytes received differ from those sent");
        let moved = data.len() as u64;
        assert_eq!(counts(ws, client)?, (moved, 0));
        assert_eq!(counts(ws, server)?, (0, moved));
        ws.close_event(ev).map_err(err)?;
        Ok(())
    });
}

#[test]
fn completion_port_of_an_ifs_socket_gets_no_packets() {
    // docs/overlapped.md: completion ports of IFS sockets are the OS's business (file I/O on
    // the handle); the runtime completes the layer's requests by event and posts nothing.
    run(Chain::IfsOverPipe, |ws| {
        let (listener, client, server) = connected(ws)?;
        let port = ws
            .create_io_completion_port(None, Some(server), 7)
            .map_err(err)?;
        let ev = ws.create_event().map_err(err)?;
        let mut buf = Box::new([0u8; 16]);
        let mut ov = Box::new(OVERLAPPED::default());
        ov.hEvent = ev as _;
        let ovp: *mut OVERLAPPED = &mut *ov;
        let bufs = [wsabuf(&mut buf[..])];
        // SAFETY: `buf` and `ov` outlive the operation (it completes below).
        let r = unsafe { ws.wsa_recv(server, &bufs, 0, ovp, None) };
        expect_pending(r.map(|(n, _)| n), "WSARecv on a port-associated socket")?;
        ws.send(client, b"port", 0).map_err(err)?;
        assert_eq!(
            ws.wait_for_multiple_events(&[ev], false, 5000, false),
            Ok(WSA_WAIT_EVENT_0),
            "the receive did not complete by its event"
        );
        assert!(
            ws.get_queued_completion_status(port, 200)
                .map_err(err)?
                .is_none(),
            "a packet was posted for an IFS socket's request"
        );
        // SAFETY: the OVERLAPPED of the completed receive.
        let (n, _) = unsafe { ws.wsa_get_overlapped_result(server, ovp, false) }.map_err(err)?;
        assert_eq!(&buf[..n as usize], b"port");
        ws.close_event(ev).map_err(err)?;
        for s in [client, server, listener] {
            ws.closesocket(s).map_err(err)?;
        }
        ws.close_completion_port(port).map_err(err)?;
        assert_eq!(ws.outstanding_overlapped(), 0);
        Ok(())
    });
}
