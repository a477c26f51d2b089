//! Typed readers of the callers' arguments, shared by the entry points and the extension
//! functions: the socket a handle names, addresses, sized buffers, and the start of an
//! overlapped request.

use crate::io::completion::{Completion, Requester};
use crate::io::ops;
use crate::registry::provider::Sock;
use crate::registry::state::{keep, Binding, Mode, Pinned};
use crate::sys::{LPWSAOVERLAPPED_COMPLETION_ROUTINE, OVERLAPPED, SOCKADDR, SOCKET, WSABUF};
use crate::types::addr::SockAddr;
use crate::types::error::WsaError;
use crate::types::info::DescriptorMode;
use core::ffi::c_void;

/// Finds an open socket; the first call that reaches a socket attaches it (see
/// `Provider::attached`; a socket whose `attached` panicked is `WSAENETDOWN`).
#[inline(always)]
pub(crate) fn sock<P: Binding>(s: SOCKET) -> Result<Pinned<P>, WsaError> {
    let pinned = P::state().lookup(s)?;
    if !pinned.io.is_ready() {
        first_calls(&pinned)?;
    }
    Ok(pinned)
}

/// A socket not attached yet (this call attaches it), being attached by another call, or
/// whose `attached` panicked.
#[cold]
#[inline(never)]
fn first_calls<P: Binding>(pinned: &Pinned<P>) -> Result<(), WsaError> {
    ops::attach(&keep(pinned));
    pinned.io.usable()
}

/// `WSAEFAULT` unless `(ptr, len)` is a non-null buffer of at least `needed` bytes.
pub(crate) fn need(ptr: *const c_void, len: u32, needed: u32) -> Result<(), WsaError> {
    if ptr.is_null() || len < needed {
        Err(WsaError::FAULT)
    } else {
        Ok(())
    }
}

/// Reads a caller's address, at least as long as the protocol's minimum (`WSAEFAULT`
/// otherwise).
///
/// # Safety
/// `name` is null or points to `len` readable bytes.
pub(crate) unsafe fn read_addr<P: Binding>(
    sock: &Sock<P>,
    name: *const SOCKADDR,
    len: i32,
) -> Result<SockAddr, WsaError> {
    if len < sock.spec().min_sockaddr {
        return Err(WsaError::FAULT);
    }
    // SAFETY: `len` readable bytes at `name` (this function's contract).
    unsafe { SockAddr::from_raw(name, len) }
}

/// Checks that an address is of the socket's family (`mismatch` otherwise).
pub(crate) fn same_family<P: Binding>(
    sock: &Sock<P>,
    addr: &SockAddr,
    mismatch: WsaError,
) -> Result<(), WsaError> {
    let family = sock.spec().family;
    if family != i32::from(crate::sys::AF_UNSPEC) && family != i32::from(addr.family()) {
        return Err(mismatch);
    }
    Ok(())
}

/// `WSAENOPROTOOPT` unless disconnect data is absent or empty (the trait takes none).
///
/// # Safety
/// `data` is null or points to a readable `WSABUF`.
pub(crate) unsafe fn no_disconnect_data(data: *const WSABUF) -> Result<(), WsaError> {
    // SAFETY: if non-null, a readable WSABUF (this function's contract).
    if data.is_null() || unsafe { (*data).len } == 0 {
        Ok(())
    } else {
        Err(WsaError::NOPROTOOPT)
    }
}

/// Whether completions of `P`'s sockets go through `WPUCompleteOverlappedRequest` (non-IFS
/// handles, which ws2_32 made).
fn host_route<P: Binding>() -> bool {
    matches!(<P::Mode as Mode<P>>::KIND, DescriptorMode::NonIfs)
}

/// Starts the completion of an overlapped request on `sock` (handle `s`): the one path from
/// the entry points and the extension functions to the completion machinery. A completion
/// routine runs on `requester`'s thread.
///
/// # Safety
/// `ov` is null (`WSAEFAULT`) or a writable `WSAOVERLAPPED` valid until completion;
/// `requester` is as its variant says.
pub(crate) unsafe fn completion<P: Binding>(
    sock: &Sock<P>,
    s: SOCKET,
    ov: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    requester: Requester,
) -> Result<Completion, WsaError> {
    // SAFETY: as this function's contract; the upcall table is ws2_32's.
    unsafe {
        Completion::start(
            ov,
            routine,
            requester,
            s,
            host_route::<P>(),
            sock.shared.upcalls,
        )
    }
}

/// Writes `value` through `out` when the caller gave somewhere to put it.
///
/// # Safety
/// `out` is null or writable.
#[inline(always)]
pub(crate) unsafe fn put<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-null and writable (this function's contract).
        unsafe { out.write(value) };
    }
}
