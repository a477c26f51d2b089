//! Self-registration of a layer (`regsvr32 layer.dll`): its hidden layered entry plus one chain
//! entry over each visible catalog entry of a protocol it declares, at the front of the order,
//! each chain with its own GUID (`winsock_catalog::LayerSpec::chain_guid`), all with the layer's
//! LSP categories; running it again updates the library path (and the categories, when the
//! layer declares some) of those entries in place (ids, order and layers stacked on it
//! unchanged); `regsvr32 /u` removes the layer (`Backend::deinstall_layer`: its chains and
//! layered entry, with the chains of layers stacked on it rewritten to skip it).

use super::{LayerBinding, Layered};
use crate::registry::state::{Binding, Mode};
use crate::types::info::DescriptorMode;
use winsock_catalog::{Backend, CatalogError, Catalogs, Guid, LayerSpec, XP1_IFS_HANDLES};

fn catalog_guid(g: crate::types::info::Guid) -> Guid {
    let g = g.to_sys();
    Guid::from_fields(g.data1, g.data2, g.data3, g.data4)
}

/// Removes what an earlier registration of the layer installed; no error when nothing was.
fn remove(catalog: &dyn Backend, layer: crate::types::info::Guid) -> Result<(), CatalogError> {
    let id = catalog_guid(layer);
    if catalog
        .get_provider_path(&id, winsock_catalog::Arch::native())
        .is_ok()
    {
        catalog.deinstall_layer(&id, Catalogs::Native)?;
    }
    Ok(())
}

/// Points the entries of an installed layer (its layered entry and every chain starting at it)
/// at `path` and, unless `categories` is 0 (an installer may have categorized the layer), gives
/// them those LSP categories; `false` when the layer is not installed.
fn update(
    catalog: &dyn Backend,
    layer: Guid,
    path: &str,
    categories: u32,
) -> Result<bool, CatalogError> {
    let arch = winsock_catalog::Arch::native();
    let entries = catalog.enum_protocols(arch)?;
    let lid = match entries.iter().find(|e| e.info.provider_id() == layer) {
        Some(e) => e.info.catalog_entry_id(),
        None => return Ok(false),
    };
    let mut ids = vec![layer];
    for e in &entries {
        let g = e.info.provider_id();
        if e.info.chain_len() >= 2 && e.info.chain_entries()[0] == lid && !ids.contains(&g) {
            ids.push(g);
        }
    }
    for g in ids {
        let infos: Vec<_> = entries
            .iter()
            .filter(|e| e.info.provider_id() == g)
            .map(|e| e.info.clone())
            .collect();
        catalog.update_provider(&g, path, &infos, arch)?;
        if categories != 0 {
            catalog.set_provider_categories(&g, arch, categories)?;
        }
    }
    Ok(true)
}

/// `DllRegisterServer` of a layer `L`: installs it over every visible entry of the native
/// catalog whose family, socket type and protocol it declares (an IFS layer: every such entry
/// with IFS handles), with its [`LayerBinding::LSP_CATEGORIES`], or, when it is installed
/// already, updates its entries' library path. Returns an `HRESULT`.
pub fn register_layer<L: LayerBinding>() -> i32 {
    crate::spi::register::run("DllRegisterServer", || {
        let path = crate::host::module::own_path()?;
        let catalog = winsock_catalog::system()?;
        if update(
            &*catalog,
            catalog_guid(L::INFO.guid),
            &path,
            L::LSP_CATEGORIES,
        )? {
            return Ok(());
        }
        let arch = winsock_catalog::Arch::native();
        let ifs = matches!(<L::Mode as Mode<Layered<L>>>::KIND, DescriptorMode::Ifs);
        let over: Vec<u32> = catalog
            .enum_protocols(arch)?
            .iter()
            .filter(|e| e.info.chain_len() >= 1 && !e.info.is_hidden())
            .filter(|e| {
                L::INFO.protocols.iter().any(|p| {
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
            layer_id: catalog_guid(L::INFO.guid),
            path,
            name: L::INFO.name.to_owned(),
            over,
            ifs,
            categories: L::LSP_CATEGORIES,
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
