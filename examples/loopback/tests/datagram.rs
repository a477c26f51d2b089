//! Datagram scenarios against the loopback provider.

mod common;

use common::{run, UDP};
use ws2_standin::scenarios::datagram;

#[test]
fn boundaries() {
    run(|ws| datagram::boundaries(ws, &UDP));
}
