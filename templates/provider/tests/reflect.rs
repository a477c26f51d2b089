//! The template provider, driven through the ws2_32 stand-in like an application would.

use provider_template::Reflector;
use winsock_provider::sys::{IPPROTO_UDP, SOCK_DGRAM};
use winsock_provider::{entry_points, SockAddr, WsaError};
use ws2_standin::Ws2;

#[test]
fn datagrams_come_back_to_their_sender() {
    let ws = Ws2::new();
    ws.load(entry_points::<Reflector>()).unwrap();
    let s = ws.socket(2, SOCK_DGRAM, IPPROTO_UDP).unwrap();
    let to = SockAddr::Inet("127.0.0.1:5000".parse().unwrap());
    assert_eq!(ws.sendto(s, b"hello", 0, &to), Ok(5));
    let mut buf = [0u8; 16];
    assert_eq!(ws.recvfrom(s, &mut buf, 0), Ok((5, to)));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(ws.recvfrom(s, &mut buf, 0), Err(WsaError::WOULDBLOCK));
    ws.closesocket(s).unwrap();
    ws.cleanup();
}
