//! Hazard slots: each thread announces the entries it is reading, so that a closed entry is
//! freed only once no thread announces it.
//!
//! Every thread that ever looked a socket up owns one [`Record`] of [`SLOTS`] slots. Records
//! are linked into one process-wide list and never freed; a thread that exits hands its
//! record back for the next new thread. Only the owning thread writes its slots, and records
//! do not share cache lines (so pinning writes no shared cache line); reclaimers only read
//! them.

use super::sync::{thread_local, AtomicBool, AtomicPtr};
use core::ptr;
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

/// Pins one thread can hold at once (a dispatched call holds one; nested calls from provider
/// code into the runtime hold more). Beyond that, lookups take a reference count instead.
pub(crate) const SLOTS: usize = 4;

/// One thread's hazard slots.
///
/// Aligned (and so sized) to 128 bytes, two cache lines: every pin writes a slot, and records
/// of different threads must not share a line (or the adjacent line the CPU prefetches with
/// it), or threads pinning distinct sockets slow each other down.
#[repr(align(128))]
pub(crate) struct Record {
    slots: [AtomicPtr<()>; SLOTS],
    in_use: AtomicBool,
    next: *const Record,
}

impl Record {
    /// A free slot of this thread's record, if any. Only the owning thread calls this, and only
    /// it stores non-null values, so a null seen here stays null until this thread stores.
    #[inline(always)]
    pub(crate) fn free_slot(&'static self) -> Option<&'static AtomicPtr<()>> {
        self.slots.iter().find(|s| s.load(Relaxed).is_null())
    }
}

/// The list of every record of the process.
struct Domain {
    head: AtomicPtr<Record>,
}

// SAFETY: `Record::next` is written once before the record is published (with Release) and
// only read afterwards; the rest of a record is atomics.
unsafe impl Sync for Record {}
// SAFETY: as above; records are shared by reference only.
unsafe impl Send for Record {}

#[cfg(not(loom))]
static DOMAIN: Domain = Domain {
    head: AtomicPtr::new(ptr::null_mut()),
};

#[cfg(not(loom))]
fn domain() -> &'static Domain {
    &DOMAIN
}

#[cfg(loom)]
loom::lazy_static! {
    static ref DOMAIN: Domain = Domain { head: AtomicPtr::new(ptr::null_mut()) };
}

#[cfg(loom)]
fn domain() -> &'static Domain {
    &DOMAIN
}

impl Domain {
    /// Takes a record no live thread owns, or links a new one.
    fn acquire(&'static self) -> &'static Record {
        let mut cur = self.head.load(Acquire);
        while !cur.is_null() {
            // SAFETY: records are leaked and never freed; `cur` came from the list.
            let rec = unsafe { &*cur };
            if !rec.in_use.load(Relaxed)
                && rec
                    .in_use
                    .compare_exchange(false, true, Acquire, Relaxed)
                    .is_ok()
            {
                return rec;
            }
            cur = rec.next as *mut Record;
        }
        let rec = Box::leak(Box::new(Record {
            slots: core::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            in_use: AtomicBool::new(true),
            next: ptr::null(),
        }));
        let mut head = self.head.load(Acquire);
        loop {
            rec.next = head;
            match self
                .head
                .compare_exchange(head, rec as *mut Record, AcqRel, Acquire)
            {
                Ok(_) => return rec,
                Err(now) => head = now,
            }
        }
    }

    /// Calls `f` with every non-null hazard of every record.
    fn for_each_hazard(&'static self, mut f: impl FnMut(*const ())) {
        let mut cur = self.head.load(Acquire);
        while !cur.is_null() {
            // SAFETY: records are leaked and never freed.
            let rec = unsafe { &*cur };
            for slot in &rec.slots {
                let p = slot.load(Acquire);
                if !p.is_null() {
                    f(p as *const ());
                }
            }
            cur = rec.next as *mut Record;
        }
    }
}

/// The calling thread's ownership of a record; gives it back when the thread exits.
struct Local {
    record: &'static Record,
}

impl Drop for Local {
    fn drop(&mut self) {
        #[cfg(not(loom))]
        CACHED.with(|c| c.set(ptr::null()));
        // A thread exits with no pins held (guards borrow nothing across thread exit), so its
        // slots are null; clear them anyway so a stray value can never hold an entry forever.
        for slot in &self.record.slots {
            slot.store(ptr::null_mut(), Release);
        }
        self.record.in_use.store(false, Release);
    }
}

thread_local! {
    static LOCAL: Local = Local { record: domain().acquire() };
}

// The fast path reads the record from a constant-initialised thread-local without a destructor
// (one TLS load, no lazy-initialisation state); `LOCAL` above owns the record and clears this
// cache when the thread exits.
#[cfg(not(loom))]
std::thread_local! {
    static CACHED: core::cell::Cell<*const Record> = const { core::cell::Cell::new(ptr::null()) };
}

/// The calling thread's record, or `None` while the thread is being torn down.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn record() -> Option<&'static Record> {
    let cached = CACHED.with(|c| c.get());
    if cached.is_null() {
        return first_record();
    }
    // SAFETY: records are leaked and never freed; this thread owns it until `Local` drops,
    // which clears the cache.
    Some(unsafe { &*cached })
}

#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn first_record() -> Option<&'static Record> {
    let record = LOCAL.try_with(|l| l.record).ok()?;
    CACHED.with(|c| c.set(record));
    Some(record)
}

/// The calling thread's record, or `None` while the thread is being torn down.
#[cfg(loom)]
pub(crate) fn record() -> Option<&'static Record> {
    LOCAL.try_with(|l| l.record).ok()
}

/// Runs `f` with a hazard slot of a record borrowed for the call (for a thread whose own slots
/// are all in use, or that is being torn down), withdrawing its announcement afterwards.
pub(crate) fn with_spare<R>(f: impl FnOnce(&'static AtomicPtr<()>) -> R) -> R {
    let record = domain().acquire();
    let slot = &record.slots[0];
    let result = f(slot);
    slot.store(ptr::null_mut(), Release);
    record.in_use.store(false, Release);
    result
}

/// Every hazard currently announced, sorted (for [`contains`]).
pub(crate) fn snapshot() -> Vec<*const ()> {
    let mut all = Vec::new();
    domain().for_each_hazard(|p| all.push(p));
    all.sort_unstable();
    all
}

/// Whether the sorted `snapshot` holds `p`.
pub(crate) fn contains(snapshot: &[*const ()], p: *const ()) -> bool {
    snapshot.binary_search(&p).is_ok()
}
