//! The upcall table ws2_32 gives providers (`WPUCreateSocketHandle`...`WPUCloseThread`).
//!
//! Upcalls never panic (they are called from provider code across the FFI boundary);
//! contract violations they see are recorded in the registry and reported by the next
//! stand-in call on the application side.

use super::registry::{lock, Entry, Kind};
use super::{kernel, messages, overlapped};
use winsock_provider::sys::{self, *};
use winsock_provider::WsaError;

/// A provider's `lpErrno`: where an upcall's error code goes, if the provider gave one.
struct Errno<'a>(Option<&'a mut i32>);

impl Errno<'_> {
    /// # Safety
    /// `errno` is null or valid for writes for the whole upcall.
    unsafe fn from_raw<'a>(errno: *mut i32) -> Errno<'a> {
        // SAFETY: null or writable (this function's contract).
        Errno(unsafe { errno.as_mut() })
    }

    /// Stores `code`.
    fn set(&mut self, code: WsaError) {
        if let Some(errno) = &mut self.0 {
            **errno = code.code();
        }
    }
}

unsafe extern "system" fn create_socket_handle(
    catalog_id: u32,
    context: usize,
    errno: *mut i32,
) -> SOCKET {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    let mut reg = lock();
    if reg.provider_of(catalog_id).is_none() {
        errno.set(WsaError::INVALIDPROVIDER);
        return INVALID_SOCKET;
    }
    let h = reg.alloc_value();
    reg.insert(h, catalog_id, Kind::NonIfs { context });
    h
}

unsafe extern "system" fn close_socket_handle(s: SOCKET, errno: *mut i32) -> i32 {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    let mut reg = lock();
    match reg.get(s) {
        Some(Entry {
            kind: Kind::NonIfs { .. },
            ..
        }) => {
            reg.handles().remove(&s);
            // Before the value can be reissued (lock order: registry, then tracker).
            overlapped::socket_closed(s);
            reg.free_value(s);
            0
        }
        _ => {
            reg.violation(format!(
                "WPUCloseSocketHandle({:#x}): not an open WPUCreateSocketHandle handle \
                 (closed twice, or never created)",
                s
            ));
            errno.set(WsaError::NOTSOCK);
            SOCKET_ERROR
        }
    }
}

unsafe extern "system" fn query_socket_handle_context(
    s: SOCKET,
    context: *mut usize,
    errno: *mut i32,
) -> i32 {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    let reg = lock();
    match reg.get(s) {
        Some(Entry {
            kind: Kind::NonIfs { context: value },
            ..
        }) => {
            if context.is_null() {
                errno.set(WsaError::FAULT);
                return SOCKET_ERROR;
            }
            // SAFETY: non-null; the provider passes a writable pointer-sized slot.
            unsafe { *context = value };
            0
        }
        _ => {
            errno.set(WsaError::NOTSOCK);
            SOCKET_ERROR
        }
    }
}

unsafe extern "system" fn modify_ifs_handle(
    catalog_id: u32,
    proposed: SOCKET,
    errno: *mut i32,
) -> SOCKET {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    let mut reg = lock();
    if reg.provider_of(catalog_id).is_none() {
        errno.set(WsaError::INVALIDPROVIDER);
        return INVALID_SOCKET;
    }
    if proposed == INVALID_SOCKET || proposed == 0 {
        errno.set(WsaError::INVAL);
        return INVALID_SOCKET;
    }
    if let Some(e) = reg.get(proposed) {
        if e.kind != Kind::Ifs {
            reg.violation(format!(
                "WPUModifyIFSHandle({:#x}): the value is a ws2_32 handle of another kind ({:?})",
                proposed, e.kind
            ));
            errno.set(WsaError::INVAL);
            return INVALID_SOCKET;
        }
        // The OS reissued a value whose previous socket is being closed right now; the new
        // registration supersedes the old one.
    }
    reg.insert(proposed, catalog_id, Kind::Ifs);
    proposed
}

unsafe extern "system" fn fd_is_set(s: SOCKET, set: *const FD_SET) -> i32 {
    if set.is_null() {
        return 0;
    }
    // SAFETY: non-null; the provider passes an FD_SET it owns.
    let set = unsafe { &*set };
    let n = (set.fd_count as usize).min(set.fd_array.len());
    set.fd_array[..n].contains(&s) as i32
}

