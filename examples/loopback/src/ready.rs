//! Readiness signalling: the notifiers of the descriptors open on one socket, which the
//! socket's queues (pipes, accept queue, datagram mailbox) signal when their state changes.

use crate::sync::lock;
use std::sync::{Arc, Mutex};
use winsock_provider::{Notifier, Ready, WsaError};

/// The notifiers to signal for one socket (one per descriptor: a duplicated socket has
/// several). Signals are sent without holding any of the transport's other locks.
#[derive(Default)]
pub(crate) struct Watchers(Mutex<Vec<Notifier>>);

impl Watchers {
    /// A new, empty set, shared by a socket and its queues.
    pub(crate) fn new() -> Arc<Watchers> {
        Arc::new(Watchers::default())
    }

    /// Adds a descriptor's notifier.
    pub(crate) fn add(&self, notifier: Notifier) {
        lock(&self.0).push(notifier);
    }

    /// Signals `ready` to every descriptor.
    pub(crate) fn signal(&self, ready: Ready) {
        let all = lock(&self.0).clone();
        for n in all {
            n.ready(ready);
        }
    }

    /// Signals `ready` with an error (a reset connection) to every descriptor.
    pub(crate) fn signal_error(&self, ready: Ready, error: WsaError) {
        let all = lock(&self.0).clone();
        for n in all {
            n.ready_with_error(ready, error);
        }
    }
}

/// Where a queue sends its signals: a socket's watchers, once known.
#[derive(Default)]
pub(crate) struct Slot(Mutex<Option<Arc<Watchers>>>);

impl Slot {
    /// Points the slot at a socket's watchers.
    pub(crate) fn set(&self, watchers: &Arc<Watchers>) {
        *lock(&self.0) = Some(watchers.clone());
    }

    /// Signals `ready` (nothing if no socket is attached yet).
    pub(crate) fn signal(&self, ready: Ready) {
        let w = lock(&self.0).clone();
        if let Some(w) = w {
            w.signal(ready);
        }
    }

    /// Signals `ready` with `error`.
    pub(crate) fn signal_error(&self, ready: Ready, error: WsaError) {
        let w = lock(&self.0).clone();
        if let Some(w) = w {
            w.signal_error(ready, error);
        }
    }
}
