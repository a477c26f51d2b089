//! Asymmetric memory barriers: a free one for the lookup path, an expensive one for reclaim.
//!
//! A reader publishes a hazard (a store) and then re-reads the slot (a load); a reclaimer
//! unpublishes (a store) and then scans the hazards (loads). Each side needs its store ordered
//! before its load, or both can miss each other (store buffering). Instead of a full fence on
//! every lookup, the reclaimer — rare — forces a full barrier on every running thread of the
//! process (`membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` on Linux,
//! `FlushProcessWriteBuffers` on Windows), so the reader only has to stop the compiler from
//! reordering. Where neither exists (or under loom, which does not model them) both sides use
//! a sequentially consistent fence.

use super::sync::fence;
use core::sync::atomic::Ordering::SeqCst;

/// The reader's half: after storing a hazard, before re-reading the slot (and after clearing
/// a hazard, before re-reading the slot).
#[inline(always)]
pub(crate) fn light() {
    if imp::asymmetric() {
        core::sync::atomic::compiler_fence(SeqCst);
    } else {
        fence(SeqCst);
    }
}

/// The reclaimer's half: after unpublishing, before scanning hazards.
pub(crate) fn heavy() {
    if !imp::heavy() {
        fence(SeqCst);
    }
}

/// Makes [`light`] cheap from now on where the OS allows it. Must run before the first entry
/// is published (the table calls it on every insert; only the first call does anything).
pub(crate) fn prepare() {
    imp::prepare();
}

#[cfg(all(
    not(loom),
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod imp {
    use core::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Once;

    #[cfg(target_arch = "x86_64")]
    const SYS_MEMBARRIER: i64 = 324;
    #[cfg(target_arch = "aarch64")]
    const SYS_MEMBARRIER: i64 = 283;
    const CMD_PRIVATE_EXPEDITED: i64 = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: i64 = 1 << 4;

    extern "C" {
        fn syscall(number: i64, ...) -> i64;
    }

    static REGISTER: Once = Once::new();
    static ASYMMETRIC: AtomicBool = AtomicBool::new(false);

    #[inline(always)]
    pub(super) fn asymmetric() -> bool {
        ASYMMETRIC.load(Ordering::Relaxed)
    }

    pub(super) fn prepare() {
        REGISTER.call_once(|| {
            // SAFETY: membarrier takes (cmd, flags, cpu_id) integers and touches no memory of
            // ours; failure (old kernel, seccomp) is reported as a negative return.
            let ok =
                unsafe { syscall(SYS_MEMBARRIER, CMD_REGISTER_PRIVATE_EXPEDITED, 0i64, 0i64) } == 0;
            // Release: a thread that sees `true` also sees the registration as done.
            ASYMMETRIC.store(ok, Ordering::Release);
        });
    }

    pub(super) fn heavy() -> bool {
        if !ASYMMETRIC.load(Ordering::Acquire) {
            return false;
        }
        // SAFETY: as above; the process registered for this command in `prepare`.
        let done = unsafe { syscall(SYS_MEMBARRIER, CMD_PRIVATE_EXPEDITED, 0i64, 0i64) } == 0;
        if !done {
            // Registered commands do not fail; if one ever did, readers would be unprotected.
            std::process::abort();
        }
        true
    }
}

#[cfg(all(not(loom), windows))]
mod imp {
    #[link(name = "kernel32")]
    extern "system" {
        fn FlushProcessWriteBuffers();
    }

    #[inline(always)]
    pub(super) fn asymmetric() -> bool {
        true
    }

    pub(super) fn prepare() {}

    pub(super) fn heavy() -> bool {
        // SAFETY: no arguments; available since Windows Vista.
        unsafe { FlushProcessWriteBuffers() };
        true
    }
}

#[cfg(any(
    loom,
    not(any(
        windows,
        all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )
    ))
))]
mod imp {
    #[inline(always)]
    pub(super) fn asymmetric() -> bool {
        false
    }

    pub(super) fn prepare() {}

    pub(super) fn heavy() -> bool {
        false
    }
}
