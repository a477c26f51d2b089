//! A layer that declares LSP categories (`categories = [...]` in the attribute) installs itself
//! through its `DllRegisterServer`, as `regsvr32` runs it, with those categories on its layered
//! entry and on every chain entry; registering again keeps them; `DllUnregisterServer` removes
//! the entries. Through a catalog file (`WSP_CATALOG`), which is what `winsock_catalog::system`
//! opens off Windows.

use winsock_provider::{winsock_provider, Layer, LayerContext, WsaError};
use ws2_standin::winsock_catalog::{
    Arch, Backend, Catalogs, FileStore, Guid, ProtocolInfo, StoreCatalog, CATALOG_ENV, LSP_PROXY,
    LSP_REDIRECTOR, LSP_SYSTEM, PFL_MATCHES_PROTOCOL_ZERO,
};

/// A constant of the author's own, named in the attribute by its path.
const REDIRECTS: u32 = LSP_REDIRECTOR;

#[winsock_provider(
    layered,
    name = "Categorized",
    guid = "3c5e0b7a-41d2-4f86-9a1e-7b20c4d9e613",
    non_ifs,
    categories = [LSP_PROXY, LSP_SYSTEM, REDIRECTS],
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
)]
pub struct Categorized;

impl Layer for Categorized {
    type Socket = ();

    fn startup(_: &LayerContext) -> Result<Self, WsaError> {
        Ok(Categorized)
    }
}

// The exports the attribute generated, called as `regsvr32` calls them.
extern "system" {
    fn DllRegisterServer() -> i32;
    fn DllUnregisterServer() -> i32;
}

const LAYER: u128 = 0x3c5e0b7a_41d2_4f86_9a1e_7b20c4d9e613;

fn guid(v: u128) -> Guid {
    let g = winsock_provider::Guid(v).to_sys();
    Guid::from_fields(g.data1, g.data2, g.data3, g.data4)
}

/// A base TCP entry, as a provider below the layer installs it.
fn base_tcp() -> ProtocolInfo {
    let mut i = ProtocolInfo::new();
    i.set_service_flags1(0x20066);
    i.set_provider_flags(PFL_MATCHES_PROTOCOL_ZERO);
    i.set_chain(1, &[]);
    i.set_version(2);
    i.set_address_family(2);
    i.set_min_sockaddr(16);
    i.set_max_sockaddr(16);
    i.set_socket_type(1);
    i.set_protocol(6);
    i.set_name("Base TCP");
    i
}

#[test]
fn regsvr32_gives_the_layer_and_its_chains_the_declared_categories() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("layer-categories-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("catalog.reg");
    let catalog = StoreCatalog::new(FileStore::create(&file, true).unwrap());
    catalog
        .install_provider(
            &guid(0x3c5e0b7a_41d2_4f86_9a1e_7b20c4d9e600),
            "base.dll",
            &[base_tcp()],
            Catalogs::Native,
        )
        .unwrap();
    std::env::set_var(CATALOG_ENV, &file);
    let arch = Arch::native();
    let expected = LSP_PROXY | LSP_SYSTEM | LSP_REDIRECTOR;

    // SAFETY: `DllRegisterServer` takes no arguments; the catalog it opens is `WSP_CATALOG`.
    assert_eq!(unsafe { DllRegisterServer() }, 0);
    let entries = catalog.enum_protocols(arch).unwrap();
    let layered = entries
        .iter()
        .find(|e| e.info.provider_id() == guid(LAYER))
        .expect("the layered entry");
    assert!(layered.info.is_layered());
    let chains: Vec<Guid> = entries
        .iter()
        .filter(|e| e.info.chain_len() == 2)
        .map(|e| e.info.provider_id())
        .collect();
    assert_eq!(chains.len(), 1, "one chain over the one TCP entry");
    for id in std::iter::once(guid(LAYER)).chain(chains.iter().copied()) {
        assert_eq!(
            catalog.provider_categories(&id, arch).unwrap(),
            expected,
            "{}",
            id
        );
    }

    // Registering again (the categories cleared meanwhile) updates in place and sets them.
    catalog
        .set_provider_categories(&guid(LAYER), arch, 0)
        .unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { DllRegisterServer() }, 0);
    assert_eq!(catalog.enum_protocols(arch).unwrap().len(), entries.len());
    assert_eq!(
        catalog.provider_categories(&guid(LAYER), arch).unwrap(),
        expected
    );

    // SAFETY: `DllUnregisterServer` takes no arguments.
    assert_eq!(unsafe { DllUnregisterServer() }, 0);
    assert_eq!(catalog.enum_protocols(arch).unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
