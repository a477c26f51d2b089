//! Pending overlapped requests: those that cannot finish at once wait in their socket's
//! queues (one per direction, completed in order) and are retried, in non-blocking mode, when
//! the provider signals readiness; each completes exactly once ([`Completion`]).

use super::completion::Completion;
use super::queue::{Attempt, Dir, Held, Op, Ops};
use super::ready::{Driver, Ready};
use super::Socket;
use super::{signals, sock_io};
use crate::host::{catch, lock};
use crate::types::error::WsaError;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// What `submit` reports to the caller.
pub(crate) enum Submitted {
    /// Finished at once with `(bytes, flags)`; the completion was delivered too.
    Done(u32, u32),
    /// Waiting (`WSA_IO_PENDING`).
    Pending,
}

/// Starts an overlapped request on `sock`: attempts it at once (if nothing is queued before
/// it) and queues it if it would block. An immediate failure is returned and delivers nothing.
pub(crate) fn submit<S: Socket>(
    sock: &Arc<S>,
    dir: Dir,
    bit: u32,
    attempt: Attempt<S>,
    done: Completion,
) -> Result<Submitted, WsaError> {
    start(sock, dir, bit, attempt, done, false)
}

/// Like [`submit`] for a later stage of a request whose start has already been reported to
/// the application: an immediate failure is delivered as its completion.
pub(crate) fn submit_stage<S: Socket>(
    sock: &Arc<S>,
    dir: Dir,
    bit: u32,
    attempt: Attempt<S>,
    done: Completion,
) {
    let _ = start(sock, dir, bit, attempt, done, true);
}

fn start<S: Socket>(
    sock: &Arc<S>,
    dir: Dir,
    bit: u32,
    mut attempt: Attempt<S>,
    done: Completion,
    deliver_errors: bool,
) -> Result<Submitted, WsaError> {
    let io = sock.io();
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
        drive(&**sock);
        return Ok(Submitted::Pending);
    }
    g.running = true;
    drop(g);
    let running = Running::new(&**sock);
    let r = attempt_once(&**sock, bit, &mut attempt);
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
                drive(&**sock);
            }
            return Ok(Submitted::Pending);
        }
        // Closed while the attempt ran: the close waits for this thread before it releases
        // the handle, so the result is still delivered (or the call fails) while it is valid.
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
        drive(&**sock);
    }
    outcome
}

/// Runs one attempt of a request in non-blocking mode; a panic in the provider becomes
/// [`crate::PANIC_ERROR`] and leaves the thread's state as it was.
fn attempt_once<S: Socket>(
    sock: &S,
    bit: u32,
    attempt: &mut Attempt<S>,
) -> Result<(u32, u32), WsaError> {
    sock_io::call(sock, bit, || {
        sock.io().attempting(|| catch(|| attempt(sock)))
    })
}

/// This thread attempts `sock`'s requests (`Ops::running`) until [`Running::finish`];
/// dropped without finishing (a panic unwinding), it still clears the mark and wakes a close
/// waiting for it.
struct Running<'a, S: Socket> {
    sock: &'a S,
    armed: bool,
}

impl<'a, S: Socket> Running<'a, S> {
    /// For a thread that has just set `running`.
    fn new(sock: &'a S) -> Running<'a, S> {
        Running { sock, armed: true }
    }

    /// Clears `running` (under `g`, the socket's `ops` lock); returns whether a drive was
    /// asked for meanwhile (the caller then drives).
    fn finish(mut self, mut g: MutexGuard<'_, Ops<S>>) -> bool {
        self.armed = false;
        g.running = false;
        let again = core::mem::replace(&mut g.again, false);
        drop(g);
        self.sock.io().idle.notify_all();
        again
    }
}

impl<S: Socket> Drop for Running<'_, S> {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.sock.io().ops).running = false;
            self.sock.io().idle.notify_all();
        }
    }
}

