//! The runtime's per-socket I/O record: blocking mode, readiness, event selection and pending
//! overlapped operations, and how a readiness signal drives them.

use super::events::{announce, EventState, NotifyState, Target};
use super::notifier::{self, Notifier};
use super::queue::Ops;
use super::ready::Ready;
use super::{signals, Socket};
use crate::host::{catch, lock, PANIC_ERROR};
use crate::sys::{self, FD_ACCEPT, FD_CLOSE, FD_CONNECT, FD_READ, FD_WRITE};
use crate::types::addr::SockAddr;
use crate::types::error::WsaError;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

/// `SockIo::attach`: no call has reached the socket yet.
const DETACHED: u8 = 0;
/// The first call is telling the provider (other calls go ahead).
const ATTACHING: u8 = 1;
/// Attached.
const READY: u8 = 2;
/// The provider's `attached` panicked.
const BROKEN: u8 = 3;

/// What the runtime keeps for one socket besides the provider's state.
pub(crate) struct SockIo<S: Socket> {
    /// Non-blocking mode (`FIONBIO`, or an event selection).
    nonblocking: AtomicBool,
    /// The thread attempting this socket's pending requests, while it runs the provider
    /// ([`deferred::token`](super::deferred::token); 0: none): the attempt context, which makes
    /// [`SockIo::nonblocking`] true for that thread only.
    attempt: AtomicUsize,
    /// The socket's own record, weakly (for `Notifier`s), once attached.
    this: notifier::SelfRef,
    /// [`DETACHED`], [`ATTACHING`], [`READY`] or [`BROKEN`] (the provider's `attached`
    /// panicked: the socket fails every call but close). One word, so the common case of a
    /// call (ready) is one load.
    attach: AtomicU8,
    /// How many times readiness was recorded (signals), so a call can tell whether one arrived
    /// while the provider ran.
    signals: AtomicU64,
    /// A copy of the selected `FD_*` mask (`notify.events`), written under the `notify` lock
    /// and read without it, so calls on a socket nobody event-selects take no lock.
    selected: AtomicU32,
    /// A copy of the recorded conditions (`notify.level`), written under the `notify` lock
    /// and read without it, so a would-block refuting a condition that is not recorded (the
    /// common case) takes no lock.
    level: AtomicU32,
    pub(crate) notify: Mutex<NotifyState>,
    /// Connections taken from the provider on this listener and not handed out (an accept's
    /// condition function deferred them), in backlog order: they are at the top of the
    /// backlog, so accepts take them before asking the provider.
    kept: Mutex<VecDeque<(S::Conn, SockAddr)>>,
    /// Whether `kept` holds any (read without its lock, by every readiness question).
    has_kept: AtomicBool,
    pub(crate) ops: Mutex<Ops<S>>,
    /// Signalled when no thread attempts the socket's requests any more.
    pub(crate) idle: Condvar,
}

impl<S: Socket> SockIo<S> {
    /// A record for a new socket (blocking, detached, nothing pending).
    pub(crate) fn new() -> SockIo<S> {
        SockIo {
            nonblocking: AtomicBool::new(false),
            attempt: AtomicUsize::new(0),
            this: Mutex::new(Notifier::detached()),
            attach: AtomicU8::new(DETACHED),
            signals: AtomicU64::new(0),
            selected: AtomicU32::new(0),
            level: AtomicU32::new(0),
            notify: Mutex::new(NotifyState::new()),
            kept: Mutex::new(VecDeque::new()),
            has_kept: AtomicBool::new(false),
            ops: Mutex::new(Ops::new()),
            idle: Condvar::new(),
        }
    }

    /// A notifier for this socket (detached until the socket has been attached).
    pub(crate) fn notifier(&self) -> Notifier {
        lock(&self.this).clone()
    }

    /// Whether the socket is attached and usable (the provider's `attached` returned).
    #[inline(always)]
    pub(crate) fn is_ready(&self) -> bool {
        self.attach.load(Ordering::Acquire) == READY
    }

    /// `WSAENETDOWN` if the provider's `attached` panicked for this socket (it may never
    /// have stored its notifier, so readiness would never be signalled).
    pub(crate) fn usable(&self) -> Result<(), WsaError> {
        if self.attach.load(Ordering::Acquire) == BROKEN {
            Err(PANIC_ERROR)
        } else {
            Ok(())
        }
    }

