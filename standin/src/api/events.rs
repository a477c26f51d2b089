//! Kernel objects and messages as applications use them: events
//! (`WSACreateEvent`...`WSAWaitForMultipleEvents`), alertable sleeps, the thread's last error,
//! windows and their messages (`WSAAsyncSelect`), I/O completion ports, thread handles.

use super::Ws2;
use crate::host::kernel::{self, Completion};
use crate::host::messages::{self, Message, Window};
use crate::host::overlapped;
use std::time::Duration;
use winsock_provider::sys::*;
use winsock_provider::WsaError;

/// An I/O completion port made by [`Ws2::create_io_completion_port`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct CompletionPort(pub isize);

impl Ws2 {
    // ---- Events (WSACreateEvent ... WSAWaitForMultipleEvents) and alertable sleeps ----

    /// `WSACreateEvent`: a manual-reset event, not signalled.
    pub fn create_event(&self) -> Result<WSAEVENT, WsaError> {
        let event = kernel::create_event()?;
        overlapped::event_closed(event);
        Ok(event)
    }

    /// `WSASetEvent`.
    pub fn set_event(&self, event: WSAEVENT) -> Result<(), WsaError> {
        kernel::set_event(event)
    }

    /// `WSAResetEvent`.
    pub fn reset_event(&self, event: WSAEVENT) -> Result<(), WsaError> {
        kernel::reset_event(event)
    }

    /// `WSACloseEvent`.
    pub fn close_event(&self, event: WSAEVENT) -> Result<(), WsaError> {
        kernel::close_event(event)?;
        overlapped::event_closed(event);
        Ok(())
    }

    /// `WSAWaitForMultipleEvents(events, wait_all, timeout_ms, alertable)`:
    /// `WSA_WAIT_EVENT_0 + i` (the lowest signalled index; 0 when `wait_all` and all are),
    /// `WSA_WAIT_TIMEOUT`, or `WSA_WAIT_IO_COMPLETION` when `alertable` and queued APCs (e.g.
    /// completion routines) ran. Events stay signalled (manual reset). More than
    /// `WSA_MAXIMUM_WAIT_EVENTS` or none is `WSA_INVALID_PARAMETER`; a handle that is not an
    /// event is `WSA_INVALID_HANDLE`. `timeout_ms` may be `WSA_INFINITE`.
    pub fn wait_for_multiple_events(
        &self,
        events: &[WSAEVENT],
        wait_all: bool,
        timeout_ms: u32,
        alertable: bool,
    ) -> Result<u32, WsaError> {
        kernel::wait(events, wait_all, timeout_ms, alertable)
    }

    /// `SleepEx(ms, alertable)`: 0 after `ms`, or `WSA_WAIT_IO_COMPLETION` as soon as APCs
    /// queued to this thread ran (alertable only).
    pub fn sleep_ex(&self, ms: u32, alertable: bool) -> u32 {
        kernel::sleep_ex(ms, alertable)
    }

    /// `WSAGetLastError` of the calling thread, as extension functions (`AcceptEx`...) set it
    /// through the `set_last_error` host hook.
    pub fn last_error(&self) -> i32 {
        overlapped::last_error()
    }

    /// `WSASetLastError(code)` for the calling thread: an application that calls an extension
    /// function directly presets it to tell "set by the provider" from "left alone".
    pub fn set_last_error(&self, code: i32) {
        overlapped::preset_last_error(code)
    }

    // ---- Windows and messages (WSAAsyncSelect) ----

    /// A window with an empty message queue, for `WSAAsyncSelect`.
    pub fn create_window(&self) -> Window {
        messages::create_window()
    }

    /// Destroys a window (`WSA_INVALID_HANDLE` if it does not exist).
    pub fn destroy_window(&self, w: Window) -> Result<(), WsaError> {
        if messages::destroy_window(w) {
            Ok(())
        } else {
            Err(WsaError::INVALID_HANDLE)
        }
    }

    /// The oldest message posted to `w`, waiting up to `timeout` (`None` = forever);
    /// `Ok(None)` on time-out.
    pub fn get_message(
        &self,
        w: Window,
        timeout: Option<Duration>,
    ) -> Result<Option<Message>, WsaError> {
        messages::get(w, timeout).map_err(|()| WsaError::INVALID_HANDLE)
    }

    // ---- Completion ports ----

