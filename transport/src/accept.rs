//! A listener's queue of connections not yet accepted.

use crate::notify::Slot;
use crate::sync::{lock, Wait};
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use winsock_provider::{Ready, WsaError};

struct Queue<T> {
    pending: VecDeque<T>,
    backlog: usize,
    closed: bool,
}

/// The connections (of any type `T`) waiting for `accept` on a listening socket, bounded by
/// its backlog. A queued connection signals `ACCEPT` through [`AcceptQueue::slot`].
pub struct AcceptQueue<T> {
    queue: Mutex<Queue<T>>,
    ready: Condvar,
    slot: Slot,
}

impl<T> AcceptQueue<T> {
    /// A queue admitting at most `backlog` (at least 1) connections not yet accepted.
    pub fn new(backlog: usize) -> AcceptQueue<T> {
        AcceptQueue {
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                backlog: backlog.max(1),
                closed: false,
            }),
            ready: Condvar::new(),
            slot: Slot::new(),
        }
    }

    /// The slot `ACCEPT` is signalled through (point it at the listening socket's watchers).
    pub fn slot(&self) -> &Slot {
        &self.slot
    }

    /// A second `listen` changes the backlog.
    pub fn set_backlog(&self, backlog: usize) {
        lock(&self.queue).backlog = backlog.max(1);
    }

    /// Whether an accept returns at once (a connection waiting, or the queue closed).
    pub fn acceptable(&self) -> bool {
        let queue = lock(&self.queue);
        queue.closed || !queue.pending.is_empty()
    }

    /// Connections waiting to be accepted.
    pub fn pending(&self) -> usize {
        lock(&self.queue).pending.len()
    }

    /// A connection attempt: if the backlog has room and the queue is open, calls `make`
    /// (under the queue's lock, so keep it short) for the listener's end, which is queued,
    /// and the connecting side's value, which is returned; otherwise `WSAECONNREFUSED`, and
    /// `make` is not called. Wakes one blocked accept and signals `ACCEPT`.
    pub fn offer<R>(&self, make: impl FnOnce() -> (T, R)) -> Result<R, WsaError> {
        let mut queue = lock(&self.queue);
        if queue.closed || queue.pending.len() >= queue.backlog {
            return Err(WsaError::CONNREFUSED);
        }
        let (queued, returned) = make();
        queue.pending.push_back(queued);
        drop(queue);
        self.ready.notify_one();
        self.slot.signal(Ready::ACCEPT);
        Ok(returned)
    }

    /// Takes the oldest pending connection, waiting as `wait` allows. `WSAEINTR` once the
    /// queue is closed (also for a call blocked in it then).
    pub fn accept(&self, wait: Wait) -> Result<T, WsaError> {
        let mut queue = lock(&self.queue);
        loop {
            if queue.closed {
                return Err(WsaError::INTR);
            }
            if let Some(conn) = queue.pending.pop_front() {
                return Ok(conn);
            }
            queue = wait.wait(&self.ready, queue)?;
        }
    }

    /// Closes the queue (the listener closes): later offers are refused, blocked accepts
    /// return `WSAEINTR`. Returns the connections never accepted, for the caller to reset.
    pub fn close(&self) -> Vec<T> {
        let pending = {
            let mut queue = lock(&self.queue);
            queue.closed = true;
            core::mem::take(&mut queue.pending)
        };
        self.ready.notify_all();
        pending.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::Recorder;
    use crate::notify::Watchers;
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    #[test]
    fn backlog_bounds_pending_connections() {
        let q = AcceptQueue::new(2);
        assert_eq!(q.offer(|| (1, "one")), Ok("one"));
        assert_eq!(q.offer(|| (2, ())), Ok(()));
        let mut called = false;
        let refused = q.offer(|| {
            called = true;
            (3, ())
        });
        assert_eq!(refused, Err(WsaError::CONNREFUSED));
        assert!(!called);
        assert_eq!(q.accept(Wait::NONBLOCKING), Ok(1));
        assert_eq!(q.pending(), 1);
        assert!(q.offer(|| (3, ())).is_ok());
        q.set_backlog(10);
        assert!(q.offer(|| (4, ())).is_ok());
        assert_eq!(q.pending(), 3);
        assert_eq!(q.close(), vec![2, 3, 4]);
        assert_eq!(q.offer(|| (5, ())), Err(WsaError::CONNREFUSED));
        assert_eq!(q.accept(Wait::NONBLOCKING), Err(WsaError::INTR));
        assert!(q.acceptable());
    }

    #[test]
    fn readiness_is_signalled_and_kept_before_the_listener_is_attached() {
        let q = AcceptQueue::new(5);
        assert!(!q.acceptable());
        assert_eq!(q.accept(Wait::NONBLOCKING), Err(WsaError::WOULDBLOCK));
        assert_eq!(q.accept(Wait::new(false, 5)), Err(WsaError::TIMEDOUT));
        q.offer(|| ((), ())).unwrap();
        assert!(q.acceptable());
        let w = Watchers::new();
        q.slot().set(&w);
        let r = Recorder::default();
        w.attach_sink(Box::new(r.clone()));
        assert_eq!(r.seen(), Ready::ACCEPT);
    }

    #[test]
    fn concurrent_connects_and_accepts() {
        let q = Arc::new(AcceptQueue::new(1000));
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Ok(c) = q.accept(Wait::FOREVER) {
                        got.push(c);
                    }
                    got
                })
            })
            .collect();
        let connectors: Vec<_> = (0..4u32)
            .map(|t| {
                let q = q.clone();
                thread::spawn(move || {
                    for i in 0..250 {
                        while q.offer(|| (t * 1000 + i, ())).is_err() {
                            thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for c in connectors {
            c.join().unwrap();
        }
        while q.pending() > 0 {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(q.close().is_empty());
        let mut all: Vec<u32> = acceptors
            .into_iter()
            .flat_map(|a| a.join().unwrap())
            .collect();
        all.sort_unstable();
        let expected: Vec<u32> = (0..4u32)
            .flat_map(|t| (0..250).map(move |i| t * 1000 + i))
            .collect();
        assert_eq!(all, expected);
    }
}
