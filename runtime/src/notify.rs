//! Readiness: what a provider signals, and the network-event bookkeeping of `WSPEventSelect`,
//! `WSPAsyncSelect` and `WSPEnumNetworkEvents` driven from it.
//!
//! A provider signals each change once ([`Notifier::ready`], [`Sock::ready`]); the runtime
//! records network events by Microsoft's re-enabling rules, signals the selected event or posts
//! the selected window message, wakes `WSPSelect` callers and retries pending overlapped
//! operations.

use crate::error::WsaError;
use crate::sys::{self, FD_ACCEPT, FD_CLOSE, FD_CONNECT, FD_READ, FD_WRITE, HWND, SOCKET};
use core::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Instant;

/// Readiness conditions a provider signals.
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash)]
pub struct Ready(u32);

impl Ready {
    /// Nothing.
    pub const NONE: Ready = Ready(0);
    /// Data (or a datagram) is ready to be received.
    pub const READ: Ready = Ready(FD_READ);
    /// There is room to send.
    pub const WRITE: Ready = Ready(FD_WRITE);
    /// A connection is waiting to be accepted (listening sockets).
    pub const ACCEPT: Ready = Ready(FD_ACCEPT);
    /// A connection attempt finished: connected, or failed (signal it with
    /// [`Notifier::ready_with_error`]).
    pub const CONNECT: Ready = Ready(FD_CONNECT);
    /// The connection is closed: gracefully (no error) or reset / aborted (signal it with
    /// [`Notifier::ready_with_error`], e.g. `WSAECONNRESET`).
    pub const CLOSE: Ready = Ready(FD_CLOSE);

    /// From `FD_*` bits (others are dropped).
    pub const fn from_bits(bits: u32) -> Ready {
        Ready(bits & (FD_READ | FD_WRITE | FD_ACCEPT | FD_CONNECT | FD_CLOSE))
    }

    /// The `FD_*` bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every condition of `other` is set.
    pub const fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any condition of `other` is set.
    pub const fn intersects(self, other: Ready) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no condition is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// These conditions without those of `other`.
    pub const fn without(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl core::ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, rhs: Ready) -> Ready {
        Ready(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, rhs: Ready) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (FD_READ, "READ"),
            (FD_WRITE, "WRITE"),
            (FD_ACCEPT, "ACCEPT"),
            (FD_CONNECT, "CONNECT"),
            (FD_CLOSE, "CLOSE"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(b, _)| self.0 & b != 0)
            .map(|(_, n)| *n)
            .collect();
        write!(
            f,
            "Ready({})",
            if set.is_empty() {
                "NONE".to_owned()
            } else {
                set.join("|")
            }
        )
    }
}

/// The runtime side of one socket, as readiness signals reach it (type-erased so that a
/// provider's transport can hold it without knowing the provider type).
///
/// Not `Send + Sync` as a trait bound: its one implementation is `Sock<P>`, whose provider
/// state is `Send + Sync` (the only types `ThreadSafeSocket` is implemented for) while the
/// compiler cannot see that through the associated type; [`Notifier`] asserts it instead.
pub(crate) trait Driver {
    /// Records a signal and wakes waiters; returns whether the socket has overlapped requests
    /// to retry (which [`crate::deferred::schedule`] then arranges).
    fn signal(&self, ready: Ready, error: Option<WsaError>) -> bool;
    /// Retries the socket's pending overlapped requests (on a thread holding no provider lock).
    fn drive(&self);
}

/// A cloneable handle through which a provider's transport signals one socket's readiness,
/// from any thread. Obtained with [`Sock::notifier`](crate::Sock::notifier), typically in
/// [`Provider::attached`](crate::Provider::attached). It does not keep the socket alive: once
/// the socket is gone, signals are ignored.
///
/// Signalling never calls back into the provider on the signalling thread, so it may be done
/// while holding the provider's own locks: see [`Notifier::ready`].
#[derive(Clone, Default)]
pub struct Notifier(Option<Weak<dyn Driver>>);

// SAFETY: every `Driver` is a `Sock<P>`, which is Send + Sync: its provider state implements
// `ThreadSafeSocket`, implemented exactly for `Send + Sync` types (a blanket impl that
// coherence keeps the only one), and the runtime's own fields are Send + Sync.
unsafe impl Send for Notifier {}
// SAFETY: as above.
unsafe impl Sync for Notifier {}

impl Notifier {
    /// A notifier connected to no socket (signals are ignored).
    pub fn detached() -> Notifier {
        Notifier(None)
    }

    pub(crate) fn new(driver: Weak<dyn Driver>) -> Notifier {
        Notifier(Some(driver))
    }

