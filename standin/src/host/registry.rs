//! ws2_32's handle bookkeeping: registered socket handles, catalog entry ids, balanced
//! start-ups, and the contract violations upcalls record.
//!
//! Process-wide, like ws2_32 itself: every provider loaded by any session in this process
//! shares one handle space.

use super::os;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use winsock_provider::sys::SOCKET;

/// What a registered handle is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// From `WPUCreateSocketHandle`, with its context value.
    NonIfs { context: usize },
    /// Registered through `WPUModifyIFSHandle`.
    Ifs,
    /// Taken by a test as some unrelated kernel object.
    Unrelated,
}

/// One registered handle.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) catalog_id: u32,
    pub(crate) kind: Kind,
    /// Distinguishes incarnations of a reused value.
    pub(crate) serial: u64,
    /// The session that handed the handle to its application as a socket (0: none, e.g. a
    /// layer's socket in the provider below).
    pub(crate) owner: u64,
}

pub(crate) struct Registry {
    handles: Option<HashMap<SOCKET, Entry>>,
    /// Catalog entry id → the provider (its `WSPStartup` address) it belongs to.
    catalog: Option<HashMap<u32, usize>>,
    /// Provider → how many `WSPStartup`s are not yet balanced by a `WSPCleanup`.
    starts: Option<HashMap<usize, u32>>,
    next_catalog_id: u32,
    next_serial: u64,
    violations: Vec<String>,
    alloc: os::HandleAllocator,
    /// Provider GUID → its library path (NUL-terminated UTF-16), for `WPUGetProviderPath`.
    paths: Option<HashMap<u128, Vec<u16>>>,
}

/// The first catalog entry id the stand-in assigns to a provider loaded by path or linked in:
/// clear of the ids a catalog holds (Windows numbers them from 1001), so both kinds of
/// provider can share a process.
const SELF_ASSIGNED_IDS: u32 = 100_001;

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    handles: None,
    catalog: None,
    starts: None,
    next_catalog_id: SELF_ASSIGNED_IDS,
    next_serial: 1,
    violations: Vec::new(),
    alloc: os::HandleAllocator::new(),
    paths: None,
});