    /// Whether calls on this thread must not block: the socket is in non-blocking mode, or
    /// this thread is attempting one of its pending requests (see [`SockIo::attempting`]).
    #[inline]
    pub(crate) fn nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed) || self.attempting_here()
    }

    /// The socket's own blocking mode (`FIONBIO`), without the attempt context.
    pub(crate) fn nonblocking_mode(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    /// Sets the socket's blocking mode.
    pub(crate) fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }

    /// Whether this thread is attempting one of the socket's pending requests.
    #[inline]
    fn attempting_here(&self) -> bool {
        let who = self.attempt.load(Ordering::Relaxed);
        who != 0 && who == super::deferred::token()
    }

    /// Runs `f` as this thread's attempt of a pending request: [`SockIo::nonblocking`] is true
    /// on this thread until it returns (or unwinds). At most one thread attempts a socket's
    /// requests at a time (`Ops::running`), so the context is one word.
    pub(crate) fn attempting<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Restore<'a>(&'a AtomicUsize, usize);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.store(self.1, Ordering::Relaxed);
            }
        }
        let _restore = Restore(
            &self.attempt,
            self.attempt
                .swap(super::deferred::token(), Ordering::Relaxed),
        );
        f()
    }
}

/// Connects a socket record to its notifiers and tells the provider (once per socket, on the
/// first call that reaches it); true when this call did (the caller then catches up on
/// anything signalled before). A panic in the provider's `attached` makes the socket unusable
/// ([`SockIo::usable`]).
pub(crate) fn connect_notifiers<S: Socket>(sock: &Arc<S>) -> bool {
    let io = sock.io();
    let claimed =
        io.attach
            .compare_exchange(DETACHED, ATTACHING, Ordering::AcqRel, Ordering::Acquire);
    if claimed.is_err() {
        return false;
    }
    notifier::set_self(&io.this, sock);
    let attached = catch(|| {
        sock.attached();
        Ok(())
    });
    let state = if attached.is_err() { BROKEN } else { READY };
    io.attach.store(state, Ordering::Release);
    signals::bump();
    true
}

/// Records conditions `ready` (with `error` for `CONNECT`/`CLOSE`) and announces the network
/// events this records.
pub(crate) fn record<S: Socket>(sock: &S, ready: Ready, error: Option<WsaError>) {
    let code = error.map_or(0, WsaError::code);
    let mut st = lock(&sock.io().notify);
    st.level |= ready;
    sock.io().level.store(st.level.bits(), Ordering::Relaxed);
    // After the copy: a call whose signal count (read with Acquire) includes this signal sees
    // the condition in `level` (see `after_call`).
    sock.io().signals.fetch_add(1, Ordering::Release);
    let mut fired = 0;
    if ready.contains(Ready::CONNECT) {
        match error {
            Some(e) => st.connect_error = Some(e),
            None => {
                st.connect_error = None;
                st.events.connected();
            }
        }
        fired |= st.events.occur(FD_CONNECT, code);
        if error.is_none() {
            fired |= st.events.occur(FD_WRITE, 0);
        }
    }
    if ready.contains(Ready::CLOSE) {
        if error.is_some() {
            st.close_error = error;
        }
        let close_code = st.close_error.map_or(0, WsaError::code);
        fired |= st.events.occur(FD_CLOSE, close_code);
    }
    fired |= st
        .events
        .occur(ready.bits() & (FD_READ | FD_WRITE | FD_ACCEPT), 0);
    let target = st.target;
    // SAFETY: the upcall table is the one ws2_32 passed to WSPStartup.
    unsafe { announce(sock.upcalls(), sock.handle(), target, &st.events, fired) };
}

/// The socket's readiness now: the provider's answer (by default, the conditions signalled
/// and not since refuted by a `WSAEWOULDBLOCK`), with `ACCEPT` while a deferred connection
/// waits ([`keep`]); nothing if it panicked (see [`try_readiness`]).
pub(crate) fn readiness<S: Socket>(sock: &S) -> Ready {
    try_readiness(sock).unwrap_or(Ready::NONE)
}

/// The provider's answer, or [`PANIC_ERROR`] if it panicked (`WSPSelect` then fails rather
/// than wait for a socket whose readiness it cannot learn).
pub(crate) fn try_readiness<S: Socket>(sock: &S) -> Result<Ready, WsaError> {
    let now = catch(|| Ok(sock.readiness()))?;
    Ok(if sock.io().has_kept.load(Ordering::Acquire) {
        now | Ready::ACCEPT
    } else {
        now
    })
}

