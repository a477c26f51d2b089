//! Overlapped operations: requests that cannot finish at once wait in the socket's queues
//! and are retried (in non-blocking mode) when the provider signals readiness; each completes
//! exactly once, through the route the caller chose.
//!
//! Routes: a completion routine is queued to the caller's thread with `WPUQueueApc`; otherwise,
//! for non-IFS sockets, `WPUCompleteOverlappedRequest` (so completion ports see it, and it sets
//! the event when there is no port); otherwise the runtime stores the result and sets
//! `hEvent` with `WPUSetEvent`. The result lives in the caller's `WSAOVERLAPPED`: `Internal`
//! is `WSS_OPERATION_IN_PROGRESS` while pending, `InternalHigh` the bytes, `Offset` the flags
//! and `OffsetHigh` the error (the fields Winsock reserves for the provider).

use crate::error::WsaError;
use crate::notify::lock;
use crate::provider::Provider;
use crate::socket::Sock;
use crate::sys::{self, OVERLAPPED, SOCKET, WSATHREADID, WSPUPCALLTABLE};
use core::cell::Cell;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

/// An upcall's error code, or `WSASYSCALLFAILURE` when it gave none that Winsock defines.
pub(crate) fn upcall_error(code: i32) -> WsaError {
    let e = WsaError::from_code(code);
    if e.is_valid_failure() {
        e
    } else {
        WsaError::SYSCALLFAILURE
    }
}

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