    /// `CreateIoCompletionPort(socket, existing, key, 0)`: with `existing` `None`, a new port
    /// (associated with `socket` if given); with `existing`, associates `socket` with it. A
    /// socket is associated at most once (`WSA_INVALID_PARAMETER`); an unknown socket is
    /// `WSAENOTSOCK`, an unknown port `WSA_INVALID_HANDLE`.
    pub fn create_io_completion_port(
        &self,
        existing: Option<CompletionPort>,
        socket: Option<SOCKET>,
        key: usize,
    ) -> Result<CompletionPort, WsaError> {
        if let Some(s) = socket {
            self.route(s)?;
        }
        let port = match existing {
            Some(p) => {
                if !overlapped::is_port(p.0) {
                    return Err(WsaError::INVALID_HANDLE);
                }
                if socket.is_none() {
                    return Err(WsaError::INVALID_PARAMETER);
                }
                p
            }
            None => {
                let p = CompletionPort(kernel::create_port()?);
                overlapped::port_created(p.0);
                p
            }
        };
        if let Some(s) = socket {
            if let Err(e) = overlapped::associate(s, port.0, key) {
                if existing.is_none() {
                    let _ = self.close_completion_port(port);
                }
                return Err(e);
            }
        }
        Ok(port)
    }

    /// `PostQueuedCompletionStatus(port, bytes, key, overlapped)`.
    pub fn post_queued_completion_status(
        &self,
        port: CompletionPort,
        bytes: u32,
        key: usize,
        overlapped: *mut OVERLAPPED,
    ) -> Result<(), WsaError> {
        kernel::post(port.0, bytes, key, overlapped, 0)
    }

    /// `GetQueuedCompletionStatus(port, timeout_ms)`: the oldest packet (bytes, key,
    /// `OVERLAPPED`, and the operation's error: 0 or the WSA code it completed with), or
    /// `Ok(None)` on time-out. Any number of threads may wait on one port.
    pub fn get_queued_completion_status(
        &self,
        port: CompletionPort,
        timeout_ms: u32,
    ) -> Result<Option<Completion>, WsaError> {
        kernel::get_queued(port.0, timeout_ms)
    }

    /// `CloseHandle(port)`: threads waiting on it fail with `ERROR_ABANDONED_WAIT_0`; later
    /// completions of its sockets' operations go nowhere (their events, if any, are set).
    pub fn close_completion_port(&self, port: CompletionPort) -> Result<(), WsaError> {
        if !overlapped::port_closed(port.0) {
            return Err(WsaError::INVALID_HANDLE);
        }
        kernel::close_port(port.0)
    }

    /// Thread handles providers opened with `WPUOpenCurrentThread` and have not closed with
    /// `WPUCloseThread` (process-wide, like ws2_32's handle table): back to its earlier value
    /// once every operation that needed one completed.
    pub fn open_thread_handles(&self) -> usize {
        kernel::opened_thread_handles()
    }

