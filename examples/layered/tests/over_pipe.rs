//! The counting layer over the IFS pipe provider (`AF_UNIX` streams whose handles are OS
//! handles): the layer hands out its own handles over the pipe's, and the stream scenarios pass
//! through it; its counters match the bytes moved. (The pipe provider announces no readiness,
//! so the event-driven scenarios, which fail on it directly too, are not run over it.)

mod common;

use common::{run, Chain, PIPE};
use ws2_standin::scenarios::stream;

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
fn counters_and_base_handle() {
    run(Chain::OverPipe, |ws| {
        let listener = ws.socket(1, 1, 0).map_err(|e| e.to_string())?;
        ws.bind(listener, &(PIPE.addr)(0))
            .map_err(|e| e.to_string())?;
        ws.listen(listener, 2).map_err(|e| e.to_string())?;
        let name = ws.getsockname(listener).map_err(|e| e.to_string())?;
        let client = ws.socket(1, 1, 0).map_err(|e| e.to_string())?;
        ws.connect(client, &name).map_err(|e| e.to_string())?;
        let (server, _) = ws.accept(listener).map_err(|e| e.to_string())?;
        let data = vec![5u8; 70_000];
        let mut sent = 0;
        while sent < data.len() {
            sent += ws
                .send(client, &data[sent..], 0)
                .map_err(|e| e.to_string())?;
        }
        let mut got = vec![0u8; data.len()];
        let mut n = 0;
        while n < got.len() {
            n += ws
                .recv(server, &mut got[n..], 0)
                .map_err(|e| e.to_string())?;
        }
        assert_eq!(got, data);
        let mut out = [0u8; 16];
        ws.wsa_ioctl(client, layered_provider::SIO_LAYERED_COUNTS, &[], &mut out)
            .map_err(|e| e.to_string())?;
        assert_eq!(u64::from_le_bytes(out[..8].try_into().unwrap()), 70_000);
        // The base handle is the pipe provider's OS handle, not the layer's.
        let mut base = [0u8; core::mem::size_of::<ws2_standin::sys::SOCKET>()];
        ws.wsa_ioctl(client, ws2_standin::sys::SIO_BASE_HANDLE, &[], &mut base)
            .map_err(|e| e.to_string())?;
        assert_ne!(ws2_standin::sys::SOCKET::from_ne_bytes(base), client);
        for s in [client, server, listener] {
            ws.closesocket(s).map_err(|e| e.to_string())?;
        }
        Ok(())
    });
}
