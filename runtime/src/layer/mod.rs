//! Layered service providers: a [`Layer`] sits on the next provider of a protocol chain and
//! changes only what it overrides; every other call goes down unchanged.
//!
//! The runtime adapts a layer into a [`Provider`] ([`Layered`]), so the layer's sockets get the
//! runtime's whole machinery (argument checks, overlapped I/O with events, routines and
//! completion ports, `select`, event and window notification, `AcceptEx` & co., duplication)
//! with the application's own handles and `WSAOVERLAPPED`s, and the layer sees every call and
//! every completion. Each layer socket owns one socket of the provider below, driven without
//! blocking; its readiness comes back through the lower provider's `WSPEventSelect` (see
//! `watch.rs`).
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
//! use winsock_provider::{winsock_provider, Bufs, Layer, LayerContext, LayerSock, MsgFlags, WsaError};
//!
//! #[winsock_provider(layered, name = "Counter", guid = "5d0c8f3e-2a61-4b7d-9e04-c1f3a86b2d70",
//!     non_ifs, protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP))]
//! pub struct Counter;
//!
//! /// Each socket's own state.
//! #[derive(Default)]
//! pub struct Counts {
//!     sent: AtomicUsize,
//! }
//!
//! impl Layer for Counter {
//!     type Socket = Counts;
//!     fn startup(_: &LayerContext) -> Result<Self, WsaError> { Ok(Counter) }
//!     fn send(&self, sock: &LayerSock<Self>, bufs: &Bufs<'_>, flags: MsgFlags)
//!         -> Result<usize, WsaError> {
//!         let n = sock.next().send(bufs, flags)?;
//!         sock.sent.fetch_add(n, Relaxed);
//!         Ok(n)
//!     }
//! }
//! ```

mod chain;
mod ifs;
mod lower;
mod register;
mod watch;

pub use chain::{entry_points, startup};
pub use ifs::IfsLayer;
pub use lower::LowerSocket;
pub use register::{register_layer, unregister_layer};

use crate::io::ready::Ready;
use crate::registry::provider::Sock;
use crate::registry::provider::{IoctlRequest, Provider, SocketRequest, StartupContext};
use crate::registry::state::{Binding, Mode, State};
use crate::sys;
use crate::types::addr::SockAddr;
use crate::types::buf::{Bufs, BufsMut};
use crate::types::error::WsaError;
use crate::types::flags::{MsgFlags, OptInput, OptValue, Shutdown, SockOpt};
use crate::types::info::{Guid, ProviderInfo};
use core::num::NonZeroU32;
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use watch::Watched;

/// What a layer's [`Layer::startup`] is told.
#[derive(Copy, Clone, Debug)]
pub struct LayerContext {
    /// The negotiated interface version (`MAKEWORD(2, 2)`).
    pub version: u16,
    /// `dwCatalogEntryId` of the chain entry ws2_32 started the layer for.
    pub catalog_id: u32,
    /// `ProviderId` of that chain entry.
    pub chain_id: Guid,
}

/// A layer socket as the layer's methods see it.
pub type LayerSock<L> = Sock<Layered<L>>;

