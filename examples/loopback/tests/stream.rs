//! Stream scenarios against the loopback provider.

mod common;

use common::{run, TCP};
use ws2_standin::scenarios::stream;

#[test]
fn echo_32_clients_10_mb_each() {
    run(|ws| stream::echo(ws, &TCP, 32, 10 << 20));
}

#[test]
fn graceful_shutdown() {
    run(|ws| stream::graceful_shutdown(ws, &TCP));
}

#[test]
fn refused() {
    run(|ws| stream::refused(ws, &TCP));
}

#[test]
fn wrong_state() {
    run(|ws| stream::wrong_state(ws, &TCP));
}

#[test]
fn nonblocking() {
    run(|ws| stream::nonblocking(ws, &TCP));
}

#[test]
fn options() {
    run(|ws| stream::options(ws, &TCP));
}
