//! The pipe provider through the ws2_32 stand-in: echo, IFS file I/O, names, refusals,
//! shutdown, non-blocking mode and wake-ups on close.

mod common;

use common::{addr, run, target, unique_name, ws};
use std::time::Duration;
use ws2_standin::scenarios::{ifs, stream};
use ws2_standin::sys::{FIONREAD, MSG_PEEK, MSG_WAITALL, SD_SEND, SOCKET};
use ws2_standin::{SockAddr, Ws2, WsaError};

#[test]
fn echo_with_concurrent_clients() {
    let ws = ws();
    run(stream::echo(&ws, &target(), 8, 256 * 1024));
}

#[test]
fn file_io_interleaves_with_send_and_recv() {
    let ws = ws();
    run(ifs::file_io_interleave(&ws, &target()));
}

#[test]
fn handles_are_os_handles() {
    let ws = ws();
    run(ifs::handle_is_os_handle(&ws, &target()));
}

#[test]
fn stream_graceful_shutdown() {
    let ws = ws();
    run(stream::graceful_shutdown(&ws, &target()));
}

#[test]
fn stream_refused() {
    let ws = ws();
    run(stream::refused(&ws, &target()));
}

#[test]
fn stream_wrong_state() {
    let ws = ws();
    run(stream::wrong_state(&ws, &target()));
}

#[test]
fn stream_nonblocking() {
    let ws = ws();
    run(stream::nonblocking(&ws, &target()));
}

#[test]
fn stream_options() {
    let ws = ws();
    run(stream::options(&ws, &target()));
}

fn new_socket(ws: &Ws2) -> SOCKET {
    let t = target();
    ws.socket(t.af, t.ty, t.protocol).expect("socket")
}

/// A listener on `name` (auto-named when empty) and its address.
fn listener(ws: &Ws2, name: &[u8]) -> (SOCKET, SockAddr) {
    let l = new_socket(ws);
    ws.bind(l, &addr(name)).expect("bind");
    ws.listen(l, 8).expect("listen");
    let a = ws.getsockname(l).expect("getsockname");
    (l, a)
}

#[test]
fn connect_refused() {
    let ws = ws();
    let c = new_socket(&ws);
    assert_eq!(
        ws.connect(c, &addr(&unique_name("nobody"))),
        Err(WsaError::CONNREFUSED)
    );
    // Bound but not listening is refused too.
    let b = new_socket(&ws);
    let name = unique_name("not-listening");
    ws.bind(b, &addr(&name)).unwrap();
    assert_eq!(ws.connect(c, &addr(&name)), Err(WsaError::CONNREFUSED));
    // A listener that closed is gone.
    let (l, a) = listener(&ws, &unique_name("closed-listener"));
    ws.closesocket(l).unwrap();
    assert_eq!(ws.connect(c, &a), Err(WsaError::CONNREFUSED));
    // Nobody can listen on the empty name.
    assert_eq!(ws.connect(c, &addr(b"")), Err(WsaError::ADDRNOTAVAIL));
    // The socket is still usable after refusals.
    let (l, a) = listener(&ws, b"");
    ws.connect(c, &a).unwrap();
    for s in [c, b, l] {
        ws.closesocket(s).unwrap();
    }
}

