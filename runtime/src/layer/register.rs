//! Self-registration of a layer (`regsvr32 layer.dll`): its hidden layered entry plus one chain
//! entry over each visible catalog entry of a protocol it declares, at the front of the order;
//! `regsvr32 /u` removes the chains, then the layered entry.

use crate::registry::state::{Binding, Mode};
use crate::types::info::DescriptorMode;
use winsock_catalog::{Backend, CatalogError, Catalogs, Guid, LayerSpec, XP1_IFS_HANDLES};

/// The GUID of a layer's chain entries: the layer's own with its last bit flipped (every chain
/// entry of one install shares it, as `WSCInstallProviderAndChains` does).
pub fn chains_guid(layer: crate::types::info::Guid) -> crate::types::info::Guid {
    crate::types::info::Guid(layer.0 ^ 1)
}

fn catalog_guid(g: crate::types::info::Guid) -> Guid {
    let g = g.to_sys();
    Guid::from_fields(g.data1, g.data2, g.data3, g.data4)
}

/// Removes what an earlier registration of the layer installed; no error when nothing was.
fn remove(catalog: &dyn Backend, layer: crate::types::info::Guid) -> Result<(), CatalogError> {
    let arch = winsock_catalog::Arch::native();
    for id in [chains_guid(layer), layer] {
        let id = catalog_guid(id);
        if catalog.get_provider_path(&id, arch).is_ok() {
            catalog.deinstall_provider(&id, Catalogs::Native)?;
        }
    }
    Ok(())
}

/// `DllRegisterServer` of a layer `P`: (re)installs it over every visible entry of the native
/// catalog whose family, socket type and protocol it declares (an IFS layer: every such entry
/// with IFS handles). Returns an `HRESULT`.
pub fn register_layer<P: Binding>() -> i32 {
    crate::spi::register::run("DllRegisterServer", || {
        let path = crate::host::module::own_path()?;
        let catalog = winsock_catalog::system()?;
        remove(&*catalog, P::INFO.guid)?;
        let arch = winsock_catalog::Arch::native();
        let ifs = matches!(<P::Mode as Mode<P>>::KIND, DescriptorMode::Ifs);
        let over: Vec<u32> = catalog
            .enum_protocols(arch)?
            .iter()
            .filter(|e| e.info.chain_len() >= 1 && !e.info.is_hidden())
            .filter(|e| {
                P::INFO.protocols.iter().any(|p| {
                    p.family == e.info.address_family()
                        && p.socket_type == e.info.socket_type()
                        && p.protocol == e.info.protocol()
                })
            })
            .filter(|e| !ifs || e.info.service_flags1() & XP1_IFS_HANDLES != 0)
            .map(|e| e.info.catalog_entry_id())
            .collect();
        if over.is_empty() {
            return Err(CatalogError::invalid(if ifs {
                "the catalog has no entry with IFS handles of a protocol this IFS layer declares \
                 (an IFS layer can only sit over IFS providers)"
            } else {
                "the catalog has no entry of a protocol this layer declares"
            }));
        }
        let spec = LayerSpec {
            layer_id: catalog_guid(P::INFO.guid),
            chains_id: catalog_guid(chains_guid(P::INFO.guid)),
            path,
            name: P::INFO.name.to_owned(),
            over,
            ifs,
        };
        catalog
            .install_provider_and_chains(&spec, Catalogs::Native)
            .map(|_| ())
    })
}

/// `DllUnregisterServer` of a layer `P`: removes its chains and its layered entry. Returns an
/// `HRESULT`.
pub fn unregister_layer<P: Binding>() -> i32 {
    crate::spi::register::run("DllUnregisterServer", || {
        remove(&*winsock_catalog::system()?, P::INFO.guid)
    })
}