/// The registry, even if a test thread panicked while holding it (its state stays coherent:
/// every update is a single map operation).
pub(crate) fn lock() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    pub(crate) fn handles(&mut self) -> &mut HashMap<SOCKET, Entry> {
        self.handles.get_or_insert_with(HashMap::new)
    }

    pub(crate) fn get(&self, s: SOCKET) -> Option<Entry> {
        self.handles.as_ref().and_then(|m| m.get(&s).copied())
    }

    pub(crate) fn insert(&mut self, s: SOCKET, catalog_id: u32, kind: Kind) -> Entry {
        let entry = Entry {
            catalog_id,
            kind,
            serial: self.next_serial,
            owner: 0,
        };
        self.next_serial += 1;
        self.handles().insert(s, entry);
        entry
    }

    /// Records that session `session` handed handle `s` to its application.
    pub(crate) fn hand_out(&mut self, s: SOCKET, session: u64) {
        if let Some(e) = self.handles().get_mut(&s) {
            e.owner = session;
        }
    }

    /// Allocates a new catalog entry id for provider `key`.
    pub(crate) fn new_catalog_id(&mut self, key: usize) -> u32 {
        let catalog = self.catalog.get_or_insert_with(HashMap::new);
        while catalog.contains_key(&self.next_catalog_id) {
            self.next_catalog_id += 1;
        }
        let id = self.next_catalog_id;
        self.next_catalog_id += 1;
        catalog.insert(id, key);
        id
    }

    /// Records that catalog entry `id` (numbered by a catalog) belongs to provider `key`;
    /// refuses an id that another provider already holds in this process.
    pub(crate) fn claim_catalog_id(&mut self, id: u32, key: usize) -> Result<(), usize> {
        let catalog = self.catalog.get_or_insert_with(HashMap::new);
        match catalog.get(&id) {
            Some(&other) if other != key => Err(other),
            _ => {
                catalog.insert(id, key);
                Ok(())
            }
        }
    }

    /// The provider a catalog entry id belongs to.
    pub(crate) fn provider_of(&self, catalog_id: u32) -> Option<usize> {
        self.catalog
            .as_ref()
            .and_then(|c| c.get(&catalog_id).copied())
    }

    /// Counts a successful `WSPStartup` of provider `key`.
    pub(crate) fn started(&mut self, key: usize) {
        *self
            .starts
            .get_or_insert_with(HashMap::new)
            .entry(key)
            .or_insert(0) += 1;
    }

    /// Counts a `WSPCleanup` of provider `key`; true if it was the last one.
    pub(crate) fn cleaned(&mut self, key: usize) -> bool {
        let starts = self.starts.get_or_insert_with(HashMap::new);
        let count = starts.entry(key).or_insert(0);
        *count = count.saturating_sub(1);
        *count == 0
    }

    /// After provider `key`'s last clean-up: every non-IFS handle it created must have been
    /// released; returns those that were not (reported once: their records are dropped, as
    /// ws2_32 drops them when it unloads the provider). IFS handles are the provider's own OS
    /// handles; their records are dropped too.
    pub(crate) fn sweep_provider(&mut self, key: usize) -> Vec<SOCKET> {
        let catalog = self.catalog.clone().unwrap_or_default();
        let mut leaked = Vec::new();
        let handles = self.handles();
        handles.retain(|s, e| {
            if catalog.get(&e.catalog_id) != Some(&key) {
                return true;
            }
            if matches!(e.kind, Kind::NonIfs { .. }) {
                leaked.push(*s);
            }
            false
        });
        leaked.sort_unstable();
        leaked
    }

    /// Records a contract violation seen inside an upcall.
    pub(crate) fn violation(&mut self, text: String) {
        self.violations.push(text);
    }

    /// Takes the recorded violations.
    pub(crate) fn take_violations(&mut self) -> Vec<String> {
        std::mem::take(&mut self.violations)
    }

    /// Takes a fresh handle value for an unrelated object.
    pub(crate) fn reserve_unrelated(&mut self) -> SOCKET {
        let h = self.alloc.allocate();
        self.insert(h, 0, Kind::Unrelated);
        h
    }

    /// Frees a value taken by [`Registry::reserve_unrelated`].
    pub(crate) fn release_unrelated(&mut self, h: SOCKET) {
        if let Some(e) = self.get(h) {
            if e.kind == Kind::Unrelated {
                self.handles().remove(&h);
                self.alloc.free(h);
            }
        }
    }

    /// A handle range for a new session (see `os::HandleAllocator`).
    pub(crate) fn open_range(&mut self) -> usize {
        self.alloc.open_range()
    }

    /// The session range handle value `h` belongs to (0: the shared range).
    pub(crate) fn range_of(&self, h: SOCKET) -> usize {
        self.alloc.range_of(h)
    }

    /// Gives back a closed session's range.
    pub(crate) fn close_range(&mut self, range: usize) {
        self.alloc.close_range(range)
    }

    /// A value from the handle allocator for a kernel object or window (not a socket).
    pub(crate) fn alloc_value(&mut self) -> usize {
        self.alloc.allocate()
    }

    /// Returns a value from [`Registry::alloc_value`].
    pub(crate) fn free_value(&mut self, h: usize) {
        self.alloc.free(h)
    }

    /// Records the library path of the provider with this GUID.
    pub(crate) fn set_path(&mut self, guid: u128, path: &std::path::Path) {
        let wide: Vec<u16> = path
            .to_string_lossy()
            .encode_utf16()
            .chain(Some(0))
            .collect();
        self.paths
            .get_or_insert_with(HashMap::new)
            .insert(guid, wide);
    }

    /// The library path (NUL-terminated UTF-16) of the provider with this GUID.
    pub(crate) fn path(&self, guid: u128) -> Option<Vec<u16>> {
        self.paths.as_ref().and_then(|p| p.get(&guid)).cloned()
    }

    /// Forgets an IFS handle after its provider closed it, unless the value has been
    /// registered again meanwhile; true if it did (the caller then drops the socket's
    /// completion-port association before releasing the registry).
    pub(crate) fn forget_ifs(&mut self, s: SOCKET, serial: u64) -> bool {
        let same = self.get(s).map_or(false, |e| e.serial == serial);
        if same {
            self.handles().remove(&s);
        }
        same
    }
}

/// Serialises the unit tests that record and take violations (the list is process-wide).
#[cfg(test)]
pub(crate) static VIOLATION_TESTS: Mutex<()> = Mutex::new(());
