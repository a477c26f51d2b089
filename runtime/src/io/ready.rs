//! Readiness: what a provider signals.
//!
//! A provider signals each change once ([`Notifier::ready`](crate::Notifier::ready), `Sock::ready`); the runtime
//! records network events by Microsoft's re-enabling rules, signals the selected event or posts
//! the selected window message, wakes `WSPSelect` callers and retries pending overlapped
//! operations.

use crate::sys::{FD_ACCEPT, FD_CLOSE, FD_CONNECT, FD_READ, FD_WRITE};
use crate::types::error::WsaError;
use core::fmt;

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
    /// [`Notifier::ready_with_error`](crate::Notifier::ready_with_error)).
    pub const CONNECT: Ready = Ready(FD_CONNECT);
    /// The connection is closed: gracefully (no error) or reset / aborted (signal it with
    /// [`Notifier::ready_with_error`](crate::Notifier::ready_with_error), e.g. `WSAECONNRESET`).
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
/// [`Notifier`](super::notifier::Notifier) asserts it instead.
pub(crate) trait Driver {
    /// Records a signal and wakes waiters; returns whether the socket has overlapped requests
    /// to retry (which [`schedule`](super::deferred::schedule) then arranges).
    fn signal(&self, ready: Ready, error: Option<WsaError>) -> bool;
    /// Retries the socket's pending overlapped requests (on a thread holding no provider lock).
    fn drive(&self);
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
}