thread_local! {
    static ATTEMPTING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is running a provider method for the runtime in "must not block" mode
/// (an overlapped request's attempt).
pub(crate) fn attempting() -> bool {
    ATTEMPTING.with(|a| a.get())
}

/// Restores [`attempting`] when dropped (also when a panic unwinds through it).
struct Attempting(bool);

impl Drop for Attempting {
    fn drop(&mut self) {
        let was = self.0;
        ATTEMPTING.with(|a| a.set(was));
    }
}

/// Runs `f` with [`attempting`] true.
fn without_blocking<T>(f: impl FnOnce() -> T) -> T {
    let _restore = Attempting(ATTEMPTING.with(|a| a.replace(true)));
    f()
}

/// How a request completes: the caller's `WSAOVERLAPPED` and route.
pub(crate) struct Completion {
    ov: *mut OVERLAPPED,
    routine: sys::LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    thread: WSATHREADID,
    handle: SOCKET,
    /// `WPUCompleteOverlappedRequest` applies (a non-IFS handle).
    host_route: bool,
    /// `thread` came from `WPUOpenCurrentThread`: close it once the routine is queued.
    own_thread: bool,
    upcalls: WSPUPCALLTABLE,
}

// SAFETY: the raw pointers are the application's WSAOVERLAPPED (valid until completion, by
// Winsock's rules) and ws2_32's thread id and upcalls, usable from any thread.
unsafe impl Send for Completion {}

impl Completion {
    /// Starts a request: `Internal` becomes `WSS_OPERATION_IN_PROGRESS` and the request counts
    /// as outstanding until [`Completion::complete`] (or [`Completion::cancel`]).
    ///
    /// # Safety
    /// `ov` is a writable `WSAOVERLAPPED` that stays valid until completion; `thread` is null
    /// or ws2_32's thread id for the caller; `upcalls` is ws2_32's table.
    pub(crate) unsafe fn start(
        ov: *mut OVERLAPPED,
        routine: sys::LPWSAOVERLAPPED_COMPLETION_ROUTINE,
        thread: *const WSATHREADID,
        handle: SOCKET,
        host_route: bool,
        upcalls: WSPUPCALLTABLE,
    ) -> Result<Completion, WsaError> {
        if ov.is_null() {
            return Err(WsaError::FAULT);
        }
        let thread = if routine.is_some() {
            if thread.is_null() {
                return Err(WsaError::FAULT);
            }
            // SAFETY: non-null; ws2_32 passes its thread id for the calling thread.
            *thread
        } else {
            WSATHREADID::default()
        };
        internal(ov).store(WSS_OPERATION_IN_PROGRESS, Ordering::Release);
        OUTSTANDING.fetch_add(1, Ordering::SeqCst);
        Ok(Completion {
            ov,
            routine,
            thread,
            handle,
            host_route,
            own_thread: false,
            upcalls,
        })
    }

    /// Like [`Completion::start`], for a request made by the application directly (an
    /// extension function): a completion routine runs on the calling thread, whose id the
    /// runtime obtains with `WPUOpenCurrentThread`.
    ///
    /// # Safety
    /// As for [`Completion::start`].
    pub(crate) unsafe fn start_direct(
        ov: *mut OVERLAPPED,
        routine: sys::LPWSAOVERLAPPED_COMPLETION_ROUTINE,
        handle: SOCKET,
        host_route: bool,
        upcalls: WSPUPCALLTABLE,
    ) -> Result<Completion, WsaError> {
        let mut thread = WSATHREADID::default();
        if routine.is_some() {
            let open = upcalls.lpWPUOpenCurrentThread.ok_or(WsaError::OPNOTSUPP)?;
            let mut errno = 0;
            // SAFETY: a ws2_32 upcall filling our WSATHREADID.
            if open(&mut thread, &mut errno) != 0 {
                return Err(upcall_error(errno));
            }
        }
        let mut done = Completion::start(ov, routine, &thread, handle, host_route, upcalls)?;
        done.own_thread = routine.is_some();
        Ok(done)
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
                    if let Some(host) = crate::hooks::complete_overlapped_request() {
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
                queue(&self.thread, Some(run_apc), context as usize, &mut errno) == 0
            }
            None => false,
        };
        if !queued {
            // SAFETY: the APC was not queued, so `context` is still ours alone.
            drop(Box::from_raw(context));
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
    let apc = Box::from_raw(context as *mut Apc);
    OUTSTANDING.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: the application's completion routine, with the arguments
    // WSAOVERLAPPED_COMPLETION_ROUTINE defines.
    (apc.routine)(apc.error, apc.bytes, apc.ov, apc.flags);
}

/// `Internal` of `ov` as an atomic (it has `usize`'s layout).
///
/// # Safety
/// `ov` points to a live `OVERLAPPED`.
unsafe fn internal<'a>(ov: *const OVERLAPPED) -> &'a AtomicUsize {
    // SAFETY: AtomicUsize has the same size and alignment as usize; the field is live.
    &*(core::ptr::addr_of!((*ov).Internal) as *const AtomicUsize)
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
    if internal(ov).load(Ordering::Acquire) == WSS_OPERATION_IN_PROGRESS {
        if !wait {
            return (0, 0, Some(WsaError::IO_INCOMPLETE));
        }
        let mut g = lock(&DONE);
        while internal(ov).load(Ordering::Acquire) == WSS_OPERATION_IN_PROGRESS {
            g = DONE_CHANGED.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
    // SAFETY: completed: the fields were written before `Internal` changed.
    let (bytes, fields) = ((*ov).InternalHigh as u32, (*ov).Anonymous.Anonymous);
    let error = match fields.OffsetHigh {
        0 => None,
        code => Some(WsaError::from_code(code as i32)),
    };
    (bytes, fields.Offset, error)
}

/// Which queue a request waits in: requests of one direction complete in order.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Dir {
    /// Receives and accepts.
    In = 0,
    /// Sends, connects and disconnects.
    Out = 1,
}

/// One attempt of a request: `(bytes, flags)`, `WSAEWOULDBLOCK` to keep waiting, or an error.
pub(crate) type Attempt<P> =
    Box<dyn FnMut(&Sock<P>) -> Result<(u32, u32), WsaError> + Send + 'static>;

pub(crate) struct Op<P: Provider> {
    attempt: Attempt<P>,
    done: Completion,
    /// The `FD_*` event whose re-enabling call this request is.
    bit: u32,
    /// Keeps the socket record alive until the request completes.
    _keep: Arc<Sock<P>>,
}

/// A socket's pending requests.
pub(crate) struct Ops<P: Provider> {
    queues: [VecDeque<Op<P>>; 2],
    /// A thread is attempting this socket's requests (at most one does).
    running: bool,
    /// A signal arrived while it was: attempt again.
    again: bool,
    /// The socket is closing: requests are aborted.
    closed: bool,
    /// Listed in the registry of sockets that had pending requests.
    registered: bool,
    /// Requests waiting on another socket whose completion names this one (`AcceptEx`'s
    /// data stage): closing this socket completes them.
    stages: Vec<Weak<Held>>,
}

impl<P: Provider> Ops<P> {
    pub(crate) fn new() -> Ops<P> {
        Ops {
            queues: [VecDeque::new(), VecDeque::new()],
            running: false,
            again: false,
            closed: false,
            registered: false,
            stages: Vec::new(),
        }
    }
}

/// What `submit` reports to the caller.
pub(crate) enum Submitted {
    /// Finished at once with `(bytes, flags)`; the completion was delivered too.
    Done(u32, u32),
    /// Waiting (`WSA_IO_PENDING`).
    Pending,
}

/// Starts an overlapped request on `sock`: attempts it at once (if nothing is queued before
/// it) and queues it if it would block. An immediate failure is returned and delivers nothing.
pub(crate) fn submit<P: Provider>(
    sock: &Arc<Sock<P>>,
    dir: Dir,
    bit: u32,
    attempt: Attempt<P>,
    done: Completion,
) -> Result<Submitted, WsaError> {
    start(sock, dir, bit, attempt, done, false)
}

/// Like [`submit`] for a later stage of a request whose start has already been reported to
/// the application: an immediate failure is delivered as its completion.
pub(crate) fn submit_stage<P: Provider>(
    sock: &Arc<Sock<P>>,
    dir: Dir,
    bit: u32,
    attempt: Attempt<P>,
    done: Completion,
) {
    let _ = start(sock, dir, bit, attempt, done, true);
}

fn start<P: Provider>(
    sock: &Arc<Sock<P>>,
    dir: Dir,
    bit: u32,
    mut attempt: Attempt<P>,
    done: Completion,
    deliver_errors: bool,
) -> Result<Submitted, WsaError> {
    let io = &sock.io;
    let mut g = lock(&io.ops);
    if g.closed {
        drop(g);
        if deliver_errors {
            done.complete(Err(WsaError::OPERATION_ABORTED));
        } else {
            done.cancel(WsaError::NOTSOCK);
        }
        return Err(WsaError::NOTSOCK);
    }
    if !g.queues[dir as usize].is_empty() || g.running {
        g.queues[dir as usize].push_back(Op {
            attempt,
            done,
            bit,
            _keep: sock.clone(),
        });
        register(&mut g, sock);
        drop(g);
        drive(sock);
        return Ok(Submitted::Pending);
    }
    g.running = true;
    drop(g);
    let running = Running::new(sock);
    let r = attempt_once(sock, bit, &mut attempt);
    let mut g = lock(&io.ops);
    let r = match r {
        Err(e) if e == WsaError::WOULDBLOCK && !g.closed => {
            g.queues[dir as usize].push_back(Op {
                attempt,
                done,
                bit,
                _keep: sock.clone(),
            });
            register(&mut g, sock);
            if running.finish(g) {
                drive(sock);
            }
            return Ok(Submitted::Pending);
        }
        // Closed while the attempt ran: the close is waiting for this thread, and the
        // handle is still valid until it has finished.
        Err(e) if e == WsaError::WOULDBLOCK && deliver_errors => Err(WsaError::OPERATION_ABORTED),
        Err(e) if e == WsaError::WOULDBLOCK => Err(WsaError::NOTSOCK),
        other => other,
    };
    drop(g);
    // Delivered while this thread still counts as attempting, so that a close waits for it
    // and every completion names a handle that is still open.
    let outcome = match r {
        Ok((bytes, flags)) => {
            done.complete(Ok((bytes, flags)));
            Ok(Submitted::Done(bytes, flags))
        }
        Err(e) if deliver_errors => {
            done.complete(Err(e));
            Err(e)
        }
        Err(e) => {
            done.cancel(e);
            Err(e)
        }
    };
    if running.finish(lock(&io.ops)) {
        drive(sock);
    }
    outcome
}

/// Runs one attempt of a request in non-blocking mode; a panic in the provider becomes
/// [`crate::PANIC_ERROR`] and leaves the thread's state as it was.
fn attempt_once<P: Provider>(
    sock: &Sock<P>,
    bit: u32,
    attempt: &mut Attempt<P>,
) -> Result<(u32, u32), WsaError> {
    crate::io::call(sock, bit, || {
        without_blocking(|| crate::panic::catch(|| attempt(sock)))
    })
}

/// This thread attempts `sock`'s requests (`Ops::running`) until [`Running::finish`];
/// dropped without finishing (a panic unwinding), it still clears the mark and wakes a close
/// waiting for it.
struct Running<'a, P: Provider> {
    sock: &'a Sock<P>,
    armed: bool,
}

impl<'a, P: Provider> Running<'a, P> {
    /// For a thread that has just set `running`.
    fn new(sock: &'a Sock<P>) -> Running<'a, P> {
        Running { sock, armed: true }
    }

    /// Clears `running` (under `g`, the socket's `ops` lock); returns whether a drive was
    /// asked for meanwhile (the caller then drives).
    fn finish(mut self, mut g: MutexGuard<'_, Ops<P>>) -> bool {
        self.armed = false;
        g.running = false;
        let again = core::mem::replace(&mut g.again, false);
        drop(g);
        self.sock.io.idle.notify_all();
        again
    }
}

impl<P: Provider> Drop for Running<'_, P> {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.sock.io.ops).running = false;
            self.sock.io.idle.notify_all();
        }
    }
}