unsafe extern "system" fn query_blocking_callback(
    _catalog_id: u32,
    callback: *mut LPBLOCKINGCALLBACK,
    context: *mut usize,
    errno: *mut i32,
) -> i32 {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    if callback.is_null() || context.is_null() {
        errno.set(WsaError::FAULT);
        return SOCKET_ERROR;
    }
    // SAFETY: both non-null and writable (provider's contract). Winsock 2.2 has no blocking
    // hooks, so there is no callback.
    unsafe {
        *callback = None;
        *context = 0;
    }
    0
}

unsafe extern "system" fn get_provider_path(
    id: *const GUID,
    path: PWSTR,
    len: *mut i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    if id.is_null() || len.is_null() {
        errno.set(WsaError::FAULT);
        return SOCKET_ERROR;
    }
    // SAFETY: non-null; the provider passes a readable GUID.
    let guid = winsock_provider::Guid::from_sys(unsafe { &*id });
    let wide = match lock().path(guid.0) {
        Some(w) => w,
        None => {
            errno.set(WsaError::INVAL);
            return SOCKET_ERROR;
        }
    };
    // SAFETY: non-null; the provider passes its buffer length in characters.
    let room = unsafe { *len };
    if path.is_null() || room < 0 || (room as usize) < wide.len() {
        // SAFETY: as above; the required length (with the NUL) goes back to the caller.
        unsafe { *len = wide.len() as i32 };
        errno.set(WsaError::FAULT);
        return SOCKET_ERROR;
    }
    // SAFETY: `path` has room for `room >= wide.len()` UTF-16 units (caller's contract).
    unsafe { core::ptr::copy_nonoverlapping(wide.as_ptr(), path, wide.len()) };
    0
}

/// Stores `code` in `*errno` and returns the `BOOL`/`WSAEVENT` failure value 0.
fn fail_zero<T: Default>(errno: &mut Errno<'_>, code: WsaError) -> T {
    errno.set(code);
    T::default()
}

unsafe extern "system" fn create_event(errno: *mut i32) -> WSAEVENT {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    match kernel::create_event() {
        Ok(h) => {
            overlapped::event_closed(h);
            h
        }
        Err(e) => fail_zero(&mut errno, e),
    }
}

unsafe extern "system" fn close_event(event: WSAEVENT, errno: *mut i32) -> BOOL {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    match kernel::close_event(event) {
        Ok(()) => 1,
        Err(e) => fail_zero(&mut errno, e),
    }
}

unsafe extern "system" fn set_event(event: WSAEVENT, errno: *mut i32) -> BOOL {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    // Before the event is set: an application woken by it finds the operation counted.
    overlapped::event_set(event);
    match kernel::set_event(event) {
        Ok(()) => 1,
        Err(e) => fail_zero(&mut errno, e),
    }
}

unsafe extern "system" fn reset_event(event: WSAEVENT, errno: *mut i32) -> BOOL {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    match kernel::reset_event(event) {
        Ok(()) => 1,
        Err(e) => fail_zero(&mut errno, e),
    }
}

