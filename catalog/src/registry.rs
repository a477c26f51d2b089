//! [`RegistryStore`]: the real `HKLM\...\WinSock2\Parameters` key (Windows and Wine).

use std::ffi::c_void;

use crate::backend::Arch;
use crate::error::{CatalogError, WSATRY_AGAIN};
use crate::reg::{Tree, Value};
use crate::store::Store;
use crate::win::{self, wide};

/// The key below `HKEY_LOCAL_MACHINE`.
const PARAMETERS: &str = "SYSTEM\\CurrentControlSet\\Services\\WinSock2\\Parameters";
/// The named mutex every writer of this store holds while it checks and writes.
const WRITER_MUTEX: &str = "Global\\WinsockCatalogWriter";

/// The catalog in this machine's registry. Readers and writers serialise on a named mutex
/// (`Global\WinsockCatalogWriter`), and writers check that the key is unchanged before writing.
///
/// Only for systems whose WSC* functions do not work (Wine): on real Windows use
/// [`Wsc`](crate::Wsc), which keeps ws2_32's own bookkeeping right.
#[derive(Clone, Debug, Default)]
pub struct RegistryStore {
    _private: (),
}

/// An open registry key, closed on drop.
struct Key(isize);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: the handle came from RegOpenKeyExW/RegCreateKeyExW and is closed once.
        unsafe { win::RegCloseKey(self.0) };
    }
}

fn reg_error(what: &str, path: &str, code: i32) -> CatalogError {
    CatalogError::no_recovery(format!(
        "{} HKLM\\{}{}{}: error {}",
        what,
        PARAMETERS,
        if path.is_empty() { "" } else { "\\" },
        path,
        code
    ))
}

fn open(path: &str, sam: u32) -> Result<Key, CatalogError> {
    let full = if path.is_empty() {
        PARAMETERS.to_owned()
    } else {
        format!("{}\\{}", PARAMETERS, path)
    };
    let name = wide(&full);
    let mut h: isize = 0;
    // SAFETY: `name` is NUL-terminated and outlives the call; `h` is a valid out pointer.
    let r = unsafe {
        win::RegOpenKeyExW(
            win::HKEY_LOCAL_MACHINE,
            name.as_ptr(),
            0,
            sam | win::KEY_WOW64_64KEY,
            &mut h,
        )
    };
    if r != win::ERROR_SUCCESS {
        return Err(reg_error("cannot open", path, r));
    }
    Ok(Key(h))
}

fn create(path: &str) -> Result<Key, CatalogError> {
    let full = if path.is_empty() {
        PARAMETERS.to_owned()
    } else {
        format!("{}\\{}", PARAMETERS, path)
    };
    let name = wide(&full);
    let mut h: isize = 0;
    let mut disposition = 0u32;
    // SAFETY: `name` is NUL-terminated; the out pointers are valid; class and security are
    // optional (null).
    let r = unsafe {
        win::RegCreateKeyExW(
            win::HKEY_LOCAL_MACHINE,
            name.as_ptr(),
            0,
            std::ptr::null_mut(),
            0,
            win::KEY_ALL_ACCESS | win::KEY_WOW64_64KEY,
            std::ptr::null(),
            &mut h,
            &mut disposition,
        )
    };
    if r != win::ERROR_SUCCESS {
        return Err(reg_error("cannot create", path, r));
    }
    Ok(Key(h))
}

