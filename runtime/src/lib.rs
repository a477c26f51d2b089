//! Write a Winsock 2 transport service provider as a plain Rust trait implementation.
//!
//! ```
//! use winsock_provider::{winsock_provider, Provider, SocketRequest, StartupContext, WsaError};
//!
//! #[winsock_provider(
//!     name = "Null",
//!     guid = "4b1e7a52-6a9b-4d8e-9a53-0c1f5e9e2d11",
//!     non_ifs,
//!     protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
//! )]
//! pub struct Null;
//!
//! impl Provider for Null {
//!     type Socket = ();
//!     fn startup(_: &StartupContext) -> Result<Self, WsaError> { Ok(Null) }
//!     fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> { Ok(()) }
//! }
//!
//! // What ws2_32 (or the `ws2-standin` crate, in tests) loads:
//! let entry = winsock_provider::entry_points::<Null>();
//! # let _ = entry;
//! ```
//!
//! The attribute exports `WSPStartup` (and `WspEnumProviderProtocols`, the provider's protocol
//! entries for installers), builds the 30-entry `WSPPROC_TABLE` from the runtime's generic entry
//! points, and allocates socket handles in the declared descriptor mode. The runtime validates
//! arguments, maps errors to the SPI's conventions, counts start-up and clean-up, keeps the
//! handle table, and catches panics at the FFI boundary.
//!
//! Builds with Rust 1.63 (the compiler that produces the real Windows DLLs) and with current
//! stable on any OS, so providers are tested with `cargo test` through the `ws2-standin` crate.

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]

// The layers, each using only those below it (`tests/layers.rs` checks it):
// `layer` -> `spi` -> `registry` -> `io` -> `host` -> `types` -> `sys`; `registry` keeps its
// sockets in the `wsp-handle-table` crate.
mod host;
mod io;
mod layer;
mod registry;
mod spi;
pub mod sys;
mod types;

pub use host::hooks::{
    fallback_last_error, CompleteOverlappedRequestFn, HostHooks, SetHostHooksFn, SetLastErrorFn,
    SET_HOST_HOOKS_EXPORT,
};
pub use host::panic::PANIC_ERROR;
pub use io::completion::outstanding_operations;
pub use io::notifier::Notifier;
pub use io::ready::Ready;
pub use layer::{Layer, LayerContext, LayerSock, LayerSocket, Layered, LowerSocket, Next};
pub use registry::provider::{
    IfsSocket, IoctlRequest, Provider, Sock, SocketRequest, StartupContext,
};
pub use registry::state::{Binding, Ifs, Mode, NonIfs, State};
pub use spi::exports::{entry_points, EntryPoints, EnumProtocolsFn, RegisterFn, StartupFn};
pub use spi::proc_table;
pub use types::addr::{SockAddr, SOCKADDR_IN6_LEN, SOCKADDR_IN_LEN};
pub use types::buf::{Bufs, BufsMut};
pub use types::error::WsaError;
pub use types::flags::{MsgFlags, OptInput, OptValue, Shutdown, SockOpt, SocketFlags};
pub use types::info::{DescriptorMode, Guid, ProtocolSpec, ProviderInfo};
pub use types::text::{address_to_string, string_to_address};
pub use winsock_provider_macros::winsock_provider;

/// The name under which a provider DLL exports `WSPStartup`.
pub const STARTUP_EXPORT: &str = "WSPStartup";
/// The name under which a provider DLL exports its protocol entries.
pub const ENUM_PROTOCOLS_EXPORT: &str = "WspEnumProviderProtocols";
/// The export `regsvr32` calls to install the provider's entries in the Winsock catalog.
pub const REGISTER_EXPORT: &str = "DllRegisterServer";
/// The export `regsvr32 /u` calls to remove them.
pub const UNREGISTER_EXPORT: &str = "DllUnregisterServer";

