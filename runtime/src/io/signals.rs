//! A process-wide signal generation: `WSPSelect` callers wait for any socket's readiness to
//! change.

use crate::host::lock;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

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
