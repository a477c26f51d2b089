//! The chaos suite's short run against the loopback example (linked in): TCP and UDP.
//! (Its own test binary: a run ends with the provider's last clean-up in the process.)

use wsp_chaos::{short_run, Source};

#[test]
fn loopback_keeps_every_convention_under_chaos() {
    let source = Source::Linked(winsock_provider::entry_points::<loopback_provider::Loopback>());
    if let Err(e) = short_run(&source, &["loopback-tcp", "loopback-udp"], 40_000) {
        panic!("{}", e);
    }
}
