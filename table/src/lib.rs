//! The handle table of `winsock-provider`: SOCKET value → socket record, built for a lookup on
//! every dispatched call.
//!
//! # Layout
//! The handle value indexes the table directly, no hashing: `h >> 2` on Windows (kernel and
//! ws2_32 handles are multiples of 4), `h` itself elsewhere (where IFS handles are file
//! descriptors, consecutive integers). The index picks a page in a fixed top-level array and a
//! slot in that page; pages are allocated when the first handle in their range is published
//! and are kept for the table's life (a few hundred kilobytes per million sockets). Each slot
//! holds the record's `Arc` as a raw pointer; the record knows its full handle, which the
//! lookup compares, so `h | 1` or a value sharing the slot never matches.
//!
//! # Protocol
//! - **publish**: the record is complete (handle included) before a `Release`
//!   compare-exchange from null puts it in its slot; the handle reaches the application only
//!   after that.
//! - **lookup**: load the slot, announce the pointer in a hazard slot of the calling thread
//!   (`hazard`), re-load the slot; if it still holds the pointer, the record cannot be freed
//!   until the announcement is withdrawn. Only thread-local memory is written, no locked
//!   instruction runs (`barrier::light` is a compiler fence where the OS offers asymmetric
//!   barriers).
//! - **close**: pin the record (as a lookup), then compare-exchange the slot from it to null:
//!   exactly one closer wins; later lookups miss at once, even if the value is published again
//!   for a new socket. The winner retires the record.
//! - **reclaim**: retired records are freed (their `Arc` released) once no hazard names them,
//!   after a `barrier::heavy`. Reclaim runs after every retire and when a guard whose record
//!   was unpublished meanwhile is dropped, so a call that was blocked in a socket being closed
//!   frees it as it returns, and one long pin never holds back other sockets.
//! - **long pins**: [`Guard::to_arc`] turns a pin into a reference count, for operations that
//!   outlive the call (overlapped I/O).

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]

mod barrier;
mod hazard;
mod retire;
mod sync;

use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use retire::Retired;
use std::sync::Arc;
use sync::AtomicPtr;

/// Records the table can hold: they know the handle they were published under.
pub trait Keyed {
    /// The handle this record is published under (set before publishing).
    fn key(&self) -> usize;
}

#[cfg(not(loom))]
const PAGE_BITS: u32 = 13;
#[cfg(not(loom))]
const TOP: usize = 2048;
// Under loom: tiny pages, so models cross page boundaries and stay small.
#[cfg(loom)]
const PAGE_BITS: u32 = 1;
#[cfg(loom)]
const TOP: usize = 4;

const PAGE: usize = 1 << PAGE_BITS;

// Indexes below TOP * PAGE = 2^24 fit: Windows handles below 2^26 (16M handles per process),
// file descriptors (and the stand-in's handles) elsewhere below 2^24.

struct Page<T> {
    slots: [AtomicPtr<T>; PAGE],
}

/// Why an insert failed.
#[derive(Debug, PartialEq, Eq)]
pub enum InsertError {
    /// The handle's slot already holds an open record.
    Occupied,
    /// The handle value is beyond the table's range (index 2^24 and up).
    OutOfRange,
}

/// A map from handle values to `Arc<T>` with wait-free lookups (see the crate docs).
///
/// A handle `h` has slot index `h >> SHIFT`: [`OS_SHIFT`] unless stated (a benchmark of
/// Windows-shaped handles on another OS states 2).
pub struct Table<T: Keyed, const SHIFT: u32 = OS_SHIFT> {
    top: [AtomicPtr<Page<T>>; TOP],
}

/// The index rule of the OS the table is built for, as the `SHIFT` of [`Table`]: handle values
/// are multiples of 4 on Windows (kernel handles, and ws2_32's non-IFS ones), so the slot index
/// is `h >> 2`; elsewhere IFS handles are file descriptors, consecutive integers, indexed as
/// they are.
pub const OS_SHIFT: u32 = if cfg!(windows) { 2 } else { 0 };

impl<T: Keyed, const SHIFT: u32> Table<T, SHIFT> {
    // Initialises the top-level array in a `const fn` (Rust 1.63 has no `[const { .. }; N]`);
    // every use is a fresh value, which is what is wanted.
    #[cfg(not(loom))]
    #[allow(clippy::declare_interior_mutable_const)]
    const NO_PAGE: AtomicPtr<Page<T>> = AtomicPtr::new(ptr::null_mut());

    /// An empty table.
    #[cfg(not(loom))]
    pub const fn new() -> Table<T, SHIFT> {
        Table {
            top: [Self::NO_PAGE; TOP],
        }
    }

    /// An empty table.
    #[cfg(loom)]
    pub fn new() -> Table<T, SHIFT> {
        Table {
            top: core::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        }
    }

