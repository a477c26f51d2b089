//! Readiness routing: from a transport's queues to the notifiers of the socket that owns them.
//!
//! A socket's queues signal through a [`Slot`], which points at the socket's [`Watchers`]: the
//! notifiers of its descriptors (one per descriptor; a duplicated socket has several). Both
//! keep what is signalled before they have anywhere to send it, so no signal is lost in the
//! windows a transport cannot avoid:
//! - a connection signals before [`Provider::attached`] gave its socket a notifier (data
//!   arriving on an accepted connection before the application's first call): the
//!   [`Watchers`] replay it to the first notifier attached;
//! - a queue signals before it belongs to a socket (a connection waiting in an accept
//!   queue): the [`Slot`] replays it to the watchers it is pointed at;
//! - `AcceptEx` moves a connection from the socket `accept` made (never attached) into the
//!   application's socket ([`Provider::adopt`]): re-pointing the slot with [`Slot::set`]
//!   carries over what the first socket's watchers were keeping.
//!
//! Signals are delivered with the slot's and the watchers' locks held (a [`Notifier`] never
//! calls back into the provider), which is what makes the hand-overs above exact: a signal
//! is either delivered before a hand-over or kept and carried by it.
//!
//! [`Provider::attached`]: winsock_provider::Provider::attached
//! [`Provider::adopt`]: winsock_provider::Provider::adopt

use crate::sync::lock;
use std::sync::{Arc, Mutex};
use winsock_provider::{Notifier, Ready, WsaError};

/// Where signals end up: a [`Notifier`] (or, in tests, a recorder).
pub(crate) trait Sink: Send + Sync {
    /// Delivers `ready`, with `error` for `CONNECT`/`CLOSE` if any.
    fn deliver(&self, ready: Ready, error: Option<WsaError>);
}

impl Sink for Notifier {
    fn deliver(&self, ready: Ready, error: Option<WsaError>) {
        match error {
            Some(e) => self.ready_with_error(ready, e),
            None => self.ready(ready),
        }
    }
}

/// Signals kept until there is somewhere to send them: the conditions, and the last error.
#[derive(Default)]
struct Kept {
    ready: Ready,
    error: Option<WsaError>,
}

impl Kept {
    fn add(&mut self, ready: Ready, error: Option<WsaError>) {
        self.ready |= ready;
        if error.is_some() {
            self.error = error;
        }
    }

    fn take(&mut self) -> Option<(Ready, Option<WsaError>)> {
        let kept = core::mem::take(self);
        if kept.ready.is_empty() {
            None
        } else {
            Some((kept.ready, kept.error))
        }
    }
}

#[derive(Default)]
struct Targets {
    sinks: Vec<Box<dyn Sink>>,
    /// Signalled while `sinks` was empty.
    kept: Kept,
}

/// The notifiers of one socket's descriptors. Signals sent before the first notifier is
/// attached are kept and replayed to it.
#[derive(Default)]
pub struct Watchers(Mutex<Targets>);

impl Watchers {
    /// A new set without notifiers, to share between a socket and its queues' [`Slot`]s.
    pub fn new() -> Arc<Watchers> {
        Arc::new(Watchers::default())
    }

    /// Adds a descriptor's notifier (call it from [`Provider::attached`] with
    /// `sock.notifier()`). The first one receives what was signalled before.
    ///
    /// [`Provider::attached`]: winsock_provider::Provider::attached
    pub fn attach(&self, notifier: Notifier) {
        self.attach_sink(Box::new(notifier));
    }

    pub(crate) fn attach_sink(&self, sink: Box<dyn Sink>) {
        let mut t = lock(&self.0);
        if let Some((ready, error)) = t.kept.take() {
            sink.deliver(ready, error);
        }
        t.sinks.push(sink);
    }

    /// Signals `ready` to every descriptor (see [`Notifier::ready`]).
    pub fn signal(&self, ready: Ready) {
        self.send(ready, None);
    }

    /// Signals `ready` with `error` (a failed connect, a reset) to every descriptor (see
    /// [`Notifier::ready_with_error`]).
    pub fn signal_error(&self, ready: Ready, error: WsaError) {
        self.send(ready, Some(error));
    }

    fn send(&self, ready: Ready, error: Option<WsaError>) {
        let mut t = lock(&self.0);
        if t.sinks.is_empty() {
            t.kept.add(ready, error);
        }
        for sink in &t.sinks {
            sink.deliver(ready, error);
        }
    }

    /// What was kept for the first notifier, given up (a socket that will never be attached
    /// hands it to the socket taking its place).
    fn take_kept(&self) -> Option<(Ready, Option<WsaError>)> {
        lock(&self.0).kept.take()
    }
}

#[derive(Default)]
struct SlotState {
    target: Option<Arc<Watchers>>,
    /// Signalled while there was no target.
    kept: Kept,
}

/// A queue's link to the socket it currently belongs to. Signals sent while it points
/// nowhere are kept and delivered when [`Slot::set`] points it at a socket's watchers.
#[derive(Default)]
pub struct Slot(Mutex<SlotState>);