    /// Signals conditions that became true (edge): data arrived, room freed, a connection is
    /// queued, the connection completed or closed gracefully.
    ///
    /// The signal records readiness, announces network events (`WPUSetEvent`,
    /// `WPUPostMessage`) and wakes `WSPSelect` callers; it never calls the provider on this
    /// thread, so it may be sent while holding locks the provider's methods take. The socket's
    /// pending overlapped requests are retried (calling `recv`, `send`, `accept`... in
    /// non-blocking mode) by a thread that holds none of them: when the signal is sent from
    /// inside a provider method the runtime called, at the end of that runtime entry point,
    /// after the method returned; otherwise, and when that entry point has not returned within
    /// a couple of milliseconds (a method that blocks after signalling), by the runtime's
    /// driver thread.
    pub fn ready(&self, ready: Ready) {
        self.send(ready, None);
    }

    /// Signals `CONNECT` (a failed connection attempt) or `CLOSE` (a reset or abort) with its
    /// error, which `FD_CONNECT` / `FD_CLOSE` carry in `iErrorCode` and select reports (a
    /// failed connect is in the except set).
    pub fn ready_with_error(&self, ready: Ready, error: WsaError) {
        self.send(ready, Some(error));
    }

    fn send(&self, ready: Ready, error: Option<WsaError>) {
        let weak = match self.0.as_ref() {
            Some(weak) => weak,
            None => return,
        };
        if let Some(driver) = weak.upgrade() {
            // A panic in the runtime's bookkeeping must not reach the provider's thread.
            let _ = crate::panic::catch(|| {
                if driver.signal(ready, error) {
                    crate::deferred::schedule(weak.clone());
                }
                Ok(())
            });
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Notifier(attached)"
        } else {
            "Notifier(detached)"
        })
    }
}

/// `FD_*_BIT`: the index of an `FD_*` event in `iErrorCode`.
pub(crate) fn fd_index(bit: u32) -> usize {
    bit.trailing_zeros() as usize
}

/// Network-event recording for one socket, by the re-enabling rules of `WSAEventSelect`:
/// once an event is recorded, it is not recorded again until its re-enabling call (`FD_READ`:
/// a receive; `FD_ACCEPT`: an accept; `FD_WRITE`: a send that failed with `WSAEWOULDBLOCK`,
/// after which room is signalled; `FD_CONNECT` and `FD_CLOSE`: never).
#[derive(Clone, Debug)]
pub(crate) struct EventState {
    /// The `FD_*` events selected (0: none).
    mask: u32,
    /// Recorded and awaiting their re-enabling call.
    disabled: u32,
    /// `FD_WRITE` may be recorded (on selection, after connecting, after `WSAEWOULDBLOCK`).
    write_armed: bool,
    /// Recorded since the last `WSPEnumNetworkEvents`.
    recorded: u32,
    errors: [i32; 10],
}

impl Default for EventState {
    fn default() -> EventState {
        EventState {
            mask: 0,
            disabled: 0,
            write_armed: true,
            recorded: 0,
            errors: [0; 10],
        }
    }
}

impl EventState {
    /// A new selection of `mask` (0 cancels): the record is cleared and every event enabled.
    pub(crate) fn select(&mut self, mask: u32) {
        *self = EventState {
            mask,
            ..EventState::default()
        };
    }

    /// The selected events.
    pub(crate) fn mask(&self) -> u32 {
        self.mask
    }

    /// Conditions `bits` hold (with `error` for `FD_CONNECT`/`FD_CLOSE`): returns the events
    /// newly recorded.
    pub(crate) fn occur(&mut self, bits: u32, error: i32) -> u32 {
        let mut fired = 0;
        for bit in [FD_READ, FD_WRITE, FD_ACCEPT, FD_CONNECT, FD_CLOSE] {
            if bits & bit == 0 || self.mask & bit == 0 || self.disabled & bit != 0 {
                continue;
            }
            if bit == FD_WRITE {
                if !self.write_armed {
                    continue;
                }
                self.write_armed = false;
            }
            self.disabled |= bit;
            self.recorded |= bit;
            self.errors[fd_index(bit)] = if bit == FD_CONNECT || bit == FD_CLOSE {
                error
            } else {
                0
            };
            fired |= bit;
        }
        fired
    }

    /// A re-enabling call for `bit` (`FD_READ` by a receive, `FD_ACCEPT` by an accept).
    pub(crate) fn reenable(&mut self, bit: u32) {
        if bit & (FD_CONNECT | FD_CLOSE | FD_WRITE) == 0 {
            self.disabled &= !bit;
        }
    }

