//! Application-level overlapped I/O against the loopback provider (through the stand-in's
//! Winsock-shaped API): an IOCP echo server, the three completion routes, and closing sockets
//! with operations pending. Each test also checks the runtime's own count of outstanding
//! operations (process-wide, so the tests of this binary run one at a time).

mod common;

use common::{run, TCP};
use std::sync::Mutex;
use ws2_standin::scenarios::overlapped;

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `scenario` alone in this binary, then checks the runtime has no operation left.
fn alone(scenario: impl FnOnce(&ws2_standin::Ws2) -> Result<(), String>) {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = winsock_provider::outstanding_operations();
    run(scenario);
    assert_eq!(
        winsock_provider::outstanding_operations(),
        before,
        "the runtime still counts outstanding overlapped operations"
    );
}

#[test]
fn iocp_echo_4_workers_64_clients_64_mb() {
    alone(|ws| overlapped::iocp_echo(ws, &TCP, 4, 64, 1 << 20));
}

#[test]
fn completion_routes() {
    alone(|ws| overlapped::routes(ws, &TCP));
}

#[test]
fn close_with_pending_operations() {
    alone(|ws| overlapped::close_with_pending(ws, &TCP));
}

#[test]
fn shutdown_and_disconnect_with_a_receive_pending() {
    alone(|ws| overlapped::shutdown_with_pending(ws, &TCP));
}

#[test]
fn extension_functions() {
    alone(|ws| overlapped::extensions(ws, &TCP, &common::UDP));
}
