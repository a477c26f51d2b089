//! The Winsock-shaped application API: a [`Ws2`] session and its calls, by family (socket
//! life and names, data transfer, options, overlapped I/O, extension functions, readiness and
//! network events, kernel objects and messages). Each call finds the provider that owns the
//! socket, calls its entry as ws2_32 does and checks the return convention.
//!
//! It calls down into the loader and the host side. A session made from a catalog reaches
//! the catalog through [`ProviderCatalog`], which the catalog module implements.

mod events;
pub mod ext;
mod extension;
mod options;
mod overlapped;
mod select;
mod sockets;
mod transfer;

pub use events::CompletionPort;
pub use overlapped::AddrBuf;
pub use select::FD_SETSIZE;

use crate::host::registry::{self, Kind};
use crate::host::{os, upcalls};
use crate::loader::{self, Dispatch, LoadError, Providers, Spi};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use winsock_provider::sys::*;
use winsock_provider::{EntryPoints, WsaError};

/// The providers of a session made from a catalog: chosen and loaded on first use.
pub(crate) trait ProviderCatalog: Send + Sync {
    /// [`Ws2::spi`]: the entry `socket(af, ty, protocol)` takes, its provider loaded into
    /// `ws` if this is its first use.
    fn dispatch(&self, ws: &Ws2, af: i32, ty: i32, protocol: i32) -> Result<Dispatch, WsaError>;

    /// Loads into `ws` the provider of the entry `info` names, so that
    /// [`Ws2::socket_from_info`] finds it; `WSAEINVAL` if the catalog has no such entry.
    fn load_for_info(&self, ws: &Ws2, info: &WSAPROTOCOL_INFOW) -> Result<(), WsaError>;

    /// The library path (environment strings expanded) of the entry `socket(af, ty,
    /// protocol)` would take.
    fn library_for(&self, af: i32, ty: i32, protocol: i32) -> Result<String, WsaError>;
}

pub(crate) struct Inner {
    /// The session's number in the process (from 1), by which the stand-in counts the
    /// sockets it handed out and the operations it started.
    pub(crate) id: u64,
    pub(crate) providers: Providers,
    cleaned: Mutex<bool>,
    /// The catalog `socket()` chooses from, for a session made from one.
    pub(crate) catalog: Option<Box<dyn ProviderCatalog>>,
    /// The range the session's non-IFS handle values come from (see `os::HandleAllocator`).
    pub(crate) range: usize,
    /// The catalog entries below the chains the session loaded: the providers the layers load
    /// themselves (see [`Ws2::handles_below`]).
    pub(crate) below: Mutex<Vec<u32>>,
}

/// One application's view of ws2_32: the providers it loaded and the Winsock calls it makes.
/// Cheap to clone and share between threads.
#[derive(Clone)]
pub struct Ws2 {
    pub(crate) inner: Arc<Inner>,
}

impl Default for Ws2 {
    fn default() -> Self {
        Ws2::new()
    }
}

impl Ws2 {
    /// A session with no provider loaded.
    pub fn new() -> Ws2 {
        Ws2::with_source(None)
    }

    /// A session whose `socket()` finds its providers in `catalog`.
    pub(crate) fn make(catalog: Option<impl ProviderCatalog + 'static>) -> Ws2 {
        Ws2::with_source(catalog.map(|c| Box::new(c) as Box<dyn ProviderCatalog>))
    }

