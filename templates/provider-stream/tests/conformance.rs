//! The toolkit's stream conformance scenarios with the provider linked in (`cargo wsp test
//! --wine` runs them again against the built DLL under Wine), one after the other, each in a
//! `Session` of its own: dropping it checks that the scenario closed every socket and runs
//! the clean-up. One test runs them all: on Windows (and under Wine) the stand-in's handles
//! are the process's kernel handles, so sessions running in parallel are not kept apart.

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

type Scenario = fn(&Ws2, &Target) -> Result<(), String>;

/// The scenarios, by name.
const SCENARIOS: &[(&str, Scenario)] = &[
    ("stream::echo", |ws, t| stream::echo(ws, t, 8, 256 << 10)),
    ("stream::graceful_shutdown", stream::graceful_shutdown),
    ("stream::refused", stream::refused),
    ("stream::wrong_state", stream::wrong_state),
    ("stream::nonblocking", stream::nonblocking),
    ("stream::options", stream::options),
    ("notify::event_select_echo", |ws, t| {
        notify::event_select_echo(ws, t, 8, 64 << 10)
    }),
    ("notify::select_echo", |ws, t| {
        notify::select_echo(ws, t, 8, 64 << 10)
    }),
    ("notify::async_select_order", notify::async_select_order),
    ("overlapped::routes", overlapped::routes),
    (
        "overlapped::close_with_pending",
        overlapped::close_with_pending,
    ),
    (
        "overlapped::shutdown_with_pending",
        overlapped::shutdown_with_pending,
    ),
    ("overlapped::iocp_echo", |ws, t| {
        overlapped::iocp_echo(ws, t, 2, 8, 64 << 10)
    }),
    ("errors::bad_input", errors::bad_input),
    ("errors::startup_version", |_, _| {
        errors::startup_version(&entry_points::<Streams>())
    }),
    ("churn::create_close", |ws, t| {
        churn::create_close(ws, t, 2_000)
    }),
    ("churn::close_races_calls", |ws, t| {
        churn::close_races_calls(ws, t, 20)
    }),
];

#[test]
fn stream_scenarios() {
    let mut failed = Vec::new();
    for (name, scenario) in SCENARIOS {
        let ws = Session::load(entry_points::<Streams>()).unwrap();
        if let Err(e) = scenario(&ws, &TARGET) {
            failed.push(format!("{}: {}", name, e));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