/// Whether `sock` has requests waiting or being attempted (a signal then schedules a drive).
pub(crate) fn has_pending<P: Provider>(sock: &Sock<P>) -> bool {
    let g = lock(&sock.io.ops);
    g.running || g.queues.iter().any(|q| !q.is_empty())
}

/// Attempts the pending requests of `sock` in order until each queue's first would block;
/// if another thread is already doing so, asks it to go round again.
pub(crate) fn drive<P: Provider>(sock: &Sock<P>) {
    let io = &sock.io;
    let mut g = lock(&io.ops);
    if g.running {
        g.again = true;
        return;
    }
    if g.queues.iter().all(VecDeque::is_empty) {
        return;
    }
    g.running = true;
    drop(g);
    let running = Running::new(sock);
    let mut g = lock(&io.ops);
    loop {
        g.again = false;
        for dir in 0..2 {
            while let Some(mut op) = g.queues[dir].pop_front() {
                drop(g);
                let r = attempt_once(sock, op.bit, &mut op.attempt);
                g = lock(&io.ops);
                match r {
                    Err(e) if e == WsaError::WOULDBLOCK && !g.closed => {
                        g.queues[dir].push_front(op);
                        break;
                    }
                    other => {
                        let other = match other {
                            Err(e) if e == WsaError::WOULDBLOCK => Err(WsaError::OPERATION_ABORTED),
                            other => other,
                        };
                        drop(g);
                        op.done.complete(other);
                        g = lock(&io.ops);
                    }
                }
            }
        }
        if !g.again {
            running.finish(g);
            return;
        }
    }
}