/// A layered service provider: one method per call it may change, each defaulting to
/// forwarding the call to the next provider of the chain ([`LayerSock::next`]).
///
/// Put `#[winsock_provider(layered, ...)]` on the struct; the crate's DLL then exports
/// `WSPStartup` as a layer (finding the next provider through the catalog) and a
/// `DllRegisterServer` that installs it over the catalog's entries (with the attribute's
/// `categories`, if any). A panic in any method is caught and reported to the caller as
/// `WSAENETDOWN`.
///
/// Each method gets the layer socket; `sock.next()` ([`Next`]) is the socket below, with
/// methods of the same names and arguments, and `*sock` derefs to your [`Layer::Socket`]. To
/// change a call, override its method and call `next()` with what you want the provider below
/// to see. A layer that redirects connects (what a proxifier does):
///
/// ```
/// use std::net::SocketAddr;
/// use winsock_provider::{winsock_provider, Layer, LayerContext, LayerSock, SockAddr, WsaError};
///
/// #[winsock_provider(layered, name = "Redirector", guid = "9c41e7d2-06b3-4a85-bf19-2d7e5a0c8b63",
///     non_ifs, categories = [LSP_REDIRECTOR],
///     protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP))]
/// pub struct Redirector;
///
/// impl Layer for Redirector {
///     type Socket = ();
///     fn startup(_: &LayerContext) -> Result<Self, WsaError> { Ok(Redirector) }
///     // Covers `connect`, `WSAConnect` and `ConnectEx`.
///     fn connect(&self, sock: &LayerSock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
///         let from: SocketAddr = "127.0.0.99:99".parse().unwrap();
///         match addr {
///             SockAddr::Inet(a) if *a == from => {
///                 sock.next().connect(&SockAddr::Inet("127.0.0.1:4242".parse().unwrap()))
///             }
///             _ => sock.next().connect(addr),
///         }
///     }
/// }
/// ```
///
/// `getpeername` then answers the address connected to below; override [`Layer::peer_name`]
/// to show the application the one it asked for.
///
/// The layer runs in the library ws2_32 (or the stand-in) loads from the catalog. A test that
/// links the layer's crate and also installs its library has two copies: statics the test sets
/// are not the ones the loaded layer reads, so configure a layer through what both see (the
/// environment, a file, the registry).
pub trait Layer: Sized + Send + Sync + 'static {
    /// The layer's own per-socket state (counters, rules...), created with `Default` for
    /// every socket, accepted ones included, and reached through the socket's `Deref`.
    type Socket: Default + Send + Sync + 'static;

    /// Creates the layer instance on the first `WSPStartup`.
    fn startup(ctx: &LayerContext) -> Result<Self, WsaError>;

    /// Runs on the last `WSPCleanup`, after every socket was closed and before the providers
    /// below are cleaned up.
    fn cleanup(&self) {}

    /// `WSPCloseSocket`, before the socket below is closed.
    fn close(&self, sock: &LayerSock<Self>) -> Result<(), WsaError> {
        let _ = sock;
        Ok(())
    }

    /// `WSPBind`.
    fn bind(&self, sock: &LayerSock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        sock.next().bind(addr)
    }

    /// `WSPListen`.
    fn listen(&self, sock: &LayerSock<Self>, backlog: i32) -> Result<(), WsaError> {
        sock.next().listen(backlog)
    }

    /// `WSPAccept` (and the accept inside `AcceptEx`): the connection below and its peer.
    fn accept(&self, sock: &LayerSock<Self>) -> Result<(LowerSocket, SockAddr), WsaError> {
        sock.next().accept()
    }

    /// `WSPConnect` (and `ConnectEx`).
    fn connect(&self, sock: &LayerSock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        sock.next().connect(addr)
    }

    /// `WSPSend`.
    fn send(
        &self,
        sock: &LayerSock<Self>,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
    ) -> Result<usize, WsaError> {
        sock.next().send(bufs, flags)
    }

    /// `WSPSendTo`.
    fn send_to(
        &self,
        sock: &LayerSock<Self>,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        sock.next().send_to(bufs, flags, to)
    }

    /// `WSPRecv`.
    fn recv(
        &self,
        sock: &LayerSock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        sock.next().recv(bufs, flags)
    }

    /// `WSPRecvFrom`.
    fn recv_from(
        &self,
        sock: &LayerSock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags, SockAddr), WsaError> {
        sock.next().recv_from(bufs, flags)
    }

    /// `WSPShutdown`.
    fn shutdown(&self, sock: &LayerSock<Self>, how: Shutdown) -> Result<(), WsaError> {
        sock.next().shutdown(how)
    }

    /// `WSPSendDisconnect` without data.
    fn send_disconnect(&self, sock: &LayerSock<Self>) -> Result<(), WsaError> {
        sock.next().send_disconnect()
    }

    /// `WSPRecvDisconnect` without data.
    fn recv_disconnect(&self, sock: &LayerSock<Self>) -> Result<(), WsaError> {
        sock.next().recv_disconnect()
    }

    /// `WSPGetSockName`.
    fn sock_name(&self, sock: &LayerSock<Self>) -> Result<SockAddr, WsaError> {
        sock.next().sock_name()
    }

    /// `WSPGetPeerName`.
    fn peer_name(&self, sock: &LayerSock<Self>) -> Result<SockAddr, WsaError> {
        sock.next().peer_name()
    }

    /// `WSPGetSockOpt` (except `SO_TYPE` and `SO_PROTOCOL_INFOW`).
    fn get_option(&self, sock: &LayerSock<Self>, opt: SockOpt) -> Result<OptValue, WsaError> {
        sock.next().get_option(opt)
    }

    /// `WSPSetSockOpt`.
    fn set_option(
        &self,
        sock: &LayerSock<Self>,
        opt: SockOpt,
        value: OptInput<'_>,
    ) -> Result<(), WsaError> {
        sock.next().set_option(opt, value)
    }

    /// `FIONREAD`.
    fn bytes_readable(&self, sock: &LayerSock<Self>) -> Result<usize, WsaError> {
        sock.next().bytes_readable()
    }

    /// `SIOCATMARK`.
    fn at_mark(&self, sock: &LayerSock<Self>) -> Result<bool, WsaError> {
        sock.next().at_mark()
    }

    /// `WSPIoctl` codes the runtime does not answer itself (`SIO_BASE_HANDLE` and
    /// `SIO_BSP_HANDLE*` always go down unchanged).
    fn ioctl(&self, sock: &LayerSock<Self>, request: IoctlRequest<'_>) -> Result<usize, WsaError> {
        sock.next().ioctl(request)
    }
}

