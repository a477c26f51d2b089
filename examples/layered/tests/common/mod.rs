//! Shared by the test binaries: a catalog file with the loopback provider installed and the
//! counting layer over it, both installed the way `regsvr32` installs them, and sessions that
//! find their providers in it as ws2_32 does.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::{Mutex, Once};
use ws2_standin::scenarios::Target;
use ws2_standin::{SockAddr, Ws2};

/// `127.0.0.<n + 1>:0`: listeners and receivers use several loopback addresses.
fn loopback(n: u32) -> SockAddr {
    SockAddr::from(SocketAddrV4::new(
        Ipv4Addr::new(127, 0, 0, (n % 200) as u8 + 1),
        0,
    ))
}

/// TCP (the layer's chain over the loopback provider's entry).
pub const TCP: Target = Target {
    af: 2,
    ty: 1,
    protocol: 6,
    addr: loopback,
};

/// UDP.
pub const UDP: Target = Target {
    af: 2,
    ty: 2,
    protocol: 17,
    addr: loopback,
};

/// The libraries this binary's catalog holds.
pub struct Libraries {
    /// The loopback provider.
    pub loopback: PathBuf,
    /// The counting layer.
    pub layer: PathBuf,
}

fn build() -> Libraries {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let loopback = ws2_standin::build_library(manifest.join("../loopback"), "loopback-provider")
        .expect("building the loopback provider");
    let layer = ws2_standin::this_library!().expect("building the layer");
    Libraries { loopback, layer }
}

/// A fresh catalog file for this test binary, named by `WSP_CATALOG` from now on.
fn fresh_catalog(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wsp-layered-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the catalog directory");
    let file = dir.join("catalog.reg");
    winsock_catalog::FileStore::create(&file, true).expect("creating an empty catalog file");
    std::env::set_var(winsock_catalog::CATALOG_ENV, &file);
    file
}

static SETUP: Once = Once::new();

/// The layer's redirect rule in these tests: connects to `127.0.0.99:99` go to the listener
/// at `127.0.0.1:4242`.
pub const REDIRECT: &str = "127.0.0.99:99=127.0.0.1:4242";

/// Builds the libraries and installs them (once per test binary): the loopback provider
/// through its `DllRegisterServer`, then the layer through its own, which chains it over the
/// loopback entries at the front of the catalog.
pub fn install(name: &str) -> Libraries {
    let libs = build();
    SETUP.call_once(|| {
        std::env::set_var(layered_provider::REDIRECT_ENV, REDIRECT);
        fresh_catalog(name);
        ws2_standin::regsvr32(&libs.loopback, true).expect("regsvr32 loopback");
        ws2_standin::regsvr32(&libs.layer, true).expect("regsvr32 layer");
    });
    libs
}

/// Runs a scenario in a session over the catalog, panicking with its description on failure;
/// the session's drop checks that the scenario closed what it opened and runs the clean-up.
///
/// Sessions over one catalog share its entry ids, by which scenarios count their live
/// handles, so the scenarios run one at a time.
pub fn run_serial(scenario: impl FnOnce(&Ws2) -> Result<(), String>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let ws = session();
    if let Err(e) = scenario(&ws) {
        panic!("{}", e);
    }
}

/// A session over this binary's catalog (installed first if needed).
pub fn session() -> ws2_standin::Session {
    install(env!("CARGO_CRATE_NAME"));
    ws2_standin::Session::from_system_catalog().expect("a session over the catalog")
}