    /// The `WSATHREADID` the stand-in passes to providers for calls made on this thread (the
    /// thread's standing handle), for raw SPI calls that take `lpThreadId`.
    pub fn current_thread_id(&self) -> WSATHREADID {
        kernel::current_thread()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "system" fn bump(ctx: usize) {
        // SAFETY: the test passes the address of an AtomicUsize that outlives the APC.
        let n = unsafe { &*(ctx as *const std::sync::atomic::AtomicUsize) };
        n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    #[test]
    fn events_wait_any_all_timeout() {
        let ws = Ws2::new();
        let a = ws.create_event().unwrap();
        let b = ws.create_event().unwrap();
        assert_eq!(
            ws.wait_for_multiple_events(&[a, b], false, 10, false),
            Ok(crate::WSA_WAIT_TIMEOUT)
        );
        ws.set_event(b).unwrap();
        assert_eq!(ws.wait_for_multiple_events(&[a, b], false, 0, false), Ok(1));
        assert_eq!(
            ws.wait_for_multiple_events(&[a, b], true, 0, false),
            Ok(crate::WSA_WAIT_TIMEOUT)
        );
        ws.set_event(a).unwrap();
        assert_eq!(ws.wait_for_multiple_events(&[a, b], true, 0, false), Ok(0));
        // Manual reset: still signalled.
        assert_eq!(ws.wait_for_multiple_events(&[a], false, 0, false), Ok(0));
        ws.reset_event(a).unwrap();
        assert_eq!(
            ws.wait_for_multiple_events(&[a], false, 0, false),
            Ok(crate::WSA_WAIT_TIMEOUT)
        );
        let waiter = {
            let ws = ws.clone();
            std::thread::spawn(move || {
                ws.wait_for_multiple_events(&[a], false, crate::WSA_INFINITE, false)
            })
        };
        ws.set_event(a).unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(0));
        ws.close_event(a).unwrap();
        ws.close_event(b).unwrap();
        assert_eq!(ws.close_event(a), Err(WsaError::INVALID_HANDLE));
        assert_eq!(ws.set_event(b), Err(WsaError::INVALID_HANDLE));
        assert_eq!(
            ws.wait_for_multiple_events(&[], false, 0, false),
            Err(WsaError::INVALID_PARAMETER)
        );
    }

    #[test]
    fn apcs_run_only_in_alertable_waits_on_their_thread() {
        let ws = Ws2::new();
        let count = std::sync::atomic::AtomicUsize::new(0);
        let me = kernel::current_thread();
        kernel::queue_apc(&me, bump, &count as *const _ as usize).unwrap();
        kernel::queue_apc(&me, bump, &count as *const _ as usize).unwrap();
        assert_eq!(ws.sleep_ex(0, false), 0);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
        let ev = ws.create_event().unwrap();
        assert_eq!(
            ws.wait_for_multiple_events(&[ev], false, 0, false),
            Ok(crate::WSA_WAIT_TIMEOUT)
        );
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(
            ws.wait_for_multiple_events(&[ev], false, 1000, true),
            Ok(crate::WSA_WAIT_IO_COMPLETION)
        );
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
        // Queued from another thread, run here.
        let addr = &count as *const _ as usize;
        let (handle, reserved) = (me.ThreadHandle as usize, me.Reserved);
        std::thread::spawn(move || {
            let me = WSATHREADID {
                ThreadHandle: handle as HANDLE,
                Reserved: reserved,
            };
            kernel::queue_apc(&me, bump, addr).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(
            ws.sleep_ex(crate::WSA_INFINITE, true),
            crate::WSA_WAIT_IO_COMPLETION
        );
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(ws.sleep_ex(1, true), 0);
        // An opened handle names the same thread, and closes once.
        let opened = kernel::open_current_thread().unwrap();
        kernel::queue_apc(&opened, bump, addr).unwrap();
        assert_eq!(ws.sleep_ex(0, true), crate::WSA_WAIT_IO_COMPLETION);
        kernel::close_thread(&opened).unwrap();
        assert_eq!(kernel::close_thread(&opened), Err(WsaError::INVALID_HANDLE));
        assert!(kernel::queue_apc(&opened, bump, addr).is_err());
        ws.close_event(ev).unwrap();
    }

    #[test]
    fn completion_port_fifo_many_waiters_and_close() {
        let ws = Ws2::new();
        let port = ws.create_io_completion_port(None, None, 0).unwrap();
        assert!(ws.get_queued_completion_status(port, 0).unwrap().is_none());
        for i in 0..3 {
            ws.post_queued_completion_status(port, i, 100 + i as usize, core::ptr::null_mut())
                .unwrap();
        }
        for i in 0..3 {
            let c = ws.get_queued_completion_status(port, 0).unwrap().unwrap();
            assert_eq!((c.bytes, c.key, c.error), (i, 100 + i as usize, 0));
            assert!(c.overlapped.is_null());
        }
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let ws = ws.clone();
                std::thread::spawn(move || {
                    ws.get_queued_completion_status(port, crate::WSA_INFINITE)
                        .map(|c| c.map(|c| c.key))
                })
            })
            .collect();
        for k in 0..4 {
            ws.post_queued_completion_status(port, 0, k, core::ptr::null_mut())
                .unwrap();
        }
        let mut keys: Vec<usize> = workers
            .into_iter()
            .map(|w| w.join().unwrap().unwrap().unwrap())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, vec![0, 1, 2, 3]);
        let waiter = {
            let ws = ws.clone();
            std::thread::spawn(move || {
                ws.get_queued_completion_status(port, crate::WSA_INFINITE)
                    .map(|c| c.is_some())
            })
        };
        // The waiter may or may not be waiting yet: either way it must not get a packet.
        ws.close_completion_port(port).unwrap();
        let r = waiter.join().unwrap();
        assert!(r.is_err(), "{:?}", r);
        assert_eq!(
            ws.close_completion_port(port),
            Err(WsaError::INVALID_HANDLE)
        );
    }

    #[test]
    fn messages_fifo() {
        let ws = Ws2::new();
        let w = ws.create_window();
        assert_eq!(ws.get_message(w, Some(Duration::from_millis(1))), Ok(None));
        for i in 0..3usize {
            // SAFETY: our own upcall table entry, called as a provider would.
            let posted = unsafe {
                (crate::host::upcalls::upcall_table()
                    .lpWPUPostMessage
                    .unwrap())(w.hwnd(), 0x400, i, (i << 16) as isize | 8)
            };
            assert_eq!(posted, 1);
        }
        for i in 0..3usize {
            let m = ws.get_message(w, None).unwrap().unwrap();
            assert_eq!(
                (m.msg, m.wparam, m.select_event(), m.select_error()),
                (0x400, i, 8, i as u32)
            );
        }
        ws.destroy_window(w).unwrap();
        assert_eq!(ws.get_message(w, None), Err(WsaError::INVALID_HANDLE));
    }
}
