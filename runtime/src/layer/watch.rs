//! Readiness of the sockets below: each lower socket is event-selected (all `FD_*` events) with
//! an event from the `WPUCreateEvent` upcall; watcher threads, one per 63 sockets, wait on those
//! events (`WaitForMultipleObjectsEx`, or the host's wait hook off Windows), read what happened
//! with `WSPEnumNetworkEvents` and pass it on to the layer socket: as readiness to the runtime
//! (its [`Notifier`]) and as a wake-up to calls blocked in the layer.
//!
//! The watcher is an application of the provider below and keeps its re-enabling rules: once
//! `FD_READ` or `FD_ACCEPT` is recorded below, the provider records it again only after a
//! receive or an accept. A condition the watcher reads from the record but does not pass on
//! (a receive or accept consumed it meanwhile, or the provider signalled it late, after it
//! was consumed) is re-enabled below at once, by a receive that takes nothing or a new
//! selection of a listener, so that the next data or connection is recorded and announced.
//!
//! A safety net remains: every [`SWEEP_MS`] each watcher also asks every socket below what it
//! is ready for now and passes that on, so a wake-up lost anywhere else delays the layer
//! socket's pending requests by at most that long instead of stalling them.

use super::lower::LowerProvider;
use crate::io::notifier::Notifier;
use crate::io::ready::Ready;
use crate::sys::{self, SOCKET, WSAEVENT, WSPUPCALLTABLE};
use crate::types::error::WsaError;
use core::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `FD_READ | FD_WRITE | FD_OOB | FD_ACCEPT | FD_CONNECT | FD_CLOSE`.
const ALL_EVENTS: u32 =
    sys::FD_READ | sys::FD_WRITE | sys::FD_OOB | sys::FD_ACCEPT | sys::FD_CONNECT | sys::FD_CLOSE;