impl Slot {
    /// A slot pointing nowhere yet.
    pub fn new() -> Slot {
        Slot::default()
    }

    /// Points the slot at `watchers`, delivering what was kept. Re-pointing it (`AcceptEx`:
    /// [`Provider::adopt`]) also carries over what the previous watchers kept because none of
    /// their notifiers was attached yet.
    ///
    /// [`Provider::adopt`]: winsock_provider::Provider::adopt
    pub fn set(&self, watchers: &Arc<Watchers>) {
        let mut st = lock(&self.0);
        let mut kept = core::mem::take(&mut st.kept);
        if let Some((ready, error)) = st.target.as_ref().and_then(|old| old.take_kept()) {
            kept.add(ready, error);
        }
        if let Some((ready, error)) = kept.take() {
            watchers.send(ready, error);
        }
        st.target = Some(watchers.clone());
    }

    /// Signals `ready` to the socket's descriptors (or keeps it).
    pub fn signal(&self, ready: Ready) {
        self.send(ready, None);
    }

    /// Signals `ready` with `error` (or keeps both).
    pub fn signal_error(&self, ready: Ready, error: WsaError) {
        self.send(ready, Some(error));
    }

    fn send(&self, ready: Ready, error: Option<WsaError>) {
        let mut st = lock(&self.0);
        match &st.target {
            Some(w) => w.send(ready, error),
            None => st.kept.add(ready, error),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::thread;

    /// A sink recording every signal.
    #[derive(Clone, Default)]
    pub(crate) struct Recorder(pub(crate) Arc<Mutex<Vec<Signal>>>);

    type Signal = (Ready, Option<WsaError>);

    impl Sink for Recorder {
        fn deliver(&self, ready: Ready, error: Option<WsaError>) {
            lock(&self.0).push((ready, error));
        }
    }

    impl Recorder {
        /// The union of every condition delivered.
        pub(crate) fn seen(&self) -> Ready {
            lock(&self.0)
                .iter()
                .fold(Ready::NONE, |acc, (r, _)| acc | *r)
        }

        pub(crate) fn last_error(&self) -> Option<WsaError> {
            lock(&self.0).iter().rev().find_map(|(_, e)| *e)
        }
    }

    #[test]
    fn watchers_replay_to_the_first_notifier_only() {
        let w = Watchers::new();
        w.signal(Ready::READ);
        w.signal_error(Ready::CLOSE, WsaError::CONNRESET);
        let (a, b) = (Recorder::default(), Recorder::default());
        w.attach_sink(Box::new(a.clone()));
        assert_eq!(
            *lock(&a.0),
            vec![(Ready::READ | Ready::CLOSE, Some(WsaError::CONNRESET))]
        );
        w.attach_sink(Box::new(b.clone()));
        assert!(lock(&b.0).is_empty());
        w.signal(Ready::WRITE);
        assert_eq!(a.seen(), Ready::READ | Ready::CLOSE | Ready::WRITE);
        assert_eq!(b.seen(), Ready::WRITE);
        // A real notifier not connected to any socket ignores signals.
        w.attach(Notifier::detached());
        w.signal(Ready::ACCEPT);
    }

    #[test]
    fn slot_keeps_until_set_and_carries_over_on_retarget() {
        let slot = Slot::new();
        slot.signal(Ready::READ);
        let first = Watchers::new();
        slot.set(&first);
        slot.signal_error(Ready::CLOSE, WsaError::CONNABORTED);
        // `first` never got a notifier: re-targeting carries both signals over.
        let second = Watchers::new();
        slot.set(&second);
        let r = Recorder::default();
        second.attach_sink(Box::new(r.clone()));
        assert_eq!(r.seen(), Ready::READ | Ready::CLOSE);
        assert_eq!(r.last_error(), Some(WsaError::CONNABORTED));
        assert!(first.take_kept().is_none());
        slot.signal(Ready::WRITE);
        assert_eq!(r.seen(), Ready::READ | Ready::CLOSE | Ready::WRITE);
    }

    #[test]
    fn no_signal_is_lost_to_a_concurrent_attach_or_retarget() {
        for _ in 0..200 {
            let slot = Arc::new(Slot::new());
            let w1 = Watchers::new();
            let w2 = Watchers::new();
            let r = Recorder::default();
            let signaller = {
                let slot = slot.clone();
                thread::spawn(move || {
                    slot.signal(Ready::READ);
                    slot.signal(Ready::WRITE);
                    slot.signal(Ready::CLOSE);
                })
            };
            let attacher = {
                let (slot, w1, w2, r) = (slot.clone(), w1.clone(), w2.clone(), r.clone());
                thread::spawn(move || {
                    slot.set(&w1);
                    slot.set(&w2);
                    w2.attach_sink(Box::new(r));
                })
            };
            signaller.join().unwrap();
            attacher.join().unwrap();
            assert_eq!(r.seen(), Ready::READ | Ready::WRITE | Ready::CLOSE);
        }
    }
}