/// The link between a layer struct and the runtime, written by `#[winsock_provider(layered)]`
/// (the layer-side counterpart of [`Binding`], which [`Layered`] gets from it).
pub trait LayerBinding: Layer {
    /// The descriptor mode of the layer's own handles.
    type Mode: Mode<Layered<Self>>;
    /// What the attribute declared: the layer's GUID, name and the protocols it serves.
    const INFO: ProviderInfo;
    /// The layer's LSP categories (`LSP_*` bits, the attribute's `categories = [...]`), which
    /// `DllRegisterServer` gives its layered entry and chain entries
    /// (`WSCSetProviderInfo(ProviderInfoLspCategories)`); 0, the default, leaves it
    /// uncategorized.
    const LSP_CATEGORIES: u32 = 0;
    /// The layer's process-wide runtime state (a `static` the attribute emits).
    fn state() -> &'static State<Layered<Self>>;
}

// Not offered in diagnostics about a struct lacking `impl Provider` (or the attribute's impls):
// a provider author is not after a layer.
#[cfg_attr(
    wsp_diagnostic_namespace,
    allow(unknown_or_malformed_diagnostic_attributes),
    diagnostic::do_not_recommend
)]
impl<L: LayerBinding> Binding for Layered<L> {
    type Mode = L::Mode;
    const INFO: ProviderInfo = L::INFO;

    #[inline(always)]
    fn state() -> &'static State<Self> {
        L::state()
    }
}

/// Emits the DLL exports of layer `$ty` (`WSPStartup`, `WspEnumProviderProtocols`,
/// `WspSetHostHooks`, `DllRegisterServer`, `DllUnregisterServer`) with the `where` bounds the
/// attribute also puts on the generated `LayerBinding` impl.
#[macro_export]
#[doc(hidden)]
macro_rules! __export_layer_where {
    ($ty:ty where $($bound:tt)*) => {
        /// The layer's `WSPStartup` export.
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
            $crate::__private::layer_startup::<$ty>(version, data, info, upcalls, table)
        }

        /// The protocols the layer serves, for installers.
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
            $crate::__private::enum_protocols::<$crate::Layered<$ty>>(
                provider_id, buffer, buffer_len, errno,
            )
        }

        /// Receives the host's hooks from a ws2_32 stand-in, before `WSPStartup`.
        ///
        /// # Safety
        /// `hooks` is null or points to a `HostHooks` of at least `(*hooks).size` bytes.
        #[no_mangle]
        unsafe extern "system" fn WspSetHostHooks(hooks: *const $crate::HostHooks) -> i32
        where
            $($bound)*
        {
            $crate::__private::set_host_hooks::<$crate::Layered<$ty>>(hooks)
        }

        /// Installs the layer over the catalog's entries of its protocols (`regsvr32`).
        ///
        /// # Safety
        /// Called by `regsvr32` or an installer, with no arguments.
        #[no_mangle]
        unsafe extern "system" fn DllRegisterServer() -> i32
        where
            $($bound)*
        {
            $crate::__private::register_layer::<$ty>()
        }

        /// Removes the layer's chains and layered entry (`regsvr32 /u`).
        ///
        /// # Safety
        /// Called by `regsvr32` or an installer, with no arguments.
        #[no_mangle]
        unsafe extern "system" fn DllUnregisterServer() -> i32
        where
            $($bound)*
        {
            $crate::__private::unregister_layer::<$crate::Layered<$ty>>()
        }
    };
}

