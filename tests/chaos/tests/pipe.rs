//! The chaos suite's short run against the pipe example (linked in; IFS handles).
//! (Its own test binary: a run ends with the provider's last clean-up in the process.)

use wsp_chaos::{short_run, Source};

#[test]
fn pipe_keeps_every_convention_under_chaos() {
    let source = Source::Linked(winsock_provider::entry_points::<pipe_provider::Pipe>());
    if let Err(e) = short_run(&source, &["pipe"], 40_000) {
        panic!("{}", e);
    }
}
