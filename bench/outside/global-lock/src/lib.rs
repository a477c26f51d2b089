//! The "global lock" provider of the outside benchmark, the shape of Microsoft's LSP sample: one
//! mutex around a `HashMap` from handle to socket, held while the call finds its socket and
//! takes a reference (`Arc` clone); the reference is dropped when the call returns.
#![deny(unsafe_op_in_unsafe_fn)]

#[path = "../../handmade.rs"]
mod handmade;

use core::ffi::c_void;
use handmade::Sock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use winsock_provider::sys::*;

/// Every socket of the process, by handle.
static SOCKETS: Mutex<Option<HashMap<SOCKET, Arc<Sock>>>> = Mutex::new(None);

#[inline(always)]
fn lookup(s: SOCKET) -> Option<Arc<Sock>> {
    let map = SOCKETS.lock().unwrap_or_else(|e| e.into_inner());
    map.as_ref()?.get(&s).cloned()
}

unsafe extern "system" fn socket(
    _: i32,
    _: i32,
    _: i32,
    info: *const WSAPROTOCOL_INFOW,
    _: u32,
    _: u32,
    errno: *mut i32,
) -> SOCKET {
    let sock = Arc::new(Sock::new());
    // SAFETY: WSPSocket's arguments, passed on.
    let s = unsafe { handmade::create_handle(info, Arc::as_ptr(&sock) as usize, errno) };
    if s != INVALID_SOCKET {
        SOCKETS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(HashMap::new)
            .insert(s, sock);
    }
    s
}

unsafe extern "system" fn close_socket(s: SOCKET, errno: *mut i32) -> i32 {
    let was = SOCKETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(|map| map.remove(&s));
    if was.is_none() {
        // SAFETY: the caller's lpErrno.
        return unsafe { handmade::fail(errno, SOCKET_ERROR, WSAENOTSOCK) };
    }
    // SAFETY: `s` was open and only this call removed it.
    unsafe { handmade::release_handle(s, errno) }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn recv(
    s: SOCKET,
    _buffers: *const WSABUF,
    _count: u32,
    received: *mut u32,
    flags: *mut u32,
    _overlapped: *mut OVERLAPPED,
    _routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    _thread: *const WSATHREADID,
    errno: *const i32,
) -> i32 {
    let code = match lookup(s) {
        None => WSAENOTSOCK,
        Some(_) if received.is_null() || flags.is_null() => WSAEFAULT,
        Some(sock) => match handmade::recv_on(&sock) {
            Ok(_) => return 0,
            Err(code) => code,
        },
    };
    // SAFETY: the caller's lpErrno.
    unsafe { handmade::fail(errno, SOCKET_ERROR, code) }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn send(
    s: SOCKET,
    buffers: *const WSABUF,
    count: u32,
    sent: *mut u32,
    _flags: u32,
    _overlapped: *mut OVERLAPPED,
    _routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    _thread: *const WSATHREADID,
    errno: *mut i32,
) -> i32 {
    let code = match lookup(s) {
        None => WSAENOTSOCK,
        Some(_) if sent.is_null() => WSAEFAULT,
        // SAFETY: the caller's `count` WSABUFs.
        Some(_) => match unsafe { handmade::total_len(buffers, count) } {
            Ok(n) => {
                // SAFETY: checked non-null; the caller's DWORD.
                unsafe { *sent = n };
                return 0;
            }
            Err(code) => code,
        },
    };
    // SAFETY: the caller's lpErrno.
    unsafe { handmade::fail(errno, SOCKET_ERROR, code) }
}

unsafe extern "system" fn get_sock_opt(
    s: SOCKET,
    level: i32,
    name: i32,
    optval: PSTR,
    optlen: *mut i32,
    errno: *mut i32,
) -> i32 {
    let code = match lookup(s) {
        None => WSAENOTSOCK,
        Some(_) if level != SOL_SOCKET || name != SO_TYPE => WSAENOPROTOOPT,
        // SAFETY: WSPGetSockOpt's buffer arguments.
        Some(_) => match unsafe { handmade::write_int_option(optval, optlen, SOCK_DGRAM) } {
            Ok(()) => return 0,
            Err(code) => code,
        },
    };
    // SAFETY: the caller's lpErrno.
    unsafe { handmade::fail(errno, SOCKET_ERROR, code) }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn ioctl(
    s: SOCKET,
    code: u32,
    input: *const c_void,
    input_len: u32,
    output: *mut c_void,
    output_len: u32,
    returned: *mut u32,
    _overlapped: *mut OVERLAPPED,
    _routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    _thread: *const WSATHREADID,
    errno: *mut i32,
) -> i32 {
    let code = match lookup(s) {
        None => WSAENOTSOCK,
        Some(_) if returned.is_null() => WSAEFAULT,
        // SAFETY: WSPIoctl's buffer arguments.
        Some(sock) => {
            match unsafe { handmade::ioctl_on(&sock, code, input, input_len, output, output_len) } {
                Ok(n) => {
                    // SAFETY: checked non-null; the caller's DWORD.
                    unsafe { *returned = n };
                    return 0;
                }
                Err(code) => code,
            }
        }
    };
    // SAFETY: the caller's lpErrno.
    unsafe { handmade::fail(errno, SOCKET_ERROR, code) }
}

handmade::exports!(
    0x6d1f0b7e_4b57_4c1a_9d0e_5a2b3c4d5e03,
    handmade::Entries {
        socket: Some(socket),
        close_socket: Some(close_socket),
        recv: Some(recv),
        send: Some(send),
        get_sock_opt: Some(get_sock_opt),
        ioctl: Some(ioctl),
    }
);