/// The connection at the top of listener `sock`'s backlog if the runtime holds it (an
/// accept deferred it): the next accept takes it, before asking the provider.
pub(crate) fn take_kept<S: Socket>(sock: &S) -> Option<(S::Conn, SockAddr)> {
    if !sock.io().has_kept.load(Ordering::Acquire) {
        return None;
    }
    let mut kept = lock(&sock.io().kept);
    let next = kept.pop_front();
    sock.io()
        .has_kept
        .store(!kept.is_empty(), Ordering::Release);
    next
}

/// Keeps a connection an accept took and did not hand out (its condition function deferred
/// it) for the next accept: on top of the backlog if it came from there (`again`, from
/// [`take_kept`]), else after the connections kept already, which came before it. A listener
/// that is closing lets the provider close it instead.
pub(crate) fn keep<S: Socket>(sock: &S, conn: S::Conn, peer: SockAddr, again: bool) {
    let ops = lock(&sock.io().ops);
    if ops.closed {
        drop(ops);
        let _ = catch(|| {
            sock.discard(conn);
            Ok(())
        });
        return;
    }
    let mut kept = lock(&sock.io().kept);
    if again {
        kept.push_front((conn, peer));
    } else {
        kept.push_back((conn, peer));
    }
    sock.io().has_kept.store(true, Ordering::Release);
}

/// The listener is closing: the provider closes the connections kept for later accepts.
pub(crate) fn discard_kept<S: Socket>(sock: &S) {
    let kept: Vec<(S::Conn, SockAddr)> = {
        let mut kept = lock(&sock.io().kept);
        sock.io().has_kept.store(false, Ordering::Release);
        kept.drain(..).collect()
    };
    for (conn, _) in kept {
        let _ = catch(|| {
            sock.discard(conn);
            Ok(())
        });
    }
}

/// The conditions signalled and not since refuted.
pub(crate) fn signalled<S: Socket>(sock: &S) -> Ready {
    lock(&sock.io().notify).level
}

/// The error of the last failed connection attempt, if the socket has not connected since.
pub(crate) fn connect_error<S: Socket>(sock: &S) -> Option<WsaError> {
    lock(&sock.io().notify).connect_error
}

/// Bookkeeping after a call of the kind that re-enables `bit` (`FD_READ`: receives,
/// `FD_WRITE`: sends, `FD_ACCEPT`: accepts) returned `result`: `WSAEWOULDBLOCK` refutes the
/// condition (and arms `FD_WRITE`); whatever the result, the event is re-enabled and, if the
/// condition holds now, recorded again. The one exception is an accept whose condition
/// function deferred the connection (`WSATRY_AGAIN`): it re-enables nothing, so `FD_ACCEPT`
/// stays quiet until an accept decides (`WSAEventSelect`'s re-enabling rules).
///
/// Use through [`call`], which notes the socket's signal count before the provider runs.
#[inline(always)]
fn after_call<S: Socket, T>(sock: &S, seq: u64, bit: u32, result: &Result<T, WsaError>) {
    if bit == FD_ACCEPT && matches!(result, Err(e) if *e == WsaError::TRY_AGAIN) {
        return;
    }
    let would_block = matches!(result, Err(e) if *e == WsaError::WOULDBLOCK);
    // The common case, a call on a socket whose event is not selected that did not block,
    // changes nothing: decide it without the lock (a selection racing with this call may miss
    // its re-enabling, as if the call had come just before the selection).
    let selected = sock.io().selected.load(Ordering::Relaxed) & bit != 0;
    if !would_block && (bit == FD_WRITE || !selected) {
        return;
    }
    // On a socket whose event is not selected, a would-block (other than a send's, which arms
    // `FD_WRITE`) only refutes a recorded condition. If the copy lacks it, either it is not
    // recorded, or a signal recorded it that this call's signal count did not include (the
    // count is bumped after the copy is written): a signal racing with the call, which
    // stands. Either way there is nothing to do.
    if would_block
        && bit != FD_WRITE
        && !selected
        && sock.io().level.load(Ordering::Relaxed) & bit == 0
    {
        return;
    }
    after_call_slow(sock, seq, bit, would_block);
}