#[test]
fn names_and_addresses() {
    let ws = ws();
    let name = unique_name("named");
    let (l, a) = listener(&ws, &name);
    assert_eq!(a, addr(&name));
    assert_eq!(a.to_bytes().len(), 2 + name.len() + 1);
    let other = new_socket(&ws);
    assert_eq!(ws.bind(other, &addr(&name)), Err(WsaError::ADDRINUSE));
    assert_eq!(ws.getsockname(other), Err(WsaError::INVAL));
    assert_eq!(ws.getpeername(other), Err(WsaError::NOTCONN));

    // A client with an auto-generated name: the listener sees it as the peer.
    let c = new_socket(&ws);
    ws.bind(c, &addr(b"")).unwrap();
    let c_name = ws.getsockname(c).unwrap();
    assert!(
        !pipe_provider::name_of(&c_name).unwrap().is_empty(),
        "autobind gave {:?}",
        c_name
    );
    assert_eq!(
        ws.bind(c, &addr(b"")),
        Err(WsaError::INVAL),
        "binding twice"
    );
    ws.connect(c, &a).unwrap();
    let (s, peer) = ws.accept(l).unwrap();
    assert_eq!(peer, c_name);
    assert_eq!(ws.getpeername(s).unwrap(), c_name);
    assert_eq!(ws.getsockname(s).unwrap(), a);
    assert_eq!(ws.getpeername(c).unwrap(), a);

    // An unnamed client is seen as the family alone.
    let u = new_socket(&ws);
    ws.connect(u, &a).unwrap();
    let (us, peer) = ws.accept(l).unwrap();
    assert_eq!(peer.to_bytes(), addr(b"").to_bytes());
    assert_eq!(ws.getsockname(u).unwrap(), addr(b""));

    // Two auto-generated names differ.
    let x = new_socket(&ws);
    ws.bind(x, &addr(b"")).unwrap();
    assert_ne!(ws.getsockname(x).unwrap(), c_name);

    // A name without its NUL within sun_path is malformed; a padded one is fine.
    let long = SockAddr::Raw {
        family: 1,
        data: vec![b'x'; pipe_provider::SUN_PATH_LEN],
    };
    assert_eq!(ws.bind(other, &long), Err(WsaError::FAULT));
    let mut padded = vec![0u8; pipe_provider::SUN_PATH_LEN];
    let pname = unique_name("padded");
    padded[..pname.len()].copy_from_slice(&pname);
    ws.bind(
        other,
        &SockAddr::Raw {
            family: 1,
            data: padded,
        },
    )
    .unwrap();
    assert_eq!(ws.getsockname(other).unwrap(), addr(&pname));

    for s in [l, other, c, s, u, us, x] {
        ws.closesocket(s).unwrap();
    }
}

/// A connected (client, server) pair and its listener.
fn pair(ws: &Ws2) -> (SOCKET, SOCKET, SOCKET) {
    let (l, a) = listener(ws, b"");
    let c = new_socket(ws);
    ws.connect(c, &a).unwrap();
    let (s, _) = ws.accept(l).unwrap();
    (l, c, s)
}

#[test]
fn peek_waitall_fionread_and_shutdown() {
    let ws = ws();
    let (l, c, s) = pair(&ws);
    ws.send(c, b"hello ", 0).unwrap();
    let mut n = 0u32;
    ws.ioctlsocket(s, FIONREAD, &mut n).unwrap();
    assert_eq!(n, 6);
    let mut buf = [0u8; 32];
    assert_eq!(ws.recv(s, &mut buf, MSG_PEEK).unwrap(), 6);
    assert_eq!(&buf[..6], b"hello ");

    // MSG_WAITALL waits for the rest, sent later from another thread.
    std::thread::scope(|scope| {
        let ws = &ws;
        scope.spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            ws.send(c, b"world", 0).unwrap();
        });
        let mut all = [0u8; 11];
        assert_eq!(ws.recv(s, &mut all, MSG_WAITALL).unwrap(), 11);
        assert_eq!(&all, b"hello world");
    });

    ws.send(c, b"last", 0).unwrap();
    ws.shutdown(c, SD_SEND).unwrap();
    assert_eq!(ws.send(c, b"late", 0), Err(WsaError::SHUTDOWN));
    assert_eq!(ws.recv(s, &mut buf, 0).unwrap(), 4);
    assert_eq!(ws.recv(s, &mut buf, 0).unwrap(), 0);
    assert_eq!(ws.recv(s, &mut buf, 0).unwrap(), 0);
    // The other direction still works.
    ws.send(s, b"reply", 0).unwrap();
    assert_eq!(ws.recv(c, &mut buf, 0).unwrap(), 5);
    for x in [l, c, s] {
        ws.closesocket(x).unwrap();
    }
}

#[test]
fn close_wakes_blocked_calls() {
    let ws = ws();
    let (l, c, s) = pair(&ws);
    std::thread::scope(|scope| {
        let wsr = &ws;
        let acceptor = scope.spawn(move || wsr.accept(l).map(drop));
        let receiver = scope.spawn(move || {
            let mut buf = [0u8; 8];
            wsr.recv(s, &mut buf, 0)
        });
        std::thread::sleep(Duration::from_millis(100));
        ws.closesocket(l).unwrap();
        ws.closesocket(s).unwrap();
        assert_eq!(acceptor.join().unwrap(), Err(WsaError::INTR));
        assert_eq!(receiver.join().unwrap(), Err(WsaError::INTR));
    });
    // The peer of the closed socket sees the end of the stream.
    let mut buf = [0u8; 8];
    assert_eq!(ws.recv(c, &mut buf, 0), Ok(0));
    ws.closesocket(c).unwrap();
}
