//! A ws2_32 stand-in that runs anywhere: it loads a Winsock 2 service provider, plays
//! ws2_32's side of the SPI and offers a Winsock-shaped API, so that a provider's `cargo test`
//! reads like application code.
//!
//! ```ignore
//! use ws2_standin::{sys::*, SockAddr, Ws2};
//!
//! let ws = Ws2::new();
//! ws.load(winsock_provider::entry_points::<my_provider::MyProvider>())?;  // or load_library(path)
//! let s = ws.socket(AF_INET as i32, SOCK_STREAM, IPPROTO_TCP)?;
//! ws.bind(s, &SockAddr::Inet("127.0.0.1:0".parse().unwrap()))?;
//! ws.closesocket(s)?;
//! ws.cleanup();
//! ```
//!
//! Beyond blocking calls it plays ws2_32's part in overlapped I/O and notification (events,
//! APCs, window messages, completion ports, `WPUCompleteOverlappedRequest`, extension
//! functions, `select`; see [`Ws2::wsa_recv`], [`Ws2::create_io_completion_port`],
//! [`Ws2::wsa_event_select`]): real kernel objects on Windows, an emulation with the same
//! semantics elsewhere.
//!
//! What it does as ws2_32 does: calls `WSPStartup(2.2)` with a real upcall table, hands out
//! non-IFS handles that are multiples of 4 and reuses a closed value at once, registers IFS
//! handles from `WPUModifyIFSHandle`, keeps socket-handle contexts, routes every call to the
//! provider that owns the handle, and refuses unknown handles with `WSAENOTSOCK` itself.
//!
//! What it checks on every call, failing the test (a panic naming the call) when a provider
//! breaks a rule: `SOCKET_ERROR` with `*lpErrno` unset, 0 or not a WSA code; success that wrote
//! `*lpErrno`; a returned handle ws2_32 never issued; a handle not released by
//! `WPUCloseSocketHandle` on close, or released twice; a null dispatch-table entry; a
//! `WSPCleanup` that fails or leaves handles behind after the provider's last clean-up.

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod build;
mod catalog;
mod kernel;
mod messages;
mod os;
mod overlapped;
mod registry;
pub mod scenarios;
mod session;
mod wsa;

pub use build::build_library;
pub use catalog::CatalogEntry;
pub use kernel::{
    Completion, ERROR_ABANDONED_WAIT_0, WSA_INFINITE, WSA_MAXIMUM_WAIT_EVENTS, WSA_WAIT_EVENT_0,
    WSA_WAIT_IO_COMPLETION, WSA_WAIT_TIMEOUT,
};
pub use messages::{Message, Window};
pub use overlapped::WSS_OPERATION_IN_PROGRESS;
pub use session::Session;
pub use wsa::{ext, AddrBuf, CompletionPort, FD_SETSIZE};

use registry::Kind;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
pub use winsock_catalog;
use winsock_provider::sys::*;
pub use winsock_provider::{sys, EntryPoints, Guid, SockAddr, WsaError};

/// The value `*lpErrno` holds before each call, to tell "left alone" from "written".
const ERRNO_SENTINEL: i32 = 0x5EED_0BAD;

/// Room for any socket address (`SOCKADDR_STORAGE`).
const ADDR_ROOM: usize = 128;

/// Why a provider could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The library could not be loaded.
    Library(String),
    /// The library lacks a required export.
    MissingExport(&'static str),
    /// `WspEnumProviderProtocols` failed or returned nothing.
    Protocols(String),
    /// `WSPStartup` returned this error code.
    Startup(WsaError),
    /// `WSPStartup` succeeded but broke the SPI's rules.
    Convention(String),
    /// The catalog could not be read, or names entries this process cannot use.
    Catalog(String),
    /// `DllRegisterServer` or `DllUnregisterServer` failed.
    Register(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Library(e) => write!(f, "cannot load provider library: {}", e),
            LoadError::MissingExport(name) => {
                write!(f, "provider library does not export `{}`", name)
            }
            LoadError::Protocols(e) => {
                write!(f, "cannot read the provider's protocol entries: {}", e)
            }
            LoadError::Startup(e) => write!(f, "WSPStartup failed: {}", e),
            LoadError::Convention(e) => write!(f, "WSPStartup broke the SPI contract: {}", e),
            LoadError::Catalog(e) => write!(f, "catalog: {}", e),
            LoadError::Register(e) => write!(f, "self-registration failed: {}", e),
        }
    }
}

impl std::error::Error for LoadError {}

/// A provider's dispatch table and one of its protocol entries, for raw SPI calls in tests.
#[derive(Copy, Clone)]
pub struct Spi {
    /// The provider's `WSPPROC_TABLE` as `WSPStartup` filled it.
    pub table: WSPPROC_TABLE,
    /// The protocol entry (with its catalog entry id).
    pub info: WSAPROTOCOL_INFOW,
}

struct Loaded {
    key: usize,
    name: String,
    table: WSPPROC_TABLE,
    entries: Vec<WSAPROTOCOL_INFOW>,
}

