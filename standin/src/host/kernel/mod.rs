//! The kernel objects ws2_32 and its applications rely on for overlapped I/O and network event
//! notification: manual-reset events, per-thread APC queues with alertable waits, thread handles
//! and I/O completion ports.
//!
//! On Windows (and under Wine) these are the real objects (`win.rs`); elsewhere `emul.rs`
//! emulates them with the same semantics. Both expose the same functions, so the rest of the
//! stand-in never looks at the OS. Window message queues are not kernel objects and are emulated
//! on every OS (`super::messages`).

#[cfg(not(windows))]
mod emul;
#[cfg(not(windows))]
pub(crate) use emul::*;

#[cfg(windows)]
mod win;
#[cfg(windows)]
pub(crate) use win::*;

use winsock_provider::sys::OVERLAPPED;

/// An asynchronous procedure call as `WPUQueueApc` takes it.
pub(crate) type ApcFn = unsafe extern "system" fn(usize);

/// `WAIT_OBJECT_0` / `WSA_WAIT_EVENT_0`.
pub const WSA_WAIT_EVENT_0: u32 = 0;
/// `WAIT_IO_COMPLETION` / `WSA_WAIT_IO_COMPLETION`: an alertable wait ran queued APCs.
pub const WSA_WAIT_IO_COMPLETION: u32 = 0xC0;
/// `WAIT_TIMEOUT` / `WSA_WAIT_TIMEOUT`.
pub const WSA_WAIT_TIMEOUT: u32 = 0x102;
/// `INFINITE` / `WSA_INFINITE`: wait without a time limit.
pub const WSA_INFINITE: u32 = u32::MAX;
/// `WSA_MAXIMUM_WAIT_EVENTS`: at most this many events in one wait.
pub const WSA_MAXIMUM_WAIT_EVENTS: usize = 64;
/// `ERROR_ABANDONED_WAIT_0`: the completion port was closed while a thread waited on it.
pub const ERROR_ABANDONED_WAIT_0: i32 = 735;

/// One completion packet, as `GetQueuedCompletionStatus` returns it.
#[derive(Copy, Clone, Debug)]
pub struct Completion {
    /// Bytes transferred (`lpNumberOfBytesTransferred`).
    pub bytes: u32,
    /// The completion key the socket was associated with (or the one posted).
    pub key: usize,
    /// The operation's `OVERLAPPED` (null for a packet posted without one).
    pub overlapped: *mut OVERLAPPED,
    /// The operation's status: 0 for success, else the WSA code it completed with (what
    /// `GetQueuedCompletionStatus` reports through `GetLastError` when it returns `FALSE`).
    pub error: u32,
}

// SAFETY: the overlapped pointer is an address the application owns; the packet itself is
// plain data, as on Windows, where any thread may dequeue any packet.
unsafe impl Send for Completion {}

/// The host's wait on `WPUCreateEvent` events (`HostHooks::wait_for_events`), which layered
/// providers use to watch the providers below them: `WaitForMultipleObjectsEx` over the
/// stand-in's events, `WAIT_FAILED` for bad arguments.
pub(crate) unsafe extern "system" fn wait_for_events(
    count: u32,
    handles: *const isize,
    wait_all: i32,
    timeout_ms: u32,
    alertable: i32,
) -> u32 {
    const WAIT_FAILED: u32 = 0xFFFF_FFFF;
    if handles.is_null() || count == 0 {
        return WAIT_FAILED;
    }
    // SAFETY: the provider passes `count` readable handles (WaitForMultipleObjectsEx's
    // contract); checked non-null.
    let handles = unsafe { core::slice::from_raw_parts(handles, count as usize) };
    wait(handles, wait_all != 0, timeout_ms, alertable != 0).unwrap_or(WAIT_FAILED)
}