unsafe extern "system" fn post_message(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> BOOL {
    messages::post(hwnd as isize, msg, wparam, lparam) as BOOL
}

unsafe extern "system" fn queue_apc(
    thread: *const WSATHREADID,
    apc: LPWSAUSERAPC,
    ctx: usize,
    errno: *mut i32,
) -> i32 {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    let apc = match apc {
        Some(f) if !thread.is_null() => f,
        _ => {
            errno.set(WsaError::FAULT);
            return SOCKET_ERROR;
        }
    };
    // SAFETY: non-null; the provider passes the WSATHREADID it was given (or a copy).
    match kernel::queue_apc(unsafe { &*thread }, apc, ctx) {
        Ok(()) => 0,
        Err(e) => {
            errno.set(e);
            SOCKET_ERROR
        }
    }
}

unsafe extern "system" fn open_current_thread(thread: *mut WSATHREADID, errno: *mut i32) -> i32 {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    if thread.is_null() {
        errno.set(WsaError::FAULT);
        return SOCKET_ERROR;
    }
    match kernel::open_current_thread() {
        Ok(id) => {
            // SAFETY: non-null; the provider passes a writable WSATHREADID.
            unsafe { *thread = id };
            0
        }
        Err(e) => {
            errno.set(e);
            SOCKET_ERROR
        }
    }
}

unsafe extern "system" fn close_thread(thread: *const WSATHREADID, errno: *mut i32) -> i32 {
    // SAFETY: providers pass null or a pointer to their own writable int.
    let mut errno = unsafe { Errno::from_raw(errno) };
    if thread.is_null() {
        errno.set(WsaError::FAULT);
        return SOCKET_ERROR;
    }
    // SAFETY: non-null; the provider passes a WSATHREADID from WPUOpenCurrentThread.
    let thread = unsafe { &*thread };
    match kernel::close_thread(thread) {
        Ok(()) => 0,
        Err(e) => {
            lock().violation(format!(
                "WPUCloseThread({:p}): not a handle from WPUOpenCurrentThread, or closed twice",
                thread.ThreadHandle
            ));
            errno.set(e);
            SOCKET_ERROR
        }
    }
}

/// The upcall table handed to every provider's `WSPStartup`: all 15 entries set.
pub(crate) fn upcall_table() -> WSPUPCALLTABLE {
    WSPUPCALLTABLE {
        lpWPUCloseEvent: Some(close_event),
        lpWPUCloseSocketHandle: Some(close_socket_handle),
        lpWPUCreateEvent: Some(create_event),
        lpWPUCreateSocketHandle: Some(create_socket_handle),
        lpWPUFDIsSet: Some(fd_is_set),
        lpWPUGetProviderPath: Some(get_provider_path),
        lpWPUModifyIFSHandle: Some(modify_ifs_handle),
        lpWPUPostMessage: Some(post_message),
        lpWPUQueryBlockingCallback: Some(query_blocking_callback),
        lpWPUQuerySocketHandleContext: Some(query_socket_handle_context),
        lpWPUQueueApc: Some(queue_apc),
        lpWPUResetEvent: Some(reset_event),
        lpWPUSetEvent: Some(set_event),
        lpWPUOpenCurrentThread: Some(open_current_thread),
        lpWPUCloseThread: Some(close_thread),
    }
}

/// `WPUQuerySocketHandleContext` as a provider would call it.
pub(crate) fn query_context(s: SOCKET) -> Result<usize, WsaError> {
    let mut context = 0usize;
    let mut errno = 0;
    // SAFETY: our own upcall, given valid out-pointers.
    let r = unsafe { query_socket_handle_context(s, &mut context, &mut errno) };
    if r == sys::SOCKET_ERROR {
        Err(WsaError::from_code(errno))
    } else {
        Ok(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::registry::VIOLATION_TESTS;

    #[test]
    fn provider_path_by_guid() {
        let guid = 0x1111_2222_3333_4444_5555_6666_7777_8888u128;
        lock().set_path(guid, std::path::Path::new("/opt/p/provider.so"));
        let id = winsock_provider::Guid(guid).to_sys();
        let want: Vec<u16> = "/opt/p/provider.so\0".encode_utf16().collect();
        let (mut len, mut errno) = (4i32, 0);
        let mut buf = vec![0u16; 64];
        // SAFETY: valid pointers; the buffer is too short for the path.
        let r = unsafe { get_provider_path(&id, buf.as_mut_ptr(), &mut len, &mut errno) };
        assert_eq!(
            (r, errno, len),
            (SOCKET_ERROR, WsaError::FAULT.code(), want.len() as i32)
        );
        len = buf.len() as i32;
        // SAFETY: valid pointers, room for the path.
        let r = unsafe { get_provider_path(&id, buf.as_mut_ptr(), &mut len, &mut errno) };
        assert_eq!(r, 0);
        assert_eq!(&buf[..want.len()], &want[..]);
        let unknown = winsock_provider::Guid(1).to_sys();
        // SAFETY: valid pointers.
        let r = unsafe { get_provider_path(&unknown, buf.as_mut_ptr(), &mut len, &mut errno) };
        assert_eq!((r, errno), (SOCKET_ERROR, WsaError::INVAL.code()));
    }

    #[test]
    fn thread_handles_open_and_close_once() {
        let _serial = VIOLATION_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let table = upcall_table();
        let mut id = WSATHREADID::default();
        let mut errno = 0;
        // SAFETY: our own upcalls with valid pointers.
        unsafe {
            assert_eq!(
                (table.lpWPUOpenCurrentThread.unwrap())(&mut id, &mut errno),
                0
            );
            assert_eq!((table.lpWPUCloseThread.unwrap())(&id, &mut errno), 0);
            assert_eq!(
                (table.lpWPUCloseThread.unwrap())(&id, &mut errno),
                SOCKET_ERROR
            );
        }
        let found = lock().take_violations();
        assert!(
            found.iter().any(|v| v.contains("WPUCloseThread")),
            "{:?}",
            found
        );
    }
}
