//! [`StoreCatalog`]: the WSC* operations implemented over a [`Store`].

use crate::backend::{Arch, Backend, Catalogs, LayerSpec, NamespaceEntry};
use crate::entry::Entry;
use crate::error::CatalogError;
use crate::guid::Guid;
use crate::info::ProtocolInfo;
use crate::store::Store;

/// Our implementation of the WSC* functions over the registry layout in a [`Store`]: the
/// stand-in's, Wine's (through the registry store), and every test's.
#[derive(Clone, Debug)]
pub struct StoreCatalog<S> {
    store: S,
}

impl<S: Store> StoreCatalog<S> {
    /// The catalog in `store`.
    pub fn new(store: S) -> StoreCatalog<S> {
        StoreCatalog { store }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S: Store> Backend for StoreCatalog<S> {
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
        self.store.describe()
    }
}
