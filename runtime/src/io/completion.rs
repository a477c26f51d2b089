//! How an overlapped request completes: exactly once, through the route the caller chose.
//!
//! Routes: a completion routine is queued to the caller's thread with `WPUQueueApc`; otherwise,
//! for non-IFS sockets, `WPUCompleteOverlappedRequest` (so completion ports see it, and it sets
//! the event when there is no port); otherwise the runtime stores the result and sets
//! `hEvent` with `WPUSetEvent`. The result lives in the caller's `WSAOVERLAPPED`: `Internal`
//! is `WSS_OPERATION_IN_PROGRESS` while pending, `InternalHigh` the bytes, `Offset` the flags
//! and `OffsetHigh` the error (the fields Winsock reserves for the provider).

use crate::host::{hooks, lock};
use crate::sys::{self, OVERLAPPED, SOCKET, WSATHREADID, WSPUPCALLTABLE};
use crate::types::error::WsaError;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// `Internal` of a pending request's `WSAOVERLAPPED`.
pub(crate) const WSS_OPERATION_IN_PROGRESS: usize = 0x103;

static OUTSTANDING: AtomicUsize = AtomicUsize::new(0);

/// Overlapped operations of every provider in this module that have started and whose
/// completion has not been delivered yet (pending requests, and completion routines queued but
/// not run). Tests use it to prove nothing leaks: it returns to its earlier value once every
/// operation has completed and every completion routine has run.
pub fn outstanding_operations() -> usize {
    OUTSTANDING.load(Ordering::SeqCst)
}

/// Who made a request, so whose thread runs its completion routine.
#[derive(Copy, Clone)]
pub(crate) enum Requester {
    /// ws2_32, on behalf of the application: the SPI's `lpThreadId` (null only without a
    /// completion routine; otherwise it points to ws2_32's id of the calling thread).
    Given(*const WSATHREADID),
    /// The application, directly (an extension function): the runtime opens the calling
    /// thread with `WPUOpenCurrentThread` and closes it once the routine is queued.
    Current,
}

/// How a request completes: the caller's `WSAOVERLAPPED` and route.
pub(crate) struct Completion {
    ov: *mut OVERLAPPED,
    routine: sys::LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    thread: WSATHREADID,
    handle: SOCKET,
    /// `WPUCompleteOverlappedRequest` applies (a non-IFS handle).
    pub(super) host_route: bool,
    /// `thread` came from `WPUOpenCurrentThread`: close it once the routine is queued.
    own_thread: bool,
    upcalls: WSPUPCALLTABLE,
}

// SAFETY: the raw pointers are the application's WSAOVERLAPPED (valid until completion, by
// Winsock's rules) and ws2_32's thread id and upcalls, usable from any thread.
unsafe impl Send for Completion {}

impl Completion {
    /// Starts a request: `Internal` becomes `WSS_OPERATION_IN_PROGRESS` and the request counts
    /// as outstanding until [`Completion::complete`] (or [`Completion::cancel`]). A completion
    /// routine runs on `requester`'s thread.
    ///
    /// # Safety
    /// `ov` is null (`WSAEFAULT`) or a writable `WSAOVERLAPPED` that stays valid until
    /// completion; `requester` is as its variant says; `upcalls` is ws2_32's table.
    pub(crate) unsafe fn start(
        ov: *mut OVERLAPPED,
        routine: sys::LPWSAOVERLAPPED_COMPLETION_ROUTINE,
        requester: Requester,
        handle: SOCKET,
        host_route: bool,
        upcalls: WSPUPCALLTABLE,
    ) -> Result<Completion, WsaError> {
        if ov.is_null() {
            return Err(WsaError::FAULT);
        }
        let mut thread = WSATHREADID::default();
        let mut own_thread = false;
        if routine.is_some() {
            match requester {
                Requester::Given(given) => {
                    if given.is_null() {
                        return Err(WsaError::FAULT);
                    }
                    // SAFETY: non-null; ws2_32 passes its thread id for the calling thread.
                    thread = unsafe { *given };
                }
                Requester::Current => {
                    let open = upcalls.lpWPUOpenCurrentThread.ok_or(WsaError::OPNOTSUPP)?;
                    let mut errno = 0;
                    // SAFETY: a ws2_32 upcall filling our WSATHREADID.
                    if unsafe { open(&mut thread, &mut errno) } != 0 {
                        return Err(WsaError::from_upcall(errno));
                    }
                    own_thread = true;
                }
            }
        }
        // SAFETY: a writable WSAOVERLAPPED (this function's contract).
        unsafe { internal(ov) }.store(WSS_OPERATION_IN_PROGRESS, Ordering::Release);
        OUTSTANDING.fetch_add(1, Ordering::SeqCst);
        Ok(Completion {
            ov,
            routine,
            thread,
            handle,
            host_route,
            own_thread,
            upcalls,
        })
    }

