//! Locking and waiting helpers shared by the transport's queues.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use winsock_provider::WsaError;

/// Locks `m`, ignoring poisoning: every critical section of this crate leaves its data
/// consistent at each step, and provider code must not panic on a lock another call poisoned.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// When a blocking call gives up: never, or at an instant (`SO_RCVTIMEO`/`SO_SNDTIMEO`).
#[derive(Copy, Clone, Debug)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// A deadline `millis` from now; 0 means "wait forever", as Winsock's timeouts do.
    pub(crate) fn after_millis(millis: u32) -> Deadline {
        if millis == 0 {
            Deadline(None)
        } else {
            Deadline(Instant::now().checked_add(Duration::from_millis(u64::from(millis))))
        }
    }

    /// No deadline.
    pub(crate) const NEVER: Deadline = Deadline(None);
}

/// Waits on `cv` until notified (or spuriously woken) or until the deadline; fails with
/// `WSAETIMEDOUT` only when the deadline had already passed before waiting, so the caller
/// always re-checks its condition once after the last wait.
pub(crate) fn wait<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Deadline,
) -> Result<MutexGuard<'a, T>, WsaError> {
    match deadline.0 {
        None => Ok(cv.wait(guard).unwrap_or_else(|e| e.into_inner())),
        Some(at) => {
            let now = Instant::now();
            if now >= at {
                return Err(WsaError::TIMEDOUT);
            }
            let (guard, _) = cv
                .wait_timeout(guard, at - now)
                .unwrap_or_else(|e| e.into_inner());
            Ok(guard)
        }
    }
}