/// Runs a provider call of the kind that re-enables `bit` (`FD_READ`: receives, `FD_WRITE`:
/// sends, `FD_ACCEPT`: accepts) and does the bookkeeping of [`after_call`] for its result.
#[inline(always)]
pub(crate) fn call<S: Socket, T>(
    sock: &S,
    bit: u32,
    f: impl FnOnce() -> Result<T, WsaError>,
) -> Result<T, WsaError> {
    let seq = sock.io().signals.load(Ordering::Acquire);
    let result = f();
    after_call(sock, seq, bit, &result);
    result
}

#[cold]
#[inline(never)]
fn after_call_slow<S: Socket>(sock: &S, seq: u64, bit: u32, would_block: bool) {
    let mut st = lock(&sock.io().notify);
    if would_block {
        // `WSAEWOULDBLOCK` refutes the condition, unless it was signalled while the provider
        // ran: then the signal may be newer than the failure, and it stands.
        if sock.io().signals.load(Ordering::Relaxed) == seq {
            st.level = st.level.without(Ready::from_bits(bit));
            sock.io().level.store(st.level.bits(), Ordering::Relaxed);
        }
        // A failed call re-enables its event as a successful one does ("any call to the
        // reenabling routine, even one that fails"); a send's arms `FD_WRITE`.
        let rearmed = if bit == FD_WRITE {
            st.events.send_would_block();
            true
        } else if st.events.mask() & bit != 0 {
            st.events.reenable(bit);
            true
        } else {
            false
        };
        drop(st);
        // A signal that came between the failure and the re-enabling above found the event
        // disabled and was not announced: look again now that it is enabled.
        if rearmed && readiness(sock).bits() & bit != 0 {
            record(sock, Ready::from_bits(bit), None);
        }
        return;
    }
    if bit == FD_WRITE || st.events.mask() & bit == 0 {
        return;
    }
    st.events.reenable(bit);
    drop(st);
    if readiness(sock).bits() & bit != 0 {
        record(sock, Ready::from_bits(bit), None);
    }
}

/// A connection attempt completed inside the provider's `connect` (success): `FD_CONNECT`
/// and `FD_WRITE` as for a completion signalled later.
pub(crate) fn connected<S: Socket>(sock: &S) {
    record(sock, Ready::CONNECT | Ready::WRITE, None);
    signals::bump();
}

/// `WSPEventSelect` / `WSPAsyncSelect`: a new selection (`mask == 0` cancels), which clears
/// the record and puts the socket in non-blocking mode; events whose conditions hold now are
/// recorded at once.
pub(crate) fn select_events<S: Socket>(sock: &S, target: Target, mask: u32) {
    {
        let mut st = lock(&sock.io().notify);
        st.events.select(mask);
        sock.io()
            .selected
            .store(st.events.mask(), Ordering::Relaxed);
        st.target = if mask == 0 { Target::None } else { target };
    }
    if mask == 0 {
        return;
    }
    sock.io().set_nonblocking(true);
    let now = readiness(sock);
    let error = if now.contains(Ready::CLOSE) {
        lock(&sock.io().notify).close_error
    } else {
        None
    };
    record(sock, now.without(Ready::CONNECT), error);
}

/// Whether an event selection is active (FIONBIO cannot turn non-blocking mode off then).
pub(crate) fn selecting<S: Socket>(sock: &S) -> bool {
    lock(&sock.io().notify).events.mask() != 0
}

/// The selection of a listener, for the sockets it accepts (they inherit it).
pub(crate) fn selection_of<S: Socket>(sock: &S) -> (Target, u32) {
    let st = lock(&sock.io().notify);
    (st.target, st.events.mask())
}

/// `WSPEnumNetworkEvents`: the record, cleared, and `event` reset if given.
pub(crate) fn enum_events<S: Socket>(sock: &S, event: sys::HANDLE) -> sys::WSANETWORKEVENTS {
    let mut st = lock(&sock.io().notify);
    let out = st.events.take();
    if !event.is_null() {
        if let Some(reset) = sock.upcalls().lpWPUResetEvent {
            let mut err = 0;
            // SAFETY: a ws2_32 upcall, given the application's event.
            unsafe { reset(event as sys::WSAEVENT, &mut err) };
        }
    }
    out
}

/// The socket is closing: no more announcements.
pub(crate) fn forget_selection<S: Socket>(sock: &S) {
    let mut st = lock(&sock.io().notify);
    st.events = EventState::default();
    st.target = Target::None;
}
