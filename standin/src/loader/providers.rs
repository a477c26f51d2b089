//! The providers one session started: `WSPStartup` as ws2_32 calls it, the checks of what it
//! returned, the lookup of a catalog entry's provider, and the balanced `WSPCleanup`.

use super::contract::{report_violations, ERRNO_SENTINEL};
use super::{choose, entry_name, enumerate, LoadError, Procs, Spi};
use crate::host::{overlapped, registry, upcalls};
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard};
use winsock_provider::sys::*;
use winsock_provider::{EntryPoints, Guid, WsaError};

/// One started provider.
struct Loaded {
    /// The provider's identity in the registry (its `WSPStartup` address).
    key: usize,
    name: String,
    procs: Procs,
    entries: Vec<WSAPROTOCOL_INFOW>,
}

/// Where a call goes: the provider's entries and the protocol entry it serves.
#[derive(Copy, Clone)]
pub(crate) struct Dispatch {
    /// The provider's dispatch entries.
    pub(crate) procs: Procs,
    /// The protocol entry (with its catalog entry id).
    pub(crate) info: WSAPROTOCOL_INFOW,
}

impl Dispatch {
    /// The same, with the table in its raw form.
    pub(crate) fn spi(&self) -> Spi {
        Spi {
            table: self.procs.table(),
            info: self.info,
        }
    }
}

/// The providers a session started, in load order.
pub(crate) struct Providers {
    loaded: RwLock<Vec<Loaded>>,
}

