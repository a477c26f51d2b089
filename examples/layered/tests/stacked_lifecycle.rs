//! The last clean-up through two stacked layers over the loopback provider: every socket the
//! application opened, in every state, is released, and no provider of the stack leaks a
//! handle. Alone in its test binary: it observes the providers' last clean-up in the process.

mod common;

use common::{install, Chain, TCP, UDP};
use ws2_standin::scenarios::lifecycle;
use ws2_standin::Ws2;

/// A session over the catalog. Not a `Session`: the scenario makes the clean-up it observes
/// itself, and a session would make another when dropped.
fn started() -> Ws2 {
    install(Chain::Stacked);
    Ws2::from_system_catalog().expect("a session over the catalog")
}

#[test]
fn cleanup_closes_everything() {
    for target in [&TCP, &UDP] {
        if let Err(e) = lifecycle::cleanup_closes_everything(&started, target) {
            panic!("{}", e);
        }
    }
}
