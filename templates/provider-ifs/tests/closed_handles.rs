//! The scenarios that use handles after closing them, one after the other in one test: an IFS
//! socket's value is its OS handle, which the OS hands out again once it is closed, so a test
//! running beside them could take over a value they expect to be closed.

use provider_ifs_template::{Streams, FAMILY, PROTOCOL};
use std::net::SocketAddr;
use winsock_provider::sys::SOCK_STREAM;
use winsock_provider::{entry_points, SockAddr};
use ws2_standin::scenarios::{churn, errors, Target};
use ws2_standin::Session;

/// A bindable address (port 0: the provider picks a free one).
fn address(_n: u32) -> SockAddr {
    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 0)))
}

#[test]
fn bad_input_and_churn() {
    let t = Target {
        af: i32::from(FAMILY),
        ty: SOCK_STREAM,
        protocol: PROTOCOL,
        addr: address,
    };
    let ws = Session::load(entry_points::<Streams>()).unwrap();
    let check = |name: &str, result: Result<(), String>| {
        if let Err(e) = result {
            panic!("{}: {}", name, e);
        }
    };
    check("bad_input", errors::bad_input(&ws, &t));
    check("create_close", churn::create_close(&ws, &t, 2_000));
    check("close_races_calls", churn::close_races_calls(&ws, &t, 20));
}