fn read_key(tree: &mut Tree, path: &str) -> Result<(), CatalogError> {
    let key = open(path, win::KEY_READ)?;
    tree.create_key(path);
    let mut index = 0u32;
    let mut name = vec![0u16; 256];
    let mut data = vec![0u8; 4096];
    loop {
        let mut name_len = name.len() as u32;
        let mut data_len = data.len() as u32;
        let mut kind = 0u32;
        // SAFETY: the buffers and their lengths describe valid writable memory; the optional
        // reserved pointer is null.
        let r = unsafe {
            win::RegEnumValueW(
                key.0,
                index,
                name.as_mut_ptr(),
                &mut name_len,
                std::ptr::null_mut(),
                &mut kind,
                data.as_mut_ptr(),
                &mut data_len,
            )
        };
        if r == win::ERROR_NO_MORE_ITEMS {
            break;
        }
        if r == win::ERROR_MORE_DATA {
            name.resize(name.len().max(name_len as usize + 1) * 2, 0);
            data.resize(data.len().max(data_len as usize) * 2, 0);
            continue;
        }
        if r != win::ERROR_SUCCESS {
            return Err(reg_error("cannot read the values of", path, r));
        }
        let n = String::from_utf16_lossy(&name[..name_len as usize]);
        tree.set_value(
            path,
            &n,
            Value {
                kind,
                data: data[..data_len as usize].to_vec(),
            },
        );
        index += 1;
    }
    let mut subkeys = Vec::new();
    let mut index = 0u32;
    loop {
        let mut buf = [0u16; 256];
        let mut len = buf.len() as u32;
        // SAFETY: `buf`/`len` describe valid writable memory; optional pointers are null.
        let r = unsafe {
            win::RegEnumKeyExW(
                key.0,
                index,
                buf.as_mut_ptr(),
                &mut len,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if r == win::ERROR_NO_MORE_ITEMS {
            break;
        }
        if r != win::ERROR_SUCCESS {
            return Err(reg_error("cannot list the subkeys of", path, r));
        }
        subkeys.push(String::from_utf16_lossy(&buf[..len as usize]));
        index += 1;
    }
    drop(key);
    for s in subkeys {
        let child = if path.is_empty() {
            s
        } else {
            format!("{}\\{}", path, s)
        };
        read_key(tree, &child)?;
    }
    Ok(())
}

/// The whole `Parameters` tree (the caller holds the writers' mutex).
fn read_tree() -> Result<Tree, CatalogError> {
    let mut tree = Tree::new();
    read_key(&mut tree, "")?;
    Ok(tree)
}

/// Makes the registry hold `new` where it now holds `current`.
fn apply(current: &Tree, new: &Tree) -> Result<(), CatalogError> {
    // Keys that go: deepest first (a key sorts after its parent).
    let gone: Vec<&str> = current.keys().filter(|k| !new.has_key(k)).collect();
    for k in gone.iter().rev() {
        if k.is_empty() {
            continue;
        }
        let (parent, leaf) = match k.rfind('\\') {
            Some(i) => (&k[..i], &k[i + 1..]),
            None => ("", *k),
        };
        let pk = open(parent, win::KEY_ALL_ACCESS)?;
        let leaf_w = wide(leaf);
        // SAFETY: `pk` is an open key; `leaf_w` is NUL-terminated.
        let r = unsafe { win::RegDeleteKeyW(pk.0, leaf_w.as_ptr()) };
        if r != win::ERROR_SUCCESS {
            return Err(reg_error("cannot delete", k, r));
        }
    }
    for k in new.keys() {
        let old_values = current.values(k);
        let new_values = new.values(k);
        if current.has_key(k) && old_values == new_values {
            continue;
        }
        let key = create(k)?;
        for (name, _) in old_values {
            if new.value(k, name).is_none() {
                let n = wide(name);
                // SAFETY: `key` is open for writing; `n` is NUL-terminated.
                let r = unsafe { win::RegDeleteValueW(key.0, n.as_ptr()) };
                if r != win::ERROR_SUCCESS {
                    return Err(reg_error(&format!("cannot delete value {} of", name), k, r));
                }
            }
        }
        for (name, value) in new_values {
            if current.value(k, name) == Some(value) {
                continue;
            }
            let n = wide(name);
            // SAFETY: `key` is open for writing; `n` is NUL-terminated; the data pointer and
            // length describe `value.data`.
            let r = unsafe {
                win::RegSetValueExW(
                    key.0,
                    n.as_ptr(),
                    0,
                    value.kind,
                    value.data.as_ptr(),
                    value.data.len() as u32,
                )
            };
            if r != win::ERROR_SUCCESS {
                return Err(reg_error(&format!("cannot write value {} of", name), k, r));
            }
        }
    }
    Ok(())
}

/// Holds the writers' mutex until dropped.
struct WriterLock(*mut c_void);

impl WriterLock {
    fn acquire() -> Result<WriterLock, CatalogError> {
        let name = wide(WRITER_MUTEX);
        // SAFETY: `name` is NUL-terminated; default security (null).
        let h = unsafe { win::CreateMutexW(std::ptr::null(), 0, name.as_ptr()) };
        if h.is_null() {
            return Err(CatalogError::no_recovery(format!(
                "cannot create the mutex {}: {}",
                WRITER_MUTEX,
                std::io::Error::last_os_error()
            )));
        }
        // SAFETY: `h` is a mutex handle we own. WAIT_OBJECT_0 (0) and WAIT_ABANDONED (0x80)
        // both mean we own it now.
        let r = unsafe { win::WaitForSingleObject(h, 0xFFFF_FFFF) };
        if r != 0 && r != 0x80 {
            // SAFETY: `h` is ours and closed once.
            unsafe { win::CloseHandle(h) };
            return Err(CatalogError::no_recovery(format!(
                "cannot take the mutex {}",
                WRITER_MUTEX
            )));
        }
        Ok(WriterLock(h))
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // SAFETY: this thread owns the mutex (acquired above); the handle is closed once.
        unsafe {
            win::ReleaseMutex(self.0);
            win::CloseHandle(self.0);
        }
    }
}

impl RegistryStore {
    /// The store over `HKLM\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters`.
    pub fn new() -> RegistryStore {
        RegistryStore { _private: () }
    }
}

impl Store for RegistryStore {
    fn read(&self) -> Result<Tree, CatalogError> {
        // The registry has no multi-key transactions: hold the writers' mutex so that the
        // tree is never read half-way through another writer's commit.
        let _lock = WriterLock::acquire()?;
        read_tree()
    }

    fn commit(&self, old: &Tree, new: &Tree) -> Result<(), CatalogError> {
        let _lock = WriterLock::acquire()?;
        let current = read_tree()?;
        if current != *old {
            return Err(CatalogError::new(
                WSATRY_AGAIN,
                format!(
                    "{} was changed by another writer since this operation read it; nothing was written",
                    self.describe()
                ),
            ));
        }
        if let Err(e) = apply(&current, new) {
            // Put back what was there; the error reported is the first one.
            let now = read_tree().unwrap_or_else(|_| new.clone());
            let _ = apply(&now, &current);
            return Err(e);
        }
        Ok(())
    }

    fn catalogs(&self, _tree: &Tree) -> Vec<Arch> {
        let sixty_four = if cfg!(target_pointer_width = "64") {
            true
        } else {
            let mut wow = 0i32;
            // SAFETY: the pseudo-handle of this process and a valid out pointer.
            let ok = unsafe { win::IsWow64Process(win::GetCurrentProcess(), &mut wow) };
            ok != 0 && wow != 0
        };
        if sixty_four {
            vec![Arch::X64, Arch::X86]
        } else {
            vec![Arch::X86]
        }
    }

    fn describe(&self) -> String {
        format!("registry key {}", crate::reg::PARAMETERS_KEY)
    }
}