/// Closing: every pending request completes with `WSA_OPERATION_ABORTED`, and later
/// submissions fail. A request being attempted right now completes when its attempt returns:
/// [`wait_idle`] waits for that, after the provider's `close` (which wakes an attempt that
/// blocks in the provider) and before the handle is released, so that every completion names
/// a handle that is still open.
pub(crate) fn abort_all<P: Provider>(sock: &Sock<P>) {
    drain(sock, false);
}

/// Waits until no thread attempts `sock`'s requests.
pub(crate) fn wait_idle<P: Provider>(sock: &Sock<P>) {
    let mut g = lock(&sock.io.ops);
    while g.running {
        g = sock.io.idle.wait(g).unwrap_or_else(|e| e.into_inner());
    }
}

/// [`abort_all`] then [`wait_idle`]; `released`: the handle is gone already, so completions
/// cannot name it to `WPUCompleteOverlappedRequest`.
fn abort<P: Provider>(sock: &Sock<P>, released: bool) {
    drain(sock, released);
    wait_idle(sock);
}

/// Marks `sock` closed and completes its waiting requests (and the stages held with it) with
/// `WSA_OPERATION_ABORTED`.
fn drain<P: Provider>(sock: &Sock<P>, released: bool) {
    let (aborted, stages): (Vec<Op<P>>, Vec<Weak<Held>>) = {
        let mut g = lock(&sock.io.ops);
        g.closed = true;
        let mut all: Vec<Op<P>> = g.queues[0].drain(..).collect();
        all.extend(g.queues[1].drain(..));
        (all, core::mem::take(&mut g.stages))
    };
    for mut op in aborted {
        if released {
            op.done.host_route = false;
        }
        op.done.complete(Err(WsaError::OPERATION_ABORTED));
    }
    for held in stages.iter().filter_map(Weak::upgrade) {
        let mut g = lock(&held);
        if let Some(mut done) = g.take() {
            if released {
                done.host_route = false;
            }
            done.complete(Err(WsaError::OPERATION_ABORTED));
        }
    }
}