    /// A completion that delivers nothing (a stage of a request whose real completion is held
    /// elsewhere).
    pub(crate) fn detached() -> Completion {
        Completion {
            ov: core::ptr::null_mut(),
            routine: None,
            thread: WSATHREADID::default(),
            handle: 0,
            host_route: false,
            own_thread: false,
            upcalls: WSPUPCALLTABLE::default(),
        }
    }

    /// The request failed at once (no completion is delivered).
    pub(crate) fn cancel(mut self, e: WsaError) {
        if self.ov.is_null() {
            return;
        }
        // SAFETY: `ov` is valid until completion (start's contract); this is the completion.
        unsafe {
            (*self.ov).Anonymous.Anonymous.OffsetHigh = e.code() as u32;
            internal(self.ov).store(e.code() as usize, Ordering::Release);
        }
        self.release_thread();
        self.ov = core::ptr::null_mut();
        OUTSTANDING.fetch_sub(1, Ordering::SeqCst);
    }

    /// Delivers the result through the request's route. Consumes the request: the
    /// `WSAOVERLAPPED` is the application's again afterwards.
    pub(crate) fn complete(mut self, result: Result<(u32, u32), WsaError>) {
        self.deliver(result);
    }

    fn release_thread(&mut self) {
        if core::mem::replace(&mut self.own_thread, false) {
            if let Some(close) = self.upcalls.lpWPUCloseThread {
                let mut errno = 0;
                // SAFETY: a ws2_32 upcall closing the id WPUOpenCurrentThread gave us.
                unsafe { close(&self.thread, &mut errno) };
            }
        }
    }

