//! Shared sockets (`WSADuplicateSocket` / `WSASocket(FROM_PROTOCOL_INFO)`) within one process:
//! two descriptors of one connection or one listener. The cross-process case runs in the
//! end-to-end driver (`tests/e2e`), which starts a second process.

mod common;

use common::{addr, run, target, unique_name, ws};
use std::sync::mpsc;
use std::time::Duration;
use ws2_standin::scenarios::duplicate;
use ws2_standin::WsaError;

#[test]
fn connection_shared_within_the_process() {
    let ws = ws();
    run(duplicate::same_process(&ws, &target()));
}

#[test]
fn listener_shared_within_the_process() {
    let ws = ws();
    let name = unique_name("dup-listener");
    let l = ws.socket(target().af, target().ty, 0).unwrap();
    ws.bind(l, &addr(&name)).unwrap();
    ws.listen(l, 4).unwrap();
    let info = ws.duplicate_socket(l, std::process::id()).unwrap();
    let d = ws.socket_from_info(&info).unwrap();
    ws.closesocket(l).unwrap();
    // The duplicate still listens on the name.
    let c = ws.socket(target().af, target().ty, 0).unwrap();
    ws.connect(c, &addr(&name)).unwrap();
    let (s, _) = ws.accept(d).unwrap();
    ws.send(c, b"hi", 0).unwrap();
    let mut buf = [0u8; 2];
    assert_eq!(ws.recv(s, &mut buf, 0).unwrap(), 2);
    for h in [c, s, d] {
        ws.closesocket(h).unwrap();
    }
}

/// Closing one descriptor wakes the calls blocked in it (`WSAEINTR`), without ending the
/// connection for the other descriptor.
#[test]
fn close_wakes_blocked_recv_of_a_shared_socket() {
    let ws = ws();
    let name = unique_name("dup-wake");
    let l = ws.socket(target().af, target().ty, 0).unwrap();
    ws.bind(l, &addr(&name)).unwrap();
    ws.listen(l, 4).unwrap();
    let c = ws.socket(target().af, target().ty, 0).unwrap();
    ws.connect(c, &addr(&name)).unwrap();
    let (s, _) = ws.accept(l).unwrap();
    let info = ws.duplicate_socket(c, std::process::id()).unwrap();
    let d = ws.socket_from_info(&info).unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = {
        let ws = ws.clone();
        std::thread::spawn(move || {
            tx.send(()).unwrap();
            let mut buf = [0u8; 4];
            ws.recv(c, &mut buf, 0)
        })
    };
    rx.recv().unwrap();
    // Give the reader time to block (it fails the same way if it has not yet).
    std::thread::sleep(Duration::from_millis(50));
    ws.closesocket(c).unwrap();
    let r = reader.join().unwrap();
    assert!(
        r == Err(WsaError::INTR) || r == Err(WsaError::NOTSOCK),
        "blocked recv after close: {:?}",
        r
    );
    ws.send(s, b"ping", 0).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(ws.recv(d, &mut buf, 0).unwrap(), 4);
    assert_eq!(&buf, b"ping");
    for h in [d, s, l] {
        ws.closesocket(h).unwrap();
    }
}

#[test]
fn unknown_structure_is_refused() {
    let ws = ws();
    let s = ws.socket(target().af, target().ty, 0).unwrap();
    let mut info = ws.duplicate_socket(s, std::process::id()).unwrap();
    info.dwProviderReserved ^= 0x5a5a_0000;
    assert_eq!(ws.socket_from_info(&info).err(), Some(WsaError::INVAL));
    ws.closesocket(s).unwrap();
}
