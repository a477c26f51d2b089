//! The toolkit's stream conformance scenarios with the provider linked in (`cargo wsp test
//! --wine` runs them again against the built DLL under Wine), each in a `Session` of its own:
//! sessions hand out handle values from ranges of their own, so the scenarios run in parallel
//! without seeing each other's handles; dropping a session checks that the scenario closed
//! every socket and runs the clean-up.

use provider_stream_template::{Streams, FAMILY, PROTOCOL};
use std::net::SocketAddr;
use winsock_provider::sys::SOCK_STREAM;
use winsock_provider::{entry_points, SockAddr};
use ws2_standin::scenarios::{churn, errors, notify, overlapped, stream, Target};
use ws2_standin::{Session, Ws2};

/// A bindable address (port 0: the provider picks a free one).
fn address(_n: u32) -> SockAddr {
    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 0)))
}

const TARGET: Target = Target {
    af: FAMILY as i32,
    ty: SOCK_STREAM,
    protocol: PROTOCOL,
    addr: address,
};

/// Runs `scenario` in a session of its own.
fn run(scenario: impl FnOnce(&Ws2, &Target) -> Result<(), String>) {
    let ws = Session::load(entry_points::<Streams>()).unwrap();
    if let Err(e) = scenario(&ws, &TARGET) {
        panic!("{}", e);
    }
}

#[test]
fn stream_echo() {
    run(|ws, t| stream::echo(ws, t, 8, 256 << 10));
}

#[test]
fn stream_graceful_shutdown() {
    run(stream::graceful_shutdown);
}

#[test]
fn stream_refused() {
    run(stream::refused);
}

#[test]
fn stream_wrong_state() {
    run(stream::wrong_state);
}

#[test]
fn stream_nonblocking() {
    run(stream::nonblocking);
}

#[test]
fn stream_options() {
    run(stream::options);
}

#[test]
fn notify_event_select() {
    run(|ws, t| notify::event_select_echo(ws, t, 8, 64 << 10));
}

#[test]
fn notify_select() {
    run(|ws, t| notify::select_echo(ws, t, 8, 64 << 10));
}

#[test]
fn notify_async_select() {
    run(notify::async_select_order);
}

#[test]
fn overlapped_routes() {
    run(overlapped::routes);
}

#[test]
fn overlapped_close_with_pending() {
    run(overlapped::close_with_pending);
}

#[test]
fn overlapped_shutdown_with_pending() {
    run(overlapped::shutdown_with_pending);
}

#[test]
fn overlapped_iocp_echo() {
    run(|ws, t| overlapped::iocp_echo(ws, t, 2, 8, 64 << 10));
}

#[test]
fn errors_bad_input() {
    run(errors::bad_input);
}

#[test]
fn errors_startup_version() {
    run(|_, _| errors::startup_version(&entry_points::<Streams>()));
}

#[test]
fn churn_create_close() {
    run(|ws, t| churn::create_close(ws, t, 2_000));
}

#[test]
fn churn_close_races_calls() {
    run(|ws, t| churn::close_races_calls(ws, t, 20));
}
