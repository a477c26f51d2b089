//! The pipe provider's readiness, which comes from the OS handles: every notification model
//! works on it (`select`, `WSAEventSelect`, `WSAAsyncSelect`), each scenario in a session of
//! its own.

mod common;

use common::{run, target, ws};
use ws2_standin::scenarios::notify;

#[test]
fn event_select_echo() {
    let ws = ws();
    run(notify::event_select_echo(&ws, &target(), 8, 128 << 10));
}

#[test]
fn select_echo() {
    let ws = ws();
    run(notify::select_echo(&ws, &target(), 8, 128 << 10));
}

#[test]
fn async_select_order() {
    let ws = ws();
    run(notify::async_select_order(&ws, &target()));
}