struct Inner {
    providers: RwLock<Vec<Loaded>>,
    cleaned: Mutex<bool>,
    /// The catalog `socket()` chooses from, for a session made from one.
    catalog: Option<catalog::Catalog>,
    /// The range the session's non-IFS handle values come from (see `os::HandleAllocator`).
    range: usize,
}

/// One application's view of ws2_32: the providers it loaded and the Winsock calls it makes.
/// Cheap to clone and share between threads.
#[derive(Clone)]
pub struct Ws2 {
    inner: Arc<Inner>,
}

impl Default for Ws2 {
    fn default() -> Self {
        Ws2::new()
    }
}

/// The index of the entry `socket(af, ty, protocol)` takes among `entries` (in order), with
/// the errors ws2_32 gives when none fits.
fn choose<'a>(
    entries: impl Iterator<Item = &'a WSAPROTOCOL_INFOW> + Clone,
    af: i32,
    ty: i32,
    protocol: i32,
) -> Result<usize, WsaError> {
    let family = entries
        .clone()
        .enumerate()
        .filter(|(_, i)| i.iAddressFamily == af);
    if family.clone().next().is_none() {
        return Err(WsaError::AFNOSUPPORT);
    }
    let typed = family.filter(|(_, i)| i.iSocketType == ty);
    let first = typed.clone().next().ok_or(WsaError::SOCKTNOSUPPORT)?.0;
    let covers = |i: &WSAPROTOCOL_INFOW| {
        protocol >= i.iProtocol && protocol <= i.iProtocol.saturating_add(i.iProtocolMaxOffset)
    };
    if let Some((n, _)) = typed.clone().find(|(_, i)| covers(i)) {
        return Ok(n);
    }
    if protocol != 0 {
        return Err(WsaError::PROTONOSUPPORT);
    }
    Ok(typed
        .clone()
        .find(|(_, i)| i.dwProviderFlags & PFL_MATCHES_PROTOCOL_ZERO != 0)
        .map_or(first, |(n, _)| n))
}

/// Panics with every contract violation the upcalls recorded since the last check.
fn report_violations() {
    let found = registry::lock().take_violations();
    if !found.is_empty() && !std::thread::panicking() {
        panic!(
            "ws2-standin: provider broke the SPI contract:\n  {}",
            found.join("\n  ")
        );
    }
}

/// Runs one raw SPI call returning `int` with `*lpErrno` preset, checking the return
/// convention: `Ok(return value)` or `Err(code)`. Panics, naming `name`, if the provider
/// returned `SOCKET_ERROR` without a WSA code in `*lpErrno`, wrote `*lpErrno` on success, or
/// returned something other than 0 / `SOCKET_ERROR` (except `WSPSelect`, which counts).
pub fn check_int(name: &str, call: impl FnOnce(*mut i32) -> i32) -> Result<i32, WsaError> {
    let mut errno = ERRNO_SENTINEL;
    let ret = call(&mut errno);
    report_violations();
    if ret == SOCKET_ERROR {
        return Err(failure_code(name, "SOCKET_ERROR", errno));
    }
    if errno != ERRNO_SENTINEL {
        panic!(
            "ws2-standin: {} succeeded (returned {}) but wrote {} to *lpErrno",
            name, ret, errno
        );
    }
    if ret != 0 && name != "WSPSelect" {
        panic!(
            "ws2-standin: {} returned {}; the SPI allows only 0 or SOCKET_ERROR",
            name, ret
        );
    }
    Ok(ret)
}

/// Like [`check_int`] for `SOCKET`-returning calls (`WSPSocket`, `WSPAccept`, `WSPJoinLeaf`).
pub fn check_socket(name: &str, call: impl FnOnce(*mut i32) -> SOCKET) -> Result<SOCKET, WsaError> {
    let mut errno = ERRNO_SENTINEL;
    let ret = call(&mut errno);
    report_violations();
    if ret == INVALID_SOCKET {
        return Err(failure_code(name, "INVALID_SOCKET", errno));
    }
    if errno != ERRNO_SENTINEL {
        panic!(
            "ws2-standin: {} succeeded (returned {:#x}) but wrote {} to *lpErrno",
            name, ret, errno
        );
    }
    Ok(ret)
}

/// Like [`check_int`] for `BOOL`-returning calls (`WSPGetOverlappedResult`,
/// `WSPGetQOSByName`): `TRUE` is success, `FALSE` failure with a WSA code in `*lpErrno`.
pub fn check_bool(name: &str, call: impl FnOnce(*mut i32) -> BOOL) -> Result<(), WsaError> {
    let mut errno = ERRNO_SENTINEL;
    let ret = call(&mut errno);
    report_violations();
    if ret == 0 {
        return Err(failure_code(name, "FALSE", errno));
    }
    if errno != ERRNO_SENTINEL {
        panic!(
            "ws2-standin: {} succeeded but wrote {} to *lpErrno",
            name, errno
        );
    }
    Ok(())
}