    /// A send failed with `WSAEWOULDBLOCK`: the next room signal records `FD_WRITE`.
    pub(crate) fn send_would_block(&mut self) {
        self.write_armed = true;
        self.disabled &= !FD_WRITE;
    }

    /// The socket became connected: `FD_WRITE` may be recorded once more.
    pub(crate) fn connected(&mut self) {
        self.write_armed = true;
        self.disabled &= !FD_WRITE;
    }

    /// `WSPEnumNetworkEvents`: the record, which is then cleared.
    pub(crate) fn take(&mut self) -> sys::WSANETWORKEVENTS {
        let out = sys::WSANETWORKEVENTS {
            lNetworkEvents: self.recorded as i32,
            iErrorCode: self.errors,
        };
        self.recorded = 0;
        self.errors = [0; 10];
        out
    }

    /// The error recorded with `bit`.
    pub(crate) fn error_of(&self, bit: u32) -> i32 {
        self.errors[fd_index(bit)]
    }
}

/// Where recorded network events are announced.
#[derive(Copy, Clone)]
pub(crate) enum Target {
    /// No selection.
    None,
    /// `WSPEventSelect`: an event object, set with `WPUSetEvent`.
    Event(sys::WSAEVENT),
    /// `WSPAsyncSelect`: a window message posted with `WPUPostMessage`.
    Window(HWND, u32),
}

/// A socket's readiness and selection state.
pub(crate) struct NotifyState {
    /// Conditions signalled and not since refuted (the default readiness).
    pub(crate) level: Ready,
    /// The error of the last failed connection attempt (select's except set), if any.
    pub(crate) connect_error: Option<WsaError>,
    /// The error of a reset or abort, if the connection closed that way.
    pub(crate) close_error: Option<WsaError>,
    pub(crate) events: EventState,
    pub(crate) target: Target,
}

// SAFETY: the raw handles in `Target` are opaque values ws2_32 gave us (an event handle, a
// window handle), only passed back to ws2_32's upcalls, which accept them from any thread.
unsafe impl Send for NotifyState {}

impl NotifyState {
    pub(crate) fn new() -> NotifyState {
        NotifyState {
            level: Ready::NONE,
            connect_error: None,
            close_error: None,
            events: EventState::default(),
            target: Target::None,
        }
    }
}

/// Locks `m`, using the data of a poisoned lock as it is (every update keeps it consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Announces `fired` events of socket `handle` through `target` (under the socket's notify
/// lock, so that messages of one socket are posted in order).
///
/// # Safety
/// `upcalls` is the table ws2_32 passed to `WSPStartup`.
pub(crate) unsafe fn announce(
    upcalls: &sys::WSPUPCALLTABLE,
    handle: SOCKET,
    target: Target,
    events: &EventState,
    fired: u32,
) {
    if fired == 0 {
        return;
    }
    match target {
        Target::None => {}
        Target::Event(event) => {
            if let Some(set) = upcalls.lpWPUSetEvent {
                let mut err = 0;
                // SAFETY: a ws2_32 upcall, given the application's event.
                set(event, &mut err);
            }
        }
        Target::Window(hwnd, msg) => {
            if let Some(post) = upcalls.lpWPUPostMessage {
                // Events recorded together are posted in the order they happen in: a
                // connection completes before it is writable; it closes last.
                for bit in [FD_CONNECT, FD_ACCEPT, FD_READ, FD_WRITE, FD_CLOSE] {
                    if fired & bit != 0 {
                        let error = events.error_of(bit) as u32 & 0xffff;
                        let lparam = ((error << 16) | bit) as sys::LPARAM;
                        // SAFETY: a ws2_32 upcall, given the application's window and message.
                        post(hwnd, msg, handle, lparam);
                    }
                }
            }
        }
    }
}

/// A process-wide signal generation: `WSPSelect` callers wait for it to change.
struct Signals {
    generation: Mutex<u64>,
    changed: Condvar,
}

static SIGNALS: Signals = Signals {
    generation: Mutex::new(0),
    changed: Condvar::new(),
};

/// The current signal generation.
pub(crate) fn generation() -> u64 {
    *lock(&SIGNALS.generation)
}

/// Something changed: wake `WSPSelect` callers.
pub(crate) fn bump() {
    let mut g = lock(&SIGNALS.generation);
    *g = g.wrapping_add(1);
    drop(g);
    SIGNALS.changed.notify_all();
}

