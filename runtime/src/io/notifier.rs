//! The handle through which a provider's transport signals a socket's readiness, and how a
//! signal reaches the socket and its pending requests.

use super::deferred::schedule;
use super::ready::{Driver, Ready};
use crate::host::{catch, lock};
use crate::types::error::WsaError;
use core::fmt;
use std::sync::{Arc, Mutex, Weak};

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
                    schedule(weak.clone());
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
    fn detached_notifiers_ignore_signals() {
        Notifier::detached().ready(Ready::READ);
        Notifier::default().ready_with_error(Ready::CLOSE, WsaError::CONNRESET);
    }
}
