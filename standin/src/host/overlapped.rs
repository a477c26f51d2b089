//! ws2_32's side of overlapped I/O: which socket is associated with which completion port,
//! `WPUCompleteOverlappedRequest` (handed to providers through `WspSetHostHooks`, as real
//! ws2_32 exports it), the per-thread last error of extension functions, and the bookkeeping
//! that checks every overlapped operation started through the stand-in completes exactly once.
//!
//! Everything here is process-wide, like ws2_32's own state, and never panics: upcalls record
//! contract violations in the registry, reported by the application's next call.

use super::kernel;
use super::registry::{self, Kind};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use winsock_provider::sys::{LPWSAOVERLAPPED_COMPLETION_ROUTINE, OVERLAPPED, SOCKET};
use winsock_provider::WsaError;

/// `WSS_OPERATION_IN_PROGRESS`: `OVERLAPPED.Internal` while an operation is pending.
pub const WSS_OPERATION_IN_PROGRESS: usize = 0x103;

/// One overlapped operation started through the stand-in, keyed by its `OVERLAPPED` address.
struct Op {
    /// The session whose call started it (for per-session counts).
    session: u64,
    /// The call that started it, for messages.
    call: &'static str,
    /// The application's completion routine (the provider got the stand-in's trampoline).
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    /// The event `hEvent` named when the operation started (low bit masked off; 0: none, or
    /// the event was closed since).
    event: isize,
    /// Completions through `WPUCompleteOverlappedRequest` (event or completion port).
    completed: u32,
    /// `WPUSetEvent` calls on its event once its `Internal` no longer said
    /// `WSS_OPERATION_IN_PROGRESS` (the event route of IFS sockets).
    signalled: u32,
    /// Calls of the completion routine.
    routines: u32,
    /// The application saw the final result through `WSAGetOverlappedResult`.
    observed: bool,
}

impl Op {
    fn finished(&self) -> bool {
        self.completed > 0 || self.signalled > 0 || self.routines > 0 || self.observed
    }
}

struct Tracker {
    /// Completion ports created through the stand-in.
    ports: Option<HashSet<isize>>,
    /// Socket → (port, completion key).
    associations: Option<HashMap<SOCKET, (isize, usize)>>,
    ops: Option<HashMap<usize, Op>>,
}

impl Tracker {
    fn ports(&mut self) -> &mut HashSet<isize> {
        self.ports.get_or_insert_with(HashSet::new)
    }
    fn associations(&mut self) -> &mut HashMap<SOCKET, (isize, usize)> {
        self.associations.get_or_insert_with(HashMap::new)
    }
    fn ops(&mut self) -> &mut HashMap<usize, Op> {
        self.ops.get_or_insert_with(HashMap::new)
    }
}

static TRACKER: Mutex<Tracker> = Mutex::new(Tracker {
    ports: None,
    associations: None,
    ops: None,
});

fn tracker() -> MutexGuard<'static, Tracker> {
    TRACKER.lock().unwrap_or_else(|e| e.into_inner())
}

fn violation(text: String) {
    registry::lock().violation(text);
}

/// Records a port created through the stand-in.
pub(crate) fn port_created(port: isize) {
    tracker().ports().insert(port);
}

/// Whether `port` is an open completion port created through the stand-in.
pub(crate) fn is_port(port: isize) -> bool {
    tracker().ports().contains(&port)
}

/// Forgets a closed port and every association with it (completions for its sockets are
/// then delivered by event only, as a closed port delivers nothing).
pub(crate) fn port_closed(port: isize) -> bool {
    let mut t = tracker();
    let known = t.ports().remove(&port);
    t.associations().retain(|_, (p, _)| *p != port);
    known
}

