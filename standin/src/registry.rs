//! ws2_32's handle bookkeeping and the upcall table it gives providers.
//!
//! Process-wide, like ws2_32 itself: every provider loaded by any [`Ws2`](crate::Ws2) in this
//! process shares one handle space. Upcalls never panic (they are called from provider code
//! across the FFI boundary); contract violations they see are recorded and reported by the
//! next stand-in call on the application side.

use crate::os;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use winsock_provider::sys::{self, *};
use winsock_provider::WsaError;

/// What a registered handle is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// From `WPUCreateSocketHandle`, with its context value.
    NonIfs { context: usize },
    /// Registered through `WPUModifyIFSHandle`.
    Ifs,
    /// Taken by a test as some unrelated kernel object.
    Unrelated,
}

/// One registered handle.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) catalog_id: u32,
    pub(crate) kind: Kind,
    /// Distinguishes incarnations of a reused value.
    pub(crate) serial: u64,
}

pub(crate) struct Registry {
    handles: Option<HashMap<SOCKET, Entry>>,
    /// Catalog entry id → the provider (its `WSPStartup` address) it belongs to.
    catalog: Option<HashMap<u32, usize>>,
    /// Provider → how many `WSPStartup`s are not yet balanced by a `WSPCleanup`.
    starts: Option<HashMap<usize, u32>>,
    next_catalog_id: u32,
    next_serial: u64,
    violations: Vec<String>,
    alloc: os::HandleAllocator,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    handles: None,
    catalog: None,
    starts: None,
    next_catalog_id: 1001,
    next_serial: 1,
    violations: Vec::new(),
    alloc: os::HandleAllocator::new(),
});

/// The registry, even if a test thread panicked while holding it (its state stays coherent:
/// every update is a single map operation).
pub(crate) fn lock() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    pub(crate) fn handles(&mut self) -> &mut HashMap<SOCKET, Entry> {
        self.handles.get_or_insert_with(HashMap::new)
    }

    pub(crate) fn get(&self, s: SOCKET) -> Option<Entry> {
        self.handles.as_ref().and_then(|m| m.get(&s).copied())
    }

    fn insert(&mut self, s: SOCKET, catalog_id: u32, kind: Kind) -> Entry {
        let entry = Entry {
            catalog_id,
            kind,
            serial: self.next_serial,
        };
        self.next_serial += 1;
        self.handles().insert(s, entry);
        entry
    }

    /// Allocates a new catalog entry id for provider `key`.
    pub(crate) fn new_catalog_id(&mut self, key: usize) -> u32 {
        let id = self.next_catalog_id;
        self.next_catalog_id += 1;
        self.catalog
            .get_or_insert_with(HashMap::new)
            .insert(id, key);
        id
    }

    /// The provider a catalog entry id belongs to.
    pub(crate) fn provider_of(&self, catalog_id: u32) -> Option<usize> {
        self.catalog
            .as_ref()
            .and_then(|c| c.get(&catalog_id).copied())
    }

    /// Counts a successful `WSPStartup` of provider `key`.
    pub(crate) fn started(&mut self, key: usize) {
        *self
            .starts
            .get_or_insert_with(HashMap::new)
            .entry(key)
            .or_insert(0) += 1;
    }

    /// Counts a `WSPCleanup` of provider `key`; true if it was the last one.
    pub(crate) fn cleaned(&mut self, key: usize) -> bool {
        let starts = self.starts.get_or_insert_with(HashMap::new);
        let count = starts.entry(key).or_insert(0);
        *count = count.saturating_sub(1);
        *count == 0
    }

    /// After provider `key`'s last clean-up: every non-IFS handle it created must have been
    /// released; returns those that were not (reported once: their records are dropped, as
    /// ws2_32 drops them when it unloads the provider). IFS handles are the provider's own OS
    /// handles; their records are dropped too.
    pub(crate) fn sweep_provider(&mut self, key: usize) -> Vec<SOCKET> {
        let catalog = self.catalog.clone().unwrap_or_default();
        let mut leaked = Vec::new();
        let handles = self.handles();
        handles.retain(|s, e| {
            if catalog.get(&e.catalog_id) != Some(&key) {
                return true;
            }
            if matches!(e.kind, Kind::NonIfs { .. }) {
                leaked.push(*s);
            }
            false
        });
        leaked.sort_unstable();
        leaked
    }

    /// Records a contract violation seen inside an upcall.
    pub(crate) fn violation(&mut self, text: String) {
        self.violations.push(text);
    }

    /// Takes the recorded violations.
    pub(crate) fn take_violations(&mut self) -> Vec<String> {
        std::mem::take(&mut self.violations)
    }

    /// Takes a fresh handle value for an unrelated object.
    pub(crate) fn reserve_unrelated(&mut self) -> SOCKET {
        let h = self.alloc.allocate();
        self.insert(h, 0, Kind::Unrelated);
        h
    }

    /// Frees a value taken by [`Registry::reserve_unrelated`].
    pub(crate) fn release_unrelated(&mut self, h: SOCKET) {
        if let Some(e) = self.get(h) {
            if e.kind == Kind::Unrelated {
                self.handles().remove(&h);
                self.alloc.free(h);
            }
        }
    }

    /// Forgets an IFS handle after its provider closed it, unless the value has been
    /// registered again meanwhile.
    pub(crate) fn forget_ifs(&mut self, s: SOCKET, serial: u64) {
        if self.get(s).map_or(false, |e| e.serial == serial) {
            self.handles().remove(&s);
        }
    }
}

