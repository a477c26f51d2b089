//! The return conventions every SPI call is checked against, and the checks of what a
//! provider wrote into the caller's buffers.

use crate::host::registry;
use winsock_provider::sys::{BOOL, INVALID_SOCKET, SOCKET, SOCKET_ERROR};
use winsock_provider::{SockAddr, WsaError};

/// The value `*lpErrno` holds before each call, to tell "left alone" from "written".
pub(crate) const ERRNO_SENTINEL: i32 = 0x5EED_0BAD;

/// Room for any socket address (`SOCKADDR_STORAGE`).
pub(crate) const ADDR_ROOM: usize = 128;

/// Panics with every contract violation the upcalls recorded since the last check.
pub(crate) fn report_violations() {
    let found = registry::lock().take_violations();
    if !found.is_empty() && !std::thread::panicking() {
        panic!(
            "ws2-standin: provider broke the SPI contract:\n  {}",
            found.join("\n  ")
        );
    }
}

/// Runs one raw SPI call returning `int` with `*lpErrno` preset, checking the return
/// convention: `Ok(return value)` or `Err(code)`. Panics, naming `name`, if the provider
/// returned `SOCKET_ERROR` without a WSA code in `*lpErrno`, wrote `*lpErrno` on success, or
/// returned something other than 0 / `SOCKET_ERROR` (except `WSPSelect`, which counts).
pub fn check_int(name: &str, call: impl FnOnce(*mut i32) -> i32) -> Result<i32, WsaError> {
    let mut errno = ERRNO_SENTINEL;
    let ret = call(&mut errno);
    report_violations();
    if ret == SOCKET_ERROR {
        return Err(failure_code(name, "SOCKET_ERROR", errno));
    }
    if errno != ERRNO_SENTINEL {
        panic!(
            "ws2-standin: {} succeeded (returned {}) but wrote {} to *lpErrno",
            name, ret, errno
        );
    }
    if ret != 0 && name != "WSPSelect" {
        panic!(
            "ws2-standin: {} returned {}; the SPI allows only 0 or SOCKET_ERROR",
            name, ret
        );
    }
    Ok(ret)
}

/// Like [`check_int`] for `SOCKET`-returning calls (`WSPSocket`, `WSPAccept`, `WSPJoinLeaf`).
pub fn check_socket(name: &str, call: impl FnOnce(*mut i32) -> SOCKET) -> Result<SOCKET, WsaError> {
    let mut errno = ERRNO_SENTINEL;
    let ret = call(&mut errno);
    report_violations();
    if ret == INVALID_SOCKET {
        return Err(failure_code(name, "INVALID_SOCKET", errno));
    }
    if errno != ERRNO_SENTINEL {
        panic!(
            "ws2-standin: {} succeeded (returned {:#x}) but wrote {} to *lpErrno",
            name, ret, errno
        );
    }
    Ok(ret)
}

/// Like [`check_int`] for `BOOL`-returning calls (`WSPGetOverlappedResult`,
/// `WSPGetQOSByName`): `TRUE` is success, `FALSE` failure with a WSA code in `*lpErrno`.
pub fn check_bool(name: &str, call: impl FnOnce(*mut i32) -> BOOL) -> Result<(), WsaError> {
    let mut errno = ERRNO_SENTINEL;
    let ret = call(&mut errno);
    report_violations();
    if ret == 0 {
        return Err(failure_code(name, "FALSE", errno));
    }
    if errno != ERRNO_SENTINEL {
        panic!(
            "ws2-standin: {} succeeded but wrote {} to *lpErrno",
            name, errno
        );
    }
    Ok(())
}

fn failure_code(name: &str, what: &str, errno: i32) -> WsaError {
    let code = WsaError::from_code(errno);
    if errno == ERRNO_SENTINEL {
        panic!(
            "ws2-standin: {} returned {} but did not set *lpErrno",
            name, what
        );
    }
    if !code.is_valid_failure() {
        panic!(
            "ws2-standin: {} returned {} with *lpErrno = {}, which is not a WSA error code",
            name, what, errno
        );
    }
    code
}

/// Panics if a provider reported more bytes than the buffer holds.
pub(crate) fn check_count(call: &str, n: u32, room: usize) {
    if n as usize > room {
        panic!(
            "ws2-standin: {} reported {} bytes for a {}-byte buffer",
            call, n, room
        );
    }
}

/// Parses an address a provider wrote, panicking with the call's name if it is malformed.
pub(crate) fn parse_returned(call: &str, buf: &[u8], len: i32) -> SockAddr {
    if len < 2 || len as usize > buf.len() {
        panic!(
            "ws2-standin: {} reported an address length of {} (buffer {})",
            call,
            len,
            buf.len()
        );
    }
    match SockAddr::from_bytes(&buf[..len as usize]) {
        Ok(addr) => addr,
        Err(e) => panic!(
            "ws2-standin: {} wrote a malformed address ({}): {:?}",
            call,
            e,
            &buf[..len as usize]
        ),
    }
}