/// Associates socket `s` with `port` under `key`; a socket is associated at most once, as a
/// file handle is (`ERROR_INVALID_PARAMETER` otherwise).
pub(crate) fn associate(s: SOCKET, port: isize, key: usize) -> Result<(), WsaError> {
    let mut t = tracker();
    if !t.ports().contains(&port) {
        return Err(WsaError::INVALID_HANDLE);
    }
    if t.associations().contains_key(&s) {
        return Err(WsaError::INVALID_PARAMETER);
    }
    t.associations().insert(s, (port, key));
    Ok(())
}

/// Drops the association of a socket handle that was closed (its value may be reissued).
pub(crate) fn socket_closed(s: SOCKET) {
    tracker().associations().remove(&s);
}

/// Records an operation session `session` is about to start on `ov` (replacing any finished
/// one there).
///
/// # Safety
/// `ov` points to the application's `OVERLAPPED`, valid until the stand-in has seen the
/// operation complete (the contract of the calls that start operations).
pub(crate) unsafe fn issue(
    ov: *mut OVERLAPPED,
    session: u64,
    call: &'static str,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
) {
    // SAFETY: a valid OVERLAPPED (this function's contract), set up by the application.
    let event = unsafe { (*ov).hEvent } as isize & !1;
    let mut t = tracker();
    if let Some(old) = t.ops().get(&(ov as usize)) {
        if !old.finished() {
            let text = format!(
                "application bug in the test: {} reused OVERLAPPED {:p} while its {} is still pending",
                call, ov, old.call
            );
            drop(t);
            violation(text);
            t = tracker();
        }
    }
    t.ops().insert(
        ov as usize,
        Op {
            session,
            call,
            routine,
            event,
            completed: 0,
            signalled: 0,
            routines: 0,
            observed: false,
        },
    );
}

/// The call failed at once (not `WSA_IO_PENDING`): no completion may follow.
pub(crate) fn failed_at_once(ov: *mut OVERLAPPED, error: WsaError) {
    let op = tracker().ops().remove(&(ov as usize));
    if let Some(op) = op {
        if op.completed > 0 || op.routines > 0 {
            violation(format!(
                "{} failed at once with {:?} but its OVERLAPPED {:p} was also completed \
                 (a failed call must not notify completion)",
                op.call, error, ov
            ));
        }
    }
}

/// The application saw the final result of the operation on `ov`.
pub(crate) fn observed(ov: *const OVERLAPPED) {
    if let Some(op) = tracker().ops().get_mut(&(ov as usize)) {
        op.observed = true;
    }
}

/// Operations started through session `session`'s calls whose completion has not been seen
/// yet.
pub(crate) fn outstanding(session: u64) -> usize {
    tracker()
        .ops()
        .values()
        .filter(|op| op.session == session && !op.finished())
        .count()
}

/// `WPUSetEvent(event)` from a provider, before the event is set: every operation still
/// pending whose `hEvent` is `event` and whose `Internal` no longer says
/// `WSS_OPERATION_IN_PROGRESS` has completed by its event. This is how the stand-in sees an
/// IFS socket's completions (`WPUCompleteOverlappedRequest` serves non-IFS handles only); a
/// provider sets `Internal` before it signals, as the runtime does. Other calls (network
/// events of `WSPEventSelect`) leave pending operations alone.
pub(crate) fn event_set(event: isize) {
    let event = event & !1;
    if event == 0 {
        return;
    }
    let mut t = tracker();
    for (&ov, op) in t.ops().iter_mut() {
        if op.event != event || op.finished() {
            continue;
        }
        let ov = ov as *const OVERLAPPED;
        // SAFETY: the OVERLAPPED of an operation the stand-in has not seen complete, which the
        // application keeps alive until it has (`issue`'s contract; an event closed meanwhile
        // unlinks its operations in `event_closed`). `Internal` is pointer-sized and aligned,
        // and providers write it atomically (another thread may be writing it now).
        let internal = unsafe {
            (*core::ptr::addr_of!((*ov).Internal).cast::<AtomicUsize>()).load(Ordering::Acquire)
        };
        if internal != WSS_OPERATION_IN_PROGRESS {
            op.signalled += 1;
        }
    }
}

