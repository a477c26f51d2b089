//! The provider's last clean-up: the only test in this binary, so its clean-up is the last.

mod common;

use common::{session, TCP, UDP};
use ws2_standin::scenarios::lifecycle;

#[test]
fn cleanup_closes_everything() {
    for target in [&TCP, &UDP] {
        if let Err(e) = lifecycle::cleanup_closes_everything(&session, target) {
            panic!("{}", e);
        }
    }
}