/// A request's completion held where two sockets can reach it: the one whose queue it waits
/// in, and the one whose handle it names ([`hold_stage`]). Whoever takes it first delivers it,
/// under this lock, so a close of the naming socket waits for a delivery in progress.
pub(crate) type Held = Mutex<Option<Completion>>;

/// Ties `held` to `owner`, the socket its completion names: closing `owner` completes it
/// with `WSA_OPERATION_ABORTED` (before `owner`'s handle is released). False if `owner` is
/// closing already (the caller then completes it).
pub(crate) fn hold_stage<P: Provider>(owner: &Sock<P>, held: &Arc<Held>) -> bool {
    let mut g = lock(&owner.io.ops);
    if g.closed {
        return false;
    }
    g.stages.retain(|w| w.strong_count() > 0);
    g.stages.push(Arc::downgrade(held));
    true
}

/// Delivers the request in `held` with `result`, unless it was delivered already.
pub(crate) fn complete_held(held: &Held, result: Result<(u32, u32), WsaError>) {
    let mut g = lock(held);
    if let Some(done) = g.take() {
        done.complete(result);
    }
}

/// Sockets that have had pending requests, for the last clean-up (which closes sockets
/// without going through `WSPCloseSocket`).
trait Abort {
    fn abort(&self);
    fn owner(&self) -> core::any::TypeId;
}

impl<P: Provider> Abort for Sock<P> {
    fn abort(&self) {
        abort(self, true);
    }
    fn owner(&self) -> core::any::TypeId {
        core::any::TypeId::of::<P>()
    }
}

struct Registered(Weak<dyn Abort>);

// SAFETY: every `Abort` is a `Sock<P>`, which is Send + Sync (see `Notifier`'s impls).
unsafe impl Send for Registered {}

static REGISTRY: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

fn register<P: Provider>(g: &mut Ops<P>, sock: &Arc<Sock<P>>) {
    if g.registered {
        return;
    }
    g.registered = true;
    let weak: Weak<dyn Abort> = Arc::downgrade(sock) as Weak<dyn Abort>;
    let mut all = lock(&REGISTRY);
    if all.len() >= 64 && all.len().is_power_of_two() {
        all.retain(|w| w.0.strong_count() > 0);
    }
    all.push(Registered(weak));
}

/// After provider `P`'s last clean-up: aborts the requests still pending on its sockets.
pub(crate) fn abort_provider<P: Provider>() {
    let owner = core::any::TypeId::of::<P>();
    let mine: Vec<Arc<dyn Abort>> = {
        let mut all = lock(&REGISTRY);
        let mut mine = Vec::new();
        all.retain(|w| match w.0.upgrade() {
            Some(s) if s.owner() == owner => {
                mine.push(s);
                false
            }
            Some(_) => true,
            None => false,
        });
        mine
    };
    for s in mine {
        s.abort();
    }
}

