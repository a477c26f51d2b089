//! The handle tables under test, each behind [`Table`], plus the two floors.
//!
//! Every peer stores `Arc<T>` so that a long pin (a blocking call, an overlapped operation) can
//! take a real reference count with [`Table::pin_long`]. What "pin" means in [`Table::with`]
//! follows each design's natural read path and is stated on each type.

use crate::Val;
use std::collections::HashMap;
use std::sync::atomic::{AtomicIsize, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A socket-handle table: handle value (a multiple of 4) to per-socket state.
pub trait Table<T: Send + Sync + 'static>: Send + Sync + Sized {
    /// The name used in reports.
    const NAME: &'static str;
    /// An empty table that will hold handles up to `max_handle` (a hint; only the
    /// sharded-slab adaptation needs it).
    fn new(max_handle: usize) -> Self;
    /// Publishes `v` under `h` (which is not in the table).
    fn insert(&self, h: usize, v: Arc<T>);
    /// Unpublishes `h`; exactly one caller gets the value.
    fn remove(&self, h: usize) -> Option<Arc<T>>;
    /// Unpublishes `h` and runs `close` on its state, as `WSPCloseSocket` runs the provider's
    /// close on the record it unpublished; exactly one caller gets to. What the churn workloads
    /// measure. By default [`Table::remove`] and a call on the value it returns; a table whose
    /// removal does not naturally yield an owned `Arc` overrides it rather than pay for one.
    #[inline]
    fn close<R>(&self, h: usize, close: impl FnOnce(&T) -> R) -> Option<R> {
        self.remove(h).map(|v| close(&v))
    }
    /// Lookup + pin + call + unpin: runs `f` on the state of `h`, if present.
    fn with<R>(&self, h: usize, f: impl FnOnce(&T) -> R) -> Option<R>;
    /// A long pin: a counted reference that may outlive the handle's close.
    fn pin_long(&self, h: usize) -> Option<Arc<T>>;
}

fn slot(h: usize) -> usize {
    h >> 2
}

// ---------------------------------------------------------------------------------------------
// The runtime's handle table itself (`wsp-handle-table`, the crate the runtime uses), on the
// Windows index rule (`h >> 2`): the handles here are Windows-shaped.

use wsp_handle_table as runtime_table;

impl runtime_table::Keyed for Val {
    #[inline(always)]
    fn key(&self) -> usize {
        self.key.load(Ordering::Relaxed)
    }
}

/// The runtime's table (`wsp-handle-table`): direct index, hazard-slot pins, batched reclaim.
/// `with` pins with a hazard slot (thread-local stores only); `pin_long` takes an `Arc` count
/// from under a pin, as pending overlapped operations do.
pub struct Runtime(runtime_table::Table<Val, 2>);

impl Table<Val> for Runtime {
    const NAME: &'static str = "runtime";
    fn new(_: usize) -> Self {
        Runtime(runtime_table::Table::new())
    }
    fn insert(&self, h: usize, v: Arc<Val>) {
        // The record knows its handle before it is published, as `Sock::handle` does.
        v.key.store(h, Ordering::Relaxed);
        if self.0.insert(v).is_err() {
            panic!("handle {h:#x} in use");
        }
    }
    fn remove(&self, h: usize) -> Option<Arc<Val>> {
        self.0
            .remove(h, runtime_table::Reclaim::Batched)
            .map(|g| g.to_arc())
    }
    #[inline]
    fn close<R>(&self, h: usize, close: impl FnOnce(&Val) -> R) -> Option<R> {
        self.0
            .remove(h, runtime_table::Reclaim::Batched)
            .map(|g| close(&g))
    }
    #[inline]
    fn with<R>(&self, h: usize, f: impl FnOnce(&Val) -> R) -> Option<R> {
        let g = self.0.get(h)?;
        Some(f(&g))
    }
    fn pin_long(&self, h: usize) -> Option<Arc<Val>> {
        self.0.get(h).map(|g| g.to_arc())
    }
}

// ---------------------------------------------------------------------------------------------

/// One `std::sync::RwLock<HashMap>`; pin = `Arc` clone under the read lock.
pub struct StdRwLock<T>(RwLock<HashMap<usize, Arc<T>>>);

