//! Sessions that find their providers through a Winsock catalog, as ws2_32 does: `socket()`
//! takes the first visible entry that matches, and the first socket of an entry loads the
//! library of that entry's provider GUID (once per GUID) and starts it with that entry.

use crate::api::{ProviderCatalog, Ws2};
use crate::host::registry;
use crate::loader::{choose, entry_points_of, Dispatch, LoadError};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use winsock_catalog::{Arch, Backend};
use winsock_provider::sys::{PFL_HIDDEN, WSAPROTOCOL_INFOW};
use winsock_provider::{Guid, WsaError};

/// One protocol entry of a catalog: the provider library's path as the catalog stores it
/// (environment strings such as `%SystemRoot%` are expanded when it is loaded) and the entry.
#[derive(Clone)]
pub struct CatalogEntry {
    /// The library path, unexpanded.
    pub path: String,
    /// The protocol entry, with the catalog's entry id and provider GUID.
    pub info: WSAPROTOCOL_INFOW,
}

impl CatalogEntry {
    /// The entry as `winsock_catalog` reads it from a catalog.
    pub fn from_catalog(entry: &winsock_catalog::Entry) -> CatalogEntry {
        let bytes = entry.info.to_bytes();
        assert_eq!(bytes.len(), core::mem::size_of::<WSAPROTOCOL_INFOW>());
        // SAFETY: `bytes` holds exactly size_of::<WSAPROTOCOL_INFOW>() bytes (checked), and
        // every bit pattern is a valid WSAPROTOCOL_INFOW (integers and integer arrays only).
        let info = unsafe { bytes.as_ptr().cast::<WSAPROTOCOL_INFOW>().read_unaligned() };
        CatalogEntry {
            path: entry.path.clone(),
            info,
        }
    }

    /// Whether `socket()` may choose the entry: not hidden, and a base entry or a chain.
    fn visible(&self) -> bool {
        self.info.dwProviderFlags & PFL_HIDDEN == 0 && self.info.ProtocolChain.ChainLen >= 1
    }
}

/// The catalog of a session, and the providers it has loaded from it so far.
pub(crate) struct Catalog {
    entries: Vec<CatalogEntry>,
    /// Provider GUID → its index in the session's providers.
    loaded: Mutex<HashMap<u128, usize>>,
}

impl Ws2 {
    /// A session whose `socket()` finds providers in `entries` (in catalog order), as ws2_32
    /// finds them in the Winsock catalog. Nothing is loaded until a socket needs it.
    pub fn with_catalog(entries: Vec<CatalogEntry>) -> Ws2 {
        Ws2::make(Some(Catalog {
            entries,
            loaded: Mutex::new(HashMap::new()),
        }))
    }

    /// A session over the catalog `backend` holds for this process's architecture (the 64-bit
    /// catalog in a 64-bit process, the 32-bit one in a 32-bit process), as ws2_32 offers it to
    /// this executable: when the catalog categorizes it (`WSCSetApplicationCategory`), without
    /// the chains through layers its LSP categories do not permit
    /// (`winsock_catalog::entries_for_application`).
    pub fn from_catalog(backend: &dyn Backend) -> Result<Ws2, LoadError> {
        let exe = std::env::current_exe()
            .map_err(|e| LoadError::Catalog(format!("this executable's path: {}", e)))?;
        let entries = winsock_catalog::entries_for_application(
            backend,
            Arch::native(),
            &exe.to_string_lossy(),
            "",
        )
        .map_err(|e| LoadError::Catalog(e.to_string()))?;
        Ok(Ws2::with_catalog(
            entries.iter().map(CatalogEntry::from_catalog).collect(),
        ))
    }

    /// A session over the system's catalog: the registry on Windows (and under Wine), the
    /// file named by `WSP_CATALOG` elsewhere (see `winsock_catalog::system`).
    pub fn from_system_catalog() -> Result<Ws2, LoadError> {
        let backend = winsock_catalog::system().map_err(|e| LoadError::Catalog(e.to_string()))?;
        Ws2::from_catalog(&*backend)
    }
}

impl Ws2 {
    /// The library (path with environment strings expanded) of the catalog entry `socket(af,
    /// ty, protocol)` would use, in a session made from a catalog; `WSAEINVAL` in one that is
    /// not.
    pub fn library_for(&self, af: i32, ty: i32, protocol: i32) -> Result<String, WsaError> {
        let catalog = self.inner.catalog.as_ref().ok_or(WsaError::INVAL)?;
        catalog.library_for(af, ty, protocol)
    }
}

impl Catalog {
    /// The entry `socket(af, ty, protocol)` takes: the first visible one that matches.
    fn choose(&self, af: i32, ty: i32, protocol: i32) -> Result<&CatalogEntry, WsaError> {
        let visible: Vec<&CatalogEntry> = self.entries.iter().filter(|e| e.visible()).collect();
        Ok(visible[choose(visible.iter().map(|e| &e.info), af, ty, protocol)?])
    }
}

/// `Ws2::spi` for a session made from a catalog.
pub(crate) fn spi(
    ws: &Ws2,
    catalog: &Catalog,
    af: i32,
    ty: i32,
    protocol: i32,
) -> Result<Dispatch, WsaError> {
    let chosen = catalog.choose(af, ty, protocol)?;
    let index = loaded(ws, catalog, chosen)?;
    Ok(ws.inner.providers.at(index, chosen.info))
}

