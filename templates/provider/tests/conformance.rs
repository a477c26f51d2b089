//! The toolkit's conformance scenarios for datagram providers, with the provider linked in
//! (`cargo wsp test --wine` runs them again against the built DLL under Wine). Each `Session`
//! hands out handle values from a range of its own, so tests running beside it never reuse the
//! closed values these scenarios check; dropping it checks that they closed every socket and
//! runs the clean-up.

use provider_template::{Datagrams, FAMILY, PROTOCOL};
use std::net::SocketAddr;
use winsock_provider::sys::SOCK_DGRAM;
use winsock_provider::{entry_points, SockAddr};
use ws2_standin::scenarios::{churn, datagram, errors, Target};
use ws2_standin::Session;

/// Address number `n` in this provider's address format.
fn address(n: u32) -> SockAddr {
    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 5000 + n as u16)))
}

#[test]
fn datagram_scenarios() {
    let target = Target {
        af: i32::from(FAMILY),
        ty: SOCK_DGRAM,
        protocol: PROTOCOL,
        addr: address,
    };
    let ws = Session::load(entry_points::<Datagrams>()).unwrap();
    let results = [
        datagram::boundaries(&ws, &target),
        errors::bad_input(&ws, &target),
        errors::startup_version(&entry_points::<Datagrams>()),
        churn::create_close(&ws, &target, 2_000),
        churn::close_races_calls(&ws, &target, 20),
    ];
    for r in &results {
        if let Err(e) = r {
            panic!("{}", e);
        }
    }
}
