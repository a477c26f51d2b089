//! Every table keeps the `Table` contract the benchmark relies on: sequential semantics, and
//! under concurrent churn with immediate value reuse a lookup only ever sees the state of the
//! socket that currently owns (or just owned) the handle, never freed memory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use wsp_bench::tables::*;
use wsp_bench::{handle, Val};

fn sequential<T: Table<Val>>() {
    let t = T::new(handle(100));
    for i in 0..100 {
        assert!(t.with(handle(i), |v| v.id).is_none(), "{}: empty", T::NAME);
        t.insert(handle(i), Arc::new(Val::new(i)));
    }
    for i in 0..100 {
        assert_eq!(t.with(handle(i), |v| v.id), Some(i), "{}", T::NAME);
        assert_eq!(t.pin_long(handle(i)).map(|v| v.id), Some(i), "{}", T::NAME);
    }
    let pinned = t.pin_long(handle(7)).unwrap();
    assert_eq!(t.remove(handle(7)).map(|v| v.id), Some(7), "{}", T::NAME);
    assert!(t.remove(handle(7)).is_none(), "{}: removed once", T::NAME);
    assert!(t.with(handle(7), |v| v.id).is_none(), "{}: closed", T::NAME);
    assert_eq!(pinned.id, 7, "{}: long pin outlives close", T::NAME);
    t.insert(handle(7), Arc::new(Val::new(1007)));
    assert_eq!(
        t.with(handle(7), |v| v.id),
        Some(1007),
        "{}: reused value",
        T::NAME
    );
}

fn concurrent<T: Table<Val>>() {
    const N: usize = 64;
    let t = T::new(handle(N));
    for i in 0..N {
        t.insert(handle(i), Arc::new(Val::new(i)));
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for r in 0..2 {
            let (t, stop) = (&t, &stop);
            s.spawn(move || {
                let mut i = r;
                while !stop.load(Ordering::Relaxed) {
                    i = (i * 7 + 3) % N;
                    if let Some(id) = t.with(handle(i), |v| v.id) {
                        assert_eq!(id % N, i, "{}: foreign state", T::NAME);
                    }
                    if let Some(v) = t.pin_long(handle(i)) {
                        assert_eq!(v.id % N, i, "{}: foreign state", T::NAME);
                    }
                }
            });
        }
        for round in 1..20_000 {
            let i = (round * 13) % N;
            let old = t.remove(handle(i)).expect("present");
            assert_eq!(old.id % N, i);
            t.insert(handle(i), Arc::new(Val::new(i + N * round)));
        }
        stop.store(true, Ordering::Relaxed);
    });
}

macro_rules! both {
    ($($name:ident: $ty:ty,)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn sequential_contract() { sequential::<$ty>() }
            #[test]
            fn concurrent_churn() { concurrent::<$ty>() }
        }
    )*};
}

both! {
    runtime: Runtime,
    std_rwlock: StdRwLock<Val>,
    parking_lot_rwlock: PlRwLock<Val>,
    global_mutex: GlobalMutex<Val>,
    ws2help_model: Ws2Help<Val>,
    dashmap: Dash<Val>,
    papaya: Papaya<Val>,
    scc_hashindex: SccIndex<Val>,
    sharded_slab: Slab<Val>,
}

#[test]
fn ws2help_model_grows_on_collisions() {
    // Many handles per bucket force the prime-size tables to grow.
    let t = Ws2Help::<Val>::new(handle(5000));
    for i in 0..5000 {
        t.insert(handle(i), Arc::new(Val::new(i)));
    }
    for i in 0..5000 {
        assert_eq!(t.with(handle(i), |v| v.id), Some(i));
    }
}

#[test]
fn dispatch_paths_agree() {
    let st = wsp_bench::dispatch::setup();
    let mut data = [1u8; 10];
    let buf = winsock_provider::sys::WSABUF {
        len: 10,
        buf: data.as_mut_ptr(),
    };
    assert_eq!(
        wsp_bench::dispatch::thunk_send(st.send, st.socket, &buf),
        10
    );
    // SAFETY: one WSABUF over a live array.
    let bufs = unsafe { winsock_provider::Bufs::from_raw(&buf, 1) }.unwrap();
    assert_eq!(wsp_bench::dispatch::direct_send(&st.direct, &bufs), 10);
    assert_eq!(st.direct.sent(), 10);
    st.ws.closesocket(st.socket).unwrap();
    st.ws.cleanup();
}
