//! Readiness of the sockets below: each lower socket is event-selected (all `FD_*` events) with
//! an event from the `WPUCreateEvent` upcall; watcher threads, one per 63 sockets, wait on those
//! events (`WaitForMultipleObjectsEx`, or the host's wait hook off Windows), read what happened
//! with `WSPEnumNetworkEvents` and pass it on to the layer socket: as readiness to the runtime
//! (its [`Notifier`]) and as a wake-up to calls blocked in the layer.

use super::lower::LowerProvider;
use crate::error::WsaError;
use crate::notify::{Notifier, Ready};
use crate::sys::{self, SOCKET, WSAEVENT, WSPUPCALLTABLE};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// `FD_READ | FD_WRITE | FD_OOB | FD_ACCEPT | FD_CONNECT | FD_CLOSE`.
const ALL_EVENTS: u32 =
    sys::FD_READ | sys::FD_WRITE | sys::FD_OOB | sys::FD_ACCEPT | sys::FD_CONNECT | sys::FD_CLOSE;
/// Events per watcher thread: 64 handles per wait, one of them the thread's control event.
const PER_THREAD: usize = 63;
const WAIT_OBJECT_0: u32 = 0;
const INFINITE: u32 = 0xFFFF_FFFF;

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
    /// A connect is in progress below (its `FD_CONNECT` belongs to the layer socket).
    connecting: bool,
    /// The outcome of the last connect that completed below.
    connected: Option<Result<(), WsaError>>,
}

/// The watched side of one layer socket.
#[derive(Default)]
pub(crate) struct Watched {
    seen: Mutex<Seen>,
    changed: Condvar,
    notifier: Mutex<Notifier>,
}

impl Watched {
    pub(crate) fn set_notifier(&self, notifier: Notifier) {
        *lock(&self.notifier) = notifier;
    }

    /// The current event count, to wait for a change after an attempt.
    pub(crate) fn seq(&self) -> u64 {
        lock(&self.seen).seq
    }

    /// Waits until events arrive after `seq` was read; `WSAEINTR` once the socket is closed.
    pub(crate) fn wait_change(&self, seq: u64) -> Result<(), WsaError> {
        let mut seen = lock(&self.seen);
        while seen.seq == seq && !seen.closed {
            seen = self.changed.wait(seen).unwrap_or_else(|e| e.into_inner());
        }
        if seen.closed {
            Err(WsaError::INTR)
        } else {
            Ok(())
        }
    }

    /// A connect is now in progress below.
    pub(crate) fn start_connect(&self) {
        let mut seen = lock(&self.seen);
        seen.connecting = true;
        seen.connected = None;
    }

    /// Waits for the outcome of the connect in progress.
    pub(crate) fn wait_connect(&self) -> Result<(), WsaError> {
        let mut seen = lock(&self.seen);
        loop {
            if seen.closed {
                return Err(WsaError::INTR);
            }
            if let Some(outcome) = seen.connected.take() {
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

    /// Passes on what `WSPEnumNetworkEvents` reported. `now` is what the socket below is
    /// ready for at delivery (readable, writable): a read, write or accept condition that a
    /// call has consumed since it was recorded is not announced.
    fn deliver(&self, events: &sys::WSANETWORKEVENTS, now: Option<(bool, bool)>) {
        let mut bits = events.lNetworkEvents as u32;
        if bits == 0 {
            return;
        }
        let code = |bit: u32| {
            let e = events.iErrorCode[bit.trailing_zeros() as usize];
            if e == 0 {
                None
            } else {
                Some(WsaError::from_code(e))
            }
        };
        let forward_connect = {
            let mut seen = lock(&self.seen);
            seen.seq = seen.seq.wrapping_add(1);
            let mine = bits & sys::FD_CONNECT != 0 && seen.connecting;
            if mine {
                seen.connecting = false;
                seen.connected = Some(match code(sys::FD_CONNECT) {
                    None => Ok(()),
                    Some(e) => Err(e),
                });
            }
            mine
        };
        self.changed.notify_all();
        if let Some((readable, writable)) = now {
            if !readable {
                bits &= !(sys::FD_READ | sys::FD_OOB | sys::FD_ACCEPT);
            }
            if !writable {
                bits &= !sys::FD_WRITE;
            }
        }
        let notifier = lock(&self.notifier).clone();
        for bit in [sys::FD_READ, sys::FD_WRITE, sys::FD_ACCEPT, sys::FD_CLOSE] {
            if bits & bit != 0 {
                signal(&notifier, bit, code(bit));
            }
        }
        if bits & sys::FD_OOB != 0 {
            signal(&notifier, sys::FD_READ, None);
        }
        // A connect finished inside a layer call was announced by the runtime already.
        if forward_connect {
            signal(&notifier, sys::FD_CONNECT, code(sys::FD_CONNECT));
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
type WaitFn = crate::hooks::WaitForEventsFn;

/// The wait the watchers use: the host's hook, else (on Windows) kernel32's.
fn wait_fn() -> Option<WaitFn> {
    if let Some(f) = crate::hooks::wait_for_events() {
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
    /// Events of removed entries, closed by the thread once it no longer waits on them.
    retired: Vec<WSAEVENT>,
    exit: bool,
}

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
}

impl Watcher {
    /// `WSAEPROVIDERFAILEDINIT` when the host offers no way to wait on its events.
    pub(crate) fn new(upcalls: WSPUPCALLTABLE) -> Result<Watcher, WsaError> {
        let wait = match wait_fn() {
            Some(f) => f,
            None => {
                crate::panic::log(
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
        let event = self.create_event()?;
        if let Err(e) = provider.event_select(lower, event, ALL_EVENTS) {
            Watcher::close_event(&self.upcalls, event);
            return Err(e);
        }
        let group = match self.group_with_room() {
            Ok(g) => g,
            Err(e) => {
                let _ = provider.event_select(lower, 0, 0);
                Watcher::close_event(&self.upcalls, event);
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
                state.retired.push(entry.event);
                drop(state);
                Watcher::set_event(&self.upcalls, group.control);
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
    }
}

/// The watcher thread of `group`.
fn run(group: &Group, upcalls: &WSPUPCALLTABLE, wait: WaitFn) {
    let reset = upcalls.lpWPUResetEvent;
    loop {
        let handles: Vec<WSAEVENT> = {
            let mut state = lock(&group.state);
            for event in state.retired.drain(..) {
                Watcher::close_event(upcalls, event);
            }
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
        // SAFETY: events from WPUCreateEvent, all open: only this thread closes them, and only
        // when it is not waiting.
        let r = unsafe { wait(handles.len() as u32, handles.as_ptr(), 0, INFINITE, 0) };
        if r == WAIT_OBJECT_0 {
            if let Some(f) = reset {
                let mut errno = 0;
                // SAFETY: the group's own control event, open until the thread has ended.
                unsafe { f(group.control, &mut errno) };
            }
            continue;
        }
        if r >= handles.len() as u32 {
            // A failed wait (a closed handle): take a fresh snapshot rather than spin on it.
            std::thread::yield_now();
            continue;
        }
        let state = lock(&group.state);
        for entry in &state.entries {
            if let Ok(events) = entry.provider.enum_network_events(entry.lower, entry.event) {
                if events.lNetworkEvents == 0 {
                    continue;
                }
                let now = entry
                    .provider
                    .poll(entry.lower)
                    .ok()
                    .map(|(r, w, _)| (r, w));
                entry.watched.deliver(&events, now);
            }
        }
    }
}
