//! [`RegistryStore`]: the real `HKLM\...\WinSock2\Parameters` key (Windows and Wine).

use crate::backend::Arch;
use crate::error::CatalogError;
use crate::reg::Tree;
use crate::store::Store;

/// The catalog in this machine's registry. Writers serialise on a named mutex
/// (`Global\WinsockCatalogWriter`) and check that the key is unchanged before writing.
///
/// Only for systems whose WSC* functions do not work (Wine): on real Windows use
/// [`Wsc`](crate::Wsc), which keeps ws2_32's own bookkeeping right.
#[derive(Clone, Debug, Default)]
pub struct RegistryStore {
    _private: (),
}

impl RegistryStore {
    /// The store over `HKLM\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters`.
    pub fn new() -> RegistryStore {
        RegistryStore { _private: () }
    }
}

impl Store for RegistryStore {
    fn read(&self) -> Result<Tree, CatalogError> {
        unimplemented!()
    }

    fn commit(&self, old: &Tree, new: &Tree) -> Result<(), CatalogError> {
        let _ = (old, new);
        unimplemented!()
    }

    fn catalogs(&self, tree: &Tree) -> Vec<Arch> {
        let _ = tree;
        unimplemented!()
    }

    fn describe(&self) -> String {
        format!("registry key {}", crate::reg::PARAMETERS_KEY)
    }
}
