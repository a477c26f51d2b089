//! [`Wsc`]: the real WSC* functions of ws2_32, looked up at run time.

use std::ffi::c_void;

use crate::backend::{chain_guids, Arch, Backend, Catalogs, LayerSpec, NamespaceEntry};
use crate::entry::{encode_path, Entry};
use crate::error::{CatalogError, WSAEINVAL, WSANO_RECOVERY};
use crate::guid::Guid;
use crate::info::{ProtocolInfo, LAYERED_PROTOCOL, MAX_PROTOCOL_CHAIN, PROTOCOL_INFO_LEN};
use crate::layers::{dependents_error, plan_removal};
use crate::registry::RegistryStore;
use crate::store::Store;
use crate::win::{self, wide};

const SOCKET_ERROR: i32 = -1;
const WSAENOBUFS: i32 = 10055;
const MAX_PATH: usize = 260;

type EnumFn = unsafe extern "system" fn(*const i32, *mut c_void, *mut u32, *mut i32) -> i32;
type InstallFn =
    unsafe extern "system" fn(*const Guid, *const u16, *const c_void, u32, *mut i32) -> i32;
type DeinstallFn = unsafe extern "system" fn(*const Guid, *mut i32) -> i32;
type OrderFn = unsafe extern "system" fn(*mut u32, u32) -> i32;
type PathFn = unsafe extern "system" fn(*const Guid, *mut u16, *mut i32, *mut i32) -> i32;
type CategoryFn =
    unsafe extern "system" fn(*const u16, u32, *const u16, u32, u32, *mut u32, *mut i32) -> i32;
type GetCategoryFn =
    unsafe extern "system" fn(*const u16, u32, *const u16, u32, *mut u32, *mut i32) -> i32;
type SetInfoFn =
    unsafe extern "system" fn(*const Guid, i32, *const u8, usize, u32, *mut i32) -> i32;
type GetInfoFn =
    unsafe extern "system" fn(*const Guid, i32, *mut u8, *mut usize, u32, *mut i32) -> i32;

/// `WSC_PROVIDER_INFO_TYPE::ProviderInfoLspCategories`.
const PROVIDER_INFO_LSP_CATEGORIES: i32 = 0;

/// The catalog through ws2_32's own `WSCInstallProvider[64_32]`, `WSCDeinstallProvider[32]`,
/// `WSCWriteProviderOrder[32]`, `WSCEnumProtocols[32]`, `WSCUpdateProvider[32]`,
/// `WSCGetProviderPath[32]`, `WSCSetProviderInfo[32]`, `WSCGetProviderInfo[32]`,
/// `WSCSetApplicationCategory` and `WSCGetApplicationCategory`, each looked up with
/// `GetProcAddress` (one that is missing fails with `WSANO_RECOVERY` naming it). The `...32`
/// functions serve the 32-bit catalog from a 64-bit process; a 32-bit process reaches only the
/// 32-bit catalog.
///
/// Wine's ws2_32 has no `WSCSetProviderInfo` (Wine's catalog goes through the registry store
/// instead, see [`system`](crate::system)); here a layer install with categories then fails
/// and is undone.
///
/// Layered installs and removals, positioned installs and the dependents check of a removal
/// are made of several WSC* calls (as instlsp does), so unlike
/// [`StoreCatalog`](crate::StoreCatalog) they are not atomic (a failed layer install undoes
/// what it installed; a layer removal rewrites the chains above before removing anything). Reading the namespace catalog and [`Backend::backup`] read the registry;
/// nothing here writes it: [`Backend::restore`] is [`restore_by_operations`](crate::restore_by_operations).
#[derive(Clone, Debug, Default)]
pub struct Wsc {
    _private: (),
}

