//! [`FileStore`]: the registry layout in a `.reg`-syntax text file.

use std::path::{Path, PathBuf};

use crate::backend::Arch;
use crate::error::CatalogError;
use crate::reg::Tree;
use crate::store::Store;

/// The catalog's registry tree kept in a text file in `.reg` syntax (what `reg export` writes:
/// diffable, importable with `reg import`). Writers take an exclusive lock on `PATH.lock` and
/// replace the file atomically (write `PATH.tmp`, rename).
///
/// The system it stands for is 64-bit (both catalogs) when the tree has a
/// `Protocol_Catalog9\Catalog_Entries64` key, 32-bit otherwise.
#[derive(Clone, Debug)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// The store in the existing file `path`.
    pub fn open(path: impl AsRef<Path>) -> FileStore {
        FileStore {
            path: path.as_ref().to_path_buf(),
        }
    }

    /// Creates `path` holding an empty catalog of a 64-bit system (both catalogs) or a 32-bit
    /// one; fails if the file exists.
    pub fn create(path: impl AsRef<Path>, sixty_four: bool) -> Result<FileStore, CatalogError> {
        let _ = (path.as_ref(), sixty_four);
        unimplemented!()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for FileStore {
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
        format!("catalog file {}", self.path.display())
    }
}
