//! No overlapped state outlives its request: `winsock_provider::outstanding_operations()`
//! returns to zero after requests complete, are aborted by a close, or are left pending at the
//! provider's last clean-up. (Alone in its binary: the count is process-wide.)

mod common;

use common::session;
use std::net::{Ipv4Addr, SocketAddrV4};
use winsock_provider::outstanding_operations;
use winsock_provider::sys::*;
use ws2_standin::{check_int, SockAddr, WsaError};

#[test]
fn every_request_is_released() {
    let ws = session();
    let l = ws.socket(2, 1, 6).unwrap();
    ws.bind(
        l,
        &SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
    )
    .unwrap();
    ws.listen(l, 64).unwrap();
    let mut pairs = Vec::new();
    for _ in 0..8 {
        let c = ws.socket(2, 1, 6).unwrap();
        ws.connect(c, &ws.getsockname(l).unwrap()).unwrap();
        let (s, _) = ws.accept(l).unwrap();
        pairs.push((c, s));
    }
    assert_eq!(outstanding_operations(), 0);
    let recv = ws.spi_for(l).unwrap().table.lpWSPRecv.unwrap();
    let mut ovs: Vec<Box<OVERLAPPED>> = (0..32).map(|_| Box::default()).collect();
    let mut bufs: Vec<[u8; 8]> = vec![[0; 8]; 32];
    let mut i = 0;
    for &(_, s) in &pairs {
        for _ in 0..4 {
            let wsabuf = WSABUF {
                len: 8,
                buf: bufs[i].as_mut_ptr(),
            };
            let (mut n, mut flags) = (0u32, 0u32);
            let ov: *mut OVERLAPPED = &mut *ovs[i];
            // SAFETY: buffers and OVERLAPPEDs outlive the requests.
            let r = check_int("WSPRecv", |errno| unsafe {
                recv(
                    s,
                    &wsabuf,
                    1,
                    &mut n,
                    &mut flags,
                    ov,
                    None,
                    core::ptr::null(),
                    errno,
                )
            });
            assert_eq!(r, Err(WsaError::IO_PENDING));
            i += 1;
        }
    }
    assert_eq!(outstanding_operations(), 32);
    // Two complete with data, the others of that socket and of three more sockets are aborted
    // by closes; the rest stay pending until the last clean-up.
    ws.send(pairs[0].0, b"0123456789abcdef", 0).unwrap();
    assert_eq!(outstanding_operations(), 30);
    for &(c, s) in &pairs[..4] {
        ws.closesocket(s).unwrap();
        ws.closesocket(c).unwrap();
    }
    assert_eq!(outstanding_operations(), 16);
    for ov in &ovs[..16] {
        assert_ne!(ov.Internal, 0x103);
    }
    drop(pairs);
    ws.cleanup();
    assert_eq!(outstanding_operations(), 0);
    for ov in &ovs {
        assert_ne!(ov.Internal, 0x103);
    }
}