fn ws2_32() -> Result<*mut c_void, CatalogError> {
    let name = wide("ws2_32.dll");
    // SAFETY: `name` is NUL-terminated; loading ws2_32 runs no code of ours.
    let h = unsafe { win::LoadLibraryW(name.as_ptr()) };
    if h.is_null() {
        Err(CatalogError::no_recovery("cannot load ws2_32.dll"))
    } else {
        Ok(h)
    }
}

/// The address of ws2_32's export `name`.
fn export(name: &str) -> Result<*const c_void, CatalogError> {
    let module = ws2_32()?;
    let cname: Vec<u8> = name.bytes().chain(Some(0)).collect();
    // SAFETY: `module` is loaded (never unloaded: LoadLibrary took a reference); `cname` is
    // NUL-terminated.
    let f = unsafe { win::GetProcAddress(module, cname.as_ptr()) };
    if f.is_null() {
        Err(CatalogError::no_recovery(format!(
            "ws2_32.dll has no {} on this system",
            name
        )))
    } else {
        Ok(f)
    }
}

macro_rules! lookup {
    ($ty:ty, $name:expr) => {{
        let f = export($name)?;
        // SAFETY: `f` is ws2_32's export of that name, whose documented prototype is `$ty`.
        unsafe { std::mem::transmute::<*const c_void, $ty>(f) }
    }};
}

fn wsa(name: &str, errno: i32) -> CatalogError {
    let what = match errno {
        WSAEINVAL => "invalid argument, or no such provider",
        WSANO_RECOVERY => "the catalog cannot be written (not an administrator?)",
        _ => "failed",
    };
    CatalogError::new(errno, format!("{}: {}", name, what))
}

fn native_is_64() -> bool {
    cfg!(target_pointer_width = "64")
}

/// The function name for catalog `arch`: `base` for the native catalog, `base32` for the
/// 32-bit one from a 64-bit process.
fn variant(base: &str, arch: Arch) -> Result<String, CatalogError> {
    match (arch, native_is_64()) {
        (Arch::X64, true) | (Arch::X86, false) => Ok(base.to_owned()),
        (Arch::X86, true) => Ok(format!("{}32", base)),
        (Arch::X64, false) => Err(CatalogError::invalid(
            "a 32-bit process cannot change or read the 64-bit catalog",
        )),
    }
}

fn infos_buffer(infos: &[ProtocolInfo]) -> Vec<u32> {
    let mut buf = vec![0u32; infos.len() * PROTOCOL_INFO_LEN / 4];
    for (i, info) in infos.iter().enumerate() {
        for (j, w) in info.as_bytes().chunks(4).enumerate() {
            buf[i * PROTOCOL_INFO_LEN / 4 + j] = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        }
    }
    buf
}

impl Wsc {
    /// The real WSC* functions of this process's ws2_32.
    pub fn new() -> Wsc {
        Wsc { _private: () }
    }

