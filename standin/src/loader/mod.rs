//! The loader and the contract checks: resolving a provider's exports, reading its protocol
//! entries, starting it as ws2_32 does and checking what `WSPStartup` gave back (`providers`),
//! the dispatch table kept as plain function pointers (`procs`), and the return conventions
//! every call is checked against (`contract`).
//!
//! It calls down into the host side only; the application-side API calls into it.

mod contract;
mod procs;
mod providers;

pub use contract::{check_bool, check_int, check_socket};
pub(crate) use contract::{check_count, parse_returned, report_violations, ADDR_ROOM};
pub(crate) use procs::Procs;
pub(crate) use providers::{Dispatch, Providers};

use crate::host::os;
use std::fmt;
use std::path::Path;
use winsock_provider::sys::*;
use winsock_provider::{EntryPoints, WsaError};

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

/// The index of the entry `socket(af, ty, protocol)` takes among `entries` (in order), with
/// the errors ws2_32 gives when none fits.
pub(crate) fn choose<'a>(
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

/// The name of a protocol entry (`szProtocol`).
pub(crate) fn entry_name(info: &WSAPROTOCOL_INFOW) -> String {
    let len = info
        .szProtocol
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(info.szProtocol.len());
    String::from_utf16_lossy(&info.szProtocol[..len])
}

/// Reads a provider's protocol entries through `WspEnumProviderProtocols`.
pub(crate) fn enumerate(entry: &EntryPoints) -> Result<Vec<WSAPROTOCOL_INFOW>, LoadError> {
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
