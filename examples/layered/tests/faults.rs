//! A layer whose provider below cannot be used fails `socket()` with
//! `WSAEPROVIDERFAILEDINIT` and does not crash: the library below is missing, has no
//! `WSPStartup`, its `WSPStartup` fails, or it is the layer's own library. A chain over the loopback provider in the same
//! catalog works, so the failures are the faults'.

mod common;

use std::path::Path;
use std::sync::Once;
use winsock_catalog::{Arch, Catalogs, Guid};
use ws2_standin::{CatalogEntry, Ws2, WsaError};

const MISSING: u128 = 0x5a0e9a4c_5b7d_4e18_a3c6_91d2e4f8b700;
const NO_STARTUP: u128 = 0x5a0e9a4c_5b7d_4e18_a3c6_91d2e4f8b702;
const FAILING: u128 = 0x5a0e9a4c_5b7d_4e18_a3c6_91d2e4f8b704;
const GOOD: u128 = 0x5a0e9a4c_5b7d_4e18_a3c6_91d2e4f8b706;
const ITSELF: u128 = 0x5a0e9a4c_5b7d_4e18_a3c6_91d2e4f8b708;
/// Layer copies over each base: their layered entries' GUIDs.
const LAYER_OFFSET: u128 = 0x10;

fn guid(v: u128) -> Guid {
    let g = ws2_standin::Guid(v).to_sys();
    Guid::from_fields(g.data1, g.data2, g.data3, g.data4)
}

static SETUP: Once = Once::new();

/// A catalog with the loopback provider, three broken "base providers" with its TCP entry,
/// and the layer over each of the four.
fn setup() {
    SETUP.call_once(|| {
        let layer = common::layer_library();
        let loopback = common::loopback_library();
        let dir = common::scratch("faults");
        let copy = dir.join(layer.file_name().unwrap());
        std::fs::copy(&layer, &copy).expect("copying the layer");
        common::fresh_catalog(&dir);
        ws2_standin::regsvr32(&loopback, true).expect("regsvr32 loopback");
        let cat = common::catalog();
        let tcp = cat
            .enum_protocols(Arch::native())
            .unwrap()
            .into_iter()
            .find(|e| e.info.socket_type() == 1)
            .expect("the loopback TCP entry");
        let bases = [
            (MISSING, dir.join("no-such-provider.so")),
            // A library that loads but exports no WSPStartup.
            (NO_STARTUP, Path::new("libm.so.6").to_owned()),
            // A WSPStartup that fails: a copy of the layer, started for a base entry.
            (FAILING, copy.clone()),
            // The layer's own library below itself.
            (ITSELF, layer.clone()),
        ];
        for (id, path) in &bases {
            cat.install_provider(
                &guid(*id),
                &path.to_string_lossy(),
                std::slice::from_ref(&tcp.info),
                Catalogs::Native,
            )
            .expect("installing a broken base");
        }
        for id in [MISSING, NO_STARTUP, FAILING, ITSELF, GOOD] {
            let base_guid = if id == GOOD {
                tcp.info.provider_id()
            } else {
                guid(id)
            };
            let over = cat
                .enum_protocols(Arch::native())
                .unwrap()
                .iter()
                .filter(|e| e.info.provider_id() == base_guid && e.info.socket_type() == 1)
                .map(|e| e.info.catalog_entry_id())
                .collect();
            common::install_layer_copy(&layer, id + LAYER_OFFSET, "Layer", over);
        }
    });
}

/// A session whose only chain is the layer's over base `base` (chains come first in the
/// catalog, so `socket()` takes it).
fn session_over(base: u128) -> Ws2 {
    setup();
    let entries = common::catalog().enum_protocols(Arch::native()).unwrap();
    let layer = entries
        .iter()
        .find(|e| e.info.provider_id() == guid(base + LAYER_OFFSET))
        .expect("the layer copy's layered entry")
        .info
        .catalog_entry_id();
    let kept: Vec<CatalogEntry> = entries
        .iter()
        .filter(|e| e.info.chain_len() != 2 || e.info.chain_entries()[0] == layer)
        .map(CatalogEntry::from_catalog)
        .collect();
    Ws2::with_catalog(kept)
}

fn socket_fails(base: u128) {
    let ws = session_over(base);
    assert_eq!(ws.socket(2, 1, 6), Err(WsaError::PROVIDERFAILEDINIT));
    // And again: the failure is not cached as a success.
    assert_eq!(ws.socket(2, 1, 6), Err(WsaError::PROVIDERFAILEDINIT));
}

#[test]
fn missing_library_below() {
    socket_fails(MISSING);
}

#[test]
fn library_below_without_wspstartup() {
    socket_fails(NO_STARTUP);
}

#[test]
fn failing_wspstartup_below() {
    socket_fails(FAILING);
}

#[test]
fn own_library_below() {
    socket_fails(ITSELF);
}

#[test]
fn working_chain_in_the_same_catalog() {
    let ws = session_over(GOOD);
    let s = ws
        .socket(2, 1, 6)
        .expect("a socket through the layer over loopback");
    ws.closesocket(s).unwrap();
    ws.cleanup();
}
