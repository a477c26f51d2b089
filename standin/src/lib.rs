//! A ws2_32 stand-in that runs anywhere: it loads a Winsock 2 service provider, plays
//! ws2_32's side of the SPI and offers a Winsock-shaped API, so that a provider's `cargo test`
//! reads like application code.
//!
//! ```
//! use ws2_standin::{sys::*, SockAddr, Ws2};
//! # use winsock_provider::{winsock_provider, Provider, Sock, SocketRequest, StartupContext};
//! # use winsock_provider::WsaError;
//! # #[winsock_provider(name = "Mine", guid = "2b7f0c94-5e1a-4d36-8c92-a0e6f3d1b457", non_ifs,
//! #     protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP))]
//! # pub struct MyProvider;
//! # impl Provider for MyProvider {
//! #     type Socket = ();
//! #     fn startup(_: &StartupContext) -> Result<Self, WsaError> { Ok(MyProvider) }
//! #     fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> { Ok(()) }
//! #     fn bind(&self, _: &Sock<Self>, _: &SockAddr) -> Result<(), WsaError> { Ok(()) }
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//!
//! let ws = Ws2::new();
//! ws.load(winsock_provider::entry_points::<MyProvider>())?;  // or load_library(path)
//! let s = ws.socket(AF_INET as i32, SOCK_STREAM, IPPROTO_TCP)?;
//! ws.bind(s, &SockAddr::Inet("127.0.0.1:0".parse().unwrap()))?;
//! ws.closesocket(s)?;
//! ws.cleanup();
//! # Ok(())
//! # }
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

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod api;
mod build;
mod catalog;
mod host;
mod loader;
pub mod scenarios;
mod session;

pub use api::{ext, AddrBuf, CompletionPort, Ws2, FD_SETSIZE};
pub use build::{build_library, LIBRARY_DIR_ENV};
pub use catalog::CatalogEntry;
pub use host::kernel::{
    Completion, ERROR_ABANDONED_WAIT_0, WSA_INFINITE, WSA_MAXIMUM_WAIT_EVENTS, WSA_WAIT_EVENT_0,
    WSA_WAIT_IO_COMPLETION, WSA_WAIT_TIMEOUT,
};
pub use host::messages::{Message, Window};
pub use host::overlapped::WSS_OPERATION_IN_PROGRESS;
pub use loader::{check_bool, check_int, check_socket, entry_points_of, regsvr32, LoadError, Spi};
pub use session::Session;
pub use winsock_catalog;
pub use winsock_provider::{sys, EntryPoints, Guid, SockAddr, WsaError};
