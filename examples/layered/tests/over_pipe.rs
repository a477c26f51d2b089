//! The counting layer over the IFS pipe provider (`AF_UNIX` streams whose handles are OS
//! handles): the layer hands out its own handles over the pipe's and gets their readiness from
//! the pipe provider's `WSPEventSelect`, which the pipe provider drives from the OS handles.
//! Every stream scenario the layer runs over the loopback provider passes through it
//! (`tests/suite.rs`; the pipe provider has no datagrams, so the UDP ones and
//! `overlapped::extensions`, which needs a datagram entry, have no counterpart here), and its
//! counters match the bytes moved.

mod common;

use common::{run, Chain, PIPE};
use layered_provider::{SIO_LAYERED_COUNTS, SIO_LAYERED_TOTALS};
use ws2_standin::scenarios::{churn, duplicate, errors, notify, overlapped, stream};
use ws2_standin::sys::SOCKET;
use ws2_standin::Ws2;

#[test]
fn stream_echo() {
    run(Chain::OverPipe, |ws| stream::echo(ws, &PIPE, 8, 256 << 10));
}

#[test]
fn stream_graceful_shutdown() {
    run(Chain::OverPipe, |ws| stream::graceful_shutdown(ws, &PIPE));
}

#[test]
fn stream_refused() {
    run(Chain::OverPipe, |ws| stream::refused(ws, &PIPE));
}

#[test]
fn stream_wrong_state() {
    run(Chain::OverPipe, |ws| stream::wrong_state(ws, &PIPE));
}

#[test]
fn stream_nonblocking() {
    run(Chain::OverPipe, |ws| stream::nonblocking(ws, &PIPE));
}

#[test]
fn stream_options() {
    run(Chain::OverPipe, |ws| stream::options(ws, &PIPE));
}

#[test]
fn errors_bad_input() {
    run(Chain::OverPipe, |ws| errors::bad_input(ws, &PIPE));
}

#[test]
fn churn_create_close() {
    run(Chain::OverPipe, |ws| churn::create_close(ws, &PIPE, 2_000));
}

#[test]
fn churn_close_races_calls() {
    run(Chain::OverPipe, |ws| {
        churn::close_races_calls(ws, &PIPE, 20)
    });
}

#[test]
fn duplicate_same_process() {
    run(Chain::OverPipe, |ws| duplicate::same_process(ws, &PIPE));
}

#[test]
fn overlapped_routes() {
    run(Chain::OverPipe, |ws| overlapped::routes(ws, &PIPE));
}

#[test]
fn overlapped_close_with_pending() {
    run(Chain::OverPipe, |ws| {
        overlapped::close_with_pending(ws, &PIPE)
    });
}

#[test]
fn overlapped_shutdown_with_pending() {
    run(Chain::OverPipe, |ws| {
        overlapped::shutdown_with_pending(ws, &PIPE)
    });
}

#[test]
fn overlapped_iocp_echo() {
    run(Chain::OverPipe, |ws| {
        overlapped::iocp_echo(ws, &PIPE, 4, 16, 256 << 10)
    });
}

#[test]
fn notify_event_select_echo() {
    run(Chain::OverPipe, |ws| {
        notify::event_select_echo(ws, &PIPE, 8, 128 << 10)
    });
}

#[test]
fn notify_select_echo() {
    run(Chain::OverPipe, |ws| {
        notify::select_echo(ws, &PIPE, 8, 128 << 10)
    });
}

#[test]
fn notify_async_select_order() {
    run(Chain::OverPipe, |ws| notify::async_select_order(ws, &PIPE));
}

/// The counters ioctl `code` on `s`: (sent, received).
fn counts(ws: &Ws2, s: SOCKET, code: u32) -> Result<(u64, u64), String> {
    let mut out = [0u8; 16];
    let n = ws
        .wsa_ioctl(s, code, &[], &mut out)
        .map_err(|e| format!("the counters ioctl: {}", e))?;
    if n != 16 {
        return Err(format!("the counters ioctl answered {} bytes", n));
    }
    let word = |i: usize| u64::from_le_bytes(out[i..i + 8].try_into().unwrap());
    Ok((word(0), word(8)))
}