/// `event` was closed, or its value names a new event: operations that named it can no
/// longer complete through it (an operation whose application failed before closing its event
/// is never read through a later event with the same value).
pub(crate) fn event_closed(event: isize) {
    for op in tracker().ops().values_mut() {
        if op.event == event {
            op.event = 0;
        }
    }
}

/// The completion routine the stand-in passes to providers in place of the application's:
/// counts the call (a second call for one operation is a violation) and forwards it.
pub(crate) unsafe extern "system" fn routine_trampoline(
    error: u32,
    transferred: u32,
    ov: *mut OVERLAPPED,
    flags: u32,
) {
    let forward = {
        let mut t = tracker();
        match t.ops().get_mut(&(ov as usize)) {
            Some(op) => {
                op.routines += 1;
                if op.routines > 1 || op.completed > 0 {
                    Err(format!(
                        "the completion routine of {} (OVERLAPPED {:p}) was called again \
                         (error {}, {} bytes): an operation completes exactly once",
                        op.call, ov, error, transferred
                    ))
                } else {
                    Ok(op.routine)
                }
            }
            None => Err(format!(
                "a completion routine was called for OVERLAPPED {:p}, which no pending \
                 operation uses",
                ov
            )),
        }
    };
    match forward {
        Ok(Some(routine)) => {
            // SAFETY: the application's routine, called on the thread that started the
            // operation, in an alertable wait, with the operation's results.
            unsafe { routine(error, transferred, ov, flags) }
        }
        Ok(None) => {}
        Err(text) => violation(text),
    }
}

/// `WPUCompleteOverlappedRequest(s, lpOverlapped, dwError, cbTransferred, lpErrno)`, as ws2_32
/// implements it for handles from `WPUCreateSocketHandle`: stores the results in the
/// `OVERLAPPED` (`InternalHigh` = bytes, `Internal` = the error), then queues a packet on the
/// socket's completion port (when it has one and the low bit of `hEvent` is clear), or else
/// sets `hEvent` (low bit masked off) when it is not null.
pub(crate) unsafe extern "system" fn complete_overlapped_request(
    s: SOCKET,
    ov: *mut winsock_provider::sys::OVERLAPPED,
    error: u32,
    transferred: u32,
    errno: *mut i32,
) -> i32 {
    let fail = |code: WsaError, text: String| {
        violation(text);
        if !errno.is_null() {
            // SAFETY: the provider's own writable int.
            unsafe { *errno = code.code() };
        }
        winsock_provider::sys::SOCKET_ERROR
    };
    if !matches!(
        registry::lock().get(s).map(|e| e.kind),
        Some(Kind::NonIfs { .. })
    ) {
        return fail(
            WsaError::INVAL,
            format!(
                "WPUCompleteOverlappedRequest({:#x}): not an open WPUCreateSocketHandle handle \
                 (completed after the socket was closed?)",
                s
            ),
        );
    }
    if ov.is_null() {
        return fail(
            WsaError::FAULT,
            format!("WPUCompleteOverlappedRequest({:#x}): null lpOverlapped", s),
        );
    }
    let (association, double) = {
        let mut t = tracker();
        let association = t.associations().get(&s).copied();
        let double = match t.ops().get_mut(&(ov as usize)) {
            Some(op) => {
                op.completed += 1;
                if op.completed > 1 || op.routines > 0 {
                    Some(op.call)
                } else {
                    None
                }
            }
            None => None,
        };
        // SAFETY: the provider passes the application's OVERLAPPED of a pending operation,
        // which the application keeps alive until the operation completes. Written under the
        // tracker lock so concurrent checks of `Internal` see a consistent pair.
        unsafe {
            (*ov).InternalHigh = transferred as usize;
            (*ov).Internal = error as usize;
        }
        (association, double)
    };
    if let Some(call) = double {
        violation(format!(
            "WPUCompleteOverlappedRequest({:#x}, {:p}): the {} on this OVERLAPPED was already \
             completed; an operation completes exactly once",
            s, ov, call
        ));
    }
    // SAFETY: as above.
    let event = unsafe { (*ov).hEvent } as isize;
    match association {
        Some((port, key)) if event & 1 == 0 => {
            if let Err(e) = kernel::post(port, transferred, key, ov, error) {
                violation(format!(
                    "WPUCompleteOverlappedRequest({:#x}): posting to completion port {:#x} \
                     failed with {:?}",
                    s, port, e
                ));
            }
        }
        _ => {
            let event = event & !1;
            if event != 0 {
                if let Err(e) = kernel::set_event(event) {
                    return fail(
                        e,
                        format!(
                            "WPUCompleteOverlappedRequest({:#x}): the OVERLAPPED's hEvent {:#x} \
                             is not an event ({:?})",
                            s, event, e
                        ),
                    );
                }
            }
        }
    }
    0
}