/// Connects a socket record to its notifiers and tells the provider (once per socket, on the
/// first call that reaches it), then catches up on anything signalled before.
pub(crate) fn attach<S: Socket>(sock: &Arc<S>) {
    if sock_io::connect_notifiers(sock) {
        drive(&**sock);
    }
}

/// Every socket is a signal target: the type-erased side its notifiers reach.
impl<S: Socket> Driver for S {
    fn signal(&self, ready: Ready, error: Option<WsaError>) -> bool {
        sock_io::record(self, ready, error);
        signals::bump();
        has_pending(self)
    }

    fn drive(&self) {
        drive(self);
    }
}

/// Whether `sock` has requests waiting or being attempted (a signal then schedules a drive).
pub(crate) fn has_pending<S: Socket>(sock: &S) -> bool {
    let g = lock(&sock.io().ops);
    g.running || g.queues.iter().any(|q| !q.is_empty())
}

/// Attempts the pending requests of `sock` in order until each queue's first would block;
/// if another thread is already doing so, asks it to go round again.
pub(crate) fn drive<S: Socket>(sock: &S) {
    let io = sock.io();
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
                        // A request that fails once its socket is closing was cut short by
                        // the close (a provider below may say so with its own code, such as
                        // `WSAENOTSOCK` for the socket the close took away): it is aborted.
                        let other = match other {
                            Err(e) if e == WsaError::WOULDBLOCK || g.closed => {
                                Err(WsaError::OPERATION_ABORTED)
                            }
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

/// Closing: every pending request completes with `WSA_OPERATION_ABORTED`, later
/// submissions fail, and connections kept for later accepts are closed. A request being
/// attempted right now completes when its attempt returns: [`wait_idle`] waits for that,
/// after the provider's `close` (which wakes an attempt that blocks in the provider) and
/// before the handle is released, so that every completion names a handle that is still
/// open.
pub(crate) fn abort_all<S: Socket>(sock: &S) {
    drain(sock, false);
    sock_io::discard_kept(sock);
}

/// Waits until no thread attempts `sock`'s requests.
pub(crate) fn wait_idle<S: Socket>(sock: &S) {
    let mut g = lock(&sock.io().ops);
    while g.running {
        g = sock.io().idle.wait(g).unwrap_or_else(|e| e.into_inner());
    }
}

/// [`abort_all`] then [`wait_idle`]; `released`: the handle is gone already, so completions
/// cannot name it to `WPUCompleteOverlappedRequest`.
fn abort<S: Socket>(sock: &S, released: bool) {
    drain(sock, released);
    wait_idle(sock);
}

/// Marks `sock` closed and completes its waiting requests (and the stages held with it) with
/// `WSA_OPERATION_ABORTED`.
fn drain<S: Socket>(sock: &S, released: bool) {
    let (aborted, stages): (Vec<Op<S>>, Vec<Weak<Held>>) = {
        let mut g = lock(&sock.io().ops);
        g.closed = true;
        let mut all: Vec<Op<S>> = g.queues[0].drain(..).collect();
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

/// Ties `held` to `owner`, the socket its completion names: closing `owner` completes it
/// with `WSA_OPERATION_ABORTED` (before `owner`'s handle is released). False if `owner` is
/// closing already (the caller then completes it).
pub(crate) fn hold_stage<S: Socket>(owner: &S, held: &Arc<Held>) -> bool {
    let mut g = lock(&owner.io().ops);
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

impl<S: Socket> Abort for S {
    fn abort(&self) {
        abort(self, true);
    }
    fn owner(&self) -> core::any::TypeId {
        core::any::TypeId::of::<S>()
    }
}

struct Registered(Weak<dyn Abort>);

// SAFETY: every `Abort` is a `Socket`, Send + Sync by that trait's contract.
unsafe impl Send for Registered {}

static REGISTRY: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

fn register<S: Socket>(g: &mut Ops<S>, sock: &Arc<S>) {
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

/// After the last clean-up of the provider whose sockets are `S`: aborts the requests still
/// pending on its sockets.
pub(crate) fn abort_all_of<S: Socket>() {
    let owner = core::any::TypeId::of::<S>();
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
