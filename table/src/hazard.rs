//! Hazard slots: each thread announces the entries it is reading, so that a closed entry is
//! freed only once no thread announces it.
//!
//! Every thread that ever looked a socket up owns one [`Record`] of [`SLOTS`] slots. Records
//! are linked into one process-wide list and never freed; a thread that exits hands its
//! record back for the next new thread. Only the owning thread writes its slots, and records
//! do not share cache lines (so pinning writes no shared cache line); reclaimers only read
//! them.
//!
//! On Windows a thread finds its record without thread-local storage (which `windows-gnu`
//! reaches through `TlsGetValue` calls): the thread pointer (the address of the thread's TEB),
//! distinct for every live thread, picks an entry of a process-wide direct-mapped array
//! (`DIRECT`) that names a record, and the record says which thread pointer owns it. A thread
//! whose entry names another thread's record (two threads hashing alike) uses its thread-local
//! as before, as every thread does elsewhere (on Linux a thread-local costs about what the
//! thread pointer's hash and checks cost).

#[cfg(wsp_thread_pointer)]
use super::sync::AtomicUsize;
use super::sync::{thread_local, AtomicBool, AtomicPtr};
#[cfg(not(loom))]
use core::cell::Cell;
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
    slots: [Hazard; SLOTS],
    in_use: AtomicBool,
    /// The thread pointer of the thread that owns the record and found it through [`DIRECT`]
    /// (0: none). Written by that thread only, cleared before it gives the record back.
    #[cfg(wsp_thread_pointer)]
    owner: AtomicUsize,
    next: *const Record,
}

/// One hazard slot: the record a pin announces, and the table slot it was found in (so that a
/// guard is two words: the record and its hazard).
pub(crate) struct Hazard {
    /// The announced record (null: free). Written by the owning thread, read by reclaimers.
    pub(crate) announced: AtomicPtr<()>,
    /// The table slot `announced` was found in, for the guard's "unpublished meanwhile?" check.
    /// Written and read by the owning thread only.
    pub(crate) found_in: AtomicPtr<()>,
}

impl Record {
    /// A free slot of this thread's record, if any. Only the owning thread calls this, and only
    /// it stores non-null values, so a null seen here stays null until this thread stores.
    #[inline(always)]
    pub(crate) fn free_slot(&'static self) -> Option<&'static Hazard> {
        // A dispatched call that does not nest takes the first.
        let first = &self.slots[0];
        if first.announced.load(Relaxed).is_null() {
            return Some(first);
        }
        self.nested_free_slot()
    }

    #[cold]
    #[inline(never)]
    fn nested_free_slot(&'static self) -> Option<&'static Hazard> {
        self.slots[1..]
            .iter()
            .find(|s| s.announced.load(Relaxed).is_null())
    }
}

impl Hazard {
    fn free() -> Hazard {
        Hazard {
            announced: AtomicPtr::new(ptr::null_mut()),
            found_in: AtomicPtr::new(ptr::null_mut()),
        }
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
            slots: core::array::from_fn(|_| Hazard::free()),
            in_use: AtomicBool::new(true),
            #[cfg(wsp_thread_pointer)]
            owner: AtomicUsize::new(0),
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
                let p = slot.announced.load(Acquire);
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
        THREAD.with(|t| t.record.set(ptr::null()));
        // A thread exits with no pins held (guards borrow nothing across thread exit), so its
        // slots are null; clear them anyway so a stray value can never hold an entry forever.
        for slot in &self.record.slots {
            slot.announced.store(ptr::null_mut(), Release);
        }
        // The next thread with this thread pointer (the OS reuses them) must not take the
        // record for its own.
        #[cfg(wsp_thread_pointer)]
        self.record.owner.store(0, Relaxed);
        self.record.in_use.store(false, Release);
    }
}

thread_local! {
    static LOCAL: Local = Local { record: domain().acquire() };
}

/// The calling thread's one constant-initialised thread-local without a destructor (one TLS
/// access, no lazy-initialisation state): its record, and the word the embedding runtime keeps
/// per thread ([`crate::with_thread_word`]), so a call that pins a record and keeps state of
/// its own reaches thread-local storage once (inlined into one function, both are one address
/// computation). `LOCAL` above owns the record and clears `record` when the thread exits; the
/// word stays usable until the thread's storage is gone.
#[cfg(not(loom))]
pub(crate) struct Thread {
    record: Cell<*const Record>,
    pub(crate) word: Cell<usize>,
}

#[cfg(not(loom))]
std::thread_local! {
    pub(crate) static THREAD: Thread = const {
        Thread {
            record: Cell::new(ptr::null()),
            word: Cell::new(0),
        }
    };
}

/// The calling thread's record, or `None` while the thread is being torn down.
#[cfg(wsp_thread_pointer)]
#[inline(always)]
pub(crate) fn record() -> Option<&'static Record> {
    let tp = direct::thread_pointer();
    let entry = DIRECT[direct::entry(tp)].load(Relaxed);
    if !entry.is_null() {
        // SAFETY: records are leaked and never freed.
        let rec = unsafe { &*entry };
        // Only the thread with this thread pointer writes it into `owner`, and clears it before
        // it exits (and the OS gives the pointer to another thread): equal means ours.
        if rec.owner.load(Relaxed) == tp {
            return Some(rec);
        }
    }
    thread_local_record()
}

/// The calling thread's record, or `None` while the thread is being torn down.
#[cfg(all(not(loom), not(wsp_thread_pointer)))]
#[inline(always)]
pub(crate) fn record() -> Option<&'static Record> {
    thread_local_record()
}