    /// The slot of `handle`, if its page exists.
    #[inline(always)]
    fn slot(&self, handle: usize) -> Option<&AtomicPtr<T>> {
        let i = handle >> SHIFT;
        let page = self.top.get(i >> PAGE_BITS)?.load(Acquire);
        if page.is_null() {
            return None;
        }
        // SAFETY: pages are never freed while the table lives; `i % PAGE` is in bounds.
        Some(unsafe { (*page).slots.get_unchecked(i & (PAGE - 1)) })
    }

    /// The slot of `handle`, creating its page if needed.
    fn slot_or_create(&self, handle: usize) -> Result<&AtomicPtr<T>, InsertError> {
        let i = handle >> SHIFT;
        let top = self
            .top
            .get(i >> PAGE_BITS)
            .ok_or(InsertError::OutOfRange)?;
        let mut page = top.load(Acquire);
        if page.is_null() {
            let fresh = Box::into_raw(Box::new(Page {
                slots: core::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            }));
            page = match top.compare_exchange(ptr::null_mut(), fresh, AcqRel, Acquire) {
                Ok(_) => fresh,
                Err(winner) => {
                    // SAFETY: `fresh` was never published; this is its only owner.
                    drop(unsafe { Box::from_raw(fresh) });
                    winner
                }
            };
        }
        // SAFETY: pages are never freed while the table lives; `i % PAGE` is in bounds.
        Ok(unsafe { (*page).slots.get_unchecked(i & (PAGE - 1)) })
    }

    /// Publishes `record` under `record.key()`. On failure the record is handed back.
    pub fn insert(&self, record: Arc<T>) -> Result<(), (InsertError, Arc<T>)> {
        barrier::prepare();
        let slot = match self.slot_or_create(record.key()) {
            Ok(slot) => slot,
            Err(e) => return Err((e, record)),
        };
        let raw = Arc::into_raw(record) as *mut T;
        match slot.compare_exchange(ptr::null_mut(), raw, Release, Relaxed) {
            Ok(_) => Ok(()),
            // SAFETY: `raw` came from `Arc::into_raw` just above and was not published.
            Err(_) => Err((InsertError::Occupied, unsafe { Arc::from_raw(raw) })),
        }
    }

