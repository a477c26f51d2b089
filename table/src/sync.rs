//! The synchronisation primitives the table is written against: the standard ones, or loom's
//! when the loom model builds this crate's source with `cfg(loom)` (`tests/loom/table`), so the
//! model checks this very code.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicPtr};
#[cfg(loom)]
pub(crate) use loom::sync::Mutex;
#[cfg(loom)]
pub(crate) use loom::thread_local;

#[cfg(all(not(loom), wsp_thread_pointer))]
pub(crate) use core::sync::atomic::AtomicUsize;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicBool, AtomicPtr};
#[cfg(not(loom))]
pub(crate) use std::sync::Mutex;
#[cfg(not(loom))]
pub(crate) use std::thread_local;

/// Locks `m`, ignoring poisoning: every critical section of the table leaves its data coherent
/// (single pushes and retains), and a panic elsewhere must not make the table unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> impl core::ops::DerefMut<Target = T> + '_ {
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
}
