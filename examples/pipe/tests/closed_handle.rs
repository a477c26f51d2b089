//! A closed socket value is no longer a socket: `WSAENOTSOCK` from the stand-in (as ws2_32
//! answers) and from the provider's own entry points, and its OS handle is closed. Then the
//! shared bad-input scenario.
//!
//! Alone in its test binary: no other thread may open a descriptor that reuses a closed value.

mod common;

use common::{run, target, ws};
use pipe_provider::Pipe;
use ws2_standin::scenarios::errors;
use ws2_standin::{check_int, WsaError};

#[test]
fn closed_handle_is_not_a_socket() {
    let ws = ws();
    let t = target();
    let s = ws.socket(t.af, t.ty, t.protocol).unwrap();
    let spi = ws.spi_for(s).unwrap();
    ws.closesocket(s).unwrap();

    #[cfg(unix)]
    {
        // SAFETY: F_GETFD only reads a descriptor's flags; a closed one fails with EBADF.
        let rc = unsafe { libc::fcntl(s as libc::c_int, libc::F_GETFD) };
        assert_eq!(
            rc, -1,
            "the socket's descriptor {} is still open after closesocket",
            s
        );
    }

    assert_eq!(ws.closesocket(s), Err(WsaError::NOTSOCK));
    assert_eq!(ws.send(s, b"x", 0), Err(WsaError::NOTSOCK));
    assert_eq!(ws.getsockname(s), Err(WsaError::NOTSOCK));

    let close = spi.table.lpWSPCloseSocket.unwrap();
    // SAFETY: WSPCloseSocket with a stale value, which the provider must refuse.
    let r = check_int("WSPCloseSocket", |errno| unsafe { close(s, errno) });
    assert_eq!(r, Err(WsaError::NOTSOCK));
    let listen = spi.table.lpWSPListen.unwrap();
    // SAFETY: as above.
    let r = check_int("WSPListen", |errno| unsafe { listen(s, 1, errno) });
    assert_eq!(r, Err(WsaError::NOTSOCK));
    let shutdown = spi.table.lpWSPShutdown.unwrap();
    // SAFETY: as above.
    let r = check_int("WSPShutdown", |errno| unsafe { shutdown(s, 1, errno) });
    assert_eq!(r, Err(WsaError::NOTSOCK));

    run(errors::bad_input(&ws, &t));
    run(errors::startup_version(&winsock_provider::entry_points::<
        Pipe,
    >()));
}