/// Events per watcher thread: 64 handles per wait, one of them the thread's control event.
const PER_THREAD: usize = 63;
const WAIT_OBJECT_0: u32 = 0;
const WAIT_TIMEOUT: u32 = 0x102;
/// How often a watcher passes on what every socket below is ready for now, recorded events or
/// not (the safety net).
const SWEEP_MS: u32 = 2000;
/// How long a watcher pauses after a failed wait before it waits again.
const FAILED_WAIT_PAUSE: Duration = Duration::from_millis(100);
/// How long a blocked call waits for an event below before asking the provider below again.
const RECHECK: std::time::Duration = std::time::Duration::from_millis(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What calls blocked on a layer socket wait for.
#[derive(Default)]
struct Seen {
    /// Bumped on every batch of lower events.
    seq: u64,
    /// The socket was closed: blocked calls give up.
    closed: bool,
    /// A connect call is running below: its outcome, if it arrives as `FD_CONNECT`, is kept.
    connecting: bool,
    /// That call returned `WSAEWOULDBLOCK`: its `FD_CONNECT` is the layer socket's too.
    pending: bool,
    /// The outcome of the last connect that completed below.
    connected: Option<Result<(), WsaError>>,
}

/// The watched side of one layer socket.
#[derive(Default)]
pub(crate) struct Watched {
    seen: Mutex<Seen>,
    changed: Condvar,
    notifier: Mutex<Notifier>,
    /// Held by the watcher from looking at the socket below to announcing what it saw, and by
    /// calls that consume a condition (receive, accept) around their call below: a condition
    /// is announced only if no such call consumed it in between.
    gate: Mutex<()>,
    /// The layer socket listens: readable below means a connection is waiting.
    listening: AtomicBool,
}

impl Watched {
    /// Runs a call below that consumes data or connections under the gate.
    pub(crate) fn consuming<T>(&self, call: impl FnOnce() -> T) -> T {
        let _gate = lock(&self.gate);
        call()
    }

    /// The layer socket listens from now on.
    pub(crate) fn set_listening(&self) {
        self.listening.store(true, Ordering::Relaxed);
    }

    pub(crate) fn set_notifier(&self, notifier: Notifier) {
        *lock(&self.notifier) = notifier;
    }

    /// The current event count, to wait for a change after an attempt.
    pub(crate) fn seq(&self) -> u64 {
        lock(&self.seen).seq
    }

    /// Waits until events arrive after `seq` was read, or at most [`RECHECK`] (a provider
    /// below that announces no readiness is asked again that often); `WSAEINTR` once the
    /// socket is closed.
    pub(crate) fn wait_change(&self, seq: u64) -> Result<(), WsaError> {
        let mut seen = lock(&self.seen);
        if seen.seq == seq && !seen.closed {
            seen = self
                .changed
                .wait_timeout(seen, RECHECK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if seen.closed {
            Err(WsaError::INTR)
        } else {
            Ok(())
        }
    }

    /// A connect call starts below.
    pub(crate) fn start_connect(&self) {
        let mut seen = lock(&self.seen);
        seen.connecting = true;
        seen.pending = false;
        seen.connected = None;
    }

    /// The connect call below finished at once (connected or refused).
    pub(crate) fn end_connect(&self) {
        let mut seen = lock(&self.seen);
        seen.connecting = false;
        seen.pending = false;
        seen.connected = None;
    }

    /// The connect call below returned `WSAEWOULDBLOCK`: from now on its `FD_CONNECT` is
    /// announced on the layer socket. If it already came, it is announced now and returned.
    pub(crate) fn pend_connect(&self) -> Option<Result<(), WsaError>> {
        let early = {
            let mut seen = lock(&self.seen);
            match seen.connected.take() {
                Some(outcome) => {
                    seen.connecting = false;
                    Some(outcome)
                }
                None => {
                    seen.pending = true;
                    None
                }
            }
        };
        if let Some(outcome) = early {
            let notifier = lock(&self.notifier).clone();
            signal(&notifier, sys::FD_CONNECT, outcome.err());
        }
        early
    }

    /// Waits for the outcome of the connect in progress.
    pub(crate) fn wait_connect(&self) -> Result<(), WsaError> {
        let mut seen = lock(&self.seen);
        loop {
            if seen.closed {
                return Err(WsaError::INTR);
            }
            if let Some(outcome) = seen.connected.take() {
                seen.connecting = false;
                seen.pending = false;
                return outcome;
            }
            seen = self.changed.wait(seen).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Wakes every blocked call for good.
    pub(crate) fn close(&self) {
        lock(&self.seen).closed = true;
        self.changed.notify_all();
    }

    /// Passes on what `WSPEnumNetworkEvents` reported. `readable` is whether the socket below
    /// is readable at delivery (`None`: unknown): a read or accept condition that a call has
    /// consumed since it was recorded is not announced. Returns the recorded events left out
    /// that way (which the caller re-enables below). Room to send is passed on even if it is
    /// gone again: its event comes back below only after a send that would block, which the
    /// layer socket's waiting senders make when they try again.
    fn deliver(&self, events: &sys::WSANETWORKEVENTS, readable: Option<bool>) -> u32 {
        let recorded = events.lNetworkEvents as u32;
        let mut bits = recorded;
        if bits == 0 {
            return 0;
        }
        let code = |bit: u32| {
            let e = events.iErrorCode[bit.trailing_zeros() as usize];
            if e == 0 {
                None
            } else {
                Some(WsaError::from_code(e))
            }
        };
        let (forward_connect, in_connect_call) = {
            let mut seen = lock(&self.seen);
            seen.seq = seen.seq.wrapping_add(1);
            let in_call = seen.connecting && !seen.pending;
            let mut forward = false;
            if bits & sys::FD_CONNECT != 0 && seen.connecting {
                seen.connected = Some(match code(sys::FD_CONNECT) {
                    None => Ok(()),
                    Some(e) => Err(e),
                });
                if seen.pending {
                    forward = true;
                    seen.connecting = false;
                    seen.pending = false;
                }
            }
            (forward, in_call)
        };
        self.changed.notify_all();
        if readable == Some(false) {
            bits &= !(sys::FD_READ | sys::FD_OOB | sys::FD_ACCEPT);
        }
        if in_connect_call {
            // A connect that finishes inside the layer's call is announced by the runtime
            // (FD_CONNECT, then FD_WRITE) when the call returns.
            bits &= !sys::FD_WRITE;
        }
        let notifier = lock(&self.notifier).clone();
        if forward_connect {
            signal(&notifier, sys::FD_CONNECT, code(sys::FD_CONNECT));
        }
        for bit in [sys::FD_READ, sys::FD_WRITE, sys::FD_ACCEPT, sys::FD_CLOSE] {
            if bits & bit != 0 {
                signal(&notifier, bit, code(bit));
            }
        }
        if bits & sys::FD_OOB != 0 {
            signal(&notifier, sys::FD_READ, None);
        }
        recorded & !bits & (sys::FD_READ | sys::FD_ACCEPT)
    }

    /// Passes on what the socket below is ready for now (the safety net): `now` is whether it
    /// is readable and writable, `readable_bytes` what it holds to receive. Data, a waiting
    /// connection and room to send are signalled as they would be when they arrive, which the
    /// runtime announces only where its event rules allow (`FD_WRITE` after a would-block
    /// send, `FD_READ` once re-enabled); the end of the stream is not (the events below carry
    /// it, with its error).
    fn sweep(&self, now: (bool, bool), readable_bytes: usize) {
        let (readable, writable) = now;
        let mut bits = 0;
        if readable && self.listening.load(Ordering::Relaxed) {
            bits |= sys::FD_ACCEPT;
        } else if readable && readable_bytes > 0 {
            bits |= sys::FD_READ;
        }
        {
            let mut seen = lock(&self.seen);
            if seen.connecting && !seen.pending {
                // Announced by the runtime when the connect call returns.
                bits &= !sys::FD_WRITE;
            } else if writable {
                bits |= sys::FD_WRITE;
            }
            if bits == 0 {
                return;
            }
            seen.seq = seen.seq.wrapping_add(1);
        }
        self.changed.notify_all();
        let notifier = lock(&self.notifier).clone();
        for bit in [sys::FD_READ, sys::FD_WRITE, sys::FD_ACCEPT] {
            if bits & bit != 0 {
                signal(&notifier, bit, None);
            }
        }
    }
}

fn signal(notifier: &Notifier, bit: u32, error: Option<WsaError>) {
    match error {
        None => notifier.ready(Ready::from_bits(bit)),
        Some(e) => notifier.ready_with_error(Ready::from_bits(bit), e),
    }
}

/// `WaitForMultipleObjectsEx` over upcall events.
type WaitFn = crate::host::hooks::WaitForEventsFn;

/// The wait the watchers use: the host's hook, else (on Windows) kernel32's.
fn wait_fn() -> Option<WaitFn> {
    if let Some(f) = crate::host::hooks::wait_for_events() {
        return Some(f);
    }
    os_wait()
}

#[cfg(windows)]
fn os_wait() -> Option<WaitFn> {
    extern "system" {
        fn WaitForMultipleObjectsEx(
            count: u32,
            handles: *const WSAEVENT,
            wait_all: i32,
            timeout_ms: u32,
            alertable: i32,
        ) -> u32;
    }
    Some(WaitForMultipleObjectsEx)
}

#[cfg(not(windows))]
fn os_wait() -> Option<WaitFn> {
    None
}

/// One watched lower socket.
struct Entry {
    lower: SOCKET,
    provider: Arc<LowerProvider>,
    event: WSAEVENT,
    watched: Arc<Watched>,
}

#[derive(Default)]
struct GroupState {
    entries: Vec<Entry>,
    exit: bool,
}

/// Events no entry uses, reset, for the next sockets: creating and closing one per socket
/// would churn the host's handle values. A thread may still be waiting on one it took before
/// the entry went: when it is signalled for its new entry, that thread only wakes and looks
/// at its own entries once more.
type Spares = Arc<Mutex<Vec<WSAEVENT>>>;

/// Up to [`PER_THREAD`] watched sockets and the thread waiting on their events.
struct Group {
    state: Mutex<GroupState>,
    control: WSAEVENT,
    thread: Mutex<Option<JoinHandle<()>>>,
}

// SAFETY: the raw values inside (event handles, lower socket handles, function pointers) are
// plain numbers shared with the host and the lower provider, which allow use from any thread.
unsafe impl Send for Group {}
// SAFETY: as above; all mutable state is behind mutexes.
unsafe impl Sync for Group {}

/// The watcher threads of one layer instance.
pub(crate) struct Watcher {
    upcalls: WSPUPCALLTABLE,
    wait: WaitFn,
    groups: Mutex<Vec<Arc<Group>>>,
    spares: Spares,
}

impl Watcher {
    /// `WSAEPROVIDERFAILEDINIT` when the host offers no way to wait on its events.
    pub(crate) fn new(upcalls: WSPUPCALLTABLE) -> Result<Watcher, WsaError> {
        let wait = match wait_fn() {
            Some(f) => f,
            None => {
                crate::host::panic::log(
                    "winsock-provider: layer: the host supplied no wait for its events \
                     (HostHooks::wait_for_events)\n",
                );
                return Err(WsaError::PROVIDERFAILEDINIT);
            }
        };
        if upcalls.lpWPUCreateEvent.is_none()
            || upcalls.lpWPUCloseEvent.is_none()
            || upcalls.lpWPUSetEvent.is_none()
            || upcalls.lpWPUResetEvent.is_none()
        {
            return Err(WsaError::PROVIDERFAILEDINIT);
        }
        Ok(Watcher {
            upcalls,
            wait,
            groups: Mutex::new(Vec::new()),
            spares: Spares::default(),
        })
    }

    fn create_event(&self) -> Result<WSAEVENT, WsaError> {
        let f = self.upcalls.lpWPUCreateEvent.ok_or(WsaError::NOBUFS)?;
        let mut errno = 0;
        // SAFETY: a ws2_32 upcall with a writable errno.
        let e = unsafe { f(&mut errno) };
        if e == 0 {
            return Err(if errno == 0 {
                WsaError::NOBUFS
            } else {
                WsaError::from_code(errno)
            });
        }
        Ok(e)
    }

    fn close_event(upcalls: &WSPUPCALLTABLE, event: WSAEVENT) {
        if let Some(f) = upcalls.lpWPUCloseEvent {
            let mut errno = 0;
            // SAFETY: an event from WPUCreateEvent that nothing waits on any more.
            unsafe { f(event, &mut errno) };
        }
    }

    fn reset_event(upcalls: &WSPUPCALLTABLE, event: WSAEVENT) {
        if let Some(f) = upcalls.lpWPUResetEvent {
            let mut errno = 0;
            // SAFETY: an event from WPUCreateEvent, still open.
            unsafe { f(event, &mut errno) };
        }
    }

    fn set_event(upcalls: &WSPUPCALLTABLE, event: WSAEVENT) {
        if let Some(f) = upcalls.lpWPUSetEvent {
            let mut errno = 0;
            // SAFETY: an event from WPUCreateEvent, still open.
            unsafe { f(event, &mut errno) };
        }
    }

    /// Starts watching lower socket `lower` for `watched`.
    pub(crate) fn add(
        &self,
        lower: SOCKET,
        provider: &Arc<LowerProvider>,
        watched: &Arc<Watched>,
    ) -> Result<(), WsaError> {
        let spare = lock(&self.spares).pop();
        let event = match spare {
            Some(e) => e,
            None => self.create_event()?,
        };
        if let Err(e) = provider.event_select(lower, event, ALL_EVENTS) {
            lock(&self.spares).push(event);
            return Err(e);
        }
        let group = match self.group_with_room() {
            Ok(g) => g,
            Err(e) => {
                let _ = provider.event_select(lower, 0, 0);
                lock(&self.spares).push(event);
                return Err(e);
            }
        };
        lock(&group.state).entries.push(Entry {
            lower,
            provider: provider.clone(),
            event,
            watched: watched.clone(),
        });
        Watcher::set_event(&self.upcalls, group.control);
        Ok(())
    }

    /// Stops watching for `watched` (before its lower socket is closed).
    pub(crate) fn remove(&self, watched: &Arc<Watched>) {
        let groups: Vec<Arc<Group>> = lock(&self.groups).clone();
        for group in groups {
            let mut state = lock(&group.state);
            if let Some(i) = state
                .entries
                .iter()
                .position(|e| Arc::ptr_eq(&e.watched, watched))
            {
                let entry = state.entries.swap_remove(i);
                drop(state);
                let _ = entry.provider.event_select(entry.lower, 0, 0);
                Watcher::reset_event(&self.upcalls, entry.event);
                lock(&self.spares).push(entry.event);
                return;
            }
        }
    }

    fn group_with_room(&self) -> Result<Arc<Group>, WsaError> {
        let mut groups = lock(&self.groups);
        for g in groups.iter() {
            if lock(&g.state).entries.len() < PER_THREAD {
                return Ok(g.clone());
            }
        }
        let control = self.create_event()?;
        let group = Arc::new(Group {
            state: Mutex::new(GroupState::default()),
            control,
            thread: Mutex::new(None),
        });
        let runner = group.clone();
        let (upcalls, wait) = (self.upcalls, self.wait);
        let thread = std::thread::Builder::new()
            .name("wsp-layer-watch".to_owned())
            .spawn(move || run(&runner, &upcalls, wait))
            .map_err(|_| {
                Watcher::close_event(&self.upcalls, control);
                WsaError::NOBUFS
            })?;
        *lock(&group.thread) = Some(thread);
        groups.push(group.clone());
        Ok(group)
    }

    /// Stops every watcher thread and closes their events (at the layer's last clean-up).
    pub(crate) fn stop(&self) {
        let groups: Vec<Arc<Group>> = core::mem::take(&mut *lock(&self.groups));
        for group in groups {
            lock(&group.state).exit = true;
            Watcher::set_event(&self.upcalls, group.control);
            let thread = lock(&group.thread).take();
            if let Some(t) = thread {
                let _ = t.join();
            }
            Watcher::close_event(&self.upcalls, group.control);
        }
        for event in lock(&self.spares).drain(..) {
            Watcher::close_event(&self.upcalls, event);
        }
    }
}

/// The watcher thread of `group`.
fn run(group: &Group, upcalls: &WSPUPCALLTABLE, wait: WaitFn) {
    let every = Duration::from_millis(u64::from(SWEEP_MS));
    let mut swept = Instant::now();
    loop {
        let handles: Vec<WSAEVENT> = {
            let mut state = lock(&group.state);
            if state.exit {
                for entry in state.entries.drain(..) {
                    Watcher::close_event(upcalls, entry.event);
                }
                return;
            }
            Some(group.control)
                .into_iter()
                .chain(state.entries.iter().map(|e| e.event))
                .collect()
        };
        // SAFETY: events from WPUCreateEvent, all open: they are closed only when the watcher
        // stops, after this thread has ended.
        let r = unsafe { wait(handles.len() as u32, handles.as_ptr(), 0, SWEEP_MS, 0) };
        if r == WAIT_OBJECT_0 {
            Watcher::reset_event(upcalls, group.control);
            continue;
        }
        if r >= handles.len() as u32 && r != WAIT_TIMEOUT {
            // A failed wait: take a fresh snapshot (after a pause, rather than spin on it).
            std::thread::sleep(FAILED_WAIT_PAUSE);
            continue;
        }
        // The safety net: on a timeout, and at least every SWEEP_MS while other sockets keep
        // the thread busy.
        let sweep = r == WAIT_TIMEOUT || swept.elapsed() >= every;
        if sweep {
            swept = Instant::now();
        }
        let state = lock(&group.state);
        for entry in &state.entries {
            // The entries hold open sockets below: a close removes its entry first, which
            // waits for this scan (it holds the group's lock).
            scan(entry, sweep);
        }
    }
}

/// Passes on the events recorded below `entry`'s socket since the last look, and re-enables
/// below the read and accept events it read but left out: they were consumed meanwhile, or
/// signalled late, and the provider below records them again only after a re-enabling call.
/// With `sweep` and no events recorded, passes on what the socket below is ready for now.
fn scan(entry: &Entry, sweep: bool) {
    let events = entry
        .provider
        .enum_network_events(entry.lower, entry.event)
        .ok()
        .filter(|e| e.lNetworkEvents != 0);
    let events = match events {
        Some(events) => events,
        None if sweep => {
            let _gate = lock(&entry.watched.gate);
            if let Ok((readable, writable, _)) = entry.provider.poll(entry.lower) {
                let bytes = if readable {
                    entry.provider.bytes_readable(entry.lower).unwrap_or(0)
                } else {
                    0
                };
                entry.watched.sweep((readable, writable), bytes);
            }
            return;
        }
        None => return,
    };
    let _gate = lock(&entry.watched.gate);
    let readable = entry.provider.poll(entry.lower).ok().map(|(r, _, _)| r);
    let left_out = entry.watched.deliver(&events, readable);
    if left_out & sys::FD_READ != 0 {
        // A receive that takes nothing, under the gate (no receive of the layer runs).
        entry.provider.peek(entry.lower);
    }
    if left_out & sys::FD_ACCEPT != 0 {
        // A listener's only event: a new selection re-enables it (and records it at once if
        // a connection is waiting), without taking a connection.
        let _ = entry
            .provider
            .event_select(entry.lower, entry.event, ALL_EVENTS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::ready::Driver;
    use crate::sys::{FD_SET, TIMEVAL, WSABUF, WSATHREADID, WSPPROC_TABLE};
    use std::collections::HashMap;
    use std::sync::Weak;

    /// One socket of a provider below that keeps `WSAEventSelect`'s re-enabling rule for its
    /// one readable condition: `FD_READ`, or `FD_ACCEPT` on a listener.
    #[derive(Default)]
    struct Below {
        listening: bool,
        /// Bytes (or connections) waiting.
        waiting: usize,
        /// The event may be recorded (selected, and re-enabled since it last was).
        enabled: bool,
        /// Recorded since the last `WSPEnumNetworkEvents`.
        recorded: u32,
    }

    impl Below {
        fn bit(&self) -> u32 {
            if self.listening {
                sys::FD_ACCEPT
            } else {
                sys::FD_READ
            }
        }

        /// The provider signals its condition: recorded unless the event awaits its
        /// re-enabling call.
        fn signal(&mut self) {
            if self.enabled {
                self.recorded |= self.bit();
                self.enabled = false;
            }
        }

        /// A re-enabling call (or a new selection): recorded at once if the condition holds.
        fn reenable(&mut self) {
            self.enabled = true;
            if self.waiting > 0 {
                self.signal();
            }
        }
    }

    static BELOW: Mutex<Option<HashMap<SOCKET, Below>>> = Mutex::new(None);

    fn below<T>(s: SOCKET, f: impl FnOnce(&mut Below) -> T) -> T {
        let mut all = lock(&BELOW);
        f(all.get_or_insert_with(HashMap::new).entry(s).or_default())
    }

    unsafe extern "system" fn enum_events(
        s: SOCKET,
        _: sys::HANDLE,
        out: *mut sys::WSANETWORKEVENTS,
        _: *mut i32,
    ) -> i32 {
        let bits = below(s, |b| core::mem::take(&mut b.recorded));
        // SAFETY: the watcher's writable record.
        unsafe { (*out).lNetworkEvents = bits as i32 };
        0
    }

    unsafe extern "system" fn event_select(s: SOCKET, _: WSAEVENT, _: i32, _: *mut i32) -> i32 {
        below(s, |b| {
            b.recorded = 0;
            b.reenable();
        });
        0
    }

    unsafe extern "system" fn select(
        _: i32,
        read: *mut FD_SET,
        write: *mut FD_SET,
        except: *mut FD_SET,
        _: *const TIMEVAL,
        _: *mut i32,
    ) -> i32 {
        // SAFETY: the watcher's three sets, each holding its one socket.
        unsafe {
            let s = (*read).fd_array[0];
            if below(s, |b| b.waiting) == 0 {
                (*read).fd_count = 0;
            }
            (*write).fd_count = 0;
            (*except).fd_count = 0;
            (*read).fd_count as i32
        }
    }

    /// Only `MSG_PEEK` receives reach it: they take nothing.
    #[allow(clippy::too_many_arguments)]
    unsafe extern "system" fn recv(
        s: SOCKET,
        _: *const WSABUF,
        _: u32,
        got: *mut u32,
        _: *mut u32,
        _: *mut sys::OVERLAPPED,
        _: sys::LPWSAOVERLAPPED_COMPLETION_ROUTINE,
        _: *const WSATHREADID,
        errno: *const i32,
    ) -> i32 {
        let waiting = below(s, |b| {
            b.reenable();
            b.waiting
        });
        if waiting == 0 {
            // SAFETY: the caller's errno slot (declared const by the bindings, written as
            // ws2_32's is).
            unsafe { *(errno as *mut i32) = WsaError::WOULDBLOCK.code() };
            return sys::SOCKET_ERROR;
        }
        // SAFETY: the caller's writable count.
        unsafe { *got = 1 };
        0
    }

    /// The layer socket's side: the signals it gets.
    #[derive(Default)]
    struct Signals(Mutex<Vec<Ready>>);

    impl Driver for Signals {
        fn signal(&self, ready: Ready, _: Option<WsaError>) -> bool {
            lock(&self.0).push(ready);
            false
        }
        fn drive(&self) {}
    }

    /// A watched socket `s` below (selected), and what its layer socket hears.
    fn watch(s: SOCKET, listening: bool) -> (Entry, Arc<Signals>) {
        let provider = LowerProvider::from_table(WSPPROC_TABLE {
            lpWSPEnumNetworkEvents: Some(enum_events),
            lpWSPEventSelect: Some(event_select),
            lpWSPSelect: Some(select),
            lpWSPRecv: Some(recv),
            ..WSPPROC_TABLE::default()
        });
        let heard = Arc::new(Signals::default());
        let driver: Arc<dyn Driver> = heard.clone();
        let weak: Weak<dyn Driver> = Arc::downgrade(&driver);
        let watched = Arc::new(Watched::default());
        watched.set_notifier(Notifier::new(weak));
        below(s, |b| b.listening = listening);
        provider
            .event_select(s, 0, ALL_EVENTS)
            .expect("the selection below");
        let entry = Entry {
            lower: s,
            provider,
            event: 0,
            watched,
        };
        (entry, heard)
    }

    /// The provider below signals its condition late, after a call consumed what it stood
    /// for: the watcher reads it from the record and leaves it out, as nothing is there. The
    /// next arrival must still be announced, although the record took the event's one edge.
    fn late_signal_then_arrival(s: SOCKET, listening: bool, expected: Ready) {
        let (entry, heard) = watch(s, listening);
        below(s, Below::signal);
        scan(&entry, false);
        assert!(
            lock(&heard.0).is_empty(),
            "a condition that no longer holds is not announced"
        );
        below(s, |b| {
            b.waiting = 1;
            b.signal();
        });
        scan(&entry, false);
        assert_eq!(
            *lock(&heard.0),
            vec![expected],
            "the arrival after a late signal is announced"
        );
    }

    #[test]
    fn data_after_a_late_read_signal_is_announced() {
        late_signal_then_arrival(0x104, false, Ready::READ);
    }

    #[test]
    fn a_connection_after_a_late_accept_signal_is_announced() {
        late_signal_then_arrival(0x108, true, Ready::ACCEPT);
    }
}
