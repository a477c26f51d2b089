//! The chaos suite's short run against the panic-injecting provider (linked in): every trait
//! method panics now and then, and the process survives and keeps serving.
//! (Its own test binary: a run ends with the provider's last clean-up in the process.)

use wsp_chaos::{short_run, Source};

#[test]
fn panics_in_every_method_break_no_convention() {
    // Read by the provider's start-up; this binary runs this one test.
    if std::env::var_os("WSP_PANICKY_RATE").is_none() {
        std::env::set_var("WSP_PANICKY_RATE", "0.01");
    }
    let source = Source::Linked(winsock_provider::entry_points::<panicky_provider::Panicky>());
    if let Err(e) = short_run(&source, &["panicky-tcp", "panicky-udp"], 40_000) {
        panic!("{}", e);
    }
}
