//! The "ideal" provider of the outside benchmark: a socket is found by one `AtomicPtr` load from
//! a fixed array indexed by `handle >> 2`, and nothing else happens on a call (records are never
//! freed; sockets are never closed). What a call costs here is the floor of calling through
//! a provider's table at all.
#![deny(unsafe_op_in_unsafe_fn)]

#[path = "../../handmade.rs"]
mod handmade;

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, Ordering};
use handmade::Sock;
use winsock_provider::sys::*;

/// Every value a handle can take here: the stand-in's handle values stay below 2^24 (each
/// session draws from its own range of them), Windows' kernel handles far below.
const SLOTS: usize = 1 << 22;
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: AtomicPtr<Sock> = AtomicPtr::new(core::ptr::null_mut());
/// Socket records by `handle >> 2`.
static TABLE: [AtomicPtr<Sock>; SLOTS] = [EMPTY; SLOTS];

#[inline(always)]
fn lookup(s: SOCKET) -> Option<&'static Sock> {
    let slot = TABLE.get(s >> 2)?;
    let p = slot.load(Ordering::Acquire);
    // SAFETY: slots only ever hold leaked, never-freed records.
    unsafe { p.as_ref() }
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
    let sock: &'static Sock = Box::leak(Box::new(Sock::new()));
    // SAFETY: WSPSocket's arguments, passed on.
    let s = unsafe { handmade::create_handle(info, sock as *const Sock as usize, errno) };
    if s == INVALID_SOCKET {
        return s;
    }
    match TABLE.get(s >> 2) {
        Some(slot) => {
            slot.store(sock as *const Sock as *mut Sock, Ordering::Release);
            s
        }
        // SAFETY: the caller's lpErrno.
        None => unsafe { handmade::fail(errno, INVALID_SOCKET, WSAENOBUFS) },
    }
}

unsafe extern "system" fn close_socket(s: SOCKET, errno: *mut i32) -> i32 {
    let was = match TABLE.get(s >> 2) {
        Some(slot) => slot.swap(core::ptr::null_mut(), Ordering::AcqRel),
        None => core::ptr::null_mut(),
    };
    if was.is_null() {
        // SAFETY: the caller's lpErrno.
        return unsafe { handmade::fail(errno, SOCKET_ERROR, WSAENOTSOCK) };
    }
    // The record stays allocated (a call may still be using it): records are never freed.
    // SAFETY: `s` was open and only this call unpublished it.
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
        Some(sock) => match handmade::recv_on(sock) {
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
            match unsafe { handmade::ioctl_on(sock, code, input, input_len, output, output_len) } {
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
    0x6d1f0b7e_4b57_4c1a_9d0e_5a2b3c4d5e02,
    handmade::Entries {
        socket: Some(socket),
        close_socket: Some(close_socket),
        recv: Some(recv),
        send: Some(send),
        get_sock_opt: Some(get_sock_opt),
        ioctl: Some(ioctl),
    }
);