/// A [`Layer`] as the runtime's [`Provider`]: what `#[winsock_provider(layered)]` exports.
pub struct Layered<L> {
    layer: L,
    below: Arc<chain::Below>,
}

impl<L> Layered<L> {
    /// The layer instance.
    pub fn layer(&self) -> &L {
        &self.layer
    }
}

/// The per-socket state of a layer socket: the socket below and the layer's own state (which
/// it dereferences to).
pub struct LayerSocket<S> {
    lower: LowerSocket,
    watched: Arc<Watched>,
    listening: AtomicBool,
    state: S,
}

impl<S> LayerSocket<S> {
    /// The socket below.
    pub fn lower(&self) -> &LowerSocket {
        &self.lower
    }

    /// The layer's own state.
    pub fn state(&self) -> &S {
        &self.state
    }
}

impl<S> Deref for LayerSocket<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.state
    }
}

impl<L: Layer> Sock<Layered<L>> {
    /// The next provider, for this socket: its calls take the same arguments as the layer's.
    /// On a blocking socket they wait (the socket below is always driven without blocking);
    /// on a non-blocking one, and inside the runtime's retries of overlapped requests, they
    /// fail with `WSAEWOULDBLOCK` instead.
    pub fn next(&self) -> Next<'_> {
        Next {
            lower: &self.state().lower,
            watched: &self.state().watched,
            nonblocking: self.nonblocking(),
        }
    }
}

/// The next provider of the chain, as one layer socket reaches it ([`LayerSock::next`]).
pub struct Next<'a> {
    lower: &'a LowerSocket,
    watched: &'a Watched,
    nonblocking: bool,
}

