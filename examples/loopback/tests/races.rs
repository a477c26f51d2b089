//! Closes racing with calls on other threads: its own test binary, so no other test takes
//! the handle values it closes while a racing call may still use them.

mod common;

use common::{run, TCP, UDP};
use ws2_standin::scenarios::churn;

#[test]
fn close_races_calls() {
    run(|ws| churn::close_races_calls(ws, &TCP, 100));
    run(|ws| churn::close_races_calls(ws, &UDP, 60));
}
