//! The toolkit's conformance scenarios for datagram providers, with the provider linked in
//! (`cargo wsp test --wine` runs them again against the built DLL under Wine), one test each, in
//! parallel. Each `Session` hands out handle values no other session sees, so tests running
//! beside it never reuse the closed values these scenarios check; dropping it checks that the
//! scenario closed every socket and runs the clean-up.

use provider_template::{Datagrams, FAMILY, PROTOCOL};
use std::net::SocketAddr;
use winsock_provider::sys::SOCK_DGRAM;
use winsock_provider::{entry_points, SockAddr};
use ws2_standin::scenarios::{churn, datagram, errors, Target};
use ws2_standin::{Session, Ws2};

/// Address number `n` in this provider's address format.
fn address(n: u32) -> SockAddr {
    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 5000 + n as u16)))
}

/// Address number `BASE + n`: each test has addresses of its own, as the tests run in parallel.
fn address_from<const BASE: u32>(n: u32) -> SockAddr {
    address(BASE + n)
}

/// Runs one scenario in a fresh session, its addresses from number `BASE` up.
fn run<const BASE: u32>(scenario: impl FnOnce(&Ws2, &Target) -> Result<(), String>) {
    let target = Target {
        af: i32::from(FAMILY),
        ty: SOCK_DGRAM,
        protocol: PROTOCOL,
        addr: address_from::<BASE>,
    };
    let ws = Session::load(entry_points::<Datagrams>()).unwrap();
    if let Err(e) = scenario(&ws, &target) {
        panic!("{}", e);
    }
}

#[test]
fn boundaries() {
    run::<0>(datagram::boundaries);
}

#[test]
fn bad_input() {
    run::<5000>(errors::bad_input);
}

#[test]
fn startup_version() {
    run::<10000>(|_, _| errors::startup_version(&entry_points::<Datagrams>()));
}

#[test]
fn create_close() {
    run::<15000>(|ws, t| churn::create_close(ws, t, 2_000));
}

#[test]
fn close_races_calls() {
    run::<20000>(|ws, t| churn::close_races_calls(ws, t, 20));
}
