//! Creating and closing sockets (fresh, listening, connected and accepted) leaves no
//! descriptor behind, and the shared create/close churn scenario passes.
//!
//! The provider's last clean-up leaves the process with the descriptors it had before the
//! provider started.
//!
//! Alone in its test binary: it counts the process's open descriptors, and the churn
//! scenario must be the only code creating sockets while it runs.

mod common;

use common::{addr, run, target, ws};
use ws2_standin::scenarios::churn;
use ws2_standin::Ws2;

/// One round of churn: a fresh socket, and a listener with a connected pair.
fn churn(ws: &Ws2) {
    let t = target();
    let fresh = ws.socket(t.af, t.ty, t.protocol).unwrap();
    ws.closesocket(fresh).unwrap();
    let l = ws.socket(t.af, t.ty, t.protocol).unwrap();
    ws.bind(l, &addr(b"")).unwrap();
    ws.listen(l, 4).unwrap();
    let a = ws.getsockname(l).unwrap();
    let c = ws.socket(t.af, t.ty, t.protocol).unwrap();
    ws.connect(c, &a).unwrap();
    let (s, _) = ws.accept(l).unwrap();
    ws.send(c, b"x", 0).unwrap();
    // A connection left in the backlog when the listener closes.
    let pending = ws.socket(t.af, t.ty, t.protocol).unwrap();
    ws.connect(pending, &a).unwrap();
    for x in [l, c, s, pending] {
        ws.closesocket(x).unwrap();
    }
}

#[cfg(target_os = "linux")]
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[cfg(target_os = "linux")]
#[test]
fn churn_leaks_no_descriptors() {
    let initial = open_descriptors();
    let ws = ws();
    churn(&ws);
    let before = open_descriptors();
    for _ in 0..500 {
        churn(&ws);
    }
    assert_eq!(
        open_descriptors(),
        before,
        "descriptors leaked by create/close churn"
    );
    run(churn::create_close(&ws, &target(), 5000));
    assert_eq!(
        open_descriptors(),
        before,
        "descriptors leaked by churn::create_close"
    );
    drop(ws);
    // The last clean-up also closes what the provider opened once (its readiness watcher's
    // wake-up pipe).
    assert_eq!(
        open_descriptors(),
        initial,
        "descriptors left after the last clean-up"
    );
}

#[cfg(not(target_os = "linux"))]
#[test]
fn churn_runs() {
    let ws = ws();
    for _ in 0..100 {
        churn(&ws);
    }
    run(churn::create_close(&ws, &target(), 5000));
}
