//! Retired records: unpublished, waiting until no hazard names them.
//!
//! A closing thread retires into a list of its own (no lock, no shared line). The list is
//! reclaimed — one heavy barrier, one hazard scan — when closes are sparse (the thread's last
//! reclaim is [`QUIET_TICKS`] old, so a closed socket's state is dropped before its close
//! returns), once per [`BATCH`] retirements under a burst of closes (so one barrier serves them
//! all), and when the thread exits. Records a reclaim finds pinned move to one process-wide
//! list, which is reclaimed again by every thread whose pin on a closed record ends (see
//! `Guard::drop`) — without a barrier, since the one after their unpublishing has run — along
//! with that thread's own list.
//!
//! The lists hold records of every table in the process, type-erased: what a record needs is
//! its address (to compare with hazards) and how to release the table's count on it.

use super::sync::{lock, thread_local, Mutex};
use super::{barrier, hazard};
use core::cell::{Cell, RefCell};
use std::sync::Arc;

/// Under a burst of closes, the retirements of one thread freed together by one heavy barrier.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const BATCH: usize = 1024;

/// Closes on one thread further apart than this (≈ 0.1 ms of time-stamp counter at 3 GHz;
/// 0.3 ms where the clock counts nanoseconds) each reclaim at once.
#[cfg(not(loom))]
pub(crate) const QUIET_TICKS: u64 = 300_000;

/// The table's count on one unpublished record.
pub(crate) struct Retired {
    ptr: *const (),
    release: unsafe fn(*const ()),
}

// SAFETY: a record is shared by every thread that calls on its socket (tables hold records of
// `Send + Sync` state: the runtime's sockets, see `ThreadSafeSocket`); releasing the count on
// another thread is what `Arc` does anyway.
unsafe impl Send for Retired {}

/// Releases the count `Retired::new` took over.
///
/// # Safety
/// `ptr` must come from `Arc::<T>::into_raw` in `Retired::new`, and be released once.
unsafe fn release<T>(ptr: *const ()) {
    // SAFETY: the caller's contract: `ptr` is an `Arc<T>` count released once.
    drop(unsafe { Arc::from_raw(ptr as *const T) });
}

impl Retired {
    /// Takes over the table's count on `record`.
    pub(crate) fn new<T>(record: Arc<T>) -> Retired {
        Retired {
            ptr: Arc::into_raw(record) as *const (),
            release: release::<T>,
        }
    }
}

impl Drop for Retired {
    fn drop(&mut self) {
        // SAFETY: `release` matches the type `ptr` was made from; this is the only release.
        unsafe { (self.release)(self.ptr) }
    }
}

/// The calling thread's retirements.
struct Local {
    list: RefCell<Vec<Retired>>,
    #[cfg_attr(loom, allow(dead_code))]
    last_reclaim: Cell<u64>,
}

impl Local {
    /// Whether the list should be reclaimed now (see the module docs).
    #[cfg(not(loom))]
    fn due(&self, len: usize) -> bool {
        let now = ticks();
        let due = len >= BATCH || now.wrapping_sub(self.last_reclaim.get()) >= QUIET_TICKS;
        if due {
            self.last_reclaim.set(now);
        }
        due
    }

    // The model checks the protocol with a reclaim at every close (deferring a free is always
    // safe; what the model must see is every free that does happen).
    #[cfg(loom)]
    fn due(&self, _: usize) -> bool {
        true
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let list = core::mem::take(self.list.get_mut());
        free(list);
    }
}

#[cfg(not(loom))]
thread_local! {
    static LOCAL: Local = const {
        Local {
            list: RefCell::new(Vec::new()),
            last_reclaim: Cell::new(0),
        }
    };
}

#[cfg(loom)]
thread_local! {
    static LOCAL: Local = Local { list: RefCell::new(Vec::new()), last_reclaim: Cell::new(0) };
}

#[cfg(not(loom))]
static PINNED: Mutex<Vec<Retired>> = Mutex::new(Vec::new());

#[cfg(not(loom))]
fn pinned() -> &'static Mutex<Vec<Retired>> {
    &PINNED
}

#[cfg(loom)]
loom::lazy_static! {
    static ref PINNED: Mutex<Vec<Retired>> = Mutex::new(Vec::new());
}

