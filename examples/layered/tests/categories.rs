//! LSP categories as the stand-in applies them: an application the catalog categorizes gets the
//! layer's chain only when the layer's categories are permitted to it, else the base entry.

mod common;

use winsock_catalog::{Arch, LSP_PROXY, LSP_SYSTEM};

const LAYER: u128 = 0x2f0e9a4c_5b7d_4e18_a3c6_91d2e4f8b705;

/// The chain length of the entry a TCP socket of a new session is made from.
fn chain_len() -> i32 {
    let ws = common::session(common::Chain::OverLoopback);
    let s = ws.socket(2, 1, 6).unwrap();
    let len = common::protocol_info(&ws, s).ProtocolChain.ChainLen;
    ws.closesocket(s).unwrap();
    len
}

#[test]
fn a_categorized_application_gets_the_base_entry_unless_the_layer_is_permitted() {
    common::install(common::Chain::OverLoopback);
    let cat = common::catalog();
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_string_lossy();
    // Not categorized: through the layer.
    assert_eq!(cat.application_category(&exe, "").unwrap(), None);
    assert_eq!(chain_len(), 2);
    // Categorized as a system application: the uncategorized layer is left out.
    cat.set_application_category(&exe, "", LSP_SYSTEM).unwrap();
    assert_eq!(chain_len(), 1);
    // The layer a proxy, the application permitting proxies: through the layer again.
    cat.set_provider_categories(&common::guid(LAYER), Arch::native(), LSP_PROXY)
        .unwrap();
    cat.set_application_category(&exe, "", LSP_PROXY).unwrap();
    assert_eq!(chain_len(), 2);
    // A system application needs LSP_SYSTEM in the layer too.
    cat.set_application_category(&exe, "", LSP_SYSTEM | LSP_PROXY)
        .unwrap();
    assert_eq!(chain_len(), 1);
}
