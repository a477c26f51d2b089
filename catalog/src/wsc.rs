//! [`Wsc`]: the real WSC* functions of ws2_32, looked up at run time.

use crate::backend::{Arch, Backend, Catalogs, LayerSpec, NamespaceEntry};
use crate::entry::Entry;
use crate::error::CatalogError;
use crate::guid::Guid;
use crate::info::ProtocolInfo;

/// The catalog through ws2_32's own `WSCInstallProvider64_32`, `WSCDeinstallProvider[32]`,
/// `WSCWriteProviderOrder[32]`, `WSCEnumProtocols[32]`, ... (each looked up with
/// `GetProcAddress`; one that is missing fails with `WSANO_RECOVERY` naming it). Reading the
/// namespace catalog and [`Backend::backup`] read the registry; nothing here writes it.
#[derive(Clone, Debug, Default)]
pub struct Wsc {
    _private: (),
}

impl Wsc {
    /// The real WSC* functions of this process's ws2_32.
    pub fn new() -> Wsc {
        Wsc { _private: () }
    }
}

impl Backend for Wsc {
    fn catalogs(&self) -> Result<Vec<Arch>, CatalogError> {
        unimplemented!()
    }

    fn enum_protocols(&self, arch: Arch) -> Result<Vec<Entry>, CatalogError> {
        let _ = arch;
        unimplemented!()
    }

    fn install_provider_at(
        &self,
        id: &Guid,
        path: &str,
        infos: &[ProtocolInfo],
        catalogs: Catalogs,
        position: Option<usize>,
    ) -> Result<Vec<u32>, CatalogError> {
        let _ = (id, path, infos, catalogs, position);
        unimplemented!()
    }

    fn install_provider_and_chains(
        &self,
        spec: &LayerSpec,
        catalogs: Catalogs,
    ) -> Result<Vec<u32>, CatalogError> {
        let _ = (spec, catalogs);
        unimplemented!()
    }

    fn deinstall_provider(&self, id: &Guid, catalogs: Catalogs) -> Result<(), CatalogError> {
        let _ = (id, catalogs);
        unimplemented!()
    }

    fn write_provider_order(&self, arch: Arch, ids: &[u32]) -> Result<(), CatalogError> {
        let _ = (arch, ids);
        unimplemented!()
    }

    fn update_provider(
        &self,
        id: &Guid,
        path: &str,
        infos: &[ProtocolInfo],
        arch: Arch,
    ) -> Result<(), CatalogError> {
        let _ = (id, path, infos, arch);
        unimplemented!()
    }

    fn get_provider_path(&self, id: &Guid, arch: Arch) -> Result<String, CatalogError> {
        let _ = (id, arch);
        unimplemented!()
    }

    fn set_application_category(
        &self,
        path: &str,
        args: &str,
        categories: u32,
    ) -> Result<(), CatalogError> {
        let _ = (path, args, categories);
        unimplemented!()
    }

    fn enum_namespaces(&self, arch: Arch) -> Result<Vec<NamespaceEntry>, CatalogError> {
        let _ = arch;
        unimplemented!()
    }

    fn backup(&self) -> Result<String, CatalogError> {
        unimplemented!()
    }

    fn restore(&self, text: &str) -> Result<(), CatalogError> {
        let _ = text;
        unimplemented!()
    }

    fn describe(&self) -> String {
        "ws2_32's WSC* functions".to_owned()
    }
}
