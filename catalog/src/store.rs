//! [`Store`]: where a [`StoreCatalog`](crate::StoreCatalog) keeps the registry layout.

use crate::backend::Arch;
use crate::error::CatalogError;
use crate::reg::Tree;

/// A place holding the `WinSock2\Parameters` registry tree.
///
/// Writers follow one protocol: [`Store::read`] the tree, build the new tree in memory, then
/// [`Store::commit`] it, which under the store's lock re-reads the tree and writes only if it
/// is still exactly the one read (`Serial_Access_Num` included); otherwise it fails with
/// `WSATRY_AGAIN` and writes nothing.
pub trait Store {
    /// The whole tree as it is now.
    fn read(&self) -> Result<Tree, CatalogError>;

    /// Replaces `old` (what [`Store::read`] returned) with `new`, atomically with respect to
    /// other writers using the same store.
    fn commit(&self, old: &Tree, new: &Tree) -> Result<(), CatalogError>;

    /// The catalogs the system behind this store has, given its current tree.
    fn catalogs(&self, tree: &Tree) -> Vec<Arch>;

    /// Where the store lives, for messages.
    fn describe(&self) -> String;
}
