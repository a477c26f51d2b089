//! Host hooks: the two ws2_32 services a provider needs that are not in the upcall table
//! (`WPUCompleteOverlappedRequest` and `WSASetLastError`), supplied by whoever plays ws2_32.
//!
//! The ws2_32 stand-in calls the `WspSetHostHooks` export once after loading a provider and
//! before `WSPStartup`. Without hooks the runtime falls back to the real services on Windows
//! (ws2_32's `WPUCompleteOverlappedRequest`, kernel32's `SetLastError`, which is what
//! `WSASetLastError` does) and, elsewhere, to no completion-port route and a thread-local last
//! error ([`fallback_last_error`]).

use crate::sys::{OVERLAPPED, SOCKET};
use crate::types::error::WsaError;
use std::sync::Mutex;

/// The name under which a provider DLL exports its [`SetHostHooksFn`].
pub const SET_HOST_HOOKS_EXPORT: &str = "WspSetHostHooks";

/// `WPUCompleteOverlappedRequest(s, lpOverlapped, dwError, cbTransferred, lpErrno)`: 0, or
/// `SOCKET_ERROR` with a code in `*lpErrno`.
pub type CompleteOverlappedRequestFn =
    unsafe extern "system" fn(SOCKET, *mut OVERLAPPED, u32, u32, *mut i32) -> i32;

/// `WSASetLastError(code)`.
pub type SetLastErrorFn = unsafe extern "system" fn(i32);

/// `WaitForMultipleObjectsEx(count, handles, wait_all, timeout_ms, alertable)` over events from
/// the `WPUCreateEvent` upcall: `WSA_WAIT_EVENT_0 + i`, `WSA_WAIT_TIMEOUT`,
/// `WSA_WAIT_IO_COMPLETION`, or `WSA_WAIT_FAILED`.
pub type WaitForEventsFn =
    unsafe extern "system" fn(u32, *const crate::sys::WSAEVENT, i32, u32, i32) -> u32;

/// What the host (ws2_32, or the stand-in playing it) supplies besides the upcall table.
/// (No `Debug`: Rust 1.63 has no `Debug` for `extern "system"` function pointers.)
#[repr(C)]
#[derive(Copy, Clone)]
pub struct HostHooks {
    /// `size_of::<HostHooks>()` as the caller knows it; fields beyond it are taken as absent.
    pub size: u32,
    /// Completes an overlapped request on a `WPUCreateSocketHandle` handle (so completion
    /// ports see it).
    pub complete_overlapped_request: Option<CompleteOverlappedRequestFn>,
    /// Sets the calling thread's Winsock last error (for extension functions such as
    /// `AcceptEx`, which applications call directly).
    pub set_last_error: Option<SetLastErrorFn>,
    /// Waits on events made by the host's `WPUCreateEvent` (layered providers watch the
    /// provider below through them). On Windows, absent means kernel32's
    /// `WaitForMultipleObjectsEx`.
    pub wait_for_events: Option<WaitForEventsFn>,
}

/// The signature of the `WspSetHostHooks` export: 0, or a WSA error code (`WSAEFAULT` for a
/// null pointer, `WSAEINVAL` for a `size` too small to hold any hook).
pub type SetHostHooksFn = unsafe extern "system" fn(*const HostHooks) -> i32;

#[derive(Copy, Clone)]
struct Installed {
    complete: Option<CompleteOverlappedRequestFn>,
    set_last_error: Option<SetLastErrorFn>,
    wait_for_events: Option<WaitForEventsFn>,
}

static HOOKS: Mutex<Option<Installed>> = Mutex::new(None);

