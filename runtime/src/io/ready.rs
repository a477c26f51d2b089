//! Readiness: what a provider signals.
//!
//! A provider signals each change once ([`Notifier::ready`], `Sock::ready`); the runtime
//! records network events by Microsoft's re-enabling rules, signals the selected event or posts
//! the selected window message, wakes `WSPSelect` callers and retries pending overlapped
//! operations.

use crate::host::{catch, lock};
use crate::sys::{FD_ACCEPT, FD_CLOSE, FD_CONNECT, FD_READ, FD_WRITE};
use crate::types::error::WsaError;
use core::fmt;
use std::sync::{Arc, Mutex, Weak};

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
/// Not `Send + Sync` as a trait bound: it is implemented for every [`Socket`](super::Socket),
/// which is `Send + Sync` by that trait's contract while the compiler cannot always see it;
/// [`Notifier`] asserts it instead.
pub(crate) trait Driver {
    /// Records a signal and wakes waiters; returns whether the socket has overlapped requests
    /// to retry (which [`schedule`](super::deferred::schedule) then arranges).
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

// SAFETY: every `Driver` is a `Socket` (the one impl is the blanket impl over them), which is
// Send + Sync by that trait's contract.
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
            let _ = catch(|| {
                if driver.signal(ready, error) {
                    super::deferred::schedule(weak.clone());
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
