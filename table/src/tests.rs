//! The table's own tests: behaviour, and a stress run with immediate handle reuse on every
//! thread that checks that no lookup returns a record closed before it started and that no
//! record is freed while pinned (CI also runs these under AddressSanitizer).

use super::retire::{flush, pending, BATCH};
use super::*;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Test builds only: now and then, give up the CPU at the two points of the protocol where a
/// racing close matters (between reading a slot and announcing it; between withdrawing an
/// announcement and re-reading the slot), so the stress test exercises those windows instead of
/// almost never landing in them.
pub(super) fn jitter() {
    std::thread_local!(static N: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
    N.with(|n| {
        let v = n.get().wrapping_mul(1_103_515_245).wrapping_add(12_345);
        n.set(v);
        if v >> 28 == 0 {
            std::thread::yield_now();
        }
    });
}

/// Longer than [`QUIET_TICKS`] on any clock the table uses.
const QUIET_SLEEP: std::time::Duration = std::time::Duration::from_millis(5);

struct Rec {
    key: usize,
    serial: u64,
    pins: AtomicUsize,
    drops: Arc<AtomicUsize>,
}

impl Keyed for Rec {
    fn key(&self) -> usize {
        self.key
    }
}

impl Drop for Rec {
    fn drop(&mut self) {
        assert_eq!(self.pins.load(SeqCst), 0, "record freed while pinned");
        self.drops.fetch_add(1, SeqCst);
    }
}

fn rec(key: usize, serial: u64, drops: &Arc<AtomicUsize>) -> Arc<Rec> {
    Arc::new(Rec {
        key,
        serial,
        pins: AtomicUsize::new(0),
        drops: drops.clone(),
    })
}

fn step() -> usize {
    // The distance between handle values that get different slots (see `index`).
    1 << OS_SHIFT
}

#[test]
fn publish_find_close() {
    let drops = Arc::new(AtomicUsize::new(0));
    let table = Table::<Rec>::new();
    let h = 0x1_0000;
    assert!(table.get(h).is_none());
    table.insert(rec(h, 1, &drops)).ok().unwrap();
    assert_eq!(table.get(h).unwrap().serial, 1);
    assert!(table.get(h + step()).is_none());
    let (why, back) = table.insert(rec(h, 2, &drops)).err().unwrap();
    assert_eq!((why, back.serial), (InsertError::Occupied, 2));
    drop(back);
    assert_eq!(drops.load(SeqCst), 1);

    let closed = table.remove(h, Reclaim::Batched).unwrap();
    assert_eq!(closed.serial, 1);
    assert!(table.get(h).is_none(), "a closed handle is not found");
    assert!(
        table.remove(h, Reclaim::Batched).is_none(),
        "closing twice fails"
    );
    assert_eq!(drops.load(SeqCst), 1, "still pinned by the closer");
    drop(closed);
    assert_eq!(drops.load(SeqCst), 2);
    assert_eq!(pending(), 0);
}

#[test]
fn a_pinned_record_survives_close_and_reuse_of_its_value() {
    let drops = Arc::new(AtomicUsize::new(0));
    let table = Table::<Rec>::new();
    let h = 8 * step();
    table.insert(rec(h, 1, &drops)).ok().unwrap();
    let old = table.get(h).unwrap();
    drop(table.remove(h, Reclaim::Batched).unwrap());
    table.insert(rec(h, 2, &drops)).ok().unwrap();
    assert_eq!(
        table.get(h).unwrap().serial,
        2,
        "the new socket, never the old one"
    );
    assert_eq!(old.serial, 1);
    assert_eq!((drops.load(SeqCst), pending()), (0, 1));
    drop(old);
    assert_eq!((drops.load(SeqCst), pending()), (1, 0));
}

#[test]
fn long_pins_outlive_the_table_entry_and_do_not_hold_others() {
    let drops = Arc::new(AtomicUsize::new(0));
    let table = Table::<Rec>::new();
    table.insert(rec(step(), 1, &drops)).ok().unwrap();
    let long = table.get(step()).unwrap().to_arc();
    drop(table.remove(step(), Reclaim::Batched).unwrap());
    assert_eq!(drops.load(SeqCst), 0);
    let pinned_forever = {
        table.insert(rec(2 * step(), 2, &drops)).ok().unwrap();
        table.get(2 * step()).unwrap()
    };
    let burst = 3 * BATCH;
    for i in 0..burst {
        let h = (10 + i) * step();
        table.insert(rec(h, 3, &drops)).ok().unwrap();
        drop(table.remove(h, Reclaim::Batched));
    }
    // A burst of closes reclaims once per BATCH; the next close after a quiet spell frees the
    // rest. The long pin and the pinned socket hold back nothing else.
    assert!(
        drops.load(SeqCst) >= burst - BATCH,
        "{}",
        drops.load(SeqCst)
    );
    std::thread::sleep(QUIET_SLEEP);
    table.insert(rec(step(), 4, &drops)).ok().unwrap();
    drop(table.remove(step(), Reclaim::Batched));
    assert_eq!(
        drops.load(SeqCst),
        burst + 1,
        "one pinned socket holds back no other"
    );
    drop(long);
    assert_eq!(drops.load(SeqCst), burst + 2);
    drop(pinned_forever);
}

#[test]
fn bursts_of_closes_share_one_barrier_sparse_closes_free_at_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let table = Table::<Rec>::new();
    for i in 0..10 * BATCH {
        table.insert(rec(i * step(), 0, &drops)).ok().unwrap();
    }
    std::thread::sleep(QUIET_SLEEP);
    // The first close of a burst reclaims at once (quiet before it), later ones in batches.
    drop(table.remove(0, Reclaim::Batched));
    assert_eq!(drops.load(SeqCst), 1);
    for i in 1..=(5 * BATCH) {
        drop(table.remove(i * step(), Reclaim::Batched));
        assert!(pending() <= BATCH, "the batch bound holds");
    }
    let freed = drops.load(SeqCst);
    assert!(freed > 5 * BATCH - BATCH, "{}", freed);
    // After a quiet spell, one close frees everything pending.
    std::thread::sleep(QUIET_SLEEP);
    drop(table.remove((5 * BATCH + 1) * step(), Reclaim::Batched));
    assert_eq!(drops.load(SeqCst), 5 * BATCH + 2);
    assert_eq!(pending(), 0);
}

