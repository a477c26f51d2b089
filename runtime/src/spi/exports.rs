//! The functions a provider library exports, as types and as pointers to this crate's own
//! implementations (for loading a provider linked into the same binary).

use crate::host::hooks::SetHostHooksFn;
use crate::registry::state::Binding;

/// The signature of `DllRegisterServer` and `DllUnregisterServer`: an `HRESULT`.
pub type RegisterFn = unsafe extern "system" fn() -> i32;

/// The signature of `WSPStartup`.
pub type StartupFn = unsafe extern "system" fn(
    u16,
    *const crate::sys::WSPDATA,
    *const crate::sys::WSAPROTOCOL_INFOW,
    crate::sys::WSPUPCALLTABLE,
    *mut crate::sys::WSPPROC_TABLE,
) -> i32;

/// The signature of `WspEnumProviderProtocols(lpProviderId, lpProtocolBuffer,
/// lpdwBufferLength, lpErrno)`: the number of entries, or `SOCKET_ERROR` with `WSAENOBUFS` and
/// the needed length in bytes.
pub type EnumProtocolsFn = unsafe extern "system" fn(
    *mut crate::sys::GUID,
    *mut crate::sys::WSAPROTOCOL_INFOW,
    *mut u32,
    *mut i32,
) -> i32;

/// The two exports of a provider, as function pointers (for loading a provider that is linked
/// into the same binary, e.g. in tests). (No `Debug`: Rust 1.63 has no `Debug` for
/// `extern "system"` function pointers.)
#[derive(Copy, Clone)]
pub struct EntryPoints {
    /// `WSPStartup`.
    pub startup: StartupFn,
    /// `WspEnumProviderProtocols`.
    pub enum_protocols: EnumProtocolsFn,
    /// `WspSetHostHooks` (call it before `WSPStartup`).
    pub set_host_hooks: SetHostHooksFn,
}

/// The entry points of provider `P` (the same functions its DLL exports).
pub fn entry_points<P: Binding>() -> EntryPoints {
    EntryPoints {
        startup: super::lifecycle::startup::<P>,
        enum_protocols: super::lifecycle::enum_protocols::<P>,
        set_host_hooks: super::lifecycle::set_host_hooks::<P>,
    }
}