    fn with_source(catalog: Option<Box<dyn ProviderCatalog>>) -> Ws2 {
        static SESSIONS: AtomicU64 = AtomicU64::new(1);
        Ws2 {
            inner: Arc::new(Inner {
                id: SESSIONS.fetch_add(1, Ordering::Relaxed),
                providers: Providers::new(),
                cleaned: Mutex::new(false),
                catalog,
                range: registry::lock().open_range(),
                below: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Loads a provider linked into this binary:
    /// `ws.load(winsock_provider::entry_points::<MyProvider>())`.
    pub fn load(&self, entry: EntryPoints) -> Result<(), LoadError> {
        self.inner
            .providers
            .install(entry, "linked provider".to_owned(), None)
    }

    /// Loads a built provider library (a `.dll`, `.so` or `.dylib`) by path, resolving
    /// `WSPStartup`, `WspEnumProviderProtocols` and `WspSetHostHooks` by name, as ws2_32
    /// resolves `WSPStartup`.
    pub fn load_library(&self, path: impl AsRef<Path>) -> Result<(), LoadError> {
        let path = path.as_ref();
        self.inner.providers.install(
            loader::entry_points_of(path)?,
            path.display().to_string(),
            Some(path),
        )
    }

    /// Starts a provider for `entries` (their catalog ids already registered) with entry
    /// `first`; returns its index among the session's providers.
    pub(crate) fn start(
        &self,
        entry: EntryPoints,
        origin: String,
        path: Option<&Path>,
        entries: Vec<WSAPROTOCOL_INFOW>,
        first: usize,
    ) -> Result<usize, LoadError> {
        self.inner
            .providers
            .start(entry, origin, path, entries, first)
    }

    /// `WSANOTINITIALISED` after the session's clean-up; otherwise makes the handles this
    /// thread's next calls create come from the session's range.
    pub(crate) fn not_cleaned(&self) -> Result<(), WsaError> {
        os::use_range(self.inner.range);
        if *self.inner.cleaned.lock().unwrap_or_else(|e| e.into_inner()) {
            Err(WsaError::NOTINITIALISED)
        } else {
            Ok(())
        }
    }

    /// The dispatch table and entry of the provider that owns `s`; unknown handles are
    /// `WSAENOTSOCK`, as ws2_32 answers them without reaching any provider.
    pub fn spi_for(&self, s: SOCKET) -> Result<Spi, WsaError> {
        self.route(s).map(|(d, _)| d.spi())
    }

    /// The provider that owns `s` and the handle's registration.
    pub(crate) fn route(&self, s: SOCKET) -> Result<(Dispatch, registry::Entry), WsaError> {
        self.not_cleaned()?;
        let entry = registry::lock().get(s).ok_or(WsaError::NOTSOCK)?;
        if entry.kind == Kind::Unrelated {
            return Err(WsaError::NOTSOCK);
        }
        let d = self
            .inner
            .providers
            .serving(entry.catalog_id)
            .ok_or(WsaError::NOTSOCK)?;
        Ok((d, entry))
    }

    /// The provider entry `socket(af, ty, protocol)` would use, chosen as ws2_32 chooses:
    /// the first visible entry (in catalog order, or load order for providers loaded by path)
    /// of that family and type whose protocol matches, protocol 0 matching an entry flagged
    /// `PFL_MATCHES_PROTOCOL_ZERO` (else the first of that family and type). A session made
    /// from a catalog loads the entry's provider now if this is its first socket.
    pub fn spi(&self, af: i32, ty: i32, protocol: i32) -> Result<Spi, WsaError> {
        self.dispatch(af, ty, protocol).map(|d| d.spi())
    }

    /// [`Ws2::spi`], with the entries as plain function pointers.
    fn dispatch(&self, af: i32, ty: i32, protocol: i32) -> Result<Dispatch, WsaError> {
        self.not_cleaned()?;
        match &self.inner.catalog {
            Some(catalog) => catalog.dispatch(self, af, ty, protocol),
            None => self.inner.providers.choose(af, ty, protocol),
        }
    }

    /// The catalog entry ids of the providers this session loaded.
    pub(crate) fn catalog_ids(&self) -> Vec<u32> {
        self.inner.providers.catalog_ids()
    }

    /// Takes a handle value from the allocator ws2_32 uses, as an unrelated kernel object
    /// would: a test can then check that a provider refuses a value it no longer owns.
    pub fn reserve_unrelated_handle(&self) -> SOCKET {
        registry::lock().reserve_unrelated()
    }

    /// Frees a value taken by [`Ws2::reserve_unrelated_handle`].
    pub fn release_unrelated_handle(&self, h: SOCKET) {
        registry::lock().release_unrelated(h)
    }

    /// Handles currently registered to the catalog entries of the providers this session
    /// loaded: the application's sockets, and the handles a non-IFS layer below the loaded one
    /// registered under the same chain entry for its own sockets (two stacked non-IFS layers
    /// hold two handles per socket). See [`Ws2::live_sockets`] for the application's sockets
    /// alone.
    pub fn live_handles(&self) -> usize {
        let ids = self.catalog_ids();
        let mut reg = registry::lock();
        reg.handles()
            .values()
            .filter(|e| ids.contains(&e.catalog_id))
            .count()
    }

    /// The sockets this session handed to the application (from `socket`, `accept`,
    /// `socket_from_info`) that are still registered: one per socket the application holds,
    /// whatever the providers below hold for it. Counted from the session's start, before any
    /// provider is loaded.
    pub fn live_sockets(&self) -> usize {
        let id = self.inner.id;
        let mut reg = registry::lock();
        reg.handles().values().filter(|e| e.owner == id).count()
    }

    /// Non-IFS handles registered to the catalog entries below the chains this session loaded
    /// (in a session made from a catalog): the handles of the providers the layers load
    /// themselves, which the stand-in never starts and so never sweeps at a clean-up. Once
    /// the session's last clean-up is done, and no other session uses those providers, a
    /// provider that released everything leaves 0. (IFS handles are left out: a layer closes
    /// the sockets below itself, so ws2_32 never learns that their values are gone.)
    pub fn handles_below(&self) -> usize {
        let ids = self
            .inner
            .below
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut reg = registry::lock();
        reg.handles()
            .values()
            .filter(|e| ids.contains(&e.catalog_id) && matches!(e.kind, Kind::NonIfs { .. }))
            .count()
    }

    /// `WPUQuerySocketHandleContext(s)` as ws2_32 answers it (non-IFS handles only).
    pub fn query_context(&self, s: SOCKET) -> Result<usize, WsaError> {
        upcalls::query_context(s)
    }

    /// Calls `WSPCleanup` on every loaded provider, balancing `load`. After a provider's last
    /// clean-up in this process, checks that it released every handle it created. Panics,
    /// naming the provider, on a failing clean-up or leaked handles. Dropping the last clone
    /// of a `Ws2` without calling this does the same.
    pub fn cleanup(self) {
        self.inner.cleanup();
    }
}

impl Inner {
    fn cleanup(&self) {
        {
            let mut cleaned = self.cleaned.lock().unwrap_or_else(|e| e.into_inner());
            if *cleaned {
                return;
            }
            *cleaned = true;
        }
        self.providers.cleanup();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cleanup();
        registry::lock().close_range(self.range);
    }
}
