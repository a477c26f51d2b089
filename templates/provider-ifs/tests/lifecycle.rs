//! The provider's last clean-up closes every socket still open. Alone in its test binary: it
//! observes the provider's last clean-up in the process.

use provider_ifs_template::{Streams, FAMILY, PROTOCOL};
use std::net::SocketAddr;
use winsock_provider::sys::SOCK_STREAM;
use winsock_provider::{entry_points, SockAddr};
use ws2_standin::scenarios::{lifecycle, Target};
use ws2_standin::Ws2;

/// A bindable address (port 0: the provider picks a free one).
fn address(_n: u32) -> SockAddr {
    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 0)))
}

#[test]
fn cleanup_closes_everything() {
    let target = Target {
        af: i32::from(FAMILY),
        ty: SOCK_STREAM,
        protocol: PROTOCOL,
        addr: address,
    };
    // Not a `Session`: the scenario makes the clean-up it observes itself, and a session would
    // make another when dropped.
    let load = || {
        let ws = Ws2::new();
        ws.load(entry_points::<Streams>()).unwrap();
        ws
    };
    if let Err(e) = lifecycle::cleanup_closes_everything(&load, &target) {
        panic!("{}", e);
    }
}
