//! The models. Each record's drop sets a flag that lives outside the record, so a record freed
//! while some thread still holds a guard on it is seen by that thread.

use loom::sync::atomic::{AtomicBool, AtomicUsize};
use loom::thread;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use wsp_handle_table_loom::{Keyed, Reclaim, Table};

struct Rec {
    key: usize,
    serial: usize,
    freed: Arc<AtomicBool>,
}

impl Keyed for Rec {
    fn key(&self) -> usize {
        self.key
    }
}

impl Drop for Rec {
    fn drop(&mut self) {
        assert!(!self.freed.swap(true, SeqCst), "record freed twice");
    }
}

fn rec(key: usize, serial: usize) -> (Arc<Rec>, Arc<AtomicBool>) {
    let freed = Arc::new(AtomicBool::new(false));
    let r = Arc::new(Rec {
        key,
        serial,
        freed: freed.clone(),
    });
    (r, freed)
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// Handle values as ws2_32 would give them: on Windows the table shifts out the low two bits.
fn h(i: usize) -> usize {
    if cfg!(windows) {
        4 * i
    } else {
        i
    }
}

/// A lookup races a close and the immediate reuse of the same value for a new socket: it finds
/// the old record (still alive while it holds it), the new one, or nothing; and once everyone
/// is done, the old record has been freed exactly once (no leak, even when the lookup held it
/// while the closer reclaimed).
#[test]
fn lookup_races_close_and_reuse() {
    model(|| {
        let table = Arc::new(Table::<Rec>::new());
        let (old, old_freed) = rec(h(1), 1);
        table.insert(old).ok().unwrap();

        let reader = {
            let table = table.clone();
            let old_freed = old_freed.clone();
            thread::spawn(move || {
                if let Some(g) = table.get(h(1)) {
                    assert_eq!(g.key, h(1));
                    if g.serial == 1 {
                        assert!(!old_freed.load(SeqCst), "freed under a guard");
                    }
                    let serial = g.serial;
                    drop(g);
                    serial
                } else {
                    0
                }
            })
        };

        let closed = table
            .remove(h(1), Reclaim::Batched)
            .expect("the only closer wins");
        assert_eq!(closed.serial, 1);
        drop(closed);
        let (new, new_freed) = rec(h(1), 2);
        table.insert(new).ok().unwrap();

        let seen = reader.join().unwrap();
        assert!(seen <= 2);
        assert!(
            old_freed.load(SeqCst),
            "the closed record was not reclaimed"
        );
        assert!(!new_freed.load(SeqCst));
        let after = table.get(h(1)).unwrap();
        assert_eq!(after.serial, 2);
        drop(after);
        drop(table);
        assert!(new_freed.load(SeqCst));
    });
}

/// Two threads close the same handle: exactly one succeeds, the record is freed once.
#[test]
fn racing_closes_have_one_winner() {
    model(|| {
        let table = Arc::new(Table::<Rec>::new());
        let (r, freed) = rec(h(2), 1);
        table.insert(r).ok().unwrap();
        let wins = Arc::new(AtomicUsize::new(0));
        let closers: Vec<_> = (0..2)
            .map(|_| {
                let (table, wins) = (table.clone(), wins.clone());
                thread::spawn(move || {
                    if let Some(g) = table.remove(h(2), Reclaim::Batched) {
                        assert!(!g.freed.load(SeqCst));
                        wins.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for c in closers {
            c.join().unwrap();
        }
        assert_eq!(wins.load(SeqCst), 1);
        assert!(freed.load(SeqCst));
    });
}

/// A lookup turns its pin into a reference count (an overlapped operation) while the socket
/// is closed: the record stays alive through the count, and is freed when it is dropped.
#[test]
fn long_pin_outlives_close() {
    model(|| {
        let table = Arc::new(Table::<Rec>::new());
        let (r, freed) = rec(h(3), 1);
        table.insert(r).ok().unwrap();
        let pinner = {
            let table = table.clone();
            thread::spawn(move || table.get(h(3)).map(|g| g.to_arc()))
        };
        drop(table.remove(h(3), Reclaim::Batched));
        let kept = pinner.join().unwrap();
        match kept {
            Some(k) => {
                assert!(!freed.load(SeqCst));
                assert_eq!(k.serial, 1);
                drop(k);
                assert!(freed.load(SeqCst));
            }
            None => assert!(freed.load(SeqCst)),
        }
    });
}

/// Two sockets published on different pages at the same time by two threads (page creation
/// races), each found by the other thread.
#[test]
fn concurrent_publish_on_fresh_pages() {
    model(|| {
        let table = Arc::new(Table::<Rec>::new());
        let t = {
            let table = table.clone();
            thread::spawn(move || {
                table.insert(rec(h(4), 4).0).ok().unwrap();
                table.get(h(5)).map(|g| g.serial)
            })
        };
        table.insert(rec(h(5), 5).0).ok().unwrap();
        let mine = table.get(h(4)).map(|g| g.serial);
        let theirs = t.join().unwrap();
        assert!(mine.is_none() || mine == Some(4));
        assert!(theirs.is_none() || theirs == Some(5));
        assert_eq!(table.get(h(4)).unwrap().serial, 4);
    });
}