thread_local! {
    static LAST_ERROR: Cell<i32> = const { Cell::new(0) };
}

/// The `set_last_error` host hook: `WSASetLastError` for the calling thread.
pub(crate) unsafe extern "system" fn set_last_error(code: i32) {
    let _ = LAST_ERROR.try_with(|c| c.set(code));
}

/// `WSAGetLastError` of the calling thread.
pub(crate) fn last_error() -> i32 {
    LAST_ERROR.try_with(|c| c.get()).unwrap_or(0)
}

/// Sets the calling thread's last error directly (before an extension-function call, to tell
/// "set" from "left alone").
pub(crate) fn preset_last_error(code: i32) {
    let _ = LAST_ERROR.try_with(|c| c.set(code));
}

#[cfg(test)]
mod tests {
    use super::*;
    use winsock_provider::sys::SOCKET_ERROR;

    /// A non-IFS handle registered to a fresh catalog entry, as WPUCreateSocketHandle makes.
    fn handle() -> SOCKET {
        let mut reg = registry::lock();
        let id = reg.new_catalog_id(0x5EED);
        let h = reg.alloc_value();
        reg.insert(h, id, Kind::NonIfs { context: 7 });
        h
    }

    /// Releases a handle from [`handle`], as WPUCloseSocketHandle does.
    fn release(s: SOCKET) {
        let mut reg = registry::lock();
        reg.handles().remove(&s);
        socket_closed(s);
        reg.free_value(s);
    }

    #[test]
    fn complete_sets_results_then_event_or_port() {
        let _serial = registry::VIOLATION_TESTS
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let s = handle();
        let ev = kernel::create_event().unwrap();
        let mut ov = OVERLAPPED {
            Internal: WSS_OPERATION_IN_PROGRESS,
            hEvent: ev as _,
            ..OVERLAPPED::default()
        };
        let mut errno = 0;
        // SAFETY: a live OVERLAPPED and a handle from WPUCreateSocketHandle.
        let r = unsafe { complete_overlapped_request(s, &mut ov, 0, 42, &mut errno) };
        assert_eq!(r, 0);
        assert_eq!((ov.Internal, ov.InternalHigh), (0, 42));
        assert_eq!(kernel::wait(&[ev], false, 0, false), Ok(0));
        kernel::reset_event(ev).unwrap();

        // Associated with a port: a packet, and the event stays unset...
        let port = kernel::create_port().unwrap();
        port_created(port);
        associate(s, port, 9).unwrap();
        assert_eq!(associate(s, port, 9), Err(WsaError::INVALID_PARAMETER));
        // SAFETY: as above.
        let r = unsafe { complete_overlapped_request(s, &mut ov, 995, 0, &mut errno) };
        assert_eq!(r, 0);
        let c = kernel::get_queued(port, 0).unwrap().unwrap();
        assert_eq!(
            (c.bytes, c.key, c.overlapped, c.error),
            (0, 9, &mut ov as *mut _, 995)
        );
        assert_eq!(ov.Internal, 995);
        assert_eq!(
            kernel::wait(&[ev], false, 0, false),
            Ok(crate::host::kernel::WSA_WAIT_TIMEOUT)
        );
        // ... unless the low bit of hEvent is set: then the event, no packet.
        ov.hEvent = (ev | 1) as _;
        // SAFETY: as above.
        let r = unsafe { complete_overlapped_request(s, &mut ov, 0, 1, &mut errno) };
        assert_eq!(r, 0);
        assert!(kernel::get_queued(port, 0).unwrap().is_none());
        assert_eq!(kernel::wait(&[ev], false, 0, false), Ok(0));

        // Closing the handle drops the association; completing then is refused.
        release(s);
        // SAFETY: as above (the handle is closed: refused before the OVERLAPPED is touched).
        let r = unsafe { complete_overlapped_request(s, &mut ov, 0, 1, &mut errno) };
        assert_eq!((r, errno), (SOCKET_ERROR, WsaError::INVAL.code()));
        let found = registry::lock().take_violations();
        assert!(
            found
                .iter()
                .any(|v| v.contains("WPUCompleteOverlappedRequest")),
            "{:?}",
            found
        );
        assert!(port_closed(port));
        kernel::close_port(port).unwrap();
        kernel::close_event(ev).unwrap();
    }