#[test]
fn prompt_closes_free_at_once_even_in_a_burst() {
    let drops = Arc::new(AtomicUsize::new(0));
    let table = Table::<Rec>::new();
    for i in 0..100 {
        table.insert(rec(i * step(), 0, &drops)).ok().unwrap();
    }
    for i in 0..100 {
        drop(table.remove(i * step(), Reclaim::Now));
        assert_eq!(drops.load(SeqCst), i + 1);
    }
}

#[test]
fn deep_nesting_falls_back_to_counts() {
    let drops = Arc::new(AtomicUsize::new(0));
    let table = Table::<Rec>::new();
    for i in 1..=8 {
        table
            .insert(rec(i * step(), i as u64, &drops))
            .ok()
            .unwrap();
    }
    let guards: Vec<_> = (1..=8).map(|i| table.get(i * step()).unwrap()).collect();
    for i in 1..=8 {
        drop(table.remove(i * step(), Reclaim::Batched).unwrap());
    }
    assert_eq!(drops.load(SeqCst), 0);
    assert_eq!(
        guards.iter().map(|g| g.serial).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    drop(guards);
    assert_eq!((drops.load(SeqCst), pending()), (8, 0));
}

#[test]
fn out_of_range_values_are_refused() {
    let drops = Arc::new(AtomicUsize::new(0));
    let table = Table::<Rec>::new();
    let h = (TOP * PAGE) * step();
    assert_eq!(
        table.insert(rec(h, 1, &drops)).err().unwrap().0,
        InsertError::OutOfRange
    );
    assert!(table.get(h).is_none());
    assert!(table.get(usize::MAX).is_none());
}

#[test]
fn drain_unpublishes_everything() {
    let drops = Arc::new(AtomicUsize::new(0));
    let table = Table::<Rec>::new();
    for i in 0..50 {
        table.insert(rec(i * 97 * step(), 0, &drops)).ok().unwrap();
    }
    let held = table.get(97 * step()).unwrap();
    let all = table.drain();
    assert_eq!(all.len(), 50);
    assert!(table.get(97 * step()).is_none());
    drop(all);
    assert_eq!(drops.load(SeqCst), 49);
    drop(held);
    assert_eq!(drops.load(SeqCst), 50);
}

/// Every thread owns a few handle values and closes and re-creates them in a loop (the value
/// is reused at once, as Windows does), while looking up everyone's values. A lookup must never
/// return a record whose close had completed before the lookup began, and no record may be
/// freed while pinned (checked in `Rec::drop`, and by AddressSanitizer in CI).
#[test]
fn stress_reuse_on_every_thread() {
    const PER_THREAD: usize = 4;
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
        * 2;
    let rounds: u64 = if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    };
    let drops = Arc::new(AtomicUsize::new(0));
    let table = Table::<Rec>::new();
    let handles = threads * PER_THREAD;
    let value = |i: usize| (0x1_0000 + i) * step();
    // Per handle: the serial of its latest *completed* close (0: none yet).
    let closed: Vec<AtomicU64> = (0..handles).map(|_| AtomicU64::new(0)).collect();
    let created = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (table, closed, created, drops) = (&table, &closed, &created, &drops);
            scope.spawn(move || {
                let mut serial = [0u64; PER_THREAD];
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ t as u64;
                for round in 0..rounds {
                    let mine = t * PER_THREAD + (round as usize % PER_THREAD);
                    let k = mine % PER_THREAD;
                    if serial[k] > 0 {
                        let g = table
                            .remove(value(mine), Reclaim::Batched)
                            .expect("my own socket is open");
                        assert_eq!(g.serial, serial[k]);
                        drop(g);
                        closed[mine].store(serial[k], SeqCst);
                    }
                    serial[k] += 1;
                    table
                        .insert(rec(value(mine), serial[k], drops))
                        .ok()
                        .unwrap();
                    created.fetch_add(1, SeqCst);
                    for _ in 0..8 {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let other = rng as usize % handles;
                        let before = closed[other].load(SeqCst);
                        if let Some(g) = table.get(value(other)) {
                            g.pins.fetch_add(1, SeqCst);
                            assert_eq!(g.key, value(other));
                            assert!(
                                g.serial > before,
                                "lookup of {:#x} returned incarnation {} closed before it began",
                                value(other),
                                g.serial
                            );
                            std::hint::spin_loop();
                            g.pins.fetch_sub(1, SeqCst);
                        }
                    }
                }
                flush();
            });
        }
    });
    let live = table.drain();
    assert_eq!(live.len(), handles);
    drop(live);
    flush();
    assert_eq!(pending(), 0);
    assert_eq!(
        drops.load(SeqCst),
        created.load(SeqCst),
        "every record freed exactly once"
    );
}