/// Loads the provider of the catalog entry a `WSAPROTOCOL_INFOW` from `WSPDuplicateSocket`
/// names (by entry id, else by GUID, family, type and protocol), so `socket_from_info` finds
/// it; `WSAEINVAL` if the catalog has no such entry.
pub(crate) fn load_for_info(
    ws: &Ws2,
    catalog: &Catalog,
    info: &WSAPROTOCOL_INFOW,
) -> Result<(), WsaError> {
    let same = |e: &&CatalogEntry| {
        Guid::from_sys(&e.info.ProviderId) == Guid::from_sys(&info.ProviderId)
            && e.info.iAddressFamily == info.iAddressFamily
            && e.info.iSocketType == info.iSocketType
            && e.info.iProtocol == info.iProtocol
    };
    let entry = catalog
        .entries
        .iter()
        .find(|e| e.info.dwCatalogEntryId == info.dwCatalogEntryId)
        .or_else(|| catalog.entries.iter().find(same))
        .ok_or(WsaError::INVAL)?;
    loaded(ws, catalog, entry).map(|_| ())
}

/// The index among the session's providers of `chosen`'s provider, loading it first if this
/// is the first use of its GUID; a provider that cannot be loaded is
/// `WSAEPROVIDERFAILEDINIT`, as in ws2_32, with the reason on stderr.
fn loaded(ws: &Ws2, catalog: &Catalog, chosen: &CatalogEntry) -> Result<usize, WsaError> {
    let guid = Guid::from_sys(&chosen.info.ProviderId);
    let mut loaded = catalog.loaded.lock().unwrap_or_else(|e| e.into_inner());
    let index = match loaded.get(&guid.0) {
        Some(&index) => index,
        None => {
            let index = load(ws, catalog, chosen).map_err(|e| {
                eprintln!(
                    "ws2-standin: catalog entry {} ({}): {}",
                    chosen.info.dwCatalogEntryId, chosen.path, e
                );
                WsaError::PROVIDERFAILEDINIT
            })?;
            loaded.insert(guid.0, index);
            index
        }
    };
    Ok(index)
}

/// Records, as ws2_32's catalog knows them, the providers of the entries below a chain entry
/// (the layers and the base provider it goes through), so that the handles they create under
/// their own entry ids are accepted when the layer above starts them.
/// The session keeps their entry ids ([`Ws2::handles_below`]).
fn claim_chain(ws: &Ws2, catalog: &Catalog, chosen: &CatalogEntry) -> Result<(), LoadError> {
    let len = chosen.info.ProtocolChain.ChainLen;
    if len < 2 {
        return Ok(());
    }
    let ids = &chosen.info.ProtocolChain.ChainEntries[..(len as usize).min(7)];
    for id in ids {
        let below = match catalog
            .entries
            .iter()
            .find(|e| e.info.dwCatalogEntryId == *id)
        {
            Some(e) => e,
            // The layer reports a missing entry itself (WSAEPROVIDERFAILEDINIT).
            None => continue,
        };
        let key = match entry_points_of(winsock_catalog::expand_env(&below.path)) {
            Ok(entry) => entry.startup as usize,
            Err(_) => continue,
        };
        let guid = Guid::from_sys(&below.info.ProviderId);
        let mut kept = ws.inner.below.lock().unwrap_or_else(|e| e.into_inner());
        let mut reg = registry::lock();
        for e in &catalog.entries {
            if Guid::from_sys(&e.info.ProviderId) == guid {
                if !kept.contains(&e.info.dwCatalogEntryId) {
                    kept.push(e.info.dwCatalogEntryId);
                }
                reg.claim_catalog_id(e.info.dwCatalogEntryId, key)
                    .map_err(|_| {
                        LoadError::Catalog(format!(
                        "catalog entry id {} is already used by another provider in this process",
                        e.info.dwCatalogEntryId
                    ))
                    })?;
            }
        }
    }
    Ok(())
}

/// Loads the provider of `chosen`'s GUID from its library and starts it with `chosen`; the
/// provider serves every entry the catalog lists under that GUID. For a chain entry, the
/// providers below are recorded first ([`claim_chain`]); the layer loads them itself.
fn load(ws: &Ws2, catalog: &Catalog, chosen: &CatalogEntry) -> Result<usize, LoadError> {
    claim_chain(ws, catalog, chosen)?;
    let path = winsock_catalog::expand_env(&chosen.path);
    let entry = entry_points_of(&path)?;
    let key = entry.startup as usize;
    let guid = Guid::from_sys(&chosen.info.ProviderId);
    let entries: Vec<WSAPROTOCOL_INFOW> = catalog
        .entries
        .iter()
        .filter(|e| Guid::from_sys(&e.info.ProviderId) == guid)
        .map(|e| e.info)
        .collect();
    {
        let mut reg = registry::lock();
        for info in &entries {
            reg.claim_catalog_id(info.dwCatalogEntryId, key)
                .map_err(|_| {
                    LoadError::Catalog(format!(
                        "catalog entry id {} is already used by another provider in this process",
                        info.dwCatalogEntryId
                    ))
                })?;
        }
    }
    let first = entries
        .iter()
        .position(|i| i.dwCatalogEntryId == chosen.info.dwCatalogEntryId)
        .unwrap_or(0);
    ws.start(
        entry,
        format!("catalog entry {}", chosen.info.dwCatalogEntryId),
        Some(Path::new(&path)),
        entries,
        first,
    )
}

impl ProviderCatalog for Catalog {
    fn dispatch(&self, ws: &Ws2, af: i32, ty: i32, protocol: i32) -> Result<Dispatch, WsaError> {
        spi(ws, self, af, ty, protocol)
    }

    fn load_for_info(&self, ws: &Ws2, info: &WSAPROTOCOL_INFOW) -> Result<(), WsaError> {
        load_for_info(ws, self, info)
    }

    fn library_for(&self, af: i32, ty: i32, protocol: i32) -> Result<String, WsaError> {
        let chosen = self.choose(af, ty, protocol)?;
        Ok(winsock_catalog::expand_env(&chosen.path))
    }
}