    /// Finds the open record published under `handle` and pins it for the guard's life.
    #[inline(always)]
    pub fn get(&self, handle: usize) -> Option<Guard<'_, T>> {
        let slot = self.slot(handle)?;
        self.pin(slot, handle)
    }

    /// Pins the record `slot` holds if it is published under `handle`.
    #[inline(always)]
    fn pin<'t>(&'t self, slot: &'t AtomicPtr<T>, handle: usize) -> Option<Guard<'t, T>> {
        let hazard = match hazard::record().and_then(|r| r.free_slot()) {
            Some(h) => h,
            None => return self.get_counted(slot, handle),
        };
        let p = self.announce(slot, hazard)?;
        hazard
            .found_in
            .store(slot as *const AtomicPtr<T> as *mut (), Relaxed);
        // `p` is announced in our hazard slot and was still published after the announcement,
        // so no reclaim can free it before the guard withdraws the announcement.
        let guard = Guard {
            ptr: p,
            pin: hazard as *const hazard::Hazard as usize,
            _table: PhantomData,
        };
        // A guard is `!Send` (raw pointer): it clears the hazard slot of the thread that set it.
        if guard.key() != handle {
            return None;
        }
        Some(guard)
    }

    /// Announces the record `slot` holds in `hazard` and checks it is still published after the
    /// announcement (retrying while the slot changes): from then on no reclaim frees it until
    /// the announcement is withdrawn. `None` (announcement withdrawn) when the slot is empty.
    #[inline(always)]
    fn announce(&self, slot: &AtomicPtr<T>, hazard: &hazard::Hazard) -> Option<NonNull<T>> {
        let hazard = &hazard.announced;
        let mut p = slot.load(Acquire);
        #[cfg(all(test, not(loom)))]
        tests::jitter();
        // Whether an announcement of an older value was withdrawn because the slot changed
        // under it: that value's closer may have seen the announcement and left the record
        // retired, so this lookup must reclaim it (found by the loom model).
        let mut raced = false;
        loop {
            if p.is_null() {
                hazard.store(ptr::null_mut(), Release);
                if raced {
                    after_race();
                }
                return None;
            }
            hazard.store(p as *mut (), Relaxed);
            barrier::light();
            let again = slot.load(Acquire);
            if again == p {
                break;
            }
            raced = true;
            p = again;
        }
        if raced {
            after_race();
        }
        // SAFETY: the loop leaves with a non-null `p` only.
        Some(unsafe { NonNull::new_unchecked(p) })
    }

    /// The slow path of [`Table::get`] when the thread has no free hazard slot (deep nesting,
    /// or a thread being torn down): the same protocol with a borrowed record's slot, turned
    /// into a reference count before the borrowed slot is given back.
    #[cold]
    #[inline(never)]
    fn get_counted<'t>(&'t self, slot: &'t AtomicPtr<T>, handle: usize) -> Option<Guard<'t, T>> {
        hazard::with_spare(|hazard| {
            let p = self.announce(slot, hazard)?;
            // SAFETY: announced and still published after the announcement: alive until the
            // announcement is withdrawn (by `with_spare`), and its key is immutable.
            if unsafe { p.as_ref() }.key() != handle {
                return None;
            }
            // SAFETY: as above, `p` is a live `Arc<T>` the table owns a count of.
            unsafe { Arc::increment_strong_count(p.as_ptr()) };
            Some(Guard {
                ptr: p,
                pin: slot as *const AtomicPtr<T> as usize | COUNTED,
                _table: PhantomData,
            })
        })
    }

    /// Unpublishes the record under `handle` (exactly one of racing callers wins) and returns it
    /// pinned. When the returned pin is dropped, the record is retired, the closer reclaims if
    /// due (see `retire`), and the record is freed once no pin on it is left.
    pub fn remove(&self, handle: usize, reclaim: Reclaim) -> Option<Removed<'_, T>> {
        let slot = self.slot(handle)?;
        let guard = self.pin(slot, handle)?;
        let p = guard.ptr.as_ptr();
        if slot
            .compare_exchange(p, ptr::null_mut(), Relaxed, Relaxed)
            .is_err()
        {
            return None;
        }
        Some(Removed {
            guard: core::mem::ManuallyDrop::new(guard),
            // SAFETY: this caller alone unpublished `p`, taking over the table's count.
            owned: core::mem::ManuallyDrop::new(unsafe { Arc::from_raw(p) }),
            reclaim,
        })
    }

    /// Unpublishes every record (clean-up), returning them as owned references. The table's
    /// counts are released at once, not batched: clean-up drops what nobody uses any more.
    pub fn drain(&self) -> Vec<Arc<T>> {
        let mut out = Vec::new();
        let mut retired = Vec::new();
        for top in &self.top {
            let page = top.load(Acquire);
            if page.is_null() {
                continue;
            }
            // SAFETY: pages are never freed while the table lives.
            for slot in unsafe { &(*page).slots } {
                let p = slot.swap(ptr::null_mut(), Acquire);
                if !p.is_null() {
                    // SAFETY: the swap unpublished `p` for this caller alone, handing it the
                    // table's count; it stays alive through that count.
                    let owned = unsafe { Arc::from_raw(p) };
                    out.push(owned.clone());
                    retired.push(Retired::new(owned));
                }
            }
        }
        retire::retire_now(retired);
        out
    }
}

/// Runs `f` with the calling thread's word: a `usize` (0 in a new thread) that the code
/// embedding the table keeps per thread, stored next to the thread's hazard record in one
/// thread-local so that an entry point that marks the thread and then looks a handle up
/// reaches thread-local storage once. The word stays usable while the thread's destructors
/// run; its address is distinct among live threads.
#[cfg(not(loom))]
#[inline(always)]
pub fn with_thread_word<R>(f: impl FnOnce(&core::cell::Cell<usize>) -> R) -> R {
    hazard::THREAD.with(|t| f(&t.word))
}

/// Reclaims after a pin withdrew an announcement of a record that was unpublished meanwhile.
#[cold]
#[inline(never)]
fn after_race() {
    barrier::light();
    retire::reclaim_after_pin();
}

impl<T: Keyed, const SHIFT: u32> Default for Table<T, SHIFT> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed, const SHIFT: u32> Drop for Table<T, SHIFT> {
    fn drop(&mut self) {
        drop(self.drain());
        for top in &self.top {
            let page = top.swap(ptr::null_mut(), Relaxed);
            if !page.is_null() {
                // SAFETY: the table is being dropped; nobody else can reach its pages.
                drop(unsafe { Box::from_raw(page) });
            }
        }
    }
}

/// A pinned record: usable until dropped, even if its handle is closed meanwhile.
///
/// `!Send` (it holds a raw pointer): it withdraws the announcement of the thread that made it.
/// Two words, so that moving it around a call costs two registers.
pub struct Guard<'t, T: Keyed> {
    ptr: NonNull<T>,
    /// How `ptr` is pinned ([`Guard::pin`]): the address of the hazard slot announcing it
    /// (which also names the table slot it was found in), or the address of that table slot
    /// tagged with [`COUNTED`] when the guard owns one count of the record's `Arc` instead.
    pin: usize,
    _table: PhantomData<&'t AtomicPtr<T>>,
}

