//! What the pipe provider's tests share: a loaded stand-in and the scenario target.

#![allow(dead_code)]

use pipe_provider::Pipe;
use ws2_standin::scenarios::Target;
use ws2_standin::sys::{AF_UNIX, SOCK_STREAM};
use ws2_standin::{Session, SockAddr};

/// A stand-in session with the provider loaded; dropping it checks that the test closed its
/// sockets and runs the balanced clean-up.
pub fn ws() -> Session {
    Session::load(winsock_provider::entry_points::<Pipe>()).expect("load the pipe provider")
}

/// The scenario target: the provider's one entry; every listener binds an auto-generated
/// name (the family alone), which scenarios read back with `getsockname`.
pub fn target() -> Target {
    Target {
        af: i32::from(AF_UNIX),
        ty: SOCK_STREAM,
        protocol: 0,
        addr: |_| SockAddr::Raw {
            family: AF_UNIX,
            data: Vec::new(),
        },
    }
}

/// A name no other test (or test process) uses.
pub fn unique_name(what: &str) -> Vec<u8> {
    format!("pipe-test-{}-{}", std::process::id(), what).into_bytes()
}

/// The address of `name`.
pub fn addr(name: &[u8]) -> SockAddr {
    pipe_provider::sockaddr(name).expect("a valid name")
}

/// Unwraps a scenario result, printing its description on failure.
pub fn run(result: Result<(), String>) {
    if let Err(e) = result {
        panic!("{}", e);
    }
}