impl Next<'_> {
    /// Runs `op` until it does not fail with `WSAEWOULDBLOCK`, waiting for events below
    /// between attempts, unless the socket is non-blocking.
    fn retry<T>(&self, mut op: impl FnMut() -> Result<T, WsaError>) -> Result<T, WsaError> {
        loop {
            let seq = self.watched.seq();
            match op() {
                Err(e) if e == WsaError::WOULDBLOCK && !self.nonblocking => {
                    self.watched.wait_change(seq)?
                }
                other => return other,
            }
        }
    }

    /// The handle of the socket below.
    pub fn handle(&self) -> sys::SOCKET {
        self.lower.handle()
    }

    /// `WSPBind` below.
    pub fn bind(&self, addr: &SockAddr) -> Result<(), WsaError> {
        self.lower.bind(addr)
    }

    /// `WSPListen` below.
    pub fn listen(&self, backlog: i32) -> Result<(), WsaError> {
        self.lower.listen(backlog)
    }

    /// `WSPAccept` below: the new connection's socket below and its peer.
    pub fn accept(&self) -> Result<(LowerSocket, SockAddr), WsaError> {
        self.retry(|| self.watched.consuming(|| self.lower.accept()))
    }

    /// `WSPConnect` below (to `addr`, which a layer may have rewritten).
    pub fn connect(&self, addr: &SockAddr) -> Result<(), WsaError> {
        self.watched.start_connect();
        match self.lower.connect(addr) {
            Err(e) if e == WsaError::WOULDBLOCK => match self.watched.pend_connect() {
                Some(outcome) if !self.nonblocking => outcome,
                _ if !self.nonblocking => self.watched.wait_connect(),
                _ => Err(e),
            },
            other => {
                self.watched.end_connect();
                other
            }
        }
    }

    /// `WSPSend` below.
    pub fn send(&self, bufs: &Bufs<'_>, flags: MsgFlags) -> Result<usize, WsaError> {
        let parts: Vec<&[u8]> = bufs.iter().collect();
        self.retry(|| self.lower.send(&parts, flags, None))
    }

    /// `WSPSend` below of one byte slice (for layers that rewrite the data).
    pub fn send_bytes(&self, data: &[u8], flags: MsgFlags) -> Result<usize, WsaError> {
        self.retry(|| self.lower.send(&[data], flags, None))
    }

    /// `WSPSendTo` below.
    pub fn send_to(
        &self,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        let parts: Vec<&[u8]> = bufs.iter().collect();
        self.retry(|| self.lower.send(&parts, flags, Some(to)))
    }

    /// `WSPRecv` below.
    pub fn recv(
        &self,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        let mut parts: Vec<&mut [u8]> = bufs.iter_mut().collect();
        self.retry(|| {
            self.watched
                .consuming(|| self.lower.recv(&mut parts, flags, false))
                .map(|(n, f, _)| (n, f))
        })
    }

    /// `WSPRecvFrom` below.
    pub fn recv_from(
        &self,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags, SockAddr), WsaError> {
        let mut parts: Vec<&mut [u8]> = bufs.iter_mut().collect();
        let (n, f, from) = self.retry(|| {
            self.watched
                .consuming(|| self.lower.recv(&mut parts, flags, true))
        })?;
        let from = from.unwrap_or_else(|| SockAddr::Raw {
            family: 0,
            data: Vec::new(),
        });
        Ok((n, f, from))
    }

    /// `WSPShutdown` below.
    pub fn shutdown(&self, how: Shutdown) -> Result<(), WsaError> {
        self.lower.shutdown(how)
    }

    /// `WSPSendDisconnect` below, without data.
    pub fn send_disconnect(&self) -> Result<(), WsaError> {
        self.lower.disconnect(true)
    }

    /// `WSPRecvDisconnect` below, without data.
    pub fn recv_disconnect(&self) -> Result<(), WsaError> {
        self.lower.disconnect(false)
    }

    /// `WSPGetSockName` below.
    pub fn sock_name(&self) -> Result<SockAddr, WsaError> {
        self.lower.name(false)
    }

    /// `WSPGetPeerName` below.
    pub fn peer_name(&self) -> Result<SockAddr, WsaError> {
        self.lower.name(true)
    }

    /// `WSPGetSockOpt` below (the value as the provider below wrote it).
    pub fn get_option(&self, opt: SockOpt) -> Result<OptValue, WsaError> {
        self.lower.get_option(opt)
    }

    /// `WSPSetSockOpt` below.
    pub fn set_option(&self, opt: SockOpt, value: OptInput<'_>) -> Result<(), WsaError> {
        self.lower.set_option(opt, value)
    }

    /// `FIONREAD` below.
    pub fn bytes_readable(&self) -> Result<usize, WsaError> {
        let mut out = [0u8; 4];
        self.lower.ioctl(sys::FIONREAD as u32, &[], &mut out)?;
        Ok(u32::from_ne_bytes(out) as usize)
    }

    /// `SIOCATMARK` below.
    pub fn at_mark(&self) -> Result<bool, WsaError> {
        let mut out = [0u8; 4];
        self.lower.ioctl(sys::SIOCATMARK as u32, &[], &mut out)?;
        Ok(u32::from_ne_bytes(out) != 0)
    }

    /// `WSPIoctl` below, completing at once.
    pub fn ioctl(&self, request: IoctlRequest<'_>) -> Result<usize, WsaError> {
        self.lower
            .ioctl(request.code, request.input, request.output)
    }
}

impl<L: Layer> Layered<L> {
    fn wrap(&self, lower: LowerSocket) -> LayerSocket<L::Socket> {
        LayerSocket {
            lower,
            watched: Arc::new(Watched::default()),
            listening: AtomicBool::new(false),
            state: L::Socket::default(),
        }
    }
}