fn installed() -> Option<Installed> {
    *HOOKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// `WspSetHostHooks`: records the host's hooks for every provider in this module (they are
/// process-wide, as ws2_32 is). `WSAEFAULT` for a null pointer, `WSAEINVAL` for a `size` too
/// small to hold any hook.
///
/// # Safety
/// `hooks` is null or points to `(*hooks).size` readable bytes of a [`HostHooks`].
pub(crate) unsafe fn set_host_hooks(hooks: *const HostHooks) -> Result<(), WsaError> {
    if hooks.is_null() {
        return Err(WsaError::FAULT);
    }
    // SAFETY: non-null; the caller passes at least the `size` field.
    let size = unsafe { core::ptr::read_unaligned(hooks.cast::<u32>()) } as usize;
    let word = core::mem::size_of::<usize>();
    if size < word * 2 {
        return Err(WsaError::INVAL);
    }
    // SAFETY: `size` covers the field (checked above).
    let complete =
        unsafe { core::ptr::addr_of!((*hooks).complete_overlapped_request).read_unaligned() };
    // Each later field is read only when `size` reaches its end (callers built against an
    // older `HostHooks` pass a smaller size).
    let set_last_error = if size >= word * 3 {
        // SAFETY: `size` covers the field.
        unsafe { core::ptr::addr_of!((*hooks).set_last_error).read_unaligned() }
    } else {
        None
    };
    let wait_for_events = if size >= word * 4 {
        // SAFETY: `size` covers the field.
        unsafe { core::ptr::addr_of!((*hooks).wait_for_events).read_unaligned() }
    } else {
        None
    };
    *HOOKS.lock().unwrap_or_else(|e| e.into_inner()) = Some(Installed {
        complete,
        set_last_error,
        wait_for_events,
    });
    Ok(())
}

/// `WPUCompleteOverlappedRequest`, from the hook or (on Windows) from ws2_32.dll; `None` when
/// neither exists (no completion-port route: the runtime signals the event itself).
pub(crate) fn complete_overlapped_request() -> Option<CompleteOverlappedRequestFn> {
    match installed() {
        Some(hooks) => hooks.complete,
        None => os::complete_overlapped_request(),
    }
}

/// `WSASetLastError(code)` for the calling thread.
pub(crate) fn set_last_error(e: WsaError) {
    match installed().and_then(|h| h.set_last_error) {
        // SAFETY: the host's hook, called with a Winsock code as it expects.
        Some(set) => unsafe { set(e.code()) },
        None => os::set_last_error(e.code()),
    }
}

/// The hooks the host supplied, as it supplied them (a layer passes them on to the providers
/// it loads below itself); `None` when it supplied none.
pub(crate) fn current() -> Option<HostHooks> {
    installed().map(|h| HostHooks {
        size: core::mem::size_of::<HostHooks>() as u32,
        complete_overlapped_request: h.complete,
        set_last_error: h.set_last_error,
        wait_for_events: h.wait_for_events,
    })
}

/// The host's wait on `WPUCreateEvent` events, if it supplied one.
pub(crate) fn wait_for_events() -> Option<WaitForEventsFn> {
    installed().and_then(|h| h.wait_for_events)
}

/// The last error an extension function reported on this thread when no host hook was
/// installed (off Windows, where there is no OS last error to use); 0 when none.
pub fn fallback_last_error() -> i32 {
    os::last_error()
}

#[cfg(windows)]
mod os {
    use super::CompleteOverlappedRequestFn;
    use core::ffi::c_void;
    use std::sync::Mutex;

    extern "system" {
        fn GetModuleHandleW(name: *const u16) -> *mut c_void;
        fn LoadLibraryW(name: *const u16) -> *mut c_void;
        fn GetProcAddress(module: *mut c_void, name: *const u8) -> *const c_void;
        fn SetLastError(code: u32);
        fn GetLastError() -> u32;
    }

    /// Resolved once: `Some(found)` after the first look-up.
    static RESOLVED: Mutex<Option<Option<CompleteOverlappedRequestFn>>> = Mutex::new(None);

    pub(super) fn complete_overlapped_request() -> Option<CompleteOverlappedRequestFn> {
        let mut resolved = RESOLVED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = *resolved {
            return found;
        }
        let name: Vec<u16> = "ws2_32.dll".encode_utf16().chain(Some(0)).collect();
        // SAFETY: `name` is a NUL-terminated UTF-16 string; both calls only read it. The
        // module stays loaded (ws2_32 loaded this provider, and LoadLibraryW adds a reference).
        let module = unsafe {
            let m = GetModuleHandleW(name.as_ptr());
            if m.is_null() {
                LoadLibraryW(name.as_ptr())
            } else {
                m
            }
        };
        let found = if module.is_null() {
            None
        } else {
            // SAFETY: a valid module handle and a NUL-terminated ANSI name.
            let f = unsafe { GetProcAddress(module, b"WPUCompleteOverlappedRequest\0".as_ptr()) };
            if f.is_null() {
                None
            } else {
                // SAFETY: ws2_32 exports WPUCompleteOverlappedRequest with this signature.
                Some(unsafe {
                    core::mem::transmute::<*const c_void, CompleteOverlappedRequestFn>(f)
                })
            }
        };
        *resolved = Some(found);
        found
    }

    pub(super) fn set_last_error(code: i32) {
        // SAFETY: SetLastError only stores the value for the calling thread.
        unsafe { SetLastError(code as u32) }
    }

    pub(super) fn last_error() -> i32 {
        // SAFETY: GetLastError only reads the calling thread's value.
        unsafe { GetLastError() as i32 }
    }
}

#[cfg(not(windows))]
mod os {
    use super::CompleteOverlappedRequestFn;
    use core::cell::Cell;

    thread_local! {
        static LAST_ERROR: Cell<i32> = const { Cell::new(0) };
    }

    pub(super) fn complete_overlapped_request() -> Option<CompleteOverlappedRequestFn> {
        None
    }

    pub(super) fn set_last_error(code: i32) {
        LAST_ERROR.with(|e| e.set(code));
    }

    pub(super) fn last_error() -> i32 {
        LAST_ERROR.with(|e| e.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_null_and_short() {
        // SAFETY: null is rejected before any read.
        let null = unsafe { set_host_hooks(core::ptr::null()) };
        assert_eq!(null, Err(WsaError::FAULT));
        let short = HostHooks {
            size: 4,
            complete_overlapped_request: None,
            set_last_error: None,
            wait_for_events: None,
        };
        // SAFETY: a live HostHooks; only `size` is read.
        assert_eq!(unsafe { set_host_hooks(&short) }, Err(WsaError::INVAL));
    }
}