fn failure_code(name: &str, what: &str, errno: i32) -> WsaError {
    let code = WsaError::from_code(errno);
    if errno == ERRNO_SENTINEL {
        panic!(
            "ws2-standin: {} returned {} but did not set *lpErrno",
            name, what
        );
    }
    if !code.is_valid_failure() {
        panic!(
            "ws2-standin: {} returned {} with *lpErrno = {}, which is not a WSA error code",
            name, what, errno
        );
    }
    code
}

/// The table entries, by name, for the null-entry check.
fn null_entries(t: &WSPPROC_TABLE) -> Vec<&'static str> {
    let entries: [(&'static str, bool); 30] = [
        ("lpWSPAccept", t.lpWSPAccept.is_none()),
        ("lpWSPAddressToString", t.lpWSPAddressToString.is_none()),
        ("lpWSPAsyncSelect", t.lpWSPAsyncSelect.is_none()),
        ("lpWSPBind", t.lpWSPBind.is_none()),
        (
            "lpWSPCancelBlockingCall",
            t.lpWSPCancelBlockingCall.is_none(),
        ),
        ("lpWSPCleanup", t.lpWSPCleanup.is_none()),
        ("lpWSPCloseSocket", t.lpWSPCloseSocket.is_none()),
        ("lpWSPConnect", t.lpWSPConnect.is_none()),
        ("lpWSPDuplicateSocket", t.lpWSPDuplicateSocket.is_none()),
        ("lpWSPEnumNetworkEvents", t.lpWSPEnumNetworkEvents.is_none()),
        ("lpWSPEventSelect", t.lpWSPEventSelect.is_none()),
        (
            "lpWSPGetOverlappedResult",
            t.lpWSPGetOverlappedResult.is_none(),
        ),
        ("lpWSPGetPeerName", t.lpWSPGetPeerName.is_none()),
        ("lpWSPGetSockName", t.lpWSPGetSockName.is_none()),
        ("lpWSPGetSockOpt", t.lpWSPGetSockOpt.is_none()),
        ("lpWSPGetQOSByName", t.lpWSPGetQOSByName.is_none()),
        ("lpWSPIoctl", t.lpWSPIoctl.is_none()),
        ("lpWSPJoinLeaf", t.lpWSPJoinLeaf.is_none()),
        ("lpWSPListen", t.lpWSPListen.is_none()),
        ("lpWSPRecv", t.lpWSPRecv.is_none()),
        ("lpWSPRecvDisconnect", t.lpWSPRecvDisconnect.is_none()),
        ("lpWSPRecvFrom", t.lpWSPRecvFrom.is_none()),
        ("lpWSPSelect", t.lpWSPSelect.is_none()),
        ("lpWSPSend", t.lpWSPSend.is_none()),
        ("lpWSPSendDisconnect", t.lpWSPSendDisconnect.is_none()),
        ("lpWSPSendTo", t.lpWSPSendTo.is_none()),
        ("lpWSPSetSockOpt", t.lpWSPSetSockOpt.is_none()),
        ("lpWSPShutdown", t.lpWSPShutdown.is_none()),
        ("lpWSPSocket", t.lpWSPSocket.is_none()),
        ("lpWSPStringToAddress", t.lpWSPStringToAddress.is_none()),
    ];
    entries
        .iter()
        .filter(|(_, null)| *null)
        .map(|(name, _)| *name)
        .collect()
}

/// The name of a protocol entry (`szProtocol`).
fn entry_name(info: &WSAPROTOCOL_INFOW) -> String {
    let len = info
        .szProtocol
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(info.szProtocol.len());
    String::from_utf16_lossy(&info.szProtocol[..len])
}

/// Reads a provider's protocol entries through `WspEnumProviderProtocols`.
fn enumerate(entry: &EntryPoints) -> Result<Vec<WSAPROTOCOL_INFOW>, LoadError> {
    let size = core::mem::size_of::<WSAPROTOCOL_INFOW>();
    let mut len = 0u32;
    let mut errno = 0;
    let mut guid = GUID::from_u128(0);
    // SAFETY: a null buffer with length 0 asks for the required length (documented contract).
    let r =
        unsafe { (entry.enum_protocols)(&mut guid, core::ptr::null_mut(), &mut len, &mut errno) };
    if r != SOCKET_ERROR || errno != WsaError::NOBUFS.code() || len == 0 || len as usize % size != 0
    {
        return Err(LoadError::Protocols(format!(
            "sizing call returned {} with error {} and length {}",
            r, errno, len
        )));
    }
    let mut entries = vec![WSAPROTOCOL_INFOW::default(); len as usize / size];
    // SAFETY: the buffer holds `len` bytes, as the provider asked for.
    let n =
        unsafe { (entry.enum_protocols)(&mut guid, entries.as_mut_ptr(), &mut len, &mut errno) };
    if n <= 0 || n as usize != entries.len() {
        return Err(LoadError::Protocols(format!(
            "returned {} for {} entries",
            n,
            entries.len()
        )));
    }
    Ok(entries)
}