/// Copies a caller's `WSABUF` array (the buffers it points to must stay valid until
/// completion, by Winsock's rules; the array itself need not).
///
/// # Safety
/// `ptr` is null or points to `count` readable `WSABUF`s.
pub(crate) unsafe fn copy_wsabufs(
    ptr: *const sys::WSABUF,
    count: u32,
) -> Result<Vec<sys::WSABUF>, WsaError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(WsaError::FAULT);
    }
    // SAFETY: non-null; `count` readable WSABUFs (caller's contract).
    let bufs = core::slice::from_raw_parts(ptr, count as usize).to_vec();
    if bufs.iter().any(|b| b.buf.is_null() && b.len != 0) {
        return Err(WsaError::FAULT);
    }
    Ok(bufs)
}

/// A caller's buffers held by a pending request.
pub(crate) struct HeldBufs(pub(crate) Vec<sys::WSABUF>);

impl HeldBufs {
    /// The buffers as the room of a receive.
    ///
    /// # Safety
    /// The buffers are still valid and not otherwise in use (the request has not completed).
    pub(crate) unsafe fn receive(&self) -> Result<crate::BufsMut<'_>, WsaError> {
        crate::BufsMut::from_raw(self.0.as_ptr(), self.0.len() as u32)
    }

    /// Total bytes in the buffers.
    pub(crate) fn total(&self) -> usize {
        self.0.iter().map(|b| b.len as usize).sum()
    }

    /// The buffers from byte offset `skip` on.
    fn suffix(&self, mut skip: usize) -> Vec<sys::WSABUF> {
        let mut rest = Vec::with_capacity(self.0.len());
        for b in &self.0 {
            let len = b.len as usize;
            if skip >= len {
                skip -= len;
                continue;
            }
            rest.push(sys::WSABUF {
                len: (len - skip) as u32,
                buf: b.buf.wrapping_add(skip),
            });
            skip = 0;
        }
        rest
    }

    /// Runs `f` on the buffers from offset `skip` on, as the room of a receive.
    ///
    /// # Safety
    /// As for [`HeldBufs::receive`].
    pub(crate) unsafe fn receive_from<R>(
        &self,
        skip: usize,
        f: impl FnOnce(&mut crate::BufsMut<'_>) -> R,
    ) -> Result<R, WsaError> {
        let rest = self.suffix(skip);
        // SAFETY: each entry is a suffix of one of the caller's buffers (valid until
        // completion, by this function's contract).
        let mut bufs = crate::BufsMut::from_raw(rest.as_ptr(), rest.len() as u32)?;
        Ok(f(&mut bufs))
    }

    /// Runs `f` on the bytes of the buffers from offset `skip` on, as the data of a send.
    ///
    /// # Safety
    /// As for [`HeldBufs::receive`].
    pub(crate) unsafe fn send_from<R>(
        &self,
        skip: usize,
        f: impl FnOnce(&crate::Bufs<'_>) -> R,
    ) -> Result<R, WsaError> {
        let rest = self.suffix(skip);
        // SAFETY: each entry is a suffix of one of the caller's buffers (valid until
        // completion, by this function's contract).
        let bufs = crate::Bufs::from_raw(rest.as_ptr(), rest.len() as u32)?;
        Ok(f(&bufs))
    }
}

/// The attempt of an overlapped `WSPRecv` into the caller's buffers. With `MSG_WAITALL`
/// (and no `MSG_PEEK`) it completes only when the buffers are full, the stream ended or an
/// error occurred, resuming where the last attempt stopped.
pub(crate) fn recv_attempt<P: Provider>(bufs: HeldBufs, flags: crate::MsgFlags) -> Attempt<P> {
    use crate::MsgFlags;
    let wait_all = flags.contains(MsgFlags::WAITALL) && !flags.contains(MsgFlags::PEEK);
    let total = bufs.total();
    let mut done = 0usize;
    Box::new(move |sock: &Sock<P>| {
        if !wait_all {
            // SAFETY: the caller's buffers stay valid until completion (Winsock's rules).
            let mut view = unsafe { bufs.receive() }?;
            let (n, out) = sock.shared.provider.recv(sock, &mut view, flags)?;
            return Ok((n as u32, out.bits()));
        }
        loop {
            // SAFETY: as above.
            let got = unsafe {
                bufs.receive_from(done, |view| sock.shared.provider.recv(sock, view, flags))
            }?;
            match got {
                Ok((n, out)) => {
                    done += n;
                    if done >= total || n == 0 {
                        return Ok((done as u32, out.bits()));
                    }
                }
                Err(e) if e == WsaError::WOULDBLOCK => return Err(e),
                // Bytes already received are the caller's: report them, not the error.
                Err(_) if done > 0 => return Ok((done as u32, 0)),
                Err(e) => return Err(e),
            }
        }
    })
}

/// The attempt of an overlapped `WSPRecvFrom`: also writes the sender to `from`/`fromlen`
/// (null `from`: not wanted), whose room was checked when the request started.
pub(crate) fn recv_from_attempt<P: Provider>(
    bufs: HeldBufs,
    flags: crate::MsgFlags,
    from: Out<sys::SOCKADDR>,
    fromlen: Out<i32>,
) -> Attempt<P> {
    Box::new(move |sock: &Sock<P>| {
        // SAFETY: the caller's buffers stay valid until completion (Winsock's rules).
        let mut view = unsafe { bufs.receive() }?;
        let (n, out, addr) = sock.shared.provider.recv_from(sock, &mut view, flags)?;
        if !from.get().is_null() {
            // SAFETY: lpFrom and lpFromlen stay valid until completion (Winsock's rules).
            unsafe { addr.write_raw(from.get(), fromlen.get()) }?;
        }
        Ok((n as u32, out.bits()))
    })
}

/// The attempt of an overlapped send: a stream send completes only once every byte is
/// queued (as Windows completes overlapped sends), resuming after `WSAEWOULDBLOCK` where the
/// last attempt stopped; `send` is one non-blocking call of the provider.
pub(crate) fn send_all<P: Provider>(
    bufs: HeldBufs,
    send: impl Fn(&Sock<P>, &crate::Bufs<'_>) -> Result<usize, WsaError> + Send + 'static,
) -> Attempt<P> {
    let total = bufs.total();
    let mut done = 0usize;
    Box::new(move |sock: &Sock<P>| loop {
        // SAFETY: the caller's buffers stay valid until completion (Winsock's rules).
        let n = unsafe { bufs.send_from(done, |view| send(sock, view)) }??;
        done += n;
        if done >= total || n == 0 {
            return Ok((done as u32, 0));
        }
    })
}

// SAFETY: the WSABUFs point to the application's buffers, which Winsock's rules keep valid
// and untouched by the application until the request completes; only the request uses them.
unsafe impl Send for HeldBufs {}

/// A socket record held by a request (for the sockets a request involves besides its own).
pub(crate) struct Kept<P: Provider>(pub(crate) Arc<Sock<P>>);

// SAFETY: `Sock<P>` is Send + Sync: its provider state implements `ThreadSafeSocket`,
// implemented exactly for `Send + Sync` types; the compiler cannot see it through the
// associated type in generic code.
unsafe impl<P: Provider> Send for Kept<P> {}

impl<P: Provider> Kept<P> {
    /// The socket.
    pub(crate) fn sock(&self) -> &Arc<Sock<P>> {
        &self.0
    }
}

/// A raw pointer a pending request writes through on completion.
#[derive(Copy, Clone)]
pub(crate) struct Out<T>(pub(crate) *mut T);

// SAFETY: the pointee is the application's (e.g. lpFrom/lpFromlen), valid until completion by
// Winsock's rules, and written only by the request that holds it.
unsafe impl<T> Send for Out<T> {}

impl<T> Out<T> {
    /// The pointer (a method, so closures capture the whole `Out`, which is `Send`).
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempting_is_scoped() {
        assert!(!attempting());
        assert!(without_blocking(attempting));
        assert!(!attempting());
    }

    #[test]
    fn pending_then_event_route_result() {
        let mut ov = OVERLAPPED::default();
        let before = outstanding_operations();
        // SAFETY: `ov` outlives the request; no routine, so no thread id is needed.
        let c = unsafe {
            Completion::start(
                &mut ov,
                None,
                core::ptr::null(),
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
                core::ptr::null(),
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
}