// Not offered in diagnostics about a struct lacking `impl Provider` (or the attribute's impls):
// a provider author is not after a layer.
#[cfg_attr(
    wsp_diagnostic_namespace,
    allow(unknown_or_malformed_diagnostic_attributes),
    diagnostic::do_not_recommend
)]
impl<L: Layer> Provider for Layered<L> {
    type Socket = LayerSocket<L::Socket>;

    fn startup(ctx: &StartupContext) -> Result<Self, WsaError> {
        let start = chain::take_start().ok_or(WsaError::PROVIDERFAILEDINIT)?;
        let below = chain::Below::new(&start)?;
        // Fail the start-up now if the provider below cannot be reached.
        below.route(ctx.catalog_id)?;
        let layer = L::startup(&LayerContext {
            version: ctx.version,
            catalog_id: ctx.catalog_id,
            chain_id: Guid::from_sys(&start.info.ProviderId),
        });
        match layer {
            Ok(layer) => Ok(Layered {
                layer,
                below: Arc::new(below),
            }),
            Err(e) => {
                below.shutdown();
                Err(e)
            }
        }
    }

    fn cleanup(&self) {
        let cleaned =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.layer.cleanup()));
        self.below.shutdown();
        if let Err(panic) = cleaned {
            // The runtime's WSPCleanup reports it, after everything was released.
            std::panic::resume_unwind(panic);
        }
    }

    fn socket(&self, request: &SocketRequest) -> Result<Self::Socket, WsaError> {
        let route = self.below.route(request.catalog_id)?;
        let spec = request.spec;
        let lower = route.lower.socket(
            spec.family,
            spec.socket_type,
            spec.protocol,
            &route.below,
            request.group,
            request.flags.bits() | sys::WSA_FLAG_OVERLAPPED,
        )?;
        Ok(self.wrap(lower))
    }

    /// The socket below rebuilt from its own duplication structure: the entry it is created
    /// for (the provider below writes that entry) and its provider's token, which travelled to
    /// this process in ours ([`Provider::duplicate_socket`]), so sharing works across
    /// processes as the provider below supports it.
    fn socket_from_duplicate(
        &self,
        request: &SocketRequest,
        reserved: NonZeroU32,
    ) -> Result<Self::Socket, WsaError> {
        let route = self.below.route(request.catalog_id)?;
        let mut info = route.below;
        info.dwProviderReserved = reserved.get();
        let lower = route.lower.socket(
            sys::FROM_PROTOCOL_INFO,
            sys::FROM_PROTOCOL_INFO,
            sys::FROM_PROTOCOL_INFO,
            &info,
            0,
            request.flags.bits() | sys::WSA_FLAG_OVERLAPPED,
        )?;
        Ok(self.wrap(lower))
    }

    fn close(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        let closed = self.layer.close(sock);
        let state = sock.state();
        self.below.watcher.remove(&state.watched);
        state.watched.close();
        let lower = state.lower.close();
        closed.and(lower)
    }

    fn attached(&self, sock: &Sock<Self>) {
        let state = sock.state();
        state.watched.set_notifier(sock.notifier());
        let watched =
            self.below
                .watcher
                .add(state.lower.handle(), state.lower.provider(), &state.watched);
        if let Err(e) = watched {
            // Blocked calls still look again every few milliseconds; notifications wait for
            // the socket's own calls.
            crate::host::panic::log(&format!(
                "winsock-provider: layer: cannot watch the socket below {:#x}: {}\n",
                state.lower.handle(),
                e
            ));
        }
    }

    fn bind(&self, sock: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        self.layer.bind(sock, addr)
    }

    fn listen(&self, sock: &Sock<Self>, backlog: i32) -> Result<(), WsaError> {
        self.layer.listen(sock, backlog)?;
        sock.state().listening.store(true, Ordering::Relaxed);
        sock.state().watched.set_listening();
        Ok(())
    }

    /// Asks the provider below (a `WSPSelect` that does not wait), so that conditions a call
    /// consumed are not reported again; a closed connection as signalled.
    fn readiness(&self, sock: &Sock<Self>) -> Ready {
        let signalled = sock.signalled();
        let state = sock.state();
        match state.lower.poll() {
            Ok((read, write, _)) => {
                let mut now = Ready::NONE;
                if read {
                    now |= if state.listening.load(Ordering::Relaxed) {
                        Ready::ACCEPT
                    } else {
                        Ready::READ
                    };
                }
                if write {
                    now |= Ready::WRITE;
                }
                now | Ready::from_bits(signalled.bits() & Ready::CLOSE.bits())
            }
            Err(_) => signalled,
        }
    }

    fn accept(&self, sock: &Sock<Self>) -> Result<(Self::Socket, SockAddr), WsaError> {
        let (lower, peer) = self.layer.accept(sock)?;
        Ok((self.wrap(lower), peer))
    }

    fn connect(&self, sock: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        self.layer.connect(sock, addr)
    }

    fn send(&self, sock: &Sock<Self>, bufs: &Bufs<'_>, flags: MsgFlags) -> Result<usize, WsaError> {
        self.layer.send(sock, bufs, flags)
    }

    fn send_to(
        &self,
        sock: &Sock<Self>,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        self.layer.send_to(sock, bufs, flags, to)
    }

    fn recv(
        &self,
        sock: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        self.layer.recv(sock, bufs, flags)
    }

    fn recv_from(
        &self,
        sock: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags, SockAddr), WsaError> {
        self.layer.recv_from(sock, bufs, flags)
    }

    fn shutdown(&self, sock: &Sock<Self>, how: Shutdown) -> Result<(), WsaError> {
        self.layer.shutdown(sock, how)
    }

    fn send_disconnect(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        self.layer.send_disconnect(sock)
    }

    fn recv_disconnect(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        self.layer.recv_disconnect(sock)
    }

    fn sock_name(&self, sock: &Sock<Self>) -> Result<SockAddr, WsaError> {
        self.layer.sock_name(sock)
    }

    fn peer_name(&self, sock: &Sock<Self>) -> Result<SockAddr, WsaError> {
        self.layer.peer_name(sock)
    }

    fn get_option(&self, sock: &Sock<Self>, opt: SockOpt) -> Result<OptValue, WsaError> {
        self.layer.get_option(sock, opt)
    }

    fn set_option(
        &self,
        sock: &Sock<Self>,
        opt: SockOpt,
        value: OptInput<'_>,
    ) -> Result<(), WsaError> {
        self.layer.set_option(sock, opt, value)
    }

    fn bytes_readable(&self, sock: &Sock<Self>) -> Result<usize, WsaError> {
        self.layer.bytes_readable(sock)
    }

    fn at_mark(&self, sock: &Sock<Self>) -> Result<bool, WsaError> {
        self.layer.at_mark(sock)
    }

    fn ioctl(&self, sock: &Sock<Self>, request: IoctlRequest<'_>) -> Result<usize, WsaError> {
        self.layer.ioctl(sock, request)
    }

    /// `AcceptEx`. An IFS layer refuses it (`WSAEOPNOTSUPP`): the application's handle is the
    /// target's socket below, which the connection accepted below cannot become.
    fn adopt(&self, target: &Sock<Self>, accepted: Self::Socket) -> Result<(), WsaError> {
        if self.below.ifs {
            return Err(WsaError::OPNOTSUPP);
        }
        let state = target.state();
        self.below.watcher.remove(&state.watched);
        state.lower.replace_with(&accepted.lower)?;
        self.below
            .watcher
            .add(state.lower.handle(), state.lower.provider(), &state.watched)
    }

    /// The provider below duplicates the socket below; its token (`dwProviderReserved` of its
    /// structure) is the layer's. A provider below that leaves it 0 cannot be shared through
    /// the layer: `WSAEOPNOTSUPP`.
    fn duplicate_socket(&self, sock: &Sock<Self>, process_id: u32) -> Result<NonZeroU32, WsaError> {
        let info = sock.state().lower.duplicate(process_id)?;
        NonZeroU32::new(info.dwProviderReserved).ok_or(WsaError::OPNOTSUPP)
    }
}