    fn raw_enum(&self, arch: Arch) -> Result<Vec<ProtocolInfo>, CatalogError> {
        let name = variant("WSCEnumProtocols", arch)?;
        let f = lookup!(EnumFn, &name);
        let mut len: u32 = 0;
        let mut errno = 0;
        // SAFETY: a null buffer with length 0 asks for the needed size.
        let r = unsafe { f(std::ptr::null(), std::ptr::null_mut(), &mut len, &mut errno) };
        if r != SOCKET_ERROR {
            return Ok(Vec::new());
        }
        if errno != WSAENOBUFS {
            return Err(wsa(&name, errno));
        }
        let mut buf = vec![0u32; (len as usize + 3) / 4];
        let mut len2 = (buf.len() * 4) as u32;
        // SAFETY: `buf` holds `len2` writable bytes, 4-byte aligned.
        let n = unsafe {
            f(
                std::ptr::null(),
                buf.as_mut_ptr().cast(),
                &mut len2,
                &mut errno,
            )
        };
        if n == SOCKET_ERROR {
            return Err(wsa(&name, errno));
        }
        let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_le_bytes()).collect();
        (0..n.max(0) as usize)
            .map(|i| {
                ProtocolInfo::from_bytes(&bytes[i * PROTOCOL_INFO_LEN..(i + 1) * PROTOCOL_INFO_LEN])
            })
            .collect()
    }

    fn path_of(&self, id: &Guid, arch: Arch) -> Result<String, CatalogError> {
        let name = variant("WSCGetProviderPath", arch)?;
        let f = lookup!(PathFn, &name);
        let mut buf = [0u16; MAX_PATH];
        let mut len = MAX_PATH as i32;
        let mut errno = 0;
        // SAFETY: `id` is a valid GUID; `buf` holds `len` UTF-16 units.
        let r = unsafe { f(id, buf.as_mut_ptr(), &mut len, &mut errno) };
        if r == SOCKET_ERROR {
            return Err(wsa(&name, errno));
        }
        let end = buf.iter().position(|&u| u == 0).unwrap_or(buf.len());
        Ok(String::from_utf16_lossy(&buf[..end]))
    }

    fn install_raw(
        &self,
        id: &Guid,
        path: &str,
        infos: &[ProtocolInfo],
        catalogs: Catalogs,
    ) -> Result<(), CatalogError> {
        let archs = catalogs.resolve(&self.catalogs()?)?;
        encode_path(path)?;
        let name = if archs.len() == 2 {
            "WSCInstallProvider64_32".to_owned()
        } else {
            variant("WSCInstallProvider", archs[0])?
        };
        if name == "WSCInstallProvider32" {
            return Err(CatalogError::invalid(
                "Windows has no call that installs into the 32-bit catalog alone from a 64-bit process; install into both catalogs",
            ));
        }
        install_call(&name, id, path, infos)
    }
}

impl Backend for Wsc {
    fn catalogs(&self) -> Result<Vec<Arch>, CatalogError> {
        Ok(if native_is_64() {
            vec![Arch::X64, Arch::X86]
        } else {
            vec![Arch::X86]
        })
    }

    fn enum_protocols(&self, arch: Arch) -> Result<Vec<Entry>, CatalogError> {
        let infos = self.raw_enum(arch)?;
        let mut out = Vec::with_capacity(infos.len());
        for info in infos {
            let path = self.path_of(&info.provider_id(), arch)?;
            out.push(Entry { path, info });
        }
        Ok(out)
    }

    fn install_provider_at(
        &self,
        id: &Guid,
        path: &str,
        infos: &[ProtocolInfo],
        catalogs: Catalogs,
        position: Option<usize>,
    ) -> Result<Vec<u32>, CatalogError> {
        let archs = catalogs.resolve(&self.catalogs()?)?;
        for &arch in &archs {
            if self.raw_enum(arch)?.iter().any(|i| i.provider_id() == *id) {
                return Err(CatalogError::invalid(format!(
                    "provider {} is already installed in the {}-bit catalog",
                    id,
                    arch.bits()
                )));
            }
        }
        self.install_raw(id, path, infos, catalogs)?;
        let mut ids = Vec::new();
        for &arch in &archs {
            let all = self.raw_enum(arch)?;
            let mine: Vec<u32> = all
                .iter()
                .filter(|i| i.provider_id() == *id)
                .map(|i| i.catalog_entry_id())
                .collect();
            if ids.is_empty() {
                ids = mine.clone();
            }
            if let Some(p) = position {
                let mut order: Vec<u32> = all
                    .iter()
                    .map(|i| i.catalog_entry_id())
                    .filter(|c| !mine.contains(c))
                    .collect();
                let at = p.min(order.len());
                order.splice(at..at, mine);
                self.write_provider_order(arch, &order)?;
            }
        }
        Ok(ids)
    }

