//! Extension functions (`SIO_GET_EXTENSION_FUNCTION_POINTER`) on the loopback provider, with
//! completions through a completion port (`WPUCompleteOverlappedRequest`).

mod common;

use common::session;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use winsock_provider::sys::*;
use ws2_standin::ext::{self, AcceptExFn, ConnectExFn, DisconnectExFn, GetAcceptExSockaddrsFn};
use ws2_standin::{SockAddr, WsaError};

fn local() -> SockAddr {
    SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
}

fn port_of(a: &SockAddr) -> u16 {
    match a.inet().unwrap() {
        SocketAddr::V4(a) => a.port(),
        SocketAddr::V6(a) => a.port(),
    }
}

#[test]
fn accept_ex_and_connect_ex_complete_through_a_completion_port() {
    let ws = session();
    let l = ws.socket(2, 1, 6).unwrap();
    ws.bind(l, &local()).unwrap();
    ws.listen(l, 8).unwrap();
    let a = ws.socket(2, 1, 6).unwrap();
    let c = ws.socket(2, 1, 6).unwrap();
    ws.bind(c, &local()).unwrap();
    let port = ws.create_io_completion_port(None, Some(l), 1).unwrap();
    ws.create_io_completion_port(Some(port), Some(a), 2)
        .unwrap();
    ws.create_io_completion_port(Some(port), Some(c), 3)
        .unwrap();

    let accept_ex: AcceptExFn = ws.get_extension_function(l, ext::WSAID_ACCEPTEX).unwrap();
    let connect_ex: ConnectExFn = ws.get_extension_function(c, ext::WSAID_CONNECTEX).unwrap();
    let sockaddrs: GetAcceptExSockaddrsFn = ws
        .get_extension_function(l, ext::WSAID_GETACCEPTEXSOCKADDRS)
        .unwrap();
    let bogus = GUID::from_u128(0x1234);
    assert_eq!(
        ws.get_extension_function::<AcceptExFn>(l, bogus).err(),
        Some(WsaError::INVAL)
    );

    let mut out = vec![0u8; 4 + 2 * 32];
    let mut ov_accept = Box::new(OVERLAPPED::default());
    let mut n = 0u32;
    // SAFETY: the buffer and OVERLAPPED outlive the request (its packet is dequeued below).
    let ok = unsafe {
        accept_ex(
            l,
            a,
            out.as_mut_ptr().cast(),
            4,
            32,
            32,
            &mut n,
            &mut *ov_accept,
        )
    };
    assert_eq!(ok, 0);
    assert_eq!(ws.last_error(), WsaError::IO_PENDING.code());

    let to = ws.getsockname(l).unwrap().to_bytes();
    let mut ov_connect = Box::new(OVERLAPPED::default());
    let mut sent = 0u32;
    // SAFETY: as above; the address and data are read during the call or kept alive.
    let ok = unsafe {
        connect_ex(
            c,
            to.as_ptr().cast(),
            to.len() as i32,
            b"ping".as_ptr().cast(),
            4,
            &mut sent,
            &mut *ov_connect,
        )
    };
    assert!(ok == 1 || ws.last_error() == WsaError::IO_PENDING.code());

    let mut keys = Vec::new();
    for _ in 0..2 {
        let p = ws
            .get_queued_completion_status(port, 5000)
            .unwrap()
            .expect("a packet");
        assert_eq!((p.bytes, p.error), (4, 0));
        keys.push(p.key);
    }
    keys.sort_unstable();
    assert_eq!(keys, vec![1, 3]);
    assert_eq!(&out[..4], b"ping");

    let (mut lp, mut rp) = (core::ptr::null_mut(), core::ptr::null_mut());
    let (mut ll, mut rl) = (0, 0);
    // SAFETY: `out` as AcceptEx filled it, with the same lengths.
    unsafe {
        sockaddrs(
            out.as_ptr().cast(),
            4,
            32,
            32,
            &mut lp,
            &mut ll,
            &mut rp,
            &mut rl,
        )
    };
    // SAFETY: pointers into `out`, at addresses of the lengths given.
    let (local_addr, remote_addr) = unsafe {
        (
            SockAddr::from_raw(lp, ll).unwrap(),
            SockAddr::from_raw(rp, rl).unwrap(),
        )
    };
    assert_eq!(port_of(&local_addr), port_of(&ws.getsockname(l).unwrap()));
    assert_eq!(port_of(&remote_addr), port_of(&ws.getsockname(c).unwrap()));

    // The accepted socket is an ordinary connected socket now.
    ws.send(a, b"pong", 0).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(ws.recv(c, &mut buf, 0), Ok(4));
    assert_eq!(&buf, b"pong");

    let disconnect: DisconnectExFn = ws
        .get_extension_function(c, ext::WSAID_DISCONNECTEX)
        .unwrap();
    // SAFETY: no OVERLAPPED: a synchronous call.
    assert_eq!(unsafe { disconnect(c, core::ptr::null_mut(), 0, 0) }, 1);
    assert_eq!(ws.recv(a, &mut buf, 0), Ok(0));

    for h in [a, c, l] {
        ws.closesocket(h).unwrap();
    }
    ws.close_completion_port(port).unwrap();
    ws.cleanup();
}