    fn deliver(&mut self, result: Result<(u32, u32), WsaError>) {
        if self.ov.is_null() {
            return;
        }
        let (error, bytes, flags) = match result {
            Ok((bytes, flags)) => (0u32, bytes, flags),
            Err(e) => (e.code() as u32, 0, 0),
        };
        let ov = self.ov;
        // SAFETY: `ov` is valid until this completion (start's contract); nothing touches it
        // after the route below hands it back to the application.
        unsafe {
            (*ov).InternalHigh = bytes as usize;
            (*ov).Anonymous.Anonymous.Offset = flags;
            (*ov).Anonymous.Anonymous.OffsetHigh = error;
            if let Some(routine) = self.routine {
                internal(ov).store(error as usize, Ordering::Release);
                self.queue_apc(Apc {
                    routine,
                    error,
                    bytes,
                    ov,
                    flags,
                });
            } else {
                let mut delivered = false;
                if self.host_route {
                    if let Some(host) = hooks::complete_overlapped_request() {
                        let mut errno = 0;
                        // SAFETY: the host's WPUCompleteOverlappedRequest, given our handle
                        // and the request's WSAOVERLAPPED.
                        delivered = host(self.handle, ov, error, bytes, &mut errno) == 0;
                    }
                }
                if !delivered {
                    let event = ((*ov).hEvent as usize & !1) as sys::WSAEVENT;
                    internal(ov).store(error as usize, Ordering::Release);
                    if event != 0 {
                        if let Some(set) = self.upcalls.lpWPUSetEvent {
                            let mut errno = 0;
                            // SAFETY: a ws2_32 upcall, given the application's event.
                            set(event, &mut errno);
                        }
                    }
                }
                OUTSTANDING.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.release_thread();
        self.ov = core::ptr::null_mut();
        completed();
    }

    /// Queues the completion routine to the requesting thread (counted until it runs).
    unsafe fn queue_apc(&self, apc: Apc) {
        let context = Box::into_raw(Box::new(apc));
        let queued = match self.upcalls.lpWPUQueueApc {
            Some(queue) => {
                let mut errno = 0;
                // SAFETY: a ws2_32 upcall, given the thread id ws2_32 passed with the request
                // and a context only `run_apc` consumes.
                let queued =
                    unsafe { queue(&self.thread, Some(run_apc), context as usize, &mut errno) };
                queued == 0
            }
            None => false,
        };
        if !queued {
            // SAFETY: the APC was not queued, so `context` is still ours alone.
            drop(unsafe { Box::from_raw(context) });
            OUTSTANDING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Completion {
    /// A request dropped without completing (its socket went away) completes aborted.
    fn drop(&mut self) {
        self.deliver(Err(WsaError::OPERATION_ABORTED));
    }
}

struct Apc {
    routine: unsafe extern "system" fn(u32, u32, *mut OVERLAPPED, u32),
    error: u32,
    bytes: u32,
    ov: *mut OVERLAPPED,
    flags: u32,
}

/// The APC the runtime queues: calls the application's completion routine.
unsafe extern "system" fn run_apc(context: usize) {
    // SAFETY: `context` is the Box leaked by `queue_apc`, run once by ws2_32.
    let apc = unsafe { Box::from_raw(context as *mut Apc) };
    OUTSTANDING.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: the application's completion routine, with the arguments
    // WSAOVERLAPPED_COMPLETION_ROUTINE defines.
    unsafe { (apc.routine)(apc.error, apc.bytes, apc.ov, apc.flags) };
}

/// `Internal` of `ov` as an atomic (it has `usize`'s layout).
///
/// # Safety
/// `ov` points to a live `OVERLAPPED`.
unsafe fn internal<'a>(ov: *const OVERLAPPED) -> &'a AtomicUsize {
    // SAFETY: AtomicUsize has the same size and alignment as usize; the field is live.
    unsafe { &*(core::ptr::addr_of!((*ov).Internal) as *const AtomicUsize) }
}

/// Completions wake `WSPGetOverlappedResult(fWait = TRUE)` callers.
static DONE: Mutex<u64> = Mutex::new(0);
static DONE_CHANGED: Condvar = Condvar::new();

fn completed() {
    let mut g = lock(&DONE);
    *g = g.wrapping_add(1);
    drop(g);
    DONE_CHANGED.notify_all();
}

/// `WSPGetOverlappedResult`: `(bytes, flags)` of a completed request (or its error), waiting
/// for it when `wait`; a pending request without `wait` is `WSA_IO_INCOMPLETE`.
///
/// # Safety
/// `ov` points to a live `WSAOVERLAPPED` of a request started on this provider.
pub(crate) unsafe fn result(ov: *const OVERLAPPED, wait: bool) -> (u32, u32, Option<WsaError>) {
    // SAFETY: a live OVERLAPPED (this function's contract).
    let state = unsafe { internal(ov) };
    if state.load(Ordering::Acquire) == WSS_OPERATION_IN_PROGRESS {
        if !wait {
            return (0, 0, Some(WsaError::IO_INCOMPLETE));
        }
        let mut g = lock(&DONE);
        while state.load(Ordering::Acquire) == WSS_OPERATION_IN_PROGRESS {
            g = DONE_CHANGED.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
    // SAFETY: completed: the fields were written before `Internal` changed; `ov` is live.
    let (bytes, fields) = unsafe { ((*ov).InternalHigh as u32, (*ov).Anonymous.Anonymous) };
    let error = match fields.OffsetHigh {
        0 => None,
        code => Some(WsaError::from_code(code as i32)),
    };
    (bytes, fields.Offset, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_then_event_route_result() {
        let mut ov = OVERLAPPED::default();
        let before = outstanding_operations();
        // SAFETY: `ov` outlives the request; no routine, so no thread id is needed.
        let c = unsafe {
            Completion::start(
                &mut ov,
                None,
                Requester::Given(core::ptr::null()),
                4,
                false,
                WSPUPCALLTABLE::default(),
            )
        }
        .unwrap();
        assert_eq!(ov.Internal, WSS_OPERATION_IN_PROGRESS);
        // SAFETY: `ov` is live.
        let pending = unsafe { result(&ov, false) };
        assert_eq!(pending.2, Some(WsaError::IO_INCOMPLETE));
        c.complete(Ok((5, 2)));
        // SAFETY: `ov` is live.
        assert_eq!(unsafe { result(&ov, true) }, (5, 2, None));
        assert!(outstanding_operations() <= before);

        // SAFETY: as above.
        let c = unsafe {
            Completion::start(
                &mut ov,
                None,
                Requester::Given(core::ptr::null()),
                4,
                false,
                WSPUPCALLTABLE::default(),
            )
        }
        .unwrap();
        c.complete(Err(WsaError::OPERATION_ABORTED));
        // SAFETY: `ov` is live.
        let aborted = unsafe { result(&ov, false) };
        assert_eq!(aborted, (0, 0, Some(WsaError::OPERATION_ABORTED)));
    }

    static OPENED: AtomicUsize = AtomicUsize::new(0);
    static CLOSED: AtomicUsize = AtomicUsize::new(0);
    static ROUTINE_BYTES: AtomicUsize = AtomicUsize::new(0);
    const THREAD: usize = 77;

    unsafe extern "system" fn open(id: *mut WSATHREADID, _: *mut i32) -> i32 {
        OPENED.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the runtime passes its own WSATHREADID.
        unsafe { (*id).ThreadHandle = THREAD as sys::HANDLE };
        0
    }

    unsafe extern "system" fn close(id: *const WSATHREADID, _: *mut i32) -> i32 {
        // SAFETY: the runtime passes the id `open` filled.
        assert_eq!(unsafe { (*id).ThreadHandle } as usize, THREAD);
        CLOSED.fetch_add(1, Ordering::SeqCst);
        0
    }

    /// Runs the APC at once, on the thread `open` named.
    unsafe extern "system" fn queue(
        id: *const WSATHREADID,
        apc: sys::LPWSAUSERAPC,
        context: usize,
        _: *mut i32,
    ) -> i32 {
        // SAFETY: the runtime passes the id `open` filled.
        assert_eq!(unsafe { (*id).ThreadHandle } as usize, THREAD);
        // SAFETY: the runtime's APC with its context, run once.
        unsafe { apc.unwrap()(context) };
        0
    }

    unsafe extern "system" fn routine(error: u32, bytes: u32, _: *mut OVERLAPPED, _: u32) {
        assert_eq!(error, 0);
        ROUTINE_BYTES.store(bytes as usize, Ordering::SeqCst);
    }

    #[test]
    fn a_direct_request_runs_its_routine_on_the_opened_thread_then_closes_it() {
        let upcalls = WSPUPCALLTABLE {
            lpWPUOpenCurrentThread: Some(open),
            lpWPUCloseThread: Some(close),
            lpWPUQueueApc: Some(queue),
            ..WSPUPCALLTABLE::default()
        };
        let mut ov = OVERLAPPED::default();
        // SAFETY: `ov` outlives the request; the upcalls are the fakes above.
        let c = unsafe {
            Completion::start(
                &mut ov,
                Some(routine),
                Requester::Current,
                4,
                false,
                upcalls,
            )
        }
        .unwrap();
        assert_eq!(OPENED.load(Ordering::SeqCst), 1);
        assert_eq!(CLOSED.load(Ordering::SeqCst), 0);
        c.complete(Ok((9, 0)));
        assert_eq!(ROUTINE_BYTES.load(Ordering::SeqCst), 9);
        assert_eq!(CLOSED.load(Ordering::SeqCst), 1);

        // Without a routine nothing is opened.
        // SAFETY: as above.
        let c = unsafe { Completion::start(&mut ov, None, Requester::Current, 4, false, upcalls) }
            .unwrap();
        c.complete(Ok((1, 0)));
        assert_eq!(OPENED.load(Ordering::SeqCst), 1);
        assert_eq!(CLOSED.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_routine_without_a_thread_id_or_a_null_overlapped_is_a_fault() {
        let mut ov = OVERLAPPED::default();
        let upcalls = WSPUPCALLTABLE::default();
        let given = Requester::Given(core::ptr::null());
        // SAFETY: `ov` is live; the start fails before keeping it.
        let no_thread =
            unsafe { Completion::start(&mut ov, Some(routine), given, 4, false, upcalls) };
        assert_eq!(no_thread.err(), Some(WsaError::FAULT));
        assert_eq!(ov.Internal, 0);
        let null = core::ptr::null_mut();
        // SAFETY: a null `ov` is refused.
        let no_ov = unsafe { Completion::start(null, None, given, 4, false, upcalls) };
        assert_eq!(no_ov.err(), Some(WsaError::FAULT));
    }
}
