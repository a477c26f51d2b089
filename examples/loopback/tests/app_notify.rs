//! Application-level network event notification against the loopback provider (through the
//! stand-in's Winsock-shaped API): `WSAEventSelect` and `select` driven echo servers, and
//! `WSAAsyncSelect` message order and re-enabling.

mod common;

use common::{run, TCP};
use ws2_standin::scenarios::notify;

#[test]
fn event_select_echo_16_clients_4_mb() {
    run(|ws| notify::event_select_echo(ws, &TCP, 16, 256 << 10));
}

#[test]
fn select_echo_16_clients_4_mb() {
    run(|ws| notify::select_echo(ws, &TCP, 16, 256 << 10));
}

#[test]
fn async_select_order() {
    run(|ws| notify::async_select_order(ws, &TCP));
}
