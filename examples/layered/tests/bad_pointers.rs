//! The layer's own entry points (`WSPIoctl` for the handle codes, which go to the provider
//! below, and `WSPGetSockOpt(SO_PROTOCOL_INFOW)`, which the layer answers) check the caller's
//! pointers as every other entry point does: a missing or short buffer or a missing length is
//! `WSAEFAULT` with nothing written, a handle that is not the layer's is `WSAENOTSOCK`, and a
//! null `lpErrno` still gets `SOCKET_ERROR`. Called through the layer's table as ws2_32 calls
//! it, with raw pointers.

mod common;

use core::ffi::c_void;
use core::ptr::{null, null_mut};
use ws2_standin::sys::{self, SOCKET};

const AF_INET: i32 = 2;
const SOCK_STREAM: i32 = 1;
const IPPROTO_TCP: i32 = 6;

#[test]
fn the_layers_ioctl_refuses_bad_pointers() {
    let ws = common::session(common::Chain::OverLoopback);
    let s = ws.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP).unwrap();
    let ioctl = ws.spi_for(s).unwrap().table.lpWSPIoctl.unwrap();
    let call = |s: SOCKET, code: u32, output: *mut SOCKET, len: u32, returned: *mut u32| {
        let mut errno = 0;
        // SAFETY: the layer's WSPIoctl with buffers that are null or of the lengths given.
        let r = unsafe {
            ioctl(
                s,
                code,
                null(),
                0,
                output.cast::<c_void>(),
                len,
                returned,
                null_mut(),
                None,
                null(),
                &mut errno,
            )
        };
        (r, errno)
    };
    let size = core::mem::size_of::<SOCKET>() as u32;
    let fault = (sys::SOCKET_ERROR, sys::WSAEFAULT);
    // SIO_BASE_HANDLE and the three SIO_BSP_HANDLE codes.
    for code in [sys::SIO_BASE_HANDLE, 0x4800_001B, 0x4800_001C, 0x4800_001D] {
        let mut out: SOCKET = 0;
        let mut n = 0u32;
        assert_eq!(
            call(s, code, null_mut(), size, &mut n),
            fault,
            "{:#x}",
            code
        );
        assert_eq!(
            call(s, code, &mut out, size - 1, &mut n),
            fault,
            "{:#x}",
            code
        );
        assert_eq!(
            call(s, code, &mut out, size, null_mut()),
            fault,
            "{:#x}",
            code
        );
        assert_eq!((out, n), (0, 0), "{:#x}: written on a failure", code);
    }
    let mut out: SOCKET = 0;
    let mut n = 0u32;
    let base = call(s, sys::SIO_BASE_HANDLE, &mut out, size, &mut n);
    assert_eq!(base, (0, 0));
    assert_eq!(n, size);
    assert!(out != 0 && out != s, "the handle below is {:#x}", out);
    let reserved = ws.reserve_unrelated_handle();
    let not_a_socket = call(reserved, sys::SIO_BASE_HANDLE, &mut out, size, &mut n);
    assert_eq!(not_a_socket, (sys::SOCKET_ERROR, sys::WSAENOTSOCK));
    ws.release_unrelated_handle(reserved);
    // SAFETY: a null lpErrno; the output buffer is null (the failure).
    let r = unsafe {
        ioctl(
            s,
            sys::SIO_BASE_HANDLE,
            null(),
            0,
            null_mut(),
            0,
            &mut n,
            null_mut(),
            None,
            null(),
            null_mut(),
        )
    };
    assert_eq!(r, sys::SOCKET_ERROR);
    ws.closesocket(s).unwrap();
}

#[test]
fn the_layers_protocol_info_option_refuses_bad_pointers() {
    let ws = common::session(common::Chain::OverLoopback);
    let s = ws.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP).unwrap();
    let get = ws.spi_for(s).unwrap().table.lpWSPGetSockOpt.unwrap();
    let call = |value: *mut u8, len: *mut i32| {
        let mut errno = 0;
        // SAFETY: the layer's WSPGetSockOpt with a buffer that is null or of `*len` bytes.
        let r = unsafe {
            get(
                s,
                sys::SOL_SOCKET,
                sys::SO_PROTOCOL_INFOW,
                value,
                len,
                &mut errno,
            )
        };
        (r, errno)
    };
    let size = core::mem::size_of::<sys::WSAPROTOCOL_INFOW>();
    let fault = (sys::SOCKET_ERROR, sys::WSAEFAULT);
    // One byte more than the structure, so that it can be written at an odd address.
    let mut buf = vec![0u8; size + 1];
    let mut len = size as i32;
    assert_eq!(call(buf.as_mut_ptr(), null_mut()), fault);
    assert_eq!(call(null_mut(), &mut len), fault);
    for short in [size as i32 - 1, 0, -1] {
        len = short;
        assert_eq!(call(buf.as_mut_ptr(), &mut len), fault, "length {}", short);
        assert_eq!(len, short, "the length changed on a failure");
    }
    assert!(buf.iter().all(|b| *b == 0), "written on a failure");
    len = size as i32;
    // SAFETY: `buf` has `size + 1` bytes, so `size` from offset 1.
    let odd = unsafe { buf.as_mut_ptr().add(1) };
    assert_eq!(call(odd, &mut len), (0, 0));
    assert_eq!(len, size as i32);
    // SAFETY: `size` bytes from offset 1 hold the structure; any bit pattern is valid.
    let info = unsafe { odd.cast::<sys::WSAPROTOCOL_INFOW>().read_unaligned() };
    assert_eq!(info.ProtocolChain.ChainLen, 2, "not the chain entry");
    ws.closesocket(s).unwrap();
}
