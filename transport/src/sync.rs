//! A lock that ignores poisoning, and waits that honour non-blocking mode and Winsock's
//! `SO_RCVTIMEO`/`SO_SNDTIMEO`.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use winsock_provider::WsaError;

/// Locks `m`, ignoring poisoning: it never panics. A provider method must not fail because
/// another call panicked while holding the lock, so keep the guarded data consistent at each
/// step of a critical section (as every block of this crate does).
#[inline]
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a call may wait for its condition: not at all (a non-blocking socket), for ever, or
/// until a deadline (a blocking socket with `SO_RCVTIMEO`/`SO_SNDTIMEO` set).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    nonblocking: bool,
    deadline: Option<Instant>,
}

impl Wait {
    /// Never waits: [`Wait::wait`] fails with `WSAEWOULDBLOCK`.
    pub const NONBLOCKING: Wait = Wait {
        nonblocking: true,
        deadline: None,
    };

    /// Waits for ever.
    pub const FOREVER: Wait = Wait {
        nonblocking: false,
        deadline: None,
    };

    /// The wait of a call on a socket in mode `nonblocking` (`Sock::nonblocking()`) whose
    /// timeout option (`SO_RCVTIMEO` for receives and accepts, `SO_SNDTIMEO` for sends) is
    /// `timeout_millis`; 0 means no timeout, as in Winsock. The clock is read only when there
    /// is a timeout to honour.
    #[inline]
    pub fn new(nonblocking: bool, timeout_millis: u32) -> Wait {
        if nonblocking {
            return Wait::NONBLOCKING;
        }
        let deadline = match timeout_millis {
            0 => None,
            ms => Instant::now().checked_add(Duration::from_millis(u64::from(ms))),
        };
        Wait {
            nonblocking: false,
            deadline,
        }
    }

    /// Whether the call must not wait at all.
    #[inline]
    pub fn is_nonblocking(&self) -> bool {
        self.nonblocking
    }

    /// Waits on `cv` (with `guard` released) until notified, woken spuriously, or the
    /// deadline. Fails with `WSAEWOULDBLOCK` for a non-blocking call and with `WSAETIMEDOUT`
    /// only when the deadline had passed *before* waiting, so a caller looping on its condition
    /// checks it once more after the last wait.
    #[inline]
    pub fn wait<'a, T>(
        &self,
        cv: &Condvar,
        guard: MutexGuard<'a, T>,
    ) -> Result<MutexGuard<'a, T>, WsaError> {
        if self.nonblocking {
            return Err(WsaError::WOULDBLOCK);
        }
        match self.deadline {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn lock_survives_poison() {
        let m = Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let r = thread::spawn(move || {
            let mut g = m2.lock().unwrap();
            *g = 2;
            panic!("poison it");
        })
        .join();
        assert!(r.is_err());
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 3);
    }

    #[test]
    fn nonblocking_and_timeouts() {
        let (m, cv) = (Mutex::new(()), Condvar::new());
        assert_eq!(
            Wait::new(true, 50).wait(&cv, lock(&m)).err(),
            Some(WsaError::WOULDBLOCK)
        );
        assert_eq!(Wait::new(true, 0), Wait::NONBLOCKING);
        assert_eq!(Wait::new(false, 0), Wait::FOREVER);
        assert!(!Wait::new(false, 5).is_nonblocking());
        // A timed wait returns (woken or timed out) and then reports the timeout.
        let w = Wait::new(false, 20);
        let start = Instant::now();
        let mut g = lock(&m);
        let err = loop {
            match w.wait(&cv, g) {
                Ok(again) => g = again,
                Err(e) => break e,
            }
        };
        assert_eq!(err, WsaError::TIMEDOUT);
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn a_notification_wakes_a_waiter() {
        let shared = Arc::new((Mutex::new(false), Condvar::new()));
        let waiter = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (m, cv) = &*shared;
                let mut g = lock(m);
                while !*g {
                    g = Wait::FOREVER.wait(cv, g)?;
                }
                Ok::<(), WsaError>(())
            })
        };
        thread::sleep(Duration::from_millis(10));
        *lock(&shared.0) = true;
        shared.1.notify_all();
        assert_eq!(waiter.join().unwrap(), Ok(()));
    }
}
