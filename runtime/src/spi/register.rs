//! Self-registration: the `DllRegisterServer` / `DllUnregisterServer` exports, so that
//! `regsvr32 provider.dll` installs the provider's own protocol entries in the Winsock catalog
//! and `regsvr32 /u provider.dll` removes exactly them.
//!
//! The entries are the ones `WspEnumProviderProtocols` reports (the attribute's GUID and
//! protocol entries) with this library's own path, in the catalog of the process's
//! architecture. The catalog is written through `winsock_catalog::system()`: the real
//! `WSCInstallProvider` & co. on Windows, the registry layout under Wine (whose WSC* functions
//! are stubs), and the file named by `WSP_CATALOG` elsewhere.

use crate::host::{catch, module, panic};
use crate::registry::state::Binding;
use crate::types::error::WsaError;
use winsock_catalog::{CatalogError, Catalogs, Guid, ProtocolInfo};

/// `S_OK`.
const S_OK: i32 = 0;

/// `HRESULT_FROM_WIN32(code)`: WSA codes are Win32 error codes.
fn hresult(code: i32) -> i32 {
    (0x8007_0000u32 | (code as u32 & 0xffff)) as i32
}

/// The provider's entries as the catalog stores them.
fn protocol_entries<P: Binding>() -> Result<Vec<ProtocolInfo>, CatalogError> {
    (0..P::INFO.protocols.len())
        .map(|i| {
            let info = crate::registry::state::protocol_info::<P>(i, 0);
            // SAFETY: WSAPROTOCOL_INFOW is plain old data; its bytes are readable for its size.
            let bytes = unsafe {
                core::slice::from_raw_parts(
                    (&info as *const crate::sys::WSAPROTOCOL_INFOW).cast::<u8>(),
                    core::mem::size_of::<crate::sys::WSAPROTOCOL_INFOW>(),
                )
            };
            ProtocolInfo::from_bytes(bytes)
        })
        .collect()
}

fn guid<P: Binding>() -> Guid {
    let g = P::INFO.guid.to_sys();
    Guid::from_fields(g.data1, g.data2, g.data3, g.data4)
}

/// Runs a catalog operation under the panic guard and reports it as an `HRESULT`, logging a
/// failure where an administrator running `regsvr32` can see it.
pub(crate) fn run(what: &str, f: impl FnOnce() -> Result<(), CatalogError>) -> i32 {
    let mut failure = None;
    let result = catch(|| {
        f().map_err(|e| {
            let code = WsaError::from_code(e.code());
            failure = Some(e);
            code
        })
    });
    match result {
        Ok(()) => S_OK,
        Err(code) => {
            let why = failure.map_or_else(|| code.to_string(), |e| e.to_string());
            panic::log(&format!("winsock-provider: {} failed: {}\n", what, why));
            hresult(code.code())
        }
    }
}

/// `DllRegisterServer`: installs `P`'s protocol entries under its GUID with this library's
/// path; if that GUID is installed already, updates its entries and path in place (so running
/// `regsvr32` again after a rebuild or a move succeeds). Returns an `HRESULT`.
pub fn register_server<P: Binding>() -> i32 {
    run("DllRegisterServer", || {
        let path = module::own_path()?;
        let entries = protocol_entries::<P>()?;
        let catalog = winsock_catalog::system()?;
        let id = guid::<P>();
        let arch = winsock_catalog::Arch::native();
        match catalog.get_provider_path(&id, arch) {
            Ok(_) => catalog.update_provider(&id, &path, &entries, arch),
            Err(_) => catalog.install_provider(&id, &path, &entries, Catalogs::Native),
        }
    })
}

/// `DllUnregisterServer`: removes the entries installed under `P`'s GUID from the catalog of
/// this process's architecture. Returns an `HRESULT`.
pub fn unregister_server<P: Binding>() -> i32 {
    run("DllUnregisterServer", || {
        winsock_catalog::system()?.deinstall_provider(&guid::<P>(), Catalogs::Native)
    })
}
