//! An IFS layer sits over IFS providers only. `regsvr32` of the IFS build of the counting layer
//! (`examples/layered-ifs`) in a catalog holding the non-IFS loopback provider and the IFS
//! pipe provider layers it over the pipe entry alone; the catalog refuses an IFS layer named
//! over a non-IFS entry; and a chain that puts it there anyway (as a foreign installer might
//! write it) fails `socket()` with `WSAEPROVIDERFAILEDINIT`, while its chain over the pipe
//! provider in the same catalog works.

mod common;

use std::sync::{Mutex, MutexGuard, Once};
use winsock_catalog::{Arch, Catalogs, Guid, LayerSpec, XP1_IFS_HANDLES};
use ws2_standin::{CatalogEntry, Ws2, WsaError};

/// The layered entry's GUID of the IFS layer forced over the loopback TCP entry.
const FORCED: u128 = 0x5a0e9a4c_5b7d_4e18_a3c6_91d2e4f8b730;
/// The layered entry's GUID of the install the catalog refuses.
const REFUSED: u128 = 0x5a0e9a4c_5b7d_4e18_a3c6_91d2e4f8b732;

fn guid(v: u128) -> Guid {
    let g = ws2_standin::Guid(v).to_sys();
    Guid::from_fields(g.data1, g.data2, g.data3, g.data4)
}

/// The IFS layer's own GUID (its attribute's).
const IFS_LAYER: u128 = 0x2f0e9a4c_5b7d_4e18_a3c6_91d2e4f8b707;

fn ifs_layer() -> Guid {
    guid(IFS_LAYER)
}

fn loopback_tcp_id() -> u32 {
    common::catalog()
        .enum_protocols(Arch::native())
        .unwrap()
        .iter()
        .find(|e| {
            e.info.chain_len() == 1 && e.info.address_family() == 2 && e.info.socket_type() == 1
        })
        .expect("the loopback TCP entry")
        .info
        .catalog_entry_id()
}

/// The IFS layer's library installed (layered entry `id`) over `over`, as an IFS layer or not.
fn spec(id: u128, over: Vec<u32>, ifs: bool) -> LayerSpec {
    LayerSpec {
        layer_id: guid(id),
        path: common::ifs_layer_library().to_string_lossy().into_owned(),
        name: "Forced IFS layer".to_owned(),
        over,
        ifs,
        categories: 0,
    }
}

static SETUP: Once = Once::new();

/// Loopback and pipe through their `regsvr32`, then the IFS layer through its own; the guard
/// runs the tests one at a time (one of them adds entries the others count).
fn setup() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    SETUP.call_once(|| {
        let layer = common::ifs_layer_library();
        let loopback = common::loopback_library();
        let pipe = common::pipe_library();
        let dir = common::scratch("ifs-refusals");
        common::fresh_catalog(&dir);
        ws2_standin::regsvr32(&loopback, true).expect("regsvr32 loopback");
        ws2_standin::regsvr32(&pipe, true).expect("regsvr32 pipe");
        ws2_standin::regsvr32(&layer, true).expect("regsvr32 of the IFS layer");
    });
    turn
}

#[test]
fn regsvr32_layers_over_the_ifs_entries_only() {
    let _turn = setup();
    let entries = common::catalog().enum_protocols(Arch::native()).unwrap();
    let layered = entries
        .iter()
        .find(|e| e.info.provider_id() == ifs_layer())
        .expect("the IFS layer's layered entry")
        .info
        .catalog_entry_id();
    let chains: Vec<_> = entries
        .iter()
        .filter(|e| e.info.chain_len() >= 2 && e.info.chain_entries()[0] == layered)
        .collect();
    // The layer declares TCP, UDP and Unix streams; only the pipe's entry is IFS.
    assert_eq!(
        chains.len(),
        1,
        "{:?}",
        chains.iter().map(|e| e.info.name()).collect::<Vec<_>>()
    );
    let chain = &chains[0].info;
    assert_eq!(chain.address_family(), 1);
    assert_ne!(chain.service_flags1() & XP1_IFS_HANDLES, 0);
}

#[test]
fn the_catalog_refuses_an_ifs_layer_over_a_non_ifs_entry() {
    let _turn = setup();
    let cat = common::catalog();
    let before = cat.enum_protocols(Arch::native()).unwrap().len();
    let tcp = loopback_tcp_id();
    let refused = cat
        .install_provider_and_chains(&spec(REFUSED, vec![tcp], true), Catalogs::Native)
        .expect_err("an IFS layer over the loopback TCP entry");
    assert_eq!(refused.code(), WsaError::INVAL.code());
    let text = refused.to_string();
    assert!(text.contains("IFS handles"), "{}", text);
    assert!(text.contains(&format!("entry {}", tcp)), "{}", text);
    assert_eq!(cat.enum_protocols(Arch::native()).unwrap().len(), before);
}

/// A session whose only chains are those of layer `layer` (the chains that start at its
/// layered entry), and those chains' GUIDs.
fn session_with(layer: Guid) -> (Ws2, Vec<Guid>) {
    let entries = common::catalog().enum_protocols(Arch::native()).unwrap();
    let layer_id = entries
        .iter()
        .find(|e| e.info.chain_len() == 0 && e.info.provider_id() == layer)
        .expect("the layer's layered entry")
        .info
        .catalog_entry_id();
    let ours = |e: &&winsock_catalog::Entry| {
        e.info.chain_len() >= 2 && e.info.chain_entries()[0] == layer_id
    };
    let chains: Vec<Guid> = entries
        .iter()
        .filter(ours)
        .map(|e| e.info.provider_id())
        .collect();
    let kept: Vec<CatalogEntry> = entries
        .iter()
        .filter(|e| e.info.chain_len() < 2 || ours(e))
        .map(CatalogEntry::from_catalog)
        .collect();
    (Ws2::with_catalog(kept), chains)
}

#[test]
fn start_up_over_a_non_ifs_provider_fails() {
    let _turn = setup();
    // Written as the catalog lets a non-IFS layer be written, but with the IFS layer's library.
    static FORCE: Once = Once::new();
    FORCE.call_once(|| {
        common::catalog()
            .install_provider_and_chains(
                &spec(FORCED, vec![loopback_tcp_id()], false),
                Catalogs::Native,
            )
            .expect("installing the forced chain");
    });
    let (ws, _) = session_with(guid(FORCED));
    assert_eq!(ws.socket(2, 1, 6), Err(WsaError::PROVIDERFAILEDINIT));
    // And again: the failure is not cached as a success.
    assert_eq!(ws.socket(2, 1, 6), Err(WsaError::PROVIDERFAILEDINIT));
    drop(ws);
    // The layer's own chain over the pipe provider works in the same catalog.
    let (ws, chains) = session_with(guid(IFS_LAYER));
    let s = ws
        .socket(1, 1, 0)
        .expect("a socket through the IFS layer over pipe");
    let info = common::protocol_info(&ws, s);
    assert_eq!(
        Guid::from_fields(
            info.ProviderId.data1,
            info.ProviderId.data2,
            info.ProviderId.data3,
            info.ProviderId.data4,
        ),
        chains[0]
    );
    ws.closesocket(s).unwrap();
    ws.cleanup();
}