#[test]
fn closing_the_listener_aborts_a_pending_accept_ex() {
    let ws = session();
    let l = ws.socket(2, 1, 6).unwrap();
    ws.bind(l, &local()).unwrap();
    ws.listen(l, 8).unwrap();
    let a = ws.socket(2, 1, 6).unwrap();
    let event = ws.create_event().unwrap();
    let mut ov = Box::new(OVERLAPPED {
        hEvent: event as HANDLE,
        ..OVERLAPPED::default()
    });
    let accept_ex: AcceptExFn = ws.get_extension_function(l, ext::WSAID_ACCEPTEX).unwrap();
    let mut out = vec![0u8; 64];
    let mut n = 0u32;
    // SAFETY: the buffer and OVERLAPPED outlive the request (aborted below).
    let ok = unsafe { accept_ex(l, a, out.as_mut_ptr().cast(), 0, 32, 32, &mut n, &mut *ov) };
    assert_eq!((ok, ws.last_error()), (0, WsaError::IO_PENDING.code()));
    ws.closesocket(l).unwrap();
    assert_eq!(
        ws.wait_for_multiple_events(&[event], false, 5000, false),
        Ok(ws2_standin::WSA_WAIT_EVENT_0)
    );
    assert_ne!(ov.Internal, 0x103);
    // SAFETY: plain fields of the union.
    assert_eq!(
        unsafe { ov.Anonymous.Anonymous.OffsetHigh } as i32,
        WsaError::OPERATION_ABORTED.code()
    );
    ws.close_event(event).unwrap();
    ws.closesocket(a).unwrap();
    ws.cleanup();
}

#[test]
fn base_handle_is_the_socket_itself_and_overlapped_ioctls_complete_at_once() {
    let ws = session();
    let s = ws.socket(2, 2, 17).unwrap();
    let ioctl = ws.spi_for(s).unwrap().table.lpWSPIoctl.unwrap();
    let mut out = 0usize;
    let mut n = 0u32;
    // SAFETY: a live output buffer of a SOCKET's size.
    let r = ws2_standin::check_int("WSPIoctl", |errno| unsafe {
        ioctl(
            s,
            SIO_BASE_HANDLE,
            core::ptr::null(),
            0,
            (&mut out as *mut usize).cast(),
            8,
            &mut n,
            core::ptr::null_mut(),
            None,
            core::ptr::null(),
            errno,
        )
    });
    assert_eq!((r, out, n), (Ok(0), s, 8));

    let event = ws.create_event().unwrap();
    let mut ov = Box::new(OVERLAPPED {
        hEvent: event as HANDLE,
        ..OVERLAPPED::default()
    });
    let mut readable = 7u32;
    // SAFETY: live buffers; the request completes during the call.
    let r = ws2_standin::check_int("WSPIoctl", |errno| unsafe {
        ioctl(
            s,
            FIONREAD as u32,
            core::ptr::null(),
            0,
            (&mut readable as *mut u32).cast(),
            4,
            &mut n,
            &mut *ov,
            None,
            core::ptr::null(),
            errno,
        )
    });
    assert_eq!((r, readable), (Ok(0), 0));
    assert_eq!(
        ws.wait_for_multiple_events(&[event], false, 5000, false),
        Ok(ws2_standin::WSA_WAIT_EVENT_0)
    );
    ws.close_event(event).unwrap();
    ws.closesocket(s).unwrap();
    ws.cleanup();
}
