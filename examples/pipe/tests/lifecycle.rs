//! The last clean-up closes every socket still open, in every state, and a new start-up
//! begins from a clean slate.
//!
//! Alone in its test binary: it observes the provider's last clean-up in the process.

mod common;

use common::{run, target, ws};

#[test]
fn cleanup_closes_everything() {
    run(ws2_standin::scenarios::lifecycle::cleanup_closes_everything(&ws, &target()));
}