/// Implementation details used by the code `#[winsock_provider]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::__export_layer_where as export_layer_where;
    pub use crate::layer::entry_points as layer_entry_points;
    pub use crate::layer::{
        register_layer, startup as layer_startup, unregister_layer, IfsLayer, LayerBinding, Layered,
    };
    pub use crate::registry::provider::{IfsSocket, Provider, ThreadSafeSocket};
    pub use crate::registry::state::{Binding, Ifs, NonIfs, State};
    pub use crate::spi::lifecycle::{enum_protocols, set_host_hooks, startup};
    pub use crate::spi::register::{register_server, unregister_server};
    pub use crate::{DescriptorMode, Guid, ProtocolSpec, ProviderInfo};

    use core::marker::PhantomData;
    use core::sync::atomic::{AtomicPtr, Ordering};

    /// The storage of a provider's [`State`], allocated on first use.
    ///
    /// The attribute names this type (which puts no bound on `P`) in the `static` behind
    /// `Binding::state` instead of `State<P>` itself, so a struct lacking `impl Provider` is
    /// reported once, by the bound on the generated impl, and not again by the `static`.
    pub struct StateSlot<P> {
        ptr: AtomicPtr<()>,
        _provider: PhantomData<fn() -> P>,
    }

    impl<P> StateSlot<P> {
        /// An empty slot.
        #[allow(clippy::new_without_default)]
        pub const fn new() -> StateSlot<P> {
            StateSlot {
                ptr: AtomicPtr::new(core::ptr::null_mut()),
                _provider: PhantomData,
            }
        }
    }

    impl<P: Provider> StateSlot<P> {
        /// The state, created by the first call (and never freed, like a `static`).
        ///
        /// Inlined into every entry point: after the first call this is one load and a test.
        #[inline(always)]
        pub fn get(&'static self) -> &'static State<P> {
            let current = self.ptr.load(Ordering::Acquire);
            if !current.is_null() {
                // SAFETY: only `create` stores into `ptr`, always a leaked `State<P>` that is
                // never freed.
                return unsafe { &*(current as *const State<P>) };
            }
            self.create()
        }

        /// The first call's half of [`StateSlot::get`]: allocates and publishes the state.
        #[cold]
        #[inline(never)]
        fn create(&'static self) -> &'static State<P> {
            let fresh = Box::into_raw(Box::new(State::<P>::new()));
            match self.ptr.compare_exchange(
                core::ptr::null_mut(),
                fresh as *mut (),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // SAFETY: `fresh` was just leaked and is now published; it is never freed.
                Ok(_) => unsafe { &*fresh },
                Err(winner) => {
                    // SAFETY: `fresh` was never published, so this is its only owner; `winner`
                    // is a leaked `State<P>` stored by another call, never freed.
                    unsafe {
                        drop(Box::from_raw(fresh));
                        &*(winner as *const State<P>)
                    }
                }
            }
        }
    }

    /// Emits the DLL exports of provider `$ty` (`WSPStartup`, `WspEnumProviderProtocols`,
    /// `WspSetHostHooks`, `DllRegisterServer`, `DllUnregisterServer`), with
    /// the `where` bounds the attribute also puts on the generated `Binding` impl.
    ///
    /// Repeating the bounds (with the same spans) makes a missing `impl Provider` or
    /// `IfsSocket` one error, which rustc reports once, rather than one per export. The
    /// functions are not `pub` (`#[no_mangle]` exports them all the same), so a private provider
    /// struct in the bounds is no `private_in_public` warning on older compilers.
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __export_provider_where {
        ($ty:ty where $($bound:tt)*) => {
            /// The provider's `WSPStartup` export.
            ///
            /// # Safety
            /// Called by ws2_32 with the arguments the SPI defines.
            #[no_mangle]
            unsafe extern "system" fn WSPStartup(
                version: u16,
                data: *const $crate::sys::WSPDATA,
                info: *const $crate::sys::WSAPROTOCOL_INFOW,
                upcalls: $crate::sys::WSPUPCALLTABLE,
                table: *mut $crate::sys::WSPPROC_TABLE,
            ) -> i32
            where
                $($bound)*
            {
                $crate::__private::startup::<$ty>(version, data, info, upcalls, table)
            }

            /// The provider's protocol entries, for installers.
            ///
            /// # Safety
            /// Called with the arguments `WspEnumProviderProtocols` documents.
            #[no_mangle]
            unsafe extern "system" fn WspEnumProviderProtocols(
                provider_id: *mut $crate::sys::GUID,
                buffer: *mut $crate::sys::WSAPROTOCOL_INFOW,
                buffer_len: *mut u32,
                errno: *mut i32,
            ) -> i32
            where
                $($bound)*
            {
                $crate::__private::enum_protocols::<$ty>(provider_id, buffer, buffer_len, errno)
            }

            /// Receives the host's hooks (`WPUCompleteOverlappedRequest`, `WSASetLastError`)
            /// from a ws2_32 stand-in, before `WSPStartup`.
            ///
            /// # Safety
            /// `hooks` is null or points to a `HostHooks` of at least `(*hooks).size` bytes.
            #[no_mangle]
            unsafe extern "system" fn WspSetHostHooks(
                hooks: *const $crate::HostHooks,
            ) -> i32
            where
                $($bound)*
            {
                $crate::__private::set_host_hooks::<$ty>(hooks)
            }

            /// Installs the provider's protocol entries in the Winsock catalog, with this
            /// library's path (`regsvr32 provider.dll`). Returns an `HRESULT`.
            ///
            /// # Safety
            /// Called by `regsvr32` or an installer, with no arguments.
            #[no_mangle]
            unsafe extern "system" fn DllRegisterServer() -> i32
            where
                $($bound)*
            {
                $crate::__private::register_server::<$ty>()
            }

            /// Removes the provider's protocol entries from the Winsock catalog
            /// (`regsvr32 /u provider.dll`). Returns an `HRESULT`.
            ///
            /// # Safety
            /// Called by `regsvr32` or an installer, with no arguments.
            #[no_mangle]
            unsafe extern "system" fn DllUnregisterServer() -> i32
            where
                $($bound)*
            {
                $crate::__private::unregister_server::<$ty>()
            }
        };
    }
    pub use __export_provider_where as export_provider_where;
}