fn send_all(ws: &Ws2, s: SOCKET, data: &[u8]) -> Result<(), String> {
    let mut done = 0;
    while done < data.len() {
        done += ws.send(s, &data[done..], 0).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn recv_exact(ws: &Ws2, s: SOCKET, n: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; n];
    let mut done = 0;
    while done < n {
        let got = ws.recv(s, &mut out[done..], 0).map_err(|e| e.to_string())?;
        if got == 0 {
            return Err(format!(
                "the connection closed after {} of {} bytes",
                done, n
            ));
        }
        done += got;
    }
    Ok(out)
}

#[test]
fn counters_match_the_bytes_moved_and_base_handle() {
    run(Chain::OverPipe, |ws| {
        let e = |e: ws2_standin::WsaError| e.to_string();
        let listener = ws.socket(1, 1, 0).map_err(e)?;
        ws.bind(listener, &(PIPE.addr)(0)).map_err(e)?;
        ws.listen(listener, 2).map_err(e)?;
        let name = ws.getsockname(listener).map_err(e)?;
        let client = ws.socket(1, 1, 0).map_err(e)?;
        ws.connect(client, &name).map_err(e)?;
        let (server, _) = ws.accept(listener).map_err(e)?;
        let (before_sent, before_received) = counts(ws, client, SIO_LAYERED_TOTALS)?;
        // Larger than the OS socket buffers: blocking sends wait in the layer for room, which
        // the pipe provider's readiness announces.
        let up: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let down = vec![7u8; 12_345];
        let writer = {
            let ws = ws.clone();
            let up = up.clone();
            std::thread::spawn(move || send_all(&ws, client, &up))
        };
        let got = recv_exact(ws, server, up.len())?;
        writer
            .join()
            .map_err(|_| "the writer panicked".to_owned())??;
        if got != up {
            return Err("the bytes received differ from those sent".to_owned());
        }
        send_all(ws, server, &down)?;
        if recv_exact(ws, client, down.len())? != down {
            return Err("the reply differs from what was sent".to_owned());
        }
        let (up_n, down_n) = (up.len() as u64, down.len() as u64);
        assert_eq!(counts(ws, client, SIO_LAYERED_COUNTS)?, (up_n, down_n));
        assert_eq!(counts(ws, server, SIO_LAYERED_COUNTS)?, (down_n, up_n));
        let (after_sent, after_received) = counts(ws, client, SIO_LAYERED_TOTALS)?;
        assert!(after_sent - before_sent >= up_n + down_n);
        assert!(after_received - before_received >= up_n + down_n);
        // The base handle is the pipe provider's OS handle, not the layer's.
        let mut base = [0u8; core::mem::size_of::<SOCKET>()];
        ws.wsa_ioctl(client, ws2_standin::sys::SIO_BASE_HANDLE, &[], &mut base)
            .map_err(e)?;
        assert_ne!(SOCKET::from_ne_bytes(base), client);
        for s in [client, server, listener] {
            ws.closesocket(s).map_err(e)?;
        }
        Ok(())
    });
}

/// The pipe provider's `ifs::*` scenarios (its handles are OS handles) have no counterpart
/// through the non-IFS layer: its chain entry clears `XP1_IFS_HANDLES` and the application
/// holds the layer's own handles.
#[test]
fn protocol_info_is_a_non_ifs_chain_entry() {
    run(Chain::OverPipe, |ws| {
        let s = ws.socket(1, 1, 0).map_err(|e| e.to_string())?;
        let info = common::protocol_info(ws, s);
        let mut base = [0u8; core::mem::size_of::<SOCKET>()];
        let r = ws.wsa_ioctl(s, ws2_standin::sys::SIO_BASE_HANDLE, &[], &mut base);
        ws.closesocket(s).map_err(|e| e.to_string())?;
        r.map_err(|e| e.to_string())?;
        assert_eq!(info.ProtocolChain.ChainLen, 2);
        assert_eq!(info.dwServiceFlags1 & ws2_standin::sys::XP1_IFS_HANDLES, 0);
        let name = String::from_utf16_lossy(&info.szProtocol);
        assert!(name.starts_with("Counting layer over ["), "{}", name);
        assert_ne!(
            SOCKET::from_ne_bytes(base),
            s,
            "the layer's handle is its own"
        );
        Ok(())
    });
}
