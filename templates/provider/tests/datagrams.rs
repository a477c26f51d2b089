//! The provider driven through the ws2_32 stand-in, as an application would drive it.

use provider_template::{Datagrams, FAMILY, PROTOCOL};
use std::net::SocketAddr;
use winsock_provider::sys::{FIONBIO, SOCK_DGRAM};
use winsock_provider::{entry_points, SockAddr, WsaError};
use ws2_standin::Session;

/// Address number `n` in this provider's address format.
fn address(n: u32) -> SockAddr {
    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 5000 + n as u16)))
}

#[test]
fn datagrams_reach_the_socket_bound_to_their_destination() {
    let ws = Session::load(entry_points::<Datagrams>()).unwrap();
    let af = i32::from(FAMILY);
    let a = ws.socket(af, SOCK_DGRAM, PROTOCOL).unwrap();
    let b = ws.socket(af, SOCK_DGRAM, PROTOCOL).unwrap();
    ws.bind(a, &address(1)).unwrap();
    ws.bind(b, &address(2)).unwrap();
    assert_eq!(ws.getsockname(b), Ok(address(2)));
    assert_eq!(ws.sendto(a, b"hello", 0, &address(2)), Ok(5));
    let mut buf = [0u8; 16];
    assert_eq!(ws.recvfrom(b, &mut buf, 0), Ok((5, address(1))));
    assert_eq!(&buf[..5], b"hello");
    let mut on = 1u32;
    ws.ioctlsocket(b, FIONBIO, &mut on).unwrap();
    assert_eq!(ws.recvfrom(b, &mut buf, 0), Err(WsaError::WOULDBLOCK));
    let c = ws.socket(af, SOCK_DGRAM, PROTOCOL).unwrap();
    assert_eq!(ws.bind(c, &address(1)), Err(WsaError::ADDRINUSE));
    for s in [a, b, c] {
        ws.closesocket(s).unwrap();
    }
}
