//! Closes racing with calls blocked or looping on other threads.
//!
//! Alone in its test binary: a closed value may be handed out again at once, so no other
//! code may create sockets while the races run.

mod common;

use common::{run, target, ws};
use ws2_standin::scenarios::churn;

#[test]
fn close_races_calls() {
    let ws = ws();
    run(churn::close_races_calls(&ws, &target(), 40));
}
