//! [`FileStore`]: the registry layout in a `.reg`-syntax text file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::backend::Arch;
use crate::error::{CatalogError, WSATRY_AGAIN};
use crate::reg::{Tree, Value};
use crate::store::Store;

/// The catalog's registry tree kept in a text file in `.reg` syntax (what `reg export` writes:
/// diffable, importable with `reg import`). Writers take an exclusive lock on `PATH.lock` (a
/// file left next to it) and replace the file atomically (write `PATH.tmp`, rename), so readers
/// never see half a catalog.
///
/// The system it stands for is 64-bit (both catalogs) when the tree has a
/// `Protocol_Catalog9\Catalog_Entries64` key, 32-bit otherwise.
#[derive(Clone, Debug)]
pub struct FileStore {
    path: PathBuf,
}

/// The tree of an empty catalog, as a fresh Windows install has it before its own providers.
pub(crate) fn empty_tree(sixty_four: bool) -> Tree {
    let mut t = Tree::new();
    t.set_value(
        "",
        "Current_Protocol_Catalog",
        Value::string("Protocol_Catalog9"),
    );
    t.set_value(
        "",
        "Current_NameSpace_Catalog",
        Value::string("NameSpace_Catalog5"),
    );
    for (key, first_id) in [
        ("Protocol_Catalog9", Some(1001)),
        ("NameSpace_Catalog5", None),
    ] {
        t.set_value(key, "Serial_Access_Num", Value::dword(0));
        if let Some(id) = first_id {
            t.set_value(key, "Next_Catalog_Entry_ID", Value::dword(id));
        }
        t.set_value(key, Arch::X86.count_value(), Value::dword(0));
        t.create_key(&format!("{}\\{}", key, Arch::X86.entries_key()));
        if sixty_four {
            t.set_value(key, Arch::X64.count_value(), Value::dword(0));
            t.create_key(&format!("{}\\{}", key, Arch::X64.entries_key()));
        }
    }
    t
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
        let store = FileStore::open(path);
        let text = empty_tree(sixty_four).to_reg();
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&store.path)
            .map_err(|e| store.io_error("cannot create", e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| store.io_error("cannot write", e))?;
        Ok(store)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, what: &str, e: std::io::Error) -> CatalogError {
        CatalogError::no_recovery(format!(
            "{} catalog file {}: {}",
            what,
            self.path.display(),
            e
        ))
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(suffix);
        PathBuf::from(p)
    }
}

impl Store for FileStore {
    fn read(&self) -> Result<Tree, CatalogError> {
        let bytes = std::fs::read(&self.path).map_err(|e| self.io_error("cannot read", e))?;
        Tree::from_reg_bytes(&bytes).map_err(|e| {
            CatalogError::no_recovery(format!(
                "catalog file {}: {}",
                self.path.display(),
                e.message()
            ))
        })
    }

    fn commit(&self, old: &Tree, new: &Tree) -> Result<(), CatalogError> {
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.sibling(".lock"))
            .map_err(|e| self.io_error("cannot open the lock file of", e))?;
        let _guard = lock::lock(&lock_file).map_err(|e| self.io_error("cannot lock", e))?;
        let current = self.read()?;
        if current != *old {
            return Err(CatalogError::new(
                WSATRY_AGAIN,
                format!(
                    "{} was changed by another writer (Serial_Access_Num {} -> {}) since this operation read it; nothing was written",
                    self.describe(),
                    serial(old),
                    serial(&current)
                ),
            ));
        }
        if current == *new {
            return Ok(());
        }
        let tmp = self.sibling(&format!(".tmp{}", std::process::id()));
        let written = File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(new.to_reg().as_bytes())?;
                f.sync_all()
            })
            .and_then(|_| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.io_error("cannot write", e));
        }
        Ok(())
    }

    fn catalogs(&self, tree: &Tree) -> Vec<Arch> {
        if tree.has_key(&format!("Protocol_Catalog9\\{}", Arch::X64.entries_key())) {
            vec![Arch::X64, Arch::X86]
        } else {
            vec![Arch::X86]
        }
    }

    fn describe(&self) -> String {
        format!("catalog file {}", self.path.display())
    }
}

fn serial(t: &Tree) -> String {
    match t
        .value("Protocol_Catalog9", "Serial_Access_Num")
        .and_then(|v| v.as_dword())
    {
        Some(v) => v.to_string(),
        None => "(none)".to_owned(),
    }
}

#[cfg(unix)]
mod lock {
    use std::fs::File;
    use std::os::unix::io::AsRawFd;

    extern "C" {
        fn flock(fd: i32, operation: i32) -> i32;
    }
    const LOCK_EX: i32 = 2;

    /// Holds the lock until dropped (closing the file releases it).
    pub(super) struct Guard;

    pub(super) fn lock(f: &File) -> std::io::Result<Guard> {
        loop {
            // SAFETY: `f` is an open file for the whole call; flock only takes the descriptor.
            let r = unsafe { flock(f.as_raw_fd(), LOCK_EX) };
            if r == 0 {
                return Ok(Guard);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

#[cfg(windows)]
mod lock {
    use std::fs::File;
    use std::os::windows::io::AsRawHandle;

    use crate::win::{LockFileEx, OVERLAPPED};

    const LOCKFILE_EXCLUSIVE_LOCK: u32 = 2;

    /// Holds the lock until dropped (closing the file releases it).
    pub(super) struct Guard;

    pub(super) fn lock(f: &File) -> std::io::Result<Guard> {
        let mut ov = OVERLAPPED::default();
        // SAFETY: the handle is open for the whole call and `ov` outlives it (the call is
        // synchronous: the file was not opened for overlapped I/O).
        let ok =
            unsafe { LockFileEx(f.as_raw_handle(), LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &mut ov) };
        if ok == 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(Guard)
        }
    }
}
