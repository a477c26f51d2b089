//! The provider driven through the ws2_32 stand-in, as an application would drive it.

use provider_ifs_template::{Streams, FAMILY, PROTOCOL};
use std::net::SocketAddr;
use winsock_provider::sys::{FIONBIO, SD_SEND, SOCK_STREAM};
use winsock_provider::{entry_points, SockAddr, WsaError};
use ws2_standin::Session;

/// A bindable address (port 0: the provider picks a free one).
fn address(_n: u32) -> SockAddr {
    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 0)))
}

#[test]
fn a_connection_carries_bytes_both_ways_until_shutdown() {
    let ws = Session::load(entry_points::<Streams>()).unwrap();
    let af = i32::from(FAMILY);
    let l = ws.socket(af, SOCK_STREAM, PROTOCOL).unwrap();
    ws.bind(l, &address(0)).unwrap();
    ws.listen(l, 4).unwrap();
    let at = ws.getsockname(l).unwrap();
    let c = ws.socket(af, SOCK_STREAM, PROTOCOL).unwrap();
    ws.connect(c, &at).unwrap();
    let (a, from) = ws.accept(l).unwrap();
    assert_eq!(ws.getpeername(c), Ok(at));
    assert_eq!(ws.getsockname(c), Ok(from));

    assert_eq!(ws.send(c, b"hello", 0), Ok(5));
    let mut buf = [0u8; 16];
    assert_eq!(ws.recv(a, &mut buf, 0), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(ws.send(a, b"back", 0), Ok(4));
    assert_eq!(ws.recv(c, &mut buf, 0), Ok(4));

    let mut on = 1u32;
    ws.ioctlsocket(a, FIONBIO, &mut on).unwrap();
    assert_eq!(ws.recv(a, &mut buf, 0), Err(WsaError::WOULDBLOCK));
    ws.shutdown(c, SD_SEND).unwrap();
    assert_eq!(ws.recv(a, &mut buf, 0), Ok(0));
    for s in [c, a, l] {
        ws.closesocket(s).unwrap();
    }
}