/// In [`Guard::pin`]: the guard holds a reference count, not a hazard (slots are aligned, so
/// the low bit of their address is free).
const COUNTED: usize = 1;

/// How a guard pins its record.
enum Pin<'t, T> {
    /// Announced in this thread's hazard slot.
    Hazard(&'static hazard::Hazard),
    /// One count of the record's `Arc`, found in this table slot.
    Counted(&'t AtomicPtr<T>),
}

impl<'t, T: Keyed> Guard<'t, T> {
    #[inline(always)]
    fn pin(&self) -> Pin<'t, T> {
        if self.pin & COUNTED == 0 {
            // SAFETY: `pin` was made from a `&'static Hazard` (`Table::pin`).
            Pin::Hazard(unsafe { &*(self.pin as *const hazard::Hazard) })
        } else {
            // SAFETY: `pin` was made from a `&'t AtomicPtr<T>` tagged with `COUNTED`
            // (`Table::get_counted`).
            Pin::Counted(unsafe { &*((self.pin & !COUNTED) as *const AtomicPtr<T>) })
        }
    }
}

impl<T: Keyed> Guard<'_, T> {
    /// A reference count on the record, for use beyond this guard (operations that outlive
    /// the call).
    pub fn to_arc(&self) -> Arc<T> {
        // SAFETY: the record is pinned, hence alive; `ptr` came from `Arc::into_raw`.
        unsafe {
            Arc::increment_strong_count(self.ptr.as_ptr());
            Arc::from_raw(self.ptr.as_ptr())
        }
    }
}

/// The pin [`Table::remove`] returns to the closer: like a [`Guard`], but its drop retires the
/// record (the closer unpublished it, so a plain guard's drop would reclaim after every close).
pub struct Removed<'t, T: Keyed> {
    guard: core::mem::ManuallyDrop<Guard<'t, T>>,
    /// The table's count on the record, handed to the retire list on drop.
    owned: core::mem::ManuallyDrop<Arc<T>>,
    reclaim: Reclaim,
}

/// When a closed record is reclaimed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reclaim {
    /// Before the close returns, unless a call still uses it (then when that call returns).
    Now,
    /// By the batching rule of `retire`: at once when closes are sparse, in batches under a
    /// burst.
    Batched,
}

impl<T: Keyed> Removed<'_, T> {
    /// A reference count on the closed record ([`Guard::to_arc`]).
    // The runtime does not need it (closing runs under the pin); the benchmark harness, which
    // compiles this module, hands the closed record out as an `Arc`, as its peers do.
    #[allow(dead_code)]
    pub fn to_arc(&self) -> Arc<T> {
        Arc::clone(&self.owned)
    }
}

impl<T: Keyed> Deref for Removed<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: Keyed> Drop for Removed<'_, T> {
    fn drop(&mut self) {
        // SAFETY: both fields are taken once, here, and not used afterwards.
        let (guard, owned) = unsafe {
            (
                core::mem::ManuallyDrop::take(&mut self.guard),
                core::mem::ManuallyDrop::take(&mut self.owned),
            )
        };
        match guard.pin() {
            // The record stays alive through `owned` until it is retired and reclaimed, so
            // this pin can simply be withdrawn.
            Pin::Hazard(hazard) => {
                hazard.announced.store(ptr::null_mut(), Release);
                core::mem::forget(guard);
            }
            Pin::Counted(_) => drop(guard),
        }
        retire::retire(Retired::new(owned), self.reclaim == Reclaim::Now);
    }
}

impl<T: Keyed> Deref for Guard<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: pinned: no reclaim frees the record while the guard lives.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Keyed> Drop for Guard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        let slot = match self.pin() {
            Pin::Hazard(hazard) => {
                let found_in = hazard.found_in.load(Relaxed) as *const AtomicPtr<T>;
                hazard.announced.store(ptr::null_mut(), Release);
                #[cfg(all(test, not(loom)))]
                tests::jitter();
                barrier::light();
                // SAFETY: the table slot this guard's record was found in (`Table::pin`,
                // stored before the guard was made and not since: the hazard was in use);
                // pages live as long as the table, which the guard borrows.
                unsafe { &*found_in }
            }
            Pin::Counted(slot) => {
                // SAFETY: a counted guard owns one count of the record's `Arc`
                // (`get_counted`); below, `ptr` is only compared, never read.
                drop(unsafe { Arc::from_raw(self.ptr.as_ptr()) });
                slot
            }
        };
        // Unpublished meanwhile: its closer may have seen our hazard and left it retired;
        // free it now rather than at some later close.
        if !ptr::eq(slot.load(Relaxed), self.ptr.as_ptr()) {
            after_race();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