impl<T: Send + Sync + 'static> Table<T> for StdRwLock<T> {
    const NAME: &'static str = "std-rwlock";
    fn new(_: usize) -> Self {
        StdRwLock(RwLock::new(HashMap::new()))
    }
    fn insert(&self, h: usize, v: Arc<T>) {
        self.0.write().unwrap().insert(h, v);
    }
    fn remove(&self, h: usize) -> Option<Arc<T>> {
        self.0.write().unwrap().remove(&h)
    }
    #[inline]
    fn with<R>(&self, h: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        let v = self.0.read().unwrap().get(&h).cloned()?;
        Some(f(&v))
    }
    fn pin_long(&self, h: usize) -> Option<Arc<T>> {
        self.0.read().unwrap().get(&h).cloned()
    }
}

/// One `parking_lot::RwLock<HashMap>`; pin = `Arc` clone under the read lock.
pub struct PlRwLock<T>(parking_lot::RwLock<HashMap<usize, Arc<T>>>);

impl<T: Send + Sync + 'static> Table<T> for PlRwLock<T> {
    const NAME: &'static str = "parking_lot-rwlock";
    fn new(_: usize) -> Self {
        PlRwLock(parking_lot::RwLock::new(HashMap::new()))
    }
    fn insert(&self, h: usize, v: Arc<T>) {
        self.0.write().insert(h, v);
    }
    fn remove(&self, h: usize) -> Option<Arc<T>> {
        self.0.write().remove(&h)
    }
    #[inline]
    fn with<R>(&self, h: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        let v = self.0.read().get(&h).cloned()?;
        Some(f(&v))
    }
    fn pin_long(&self, h: usize) -> Option<Arc<T>> {
        self.0.read().get(&h).cloned()
    }
}

/// Microsoft's non-IFS LSP sample: one global critical section around the context lookup
/// (`WPUQuerySocketHandleContext`, modelled as the map lookup) and `RefCount++`
/// (`FindAndRefSocketContext`), the call, then the critical section again for `RefCount--`
/// (`DerefSocketContext`). The `Arc` count is the sample's `RefCount`.
pub struct GlobalMutex<T>(Mutex<HashMap<usize, Arc<T>>>);

impl<T: Send + Sync + 'static> Table<T> for GlobalMutex<T> {
    const NAME: &'static str = "global-mutex(MS-sample)";
    fn new(_: usize) -> Self {
        GlobalMutex(Mutex::new(HashMap::new()))
    }
    fn insert(&self, h: usize, v: Arc<T>) {
        self.0.lock().unwrap().insert(h, v);
    }
    fn remove(&self, h: usize) -> Option<Arc<T>> {
        self.0.lock().unwrap().remove(&h)
    }
    #[inline]
    fn with<R>(&self, h: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        let v = self.0.lock().unwrap().get(&h).cloned()?;
        let r = f(&v);
        let guard = self.0.lock().unwrap();
        drop(v);
        drop(guard);
        Some(r)
    }
    fn pin_long(&self, h: usize) -> Option<Arc<T>> {
        self.0.lock().unwrap().get(&h).cloned()
    }
}

/// dashmap (default shard count and hasher); pin = `Arc` clone under the shard read lock (a
/// `Ref` holds the shard lock, which a blocking call must not keep).
pub struct Dash<T>(dashmap::DashMap<usize, Arc<T>>);

impl<T: Send + Sync + 'static> Table<T> for Dash<T> {
    const NAME: &'static str = "dashmap";
    fn new(_: usize) -> Self {
        Dash(dashmap::DashMap::new())
    }
    fn insert(&self, h: usize, v: Arc<T>) {
        self.0.insert(h, v);
    }
    fn remove(&self, h: usize) -> Option<Arc<T>> {
        self.0.remove(&h).map(|(_, v)| v)
    }
    #[inline]
    fn with<R>(&self, h: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        let v = self.0.get(&h).map(|r| r.value().clone())?;
        Some(f(&v))
    }
    fn pin_long(&self, h: usize) -> Option<Arc<T>> {
        self.0.get(&h).map(|r| r.value().clone())
    }
}

/// papaya (lock-free reads, seize-based reclamation); pin = the epoch guard held across `f`
/// (no reference count); long pin = `Arc` clone under a guard.
pub struct Papaya<T>(papaya::HashMap<usize, Arc<T>>);

impl<T: Send + Sync + 'static> Table<T> for Papaya<T> {
    const NAME: &'static str = "papaya";
    fn new(_: usize) -> Self {
        Papaya(papaya::HashMap::new())
    }
    fn insert(&self, h: usize, v: Arc<T>) {
        self.0.pin().insert(h, v);
    }
    fn remove(&self, h: usize) -> Option<Arc<T>> {
        self.0.pin().remove(&h).cloned()
    }
    #[inline]
    fn close<R>(&self, h: usize, close: impl FnOnce(&T) -> R) -> Option<R> {
        self.0.pin().remove(&h).map(|v| close(v))
    }
    #[inline]
    fn with<R>(&self, h: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        let map = self.0.pin();
        map.get(&h).map(|v| f(v))
    }
    fn pin_long(&self, h: usize) -> Option<Arc<T>> {
        self.0.pin().get(&h).cloned()
    }
}

