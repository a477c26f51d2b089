//! The real kernel objects on Windows (and Wine): events, thread handles with `QueueUserAPC`,
//! alertable waits and I/O completion ports. Mirrors `emul.rs` function for function.

use super::{ApcFn, Completion, WSA_MAXIMUM_WAIT_EVENTS, WSA_WAIT_TIMEOUT};
use core::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use winsock_provider::sys::{OVERLAPPED, WSATHREADID};
use winsock_provider::WsaError;

type Handle = *mut c_void;

const INVALID_HANDLE_VALUE: isize = -1;
const WAIT_FAILED: u32 = u32::MAX;
const DUPLICATE_SAME_ACCESS: u32 = 2;

#[link(name = "kernel32")]
extern "system" {
    fn CreateEventW(
        attributes: *const c_void,
        manual: i32,
        initial: i32,
        name: *const u16,
    ) -> Handle;
    fn SetEvent(event: Handle) -> i32;
    fn ResetEvent(event: Handle) -> i32;
    fn CloseHandle(handle: Handle) -> i32;
    fn WaitForMultipleObjectsEx(
        count: u32,
        handles: *const Handle,
        wait_all: i32,
        ms: u32,
        alertable: i32,
    ) -> u32;
    fn SleepEx(ms: u32, alertable: i32) -> u32;
    fn GetCurrentThread() -> Handle;
    fn GetCurrentProcess() -> Handle;
    fn DuplicateHandle(
        source_process: Handle,
        source: Handle,
        target_process: Handle,
        target: *mut Handle,
        access: u32,
        inherit: i32,
        options: u32,
    ) -> i32;
    fn QueueUserAPC(apc: Option<ApcFn>, thread: Handle, data: usize) -> u32;
    fn CreateIoCompletionPort(file: Handle, existing: Handle, key: usize, threads: u32) -> Handle;
    fn PostQueuedCompletionStatus(
        port: Handle,
        bytes: u32,
        key: usize,
        overlapped: *mut OVERLAPPED,
    ) -> i32;
    fn GetQueuedCompletionStatus(
        port: Handle,
        bytes: *mut u32,
        key: *mut usize,
        overlapped: *mut *mut OVERLAPPED,
        ms: u32,
    ) -> i32;
    fn GetLastError() -> u32;
}

/// The calling thread's last Win32 error as a `WsaError` (Win32 and WSA codes share a space).
fn last_error() -> WsaError {
    // SAFETY: plain Win32 call.
    WsaError::from_code(unsafe { GetLastError() } as i32)
}

fn ok(r: i32) -> Result<(), WsaError> {
    if r != 0 {
        Ok(())
    } else {
        Err(last_error())
    }
}

/// A real handle to the calling thread (`GetCurrentThread` is a pseudo-handle).
fn duplicate_current_thread() -> Result<Handle, WsaError> {
    let mut h: Handle = core::ptr::null_mut();
    // SAFETY: duplicates the current thread's pseudo-handle into a real one in this process.
    ok(unsafe {
        DuplicateHandle(
            GetCurrentProcess(),
            GetCurrentThread(),
            GetCurrentProcess(),
            &mut h,
            0,
            0,
            DUPLICATE_SAME_ACCESS,
        )
    })?;
    Ok(h)
}

/// The thread handle ws2_32 keeps for the calling thread, closed when the thread ends.
struct Me {
    id: WSATHREADID,
}

impl Drop for Me {
    fn drop(&mut self) {
        if !self.id.ThreadHandle.is_null() {
            // SAFETY: our own duplicated handle, closed once.
            unsafe { CloseHandle(self.id.ThreadHandle) };
        }
    }
}

thread_local! {
    static ME: Me = Me {
        id: WSATHREADID {
            ThreadHandle: duplicate_current_thread().unwrap_or(core::ptr::null_mut()),
            Reserved: 0,
        },
    };
}

/// The `WSATHREADID` ws2_32 passes for the calling thread (its standing thread handle).
pub(crate) fn current_thread() -> WSATHREADID {
    ME.try_with(|m| m.id).unwrap_or_default()
}

/// Handles from [`open_current_thread`] not yet closed.
static OPENED: AtomicUsize = AtomicUsize::new(0);

/// How many thread handles `WPUOpenCurrentThread` handed out that are still open.
pub(crate) fn opened_thread_handles() -> usize {
    OPENED.load(Ordering::SeqCst)
}

/// `WPUOpenCurrentThread`: a new real handle to the calling thread.
pub(crate) fn open_current_thread() -> Result<WSATHREADID, WsaError> {
    let h = duplicate_current_thread()?;
    OPENED.fetch_add(1, Ordering::SeqCst);
    Ok(WSATHREADID {
        ThreadHandle: h,
        Reserved: 0,
    })
}

/// `WPUCloseThread`: closes a handle from [`open_current_thread`].
pub(crate) fn close_thread(id: &WSATHREADID) -> Result<(), WsaError> {
    let standing = ME
        .try_with(|m| m.id.ThreadHandle == id.ThreadHandle)
        .unwrap_or(false);
    if standing || id.ThreadHandle.is_null() {
        return Err(WsaError::INVALID_HANDLE);
    }
    // SAFETY: a handle the provider got from WPUOpenCurrentThread; Windows validates it.
    ok(unsafe { CloseHandle(id.ThreadHandle) })?;
    OPENED.fetch_sub(1, Ordering::SeqCst);
    Ok(())
}