#[cfg(loom)]
fn pinned() -> &'static Mutex<Vec<Retired>> {
    &PINNED
}

/// Retires an unpublished record; reclaims the thread's list if due, or `now`.
pub(crate) fn retire(record: Retired, now: bool) {
    let mut record = Some(record);
    let due = LOCAL.try_with(|local| {
        let mut list = local.list.borrow_mut();
        list.extend(record.take());
        if local.due(list.len()) || now {
            Some(core::mem::take(&mut *list))
        } else {
            None
        }
    });
    match due {
        Ok(Some(list)) => free(list),
        Ok(None) => {}
        // The thread is being torn down: reclaim this one at once.
        Err(_) => free(record.into_iter().collect()),
    }
}

/// Reclaims now, whatever the batching rule says: every record in `records`.
pub(crate) fn retire_now(records: Vec<Retired>) {
    free(records);
}

/// Frees the records of `list` no hazard names; the others move to the process-wide list.
/// Every record in `list` was unpublished before it was retired, and the heavy barrier comes
/// after that, so a reader still using one has its hazard visible to the scan.
fn free(mut list: Vec<Retired>) {
    if list.is_empty() {
        return;
    }
    barrier::heavy();
    let hazards = hazard::snapshot();
    let mut still = Vec::new();
    let mut i = 0;
    while i < list.len() {
        if hazard::contains(&hazards, list[i].ptr) {
            still.push(list.swap_remove(i));
        } else {
            i += 1;
        }
    }
    if !still.is_empty() {
        // A reader that withdrew its hazard and reclaimed the pinned list before these
        // records reached it must not leave them there: look again under the lock, which
        // orders this scan after that reader's withdrawal.
        let mut pinned = lock(pinned());
        pinned.append(&mut still);
        list.append(&mut unpinned(&mut pinned));
    }
    // Dropped outside every lock: a record's drop may run provider code that closes other
    // sockets.
    drop(list);
}

/// After a pin on a closed record ends: reclaims the process-wide list of records that were
/// pinned when their thread reclaimed, and the calling thread's own retirements (the record
/// may be one of them, waiting for its batch).
pub(crate) fn reclaim_after_pin() {
    let freed = unpinned(&mut lock(pinned()));
    drop(freed);
    if let Ok(list) = LOCAL.try_with(|local| core::mem::take(&mut *local.list.borrow_mut())) {
        free(list);
    }
}

/// Takes the records no hazard names out of `pinned`. No barrier: each was unpublished and a
/// heavy barrier has run since, so no new hazard can name it; a stale read of a withdrawn
/// hazard only keeps a record for the next reclaim.
fn unpinned(pinned: &mut Vec<Retired>) -> Vec<Retired> {
    let mut freed = Vec::new();
    if pinned.is_empty() {
        return freed;
    }
    let hazards = hazard::snapshot();
    let mut i = 0;
    while i < pinned.len() {
        if hazard::contains(&hazards, pinned[i].ptr) {
            i += 1;
        } else {
            freed.push(pinned.swap_remove(i));
        }
    }
    freed
}

/// Frees what this thread retired and what is no longer pinned, whatever the batching rule
/// says (tests: threads that end hand their lists over in thread-local destructors, which may
/// run after a scoped join has returned).
#[cfg(all(test, not(loom)))]
pub(crate) fn flush() {
    reclaim_after_pin();
}

/// Records retired by this thread or pinned, not yet freed.
#[cfg(all(test, not(loom)))]
pub(crate) fn pending() -> usize {
    LOCAL.with(|l| l.list.borrow().len()) + lock(pinned()).len()
}

/// A cheap clock for [`Local::due`]; only compared against itself, approximately.
#[cfg(all(not(loom), target_arch = "x86_64"))]
#[inline]
fn ticks() -> u64 {
    // SAFETY: RDTSC reads the time-stamp counter; it has no memory effects and exists on every
    // x86-64 processor.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(all(not(loom), target_arch = "x86"))]
#[inline]
fn ticks() -> u64 {
    // SAFETY: RDTSC reads the time-stamp counter; it has no memory effects and exists on every
    // processor the i586/i686 targets run on (Pentium and later).
    unsafe { core::arch::x86::_rdtsc() }
}

#[cfg(all(not(loom), not(any(target_arch = "x86_64", target_arch = "x86"))))]
fn ticks() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