/// scc's `HashIndex` (the read-optimised map of scc: lock-free `peek_with` under an sdd epoch
/// guard); pin = the epoch guard across `f`; long pin = `Arc` clone. `remove` takes the value
/// with `remove_if_sync` under the bucket's write lock.
pub struct SccIndex<T>(scc::HashIndex<usize, Arc<T>>);

impl<T: Send + Sync + 'static> Table<T> for SccIndex<T> {
    const NAME: &'static str = "scc-hashindex";
    fn new(_: usize) -> Self {
        SccIndex(scc::HashIndex::new())
    }
    fn insert(&self, h: usize, v: Arc<T>) {
        assert!(self.0.insert_sync(h, v).is_ok(), "handle {h:#x} in use");
    }
    fn remove(&self, h: usize) -> Option<Arc<T>> {
        let mut taken = None;
        self.0.remove_if_sync(&h, |v| {
            taken = Some(v.clone());
            true
        });
        taken
    }
    #[inline]
    fn with<R>(&self, h: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.0.peek_with(&h, |_, v| f(v))
    }
    fn pin_long(&self, h: usize) -> Option<Arc<T>> {
        self.0.peek_with(&h, |_, v| v.clone())
    }
}

/// sharded-slab. It assigns its own keys, so the handle is mapped to the slab key through a
/// side array indexed by `h >> 2` (`usize::MAX` = empty). That side array is itself a direct
/// index; the slab adds its slot lifecycle CAS (pin) and generation check on top. Pin = the
/// slab `Entry` guard across `f`; `remove` uses `Slab::take`, which waits for guards to drop.
pub struct Slab<T> {
    slab: sharded_slab::Slab<Arc<T>>,
    keys: Box<[AtomicUsize]>,
}

const NO_KEY: usize = usize::MAX;

impl<T: Send + Sync + 'static> Table<T> for Slab<T> {
    const NAME: &'static str = "sharded-slab";
    fn new(max_handle: usize) -> Self {
        Slab {
            slab: sharded_slab::Slab::new(),
            keys: (0..=slot(max_handle))
                .map(|_| AtomicUsize::new(NO_KEY))
                .collect(),
        }
    }
    fn insert(&self, h: usize, v: Arc<T>) {
        let key = self.slab.insert(v).expect("sharded-slab is full");
        self.keys[slot(h)].store(key, Ordering::Release);
    }
    fn remove(&self, h: usize) -> Option<Arc<T>> {
        let key = self.keys[slot(h)].swap(NO_KEY, Ordering::AcqRel);
        if key == NO_KEY {
            return None;
        }
        self.slab.take(key)
    }
    #[inline]
    fn with<R>(&self, h: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        let key = self.keys.get(slot(h))?.load(Ordering::Acquire);
        if key == NO_KEY {
            return None;
        }
        self.slab.get(key).map(|e| f(&e))
    }
    fn pin_long(&self, h: usize) -> Option<Arc<T>> {
        let key = self.keys.get(slot(h))?.load(Ordering::Acquire);
        if key == NO_KEY {
            return None;
        }
        self.slab.get(key).map(|e| Arc::clone(&e))
    }
}

// ---------------------------------------------------------------------------------------------
// A model of ws2help's handle context table (as ReactOS documents it: dll/win32/ws2help/context.c,
// `WahReferenceContextByHandle` / `WahInsertHandleContext` / `WahRemoveHandleContext`).
//
// Buckets ("search tables") by `(h >> 2) & mask`, each with a hash table of prime size indexed
// by `(h >> 2) % size` holding at most one entry per slot (a collision grows the table to the
// next prime), and two reader counters of which one is current. A reader increments the current
// counter and re-checks that it is still current (retrying otherwise), finds the entry,
// increments the entry's reference count, and decrements the bucket counter; after the call it
// decrements the entry's count. That is 4 locked read-modify-writes per call, 2 of them on the
// bucket's shared line. Writers take the bucket lock, change the table, switch the current
// counter and wait for the old one to drain before dropping the table's reference to a removed
// entry or freeing a replaced table.

const WS2HELP_BUCKETS: usize = 16;
const WS2HELP_PRIMES: &[usize] = &[
    31, 61, 127, 257, 521, 1031, 2053, 4099, 8191, 16381, 32749, 65537, 131071, 261983, 524287,
    1048573, 2097143, 4194301,
];

