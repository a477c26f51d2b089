//! The last clean-up closes every socket still open, in every state, and a new start-up
//! begins from a clean slate.
//!
//! Alone in its test binary: it observes the provider's last clean-up in the process.

mod common;

use common::{run, target};
use pipe_provider::Pipe;
use ws2_standin::Ws2;

/// A stand-in with the provider loaded. Not a `Session`: the scenario makes the clean-up it
/// observes itself, and a session would make another when dropped.
fn started() -> Ws2 {
    let ws = Ws2::new();
    ws.load(winsock_provider::entry_points::<Pipe>())
        .expect("load the pipe provider");
    ws
}

#[test]
fn cleanup_closes_everything() {
    run(ws2_standin::scenarios::lifecycle::cleanup_closes_everything(&started, &target()));
}