/// `QueueUserAPC` onto the thread `id` names.
pub(crate) fn queue_apc(id: &WSATHREADID, apc: ApcFn, context: usize) -> Result<(), WsaError> {
    // SAFETY: Windows validates the thread handle; `apc` runs on that thread in an alertable
    // wait, as the provider asked.
    let r = unsafe { QueueUserAPC(Some(apc), id.ThreadHandle, context) };
    ok(r as i32)
}

/// `CreateEventW(NULL, TRUE, FALSE, NULL)`: a manual-reset event, not signalled.
pub(crate) fn create_event() -> Result<isize, WsaError> {
    // SAFETY: default attributes, no name.
    let h = unsafe { CreateEventW(core::ptr::null(), 1, 0, core::ptr::null()) };
    if h.is_null() {
        Err(last_error())
    } else {
        Ok(h as isize)
    }
}

/// `SetEvent`.
pub(crate) fn set_event(h: isize) -> Result<(), WsaError> {
    // SAFETY: Windows validates the handle.
    ok(unsafe { SetEvent(h as Handle) })
}

/// `ResetEvent`.
pub(crate) fn reset_event(h: isize) -> Result<(), WsaError> {
    // SAFETY: Windows validates the handle.
    ok(unsafe { ResetEvent(h as Handle) })
}

/// `CloseHandle` of an event.
pub(crate) fn close_event(h: isize) -> Result<(), WsaError> {
    // SAFETY: Windows validates the handle.
    ok(unsafe { CloseHandle(h as Handle) })
}

/// `WaitForMultipleObjectsEx` over events.
pub(crate) fn wait(
    handles: &[isize],
    wait_all: bool,
    timeout_ms: u32,
    alertable: bool,
) -> Result<u32, WsaError> {
    if handles.is_empty() || handles.len() > WSA_MAXIMUM_WAIT_EVENTS {
        return Err(WsaError::INVALID_PARAMETER);
    }
    let raw: Vec<Handle> = handles.iter().map(|&h| h as Handle).collect();
    // SAFETY: `raw` holds `raw.len()` handles for the duration of the call.
    let r = unsafe {
        WaitForMultipleObjectsEx(
            raw.len() as u32,
            raw.as_ptr(),
            wait_all as i32,
            timeout_ms,
            alertable as i32,
        )
    };
    if r == WAIT_FAILED {
        Err(last_error())
    } else {
        Ok(r)
    }
}

/// `SleepEx`.
pub(crate) fn sleep_ex(ms: u32, alertable: bool) -> u32 {
    // SAFETY: plain Win32 call.
    unsafe { SleepEx(ms, alertable as i32) }
}

/// `CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0)`.
pub(crate) fn create_port() -> Result<isize, WsaError> {
    // SAFETY: creates a new port not associated with any file.
    let h = unsafe {
        CreateIoCompletionPort(INVALID_HANDLE_VALUE as Handle, core::ptr::null_mut(), 0, 0)
    };
    if h.is_null() {
        Err(last_error())
    } else {
        Ok(h as isize)
    }
}

/// Queues a packet on port `h`. The error travels in `overlapped.Internal` (stored by
/// `WPUCompleteOverlappedRequest` before posting), as a posted packet carries no status.
pub(crate) fn post(
    h: isize,
    bytes: u32,
    key: usize,
    overlapped: *mut OVERLAPPED,
    _error: u32,
) -> Result<(), WsaError> {
    // SAFETY: Windows validates the port; the overlapped pointer is only carried.
    ok(unsafe { PostQueuedCompletionStatus(h as Handle, bytes, key, overlapped) })
}

/// `GetQueuedCompletionStatus`: the oldest packet, `None` on time-out.
pub(crate) fn get_queued(h: isize, timeout_ms: u32) -> Result<Option<Completion>, WsaError> {
    let mut bytes = 0u32;
    let mut key = 0usize;
    let mut overlapped: *mut OVERLAPPED = core::ptr::null_mut();
    // SAFETY: valid out-pointers; Windows validates the port.
    let r = unsafe {
        GetQueuedCompletionStatus(
            h as Handle,
            &mut bytes,
            &mut key,
            &mut overlapped,
            timeout_ms,
        )
    };
    if r == 0 {
        let e = last_error();
        if overlapped.is_null() {
            if e.code() as u32 == WSA_WAIT_TIMEOUT {
                return Ok(None);
            }
            return Err(e);
        }
        return Ok(Some(Completion {
            bytes,
            key,
            overlapped,
            error: e.code() as u32,
        }));
    }
    let error = if overlapped.is_null() {
        0
    } else {
        // SAFETY: the packet's OVERLAPPED belongs to the application, which keeps it alive
        // until its completion is dequeued; `Internal` holds the status stored at completion.
        unsafe { (*overlapped).Internal as u32 }
    };
    Ok(Some(Completion {
        bytes,
        key,
        overlapped,
        error,
    }))
}

/// `CloseHandle` of a completion port.
pub(crate) fn close_port(h: isize) -> Result<(), WsaError> {
    // SAFETY: Windows validates the handle.
    ok(unsafe { CloseHandle(h as Handle) })
}