    fn install_provider_and_chains(
        &self,
        spec: &LayerSpec,
        catalogs: Catalogs,
    ) -> Result<Vec<u32>, CatalogError> {
        let archs = catalogs.resolve(&self.catalogs()?)?;
        let first = self.raw_enum(archs[0])?;
        let targets = spec.targets(&first, archs[0])?;
        if targets.is_empty() {
            return Err(CatalogError::invalid("there is no entry to layer over"));
        }
        if let Some(t) = targets.iter().find(|t| {
            t.chain_len() == LAYERED_PROTOCOL || t.chain_len() >= MAX_PROTOCOL_CHAIN as i32
        }) {
            return Err(CatalogError::invalid(format!(
                "cannot layer over '{}' (ChainLen {})",
                t.name(),
                t.chain_len()
            )));
        }
        let guids = chain_guids(&spec.layer_id, &targets, &first);
        for (i, g) in guids.iter().enumerate() {
            if guids[..i].contains(g) || *g == spec.layer_id {
                return Err(CatalogError::invalid(format!(
                    "entry '{}' is named twice",
                    targets[i].name()
                )));
            }
        }
        let dummy = spec.layered_entry(&targets[0]);
        let mut ids =
            self.install_provider_at(&spec.layer_id, &spec.path, &[dummy], catalogs, None)?;
        let layer_cid = ids[0];
        // Each chain at the front, the last first, so that they end up in the order of `over`.
        let mut chain_ids = Vec::with_capacity(targets.len());
        let mut installed: Vec<Guid> = Vec::new();
        let mut result = Ok(());
        for (below, g) in targets.iter().zip(&guids).rev() {
            let chain = spec.chain_entry(layer_cid, below.catalog_entry_id(), below);
            match self.install_provider_at(g, &spec.path, &[chain], catalogs, Some(0)) {
                Ok(new) => {
                    installed.push(*g);
                    chain_ids.splice(0..0, new);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_ok() && spec.categories != 0 {
            for &arch in &archs {
                for g in installed.iter().chain(Some(&spec.layer_id)) {
                    if let Err(e) = self.set_provider_categories(g, arch, spec.categories) {
                        result = Err(e);
                    }
                }
            }
        }
        if let Err(e) = result {
            for g in &installed {
                let _ = self.deinstall_provider(g, catalogs);
            }
            let _ = self.deinstall_provider(&spec.layer_id, catalogs);
            return Err(e);
        }
        ids.extend(chain_ids);
        Ok(ids)
    }

    fn deinstall_provider(&self, id: &Guid, catalogs: Catalogs) -> Result<(), CatalogError> {
        let archs = catalogs.resolve(&self.catalogs()?)?;
        let mut present = Vec::new();
        for &arch in &archs {
            let all = self.raw_enum(arch)?;
            let removed: Vec<u32> = all
                .iter()
                .filter(|i| i.provider_id() == *id)
                .map(|i| i.catalog_entry_id())
                .collect();
            if removed.is_empty() {
                continue;
            }
            if let Some(e) = dependents_error(&all, id, &removed, arch) {
                return Err(e);
            }
            present.push(arch);
        }
        if present.is_empty() {
            return Err(CatalogError::invalid(format!(
                "provider {} is not installed",
                id
            )));
        }
        for arch in present {
            let name = variant("WSCDeinstallProvider", arch)?;
            let f = lookup!(DeinstallFn, &name);
            let mut errno = 0;
            // SAFETY: `id` is a valid GUID; `errno` a valid out pointer.
            if unsafe { f(id, &mut errno) } == SOCKET_ERROR {
                return Err(wsa(&name, errno));
            }
        }
        Ok(())
    }

    fn deinstall_layer(&self, layer_id: &Guid, catalogs: Catalogs) -> Result<(), CatalogError> {
        let archs = catalogs.resolve(&self.catalogs()?)?;
        let mut plans = Vec::new();
        for &arch in &archs {
            let infos = self.raw_enum(arch)?;
            if let Some(plan) = plan_removal(&infos, layer_id, arch)? {
                plans.push((arch, infos, plan));
            }
        }
        if plans.is_empty() {
            return Err(CatalogError::invalid(format!(
                "layer {} is not installed",
                layer_id
            )));
        }
        for (arch, infos, plan) in plans {
            // Rewrite the chains above first, so that no chain ever names a missing entry.
            let mut updated: Vec<Guid> = Vec::new();
            for (id, _) in &plan.rewrite {
                let g = match infos.iter().find(|i| i.catalog_entry_id() == *id) {
                    Some(i) => i.provider_id(),
                    None => continue,
                };
                if updated.contains(&g) {
                    continue;
                }
                updated.push(g);
                let all: Vec<ProtocolInfo> = infos
                    .iter()
                    .filter(|i| i.provider_id() == g)
                    .map(|i| {
                        plan.rewrite
                            .iter()
                            .find(|(rid, _)| *rid == i.catalog_entry_id())
                            .map(|(_, new)| new.clone())
                            .unwrap_or_else(|| i.clone())
                    })
                    .collect();
                let path = self.path_of(&g, arch)?;
                self.update_provider(&g, &path, &all, arch)?;
            }
            let mut gone: Vec<Guid> = Vec::new();
            for i in &infos {
                let g = i.provider_id();
                if plan.remove.contains(&i.catalog_entry_id())
                    && g != *layer_id
                    && !gone.contains(&g)
                {
                    gone.push(g);
                }
            }
            gone.push(*layer_id);
            let name = variant("WSCDeinstallProvider", arch)?;
            let f = lookup!(DeinstallFn, &name);
            for g in gone {
                let mut errno = 0;
                // SAFETY: `g` is a valid GUID; `errno` a valid out pointer.
                if unsafe { f(&g, &mut errno) } == SOCKET_ERROR {
                    return Err(wsa(&name, errno));
                }
            }
        }
        Ok(())
    }

    fn write_provider_order(&self, arch: Arch, ids: &[u32]) -> Result<(), CatalogError> {
        let name = variant("WSCWriteProviderOrder", arch)?;
        let f = lookup!(OrderFn, &name);
        let mut v = ids.to_vec();
        // SAFETY: `v` holds `v.len()` ids.
        let r = unsafe { f(v.as_mut_ptr(), v.len() as u32) };
        if r != 0 {
            return Err(wsa(&name, r));
        }
        Ok(())
    }

    fn update_provider(
        &self,
        id: &Guid,
        path: &str,
        infos: &[ProtocolInfo],
        arch: Arch,
    ) -> Result<(), CatalogError> {
        encode_path(path)?;
        let name = variant("WSCUpdateProvider", arch)?;
        install_call(&name, id, path, infos)
    }

    fn get_provider_path(&self, id: &Guid, arch: Arch) -> Result<String, CatalogError> {
        self.path_of(id, arch)
    }

    fn set_application_category(
        &self,
        path: &str,
        args: &str,
        categories: u32,
    ) -> Result<(), CatalogError> {
        let f = lookup!(CategoryFn, "WSCSetApplicationCategory");
        let p: Vec<u16> = path.encode_utf16().collect();
        let a: Vec<u16> = args.encode_utf16().collect();
        let mut prev = 0u32;
        let mut errno = 0;
        // SAFETY: the pointers and lengths (in characters) describe `p` and `a`; the out
        // pointers are valid.
        let r = unsafe {
            f(
                p.as_ptr(),
                p.len() as u32,
                if a.is_empty() {
                    std::ptr::null()
                } else {
                    a.as_ptr()
                },
                a.len() as u32,
                categories,
                &mut prev,
                &mut errno,
            )
        };
        if r == SOCKET_ERROR {
            return Err(wsa("WSCSetApplicationCategory", errno));
        }
        Ok(())
    }

    fn application_category(&self, path: &str, args: &str) -> Result<Option<u32>, CatalogError> {
        let f = lookup!(GetCategoryFn, "WSCGetApplicationCategory");
        let p: Vec<u16> = path.encode_utf16().collect();
        let a: Vec<u16> = args.encode_utf16().collect();
        let mut categories = 0u32;
        let mut errno = 0;
        // SAFETY: the pointers and lengths (in characters) describe `p` and `a`; the out
        // pointers are valid.
        let r = unsafe {
            f(
                p.as_ptr(),
                p.len() as u32,
                if a.is_empty() {
                    std::ptr::null()
                } else {
                    a.as_ptr()
                },
                a.len() as u32,
                &mut categories,
                &mut errno,
            )
        };
        if r == SOCKET_ERROR {
            return Err(wsa("WSCGetApplicationCategory", errno));
        }
        Ok(Some(categories))
    }

    fn set_provider_categories(
        &self,
        id: &Guid,
        arch: Arch,
        categories: u32,
    ) -> Result<(), CatalogError> {
        let name = variant("WSCSetProviderInfo", arch)?;
        let f = lookup!(SetInfoFn, &name);
        let value = categories.to_le_bytes();
        let mut errno = 0;
        // SAFETY: `id` is a valid GUID; `value` holds the 4-byte DWORD the info class takes.
        let r = unsafe {
            f(
                id,
                PROVIDER_INFO_LSP_CATEGORIES,
                value.as_ptr(),
                value.len(),
                0,
                &mut errno,
            )
        };
        if r == SOCKET_ERROR {
            return Err(wsa(&name, errno));
        }
        Ok(())
    }

    fn provider_categories(&self, id: &Guid, arch: Arch) -> Result<u32, CatalogError> {
        let name = variant("WSCGetProviderInfo", arch)?;
        let f = lookup!(GetInfoFn, &name);
        let mut value = [0u8; 4];
        let mut len = value.len();
        let mut errno = 0;
        // SAFETY: `id` is a valid GUID; `value` holds `len` writable bytes.
        let r = unsafe {
            f(
                id,
                PROVIDER_INFO_LSP_CATEGORIES,
                value.as_mut_ptr(),
                &mut len,
                0,
                &mut errno,
            )
        };
        if r == SOCKET_ERROR {
            return Err(wsa(&name, errno));
        }
        Ok(u32::from_le_bytes(value))
    }

    fn enum_namespaces(&self, arch: Arch) -> Result<Vec<NamespaceEntry>, CatalogError> {
        let store = RegistryStore::new();
        let tree = store.read()?;
        Ok(crate::catalog::read_namespaces(&tree, arch))
    }

    fn backup(&self) -> Result<String, CatalogError> {
        Ok(RegistryStore::new().read()?.to_reg())
    }

    fn restore(&self, text: &str) -> Result<(), CatalogError> {
        crate::reconcile::restore_by_operations(self, text)
    }

    fn describe(&self) -> String {
        "ws2_32's WSC* functions".to_owned()
    }
}

/// Calls `name`, one of the WSC* functions with `WSCInstallProvider`'s prototype
/// (`WSCInstallProvider[64_32]`, `WSCUpdateProvider[32]`), for `id`'s `infos` at `path`.
fn install_call(
    name: &str,
    id: &Guid,
    path: &str,
    infos: &[ProtocolInfo],
) -> Result<(), CatalogError> {
    let f = lookup!(InstallFn, name);
    let wpath = wide(path);
    let buf = infos_buffer(infos);
    let mut errno = 0;
    // SAFETY: `id` and `wpath` are valid; `buf` holds `infos.len()` WSAPROTOCOL_INFOW.
    let r = unsafe {
        f(
            id,
            wpath.as_ptr(),
            buf.as_ptr().cast(),
            infos.len() as u32,
            &mut errno,
        )
    };
    if r == SOCKET_ERROR {
        return Err(wsa(name, errno));
    }
    Ok(())
}