    #[test]
    fn a_second_completion_is_a_violation() {
        let _serial = registry::VIOLATION_TESTS
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let s = handle();
        let mut ov = OVERLAPPED::default();
        const SESSION: u64 = u64::MAX - 1;
        // SAFETY: a live OVERLAPPED.
        unsafe { issue(&mut ov, SESSION, "WSPRecv", None) };
        assert_eq!(outstanding(SESSION), 1);
        let mut errno = 0;
        // SAFETY: a live OVERLAPPED and a handle from WPUCreateSocketHandle.
        unsafe {
            complete_overlapped_request(s, &mut ov, 0, 0, &mut errno);
            complete_overlapped_request(s, &mut ov, 0, 0, &mut errno);
        }
        assert_eq!(outstanding(SESSION), 0);
        let found = registry::lock().take_violations();
        assert!(
            found.iter().any(|v| v.contains("already completed")),
            "{:?}",
            found
        );
        release(s);
    }

    #[test]
    fn an_event_set_after_internal_completes_the_operation() {
        const SESSION: u64 = u64::MAX - 2;
        let ev = kernel::create_event().unwrap();
        let other = kernel::create_event().unwrap();
        let mut ov = Box::new(OVERLAPPED {
            hEvent: (ev | 1) as _,
            ..OVERLAPPED::default()
        });
        // SAFETY: a live OVERLAPPED, kept until the operation is seen complete.
        unsafe { issue(&mut *ov, SESSION, "WSPRecv", None) };
        ov.Internal = WSS_OPERATION_IN_PROGRESS;
        // Pending: its event set for another reason (a network event) completes nothing.
        event_set(ev);
        // Another event completes nothing either.
        ov.Internal = 995;
        event_set(other);
        assert_eq!(outstanding(SESSION), 1);
        // Its event, once Internal holds the result (the low bit of hEvent does not matter).
        event_set(ev | 1);
        assert_eq!(outstanding(SESSION), 0);

        // An operation whose event was closed is no longer linked to it.
        let mut second = Box::new(OVERLAPPED {
            hEvent: other as _,
            ..OVERLAPPED::default()
        });
        // SAFETY: as above.
        unsafe { issue(&mut *second, SESSION, "WSPSend", None) };
        second.Internal = 0;
        event_closed(other);
        event_set(other);
        assert_eq!(outstanding(SESSION), 1);
        observed(&*second);
        assert_eq!(outstanding(SESSION), 0);
        kernel::close_event(ev).unwrap();
        kernel::close_event(other).unwrap();
    }
}
