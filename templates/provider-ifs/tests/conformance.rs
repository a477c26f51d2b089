//! The toolkit's stream and IFS conformance scenarios with the provider linked in (`cargo wsp
//! test --wine` runs them again against the built DLL under Wine), one test each, in parallel,
//! each in a `Session` of its own; dropping it checks that the scenario closed every socket and
//! runs the clean-up. The scenarios that use closed handles are in `tests/closed_handles.rs`.

use provider_ifs_template::{Streams, FAMILY, PROTOCOL};
use std::net::SocketAddr;
use winsock_provider::sys::SOCK_STREAM;
use winsock_provider::{entry_points, SockAddr};
use ws2_standin::scenarios::{errors, ifs, notify, stream, Target};
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

/// Runs one scenario in a fresh session.
fn run(scenario: impl FnOnce(&Ws2, &Target) -> Result<(), String>) {
    let ws = Session::load(entry_points::<Streams>()).unwrap();
    if let Err(e) = scenario(&ws, &TARGET) {
        panic!("{}", e);
    }
}

#[test]
fn echo() {
    run(|ws, t| stream::echo(ws, t, 8, 256 << 10));
}

#[test]
fn graceful_shutdown() {
    run(stream::graceful_shutdown);
}

#[test]
fn refused() {
    run(stream::refused);
}

#[test]
fn wrong_state() {
    run(stream::wrong_state);
}

#[test]
fn nonblocking() {
    run(stream::nonblocking);
}

#[test]
fn options() {
    run(stream::options);
}

#[test]
fn event_select_echo() {
    run(|ws, t| notify::event_select_echo(ws, t, 8, 64 << 10));
}

#[test]
fn select_echo() {
    run(|ws, t| notify::select_echo(ws, t, 8, 64 << 10));
}

#[test]
fn async_select_order() {
    run(notify::async_select_order);
}

#[test]
fn file_io_interleave() {
    run(ifs::file_io_interleave);
}

#[test]
fn handle_is_os_handle() {
    run(ifs::handle_is_os_handle);
}

#[test]
fn startup_version() {
    run(|_, _| errors::startup_version(&entry_points::<Streams>()));
}