impl Providers {
    /// None started yet.
    pub(crate) fn new() -> Providers {
        Providers {
            loaded: RwLock::new(Vec::new()),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Vec<Loaded>> {
        self.loaded.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads a provider's protocol entries, gives them catalog entry ids of their own and
    /// starts it with the first.
    pub(crate) fn install(
        &self,
        entry: EntryPoints,
        origin: String,
        path: Option<&Path>,
    ) -> Result<(), LoadError> {
        let key = entry.startup as usize;
        let mut entries = enumerate(&entry)?;
        {
            let mut reg = registry::lock();
            for info in &mut entries {
                info.dwCatalogEntryId = reg.new_catalog_id(key);
            }
        }
        self.start(entry, origin, path, entries, 0).map(|_| ())
    }

    /// Starts a provider for `entries` (their catalog ids already registered) as ws2_32 does:
    /// host hooks, `WSPStartup` with entry `first`, checks of the table; returns its index
    /// among the started providers.
    pub(crate) fn start(
        &self,
        entry: EntryPoints,
        origin: String,
        path: Option<&Path>,
        entries: Vec<WSAPROTOCOL_INFOW>,
        first: usize,
    ) -> Result<usize, LoadError> {
        let key = entry.startup as usize;
        let full = path.map(|p| match std::env::current_dir() {
            Ok(dir) if p.is_relative() => dir.join(p),
            _ => p.to_owned(),
        });
        if let Some(full) = &full {
            registry::lock().set_path(Guid::from_sys(&entries[first].ProviderId).0, full);
        }
        // As ws2_32 would if it knew the toolkit: the stand-in's WPUCompleteOverlappedRequest
        // and WSASetLastError, right after loading and before WSPStartup.
        let hooks = winsock_provider::HostHooks {
            size: core::mem::size_of::<winsock_provider::HostHooks>() as u32,
            complete_overlapped_request: Some(overlapped::complete_overlapped_request),
            set_last_error: Some(overlapped::set_last_error),
            wait_for_events: Some(crate::host::kernel::wait_for_events),
        };
        // SAFETY: a complete HostHooks that outlives the call; both hooks live for the process.
        let r = unsafe { (entry.set_host_hooks)(&hooks) };
        if r != 0 {
            return Err(LoadError::Convention(format!(
                "WspSetHostHooks refused complete hooks with {}",
                WsaError::from_code(r)
            )));
        }
        let mut data = WSPDATA::default();
        let mut table = WSPPROC_TABLE::default();
        // SAFETY: WSPStartup called as ws2_32 calls it: valid WSPDATA, protocol entry and
        // table to fill, and a complete upcall table.
        let r = unsafe {
            (entry.startup)(
                WINSOCK_VERSION_2_2,
                &mut data,
                &entries[first],
                upcalls::upcall_table(),
                &mut table,
            )
        };
        report_violations();
        if r != 0 {
            return Err(LoadError::Startup(WsaError::from_code(r)));
        }
        let name = format!("{} ({})", entry_name(&entries[first]), origin);
        let checked = Procs::checked(&table).map_err(|nulls| {
            format!(
                "{} left these dispatch entries null: {}",
                name,
                nulls.join(", ")
            )
        });
        let procs = match checked {
            Ok(_) if data.wVersion != WINSOCK_VERSION_2_2 => Err(format!(
                "{} negotiated version {:#06x}, not 2.2",
                name, data.wVersion
            )),
            other => other,
        };
        let procs = match procs {
            Ok(procs) => procs,
            Err(problem) => {
                // Balance the start-up as ws2_32 would before refusing the provider.
                if let Some(cleanup) = table.lpWSPCleanup {
                    let mut errno = 0;
                    // SAFETY: balances the WSPStartup that just succeeded.
                    unsafe { cleanup(&mut errno) };
                }
                return Err(LoadError::Convention(problem));
            }
        };
        registry::lock().started(key);
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        loaded.push(Loaded {
            key,
            name,
            procs,
            entries,
        });
        Ok(loaded.len() - 1)
    }

    /// The provider started at `index` (by [`Providers::start`]) for protocol entry `info`.
    pub(crate) fn at(&self, index: usize, info: WSAPROTOCOL_INFOW) -> Dispatch {
        Dispatch {
            procs: self.read()[index].procs,
            info,
        }
    }

    /// The provider serving catalog entry `catalog_id`, with that entry.
    pub(crate) fn serving(&self, catalog_id: u32) -> Option<Dispatch> {
        self.read().iter().find_map(|p| {
            p.entries
                .iter()
                .find(|i| i.dwCatalogEntryId == catalog_id)
                .map(|info| Dispatch {
                    procs: p.procs,
                    info: *info,
                })
        })
    }

    /// The entry `socket(af, ty, protocol)` takes among every started provider's entries, in
    /// load order.
    pub(crate) fn choose(&self, af: i32, ty: i32, protocol: i32) -> Result<Dispatch, WsaError> {
        let loaded = self.read();
        let all: Vec<(&Loaded, &WSAPROTOCOL_INFOW)> = loaded
            .iter()
            .flat_map(|p| p.entries.iter().map(move |i| (p, i)))
            .collect();
        let (p, info) = all[choose(all.iter().map(|(_, i)| *i), af, ty, protocol)?];
        Ok(Dispatch {
            procs: p.procs,
            info: *info,
        })
    }

    /// The entry a `WSAPROTOCOL_INFOW` from `WSPDuplicateSocket` names: by catalog entry id,
    /// else (another process's catalog may number entries differently) by provider GUID,
    /// family, type and protocol.
    pub(crate) fn named_by(&self, info: &WSAPROTOCOL_INFOW) -> Option<Dispatch> {
        let loaded = self.read();
        let all = || {
            loaded
                .iter()
                .flat_map(|p| p.entries.iter().map(move |i| (p.procs, *i)))
        };
        all()
            .find(|(_, i)| i.dwCatalogEntryId == info.dwCatalogEntryId)
            .or_else(|| {
                all().find(|(_, i)| {
                    Guid::from_sys(&i.ProviderId) == Guid::from_sys(&info.ProviderId)
                        && i.iAddressFamily == info.iAddressFamily
                        && i.iSocketType == info.iSocketType
                        && i.iProtocol == info.iProtocol
                })
            })
            .map(|(procs, info)| Dispatch { procs, info })
    }

    /// The catalog entry ids of every started provider.
    pub(crate) fn catalog_ids(&self) -> Vec<u32> {
        self.read()
            .iter()
            .flat_map(|p| p.entries.iter().map(|i| i.dwCatalogEntryId))
            .collect()
    }

    /// Calls `WSPCleanup` on every started provider, last started first, and forgets them.
    /// After a provider's last clean-up in this process, checks that it released every handle
    /// it created. Panics, naming the provider, on a failing clean-up or leaked handles.
    pub(crate) fn cleanup(&self) {
        let loaded = std::mem::take(&mut *self.loaded.write().unwrap_or_else(|e| e.into_inner()));
        let mut problems = Vec::new();
        for p in loaded.iter().rev() {
            let mut errno = ERRNO_SENTINEL;
            // SAFETY: balances this session's WSPStartup of the provider.
            let r = unsafe { (p.procs.cleanup)(&mut errno) };
            if r != 0 {
                problems.push(format!(
                    "WSPCleanup of {} returned {} with *lpErrno {} (a balanced clean-up must succeed)",
                    p.name, r, errno
                ));
            } else if errno != ERRNO_SENTINEL {
                problems.push(format!(
                    "WSPCleanup of {} succeeded but wrote {} to *lpErrno",
                    p.name, errno
                ));
            }
            let mut reg = registry::lock();
            if reg.cleaned(p.key) {
                let leaked = reg.sweep_provider(p.key);
                if !leaked.is_empty() {
                    let list: Vec<String> = leaked.iter().map(|h| format!("{:#x}", h)).collect();
                    problems.push(format!(
                        "{} leaked handles still open after its last WSPCleanup: {}",
                        p.name,
                        list.join(", ")
                    ));
                }
            }
            problems.extend(reg.take_violations());
        }
        if !problems.is_empty() && !std::thread::panicking() {
            panic!(
                "ws2-standin: clean-up broke the SPI contract:\n  {}",
                problems.join("\n  ")
            );
        }
    }
}
