//! Shared by the test binaries: the provider loaded into a fresh stand-in, and the targets.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use ws2_standin::scenarios::Target;
use ws2_standin::{SockAddr, Ws2};

/// A stand-in session with the loopback provider (linked into this test binary) loaded.
pub fn session() -> Ws2 {
    let ws = Ws2::new();
    ws.load(winsock_provider::entry_points::<loopback_provider::Loopback>())
        .expect("loading the loopback provider");
    ws
}

/// `127.0.0.<n + 1>:0`: listeners and receivers use several loopback addresses.
fn loopback(n: u32) -> SockAddr {
    SockAddr::from(SocketAddrV4::new(
        Ipv4Addr::new(127, 0, 0, (n % 200) as u8 + 1),
        0,
    ))
}

/// The TCP entry.
pub const TCP: Target = Target {
    af: 2,
    ty: 1,
    protocol: 6,
    addr: loopback,
};

/// The UDP entry.
pub const UDP: Target = Target {
    af: 2,
    ty: 2,
    protocol: 17,
    addr: loopback,
};

/// Runs a scenario in a session of its own, panicking with its description on failure; the
/// session's drop checks that the scenario closed what it opened and runs the clean-up.
pub fn run(scenario: impl FnOnce(&Ws2) -> Result<(), String>) {
    let ws =
        ws2_standin::Session::load(winsock_provider::entry_points::<loopback_provider::Loopback>())
            .expect("loading the loopback provider");
    if let Err(e) = scenario(&ws) {
        panic!("{}", e);
    }
}
