//! Bad input through the raw SPI. Its own test binary: it checks closed handle values, which
//! sockets created concurrently by other tests could take over.

mod common;

use common::{run, TCP, UDP};
use ws2_standin::scenarios::errors;

#[test]
fn bad_input() {
    run(|ws| errors::bad_input(ws, &TCP));
    run(|ws| errors::bad_input(ws, &UDP));
    let entry = winsock_provider::entry_points::<loopback_provider::Loopback>();
    if let Err(e) = errors::startup_version(&entry) {
        panic!("{}", e);
    }
}
