//! What the runtime takes from the process it runs in: the panic guard and the log line
//! (`panic`), the host's hooks (`hooks`), its own module's path (`module`), and locks that
//! survive a panic.

pub(crate) mod hooks;
pub(crate) mod module;
pub(crate) mod panic;

#[cfg(feature = "trace")]
pub(crate) use panic::debug_line;
pub(crate) use panic::{catch, PANIC_ERROR};
use std::sync::{Mutex, MutexGuard};

/// Locks `m`, using the data of a poisoned lock as it is (every update keeps it consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
