//! Handle churn: its own test binary, so no other test takes the handle values it closes.

mod common;

use common::{run, TCP, UDP};
use ws2_standin::scenarios::churn;

#[test]
fn create_close_100k() {
    run(|ws| churn::create_close(ws, &TCP, 70_000));
    run(|ws| churn::create_close(ws, &UDP, 30_000));
}