struct WEntry<T> {
    handle: usize,
    refs: AtomicUsize,
    value: Arc<T>,
}

struct WTable<T> {
    slots: Box<[AtomicPtr<WEntry<T>>]>,
}

#[repr(align(64))]
struct WBucket<T> {
    table: AtomicPtr<WTable<T>>,
    current: AtomicUsize,
    counts: [AtomicIsize; 2],
    lock: Mutex<()>,
}

/// The ws2help model (see the comment above).
pub struct Ws2Help<T> {
    buckets: Box<[WBucket<T>]>,
}

// SAFETY: entries and tables are shared through atomics and freed only after readers drain.
unsafe impl<T: Send + Sync> Send for Ws2Help<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Ws2Help<T> {}

fn new_wtable<T>(size: usize) -> *mut WTable<T> {
    Box::into_raw(Box::new(WTable {
        slots: (0..size)
            .map(|_| AtomicPtr::new(std::ptr::null_mut()))
            .collect(),
    }))
}

unsafe fn unref_entry<T>(e: *mut WEntry<T>) {
    if (*e).refs.fetch_sub(1, Ordering::AcqRel) == 1 {
        drop(Box::from_raw(e));
    }
}

impl<T> WBucket<T> {
    /// Makes the other counter current and waits for readers on the old one to leave.
    fn switch_and_drain(&self) {
        let old = self.current.load(Ordering::SeqCst);
        self.current.store(old ^ 1, Ordering::SeqCst);
        let mut spins = 0u32;
        while self.counts[old].load(Ordering::SeqCst) != 0 {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Enters as a reader: returns the counter index to leave with.
    #[inline]
    fn enter(&self) -> usize {
        loop {
            let i = self.current.load(Ordering::SeqCst);
            self.counts[i].fetch_add(1, Ordering::SeqCst);
            if self.current.load(Ordering::SeqCst) == i {
                return i;
            }
            self.counts[i].fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[inline]
    fn leave(&self, i: usize) {
        self.counts[i].fetch_sub(1, Ordering::SeqCst);
    }
}

impl<T> Ws2Help<T> {
    fn bucket(&self, h: usize) -> &WBucket<T> {
        &self.buckets[slot(h) & (WS2HELP_BUCKETS - 1)]
    }

    /// `WahReferenceContextByHandle`: the entry with its count raised, or null.
    #[inline]
    fn reference(&self, h: usize) -> *mut WEntry<T> {
        let b = self.bucket(h);
        let i = b.enter();
        // SAFETY: the table is freed only after readers of the current counter drain.
        let table = unsafe { &*b.table.load(Ordering::Acquire) };
        let e = table.slots[slot(h) % table.slots.len()].load(Ordering::Acquire);
        // SAFETY: entries are unreferenced by the table only after readers drain.
        let found = !e.is_null() && unsafe { (*e).handle } == h;
        if found {
            // SAFETY: as above.
            unsafe { (*e).refs.fetch_add(1, Ordering::AcqRel) };
        }
        b.leave(i);
        if found {
            e
        } else {
            std::ptr::null_mut()
        }
    }
}

impl<T: Send + Sync + 'static> Table<T> for Ws2Help<T> {
    const NAME: &'static str = "ws2help-model";
    fn new(_: usize) -> Self {
        Ws2Help {
            buckets: (0..WS2HELP_BUCKETS)
                .map(|_| WBucket {
                    table: AtomicPtr::new(new_wtable(WS2HELP_PRIMES[0])),
                    current: AtomicUsize::new(0),
                    counts: [AtomicIsize::new(0), AtomicIsize::new(0)],
                    lock: Mutex::new(()),
                })
                .collect(),
        }
    }

    fn insert(&self, h: usize, v: Arc<T>) {
        let b = self.bucket(h);
        let _g = b.lock.lock().unwrap();
        let entry = Box::into_raw(Box::new(WEntry {
            handle: h,
            refs: AtomicUsize::new(1),
            value: v,
        }));
        // SAFETY: writers hold the bucket lock; the table is only replaced under it.
        let table = unsafe { &*b.table.load(Ordering::Acquire) };
        let at = &table.slots[slot(h) % table.slots.len()];
        if at.load(Ordering::Relaxed).is_null() {
            at.store(entry, Ordering::Release);
            return;
        }
        // Collision: grow to the next prime at which every entry has a slot of its own.
        let mut all: Vec<*mut WEntry<T>> = table
            .slots
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|e| !e.is_null())
            .collect();
        all.push(entry);
        let start = WS2HELP_PRIMES
            .iter()
            .position(|&p| p == table.slots.len())
            .unwrap()
            + 1;
        for &size in &WS2HELP_PRIMES[start..] {
            let fresh = new_wtable::<T>(size);
            // SAFETY: just allocated, not yet published.
            let ft = unsafe { &*fresh };
            let fits = all.iter().all(|&e| {
                // SAFETY: live entries owned by the table.
                let s = &ft.slots[slot(unsafe { (*e).handle }) % size];
                if s.load(Ordering::Relaxed).is_null() {
                    s.store(e, Ordering::Relaxed);
                    true
                } else {
                    false
                }
            });
            if fits {
                let old = b.table.swap(fresh, Ordering::AcqRel);
                b.switch_and_drain();
                // SAFETY: no reader can still see the old table.
                drop(unsafe { Box::from_raw(old) });
                return;
            }
            // SAFETY: never published.
            drop(unsafe { Box::from_raw(fresh) });
        }
        panic!("ws2help model: no prime fits");
    }

    fn remove(&self, h: usize) -> Option<Arc<T>> {
        let b = self.bucket(h);
        let _g = b.lock.lock().unwrap();
        // SAFETY: writers hold the bucket lock.
        let table = unsafe { &*b.table.load(Ordering::Acquire) };
        let at = &table.slots[slot(h) % table.slots.len()];
        let e = at.load(Ordering::Relaxed);
        // SAFETY: the table's reference keeps `e` alive while we hold the lock.
        if e.is_null() || unsafe { (*e).handle } != h {
            return None;
        }
        at.store(std::ptr::null_mut(), Ordering::Release);
        b.switch_and_drain();
        // SAFETY: readers can no longer find `e`; we drop the table's reference.
        let value = unsafe { (*e).value.clone() };
        unsafe { unref_entry(e) };
        Some(value)
    }

    #[inline]
    fn with<R>(&self, h: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        let e = self.reference(h);
        if e.is_null() {
            return None;
        }
        // SAFETY: our reference keeps the entry alive.
        let r = f(unsafe { &(*e).value });
        // SAFETY: drops the reference taken by `reference`.
        unsafe { unref_entry(e) };
        Some(r)
    }

    fn pin_long(&self, h: usize) -> Option<Arc<T>> {
        let e = self.reference(h);
        if e.is_null() {
            return None;
        }
        // SAFETY: our reference keeps the entry alive.
        let v = unsafe { (*e).value.clone() };
        // SAFETY: drops the reference taken by `reference`.
        unsafe { unref_entry(e) };
        Some(v)
    }
}

impl<T> Drop for Ws2Help<T> {
    fn drop(&mut self) {
        for b in self.buckets.iter() {
            let t = b.table.load(Ordering::Relaxed);
            // SAFETY: exclusive access; every entry holds the table's reference.
            unsafe {
                for s in (*t).slots.iter() {
                    let e = s.load(Ordering::Relaxed);
                    if !e.is_null() {
                        unref_entry(e);
                    }
                }
                drop(Box::from_raw(t));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Floors: read-only, built once from the live set.

/// Floor 1: a plain `Vec<usize>` indexed by `h >> 2`.
pub struct PlainArray(pub Vec<usize>);

impl PlainArray {
    /// The floor over handles `4, 8, ..., 4n`.
    pub fn new(n: usize) -> Self {
        PlainArray((0..=n).collect())
    }
    /// One load.
    #[inline]
    pub fn lookup(&self, h: usize) -> usize {
        self.0[slot(h)]
    }
}

/// Floor 2: `Vec<AtomicPtr<T>>` loaded with `Acquire`, plus one read of the pointee.
pub struct AtomicPtrArray<T> {
    slots: Vec<AtomicPtr<T>>,
    _keep: Vec<Arc<T>>,
}

impl<T> AtomicPtrArray<T> {
    /// The floor over the given values at handles `4, 8, ..., 4n`.
    pub fn new(values: Vec<Arc<T>>) -> Self {
        let mut slots = vec![AtomicPtr::new(std::ptr::null_mut())];
        slots.extend(
            values
                .iter()
                .map(|v| AtomicPtr::new(Arc::as_ptr(v) as *mut T)),
        );
        AtomicPtrArray {
            slots,
            _keep: values,
        }
    }
    /// Acquire load + `f` on the pointee.
    #[inline]
    pub fn with<R>(&self, h: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        let p = self.slots[slot(h)].load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: pointees are kept alive by `_keep` and never change.
        Some(f(unsafe { &*p }))
    }
}