/// Stores `code` in `*errno` if the provider gave one.
unsafe fn set_errno(errno: *mut i32, code: WsaError) {
    if !errno.is_null() {
        // SAFETY: providers pass a pointer to their own writable int.
        *errno = code.code();
    }
}

unsafe extern "system" fn create_socket_handle(
    catalog_id: u32,
    context: usize,
    errno: *mut i32,
) -> SOCKET {
    let mut reg = lock();
    if reg.provider_of(catalog_id).is_none() {
        set_errno(errno, WsaError::INVALIDPROVIDER);
        return INVALID_SOCKET;
    }
    let h = reg.alloc.allocate();
    reg.insert(h, catalog_id, Kind::NonIfs { context });
    h
}

unsafe extern "system" fn close_socket_handle(s: SOCKET, errno: *mut i32) -> i32 {
    let mut reg = lock();
    match reg.get(s) {
        Some(Entry {
            kind: Kind::NonIfs { .. },
            ..
        }) => {
            reg.handles().remove(&s);
            reg.alloc.free(s);
            0
        }
        _ => {
            reg.violation(format!(
                "WPUCloseSocketHandle({:#x}): not an open WPUCreateSocketHandle handle \
                 (closed twice, or never created)",
                s
            ));
            set_errno(errno, WsaError::NOTSOCK);
            SOCKET_ERROR
        }
    }
}

unsafe extern "system" fn query_socket_handle_context(
    s: SOCKET,
    context: *mut usize,
    errno: *mut i32,
) -> i32 {
    let reg = lock();
    match reg.get(s) {
        Some(Entry {
            kind: Kind::NonIfs { context: value },
            ..
        }) => {
            if context.is_null() {
                set_errno(errno, WsaError::FAULT);
                return SOCKET_ERROR;
            }
            // SAFETY: non-null; the provider passes a writable pointer-sized slot.
            *context = value;
            0
        }
        _ => {
            set_errno(errno, WsaError::NOTSOCK);
            SOCKET_ERROR
        }
    }
}

unsafe extern "system" fn modify_ifs_handle(
    catalog_id: u32,
    proposed: SOCKET,
    errno: *mut i32,
) -> SOCKET {
    let mut reg = lock();
    if reg.provider_of(catalog_id).is_none() {
        set_errno(errno, WsaError::INVALIDPROVIDER);
        return INVALID_SOCKET;
    }
    if proposed == INVALID_SOCKET || proposed == 0 {
        set_errno(errno, WsaError::INVAL);
        return INVALID_SOCKET;
    }
    if let Some(e) = reg.get(proposed) {
        if e.kind != Kind::Ifs {
            reg.violation(format!(
                "WPUModifyIFSHandle({:#x}): the value is a ws2_32 handle of another kind ({:?})",
                proposed, e.kind
            ));
            set_errno(errno, WsaError::INVAL);
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
    let set = &*set;
    let n = (set.fd_count as usize).min(set.fd_array.len());
    set.fd_array[..n].contains(&s) as i32
}

unsafe extern "system" fn query_blocking_callback(
    _catalog_id: u32,
    callback: *mut LPBLOCKINGCALLBACK,
    context: *mut usize,
    errno: *mut i32,
) -> i32 {
    if callback.is_null() || context.is_null() {
        set_errno(errno, WsaError::FAULT);
        return SOCKET_ERROR;
    }
    // SAFETY: both non-null and writable (provider's contract). Winsock 2.2 has no blocking
    // hooks, so there is no callback.
    *callback = None;
    *context = 0;
    0
}

unsafe extern "system" fn get_provider_path(
    _id: *const GUID,
    _path: PWSTR,
    _len: *mut i32,
    errno: *mut i32,
) -> i32 {
    set_errno(errno, WsaError::INVAL);
    SOCKET_ERROR
}

// Events, APCs, window messages and thread handles are the notification machinery of
// overlapped I/O and WSPEventSelect/WSPAsyncSelect. Until the stand-in emulates them they fail
// with the documented "not supported" code instead of pretending to work.
unsafe extern "system" fn create_event(errno: *mut i32) -> WSAEVENT {
    set_errno(errno, WsaError::OPNOTSUPP);
    0
}

unsafe extern "system" fn event_op(_event: WSAEVENT, errno: *mut i32) -> BOOL {
    set_errno(errno, WsaError::OPNOTSUPP);
    0
}

unsafe extern "system" fn post_message(
    _hwnd: HWND,
    _msg: u32,
    _wparam: WPARAM,
    _lparam: LPARAM,
) -> BOOL {
    0
}

unsafe extern "system" fn queue_apc(
    _thread: *const WSATHREADID,
    _apc: LPWSAUSERAPC,
    _ctx: usize,
    errno: *mut i32,
) -> i32 {
    set_errno(errno, WsaError::OPNOTSUPP);
    SOCKET_ERROR
}

unsafe extern "system" fn open_current_thread(_thread: *mut WSATHREADID, errno: *mut i32) -> i32 {
    set_errno(errno, WsaError::OPNOTSUPP);
    SOCKET_ERROR
}

unsafe extern "system" fn close_thread(_thread: *const WSATHREADID, errno: *mut i32) -> i32 {
    set_errno(errno, WsaError::OPNOTSUPP);
    SOCKET_ERROR
}

/// The upcall table handed to every provider's `WSPStartup`: all 15 entries set.
pub(crate) fn upcall_table() -> WSPUPCALLTABLE {
    WSPUPCALLTABLE {
        lpWPUCloseEvent: Some(event_op),
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
        lpWPUResetEvent: Some(event_op),
        lpWPUSetEvent: Some(event_op),
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