/// The calling thread's record through its thread-local.
#[cfg(not(loom))]
#[inline(always)]
fn thread_local_record() -> Option<&'static Record> {
    let cached = THREAD.with(|t| t.record.get());
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
    THREAD.with(|t| t.record.set(record));
    #[cfg(wsp_thread_pointer)]
    direct::claim(record);
    Some(record)
}

/// Direct-mapped entries from a hash of the thread pointer to the record of the thread that
/// claimed the entry (see the module docs).
#[cfg(wsp_thread_pointer)]
static DIRECT: [AtomicPtr<Record>; direct::ENTRIES] = {
    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: AtomicPtr<Record> = AtomicPtr::new(ptr::null_mut());
    [EMPTY; direct::ENTRIES]
};

#[cfg(wsp_thread_pointer)]
mod direct {
    use super::{Record, DIRECT};
    use core::sync::atomic::Ordering::Relaxed;

    /// Entries of [`DIRECT`]: enough that threads rarely share one.
    pub(super) const ENTRIES: usize = 256;

    /// The entry of thread pointer `tp` (Fibonacci hashing: the top bits of a product).
    #[inline(always)]
    pub(super) fn entry(tp: usize) -> usize {
        #[cfg(target_pointer_width = "64")]
        const GOLDEN: usize = 0x9E37_79B9_7F4A_7C15;
        #[cfg(target_pointer_width = "32")]
        const GOLDEN: usize = 0x9E37_79B9;
        tp.wrapping_mul(GOLDEN) >> (usize::BITS - ENTRIES.trailing_zeros())
    }

    /// Makes `record` (the calling thread's) reachable through the thread pointer, unless the
    /// entry names a record another live thread owns (which keeps it).
    pub(super) fn claim(record: &'static Record) {
        let tp = thread_pointer();
        record.owner.store(tp, Relaxed);
        let slot = &DIRECT[entry(tp)];
        let current = slot.load(Relaxed);
        // SAFETY: records are leaked and never freed.
        if current.is_null() || unsafe { (*current).owner.load(Relaxed) } == 0 {
            slot.store(record as *const Record as *mut Record, Relaxed);
        }
    }

    /// The calling thread's thread pointer: the address of its thread environment block,
    /// distinct for every live thread.
    #[inline(always)]
    pub(super) fn thread_pointer() -> usize {
        let tp: usize;
        // SAFETY: reads the TEB's own address (`NT_TIB.Self`) from `gs:[0x30]` (x86-64) or
        // `fs:[0x18]` (x86); no other memory is touched.
        unsafe {
            #[cfg(target_arch = "x86_64")]
            core::arch::asm!("mov {}, qword ptr gs:[0x30]", out(reg) tp, options(nostack, readonly, preserves_flags, pure));
            #[cfg(target_arch = "x86")]
            core::arch::asm!("mov {}, dword ptr fs:[0x18]", out(reg) tp, options(nostack, readonly, preserves_flags, pure));
        }
        tp
    }
}

/// The calling thread's record, or `None` while the thread is being torn down.
#[cfg(loom)]
pub(crate) fn record() -> Option<&'static Record> {
    LOCAL.try_with(|l| l.record).ok()
}

/// Runs `f` with a hazard slot of a record borrowed for the call (for a thread whose own slots
/// are all in use, or that is being torn down), withdrawing its announcement afterwards.
pub(crate) fn with_spare<R>(f: impl FnOnce(&'static Hazard) -> R) -> R {
    let record = domain().acquire();
    let slot = &record.slots[0];
    let result = f(slot);
    slot.announced.store(ptr::null_mut(), Release);
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Barrier;

    /// Live threads have records of their own, found again on every call, also when the OS
    /// gives a new thread the thread pointer of one that exited (threads spawned one after
    /// another usually get the same).
    #[test]
    fn every_live_thread_finds_its_own_record() {
        for _ in 0..20 {
            let barrier = Barrier::new(2);
            let mine = || {
                let first = record().expect("a live thread has a record");
                assert!(first.in_use.load(Relaxed));
                barrier.wait();
                let again = record().expect("a live thread has a record");
                assert!(ptr::eq(first, again));
                barrier.wait();
                first as *const Record as usize
            };
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(mine);
                let b = s.spawn(mine);
                (a.join().unwrap(), b.join().unwrap())
            });
            assert_ne!(a, b, "two live threads share a record");
        }
        #[cfg(wsp_thread_pointer)]
        assert_eq!(
            record().unwrap().owner.load(Relaxed),
            direct::thread_pointer(),
            "a thread's record names its thread pointer"
        );
    }
}