/// Loads a provider library by path (it stays loaded for the life of the process, as a
/// provider's threads may outlive its clean-up) and resolves its three exports by name.
pub fn entry_points_of(path: impl AsRef<Path>) -> Result<EntryPoints, LoadError> {
    let library = os::Library::open(path.as_ref()).map_err(LoadError::Library)?;
    let startup = library
        .symbol(winsock_provider::STARTUP_EXPORT)
        .ok_or(LoadError::MissingExport(winsock_provider::STARTUP_EXPORT))?;
    let enumerate = library
        .symbol(winsock_provider::ENUM_PROTOCOLS_EXPORT)
        .ok_or(LoadError::MissingExport(
            winsock_provider::ENUM_PROTOCOLS_EXPORT,
        ))?;
    let hooks = library
        .symbol(winsock_provider::SET_HOST_HOOKS_EXPORT)
        .ok_or(LoadError::MissingExport(
            winsock_provider::SET_HOST_HOOKS_EXPORT,
        ))?;
    // SAFETY: the exports have these signatures by the SPI's and the toolkit's contract, and
    // the library is never unloaded.
    unsafe {
        Ok(EntryPoints {
            set_host_hooks: core::mem::transmute::<
                *const core::ffi::c_void,
                winsock_provider::SetHostHooksFn,
            >(hooks),
            startup: core::mem::transmute::<*const core::ffi::c_void, winsock_provider::StartupFn>(
                startup,
            ),
            enum_protocols: core::mem::transmute::<
                *const core::ffi::c_void,
                winsock_provider::EnumProtocolsFn,
            >(enumerate),
        })
    }
}

/// What `regsvr32 library` does: loads the provider library and calls its
/// `DllRegisterServer`, or with `install == false` its `DllUnregisterServer` (`regsvr32 /u`).
/// A provider made with the toolkit installs or removes its own protocol entries in the
/// system's catalog (on Linux, the file named by `WSP_CATALOG`). A failure carries the
/// `HRESULT` the export returned.
pub fn regsvr32(path: impl AsRef<Path>, install: bool) -> Result<(), LoadError> {
    let library = os::Library::open(path.as_ref()).map_err(LoadError::Library)?;
    let name = if install {
        winsock_provider::REGISTER_EXPORT
    } else {
        winsock_provider::UNREGISTER_EXPORT
    };
    let export = library.symbol(name).ok_or(LoadError::MissingExport(name))?;
    // SAFETY: the export has this signature (the COM self-registration convention), and the
    // library is never unloaded.
    let hresult = unsafe {
        let f =
            core::mem::transmute::<*const core::ffi::c_void, winsock_provider::RegisterFn>(export);
        f()
    };
    if hresult != 0 {
        return Err(LoadError::Register(format!(
            "{} returned HRESULT {:#010x}",
            name, hresult as u32
        )));
    }
    Ok(())
}

impl Ws2 {
    /// A session with no provider loaded.
    pub fn new() -> Ws2 {
        Ws2::make(None)
    }

    fn make(catalog: Option<catalog::Catalog>) -> Ws2 {
        Ws2 {
            inner: Arc::new(Inner {
                providers: RwLock::new(Vec::new()),
                cleaned: Mutex::new(false),
                catalog,
                range: registry::lock().open_range(),
            }),
        }
    }

    /// Loads a provider linked into this binary:
    /// `ws.load(winsock_provider::entry_points::<MyProvider>())`.
    pub fn load(&self, entry: EntryPoints) -> Result<(), LoadError> {
        self.install(entry, "linked provider".to_owned(), None)
    }

    /// Loads a built provider library (a `.dll`, `.so` or `.dylib`) by path, resolving
    /// `WSPStartup`, `WspEnumProviderProtocols` and `WspSetHostHooks` by name, as ws2_32
    /// resolves `WSPStartup`.
    pub fn load_library(&self, path: impl AsRef<Path>) -> Result<(), LoadError> {
        let path = path.as_ref();
        self.install(
            entry_points_of(path)?,
            path.display().to_string(),
            Some(path),
        )
    }