/// Waits until the generation differs from `seen` or `deadline` passes (`None`: forever).
/// Returns false on timeout.
pub(crate) fn wait_change(seen: u64, deadline: Option<Instant>) -> bool {
    let mut g = lock(&SIGNALS.generation);
    while *g == seen {
        match deadline {
            None => g = SIGNALS.changed.wait(g).unwrap_or_else(|e| e.into_inner()),
            Some(at) => {
                let now = Instant::now();
                if now >= at {
                    return false;
                }
                g = SIGNALS
                    .changed
                    .wait_timeout(g, at - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    }
    true
}

/// A socket record's notifier for itself (weak: it does not keep the record alive).
pub(crate) type SelfRef = Mutex<Notifier>;

/// Connects a socket record to its notifiers.
pub(crate) fn set_self<D: Driver + 'static>(slot: &SelfRef, strong: &Arc<D>) {
    let weak: Weak<dyn Driver> = Arc::downgrade(strong) as Weak<dyn Driver>;
    *lock(slot) = Notifier::new(weak);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_is_recorded_once_until_a_receive() {
        let mut e = EventState::default();
        e.select(FD_READ | FD_CLOSE);
        assert_eq!(e.occur(FD_READ, 0), FD_READ);
        assert_eq!(e.occur(FD_READ, 0), 0);
        let got = e.take();
        assert_eq!(got.lNetworkEvents, FD_READ as i32);
        // Enumerating does not re-enable; a receive does.
        assert_eq!(e.occur(FD_READ, 0), 0);
        e.reenable(FD_READ);
        assert_eq!(e.occur(FD_READ, 0), FD_READ);
        // Unselected events are never recorded.
        assert_eq!(e.occur(FD_ACCEPT, 0), 0);
    }

    #[test]
    fn write_needs_would_block_after_the_first() {
        let mut e = EventState::default();
        e.select(FD_WRITE);
        assert_eq!(e.occur(FD_WRITE, 0), FD_WRITE);
        e.reenable(FD_WRITE);
        assert_eq!(
            e.occur(FD_WRITE, 0),
            0,
            "a successful send does not re-enable"
        );
        e.send_would_block();
        assert_eq!(e.occur(FD_WRITE, 0), FD_WRITE);
        assert_eq!(e.occur(FD_WRITE, 0), 0);
        e.connected();
        assert_eq!(e.occur(FD_WRITE, 0), FD_WRITE);
    }

    #[test]
    fn connect_and_close_are_one_shot_with_errors() {
        let mut e = EventState::default();
        e.select(FD_CONNECT | FD_CLOSE | FD_READ);
        assert_eq!(
            e.occur(FD_CONNECT, WsaError::CONNREFUSED.code()),
            FD_CONNECT
        );
        assert_eq!(e.occur(FD_CONNECT, 0), 0);
        e.reenable(FD_CONNECT);
        assert_eq!(e.occur(FD_CONNECT, 0), 0);
        assert_eq!(
            e.occur(FD_CLOSE | FD_READ, WsaError::CONNRESET.code()),
            FD_CLOSE | FD_READ
        );
        let got = e.take();
        assert_eq!(got.lNetworkEvents, (FD_CONNECT | FD_CLOSE | FD_READ) as i32);
        assert_eq!(
            got.iErrorCode[fd_index(FD_CONNECT)],
            WsaError::CONNREFUSED.code()
        );
        assert_eq!(
            got.iErrorCode[fd_index(FD_CLOSE)],
            WsaError::CONNRESET.code()
        );
        assert_eq!(got.iErrorCode[fd_index(FD_READ)], 0);
        assert_eq!(e.take().lNetworkEvents, 0);
    }

    #[test]
    fn a_new_selection_clears_the_record() {
        let mut e = EventState::default();
        e.select(FD_ACCEPT);
        assert_eq!(e.occur(FD_ACCEPT, 0), FD_ACCEPT);
        e.select(FD_ACCEPT | FD_READ);
        assert_eq!(e.take().lNetworkEvents, 0);
        assert_eq!(e.occur(FD_ACCEPT, 0), FD_ACCEPT);
        e.select(0);
        assert_eq!(e.occur(FD_ACCEPT | FD_READ, 0), 0);
    }

    #[test]
    fn ready_bits_and_debug() {
        let r = Ready::READ | Ready::CLOSE;
        assert!(r.contains(Ready::READ) && !r.contains(Ready::WRITE));
        assert!(r.intersects(Ready::CLOSE | Ready::WRITE));
        assert_eq!(format!("{:?}", r), "Ready(READ|CLOSE)");
        assert_eq!(format!("{:?}", Ready::NONE), "Ready(NONE)");
        assert_eq!(Ready::from_bits(0xffff), Ready::from_bits(0x3b));
        assert_eq!(r.without(Ready::READ), Ready::CLOSE);
    }

    #[test]
    fn detached_notifiers_ignore_signals() {
        Notifier::detached().ready(Ready::READ);
        Notifier::default().ready_with_error(Ready::CLOSE, WsaError::CONNRESET);
    }
}
