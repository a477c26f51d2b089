//! Shared sockets (`WSADuplicateSocket` / `WSASocket(FROM_PROTOCOL_INFO)`) within the process.

mod common;

use common::{run, session, TCP, UDP};
use std::net::{Ipv4Addr, SocketAddrV4};
use ws2_standin::scenarios::duplicate;
use ws2_standin::{SockAddr, WsaError};

#[test]
fn stream_shared_within_the_process() {
    run(|ws| duplicate::same_process(ws, &TCP));
}

#[test]
fn another_process_is_refused() {
    let ws = session();
    let s = ws.socket(TCP.af, TCP.ty, TCP.protocol).unwrap();
    let other = std::process::id().wrapping_add(1);
    assert_eq!(ws.duplicate_socket(s, other).err(), Some(WsaError::INVAL));
    ws.closesocket(s).unwrap();
    ws.cleanup();
}

#[test]
fn datagram_descriptors_share_the_address() {
    let ws = session();
    let a = ws.socket(UDP.af, UDP.ty, UDP.protocol).unwrap();
    let any = SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
    ws.bind(a, &any).unwrap();
    let addr = ws.getsockname(a).unwrap();
    let info = ws.duplicate_socket(a, std::process::id()).unwrap();
    let d = ws.socket_from_info(&info).unwrap();
    assert_eq!(ws.getsockname(d).unwrap(), addr);
    ws.closesocket(a).unwrap();
    let sender = ws.socket(UDP.af, UDP.ty, UDP.protocol).unwrap();
    ws.sendto(sender, b"hello", 0, &addr).unwrap();
    let mut buf = [0u8; 16];
    let (n, _) = ws.recvfrom(d, &mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"hello");
    ws.closesocket(d).unwrap();
    ws.closesocket(sender).unwrap();
    ws.cleanup();
}

/// A structure duplicated but never used does not keep the provider's clean-up from
/// releasing everything (the stand-in checks every handle; the socket itself closes).
#[test]
fn unused_duplicate_is_dropped_at_cleanup() {
    let ws = session();
    let s = ws.socket(TCP.af, TCP.ty, TCP.protocol).unwrap();
    ws.duplicate_socket(s, std::process::id()).unwrap();
    ws.closesocket(s).unwrap();
    ws.cleanup();
}