    fn install(
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
    /// host hooks, `WSPStartup` with entry `first`, checks of the table; returns its index in
    /// `providers`.
    fn start(
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
            wait_for_events: Some(catalog::wait_for_events),
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
                registry::upcall_table(),
                &mut table,
            )
        };
        report_violations();
        if r != 0 {
            return Err(LoadError::Startup(WsaError::from_code(r)));
        }
        let name = format!("{} ({})", entry_name(&entries[first]), origin);
        let nulls = null_entries(&table);
        let broken = if !nulls.is_empty() {
            Some(format!(
                "{} left these dispatch entries null: {}",
                name,
                nulls.join(", ")
            ))
        } else if data.wVersion != WINSOCK_VERSION_2_2 {
            Some(format!(
                "{} negotiated version {:#06x}, not 2.2",
                name, data.wVersion
            ))
        } else {
            None
        };
        if let Some(problem) = broken {
            // Balance the start-up as ws2_32 would before refusing the provider.
            if let Some(cleanup) = table.lpWSPCleanup {
                let mut errno = 0;
                // SAFETY: balances the WSPStartup that just succeeded.
                unsafe { cleanup(&mut errno) };
            }
            return Err(LoadError::Convention(problem));
        }
        registry::lock().started(key);
        let mut providers = self
            .inner
            .providers
            .write()
            .unwrap_or_else(|e| e.into_inner());
        providers.push(Loaded {
            key,
            name,
            table,
            entries,
        });
        Ok(providers.len() - 1)
    }

    /// `WSANOTINITIALISED` after the session's clean-up; otherwise makes the handles this
    /// thread's next calls create come from the session's range.
    fn not_cleaned(&self) -> Result<(), WsaError> {
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
        self.route(s).map(|(spi, _)| spi)
    }

    fn route(&self, s: SOCKET) -> Result<(Spi, registry::Entry), WsaError> {
        self.not_cleaned()?;
        let entry = registry::lock().get(s).ok_or(WsaError::NOTSOCK)?;
        if entry.kind == Kind::Unrelated {
            return Err(WsaError::NOTSOCK);
        }
        let providers = self
            .inner
            .providers
            .read()
            .unwrap_or_else(|e| e.into_inner());
        providers
            .iter()
            .find_map(|p| {
                p.entries
                    .iter()
                    .find(|i| i.dwCatalogEntryId == entry.catalog_id)
                    .map(|info| {
                        (
                            Spi {
                                table: p.table,
                                info: *info,
                            },
                            entry,
                        )
                    })
            })
            .ok_or(WsaError::NOTSOCK)
    }

    /// The provider entry `socket(af, ty, protocol)` would use, chosen as ws2_32 chooses:
    /// the first visible entry (in catalog order, or load order for providers loaded by path)
    /// of that family and type whose protocol matches, protocol 0 matching an entry flagged
    /// `PFL_MATCHES_PROTOCOL_ZERO` (else the first of that family and type). A session made
    /// from a catalog loads the entry's provider now if this is its first socket.
    pub fn spi(&self, af: i32, ty: i32, protocol: i32) -> Result<Spi, WsaError> {
        self.not_cleaned()?;
        if let Some(catalog) = &self.inner.catalog {
            return catalog::spi(self, catalog, af, ty, protocol);
        }
        let providers = self
            .inner
            .providers
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let all: Vec<_> = providers
            .iter()
            .flat_map(|p| p.entries.iter().map(move |i| (p, i)))
            .collect();
        let (p, info) = all[choose(all.iter().map(|(_, i)| *i), af, ty, protocol)?];
        Ok(Spi {
            table: p.table,
            info: *info,
        })
    }

    /// Panics unless `s`, just returned by `call`, is a handle ws2_32 issued to that entry.
    fn check_issued(call: &str, s: SOCKET, info: &WSAPROTOCOL_INFOW) {
        match registry::lock().get(s) {
            Some(e) if e.catalog_id == info.dwCatalogEntryId && e.kind != Kind::Unrelated => {}
            other => panic!(
                "ws2-standin: {} returned handle {:#x}, which ws2_32 never issued to catalog entry {} \
                 (registered as {:?}); handles must come from WPUCreateSocketHandle or WPUModifyIFSHandle",
                call, s, info.dwCatalogEntryId, other
            ),
        }
    }

    /// `socket(af, type, protocol)`.
    pub fn socket(&self, af: i32, ty: i32, protocol: i32) -> Result<SOCKET, WsaError> {
        let spi = self.spi(af, ty, protocol)?;
        let f = spi.table.lpWSPSocket.expect("checked non-null at load");
        let s = check_socket("WSPSocket", |errno| {
            // SAFETY: WSPSocket called as ws2_32 calls it, with the chosen catalog entry.
            unsafe { f(af, ty, protocol, &spi.info, 0, WSA_FLAG_OVERLAPPED, errno) }
        })?;
        Self::check_issued("WSPSocket", s, &spi.info);
        Ok(s)
    }

    /// `bind(s, addr)`.
    pub fn bind(&self, s: SOCKET, addr: &SockAddr) -> Result<(), WsaError> {
        let (spi, _) = self.route(s)?;
        let bytes = addr.to_bytes();
        let f = spi.table.lpWSPBind.expect("checked non-null at load");
        // SAFETY: `bytes` is a whole socket address of the given length.
        check_int("WSPBind", |errno| unsafe {
            f(s, bytes.as_ptr().cast(), bytes.len() as i32, errno)
        })
        .map(drop)
    }

    /// `listen(s, backlog)`.
    pub fn listen(&self, s: SOCKET, backlog: i32) -> Result<(), WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPListen.expect("checked non-null at load");
        // SAFETY: plain arguments.
        check_int("WSPListen", |errno| unsafe { f(s, backlog, errno) }).map(drop)
    }

    /// `accept(s)`: the new socket and the peer's address.
    pub fn accept(&self, s: SOCKET) -> Result<(SOCKET, SockAddr), WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPAccept.expect("checked non-null at load");
        let mut addr = [0u8; ADDR_ROOM];
        let mut len = ADDR_ROOM as i32;
        // SAFETY: a writable address buffer of `len` bytes; no condition function.
        let new = check_socket("WSPAccept", |errno| unsafe {
            f(s, addr.as_mut_ptr().cast(), &mut len, None, 0, errno)
        })?;
        Self::check_issued("WSPAccept", new, &spi.info);
        let peer = parse_returned("WSPAccept", &addr, len);
        Ok((new, peer))
    }

    /// `connect(s, addr)`.
    pub fn connect(&self, s: SOCKET, addr: &SockAddr) -> Result<(), WsaError> {
        let (spi, _) = self.route(s)?;
        let bytes = addr.to_bytes();
        let f = spi.table.lpWSPConnect.expect("checked non-null at load");
        // SAFETY: a whole socket address; no connect data or QOS.
        check_int("WSPConnect", |errno| unsafe {
            f(
                s,
                bytes.as_ptr().cast(),
                bytes.len() as i32,
                core::ptr::null(),
                core::ptr::null_mut(),
                core::ptr::null(),
                core::ptr::null(),
                errno,
            )
        })
        .map(drop)
    }

    /// `send(s, buf, flags)`: bytes sent.
    pub fn send(&self, s: SOCKET, buf: &[u8], flags: i32) -> Result<usize, WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPSend.expect("checked non-null at load");
        let wsabuf = WSABUF {
            len: buf.len() as u32,
            buf: buf.as_ptr() as *mut u8,
        };
        let mut sent = 0u32;
        // SAFETY: one WSABUF over `buf`, which the provider only reads; no overlapped I/O.
        check_int("WSPSend", |errno| unsafe {
            f(
                s,
                &wsabuf,
                1,
                &mut sent,
                flags as u32,
                core::ptr::null_mut(),
                None,
                core::ptr::null(),
                errno,
            )
        })?;
        check_count("WSPSend", sent, buf.len());
        Ok(sent as usize)
    }

    /// `recv(s, buf, flags)`: bytes received (0 when the peer closed gracefully).
    pub fn recv(&self, s: SOCKET, buf: &mut [u8], flags: i32) -> Result<usize, WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPRecv.expect("checked non-null at load");
        let wsabuf = WSABUF {
            len: buf.len() as u32,
            buf: buf.as_mut_ptr(),
        };
        let mut got = 0u32;
        let mut flags = flags as u32;
        // SAFETY: one WSABUF over `buf`, writable; no overlapped I/O.
        check_int("WSPRecv", |errno| unsafe {
            f(
                s,
                &wsabuf,
                1,
                &mut got,
                &mut flags,
                core::ptr::null_mut(),
                None,
                core::ptr::null(),
                errno,
            )
        })?;
        check_count("WSPRecv", got, buf.len());
        Ok(got as usize)
    }

    /// `sendto(s, buf, flags, to)`: bytes sent.
    pub fn sendto(
        &self,
        s: SOCKET,
        buf: &[u8],
        flags: i32,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPSendTo.expect("checked non-null at load");
        let wsabuf = WSABUF {
            len: buf.len() as u32,
            buf: buf.as_ptr() as *mut u8,
        };
        let to = to.to_bytes();
        let mut sent = 0u32;
        // SAFETY: one WSABUF over `buf` (read only) and a whole socket address.
        check_int("WSPSendTo", |errno| unsafe {
            f(
                s,
                &wsabuf,
                1,
                &mut sent,
                flags as u32,
                to.as_ptr().cast(),
                to.len() as i32,
                core::ptr::null_mut(),
                None,
                core::ptr::null(),
                errno,
            )
        })?;
        check_count("WSPSendTo", sent, buf.len());
        Ok(sent as usize)
    }

    /// `recvfrom(s, buf, flags)`: bytes received and the sender.
    pub fn recvfrom(
        &self,
        s: SOCKET,
        buf: &mut [u8],
        flags: i32,
    ) -> Result<(usize, SockAddr), WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPRecvFrom.expect("checked non-null at load");
        let wsabuf = WSABUF {
            len: buf.len() as u32,
            buf: buf.as_mut_ptr(),
        };
        let mut from = [0u8; ADDR_ROOM];
        let mut fromlen = ADDR_ROOM as i32;
        let mut got = 0u32;
        let mut flags = flags as u32;
        // SAFETY: one writable WSABUF and a writable address buffer of `fromlen` bytes.
        check_int("WSPRecvFrom", |errno| unsafe {
            f(
                s,
                &wsabuf,
                1,
                &mut got,
                &mut flags,
                from.as_mut_ptr().cast(),
                &mut fromlen,
                core::ptr::null_mut(),
                None,
                core::ptr::null(),
                errno,
            )
        })?;
        check_count("WSPRecvFrom", got, buf.len());
        Ok((got as usize, parse_returned("WSPRecvFrom", &from, fromlen)))
    }

    /// `shutdown(s, how)`.
    pub fn shutdown(&self, s: SOCKET, how: i32) -> Result<(), WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPShutdown.expect("checked non-null at load");
        // SAFETY: plain arguments.
        check_int("WSPShutdown", |errno| unsafe { f(s, how, errno) }).map(drop)
    }

    /// `getsockname(s)`.
    pub fn getsockname(&self, s: SOCKET) -> Result<SockAddr, WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi
            .table
            .lpWSPGetSockName
            .expect("checked non-null at load");
        self.name_call("WSPGetSockName", |name, len, errno| {
            // SAFETY: a writable address buffer of `*len` bytes.
            unsafe { f(s, name, len, errno) }
        })
    }

    /// `getpeername(s)`.
    pub fn getpeername(&self, s: SOCKET) -> Result<SockAddr, WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi
            .table
            .lpWSPGetPeerName
            .expect("checked non-null at load");
        self.name_call("WSPGetPeerName", |name, len, errno| {
            // SAFETY: a writable address buffer of `*len` bytes.
            unsafe { f(s, name, len, errno) }
        })
    }

    fn name_call(
        &self,
        call: &str,
        f: impl FnOnce(*mut SOCKADDR, *mut i32, *mut i32) -> i32,
    ) -> Result<SockAddr, WsaError> {
        let mut addr = [0u8; ADDR_ROOM];
        let mut len = ADDR_ROOM as i32;
        check_int(call, |errno| f(addr.as_mut_ptr().cast(), &mut len, errno))?;
        Ok(parse_returned(call, &addr, len))
    }

    /// `getsockopt(s, level, name)` into `buf`: the option's length.
    pub fn getsockopt(
        &self,
        s: SOCKET,
        level: i32,
        name: i32,
        buf: &mut [u8],
    ) -> Result<usize, WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPGetSockOpt.expect("checked non-null at load");
        let mut len = buf.len() as i32;
        // SAFETY: `buf` is writable for `len` bytes.
        check_int("WSPGetSockOpt", |errno| unsafe {
            f(s, level, name, buf.as_mut_ptr(), &mut len, errno)
        })?;
        if len < 0 || len as usize > buf.len() {
            panic!(
                "ws2-standin: WSPGetSockOpt reported length {} for a {}-byte buffer",
                len,
                buf.len()
            );
        }
        Ok(len as usize)
    }

    /// `getsockopt` of an `int` (or `BOOL`) option.
    pub fn getsockopt_int(&self, s: SOCKET, level: i32, name: i32) -> Result<i32, WsaError> {
        let mut buf = [0u8; 4];
        let n = self.getsockopt(s, level, name, &mut buf)?;
        let mut value = [0u8; 4];
        value[..n].copy_from_slice(&buf[..n]);
        Ok(i32::from_ne_bytes(value))
    }

    /// `setsockopt(s, level, name, value)`.
    pub fn setsockopt(
        &self,
        s: SOCKET,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> Result<(), WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPSetSockOpt.expect("checked non-null at load");
        // SAFETY: `value` is readable for its length.
        check_int("WSPSetSockOpt", |errno| unsafe {
            f(s, level, name, value.as_ptr(), value.len() as i32, errno)
        })
        .map(drop)
    }

    /// `setsockopt` of an `int` (or `BOOL`) option.
    pub fn setsockopt_int(
        &self,
        s: SOCKET,
        level: i32,
        name: i32,
        value: i32,
    ) -> Result<(), WsaError> {
        self.setsockopt(s, level, name, &value.to_ne_bytes())
    }

    /// `ioctlsocket(s, cmd, &mut arg)`, which ws2_32 turns into `WSPIoctl` with a 4-byte input
    /// and output (`FIONBIO` reads `*arg`; `FIONREAD` and `SIOCATMARK` write it).
    pub fn ioctlsocket(&self, s: SOCKET, cmd: i32, arg: &mut u32) -> Result<(), WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPIoctl.expect("checked non-null at load");
        let input = *arg;
        let mut output = 0u32;
        let mut returned = 0u32;
        // SAFETY: 4-byte input and output buffers and a writable byte count; not overlapped.
        check_int("WSPIoctl", |errno| unsafe {
            f(
                s,
                cmd as u32,
                (&input as *const u32).cast(),
                4,
                (&mut output as *mut u32).cast(),
                4,
                &mut returned,
                core::ptr::null_mut(),
                None,
                core::ptr::null(),
                errno,
            )
        })?;
        if returned > 4 {
            panic!(
                "ws2-standin: WSPIoctl({:#x}) reported {} bytes written to a 4-byte buffer",
                cmd, returned
            );
        }
        if returned == 4 {
            *arg = output;
        }
        Ok(())
    }

    /// `closesocket(s)`. Checks that a non-IFS provider released the handle with
    /// `WPUCloseSocketHandle`.
    pub fn closesocket(&self, s: SOCKET) -> Result<(), WsaError> {
        let (spi, entry) = self.route(s)?;
        let f = spi
            .table
            .lpWSPCloseSocket
            .expect("checked non-null at load");
        // SAFETY: plain arguments.
        check_int("WSPCloseSocket", |errno| unsafe { f(s, errno) })?;
        let mut reg = registry::lock();
        match entry.kind {
            Kind::NonIfs { .. } => {
                if reg.get(s).map_or(false, |now| now.serial == entry.serial) {
                    drop(reg);
                    panic!(
                        "ws2-standin: WSPCloseSocket({:#x}) succeeded but the provider never released the \
                         handle with WPUCloseSocketHandle (leaked handle)",
                        s
                    );
                }
            }
            Kind::Ifs => reg.forget_ifs(s, entry.serial),
            Kind::Unrelated => {}
        }
        Ok(())
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

    /// Handles currently registered to the providers this session loaded.
    pub fn live_handles(&self) -> usize {
        let ids = self.catalog_ids();
        let mut reg = registry::lock();
        reg.handles()
            .values()
            .filter(|e| ids.contains(&e.catalog_id))
            .count()
    }

    /// `WPUQuerySocketHandleContext(s)` as ws2_32 answers it (non-IFS handles only).
    pub fn query_context(&self, s: SOCKET) -> Result<usize, WsaError> {
        registry::query_context(s)
    }

    /// Calls `WSPCleanup` on every loaded provider, balancing `load`. After a provider's last
    /// clean-up in this process, checks that it released every handle it created. Panics,
    /// naming the provider, on a failing clean-up or leaked handles. Dropping the last clone
    /// of a `Ws2` without calling this does the same.
    pub fn cleanup(self) {
        self.inner.cleanup();
    }

    // ---- Shared sockets (WSADuplicateSocketW / WSASocketW(FROM_PROTOCOL_INFO)) ----

    /// `WSADuplicateSocketW(s, process_id, &info)`: the `WSAPROTOCOL_INFOW` that lets process
    /// `process_id` (which may be this one) rebuild `s` with [`Ws2::socket_from_info`].
    pub fn duplicate_socket(
        &self,
        s: SOCKET,
        process_id: u32,
    ) -> Result<WSAPROTOCOL_INFOW, WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi
            .table
            .lpWSPDuplicateSocket
            .expect("checked non-null at load");
        let mut info = WSAPROTOCOL_INFOW::default();
        // SAFETY: a writable WSAPROTOCOL_INFOW.
        check_int("WSPDuplicateSocket", |errno| unsafe {
            f(s, process_id, &mut info, errno)
        })?;
        Ok(info)
    }

    /// `WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
    /// WSA_FLAG_OVERLAPPED)`: a socket of the catalog entry `info` names (by
    /// `dwCatalogEntryId`; failing that, as another process's catalog may number entries
    /// differently, by provider GUID, family, type and protocol). `WSPSocket` gets `info` as
    /// given, with that entry's id, so a structure from `duplicate_socket` rebuilds a shared
    /// socket. No such entry is `WSAEINVAL`.
    pub fn socket_from_info(&self, info: &WSAPROTOCOL_INFOW) -> Result<SOCKET, WsaError> {
        self.not_cleaned()?;
        if let Some(catalog) = &self.inner.catalog {
            catalog::load_for_info(self, catalog, info)?;
        }
        let (table, id) = {
            let providers = self
                .inner
                .providers
                .read()
                .unwrap_or_else(|e| e.into_inner());
            let all = || {
                providers
                    .iter()
                    .flat_map(|p| p.entries.iter().map(move |i| (p.table, *i)))
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
                .map(|(table, i)| (table, i.dwCatalogEntryId))
                .ok_or(WsaError::INVAL)?
        };
        let mut given = *info;
        given.dwCatalogEntryId = id;
        let f = table.lpWSPSocket.expect("checked non-null at load");
        let s = check_socket("WSPSocket", |errno| {
            // SAFETY: WSPSocket called as ws2_32 calls it for FROM_PROTOCOL_INFO.
            unsafe {
                f(
                    FROM_PROTOCOL_INFO,
                    FROM_PROTOCOL_INFO,
                    FROM_PROTOCOL_INFO,
                    &given,
                    0,
                    WSA_FLAG_OVERLAPPED,
                    errno,
                )
            }
        })?;
        Self::check_issued("WSPSocket", s, &given);
        Ok(s)
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
        let providers =
            std::mem::take(&mut *self.providers.write().unwrap_or_else(|e| e.into_inner()));
        let mut problems = Vec::new();
        for p in providers.iter().rev() {
            let f = p.table.lpWSPCleanup.expect("checked non-null at load");
            let mut errno = ERRNO_SENTINEL;
            // SAFETY: balances this session's WSPStartup of the provider.
            let r = unsafe { f(&mut errno) };
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

impl Drop for Inner {
    fn drop(&mut self) {
        self.cleanup();
        registry::lock().close_range(self.range);
    }
}

/// Panics if a provider reported more bytes than the buffer holds.
fn check_count(call: &str, n: u32, room: usize) {
    if n as usize > room {
        panic!(
            "ws2-standin: {} reported {} bytes for a {}-byte buffer",
            call, n, room
        );
    }
}

/// Parses an address a provider wrote, panicking with the call's name if it is malformed.
fn parse_returned(call: &str, buf: &[u8], len: i32) -> SockAddr {
    if len < 2 || len as usize > buf.len() {
        panic!(
            "ws2-standin: {} reported an address length of {} (buffer {})",
            call,
            len,
            buf.len()
        );
    }
    match SockAddr::from_bytes(&buf[..len as usize]) {
        Ok(addr) => addr,
        Err(e) => panic!(
            "ws2-standin: {} wrote a malformed address ({}): {:?}",
            call,
            e,
            &buf[..len as usize]
        ),
    }
}
